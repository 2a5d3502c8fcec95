"""Torch probes on the probe lanes: the flags reach the lanes, and concurrent calls sharing one two-thread lane
each get the same numbers as the computation in this process."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from tests.conftest import in_process, start_server


def test_concurrent_probes_on_one_lane_match_the_in_process_run(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--probe-threads", "1", "--probe-torch-threads", "2")
    try:
        with server.client() as client:
            ckpt = client.wait(client.submit_job("causal-icl", {}, steps=20, log_every=10).job_id).checkpoint_id
            family, model = in_process(server, client, ckpt)
            batches = [family.sample_sequences(model, 64, seed).numpy() for seed in range(6)]
            with ThreadPoolExecutor(6) as callers:
                served = list(callers.map(lambda tokens: client.extract_attention(ckpt, tokens=tokens), batches))
            for tokens, attention in zip(batches, served, strict=True):
                local = family.run_with_attention(model, torch.from_numpy(tokens))
                assert attention.patterns
                for name, pattern in attention.patterns.items():
                    np.testing.assert_allclose(pattern, local[name].numpy(), rtol=1e-6, atol=1e-7)
            assert client.evaluate(ckpt, num_sequences=64).test_loss > 0  # a probe after them gets the lane
    finally:
        server.stop()
    assert "probe lanes: 1, the first with 2 torch threads" in server.log_path.read_text()
