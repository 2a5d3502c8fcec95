"""Acceptance: `probe-cli reproduce factual-recall --scale small` end to end (`make reproduce-check`)."""

import json
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image
import pytest

BIN = Path(sys.executable).parent
BUDGET_S = 20 * 60

pytestmark = pytest.mark.slow


def test_small_reproduction_writes_a_report_that_reproduces_the_headlines(server, tmp_path):
    out = tmp_path / "report"
    start = time.monotonic()
    result = subprocess.run(
        [str(BIN / "probe-cli"), "--server", server.address, "reproduce", "factual-recall", "--scale", "small",
         "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=BUDGET_S + 300,
    )  # fmt: skip
    elapsed = time.monotonic() - start
    print(f"reproduce factual-recall --scale small took {elapsed:.0f} s")
    assert result.returncode == 0, result.stderr
    assert elapsed <= BUDGET_S, f"took {elapsed:.0f} s, the budget is {BUDGET_S} s"
    summary = json.loads((out / "summary.json").read_text())
    checks = {c["name"]: c for c in summary["checks"]}
    for name, check in checks.items():
        print(f"{'pass' if check['passed'] else 'FAIL'}  {name}: {check['measured']} (paper {check['reference']})")
    transformer = next(c for n, c in checks.items() if n.startswith("capacity-transformer"))
    assert 0.8 <= transformer["measured"] <= 1.2
    assert checks["sequential: plateau level within 10% of log D"]["passed"]
    assert summary["passed"], [name for name, c in checks.items() if not c["passed"]]
    figures = sorted(out.glob("*.png"))
    assert len(figures) >= 3
    for figure in figures:
        image = matplotlib.image.imread(figure)
        assert image.shape[0] > 300 and image.shape[1] > 400, figure.name
    readme = (out / "README.md").read_text()
    assert all(f.name in readme for f in figures)
