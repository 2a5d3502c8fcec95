"""Acceptance: `probe-cli reproduce single-index --scale small`: samples to weak recovery against d, k* = 3."""

import pytest

from tests.slow.reproduce import check_figures

pytestmark = pytest.mark.slow
REPRODUCED = "single-index"


def test_small_reproduction_smoothed_exponent_below_vanilla(reproductions):
    out = reproductions.out(REPRODUCED)
    summary = reproductions.summary(REPRODUCED)
    fits = summary["measurements"]["fits"]
    vanilla, smoothed = fits["vanilla-k3"], fits["smoothed-k3"]
    print(f"vanilla slope {vanilla.get('slope')} {vanilla.get('slope_interval')} (theory 2), "
          f"smoothed slope {smoothed.get('slope')} {smoothed.get('slope_interval')} (theory 1.5)")  # fmt: skip
    assert 1.6 <= vanilla["slope"] <= 2.4
    assert smoothed["slope_interval"][1] < vanilla["slope"]
    points = {int(d): p["median_steps"] for d, p in smoothed["points"].items()}
    baseline = {int(d): p["median_steps"] for d, p in vanilla["points"].items()}
    assert all(points[d] < baseline[d] for d in baseline)
    assert baseline[max(baseline)] >= 2 * points[max(baseline)]
    assert summary["passed"], [c["name"] for c in summary["checks"] if not c["passed"]]
    assert [f.name for f in check_figures(out)] == ["recovery.png"]
