"""`make bench`: 32 clients for 60 s against one server while a job trains; errors, latency per RPC, job slowdown.

The clients mix what a lab's laptops do: list and get jobs, watch one, query facts, evaluate, read
checkpoints, check health. The goal is 0 errors. The job's steps per second under that load are printed
against the same job trained alone on the same server; on 2 cores the clients, the server and the worker
share the machine, so the slowdown mostly measures that sharing, not the server.
"""

from __future__ import annotations

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
                latencies, errors = load(server, trained.checkpoint_id, job.job_id)
                loaded = (client.get_job(job.job_id).step - start_step) / (time.monotonic() - start)
                client.cancel_job(job.job_id)
        finally:
            server.stop()
    total = sum(len(v) for v in latencies.values())
    print(f"{CLIENTS} clients for {SECONDS:.0f} s: {total} calls, {len(errors)} errors (goal 0)")
    for error in errors[:5]:
        print(f"  error: {error}")
    print(f"{'rpc':<16}{'calls':>8}{'p50 ms':>10}{'p99 ms':>10}")
    for name, values in sorted(latencies.items()):
        values.sort()
        p99 = values[min(len(values) - 1, int(0.99 * len(values)))]
        print(f"{name:<16}{len(values):>8}{statistics.median(values) * 1e3:>10.1f}{p99 * 1e3:>10.1f}")
    print(f"training job: {alone:.0f} steps/s alone, {loaded:.0f} under load ({loaded / alone:.2f}x; "
          "the clients, the server and the worker share this machine's cores)")  # fmt: skip


def load(server, checkpoint_id: str, job_id: str) -> tuple[dict[str, list[float]], list[str]]:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS

    def client_loop(index: int) -> None:
        rng = random.Random(index)
        with server.client() as client:
            table = calls(client, checkpoint_id, job_id)
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
