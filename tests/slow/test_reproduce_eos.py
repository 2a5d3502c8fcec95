"""Acceptance: `probe-cli reproduce eos --scale small` end to end (`make reproduce-check`)."""

import pytest

from tests.slow.reproduce import check_figures

pytestmark = pytest.mark.slow
REPRODUCED = "eos"


def test_small_reproduction_shows_the_edge_of_stability_for_each_step_size(reproductions):
    out = reproductions.out(REPRODUCED)
    summary = reproductions.summary(REPRODUCED)
    runs = summary["measurements"]["runs"]
    assert len(runs) >= 2
    for run in runs:
        assert run["arrival_step"] is not None, run
        assert run["max_deviation"] <= 0.10 and run["final_loss"] < run["loss_before_arrival"], run
    assert summary["passed"], [c["name"] for c in summary["checks"] if not c["passed"]]
    assert [f.name for f in check_figures(out)] == ["self_stabilization.png", "sharpness.png"]
    stabilization = summary["measurements"]["self_stabilization"]
    print(
        {k: stabilization[k] for k in ("search_steps", "sharpness_at_crossing", "threshold", "alpha", "beta", "delta")}
    )
