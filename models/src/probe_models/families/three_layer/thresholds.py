"""A layer-wise network's sample threshold against d, as a rate (three-layer and hier-poly; issue 16, item 5).

At each d a bisection over n (geometric midpoints, stopped when the bracket
is within a factor 1 + RESOLUTION) finds where the network's test error
falls below THRESHOLD_LEVEL. The search's success is "error still ≥ the
level", so its ``best`` is the largest n not yet learned and its
``first_failure`` the smallest n learned; the threshold is their geometric
mean. Its log-log slope against d, with a 95% t-interval, is the measured
exponent, set beside the theory's (d² for a quadratic feature, d^k for a
degree-k one) and the kernel's (about d^{kq} for g of degree q in p).
"""

from __future__ import annotations

import math
from typing import Any

from probe_models.reproduction import Check, SearchPlan, SweepPlan, SweepResult, fit_loglog_interval, number

THRESHOLD_LEVEL = 0.5
RESOLUTION = 0.2
STAGES = 2  # a layer-wise job is its stage-1 step and its stage-2 fit


def plan_name(dim: int, prefix: str = "threshold") -> str:
    return f"{prefix}-d{dim}"


def threshold_plans(
    bases: dict[int, dict[str, Any]], samples: tuple[int, int], prefix: str = "threshold"
) -> list[SweepPlan]:
    """One bisection over n per d (bases: d -> the job's config without n); ``prefix`` names a series of them."""
    low, high = samples
    search = SearchPlan("samples", low, high, "test_error", THRESHOLD_LEVEL, log_scale=True, resolution=RESOLUTION)
    return [SweepPlan(plan_name(d, prefix), base, search=search, steps=STAGES, log_every=STAGES)
            for d, base in bases.items()]  # fmt: skip


def threshold_at(result: SweepResult | None, samples: tuple[int, int]) -> dict[str, Any] | None:
    """The bracket (largest n not learned, smallest n learned) and its geometric mean; the estimate is NaN when
    the search did not bracket the threshold inside ``samples``."""
    if result is None or not result.searches:
        return None
    outcome = result.searches[0]
    if outcome.best is None or outcome.first_failure is None:
        return {"estimate": math.nan, "low": outcome.best, "high": outcome.first_failure, "range": list(samples)}
    low, high = int(outcome.best), int(outcome.first_failure)
    return {"estimate": math.sqrt(low * high), "low": low, "high": high}


def fit_thresholds(
    dims: list[int], samples: tuple[int, int], results: dict[str, SweepResult], theory: float, kernel: float,
    prefix: str = "threshold",
) -> dict[str, Any]:  # fmt: skip
    """Each d's threshold and, from 3 bracketed d or more, the log-log slope with its 95% t-interval."""
    by_dim = {d: t for d in dims if (t := threshold_at(results.get(plan_name(d, prefix)), samples)) is not None}
    fitted = [d for d, t in by_dim.items() if math.isfinite(t["estimate"])]
    out: dict[str, Any] = {"level": THRESHOLD_LEVEL, "by_dim": {str(d): t for d, t in by_dim.items()},
                           "fitted_dims": fitted, "theory_exponent": theory, "kernel_exponent": kernel}  # fmt: skip
    if len(fitted) >= 3:
        slope, interval = fit_loglog_interval([float(d) for d in fitted], [by_dim[d]["estimate"] for d in fitted])
        out.update(slope=slope, slope_interval=interval)
    return out


def rate_check(name: str, fit: dict[str, Any], band: float | None = None) -> Check:
    """The threshold's exponent: its 95% interval below the kernel's, and (with ``band``) within ``band`` of the
    theory's."""
    slope, interval = fit.get("slope"), fit.get("slope_interval")
    theory, kernel = fit["theory_exponent"], fit["kernel_exponent"]
    passed = slope is not None and interval is not None and slope > 0 and interval[1] < kernel
    reference = f"95% interval below the kernel's {kernel:g}; theory {theory:g}"
    if band is not None:
        passed = passed and slope is not None and abs(slope - theory) <= band
        reference += f" (within {band:g})"
    detail = f"{len(fit['fitted_dims'])} dims bracketed; slope {number(slope, '.2f')}"
    return Check(name, slope, reference, passed, detail, interval)


def kernel_check(dim: int, threshold: dict[str, Any] | None, errors: dict[int, float]) -> Check:
    """Where the network has crossed the level, the kernel is still above it at many more samples."""
    top = max(errors)
    crossed = threshold is not None and threshold["high"] is not None and threshold["high"] < top
    kernel = errors[top]
    return Check(
        f"d={dim}: the kernel is still above {THRESHOLD_LEVEL} at n={top}, past the network's threshold",
        kernel,
        f"> {THRESHOLD_LEVEL}",
        crossed and kernel > THRESHOLD_LEVEL,
        f"the network crossed by n={threshold['high'] if threshold else None}; kernel error {kernel:.3f}",
    )


def interval_text(fit: dict[str, Any]) -> str:
    """The fitted exponent's 95% interval as text, or "n/a"."""
    bounds = fit.get("slope_interval")
    return "n/a" if bounds is None else f"{bounds[0]:.2f} to {bounds[1]:.2f}"
