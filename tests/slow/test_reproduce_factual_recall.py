"""Acceptance: `probe-cli reproduce factual-recall --scale small` end to end (`make reproduce-check`)."""

import pytest

from tests.slow.reproduce import check_figures

pytestmark = pytest.mark.slow
REPRODUCED = "factual-recall"


def test_small_reproduction_writes_a_report_that_reproduces_the_headlines(reproductions):
    out = reproductions.out(REPRODUCED)
    summary = reproductions.summary(REPRODUCED)
    checks = {c["name"]: c for c in summary["checks"]}
    transformer = next(c for n, c in checks.items() if n.startswith("capacity-transformer"))
    assert 0.8 <= transformer["measured"] <= 1.2
    assert checks["sequential: plateau level within 10% of log D"]["passed"]
    assert summary["passed"], [name for name, c in checks.items() if not c["passed"]]
    assert len(check_figures(out)) >= 3
