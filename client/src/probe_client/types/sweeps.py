"""Sweeps, their children, events and search results, and reproductions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from google.protobuf import json_format

from probe_client.types.fields import config_dict, enum_value, optional_time, state_name
from probe_wire.v1 import (
    reproductions_pb2,
    sweeps_pb2,
)


def sweep_state_value(name: str) -> sweeps_pb2.SweepState:
    return cast("sweeps_pb2.SweepState", enum_value(sweeps_pb2.SweepState, "SWEEP_STATE_", "sweep state", name))


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
    node: str = ""


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
                SweepChild(
                    c.job_id, c.point, c.seed, config_dict(c.overrides), state_name(c.state), dict(c.metrics), c.node
                )
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
            base_config=config_dict(s.base_config),
            grid={a.key: [json_format.MessageToDict(v) for v in a.values] for a in s.grid},
            search=json_format.MessageToDict(s.search, preserving_proto_field_name=True)
            if s.HasField("search")
            else None,
            seeds=s.seeds,
            steps=s.steps,
            message=s.message,
            created_at=optional_time(s.created_at, s.HasField("created_at")),
            finished_at=optional_time(s.finished_at, s.HasField("finished_at")),
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


@dataclass
class ReproductionUpdate:
    """One version of a reproduction as WatchReproduction streams it; ``seq`` grows with every change."""

    seq: int
    reproduction: Reproduction

    @classmethod
    def from_proto(cls, u: reproductions_pb2.WatchReproductionResponse) -> "ReproductionUpdate":
        return cls(u.seq, Reproduction.from_proto(u.reproduction))
