"""The three-layer network's sample threshold against d, as a rate (issue 16, item 5).

At each d a bisection over n (geometric midpoints, stopped when the bracket
is within a factor 1 + RESOLUTION) finds where the layer-wise network's test
error falls below THRESHOLD_LEVEL. The search's success is "error still ≥
the level", so its ``best`` is the largest n not yet learned and its
``first_failure`` the smallest n learned; the threshold is their geometric
mean. Its log-log slope against d, with a 95% t-interval, is the measured
exponent: the theory's is 2 for a quadratic feature (Wang, Nichani, Lee
2023 prove Õ(d²); this paper's bound is d⁴), and a kernel needs about
d^{2q} samples for g of degree q in the feature (6 for the default g).
"""

from __future__ import annotations

import math
from typing import Any

from probe_models.reproduction import Check, SearchPlan, SweepPlan, SweepResult, fit_loglog_interval, number

THRESHOLD_LEVEL = 0.5
RESOLUTION = 0.2
THEORY_EXPONENT = 2.0
KERNEL_EXPONENT = 6.0  # 2q with q = 3, the degree of the default g = 0.6 h1 + 0.8 h3
STAGES = 2  # a three-layer job is its stage-1 step and its stage-2 fit


def plan_name(dim: int) -> str:
    return f"threshold-d{dim}"


def threshold_plans(dims: list[int], seeds: int, samples: tuple[int, int], width_per_d2: int) -> list[SweepPlan]:
    low, high = samples
    search = SearchPlan("samples", low, high, "test_error", THRESHOLD_LEVEL, log_scale=True, resolution=RESOLUTION)
    return [
        SweepPlan(
            plan_name(dim),
            {"learner": "three-layer", "dim": dim, "num_seeds": seeds, "width1": width_per_d2 * dim * dim},
            search=search,
            steps=STAGES,
            log_every=STAGES,
        )
        for dim in dims
    ]


def threshold_at(result: SweepResult | None, samples: tuple[int, int]) -> dict[str, Any] | None:
    """The bracket (largest n not learned, smallest n learned) and its geometric mean; None when the search did
    not bracket the threshold inside ``samples``."""
    if result is None or not result.searches:
        return None
    outcome = result.searches[0]
    if outcome.best is None or outcome.first_failure is None:
        return {"estimate": math.nan, "low": outcome.best, "high": outcome.first_failure, "range": list(samples)}
    low, high = int(outcome.best), int(outcome.first_failure)
    return {"estimate": math.sqrt(low * high), "low": low, "high": high}


def threshold_checks(
    dims: list[int],
    samples: tuple[int, int],
    results: dict[str, SweepResult],
    kernel_errors: dict[int, dict[int, float]],
) -> tuple[list[Check], dict[str, Any]]:
    """The exponent check and the kernel-separation check, and the measurements behind them."""
    by_dim = {d: t for d in dims if (t := threshold_at(results.get(plan_name(d)), samples)) is not None}
    fitted = [d for d, t in by_dim.items() if math.isfinite(t["estimate"])]
    measurements: dict[str, Any] = {"level": THRESHOLD_LEVEL, "by_dim": {str(d): t for d, t in by_dim.items()},
                                    "theory_exponent": THEORY_EXPONENT, "kernel_exponent": KERNEL_EXPONENT}  # fmt: skip
    slope, interval = None, None
    if len(fitted) >= 3:
        slope, interval = fit_loglog_interval(fitted, [by_dim[d]["estimate"] for d in fitted])
        measurements.update(slope=slope, slope_interval=interval)
    checks = [
        Check(
            f"three-layer sample threshold (test error < {THRESHOLD_LEVEL}) grows with d at a rate below the "
            f"kernel's d^{KERNEL_EXPONENT:g}",
            slope,
            f"95% interval below {KERNEL_EXPONENT:g}; theory {THEORY_EXPONENT:g} (Õ(d²) for a quadratic feature)",
            interval is not None and interval[1] < KERNEL_EXPONENT and slope is not None and slope > 0,
            f"{len(fitted)} of {len(dims)} dims bracketed; slope {number(slope, '.2f')}",
            interval,
        )
    ]
    checks += [_kernel_check(d, by_dim.get(d), errors) for d, errors in kernel_errors.items() if errors]
    return checks, measurements


def _kernel_check(dim: int, threshold: dict[str, Any] | None, errors: dict[int, float]) -> Check:
    """Where the three-layer network has crossed the level, the kernel is still above it at many more samples."""
    top = max(errors)
    crossed = threshold is not None and threshold["high"] is not None and threshold["high"] < top
    kernel = errors[top]
    return Check(
        f"d={dim}: the kernel is still above {THRESHOLD_LEVEL} at n={top}, past the three-layer threshold",
        kernel,
        f"> {THRESHOLD_LEVEL} (a kernel needs about d^{KERNEL_EXPONENT:g} samples)",
        crossed and kernel > THRESHOLD_LEVEL,
        f"three-layer crossed by n={threshold['high'] if threshold else None}; kernel error {kernel:.3f}",
    )
