"""The factual-recall analysis on results of known shape: numbers, verdicts, figures that open."""

import io
import itertools
import json
import math

import matplotlib.image
import numpy as np
import pytest

from probe_models.families.factual_recall.reproduce import FactualRecallReproduction, find_plateau
from probe_models.reproduction import (
    ChildResult,
    SearchOutcome,
    SweepResult,
    fit_loglog,
    fit_loglog_interval,
    ratio_interval,
)


def transformer_capacity(plan, facts_per_parameter: float, attention_counts: bool = True) -> SweepResult:
    """Searches that found facts = c × params (c × the MLP's parameters alone when attention does not count)."""
    base, outcomes = plan.base_config, []
    points = [dict(zip(plan.grid, values, strict=True)) for values in itertools.product(*plan.grid.values())]
    for point in points:
        config = {**base, **point}
        attention = 4 * config["num_heads"] * config["head_dim"] * config["d_model"]
        params = (attention if attention_counts else 128) + 2 * config["mlp_width"] * config["d_model"]
        outcomes.append(SearchOutcome(point, facts_per_parameter * params / config["num_relations"], None))
    return SweepResult(plan, "SUCCEEDED", [], outcomes)


def synthetic_results(plateau_level: float, attention_counts: bool = True) -> dict[str, SweepResult]:
    plans = {p.name: p for p in FactualRecallReproduction().plan("small")}
    results = {}
    results["capacity-transformer"] = transformer_capacity(plans["capacity-transformer"], 0.04)
    results["capacity-attention"] = transformer_capacity(plans["capacity-attention"], 0.04, attention_counts)
    dims = plans["capacity-linear-am"].grid["d_model"]
    results["capacity-linear-am"] = SweepResult(
        plans["capacity-linear-am"], "SUCCEEDED", [],
        [SearchOutcome({"d_model": d}, _n_log_n_inverse(d * d / 1.3), None) for d in dims],
    )  # fmt: skip
    widths = plans["capacity-mlp-am"].grid["mlp_width"]
    results["capacity-mlp-am"] = SweepResult(
        plans["capacity-mlp-am"], "SUCCEEDED", [],
        [SearchOutcome({"mlp_width": m}, _n_log_n_inverse(m * 16 / 0.35), None) for m in widths],
    )  # fmt: skip
    tradeoff = plans["tradeoff"]
    heads, widths = tradeoff.grid["num_heads"], tradeoff.grid["mlp_width"]
    children = [
        ChildResult({"num_heads": h, "mlp_width": m}, 0, "SUCCEEDED",
                    {"fact_accuracy": 1.0 if (h == max(heads) or m == max(widths)) else 0.5}, [])
        for h in heads for m in widths
    ]  # fmt: skip
    results["tradeoff"] = SweepResult(tradeoff, "SUCCEEDED", children, [])
    steps = list(range(25, 5501, 25))
    loss = [math.log(32) if s < 1000 else plateau_level if s < 3500 else 0.01 for s in steps]
    history = [
        (s, {"loss": v, "relation_only_loss": v, "subject_only_loss": 3.0}) for s, v in zip(steps, loss, strict=True)
    ]
    results["sequential"] = SweepResult(
        plans["sequential"], "SUCCEEDED", [ChildResult({"seq_len": 32}, 0, "SUCCEEDED", {"loss": 0.01}, history)], []
    )
    return results


def _n_log_n_inverse(target: float) -> int:
    n = 2
    while (n + 1) * math.log(n + 1) <= target:
        n += 1
    return n


def test_report_on_results_that_follow_the_paper_passes_every_check():
    report = FactualRecallReproduction().analyze("small", synthetic_results(plateau_level=math.log(8)))
    checks = {c["name"]: c for c in report.summary["checks"]}
    assert report.summary["passed"], [c for c in checks.values() if not c["passed"]]
    slope = checks["capacity-transformer: log-log slope of facts against parameters 4·H·d_h·d + 2·m·d"]["measured"]
    assert abs(slope - 1.0) < 0.05
    assert abs(report.summary["measurements"]["sequential"]["plateau"]["level"] - math.log(8)) < 1e-9
    json.dumps(report.summary)  # the summary is JSON
    assert set(report.figures) == {"capacity.png", "tradeoff.png", "sequential.png"}
    for name, data in report.figures.items():
        image = matplotlib.image.imread(io.BytesIO(data), format="png")
        assert image.shape[0] > 300 and image.shape[1] > 400, name
        assert name in report.readme


def test_the_constant_comes_with_its_interval_beside_the_paper_s():
    report = FactualRecallReproduction().analyze("small", synthetic_results(plateau_level=math.log(8)))
    checks = {c["name"]: c for c in report.summary["checks"]}
    constant = checks["capacity-transformer: the constant facts/parameters 4·H·d_h·d + 2·m·d"]
    assert abs(constant["measured"] - 0.04) < 1e-9
    assert constant["interval"][0] - 1e-12 <= 0.04 <= constant["interval"][1] + 1e-12
    assert "0.15" in constant["reference"] and constant["passed"]
    axis = report.summary["measurements"]["capacity-attention-axis"]
    assert axis["heads"] == [2, 4, 8] and abs(axis["slope"] - 1) < 0.3


def test_capacity_that_ignores_the_attention_width_fails_the_attention_check():
    report = FactualRecallReproduction().analyze("small", synthetic_results(math.log(8), attention_counts=False))
    failed = [c["name"] for c in report.summary["checks"] if not c["passed"]]
    assert failed == ["attention parameters count toward capacity (more heads at m=4)"], failed


def test_a_plateau_away_from_log_d_fails_its_check():
    report = FactualRecallReproduction().analyze("small", synthetic_results(plateau_level=1.2))
    checks = {c["name"]: c for c in report.summary["checks"]}
    assert not checks["sequential: plateau level within 10% of log D"]["passed"]
    assert not report.summary["passed"]
    assert "FAIL" in report.readme


def test_find_plateau_takes_the_longest_flat_stretch_after_the_start():
    steps = list(range(0, 100))
    loss = [3.0] * 20 + list(np.linspace(3.0, 2.0, 10)) + [2.0] * 40 + list(np.linspace(2.0, 0.1, 30))
    plateau = find_plateau(steps, loss, start_below=2.9)
    assert plateau["level"] == 2.0 and 29 <= plateau["start"] <= 31 and 68 <= plateau["end"] <= 70


def test_loglog_fit_recovers_a_power_law():
    x = [10.0, 100.0, 1000.0]
    slope, _ = fit_loglog(x, [3 * v**0.9 for v in x])
    assert abs(slope - 0.9) < 1e-9


def test_fit_intervals_match_the_textbook_formulas_on_noisy_data():
    x, y = [1.0, 2.0, 4.0, 8.0], [0.9, 2.3, 3.7, 8.6]
    lx, ly = np.log(x), np.log(y)
    slope = np.sum((lx - lx.mean()) * (ly - ly.mean())) / np.sum((lx - lx.mean()) ** 2)
    residuals = ly - ly.mean() - slope * (lx - lx.mean())
    stderr = math.sqrt(np.sum(residuals**2) / 2 / np.sum((lx - lx.mean()) ** 2))
    fitted, (low, high) = fit_loglog_interval(x, y)
    assert fitted == pytest.approx(slope) and high - fitted == pytest.approx(4.302652729911275 * stderr)
    assert low < 1 < high
    logs = np.log(np.array(y) / np.array(x))
    half = 3.182446305284263 * logs.std(ddof=1) / 2
    constant, (c_low, c_high) = ratio_interval(x, y)
    assert constant == pytest.approx(math.exp(logs.mean()))
    assert (c_low, c_high) == pytest.approx((math.exp(logs.mean() - half), math.exp(logs.mean() + half)))
