"""Acceptance: `probe-cli reproduce causal-icl --scale small` end to end (`make reproduce-check`)."""

import pytest

from tests.slow.reproduce import check_figures, reproduce_small

pytestmark = pytest.mark.slow


def test_small_reproduction_recovers_the_chain_and_random_dags(server, tmp_path):
    out = tmp_path / "report"
    summary = reproduce_small(server, "causal-icl", out, budget_s=15 * 60)
    dags = summary["measurements"]["random_dags"]
    print(f"random DAGs: {dags['mean']:.3f} ± {dags['std']:.3f} over {dags['graphs']} graphs; paper {dags['paper']}")
    assert dags["graphs"] >= 5 and dags["mean"] >= 0.75
    chain = summary["measurements"]["chain"]
    assert chain["parent_accuracy"] >= 0.95 and chain["loss_over_bayes"] <= 1.10
    assert summary["passed"], [c["name"] for c in summary["checks"] if not c["passed"]]
    names = {f.name for f in check_figures(out)}
    assert names == {"chain_A1.png", "chain_A2.png", "chain_loss.png", "random_dags.png"}
    assert "0.837" in (out / "README.md").read_text()
