"""The factual-recall analysis on results of known shape: numbers, verdicts, figures that open."""

import io
import json
import math

import matplotlib.image
import numpy as np

from probe_models.families.factual_recall.reproduce import FactualRecallReproduction, find_plateau
from probe_models.reproduction import ChildResult, SearchOutcome, SweepResult, fit_loglog


def synthetic_results(plateau_level: float) -> dict[str, SweepResult]:
    plans = {p.name: p for p in FactualRecallReproduction().plan("small")}
    results = {}
    transformer = plans["capacity-transformer"]
    base, relations = transformer.base_config, transformer.base_config["num_relations"]
    outcomes = []
    for d in transformer.grid["d_model"]:
        for m in transformer.grid["mlp_width"]:
            params = 4 * base["num_heads"] * base["head_dim"] * d + 2 * m * d
            outcomes.append(SearchOutcome({"d_model": d, "mlp_width": m}, 0.04 * params / relations, None))
    results["capacity-transformer"] = SweepResult(transformer, "SUCCEEDED", [], outcomes)  # facts = 0.04 × params
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
