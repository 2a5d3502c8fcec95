"""A probe's reply and working set are sized from the request before anything runs; legitimate large ones chunk."""

import time
from pathlib import Path

import pytest

from probe_client import ResourceExhausted
from tests.conftest import CAUSAL_CHAIN, start_server

# 100,000 answers (10 relations x 10,000); 65,536 queries (facts repeated) fit max_batch and the wire (260 KB)
WIDE = {"num_subjects": 64, "num_relations": 10, "answers_per_relation": 10_000, "num_noise": 1,
        "d_model": 16, "num_heads": 2, "head_dim": 4, "mlp_width": 0, "batch_size": 8, "seq_len": 4}  # fmt: skip

WIDE_MLP = {"width": 400, "sharpness_every": 0}  # 190,410 parameters


def rss_bytes(pid: int, field: str = "VmRSS") -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith(f"{field}:")).split()[1]) * 1024


def reset_peak(pid: int) -> None:
    """Start the process's peak resident set (VmHWM) afresh from its current one."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("memory") / "data", "--max-reproductions", "1")
    with server.client() as client:
        wide = client.wait(client.submit_job("factual-recall", WIDE, steps=1, seed=1).job_id)
        chain = client.wait(client.submit_job("causal-icl", CAUSAL_CHAIN, steps=1, seed=1).job_id)
        mlp = client.wait(client.submit_job("eos", WIDE_MLP, steps=1, seed=1).job_id)
        assert wide.state == chain.state == mlp.state == "SUCCEEDED", (wide.error, chain.error, mlp.error)
        client.query_facts(wide.checkpoint_id, [(0, 0)])  # load both models and the ONNX session first
        client.evaluate(chain.checkpoint_id, num_sequences=8)
        client.evaluate(mlp.checkpoint_id)
    yield server, wide.checkpoint_id, chain.checkpoint_id, mlp.checkpoint_id
    server.stop()


def test_oversized_probes_are_refused_within_a_second_naming_the_numbers(probed):
    server, wide, chain, mlp = probed
    pairs = [(i % 64, i % 10) for i in range(65_536)]
    cases = [
        (lambda c: c.query_facts(wide, pairs), "probabilities to compute"),
        (lambda c: c.extract_attention(chain, num_sequences=65_536), "attention values"),
        (lambda c: c.evaluate(chain, num_sequences=65_536), "num_sequences 65536 exceeds"),
        (lambda c: c.recover_graph(chain, num_sequences=65_536), "num_sequences 65536 exceeds"),
        # 1,000 Lanczos vectors of the MLP's 190,410 parameters in float64: 1.5 GB
        (lambda c: c.measure_sharpness(mlp, max_iterations=1000), "lanczos with 1,000 iterations"),
    ]
    before = rss_bytes(server.process.pid)
    with server.client() as client:
        for call, message in cases:
            start = time.monotonic()
            with pytest.raises(ResourceExhausted, match=message):
                call(client)
            assert time.monotonic() - start < 1.0, message
    assert abs(rss_bytes(server.process.pid) - before) < 100 << 20


def test_a_large_legitimate_query_is_answered_in_chunks(probed):
    server, wide, _, _ = probed
    pairs = [(i % 64, i % 10) for i in range(1000)]  # 1,000 queries x 100,000 answers: 400 MB at once
    pid = server.process.pid
    reset_peak(pid)
    before = rss_bytes(pid)
    with server.client() as client:
        reply = client.query_facts(wide, pairs, top_k=3)
    assert len(reply.answers) == 1000 and len(reply.answers[0]) == 3
    assert rss_bytes(pid, "VmHWM") - before < 100 << 20  # the peak, not what is left after


def test_running_reproductions_are_capped(probed):
    server, _, _, _ = probed
    with server.client() as client:
        first = client.start_reproduction("single-index", "small")
        try:
            with pytest.raises(ResourceExhausted, match="--max-reproductions"):
                client.start_reproduction("single-index", "small")
        finally:
            client.cancel_reproduction(first.reproduction_id)
