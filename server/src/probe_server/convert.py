"""Store records to probe.v1 messages."""

from __future__ import annotations

from collections import Counter
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from probe_server.job_spec import JobSpec
from probe_server.store import (
    CheckpointRecord,
    EventRecord,
    JobRecord,
    SweepChildRecord,
    SweepEventRecord,
    SweepRecord,
)
from probe_server.sweep_plan import SearchStatus
from probe_wire.structs import to_struct, to_value
from probe_wire.v1 import checkpoints_pb2, jobs_pb2, sweeps_pb2


def timestamp(seconds: float | None) -> timestamp_pb2.Timestamp | None:
    if seconds is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def struct_to_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as Python values; unlike json_format it passes NaN and inf on, for validation to refuse."""
    return {key: value_to_python(value) for key, value in message.fields.items()}


def value_to_python(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return [value_to_python(v) for v in value.list_value.values]
    return None if kind in (None, "null_value") else getattr(value, kind)


def job_state(name: str) -> jobs_pb2.JobState:
    return jobs_pb2.JobState.Value(f"JOB_STATE_{name}")


def event_proto(event: EventRecord) -> jobs_pb2.JobEvent:
    return jobs_pb2.JobEvent(
        job_id=event.job_id,
        seq=event.seq,
        kind=jobs_pb2.JobEventKind.Value(f"JOB_EVENT_KIND_{event.kind}"),
        state=job_state(event.state),
        step=event.step,
        loss=event.loss,
        metrics=event.metrics,
        checkpoint_id=event.checkpoint_id,
        message=event.message,
        time=timestamp(event.time),
    )


def job_proto(job: JobRecord) -> jobs_pb2.Job:
    spec = job.spec
    last_event = job.last_event
    return jobs_pb2.Job(
        job_id=job.job_id,
        family=job.family,
        config=to_struct(job.config),
        seed=spec.seed,
        steps=spec.steps,
        checkpoint_every=spec.checkpoint_every,
        log_every=spec.log_every,
        state=job_state(job.state),
        step=job.step,
        loss=job.loss,
        metrics=job.metrics,
        checkpoint_id=job.checkpoint_id,
        error=job.error,
        last_event=event_proto(last_event) if last_event else None,
        created_at=timestamp(job.created_at),
        started_at=timestamp(job.started_at),
        finished_at=timestamp(job.finished_at),
        runs=job.runs,
        peak_memory_bytes=job.peak_memory_bytes,
        training=training_proto(spec),
        spec=spec_proto(spec),
        node=job.node,
    )


def training_proto(spec: JobSpec) -> jobs_pb2.TrainingOptions:
    return jobs_pb2.TrainingOptions(
        optimizer=spec.optimizer,
        optimizer_config=to_struct(dict(spec.optimizer_config)),
        init_checkpoint=spec.init_checkpoint,
        trainable=spec.trainable,
    )


def spec_proto(spec: JobSpec) -> jobs_pb2.JobSpec:
    return jobs_pb2.JobSpec(
        steps=spec.steps,
        seed=spec.seed,
        checkpoint_every=spec.checkpoint_every,
        log_every=spec.log_every,
        training=training_proto(spec),
    )


def spec_from_proto(message: jobs_pb2.JobSpec) -> JobSpec:
    training = message.training
    return JobSpec(
        steps=message.steps,
        seed=message.seed,
        checkpoint_every=message.checkpoint_every,
        log_every=message.log_every,
        optimizer=training.optimizer,
        optimizer_config=struct_to_dict(training.optimizer_config),
        init_checkpoint=training.init_checkpoint,
        trainable=tuple(training.trainable),
    )


def requested_spec(request: jobs_pb2.SubmitJobRequest | sweeps_pb2.SubmitSweepRequest) -> JobSpec:
    """The request's spec; a client of the previous version sets the deprecated top-level fields instead."""
    if request.HasField("spec"):
        return spec_from_proto(request.spec)
    legacy = jobs_pb2.JobSpec(
        steps=request.steps,
        seed=request.seed,
        checkpoint_every=request.checkpoint_every,
        log_every=request.log_every,
        training=request.training,
    )
    return spec_from_proto(legacy)


def checkpoint_proto(record: CheckpointRecord) -> checkpoints_pb2.Checkpoint:
    return checkpoints_pb2.Checkpoint(
        checkpoint_id=record.checkpoint_id,
        job_id=record.job_id,
        family=record.family,
        step=record.step,
        config=to_struct(record.config),
        seed=record.seed,
        metrics=record.metrics,
        created_at=timestamp(record.created_at),
        size_bytes=record.size_bytes,
        code_version=record.code_version,
    )


def sweep_state(name: str) -> sweeps_pb2.SweepState:
    return sweeps_pb2.SweepState.Value(f"SWEEP_STATE_{name}")


def sweep_proto(
    sweep: SweepRecord, children: list[SweepChildRecord], statuses: list[SearchStatus], with_children: bool
) -> sweeps_pb2.Sweep:
    spec = sweep.spec
    search = spec.get("search")
    message = sweeps_pb2.Sweep(
        sweep_id=sweep.sweep_id,
        name=sweep.name,
        family=sweep.family,
        base_config=to_struct(spec["base_config"]),
        grid=[sweeps_pb2.GridAxis(key=k, values=[to_value(v) for v in vs]) for k, vs in spec["grid"]],
        seeds=spec["seeds"],
        seed=sweep.job_spec.seed,
        steps=sweep.job_spec.steps,
        search=sweeps_pb2.SearchSpec(
            key=search["key"], low=search["low"], high=search["high"], metric=search["metric"],
            threshold=search["threshold"], log_scale=search["log_scale"], resolution=search["resolution"],
        ) if search else None,
        state=sweep_state(sweep.state),
        counts=dict(Counter(c.state for c in children)),
        planned_children=spec["planned_children"],
        created_at=timestamp(sweep.created_at),
        finished_at=timestamp(sweep.finished_at),
        message=sweep.message,
        training=training_proto(sweep.job_spec),
        spec=spec_proto(sweep.job_spec),
    )  # fmt: skip
    for point, status in enumerate(statuses):
        message.search_results.add(
            point=point, best=status.best, first_failure=status.first_failure, done=status.done, probes=status.probes
        )
    if with_children:
        for c in children:
            message.children.add(
                job_id=c.job_id, point=c.point, seed=c.seed, overrides=to_struct(c.overrides), state=job_state(c.state),
                metrics=c.metrics, node=c.node,
            )  # fmt: skip
    return message


def sweep_event_proto(event: SweepEventRecord) -> sweeps_pb2.SweepEvent:
    return sweeps_pb2.SweepEvent(
        sweep_id=event.sweep_id,
        seq=event.seq,
        state=sweep_state(event.state),
        job_id=event.job_id,
        job_state=job_state(event.job_state) if event.job_state else jobs_pb2.JOB_STATE_UNSPECIFIED,
        counts=event.counts,
        message=event.message,
        time=timestamp(event.time),
    )
