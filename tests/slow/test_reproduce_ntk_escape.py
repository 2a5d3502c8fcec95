"""Acceptance: `probe-cli reproduce ntk-escape --scale small`: test error against n, the paper's regime and ours."""

import pytest

from tests.slow.reproduce import check_figures

pytestmark = pytest.mark.slow
REPRODUCED = "ntk-escape"


def test_small_reproduction_ntk_escape_combined_beats_both_taylor_terms_in_both_regimes(reproductions):
    out = reproductions.out(REPRODUCED)
    summary = reproductions.summary(REPRODUCED)
    for regime, errors in summary["measurements"]["test_error"].items():
        top = str(max(int(n) for n in errors["combined"]))
        for other in ("ntk", "quad-ntk"):
            assert errors["combined"][top] < errors[other][top], (regime, errors)
    assert set(summary["measurements"]["test_error"]) == {"sparse-product", "paper"}
    assert summary["passed"], [c["name"] for c in summary["checks"] if not c["passed"]]
    assert [f.name for f in check_figures(out)] == ["test_error.png"]
