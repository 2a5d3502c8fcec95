"""Acceptance: `probe-cli reproduce depth-ushape --scale small`: test accuracy against depth, in 20 minutes."""

import pytest

from tests.slow.reproduce import check_figures

pytestmark = pytest.mark.slow
REPRODUCED = "depth-ushape"

U_SHAPE = ("every net reaches 100% training accuracy", "the best depth is interior", "the deepest net is below")


def test_small_reproduction_depth_ushape_finds_an_interior_best_depth_for_2_and_10_classes(reproductions):
    out = reproductions.out(REPRODUCED)
    summary = reproductions.summary(REPRODUCED)
    checks = {c["name"]: c for c in summary["checks"]}
    for task in ("2-classes", "10-classes"):
        for claim in U_SHAPE:
            (check,) = [c for name, c in checks.items() if name.startswith(task) and claim in name]
            assert check["passed"], check
        curve = {int(d): a for d, a in summary["measurements"]["test_accuracy"][task].items()}
        best = max(curve, key=curve.get)
        assert min(curve) < best < max(curve) and curve[max(curve)] <= curve[best] - 0.02, curve
        assert int(summary["measurements"]["best_depth"][task]) == best
    for name, check in checks.items():
        if name.startswith("linear CNTK"):
            assert check["passed"], check
    kernel = summary["measurements"]["linear_cntk"]["mean"]["norm"]
    assert kernel["2"] > kernel["128"] >= summary["measurements"]["linear_cntk"]["min_norm"], kernel
    trained = summary["measurements"]["trained_linear"]["operator_frobenius_norm"]
    assert len(trained) == 3 and all(v > 0 for v in trained.values()), trained
    assert [f.name for f in check_figures(out)] == ["linear_conv.png", "test_accuracy.png"]
