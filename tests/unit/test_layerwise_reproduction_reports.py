"""The three-layer and hier-poly analyses on known outcomes: what passes, what fails, and what is reported."""

from probe_models.families.hier_poly.reproduce import HierPolyReproduction
from probe_models.families.three_layer.reproduce import ThreeLayerReproduction
from probe_models.registry import FAMILIES, REPRODUCTIONS
from probe_models.reproduction import SCALES, ChildResult, SearchOutcome, SweepResult


def sweep(plan, metrics_of) -> SweepResult:
    values = plan.grid["samples"]
    children = [ChildResult({"samples": n}, 0, "SUCCEEDED", metrics_of(n), []) for n in values]
    return SweepResult(plan, "SUCCEEDED", children, [])


def threshold_search(plan, exponent: float, scale: float = 20.0) -> SweepResult:
    """A bisection's outcome when the threshold is scale·d^exponent (bracketed within 10%, or past the range)."""
    threshold = scale * plan.base_config["dim"] ** exponent
    if threshold > plan.search.high:
        return SweepResult(plan, "SUCCEEDED", [], [SearchOutcome({}, plan.search.high, None)])
    return SweepResult(plan, "SUCCEEDED", [], [SearchOutcome({}, int(threshold / 1.1), int(threshold * 1.1))])


def three_layer_results(
    three_layer_error: float, correlation: float, exponent: float = 2.0, kernel_error: float = 0.67
) -> dict[str, SweepResult]:
    errors = {"three-layer": three_layer_error, "two-layer": 0.65, "random-features": kernel_error}
    out = {}
    for plan in ThreeLayerReproduction().plan("small"):
        if plan.search is not None:
            out[plan.name] = threshold_search(plan, exponent)
            continue
        learner = plan.base_config["learner"]
        metrics = {"test_error": errors[learner], "feature_correlation": correlation}
        out[plan.name] = sweep(plan, lambda n, m=metrics: m)
    return out


def failed(results: dict[str, SweepResult]) -> set[str]:
    return {c["name"] for c in ThreeLayerReproduction().analyze("small", results).summary["checks"] if not c["passed"]}


def test_three_layer_passes_below_half_the_baselines_and_fails_above():
    report = ThreeLayerReproduction().analyze("small", three_layer_results(0.17, 0.97))
    assert report.summary["passed"], report.summary["checks"]
    assert "test_error.png" in report.figures and "| 32768 |" in report.readme
    assert failed(three_layer_results(0.4, 0.85)) == {  # 0.4 is not below half of 0.65, and 0.85 < 0.9
        "d=16, n=32768: three-layer error below half of two-layer's",
        "d=16, n=32768: three-layer error below half of random-features's",
        "d=16, n=32768: learned feature correlates with xᵀAx",
    }


def test_the_sample_threshold_is_fitted_as_a_rate_against_d():
    report = ThreeLayerReproduction().analyze("small", three_layer_results(0.17, 0.97, exponent=2.0))
    thresholds = report.summary["measurements"]["thresholds"]
    assert abs(thresholds["slope"] - 2.0) < 0.05
    low, high = thresholds["slope_interval"]
    assert low < 2.0 < high < 6.0
    assert set(thresholds["by_dim"]) == {"8", "12", "16", "24"}


def test_a_kernel_like_rate_or_a_kernel_below_the_level_fails():
    # d^7 leaves every threshold past n = 16,384 but d = 8's: nothing to fit, and d = 16 never crossed
    assert failed(three_layer_results(0.17, 0.97, exponent=7.0)) == {
        "three-layer sample threshold (test error < 0.5) grows with d at a rate below the kernel's d^6",
        "d=16: the kernel is still above 0.5 at n=32768, past the network's threshold",
    }
    assert failed(three_layer_results(0.17, 0.97, kernel_error=0.45)) == {
        "d=16: the kernel is still above 0.5 at n=32768, past the network's threshold"
    }


def hier_poly_results(
    correlation: float, transfer: float, scratch: float, angle: float, cubic_exponent: float = 3.0,
    gaussian_exponent: float = 2.0,
) -> dict[str, SweepResult]:  # fmt: skip
    out = {}
    for plan in HierPolyReproduction().plan("small"):
        if plan.name.startswith("gaussian-threshold"):
            out[plan.name] = threshold_search(plan, gaussian_exponent, scale=7.0)
            continue
        if plan.search is not None:
            out[plan.name] = threshold_search(plan, cubic_exponent, scale=1.0)
            continue
        error = {"transfer": transfer, "scratch": scratch}.get(plan.name, 0.1)
        metrics = {"test_error": error, "feature_correlation": correlation, "span_angle_max": angle}
        out[plan.name] = sweep(plan, lambda n, m=metrics: m)
    return out


def test_hier_poly_checks_every_d_and_the_transfer():
    plans = {p.name: p for p in HierPolyReproduction().plan("small")}
    assert plans["transfer"].init_from == "transfer-source" and plans["transfer"].trainable == ("c", "c0")
    assert plans["transfer"].grid == plans["scratch"].grid == {"samples": [256]}
    assert plans["span-r2"].base_config["features"] == 2 and plans["span-r2"].steps == 301
    report = HierPolyReproduction().analyze("small", hier_poly_results(0.98, 0.12, 0.9, 4.5))
    assert report.summary["passed"], report.summary["checks"]
    assert len(report.summary["checks"]) == 7, "one per d, the transfer, the r = 2 span and the two rates"
    cubic = report.summary["measurements"]["cubic_thresholds"]
    assert abs(cubic["slope"] - 3.0) < 0.05 and set(cubic["by_dim"]) == {"8", "10", "12", "14", "16"}
    gaussian = report.summary["measurements"]["gaussian_thresholds"]
    assert abs(gaussian["slope"] - 2.0) < 0.05 and gaussian["slope_interval"][1] < 4.0
    assert set(gaussian["by_dim"]) == {"12", "16", "24", "32"}
    assert plans["gaussian-threshold-d24"].base_config["inputs"] == "gaussian"
    assert "n=4096: 4.5°" in report.readme and "Quadratic p, Gaussian inputs" in report.readme
    bad = HierPolyReproduction().analyze("small", hier_poly_results(0.8, 0.9, 0.5, 35.0, 1.5, 4.0)).summary["checks"]
    assert not any(c["passed"] for c in bad), "d^1.5 is not the degree-3 rate, nor d^4 (the kernel's) the quadratic's"


def test_every_plan_of_every_reproduction_is_a_sweep_the_server_accepts():
    """A sweep needs a grid axis or a search; a single point is a one-value axis. Every family has one."""
    assert set(REPRODUCTIONS) == set(FAMILIES)
    for name, reproduction in REPRODUCTIONS.items():
        for scale in SCALES:
            for plan in reproduction.plan(scale):
                assert plan.search is not None or (plan.grid and all(plan.grid.values())), (name, plan.name)
