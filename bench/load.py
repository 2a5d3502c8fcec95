"""`make bench`: 32 clients for 60 s against one server while a job trains; errors, latency per RPC, job slowdown.

Then 32 clients sending single-fact QueryFacts for 30 s: errors, p50/p99, and the training job's slowdown
against the share of the cores the queries took (server and clients together; goal: no more than that).

The clients mix what a lab's laptops do: list and get jobs, watch one, query facts, evaluate, read
checkpoints, check health. The goal is 0 errors. The job's steps per second under that load are printed
against the same job trained alone on the same server; on 2 cores the clients, the server and the worker
share the machine, so the slowdown mostly measures that sharing, not the server.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe_client import ProbeClient, ProbeError
from tests.conftest import SMALL_FACTS, start_server

CLIENTS, SECONDS = 32, 60.0
SINGLE_SECONDS = 30.0  # the second phase: every client sends single-fact QueryFacts
TRAINING = {"num_subjects": 64, "num_relations": 16, "batch_size": 512}  # a job that runs through the whole load


def steps_per_second(client: ProbeClient, seconds: float) -> float:
    """The training job's rate over ``seconds``: a fresh job, measured after its first progress."""
    job = client.submit_job("factual-recall", TRAINING, steps=10_000_000, seed=0, log_every=10)
    first = next(e for e in client.watch_job(job.job_id) if e.kind == "PROGRESS")
    start = time.monotonic()
    time.sleep(seconds)
    step = client.get_job(job.job_id).step
    rate = (step - first.step) / (time.monotonic() - start)
    client.cancel_job(job.job_id)
    return rate


def calls(client: ProbeClient, checkpoint_id: str, job_id: str) -> dict[str, Callable[[], object]]:
    return {
        "ListJobs": lambda: client.list_jobs(page_size=20),
        "GetJob": lambda: client.get_job(job_id),
        "QueryFacts": lambda: client.query_facts(checkpoint_id, [(s % 8, s % 8) for s in range(64)]),
        "Evaluate": lambda: client.evaluate(checkpoint_id, num_sequences=256),
        "GetCheckpoint": lambda: client.get_checkpoint(checkpoint_id),
        "ListCheckpoints": lambda: client.list_checkpoints(page_size=10),
        "Health": lambda: client.health(),
        "WatchJob": lambda: first_event(client, job_id),
    }


def first_event(client: ProbeClient, job_id: str) -> object:
    """Open a watch, read its first event, close it (as a progress bar that a user closes does)."""
    stream = client.watch_job(job_id, timeout=5)
    try:
        return next(stream, None)
    finally:
        stream.close()


def single_query(client: ProbeClient, checkpoint_id: str, job_id: str) -> dict[str, Callable[[], object]]:
    return {"QueryFacts": lambda: client.query_facts(checkpoint_id, [(3, 5)])}


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process so far, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(title: str, seconds: float, latencies: dict[str, list[float]], errors: list[str]) -> None:
    total = sum(len(v) for v in latencies.values())
    print(f"{title}: {CLIENTS} clients for {seconds:.0f} s: {total} calls, {len(errors)} errors (goal 0)")
    for error in errors[:5]:
        print(f"  error: {error}")
    print(f"{'rpc':<16}{'calls':>8}{'p50 ms':>10}{'p99 ms':>10}")
    for name, values in sorted(latencies.items()):
        values.sort()
        p99 = values[min(len(values) - 1, int(0.99 * len(values)))]
        print(f"{name:<16}{len(values):>8}{statistics.median(values) * 1e3:>10.1f}{p99 * 1e3:>10.1f}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data", "--slots", "1")
        try:
            with server.client() as client:
                trained = client.wait(client.submit_job("factual-recall", SMALL_FACTS, steps=300, seed=1).job_id)
                alone = steps_per_second(client, 15)
                job = client.submit_job("factual-recall", TRAINING, steps=10_000_000, seed=0, log_every=10)
                next(e for e in client.watch_job(job.job_id) if e.kind == "PROGRESS")
                start_step, start = client.get_job(job.job_id).step, time.monotonic()
                latencies, errors = load(server, trained.checkpoint_id, job.job_id, calls, SECONDS)
                loaded = (client.get_job(job.job_id).step - start_step) / (time.monotonic() - start)
                # single queries: the training slowdown against the share of the cores the queries took
                start_step, start = client.get_job(job.job_id).step, time.monotonic()
                cpu_before = cpu_seconds(server.process.pid) + cpu_seconds(os.getpid())
                singles, single_errors = load(server, trained.checkpoint_id, job.job_id, single_query, SINGLE_SECONDS)
                wall = time.monotonic() - start
                share = (cpu_seconds(server.process.pid) + cpu_seconds(os.getpid()) - cpu_before) / (
                    wall * (os.cpu_count() or 1)
                )
                under_queries = (client.get_job(job.job_id).step - start_step) / wall
                client.cancel_job(job.job_id)
        finally:
            server.stop()
    report("mixed RPCs", SECONDS, latencies, errors)
    print(f"training job: {alone:.0f} steps/s alone, {loaded:.0f} under load ({loaded / alone:.2f}x; "
          "the clients, the server and the worker share this machine's cores)")  # fmt: skip
    report("single-fact QueryFacts", SINGLE_SECONDS, singles, single_errors)
    slowdown = 1 - under_queries / alone
    verdict = "met" if slowdown <= share else "NOT met"
    print(f"training job under single queries: {under_queries:.0f} steps/s ({slowdown:.0%} slower than alone); the "
          f"queries took {share:.0%} of the cores (server and clients); goal slowdown <= share: {verdict}")  # fmt: skip


def load(
    server, checkpoint_id: str, job_id: str, table_of: Callable[..., dict[str, Callable[[], object]]], seconds: float
) -> tuple[dict[str, list[float]], list[str]]:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client_loop(index: int) -> None:
        rng = random.Random(index)
        with server.client() as client:
            table = table_of(client, checkpoint_id, job_id)
            names = list(table)
            while time.monotonic() < deadline:
                name = rng.choice(names)
                start = time.perf_counter()
                try:
                    table[name]()
                except ProbeError as error:
                    with lock:
                        errors.append(f"{name}: {error}")
                    continue
                with lock:
                    latencies[name].append(time.perf_counter() - start)

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


if __name__ == "__main__":
    main()
