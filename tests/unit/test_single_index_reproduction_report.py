"""The single-index analysis on known scalings: best η per d, slopes with intervals, the checks."""

import numpy as np
import pytest

from probe_models.families.single_index.reproduce import SingleIndexReproduction, plan_name, step_sizes
from probe_models.reproduction import ChildResult, SweepResult

SEEDS = 8


def child(lr: float, median: float) -> ChildResult:
    steps = median * np.linspace(0.7, 1.3, SEEDS)
    metrics = {"recovery_step_median": float(np.median(steps)), "steps_completed": float(steps.max())}
    metrics.update({f"recovery_step_{k}": float(s) for k, s in enumerate(steps)})
    return ChildResult({"lr": lr}, 0, "SUCCEEDED", metrics, [])


def results(vanilla_exponent: float, smoothed_factor: float) -> dict[str, SweepResult]:
    out = {}
    for plan in SingleIndexReproduction().plan("small"):
        method, dim = plan.base_config["method"], plan.base_config["dim"]
        base = 0.25 * dim**vanilla_exponent if method == "vanilla" else smoothed_factor * 0.25 * dim**1.5
        lrs = plan.grid["lr"]
        # the middle step size is best; the others take 50% longer
        children = [child(lr, base * (1.0 if i == 1 else 1.5)) for i, lr in enumerate(lrs)]
        out[plan.name] = SweepResult(plan, "SUCCEEDED", children, [])
    return out


def test_the_plan_tunes_eta_per_d_around_a_d_scaled_centre():
    assert step_sizes("vanilla", 64) == [0.005, 0.01, 0.02]
    assert step_sizes("vanilla", 256)[1] == pytest.approx(0.01 / 8, rel=1e-3)
    names = [p.name for p in SingleIndexReproduction().plan("small")]
    assert plan_name("smoothed", 3, 256) in names and len(names) == 8


def test_quadratic_vanilla_and_a_smoothing_gain_pass():
    report = SingleIndexReproduction().analyze("small", results(2.0, 0.2))
    assert report.summary["passed"], report.summary["checks"]
    fit = report.summary["measurements"]["fits"]["vanilla-k3"]
    assert fit["slope"] == pytest.approx(2.0, abs=1e-6)
    low, high = fit["slope_interval"]
    assert low <= 2.0 <= high and high - low < 0.5
    assert fit["points"][64]["lr"] == step_sizes("vanilla", 64)[1]
    assert "recovery.png" in report.readme


def test_a_wrong_slope_or_no_smoothing_gain_fails():
    checks = SingleIndexReproduction().analyze("small", results(2.8, 0.2)).summary["checks"]
    assert [c["name"] for c in checks if not c["passed"]] == ["vanilla slope near k*-1 = 2"]
    checks = SingleIndexReproduction().analyze("small", results(2.0, 60.0)).summary["checks"]
    failed = {c["name"] for c in checks if not c["passed"]}
    assert failed == {
        "smoothed needs fewer samples at every d >= 64 (k*=3)",
        "at least 2x fewer at the largest d (k*=3)",
    }
