"""The rows of the store's tables as Python values (JSON columns decoded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from probe_server.job_spec import JobSpec


@dataclass
class JobRecord:
    job_id: str
    family: str
    config: dict[str, Any]
    spec: JobSpec  # steps, seed, cadences and training options, defaults filled in
    state: str
    step: int
    loss: float
    metrics: dict[str, float]
    checkpoint_id: str
    error: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    runs: int
    peak_memory_bytes: int
    last_seq: int
    node: str = ""  # where its worker runs or last ran
    rowid: int = 0
    last_event: EventRecord | None = None  # the last event other than a state change, where a query joined it


@dataclass
class EventRecord:
    job_id: str
    seq: int
    kind: str
    state: str
    step: int
    loss: float
    metrics: dict[str, float] = field(default_factory=dict)
    checkpoint_id: str = ""
    message: str = ""
    time: float = 0.0


@dataclass
class CheckpointRecord:
    checkpoint_id: str
    job_id: str
    family: str
    step: int
    config: dict[str, Any]
    seed: int
    metrics: dict[str, float]
    created_at: float
    size_bytes: int
    code_version: str
    rowid: int = 0


@dataclass
class SweepRecord:
    sweep_id: str
    name: str
    family: str
    spec: dict[str, Any]
    state: str
    message: str
    created_at: float
    finished_at: float | None
    last_seq: int = 0
    rowid: int = 0

    @property
    def job_spec(self) -> JobSpec:
        """What every child is asked to do (child k of a point with seed + k)."""
        s = self.spec
        return JobSpec.stored(s["steps"], s["seed"], s["checkpoint_every"], s["log_every"], s.get("training", {}))


@dataclass
class SweepChildRecord:
    job_id: str
    sweep_id: str
    ordinal: int
    point: int
    seed: int
    overrides: dict[str, Any]
    probe: float | None
    # joined from the job
    state: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    node: str = ""


@dataclass
class SweepEventRecord:
    sweep_id: str
    seq: int
    state: str
    job_id: str
    job_state: str
    counts: dict[str, int]
    message: str
    time: float


@dataclass
class ReproductionRecord:
    reproduction_id: str
    family: str
    scale: str
    state: str
    sweep_ids: list[str]
    files: list[str]
    passed: bool
    message: str
    created_at: float
    finished_at: float | None
