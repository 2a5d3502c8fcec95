"""Fuzz every RPC through a real server: no INTERNAL or UNKNOWN, no crash, no growth, nothing stored damaged.

``make test`` runs FUZZ_CASES=200 cases per RPC (seeded by FUZZ_SEED, default 0); ``make fuzz`` runs 5,000.
The server runs with small limits, so that a valid request stays cheap and a mutated one above them is
refused: the fuzz then spends its time on the server's checks, not on training or Hessians.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import grpc

from probe_wire.limits import channel_options
from tests.conftest import BIN, start_server
from tests.e2e.test_probe_memory import rss_bytes
from tests.fuzz.campaign import Campaign, methods
from tests.fuzz.world import World

CASES = int(os.environ.get("FUZZ_CASES", "200"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))
LIMITS = (
    "--max-batch", "256", "--max-seq-len", "256", "--max-tokens", "4096", "--max-steps", "400000",
    "--max-parameters", "5000000", "--max-working-floats", "200000000", "--max-hvp-iterations", "10",
    "--max-attention-values", "100000", "--max-probe-floats", "4000000", "--max-eval-sequences", "256",
    "--max-reproductions", "3", "--max-sweep-children", "64",
)  # fmt: skip
MIN_VALID_SHARE = 0.10
MAX_GROWTH = 300 << 20


def test_fuzzing_every_rpc_finds_no_fault(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir, "--slots", "1", *LIMITS)
    try:
        with server.client() as client:
            world = World.build(client, spares=CASES // 2, rng=random.Random(SEED))
        with grpc.insecure_channel(server.address, options=channel_options()) as channel:
            campaign = Campaign(channel, world, SEED)
            campaign.run(1)  # every RPC once, so that models, ONNX sessions and caches are loaded before
            before = rss_bytes(server.process.pid)
            campaign = Campaign(channel, world, SEED + 1)
            report = campaign.run(CASES)
            after = rss_bytes(server.process.pid)
        print(f"\n{sum(report.cases.values())} cases in {report.seconds:.1f} s; server RSS {before >> 20} -> "
              f"{after >> 20} MiB\n{report.table()}")  # fmt: skip
        assert server.process.poll() is None, "the server died"
        assert not report.findings, "\n".join(map(str, report.findings[:20]))
        assert set(report.cases) == set(methods())
        assert min(report.cases.values()) >= CASES
        thin = {m: f"{report.valid_share(m):.0%}" for m in report.cases if report.valid_share(m) < MIN_VALID_SHARE}
        assert not thin, f"RPCs the fuzz rarely got past the checks of: {thin}"
        assert after - before < MAX_GROWTH, f"server RSS grew {(after - before) >> 20} MiB"
        assert "internal error" not in server.log()
    finally:
        server.stop()
    checked = subprocess.run(
        [str(BIN / "probe-server"), "fsck", "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
