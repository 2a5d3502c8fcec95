"""`make gpu-check`: the GPU path end to end, on a machine with a CUDA GPU (a few minutes).

A server with ``--device cuda`` trains every family briefly (each job must end SUCCEEDED on CUDA); then
QueryFacts on a factual-recall checkpoint must run on ONNX Runtime's CUDA execution provider and give the
answers torch gives on the GPU, probabilities within 1e-4. Prints one line per check and exits non-zero
on the first failure.

``python bench/gpu_check.py --rehearse`` runs the same checks on the CPU (CPU execution provider), so the
script itself is tested where no GPU is.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe_models.config import parse_config
from probe_models.registry import FAMILIES, get_family
from probe_server.checkpoint_files import read_weights
from tests.conftest import start_server

STEPS = 30
FACTS = {"num_subjects": 32, "num_relations": 32}


def check(ok: bool, what: str) -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {what}", flush=True)
    if not ok:
        raise SystemExit(1)


def main() -> None:
    device = "cpu" if "--rehearse" in sys.argv else "cuda"
    provider = "CPUExecutionProvider" if device == "cpu" else "CUDAExecutionProvider"
    if device == "cuda":
        check(torch.cuda.is_available(), f"torch {torch.__version__} sees CUDA")
        print(f"     {torch.cuda.get_device_name(0)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="probe-gpu-check-") as tmp:
        server = start_server(Path(tmp) / "data", "--device", device)
        try:
            with server.client() as client:
                check(client.server_info().device == device, f"the server trains on {device}")
                for name in sorted(FAMILIES):
                    start = time.perf_counter()
                    job = client.wait(client.submit_job(name, {}, steps=STEPS).job_id)
                    check(
                        job.state == "SUCCEEDED",
                        f"{name}: {STEPS} steps in {time.perf_counter() - start:.1f} s, peak "
                        f"{job.peak_memory_bytes / 2**20:.0f} MiB {job.error.splitlines()[0] if job.error else ''}",
                    )
                job = client.wait(client.submit_job("factual-recall", FACTS, steps=200).job_id)
                record = client.get_checkpoint(job.checkpoint_id)
                family = get_family(record.family)
                config = parse_config(family.config_cls, record.config)
                model = family.load(
                    config, record.seed, read_weights(server.data_dir / "checkpoints" / record.checkpoint_id)
                )
                pairs = [(s, r) for s in range(32) for r in range(32)]
                served = client.query_facts(job.checkpoint_id, pairs, top_k=1)
                check(served.backend == f"onnxruntime/{provider}", f"QueryFacts ran on {served.backend}")
                subjects, relations = np.array(pairs).T
                inputs = torch.from_numpy(family.fact_inputs(config, record.seed, subjects, relations, 0)).to(device)
                with torch.no_grad():
                    probs = torch.softmax(model.module.to(device)(inputs).double(), dim=-1).cpu().numpy()
                same = np.array_equal(served.answers[:, 0], probs.argmax(axis=1))
                gap = float(np.abs(served.probabilities[:, 0] - probs.max(axis=1)).max())
                check(same and gap <= 1e-4, f"QueryFacts equals torch on {device} (largest gap {gap:.1e})")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
