"""Probe lanes: only the first lane runs torch multi-threaded, lanes bound the probes running at once, and a
probe's exception reaches its caller.

Thread counts are process state, so each check runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest


def run_script(body: str) -> dict[str, Any]:
    script = "import json, threading, torch\nfrom probe_server.probe_lanes import ProbeLanes, single_threaded\n"
    completed = subprocess.run(
        [sys.executable, "-c", script + textwrap.dedent(body)], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.splitlines()[-1])


def test_only_the_first_lane_is_multi_threaded() -> None:
    counts = run_script(
        """
        torch.set_num_threads(2)  # what a thread started before the lanes may have set
        lanes = ProbeLanes(3, 2)
        with lanes.lane() as first, lanes.lane() as second, lanes.lane() as third:
            on_lanes = [lane.call(torch.get_num_threads) for lane in (first, second, third)]
        later = []
        thread = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
        thread.start()
        thread.join()
        with lanes.lane() as lane:  # a thread that set its own count since leaves the first lane's alone
            after = lane.call(torch.get_num_threads)
        lanes.close()
        print(json.dumps({"lanes": on_lanes, "main": torch.get_num_threads(), "later": later[0], "after": after}))
        """
    )
    assert counts == {"lanes": [2, 1, 1], "main": 1, "later": 1, "after": 2}


def test_threads_started_after_a_single_multi_threaded_lane_run_on_one() -> None:
    counts = run_script(
        """
        lanes = ProbeLanes(1, 2)  # the last count any thread set is the lane's own
        later = []
        thread = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
        thread.start()
        thread.join()
        with lanes.lane() as lane:
            on_lane = lane.call(torch.get_num_threads)
        lanes.close()
        print(json.dumps({"lane": on_lane, "later": later[0]}))
        """
    )
    assert counts == {"lane": 2, "later": 1}


def test_lanes_bound_the_probes_running_at_once_and_prefer_the_first() -> None:
    seen = run_script(
        """
        import time
        from concurrent.futures import ThreadPoolExecutor
        lanes = ProbeLanes(2, 1)
        running, most, lock = [0], [0], threading.Lock()
        def probe(seconds):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(seconds)
            with lock:
                running[0] -= 1
            return threading.current_thread().name
        def call(seconds):
            with lanes.lane() as lane:
                return lane.call(probe, seconds)
        alone = [call(0) for _ in range(3)]
        with ThreadPoolExecutor(6) as callers:
            names = list(callers.map(call, [0.05] * 6))
        lanes.close()
        print(json.dumps({"alone": alone, "most": most[0], "names": sorted(set(names))}))
        """
    )
    assert all(name.startswith("probe-lane-0") for name in seen["alone"])  # a free first lane is always taken
    assert seen["most"] == 2
    assert [name.split("_")[0] for name in seen["names"]] == ["probe-lane-0", "probe-lane-1"]


def test_a_probes_exception_reaches_its_caller_and_frees_the_lane() -> None:
    seen = run_script(
        """
        lanes = ProbeLanes(1, 1)
        def fail():
            raise ValueError("bad input")
        try:
            with lanes.lane() as lane:
                lane.call(fail)
        except ValueError as error:
            message = str(error)
        with lanes.lane() as lane:
            value = lane.call(lambda x: x + 1, 41)
        lanes.close()
        print(json.dumps({"message": message, "value": value}))
        """
    )
    assert seen == {"message": "bad input", "value": 42}


def test_closing_waits_for_the_running_probe_then_refuses_new_ones() -> None:
    seen = run_script(
        """
        import time
        from probe_server.errors import ShuttingDown
        lanes = ProbeLanes(1, 1)
        finished = []
        def probe():
            time.sleep(0.3)
            finished.append(time.monotonic())
        def call():
            with lanes.lane() as lane:
                lane.call(probe)
        caller = threading.Thread(target=call)
        caller.start()
        time.sleep(0.1)  # the probe is running
        lanes.close()
        closed = time.monotonic()
        caller.join()
        try:
            with lanes.lane():
                refused = ""
        except ShuttingDown as error:
            refused = str(error)
        print(json.dumps({"finished_first": finished[0] <= closed, "refused": refused}))
        """
    )
    assert seen == {"finished_first": True, "refused": "the server is stopping; retry on one that is up"}


def test_lanes_refuse_an_empty_pool() -> None:
    from probe_server.probe_lanes import ProbeLanes

    with pytest.raises(ValueError, match="at least one lane"):
        ProbeLanes(0, 1)
