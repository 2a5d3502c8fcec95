"""`make bench`: RunWithCache of every hook over gRPC against the same hooked run in this process.

256 given sequences of an lm-finetune GPT (2 layers, d_model 32, 16 tokens: 38 hooks), every activation
returned. Reported as run.py reports the other probes: the server's CPU per served batch against the
in-process CPU per batch (the hooked forward with every activation kept, then as numpy), the client's CPU,
and one-request throughput against the bound the transport floor sets. A PatchSweep line follows: cells per
second of a (layer, head) sweep over gRPC against the per-cell loop of Intervene-style runs in this process.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import grpc
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from run import CPU_ROUNDS, PROBE_THREADS, ROUNDS, cpu_per_call, in_flight, serving_goals, timed

from probe_client import HookEdit, ProbeClient
from probe_models.config import parse_config
from probe_models.hooks import Edit, HookRun
from probe_models.patching import intervene
from probe_models.registry import get_family
from probe_server.checkpoint_files import read_weights
from probe_wire.limits import channel_options
from probe_wire.tensors import to_tensor
from probe_wire.v1 import activations_pb2, activations_pb2_grpc
from tests.conftest import GPT_CONFIG, start_server

SEQUENCES = 256


def bench(client: ProbeClient, data_dir: Path, server_pid: int) -> None:
    ckpt = client.wait(client.submit_job("lm-finetune", GPT_CONFIG, steps=20, seed=3).job_id).checkpoint_id
    record = client.get_checkpoint(ckpt)
    family = get_family(record.family)
    model = family.load(parse_config(family.config_cls, record.config), record.seed,
                        read_weights(data_dir / "checkpoints" / ckpt))  # fmt: skip
    tokens = family.sample_tokens(model, SEQUENCES, 0)
    array = tokens.numpy()
    specs = family.hook_specs(model, tokens.shape[1])

    def local() -> dict[str, np.ndarray]:
        hooks = HookRun({s.name: s for s in specs}, keep=frozenset(s.name for s in specs))
        family.run_hooked(model, tokens, hooks)
        return {name: value.numpy() for name, value in hooks.cache.items()}

    served = client.run_with_cache(ckpt, tokens=array)
    expected = local()
    for name, value in served.activations.items():
        np.testing.assert_array_equal(value, expected[name])  # the same numbers, or the timing means nothing
    grpc_s = timed(lambda: client.run_with_cache(ckpt, tokens=array), ROUNDS)
    alone = in_flight(lambda: client.run_with_cache(ckpt, tokens=array), 1, CPU_ROUNDS, server_pid)
    local_s, local_cpu = timed(local, ROUNDS), cpu_per_call(local, CPU_ROUNDS)
    floats = sum(v.size for v in served.activations.values())
    print(f"RunWithCache, every hook ({len(served.activations)}) of an lm-finetune GPT for {SEQUENCES} sequences of "
          f"{tokens.shape[1]} tokens ({floats:,} floats):")  # fmt: skip
    for label, seconds in (("over gRPC", grpc_s), (f"in-process torch, {PROBE_THREADS} thread(s)", local_s)):
        print(f"  {label:<32}{SEQUENCES / seconds:10.0f} sequences/s ({seconds * 1000:.2f} ms per batch)")
    request = activations_pb2.RunWithCacheRequest(checkpoint_id=ckpt, tokens=to_tensor(array))
    with grpc.insecure_channel(client.address, options=channel_options()) as channel:
        reply = activations_pb2_grpc.ActivationServiceStub(channel).RunWithCache(request)
    serving_goals("torch", local_s, local_cpu, grpc_s, alone, request.ByteSize(), reply.ByteSize())

    clean, corrupt = tokens[:16], family.sample_tokens(model, 16, 1)
    heads = [s.sizes[2] for s in specs if s.name.endswith("attn.hook_z")]
    cells = sum(heads)

    def loop() -> None:
        for layer, count in enumerate(heads):
            for head in range(count):
                edit = Edit(f"blocks.{layer}.attn.hook_z", "patch", heads=(head,))
                intervene(family, model, corrupt, [edit], source_tokens=clean, loss_on_source=True)

    def sweep() -> None:
        client.patch_sweep(ckpt, ["blocks.*.attn.hook_z"], "head", clean_tokens=clean.numpy(),
                           corrupt_tokens=corrupt.numpy())  # fmt: skip

    one = client.intervene(ckpt, [HookEdit("blocks.0.attn.hook_z", "patch", heads=[0])], tokens=corrupt.numpy(),
                           source_tokens=clean.numpy(), loss_on_source=True)  # fmt: skip
    assert np.isfinite(one.loss).all()
    sweep_s, loop_s = timed(sweep, 3), timed(loop, 3)
    print(f"PatchSweep over (layer, head), {cells} cells of 16 sequences: over gRPC {cells / sweep_s:.0f} cells/s, "
          f"in-process per-cell loop (clean, source and patched runs each) {cells / loop_s:.0f} cells/s, "
          f"ratio {loop_s / sweep_s:.2f}")  # fmt: skip


def main() -> None:
    torch.set_num_threads(PROBE_THREADS)
    with tempfile.TemporaryDirectory(prefix="probe-bench-") as tmp:
        server = start_server(Path(tmp) / "data")
        try:
            with server.client() as client:
                bench(client, server.data_dir, server.process.pid)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
