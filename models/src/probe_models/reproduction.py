"""Paper reproductions: the sweeps a family's headline needs, and the analysis of their results.

A family's reproduction is data plus a function, both here in the science
layer: :meth:`Reproduction.plan` says which sweeps to run at a scale, and
:meth:`Reproduction.analyze` turns their results into a report (numbers with
the paper's beside them, verdicts, PNG figures, a README). The server runs the
sweeps as jobs and calls the analysis; it knows nothing of any paper.
"""

from __future__ import annotations

import io
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from probe_models.states import JobState

SCALES = ("small", "paper")


@dataclass(frozen=True)
class SearchPlan:
    key: str
    low: float
    high: float
    metric: str
    threshold: float
    log_scale: bool = False
    resolution: float = 0.0


@dataclass(frozen=True)
class SweepPlan:
    name: str
    base_config: dict[str, Any]
    grid: dict[str, list[Any]] = field(default_factory=dict)
    search: SearchPlan | None = None
    seeds: int = 1
    seed: int = 0
    steps: int = 0
    log_every: int = 0
    history: bool = False  # the analysis reads every progress event of every child
    weights: bool = False  # the analysis reads every child's final weights
    optimizer: str = ""  # every child trains with this optimizer instead of the family's own
    optimizer_config: dict[str, Any] = field(default_factory=dict)
    init_from: str = ""  # an earlier plan: its first child's final checkpoint starts every child of this one
    trainable: tuple[str, ...] = ()  # every child trains only these parameter groups (empty: all)

    @property
    def children(self) -> int:
        """Children of a grid plan (a search creates its own as it goes)."""
        return math.prod(len(v) for v in self.grid.values()) * self.seeds


@dataclass
class ChildResult:
    overrides: dict[str, Any]
    seed: int
    state: str
    metrics: dict[str, float]
    history: list[tuple[int, dict[str, float]]]  # (step, metrics) of each progress event
    weights: dict[str, Any] = field(default_factory=dict)  # name -> torch tensor, when the plan asks

    @property
    def succeeded(self) -> bool:
        return self.state == JobState.SUCCEEDED


@dataclass
class SearchOutcome:
    point: dict[str, Any]
    best: float | None
    first_failure: float | None


@dataclass
class SweepResult:
    plan: SweepPlan
    state: str
    children: list[ChildResult]
    searches: list[SearchOutcome]


@dataclass
class Check:
    """One verdict of a reproduction: what we measured, what the paper says, and whether they agree."""

    name: str
    measured: float | None
    reference: str  # the paper's statement (and its number, where it gives one)
    passed: bool
    detail: str
    interval: tuple[float, float] | None = None  # where ``measured`` is a fit: its 95% interval


@dataclass
class Report:
    summary: dict[str, Any]  # JSON-able
    figures: dict[str, bytes]  # file name -> PNG
    readme: str


class Reproduction(ABC):
    """A family's headline experiments."""

    paper: str

    @abstractmethod
    def plan(self, scale: str) -> list[SweepPlan]:
        """The sweeps to run at ``scale`` ("small": 1 to 6 minutes on 2 CPU cores; "paper": a GPU box)."""

    @abstractmethod
    def analyze(self, scale: str, results: dict[str, SweepResult]) -> Report:
        """The report, from the results of :meth:`plan`'s sweeps by name."""


def fit_loglog(x: list[float], y: list[float]) -> tuple[float, float]:
    """Least-squares slope and intercept of log y against log x."""
    slope, intercept = np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)
    return float(slope), float(intercept)


def fit_loglog_interval(x: list[float], y: list[float], level: float = 0.95) -> tuple[float, tuple[float, float]]:
    """The least-squares slope of log y against log x and its ``level`` t-interval (needs 3 points or more)."""
    from scipy import stats

    fit = stats.linregress(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)))
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 2)) * fit.stderr
    return float(fit.slope), (float(fit.slope - half), float(fit.slope + half))


def ratio_interval(x: list[float], y: list[float], level: float = 0.95) -> tuple[float, tuple[float, float]]:
    """The constant c of y = c·x fitted in log space (the geometric mean of y/x) and its ``level`` t-interval."""
    from scipy import stats

    logs = np.log(np.asarray(y, float) / np.asarray(x, float))
    half = float(stats.t.ppf(0.5 + level / 2, len(logs) - 1)) * float(logs.std(ddof=1)) / math.sqrt(len(logs))
    centre = float(logs.mean())
    return math.exp(centre), (math.exp(centre - half), math.exp(centre + half))


def number(value: float | None, spec: str) -> str:
    """``value`` formatted by ``spec``, or "n/a" when there is none."""
    return "n/a" if value is None else format(value, spec)


def png(figure: Any) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def pyplot() -> Any:
    """matplotlib's pyplot on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def summary_of(checks: list[Check], measurements: dict[str, Any], scale: str, paper: str) -> dict[str, Any]:
    return {
        "paper": paper,
        "scale": scale,
        "passed": all(c.passed for c in checks),
        "checks": [c.__dict__ for c in checks],
        "measurements": measurements,
    }
