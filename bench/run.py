"""`make bench`: serving and training speed, each as a ratio to a baseline measured in the same run.

- QueryFacts throughput over gRPC (batches of 1024 queries) against ONNX Runtime
  in this process on the same checkpoint's exported graph and the same inputs
  (goal: ratio >= 0.8), one request at a time and with two in flight. Two
  baselines are printed: bare ``session.run`` of the probabilities output,
  and the in-process pipeline (inputs, ``session.run``, top-1).
- Single-query latency over gRPC, p50 and p99.
- Training steps per second of a job in a worker process, against the same
  steps run in this process.
- ExtractAttention over gRPC (256 given sequences of a causal-icl chain
  checkpoint, every layer's pattern) against the same extraction with torch in
  this process (goal: ratio >= 0.7).
"""

from __future__ import annotations

import io
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe_client import ProbeClient
from probe_models.config import parse_config
from probe_models.registry import get_family
from probe_server.checkpoint_files import read_weights
from tests.conftest import start_server

BATCH = 1024
ROUNDS = 30
IN_FLIGHT = 2
LATENCY_QUERIES = 300
TRAIN_STEPS = 300
ATTENTION_SEQUENCES = 256
CONFIG = {"num_subjects": 32, "num_relations": 32}  # 1024 facts: one batch asks each once


def timed(fn, rounds: int) -> float:
    """Best-of-three mean seconds per call, after a warm-up call."""
    fn()
    means = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        means.append((time.perf_counter() - start) / rounds)
    return min(means)


def in_flight(fn, concurrency: int, rounds: int) -> float:
    """Seconds per call with ``concurrency`` callers at once (each makes ``rounds`` calls)."""
    fn()
    with ThreadPoolExecutor(concurrency) as pool:
        start = time.perf_counter()
        for future in [pool.submit(lambda: [fn() for _ in range(rounds)]) for _ in range(concurrency)]:
            future.result()
    return (time.perf_counter() - start) / (concurrency * rounds)


def pipeline(session: ort.InferenceSession, family, model, subjects, relations) -> np.ndarray:
    inputs = family.fact_inputs(model, subjects, relations, 0)
    probabilities = session.run(["probabilities"], {"inputs": inputs})[0]
    return probabilities.argmax(axis=1)


def main() -> None:
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="probe-bench-") as tmp:
        server = start_server(Path(tmp) / "data")
        try:
            with server.client() as client:
                run(client, server.metrics_port)
                attention(client, server.data_dir)
        finally:
            server.stop()


def server_seconds(metrics_port: int, method: str) -> tuple[float, float]:
    """(sum, count) of grpc_server_handling_seconds for one method, from the server's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    found = {}
    for suffix in ("sum", "count"):
        match = re.search(rf'grpc_server_handling_seconds_{suffix}{{[^}}]*grpc_method="{method}"[^}}]*}} (\S+)', text)
        found[suffix] = float(match.group(1)) if match else 0.0
    return found["sum"], found["count"]


def run(client: ProbeClient, metrics_port: int) -> None:
    job = client.submit_job("factual-recall", CONFIG, steps=TRAIN_STEPS, log_every=10)
    events = list(client.watch_job(job.job_id))
    job = client.get_job(job.job_id)
    progress = [e for e in events if e.kind == "PROGRESS"]
    served_rate = (progress[-1].step - progress[0].step) / (progress[-1].time - progress[0].time).total_seconds()
    ckpt = job.checkpoint_id

    record = client.get_checkpoint(ckpt)
    family = get_family(record.family)
    config = parse_config(family.config_cls, record.config)
    run_ = family.new_run(config, record.seed, TRAIN_STEPS)
    start = time.perf_counter()
    steps = 100
    for step in range(steps):
        run_.train_step(step)
    local_rate = steps / (time.perf_counter() - start)

    buffer = io.BytesIO()
    client.export_onnx(ckpt, buffer)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    model = family.load(config, record.seed, {k: v for k, v in run_.model.state_dict().items()})
    pairs = [(s, r) for s in range(32) for r in range(32)]
    subjects = np.array([p[0] for p in pairs])
    relations = np.array([p[1] for p in pairs])
    inputs = family.fact_inputs(model, subjects, relations, 0)

    client.query_facts(ckpt, pairs, top_k=1)
    before = server_seconds(metrics_port, "QueryFacts")
    grpc_s = timed(lambda: client.query_facts(ckpt, pairs, top_k=1), ROUNDS)
    after = server_seconds(metrics_port, "QueryFacts")
    in_server_s = (after[0] - before[0]) / (after[1] - before[1])
    concurrent_s = in_flight(lambda: client.query_facts(ckpt, pairs, top_k=1), IN_FLIGHT, ROUNDS)
    bare_s = timed(lambda: session.run(["probabilities"], {"inputs": inputs}), ROUNDS)
    pipeline_s = timed(lambda: pipeline(session, family, model, subjects, relations), ROUNDS)

    latencies = []
    for i in range(LATENCY_QUERIES):
        start = time.perf_counter()
        client.query_facts(ckpt, [pairs[i % len(pairs)]])
        latencies.append(time.perf_counter() - start)
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000

    print(f"checkpoint {ckpt}: factual-recall transformer, {config.num_facts} facts, T={config.seq_len}")
    print(f"QueryFacts, batches of {BATCH} queries ({ROUNDS} rounds, best of 3):")
    print(f"  over gRPC                       {BATCH / grpc_s:10.0f} queries/s")
    print(f"  over gRPC, {IN_FLIGHT} requests in flight  {BATCH / concurrent_s:10.0f} queries/s")
    print(
        f"  in-process ORT session.run      {BATCH / bare_s:10.0f} queries/s   ratio gRPC/ORT = {bare_s / grpc_s:.2f}"
    )
    print(f"  in-process inputs+ORT+top-1     {BATCH / pipeline_s:10.0f} queries/s   ratio = {pipeline_s / grpc_s:.2f}")
    print(
        f"  time in the server's handler    {in_server_s * 1000:10.2f} ms per batch "
        f"(of {grpc_s * 1000:.2f} ms seen by the client)"
    )
    best = bare_s / min(grpc_s, concurrent_s)
    print(f"  goal: ratio >= 0.8 against bare session.run: {'met' if best >= 0.8 else 'NOT met'} (best {best:.2f})")
    print(
        f"single-query latency over gRPC ({LATENCY_QUERIES} sequential): p50 {p50:.2f} ms, p99 {p99:.2f} ms"
        f" (median of all {statistics.median(latencies) * 1000:.2f} ms)"
    )
    print(
        f"training (batch {config.batch_size}): worker job {served_rate:.1f} steps/s, in-process "
        f"{local_rate:.1f} steps/s, ratio {served_rate / local_rate:.2f}"
    )


def attention(client: ProbeClient, data_dir: Path) -> None:
    job = client.wait(client.submit_job("causal-icl", {}, steps=100, log_every=50).job_id)
    ckpt = job.checkpoint_id
    record = client.get_checkpoint(ckpt)
    family = get_family(record.family)
    config = parse_config(family.config_cls, record.config)
    model = family.load(config, record.seed, read_weights(data_dir / "checkpoints" / ckpt))
    tokens = family.sample_sequences(model, ATTENTION_SEQUENCES, 0)
    array = tokens.numpy()
    served = client.extract_attention(ckpt, tokens=array)
    local = family.run_with_attention(model, tokens)
    for name, pattern in served.patterns.items():
        np.testing.assert_array_equal(pattern, local[name].numpy())  # the same numbers, or the timing means nothing
    grpc_s = timed(lambda: client.extract_attention(ckpt, tokens=array), ROUNDS)
    concurrent_s = in_flight(lambda: client.extract_attention(ckpt, tokens=array), IN_FLIGHT, ROUNDS)
    local_s = timed(
        lambda: {n: t.numpy() for n, t in family.run_with_attention(model, tokens).items() if n.endswith("pattern")},
        ROUNDS,
    )
    values = sum(p.size for p in served.patterns.values())
    print(
        f"ExtractAttention, {ATTENTION_SEQUENCES} sequences of causal-icl chain (T={config.seq_len}, "
        f"{len(served.patterns)} patterns, {values:,} floats):"
    )
    rates = {
        "over gRPC": grpc_s,
        f"over gRPC, {IN_FLIGHT} requests in flight": concurrent_s,
        "in-process torch": local_s,
    }
    for label, seconds in rates.items():
        print(f"  {label:<32}{ATTENTION_SEQUENCES / seconds:10.0f} sequences/s ({seconds * 1000:.2f} ms per batch)")
    ratio = local_s / min(grpc_s, concurrent_s)
    verdict = "met" if ratio >= 0.7 else "NOT met"
    print(f"  ratio gRPC/in-process = {ratio:.2f} (the better gRPC figure); goal >= 0.7: {verdict}")


if __name__ == "__main__":
    main()
