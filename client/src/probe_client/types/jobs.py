"""Jobs, their events and training options, and checkpoints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from probe_client.types.fields import FINAL_STATES, config_dict, optional_time, state_name
from probe_wire.structs import to_struct
from probe_wire.v1 import (
    checkpoints_pb2,
    jobs_pb2,
)


@dataclass
class JobEvent:
    job_id: str
    seq: int
    kind: str  # STATE, PROGRESS or CHECKPOINT
    state: str
    step: int
    loss: float
    metrics: dict[str, float]
    checkpoint_id: str
    message: str
    time: datetime | None

    @classmethod
    def from_proto(cls, e: jobs_pb2.JobEvent) -> "JobEvent":
        return cls(
            job_id=e.job_id,
            seq=e.seq,
            kind=jobs_pb2.JobEventKind.Name(e.kind).removeprefix("JOB_EVENT_KIND_"),
            state=state_name(e.state),
            step=e.step,
            loss=e.loss,
            metrics=dict(e.metrics),
            checkpoint_id=e.checkpoint_id,
            message=e.message,
            time=optional_time(e.time, e.HasField("time")),
        )


@dataclass
class TrainingOptions:
    """How a job trains beside its family config: "" is the family's own optimizer."""

    optimizer: str = ""
    optimizer_config: dict[str, Any] = field(default_factory=dict)
    init_checkpoint: str = ""
    trainable: list[str] = field(default_factory=list)  # parameter groups that train; empty: all

    @classmethod
    def from_proto(cls, t: jobs_pb2.TrainingOptions) -> "TrainingOptions":
        return cls(t.optimizer, config_dict(t.optimizer_config), t.init_checkpoint, list(t.trainable))

    def to_proto(self) -> jobs_pb2.TrainingOptions:
        return jobs_pb2.TrainingOptions(
            optimizer=self.optimizer,
            optimizer_config=to_struct(self.optimizer_config),
            init_checkpoint=self.init_checkpoint,
            trainable=self.trainable,
        )


@dataclass
class Job:
    job_id: str
    family: str
    config: dict[str, Any]
    seed: int
    steps: int
    checkpoint_every: int
    log_every: int
    state: str
    step: int
    loss: float
    metrics: dict[str, float]
    checkpoint_id: str
    error: str
    last_event: JobEvent | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    runs: int
    peak_memory_bytes: int
    training: TrainingOptions
    node: str = ""  # where its worker runs or last ran (a Ray node, or the server's host)

    @property
    def done(self) -> bool:
        return self.state in FINAL_STATES

    @classmethod
    def from_proto(cls, j: jobs_pb2.Job) -> "Job":
        # a server of the previous version sends only the flat fields
        spec = j.spec if j.HasField("spec") else jobs_pb2.JobSpec(
            steps=j.steps, seed=j.seed, checkpoint_every=j.checkpoint_every, log_every=j.log_every, training=j.training
        )  # fmt: skip
        return cls(
            job_id=j.job_id,
            family=j.family,
            config=config_dict(j.config),
            seed=spec.seed,
            steps=spec.steps,
            checkpoint_every=spec.checkpoint_every,
            log_every=spec.log_every,
            state=state_name(j.state),
            step=j.step,
            loss=j.loss,
            metrics=dict(j.metrics),
            checkpoint_id=j.checkpoint_id,
            error=j.error,
            last_event=JobEvent.from_proto(j.last_event) if j.HasField("last_event") else None,
            created_at=optional_time(j.created_at, j.HasField("created_at")),
            started_at=optional_time(j.started_at, j.HasField("started_at")),
            finished_at=optional_time(j.finished_at, j.HasField("finished_at")),
            runs=j.runs,
            peak_memory_bytes=j.peak_memory_bytes,
            training=TrainingOptions.from_proto(spec.training),
            node=j.node,
        )


@dataclass
class Checkpoint:
    checkpoint_id: str
    job_id: str
    family: str
    step: int
    config: dict[str, Any]
    seed: int
    metrics: dict[str, float]
    created_at: datetime | None
    size_bytes: int
    code_version: str

    @classmethod
    def from_proto(cls, c: checkpoints_pb2.Checkpoint) -> "Checkpoint":
        return cls(
            checkpoint_id=c.checkpoint_id,
            job_id=c.job_id,
            family=c.family,
            step=c.step,
            config=config_dict(c.config),
            seed=c.seed,
            metrics=dict(c.metrics),
            created_at=optional_time(c.created_at, c.HasField("created_at")),
            size_bytes=c.size_bytes,
            code_version=c.code_version,
        )
