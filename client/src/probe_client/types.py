"""Plain Python results of ProbeClient calls, converted from the wire messages."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import numpy as np
from google.protobuf import json_format, struct_pb2, timestamp_pb2

from probe_client._proto.probe.v1 import (
    checkpoints_pb2,
    info_pb2,
    jobs_pb2,
    probes_pb2,
    registry_pb2,
    reproductions_pb2,
    sweeps_pb2,
)
from probe_client.structs import to_struct

FINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED", "INTERRUPTED")


def _enum_value(enum: Any, prefix: str, what: str, name: str) -> int:
    """The number of a state given by its short name ("running"), or a ValueError listing the known ones."""
    try:
        return enum.Value(prefix + name.upper())
    except ValueError:
        known = [n.removeprefix(prefix) for n in enum.keys()[1:]]
        raise ValueError(f"unknown {what} {name!r}; known: {', '.join(known)}") from None


def state_name(value: int) -> str:
    return jobs_pb2.JobState.Name(value).removeprefix("JOB_STATE_")


def state_value(name: str) -> jobs_pb2.JobState:
    return cast("jobs_pb2.JobState", _enum_value(jobs_pb2.JobState, "JOB_STATE_", "job state", name))


def _config(message: struct_pb2.Struct) -> dict[str, Any]:
    """Struct numbers are doubles; show integral ones as ints, as the family config declares most of them."""
    values = json_format.MessageToDict(message)
    return {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in values.items()}


def _time(ts: timestamp_pb2.Timestamp, present: bool) -> datetime | None:
    return ts.ToDatetime().replace(tzinfo=None) if present else None


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
            time=_time(e.time, e.HasField("time")),
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
        return cls(t.optimizer, _config(t.optimizer_config), t.init_checkpoint, list(t.trainable))

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

    @property
    def done(self) -> bool:
        return self.state in FINAL_STATES

    @classmethod
    def from_proto(cls, j: jobs_pb2.Job) -> "Job":
        return cls(
            job_id=j.job_id,
            family=j.family,
            config=_config(j.config),
            seed=j.seed,
            steps=j.steps,
            checkpoint_every=j.checkpoint_every,
            log_every=j.log_every,
            state=state_name(j.state),
            step=j.step,
            loss=j.loss,
            metrics=dict(j.metrics),
            checkpoint_id=j.checkpoint_id,
            error=j.error,
            last_event=JobEvent.from_proto(j.last_event) if j.HasField("last_event") else None,
            created_at=_time(j.created_at, j.HasField("created_at")),
            started_at=_time(j.started_at, j.HasField("started_at")),
            finished_at=_time(j.finished_at, j.HasField("finished_at")),
            runs=j.runs,
            peak_memory_bytes=j.peak_memory_bytes,
            training=TrainingOptions.from_proto(j.training),
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
            config=_config(c.config),
            seed=c.seed,
            metrics=dict(c.metrics),
            created_at=_time(c.created_at, c.HasField("created_at")),
            size_bytes=c.size_bytes,
            code_version=c.code_version,
        )


@dataclass
class ConfigField:
    name: str
    type: str
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: list[str] = field(default_factory=list)


def _config_fields(config: Any) -> list[ConfigField]:
    fields = [
        ConfigField(
            name=c.name,
            type=c.type,
            default=json_format.MessageToDict(c.default_value),
            help=c.help,
            min=c.min if c.HasField("min") else None,
            max=c.max if c.HasField("max") else None,
            choices=list(c.choices),
        )
        for c in config
    ]
    for spec in fields:  # Value carries numbers as doubles
        if spec.type == "int" and isinstance(spec.default, float):
            spec.default = int(spec.default)
    return fields


@dataclass
class Family:
    name: str
    description: str
    paper: str
    default_steps: int
    config: list[ConfigField]
    probes: list[str]  # the ProbeService RPCs it answers, e.g. "MeasureSharpness"

    @classmethod
    def from_proto(cls, f: registry_pb2.Family) -> "Family":
        return cls(f.name, f.description, f.paper, f.default_steps, _config_fields(f.config), list(f.probes))


@dataclass
class Optimizer:
    """An optimizer any family's job can use instead of its own (e.g. mezo)."""

    name: str
    description: str
    paper: str
    config: list[ConfigField]

    @classmethod
    def from_proto(cls, o: registry_pb2.Optimizer) -> "Optimizer":
        return cls(o.name, o.description, o.paper, _config_fields(o.config))


@dataclass
class FactQueryResult:
    """Row i answers (subjects[i], relations[i])."""

    subjects: np.ndarray  # (B,)
    relations: np.ndarray  # (B,)
    answers: np.ndarray  # (B, k) best first
    probabilities: np.ndarray  # (B, k)
    stored_answers: np.ndarray  # (B,)
    recalled: np.ndarray  # (B,) bool
    accuracy: float
    backend: str


@dataclass
class Attention:
    patterns: dict[str, np.ndarray]  # name -> [batch, head, query_pos, key_pos]
    tokens: np.ndarray
    query_positions: list[int]
    heads: list[int]  # the heads kept, as requested; empty: all
    true_parents: list[list[int]]  # per position, in the task's latent graph; empty: no graph


@dataclass
class RecoveredPosition:
    position: int
    true_parents: list[int]
    recovered_parents: list[int]
    parent_mass: float  # NaN where the position has no parents
    correct: bool


@dataclass
class GraphRecovery:
    graph: str
    layer: int
    positions: list[RecoveredPosition]
    parent_accuracy: float
    parent_mass: float
    induction_score: float | None
    test_loss: float
    bayes_loss: float
    metrics: dict[str, float]


@dataclass
class Sharpness:
    eigenvalues: list[float]
    residuals: list[float]
    iterations: int
    hvp_count: int
    num_parameters: int
    num_examples: int
    method: str
    data: str  # what it computed on
    dtype: str
    chunks: int
    trace: float | None
    trace_standard_error: float | None
    trace_samples: int
    eigenvectors: np.ndarray | None  # [top_k, num_parameters] when asked


@dataclass
class Stabilization:
    """Self-stabilization at a checkpoint; the lists run over GD steps 1..len(steps)."""

    lr: float
    threshold: float
    sharpness: float
    alpha: float
    beta: float
    delta: float
    gradient_norm: float
    sharpness_gradient_norm: float
    steps: list[int]
    x_measured: list[float]
    y_measured: list[float]
    x_predicted: list[float]
    y_predicted: list[float]
    loss: list[float]
    sharpness_along_gd: list[float]
    projected_distance: list[float]
    projected_sharpness: list[float]
    hvp_count: int
    displacement: list[float]

    @classmethod
    def from_proto(cls, r: probes_pb2.MeasureStabilizationResponse) -> "Stabilization":
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            value = getattr(r, f.name)
            values[f.name] = list(value) if f.type.startswith("list") else value
        return cls(**values)


@dataclass
class Evaluation:
    accuracy: float
    test_loss: float
    metrics: dict[str, float]


@dataclass
class ServerInfo:
    package_version: str
    api_version: str
    device: str
    slots: int
    limits: dict[str, int]

    @classmethod
    def from_proto(cls, r: info_pb2.GetServerInfoResponse) -> "ServerInfo":
        limits = json_format.MessageToDict(r.limits, preserving_proto_field_name=True)
        return cls(r.package_version, r.api_version, r.device, r.slots, {k: int(v) for k, v in limits.items()})


def sweep_state_value(name: str) -> sweeps_pb2.SweepState:
    return cast("sweeps_pb2.SweepState", _enum_value(sweeps_pb2.SweepState, "SWEEP_STATE_", "sweep state", name))


def sweep_state_name(value: int) -> str:
    return sweeps_pb2.SweepState.Name(value).removeprefix("SWEEP_STATE_")


@dataclass
class SweepChild:
    job_id: str
    point: int
    seed: int
    overrides: dict[str, Any]
    state: str
    metrics: dict[str, float]


@dataclass
class SearchResult:
    point: int
    best: float | None
    first_failure: float | None
    done: bool
    probes: int


@dataclass
class Sweep:
    sweep_id: str
    name: str
    family: str
    state: str
    counts: dict[str, int]
    planned_children: int
    children: list[SweepChild]
    search_results: list[SearchResult]
    base_config: dict[str, Any]
    grid: dict[str, list[Any]]
    search: dict[str, Any] | None
    seeds: int
    steps: int
    message: str
    created_at: datetime | None
    finished_at: datetime | None

    @property
    def done(self) -> bool:
        return self.state != "RUNNING"

    @classmethod
    def from_proto(cls, s: sweeps_pb2.Sweep) -> "Sweep":
        return cls(
            sweep_id=s.sweep_id,
            name=s.name,
            family=s.family,
            state=sweep_state_name(s.state),
            counts=dict(s.counts),
            planned_children=s.planned_children,
            children=[
                SweepChild(c.job_id, c.point, c.seed, _config(c.overrides), state_name(c.state), dict(c.metrics))
                for c in s.children
            ],
            search_results=[
                SearchResult(
                    r.point,
                    r.best if r.HasField("best") else None,
                    r.first_failure if r.HasField("first_failure") else None,
                    r.done,
                    r.probes,
                )
                for r in s.search_results
            ],
            base_config=_config(s.base_config),
            grid={a.key: [json_format.MessageToDict(v) for v in a.values] for a in s.grid},
            search=json_format.MessageToDict(s.search, preserving_proto_field_name=True)
            if s.HasField("search")
            else None,
            seeds=s.seeds,
            steps=s.steps,
            message=s.message,
            created_at=_time(s.created_at, s.HasField("created_at")),
            finished_at=_time(s.finished_at, s.HasField("finished_at")),
        )


def _search(s: sweeps_pb2.Sweep) -> dict[str, Any] | None:
    if not s.HasField("search"):
        return None
    return json_format.MessageToDict(
        s.search, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


@dataclass
class SweepEvent:
    sweep_id: str
    seq: int
    state: str
    job_id: str
    job_state: str
    counts: dict[str, int]
    message: str

    @classmethod
    def from_proto(cls, e: sweeps_pb2.SweepEvent) -> "SweepEvent":
        job_state = state_name(e.job_state) if e.job_state else ""
        return cls(e.sweep_id, e.seq, sweep_state_name(e.state), e.job_id, job_state, dict(e.counts), e.message)


@dataclass
class Reproduction:
    reproduction_id: str
    family: str
    scale: str
    state: str
    sweep_ids: list[str]
    counts: dict[str, int]
    planned_children: int
    files: list[str]
    passed: bool
    message: str

    @property
    def done(self) -> bool:
        return self.state != "RUNNING"

    @classmethod
    def from_proto(cls, r: reproductions_pb2.Reproduction) -> "Reproduction":
        state = reproductions_pb2.ReproductionState.Name(r.state).removeprefix("REPRODUCTION_STATE_")
        return cls(
            r.reproduction_id, r.family, r.scale, state, list(r.sweep_ids), dict(r.counts), r.planned_children,
            list(r.files), r.passed, r.message,
        )  # fmt: skip
