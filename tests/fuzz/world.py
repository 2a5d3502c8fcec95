"""What the fuzz knows of the server it attacks, and a valid request of every RPC drawn from it.

The server holds a finished job, checkpoint, sweep and reproduction of each kind a probe needs (made by
``World.build``), spare checkpoints that DeleteCheckpoint may take, and the jobs, sweeps and
reproductions the fuzz itself started: a valid cancel takes the newest of those, a valid resume a job the
fuzz cancelled, and ``tidy`` cancels the oldest so that little ever trains while the fuzz runs.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from google.protobuf import struct_pb2
from google.protobuf.message import Message

from probe_client import ProbeClient
from probe_models.registry import FAMILIES, REPRODUCTIONS
from probe_wire.tensors import to_tensor
from probe_wire.v1 import (
    activations_pb2,
    checkpoints_pb2,
    info_pb2,
    jobs_pb2,
    probes_pb2,
    registry_pb2,
    reproductions_pb2,
    sweeps_pb2,
)

FACTS = {"num_subjects": 8, "num_relations": 8}
CHAIN = {"batch_size": 32}
MLP = {"num_examples": 64, "width": 16, "sharpness_every": 0}  # eos: 1,242 parameters
GPT = {"mode": "pretrain", "n_layers": 1, "d_model": 16, "n_heads": 2, "context": 16, "batch_size": 4}
JOB_STATES = [v.number for v in jobs_pb2.JobState.DESCRIPTOR.values]
SWEEP_STATES = [v.number for v in sweeps_pb2.SweepState.DESCRIPTOR.values]
LIVE_JOBS, LIVE_SWEEPS, LIVE_REPRODUCTIONS = 3, 2, 2  # the fuzz's own, left running before tidy cancels


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


@dataclass
class World:
    facts: str  # checkpoints: factual-recall, causal-icl (chain), eos (MLP), lm-finetune (GPT)
    chain: str
    mlp: str
    gpt: str
    jobs: list[str]  # finished jobs
    sweep: str  # a finished sweep
    reproduction: str  # a SUCCEEDED reproduction
    spare: list[str]  # checkpoints DeleteCheckpoint may remove
    blocker: str  # a long job in the server's one slot: what the fuzz submits stays queued, so a cancel is quick
    rng: random.Random
    live_jobs: deque[str] = field(default_factory=deque)
    cancelled_jobs: list[str] = field(default_factory=list)
    live_sweeps: deque[str] = field(default_factory=deque)
    live_reproductions: deque[str] = field(default_factory=deque)
    known: set[str] = field(default_factory=set)  # every id seen, for the fuzz's vocabulary

    @classmethod
    def build(cls, client: ProbeClient, spares: int, rng: random.Random) -> World:
        """Train what the valid requests need (about half a minute on 2 cores, the reproduction's most of it)."""
        reproduction = client.start_reproduction("single-index", "small")
        facts = client.submit_job("factual-recall", FACTS, steps=20, seed=1)
        chain = client.submit_job("causal-icl", CHAIN, steps=5, seed=1)
        mlp = client.submit_job("eos", MLP, steps=5, seed=1)
        gpt = client.submit_job("lm-finetune", GPT, steps=2, seed=1)
        spare = client.submit_job("factual-recall", FACTS, steps=spares, seed=2, checkpoint_every=1)
        sweep = client.submit_sweep("factual-recall", FACTS, {"lr": [0.01, 0.02]}, steps=2)
        jobs = [client.wait(job.job_id, timeout=600) for job in (facts, chain, mlp, spare, gpt)]
        for job in jobs:
            assert job.state == "SUCCEEDED", (job.job_id, job.error)
        client.wait_sweep(sweep.sweep_id, timeout=600)
        done = client.wait_reproduction(reproduction.reproduction_id, timeout=600)
        assert done.state == "SUCCEEDED", done.message
        spare_ids, token = [], ""
        while True:
            page, token = client.list_checkpoints(job_id=spare.job_id, page_size=500, page_token=token)
            spare_ids += [c.checkpoint_id for c in page if c.checkpoint_id != jobs[3].checkpoint_id]  # its last stays
            if not token:
                break
        blocker = client.submit_job("eos", MLP, steps=400_000, seed=3)
        world = cls(
            jobs[0].checkpoint_id, jobs[1].checkpoint_id, jobs[2].checkpoint_id, jobs[4].checkpoint_id,
            [j.job_id for j in jobs],
            sweep.sweep_id, reproduction.reproduction_id, spare_ids, blocker.job_id, rng,
        )  # fmt: skip
        world.known.update([*world.jobs, world.facts, world.chain, world.mlp, world.gpt, world.sweep,
                            world.reproduction])  # fmt: skip
        return world

    def vocabulary(self) -> list[str]:
        """Names for random strings: every id seen but the probed checkpoints and the blocker (a random delete or
        cancel would take them from the valid requests after it), families, hooks, config keys."""
        ids = sorted(self.known - {self.facts, self.chain, self.mlp, self.gpt, self.blocker})
        hooks = ["blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern", "blocks.*.hook_resid_post", "hook_embed"]
        return [*ids, *FAMILIES, *hooks, "lanczos", "power", "small", "paper", *FACTS, *MLP]

    def checkpoint(self) -> str:
        return self.rng.choice((self.facts, self.chain, self.mlp))

    def valid(self, method: str) -> Message:
        """A request of ``method`` that this server should answer OK."""
        return SEEDS[method](self, self.rng)

    def started(self, method: str, request: Message, reply: Message) -> None:
        """Follow what an OK call created, cancelled, resumed or deleted, for the valid requests after it."""
        if method in ("SubmitJob", "ResumeJob"):
            self.live_jobs.append(reply.job.job_id)
            _discard(self.cancelled_jobs, getattr(request, "job_id", ""))
        elif method == "CancelJob":
            _discard(self.live_jobs, request.job_id)
            self.cancelled_jobs.append(request.job_id)
        elif method == "SubmitSweep":
            self.live_sweeps.append(reply.sweep.sweep_id)
        elif method == "CancelSweep":
            _discard(self.live_sweeps, request.sweep_id)
        elif method == "StartReproduction":
            self.live_reproductions.append(reply.reproduction.reproduction_id)
        elif method == "CancelReproduction":
            _discard(self.live_reproductions, request.reproduction_id)
        elif method == "DeleteCheckpoint":
            _discard(self.spare, request.checkpoint_id)
        for name in ("job", "sweep", "reproduction"):
            if name in reply.DESCRIPTOR.fields_by_name and reply.HasField(name):
                self.known.add(getattr(getattr(reply, name), f"{name}_id"))

    def excess(self) -> list[tuple[str, Message]]:
        """Cancels of the oldest of the fuzz's live jobs, sweeps and reproductions beyond a few of each."""
        calls: list[tuple[str, Message]] = []
        while len(self.live_jobs) > LIVE_JOBS:
            job_id = self.live_jobs.popleft()
            self.cancelled_jobs.append(job_id)
            calls.append(("CancelJob", jobs_pb2.CancelJobRequest(job_id=job_id)))
        while len(self.live_sweeps) > LIVE_SWEEPS:
            calls.append(("CancelSweep", sweeps_pb2.CancelSweepRequest(sweep_id=self.live_sweeps.popleft())))
        while len(self.live_reproductions) > LIVE_REPRODUCTIONS:
            request = reproductions_pb2.CancelReproductionRequest(reproduction_id=self.live_reproductions.popleft())
            calls.append(("CancelReproduction", request))
        return calls

    def remaining(self) -> list[tuple[str, Message]]:
        """Cancels of everything the fuzz left running, and of the blocker."""
        calls = [("CancelJob", jobs_pb2.CancelJobRequest(job_id=j)) for j in (*self.live_jobs, self.blocker)]
        calls += [("CancelSweep", sweeps_pb2.CancelSweepRequest(sweep_id=s)) for s in self.live_sweeps]
        calls += [
            ("CancelReproduction", reproductions_pb2.CancelReproductionRequest(reproduction_id=r))
            for r in self.live_reproductions
        ]
        self.live_jobs.clear(), self.live_sweeps.clear(), self.live_reproductions.clear()
        return calls


def _discard(items: list[str] | deque[str], item: str) -> None:
    if item in items:
        items.remove(item)


def _submit_job(world: World, rng: random.Random) -> Message:
    family, config = rng.choice((("factual-recall", FACTS), ("eos", MLP)))
    return jobs_pb2.SubmitJobRequest(
        family=family, config=struct(config), steps=rng.randint(1, 50), seed=rng.randrange(100),
        log_every=rng.choice((0, 1, 10)),
    )  # fmt: skip


def _cancel_job(world: World, rng: random.Random) -> Message:
    job_id = world.live_jobs[-1] if world.live_jobs else rng.choice(world.jobs)
    return jobs_pb2.CancelJobRequest(job_id=job_id)


def _resume_job(world: World, rng: random.Random) -> Message:
    job_id = world.cancelled_jobs[-1] if world.cancelled_jobs else rng.choice(world.jobs)
    return jobs_pb2.ResumeJobRequest(job_id=job_id)


def _query_facts(world: World, rng: random.Random) -> Message:
    if rng.random() < 0.2:
        return probes_pb2.QueryFactsRequest(checkpoint_id=world.facts, all_facts=True, top_k=rng.randint(1, 3))
    count = rng.randint(1, 16)
    return probes_pb2.QueryFactsRequest(
        checkpoint_id=world.facts, subjects=[rng.randrange(8) for _ in range(count)],
        relations=[rng.randrange(8) for _ in range(count)], top_k=rng.randint(1, 3), noise_seed=rng.randrange(9),
    )  # fmt: skip


def _sharpness(world: World, rng: random.Random) -> Message:
    return probes_pb2.MeasureSharpnessRequest(
        checkpoint_id=world.mlp, top_k=rng.randint(1, 2), num_examples=rng.choice((0, 16, 64)),
        max_iterations=rng.randint(2, 10), method=rng.choice(("", "lanczos", "power")), seed=rng.randrange(9),
        trace_samples=rng.choice((0, 0, 4)), return_eigenvectors=rng.random() < 0.3, float64=rng.random() < 0.3,
    )  # fmt: skip


def _submit_sweep(world: World, rng: random.Random) -> Message:
    values = [struct_pb2.Value(number_value=v) for v in (0.01, 0.02)[: rng.randint(1, 2)]]
    return sweeps_pb2.SubmitSweepRequest(
        family="factual-recall", base_config=struct(FACTS), grid=[sweeps_pb2.GridAxis(key="lr", values=values)],
        steps=rng.randint(1, 20), seeds=rng.randint(1, 2), name=rng.choice(("", "fuzz")),
    )  # fmt: skip


def _cancel_sweep(world: World, rng: random.Random) -> Message:
    return sweeps_pb2.CancelSweepRequest(sweep_id=world.live_sweeps[-1] if world.live_sweeps else world.sweep)


def _cancel_reproduction(world: World, rng: random.Random) -> Message:
    reproduction_id = world.live_reproductions[-1] if world.live_reproductions else world.reproduction
    return reproductions_pb2.CancelReproductionRequest(reproduction_id=reproduction_id)


def _list(kind: Callable[..., Message], states: list[int]) -> Callable[[World, random.Random], Message]:
    def seed(world: World, rng: random.Random) -> Message:
        chosen = rng.sample(states[1:], rng.randint(0, 2)) if states else []
        family = rng.choice(("", "factual-recall", "eos"))
        extra = {"states": chosen} if states else {}
        return kind(page_size=rng.randint(0, 20), family=family, **extra)

    return seed


def _run_with_cache(world: World, rng: random.Random) -> Message:
    hooks = rng.choice(([], ["blocks.*.hook_resid_post"], ["hook_embed", "blocks.0.attn.hook_pattern"]))
    request = activations_pb2.RunWithCacheRequest(
        checkpoint_id=world.gpt, hooks=hooks, seed=rng.randrange(100), return_logits=rng.random() < 0.5,
        return_loss=rng.random() < 0.5,
    )  # fmt: skip
    if rng.random() < 0.5:
        request.tokens.CopyFrom(_ids(rng))
    else:
        request.num_sequences = rng.choice((0, 1, 4))
    return request


def _ids(rng: random.Random) -> Message:
    return to_tensor(np.array([[rng.randrange(60) for _ in range(8)] for _ in range(2)]))


def _intervene(world: World, rng: random.Random) -> Message:
    kind = rng.choice(list(activations_pb2.EditKind.values())[1:])
    edit = activations_pb2.HookEdit(
        hook=rng.choice(("hook_embed", "blocks.0.attn.hook_z", "blocks.1.hook_resid_post")), kind=kind,
        positions=rng.sample(range(8), rng.randint(0, 2)),
    )  # fmt: skip
    if kind in (activations_pb2.EDIT_KIND_SET, activations_pb2.EDIT_KIND_ADD):
        edit.value.CopyFrom(to_tensor(np.float32(rng.uniform(-1, 1))))
    request = activations_pb2.InterveneRequest(
        checkpoint_id=world.gpt, edits=[edit], hooks=rng.choice(([], ["blocks.*.hook_resid_post"])),
        return_logits=rng.random() < 0.5, loss_on_source=rng.random() < 0.3,
    )  # fmt: skip
    if rng.random() < 0.5:
        request.tokens.CopyFrom(_ids(rng))
        request.source_tokens.CopyFrom(_ids(rng))
    else:
        request.num_sequences, request.seed, request.source_seed = rng.choice((0, 2)), 1, 2
    return request


def _patch_sweep(world: World, rng: random.Random) -> Message:
    request = activations_pb2.PatchSweepRequest(
        checkpoint_id=world.gpt, hooks=rng.choice(([], ["blocks.*.hook_resid_pre"])),
        axis=rng.choice((activations_pb2.SWEEP_AXIS_POSITION, activations_pb2.SWEEP_AXIS_HEAD)),
    )  # fmt: skip
    if rng.random() < 0.5:
        request.clean_tokens.CopyFrom(_ids(rng))
        request.corrupt_tokens.CopyFrom(_ids(rng))
    else:
        request.num_sequences, request.seed, request.corrupt_seed = rng.choice((0, 2)), 1, 2
    return request


SEEDS: dict[str, Callable[[World, random.Random], Message]] = {
    "SubmitJob": _submit_job,
    "GetJob": lambda w, r: jobs_pb2.GetJobRequest(job_id=r.choice(w.jobs)),
    "ListJobs": _list(jobs_pb2.ListJobsRequest, JOB_STATES),
    "CancelJob": _cancel_job,
    "ResumeJob": _resume_job,
    "WatchJob": lambda w, r: jobs_pb2.WatchJobRequest(job_id=r.choice(w.jobs), after_seq=r.choice((0, 1, 5))),
    "ListCheckpoints": lambda w, r: checkpoints_pb2.ListCheckpointsRequest(
        page_size=r.randint(0, 20), job_id=r.choice(("", *w.jobs))
    ),
    "GetCheckpoint": lambda w, r: checkpoints_pb2.GetCheckpointRequest(checkpoint_id=w.checkpoint()),
    "DeleteCheckpoint": lambda w, r: checkpoints_pb2.DeleteCheckpointRequest(
        checkpoint_id=w.spare[-1] if w.spare else w.facts
    ),
    "ExportCheckpoint": lambda w, r: checkpoints_pb2.ExportCheckpointRequest(
        checkpoint_id=w.facts, format=checkpoints_pb2.EXPORT_FORMAT_ONNX
    ),
    "QueryFacts": _query_facts,
    "ExtractAttention": lambda w, r: probes_pb2.ExtractAttentionRequest(
        checkpoint_id=w.chain, num_sequences=r.randint(1, 4), seed=r.randrange(9), average_over_batch=r.random() < 0.5
    ),
    "MeasureSharpness": _sharpness,
    "Evaluate": lambda w, r: probes_pb2.EvaluateRequest(
        checkpoint_id=w.checkpoint(), num_sequences=r.randint(1, 64), seed=r.randrange(9)
    ),
    "RecoverGraph": lambda w, r: probes_pb2.RecoverGraphRequest(
        checkpoint_id=w.chain, num_sequences=r.randint(8, 64), seed=r.randrange(9)
    ),
    "MeasureStabilization": lambda w, r: probes_pb2.MeasureStabilizationRequest(
        checkpoint_id=w.mlp, steps=r.randint(1, 5), projected=r.random() < 0.5
    ),
    "ListHooks": lambda w, r: activations_pb2.ListHooksRequest(checkpoint_id=w.gpt, seq_len=r.choice((0, 1, 8, 16))),
    "RunWithCache": _run_with_cache,
    "Intervene": _intervene,
    "PatchSweep": _patch_sweep,
    "ListFamilies": lambda w, r: registry_pb2.ListFamiliesRequest(),
    "GetServerInfo": lambda w, r: info_pb2.GetServerInfoRequest(),
    "SubmitSweep": _submit_sweep,
    "GetSweep": lambda w, r: sweeps_pb2.GetSweepRequest(sweep_id=w.sweep),
    "ListSweeps": _list(sweeps_pb2.ListSweepsRequest, SWEEP_STATES),
    "CancelSweep": _cancel_sweep,
    "WatchSweep": lambda w, r: sweeps_pb2.WatchSweepRequest(sweep_id=w.sweep, after_seq=r.choice((0, 1))),
    "StartReproduction": lambda w, r: reproductions_pb2.StartReproductionRequest(
        family=r.choice(sorted(REPRODUCTIONS)), scale=r.choice(("", "small"))
    ),
    "GetReproduction": lambda w, r: reproductions_pb2.GetReproductionRequest(reproduction_id=w.reproduction),
    "CancelReproduction": _cancel_reproduction,
    "DownloadReproduction": lambda w, r: reproductions_pb2.DownloadReproductionRequest(reproduction_id=w.reproduction),
    "WatchReproduction": lambda w, r: reproductions_pb2.WatchReproductionRequest(
        reproduction_id=w.reproduction, after_seq=r.choice((0, 1))
    ),
}
