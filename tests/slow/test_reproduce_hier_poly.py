"""Acceptance: `probe-cli reproduce hier-poly --scale small`: feature correlation against n, transfer, r = 2 span,
and the sample thresholds of a degree-3 feature (sphere) and of a quadratic one under Gaussian inputs against d, as
fitted exponents."""

import pytest

from tests.slow.reproduce import check_figures

pytestmark = pytest.mark.slow
REPRODUCED = "hier-poly"


def test_small_reproduction_learns_p_at_every_d_and_transfer_beats_scratch(reproductions):
    out = reproductions.out(REPRODUCED)
    summary = reproductions.summary(REPRODUCED)
    for dim, curve in summary["measurements"]["feature_correlation"].items():
        top = max(curve, key=int)
        assert curve[top] >= 0.9, (dim, curve)
    angles = summary["measurements"]["span_angle_max"]
    assert angles[max(angles, key=int)] < 20.0, angles  # r = 2: the learned span is span{A1, A2}
    transfer = summary["measurements"]["transfer"]
    assert transfer["transfer"] < transfer["scratch"]
    cubic = summary["measurements"]["cubic_thresholds"]
    print(f"degree-3 p: thresholds {cubic['by_dim']}, exponent {cubic.get('slope')} {cubic.get('slope_interval')} "
          "(theory 3, kernel 6)")  # fmt: skip
    assert abs(cubic["slope"] - 3) <= 1 and cubic["slope_interval"][1] < 6
    gaussian = summary["measurements"]["gaussian_thresholds"]
    print(f"quadratic p, Gaussian inputs: thresholds {gaussian['by_dim']}, exponent {gaussian.get('slope')} "
          f"{gaussian.get('slope_interval')} (theory 2, kernel 4)")  # fmt: skip
    assert gaussian["slope"] > 0 and gaussian["slope_interval"][1] < 4  # the kernel's d^4; see the docs page
    assert summary["passed"], [c["name"] for c in summary["checks"] if not c["passed"]]
    assert [f.name for f in check_figures(out)] == ["hier_poly.png"]
