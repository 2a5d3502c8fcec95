"""Acceptance: `probe-cli reproduce causal-icl --scale small` end to end (`make reproduce-check`)."""

import pytest

from tests.slow.reproduce import check_figures

pytestmark = pytest.mark.slow
REPRODUCED = "causal-icl"


def test_small_reproduction_recovers_the_chain_and_random_dags(reproductions):
    out = reproductions.out(REPRODUCED)
    summary = reproductions.summary(REPRODUCED)
    dags = summary["measurements"]["random_dags"]
    print(f"random DAGs: {dags['mean']:.3f} ± {dags['std']:.3f} over {dags['graphs']} graphs; paper {dags['paper']}")
    assert dags["graphs"] >= 5 and dags["mean"] >= 0.75
    for name in ("chain", "chain-sgd"):  # Adam on S=10, T=20; the paper's SGD (lr 1, cosine) on S=5, T=10
        chain = summary["measurements"][name]
        assert chain["parent_accuracy"] >= 0.95 and chain["loss_over_bayes"] <= 1.10, (name, chain)
        assert chain["induction_score"] >= 0.5, (name, chain)
    assert summary["measurements"]["chain-sgd"]["config"]["optimizer"] == "sgd"
    assert summary["passed"], [c["name"] for c in summary["checks"] if not c["passed"]]
    names = {f.name for f in check_figures(out)}
    chains = {f"{name}_{part}.png" for name in ("chain", "chain-sgd") for part in ("A1", "A2", "loss")}
    assert names == chains | {"random_dags.png"}
    assert "0.837" in (out / "README.md").read_text()
