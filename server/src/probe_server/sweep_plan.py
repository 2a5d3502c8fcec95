"""What a sweep runs: grid points, and the next probe of a search — pure functions of its children.

A search's state is never stored: it is replayed from the children in the
order they were created, so a restarted server continues exactly where the
old one stopped, and asking twice for the next probe gives the same answer.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from probe_models.states import JobState


@dataclass(frozen=True)
class SearchSpec:
    key: str
    low: float
    high: float
    metric: str
    threshold: float
    log_scale: bool
    resolution: float  # floats: the bracket's width (ratio when log_scale); integers: 0 exact, else as floats
    integer: bool


@dataclass
class ChildView:
    """What the search needs to know of one child."""

    probe: float
    state: str
    metrics: dict[str, float]


@dataclass
class SearchStatus:
    best: float | None  # the largest value that reached the threshold
    first_failure: float | None  # the smallest value that did not
    done: bool
    next_probe: float | None  # what to run now; None while a probe is still running, or when done
    probes: int
    error: str = ""


def grid_points(axes: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
    """Row-major product of the axes; no axes is one empty point."""
    keys = [key for key, _ in axes]
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(v for _, v in axes))]


def _bracket(spec: SearchSpec, good: float | None, bad: float | None) -> tuple[float, float]:
    if spec.integer:  # untested ends sit just outside the range, so low and high themselves get tested
        return (good if good is not None else spec.low - 1), (bad if bad is not None else spec.high + 1)
    return (good if good is not None else spec.low), (bad if bad is not None else spec.high)


def _converged(spec: SearchSpec, lower: float, upper: float) -> bool:
    if spec.integer:
        if upper - lower <= 1:
            return True
        if spec.resolution <= 0 or lower < max(spec.low, 1) or upper > spec.high:  # exact, or an end untested
            return False
        return upper / lower <= 1 + spec.resolution if spec.log_scale else upper - lower <= spec.resolution
    if spec.log_scale:
        return upper / lower <= 1 + spec.resolution
    return upper - lower <= spec.resolution


def _midpoint(spec: SearchSpec, lower: float, upper: float) -> float:
    geometric = math.sqrt(max(lower, 0.5 if spec.integer else lower) * upper)  # lower may be 0 for integers
    middle = geometric if spec.log_scale else (lower + upper) / 2
    if spec.integer:
        return float(min(max(round(middle), lower + 1), upper - 1))
    return middle


def search_status(spec: SearchSpec, children: list[ChildView]) -> SearchStatus:
    """Replay one grid point's probes in creation order; success is the mean metric over seeds."""
    good: float | None = None
    bad: float | None = None
    groups: dict[float, list[ChildView]] = {}
    for child in children:
        groups.setdefault(child.probe, []).append(child)
    for value, group in groups.items():
        if any(c.state in (JobState.FAILED, JobState.CANCELLED) for c in group):
            states = ", ".join(sorted({c.state for c in group}))
            return SearchStatus(good, bad, True, None, len(groups), f"a child at {spec.key}={value:g} ended {states}")
        if any(c.state != JobState.SUCCEEDED for c in group):
            return SearchStatus(good, bad, False, None, len(groups))
        missing = [c for c in group if spec.metric not in c.metrics]
        if missing:
            reported = ", ".join(sorted(missing[0].metrics)) or "nothing"
            message = f"children report no metric {spec.metric!r} (they report {reported})"
            return SearchStatus(good, bad, True, None, len(groups), message)
        mean = sum(c.metrics[spec.metric] for c in group) / len(group)
        if mean >= spec.threshold:
            good = value if good is None else max(good, value)
        else:
            bad = value if bad is None else min(bad, value)
    lower, upper = _bracket(spec, good, bad)
    if _converged(spec, lower, upper):
        return SearchStatus(good, bad, True, None, len(groups))
    return SearchStatus(good, bad, False, _midpoint(spec, lower, upper), len(groups))


def estimated_probes(spec: SearchSpec) -> int:
    """Probes a bisection needs to converge (the count of a search's children per point and seed).

    For integers this is the exact bisection's count, an upper bound when a resolution stops it earlier.
    """
    if spec.integer:
        candidates = spec.high - spec.low + 1
        if spec.log_scale and spec.low >= 1:
            return math.ceil(math.log2(math.log2(max(spec.high / spec.low, 2)) + 1)) + math.ceil(
                math.log2(candidates + 1)
            )
        return math.ceil(math.log2(candidates + 1))
    if spec.log_scale:
        candidates = math.log(spec.high / spec.low) / math.log1p(spec.resolution)
    else:
        candidates = (spec.high - spec.low) / spec.resolution
    return max(1, math.ceil(math.log2(candidates + 1)))
