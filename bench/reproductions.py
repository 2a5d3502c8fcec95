"""`make bench`: each `probe-cli reproduce FAMILY --scale small` alone on this machine, against the 6-minute goal.

`make reproduce-check` runs the nine reproductions at once (their jobs share the server's queue, so no core
idles while one reproduction waits for its last job) and checks their science; how long each takes by itself,
the figure a user sees, is measured here: one after another through a server with one job slot per core,
as the README advises for reproductions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import BIN, start_server

FAMILIES = ("causal-icl", "depth-ushape", "eos", "factual-recall", "hier-poly", "mezo", "ntk-escape",
            "single-index", "three-layer")  # fmt: skip
GOAL_S = 6 * 60


def main() -> None:
    families = sys.argv[1:] or FAMILIES
    slots = str(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data", "--slots", slots)
        try:
            times = {family: reproduce(server.address, family, Path(tmp) / family) for family in families}
        finally:
            server.stop()
    print(f"reproduce --scale small, each alone ({slots} job slots, {os.cpu_count()} cores); goal <= {GOAL_S} s")
    for family, (seconds, passed) in times.items():
        verdict = "ok" if seconds <= GOAL_S else "OVER"
        print(f"  {family:<16}{seconds:>6.0f} s  {verdict:<5} checks {'passed' if passed else 'FAILED'}")
    print(f"  {'all':<16}{sum(s for s, _ in times.values()):>6.0f} s")


def reproduce(address: str, family: str, out: Path) -> tuple[float, bool]:
    start = time.monotonic()
    result = subprocess.run(
        [str(BIN / "probe-cli"), "--server", address, "reproduce", family, "--scale", "small", "--out", str(out),
         "--json"],
        capture_output=True, text=True,
    )  # fmt: skip
    return time.monotonic() - start, result.returncode == 0 and bool(json.loads(result.stdout)["passed"])


if __name__ == "__main__":
    main()
