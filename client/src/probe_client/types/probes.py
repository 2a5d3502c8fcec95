"""Results of the probe RPCs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from probe_wire.v1 import (
    probes_pb2,
)


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
