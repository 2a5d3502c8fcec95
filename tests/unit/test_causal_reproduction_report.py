"""The causal-icl analysis on results of known shape: verdicts beside the paper's numbers, figures that open."""

import io

import matplotlib.image
import pytest
import torch

from probe_models.config import parse_config
from probe_models.families.causal_icl import CausalICLConfig
from probe_models.families.causal_icl.networks import build_network
from probe_models.families.causal_icl.reproduce import CausalICLReproduction
from probe_models.reproduction import ChildResult, SweepResult


def random_weights(plan) -> dict[str, torch.Tensor]:
    model = build_network(parse_config(CausalICLConfig, plan.base_config), 0)
    return {name: torch.randn_like(value) for name, value in model.state_dict().items()}


def results(dag_masses: list[float], parent_accuracy: float = 1.0) -> dict[str, SweepResult]:
    plans = {p.name: p for p in CausalICLReproduction().plan("small")}
    chain_metrics = {
        "parent_accuracy": parent_accuracy, "parent_mass": 0.95, "a1_parent_mass": 0.94, "induction_score": 0.8,
        "test_loss": 1.80, "bayes_loss": 1.75, "loss_over_bayes": 1.80 / 1.75,
    }  # fmt: skip
    history = [(s, {"test_loss": 2.3 - s / 1000, "bayes_loss": 1.75}) for s in range(100, 600, 100)]
    chains = {name: ChildResult({}, 0, "SUCCEEDED", chain_metrics, history, random_weights(plans[name]))
              for name in ("chain", "chain-sgd")}  # fmt: skip
    dags = [
        ChildResult({}, seed, "SUCCEEDED", {"a1_parent_mass": m, "parent_mass": m}, [])
        for seed, m in enumerate(dag_masses)
    ]
    return {
        **{name: SweepResult(plans[name], "SUCCEEDED", [child], []) for name, child in chains.items()},
        "random-dags": SweepResult(plans["random-dags"], "SUCCEEDED", dags, []),
    }


def test_a_reproduced_run_passes_and_prints_the_papers_number_beside_ours():
    report = CausalICLReproduction().analyze("small", results([0.9, 0.8, 0.85, 0.7, 0.95]))
    assert report.summary["passed"]
    dag = report.summary["measurements"]["random_dags"]
    assert dag["mean"] == pytest.approx(0.84) and dag["graphs"] == 5 and dag["paper"]["mean"] == 0.837
    check = next(c for c in report.summary["checks"] if c["name"].startswith("random DAGs"))
    assert "0.837" in check["reference"] and "0.840" in check["detail"]
    chains = {f"{name}_{part}.png" for name in ("chain", "chain-sgd") for part in ("A1", "A2", "loss")}
    assert set(report.figures) == chains | {"random_dags.png"}
    sgd = next(c for c in report.summary["checks"] if c["name"].startswith("chain-sgd: first layer"))
    assert sgd["detail"].startswith("sgd lr 1 (cosine), S=5, T=10"), "the paper's recipe, on the smaller chain"
    assert report.summary["measurements"]["chain"]["config"]["optimizer"] == "adam"
    for name, data in report.figures.items():
        image = matplotlib.image.imread(io.BytesIO(data), format="png")
        assert image.shape[0] > 200 and image.shape[1] > 300, name
        assert name in report.readme


@pytest.mark.parametrize(
    "masses, accuracy, failing",
    [
        ([0.6, 0.7, 0.65, 0.7, 0.72], 1.0, ["random DAGs: first-layer attention on the true parent"]),
        ([0.9, 0.9, 0.9, 0.9], 1.0, ["random DAGs: first-layer attention on the true parent"]),  # fewer than 5
        ([0.9] * 5, 0.8, [f"{name}: first layer attends to the previous position" for name in ("chain", "chain-sgd")]),
    ],
)
def test_a_run_short_of_the_claim_fails_that_check(masses, accuracy, failing):
    report = CausalICLReproduction().analyze("small", results(masses, accuracy))
    assert not report.summary["passed"]
    assert [c["name"] for c in report.summary["checks"] if not c["passed"]] == failing
