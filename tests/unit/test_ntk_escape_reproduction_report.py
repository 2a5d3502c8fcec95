"""The ntk-escape analysis on known outcomes: both regimes, the paper's experiment as configured, verdicts."""

from probe_models.config import parse_config
from probe_models.families.ntk_escape import NTKEscapeConfig
from probe_models.families.ntk_escape.reproduce import NTKEscapeReproduction
from probe_models.reproduction import ChildResult, SweepResult


def results(errors: dict[str, float]) -> dict[str, SweepResult]:
    """Every plan's children succeed with the given test error per learner name (the plan name's last part)."""
    out = {}
    for plan in NTKEscapeReproduction().plan("small"):
        learner = plan.name.removeprefix("paper-")
        children = [ChildResult({"samples": n}, seed, "SUCCEEDED", {"test_error": errors[learner],
                                "dense_captured": 1.0, "sparse_captured": 0.5}, [])
                    for n in plan.grid["samples"] for seed in range(plan.seeds)]  # fmt: skip
        out[plan.name] = SweepResult(plan, "SUCCEEDED", children, [])
    return out


def test_the_paper_regime_is_the_authors_experiment():
    plans = {p.name: p for p in NTKEscapeReproduction().plan("small")}
    paper = plans["paper-combined"]
    config = parse_config(NTKEscapeConfig, {**paper.base_config, "samples": paper.grid["samples"][0]})
    assert (config.target, config.inputs, config.activation, config.solver, config.lr) == (
        "he2-linear", "gaussian", "sigmoid-shifted", "gd", 1.0)  # fmt: skip
    assert config.samples == int(config.dim**1.5) and config.reg_r1 == 0.01 and config.directions == config.dim
    assert plans["paper-combined-randomized"].base_config["learner"] == "combined"
    assert plans["paper-combined-randomized"].base_config["reg_randomized"] > 0
    big = {p.name: p for p in NTKEscapeReproduction().plan("paper")}["paper-combined"]
    assert (big.base_config["dim"], big.base_config["width"], big.grid["samples"], big.steps) == (
        100, 10_000, [1000], 20_000)  # fmt: skip


def test_the_combined_model_must_beat_both_taylor_terms_in_both_regimes():
    good = {"ntk": 0.4, "quad-ntk": 0.6, "combined": 0.2, "combined-randomized": 0.25}
    report = NTKEscapeReproduction().analyze("small", results(good))
    assert report.summary["passed"] and len(report.summary["checks"]) == 2 + 4, report.summary["checks"]
    assert "## paper" in report.readme and "## sparse-product" in report.readme
    worse = NTKEscapeReproduction().analyze("small", results({**good, "combined": 0.5})).summary["checks"]
    failed = {c["name"] for c in worse if not c["passed"]}
    assert failed == {"sparse-product, n=4096: combined test error below ntk's",
                      "paper, n=181: combined test error below ntk's"}  # fmt: skip
