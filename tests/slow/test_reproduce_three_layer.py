"""Acceptance: `probe-cli reproduce three-layer --scale small`: test error against n for the three learners, and
the three-layer sample threshold against d as a fitted exponent."""

import pytest

from tests.slow.reproduce import check_figures

pytestmark = pytest.mark.slow
REPRODUCED = "three-layer"


def test_small_reproduction_three_layer_beats_both_baselines_and_learns_the_quadratic_feature(reproductions):
    out = reproductions.out(REPRODUCED)
    summary = reproductions.summary(REPRODUCED)
    errors = summary["measurements"]["test_error"]["16"]
    top = max(int(n) for n in errors["three-layer"])
    three = errors["three-layer"][str(top)]
    for baseline in ("two-layer", "random-features"):
        assert three < 0.5 * errors[baseline][str(top)], (baseline, errors)
    assert summary["measurements"]["feature_correlation"]["16"][str(top)] >= 0.9
    thresholds = summary["measurements"]["thresholds"]
    print(f"threshold n by d {thresholds['by_dim']}, exponent {thresholds.get('slope')} "
          f"{thresholds.get('slope_interval')} (theory 2, kernel 6)")  # fmt: skip
    assert thresholds["slope_interval"][1] < 6
    assert summary["passed"], [c["name"] for c in summary["checks"] if not c["passed"]]
    assert [f.name for f in check_figures(out)] == ["test_error.png"]
