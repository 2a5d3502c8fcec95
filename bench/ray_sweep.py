"""A sweep of 8 short factual-recall jobs on the local executor against the same sweep on a two-node Ray cluster.

Both servers have 2 slots and one torch thread per job; the cluster is two Ray nodes of one CPU each on
this machine (tests/ray/conftest.py's), so the wall-time ratio shows what the Ray executor costs, not what
a second machine gains. The per-job start overhead is, per child, the time from its RUNNING event to its
first progress event, Ray's median less the local executor's (goal: at most 1 s a job): the actor's
placement, its process start and imports, and the checkpoint transfer, against a fork from a warm helper.

Ray binds the machine's interface address, so ``make bench`` runs this in a network namespace with only
loopback (``unshare --net``).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerProcess, start_server
from tests.ray.conftest import RayCluster, only_loopback, ray_server

CHILDREN, STEPS, GOAL_S = 8, 100, 1.0
FACTS = {"num_subjects": 8, "num_relations": 8, "batch_size": 64}


def sweep(server: ServerProcess) -> tuple[float, list[float]]:
    """Wall seconds of the sweep, and each child's seconds from RUNNING to its first progress."""
    try:
        with server.client() as client:
            start = time.perf_counter()
            submitted = client.submit_sweep("factual-recall", FACTS, {"d_model": [8, 16]}, seeds=CHILDREN // 2,
                                            steps=STEPS)  # fmt: skip
            done = client.wait_sweep(submitted.sweep_id)
            wall = time.perf_counter() - start
            assert done.state == "SUCCEEDED", done.message
            starts = []
            for child in done.children:
                events = list(client.watch_job(child.job_id))
                running = next(e for e in events if e.kind == "STATE" and e.state == "RUNNING")
                progress = next(e for e in events if e.kind == "PROGRESS")
                starts.append((progress.time - running.time).total_seconds())
            return wall, starts
    finally:
        server.stop()


def main() -> None:
    if not only_loopback():
        raise SystemExit("run in a network namespace with only loopback: unshare --net (make bench does)")
    cluster = RayCluster()
    try:
        with tempfile.TemporaryDirectory(prefix="probe-bench-ray-") as tmp:
            local = start_server(Path(tmp) / "local", "--slots", "2", "--threads-per-job", "1")
            local_wall, local_starts = sweep(local)
            ray_wall, ray_starts = sweep(ray_server(Path(tmp) / "ray", cluster))
    finally:
        cluster.shutdown()
    overhead = statistics.median(ray_starts) - statistics.median(local_starts)
    print(f"\n## a sweep of {CHILDREN} factual-recall jobs ({STEPS} steps each), 2 slots, one thread a job")
    print(f"local executor                      {local_wall:7.2f} s")
    print(f"Ray executor, two nodes of one CPU   {ray_wall:7.2f} s   ratio Ray/local {ray_wall / local_wall:.2f}")
    print(
        f"RUNNING to first progress, median   local {statistics.median(local_starts):.2f} s, "
        f"Ray {statistics.median(ray_starts):.2f} s"
    )
    verdict = "met" if overhead <= GOAL_S else "NOT met"
    print(f"Ray's start overhead per job        {overhead:7.2f} s   goal <= {GOAL_S:g} s: {verdict}")


if __name__ == "__main__":
    main()
