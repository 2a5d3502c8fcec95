"""The three-layer and hier-poly analyses on known outcomes: what passes, what fails, and what is reported."""

from probe_models.families.hier_poly.reproduce import HierPolyReproduction
from probe_models.families.three_layer.reproduce import ThreeLayerReproduction
from probe_models.registry import FAMILIES
from probe_models.reproduction import SCALES, ChildResult, SweepResult


def sweep(plan, metrics_of) -> SweepResult:
    values = plan.grid["samples"]
    children = [ChildResult({"samples": n}, 0, "SUCCEEDED", metrics_of(n), []) for n in values]
    return SweepResult(plan, "SUCCEEDED", children, [])


def three_layer_results(three_layer_error: float, correlation: float) -> dict[str, SweepResult]:
    errors = {"three-layer": three_layer_error, "two-layer": 0.65, "random-features": 0.67}
    out = {}
    for plan in ThreeLayerReproduction().plan("small"):
        learner = plan.base_config["learner"]
        metrics = {"test_error": errors[learner], "feature_correlation": correlation}
        out[plan.name] = sweep(plan, lambda n, m=metrics: m)
    return out


def test_three_layer_passes_below_half_the_baselines_and_fails_above():
    report = ThreeLayerReproduction().analyze("small", three_layer_results(0.17, 0.97))
    assert report.summary["passed"], report.summary["checks"]
    assert "test_error.png" in report.figures and "| 32768 |" in report.readme
    checks = ThreeLayerReproduction().analyze("small", three_layer_results(0.4, 0.85)).summary["checks"]
    assert not any(c["passed"] for c in checks), "0.4 is not below half of 0.65, and 0.85 < 0.9"


def hier_poly_results(correlation: float, transfer: float, scratch: float, angle: float) -> dict[str, SweepResult]:
    out = {}
    for plan in HierPolyReproduction().plan("small"):
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
    assert len(report.summary["checks"]) == 5, "one per d, the transfer and the r = 2 span"
    assert "n=4096: 4.5°" in report.readme
    failed = HierPolyReproduction().analyze("small", hier_poly_results(0.8, 0.9, 0.5, 35.0)).summary["checks"]
    assert not any(c["passed"] for c in failed)


def test_every_plan_of_every_reproduction_is_a_sweep_the_server_accepts():
    """A sweep needs a grid axis or a search; a single point is a one-value axis."""
    for family in FAMILIES.values():
        if family.reproduction is None:
            continue
        for scale in SCALES:
            for plan in family.reproduction.plan(scale):
                assert plan.search is not None or (plan.grid and all(plan.grid.values())), (family.name, plan.name)
