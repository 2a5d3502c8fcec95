"""The single-index analysis on known scalings: the paper's step-size schedules, the best group per d, slopes
with bootstrap intervals, and the checks."""

import numpy as np
import pytest

from probe_models.families.single_index.reproduce import (
    LR_FACTORS,
    SETTINGS,
    SingleIndexReproduction,
    plan_name,
    schedule_lr,
)
from probe_models.reproduction import ChildResult, SweepResult

SEEDS = SETTINGS["small"]["seeds"]
EXPONENT_CHECK = "smoothed slope below vanilla's, its 95% interval excluding it (k*=3)"


def child(lr: float, medians: list[float]) -> ChildResult:
    """One job's metrics: group g's replicas spread evenly around medians[g]."""
    metrics = {"steps_completed": max(medians) * 1.3}
    for g, median in enumerate(medians):
        steps = median * np.linspace(0.7, 1.3, SEEDS)
        metrics.update({f"recovery_step_{g * SEEDS + j}": float(s) for j, s in enumerate(steps)})
    return ChildResult({"lr": lr}, 0, "SUCCEEDED", metrics, [])


def results(vanilla_exponent: float, smoothed_exponent: float, smoothed_factor: float = 0.2) -> dict:
    out = {}
    for plan in SingleIndexReproduction().plan("small"):
        method, dim = plan.base_config["method"], plan.base_config["dim"]
        base = 0.25 * dim**vanilla_exponent
        if method == "smoothed":
            base = smoothed_factor * 0.25 * 64**vanilla_exponent * (dim / 64) ** smoothed_exponent
        # the middle step size is best; the others take 50% longer
        out[plan.name] = SweepResult(plan, "SUCCEEDED", [child(plan.grid["lr"][0], [1.5 * base, base, 1.5 * base])], [])
    return out


def test_the_plan_centres_each_method_on_the_papers_schedule():
    plans = {p.name: p for p in SingleIndexReproduction().plan("small")}
    assert len(plans) == 8 and all(p.children == 1 for p in plans.values())
    # η ∝ d^{-k*/2} λ^{2k*-4}: vanilla (λ = 1) d^{-1.5}, smoothed (λ = d^{1/4}) d^{-1} at k* = 3
    assert schedule_lr("vanilla", 3, 256) == pytest.approx(schedule_lr("vanilla", 3, 64) / 8, rel=1e-3)
    assert schedule_lr("smoothed", 3, 256) == pytest.approx(schedule_lr("smoothed", 3, 64) / 4, rel=1e-3)
    assert schedule_lr("smoothed", 4, 256) == pytest.approx(schedule_lr("smoothed", 4, 64) / 4, rel=1e-3)
    assert schedule_lr("vanilla", 4, 128) == pytest.approx(schedule_lr("vanilla", 4, 64) / 4, rel=1e-3)
    plan = plans[plan_name("smoothed", 3, 128)]
    assert plan.grid == {"lr": [schedule_lr("smoothed", 3, 128)]} and plan.base_config["lr_factors"] == "0.5,1.0,2.0"
    assert plan.base_config["num_seeds"] == SEEDS


def test_quadratic_vanilla_and_a_smaller_smoothed_exponent_pass():
    report = SingleIndexReproduction().analyze("small", results(2.0, 1.5))
    assert report.summary["passed"], report.summary["checks"]
    fits = report.summary["measurements"]["fits"]
    assert fits["vanilla-k3"]["slope"] == pytest.approx(2.0, abs=1e-6)
    assert fits["smoothed-k3"]["slope"] == pytest.approx(1.5, abs=1e-6)
    low, high = fits["smoothed-k3"]["slope_interval"]
    assert low <= 1.5 <= high and high < 2.0
    assert fits["vanilla-k3"]["points"][64]["lr"] == pytest.approx(schedule_lr("vanilla", 3, 64) * LR_FACTORS[1])
    checks = {c["name"]: c for c in report.summary["checks"]}
    assert list(checks[EXPONENT_CHECK]["interval"]) == [low, high]
    assert "recovery.png" in report.readme


def test_a_wrong_slope_the_same_exponent_or_no_gain_fails():
    checks = SingleIndexReproduction().analyze("small", results(2.8, 1.5)).summary["checks"]
    assert [c["name"] for c in checks if not c["passed"]] == ["vanilla slope near k*-1 = 2"]
    # a constant-factor gain with the vanilla exponent: fewer samples everywhere, but not a better rate
    checks = SingleIndexReproduction().analyze("small", results(2.0, 2.0)).summary["checks"]
    assert [c["name"] for c in checks if not c["passed"]] == [EXPONENT_CHECK]
    checks = SingleIndexReproduction().analyze("small", results(2.0, 1.5, smoothed_factor=60.0)).summary["checks"]
    failed = {c["name"] for c in checks if not c["passed"]}
    assert failed == {"smoothed needs fewer samples at every d (k*=3)", "at least 2x fewer at the largest d (k*=3)"}
