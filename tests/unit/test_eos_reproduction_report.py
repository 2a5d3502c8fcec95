"""The eos analysis on traces of known shape: arrival, the ±10% band, a falling non-monotone loss."""

import io

import matplotlib.image
import pytest

from probe_models.families.eos.reproduce import EOSReproduction, analyze_trace, edge_checks
from probe_models.reproduction import ChildResult, SweepResult


def history(lr: float, overshoot: float, steps: int = 3000) -> list[tuple[int, dict[str, float]]]:
    """S rises linearly to 2/η by step 1000, then oscillates with the given relative amplitude."""
    threshold, out = 2 / lr, []
    for step in range(20, steps + 1, 20):
        if step <= 1000:
            s = threshold * (0.4 + 0.6 * step / 1000)
        else:
            s = threshold * (1 + overshoot * (1 if (step // 20) % 2 else -1))
        loss = 0.1 * (1 - step / (2 * steps)) * (1.05 if (step // 20) % 3 == 0 else 1.0)
        out.append((step, {"sharpness": s, "loss": loss}))
    return out


def results(overshoot: float) -> dict[str, SweepResult]:
    plan, probe = EOSReproduction().plan("small")
    children = [ChildResult({"lr": lr}, 0, "SUCCEEDED", {}, history(lr, overshoot)) for lr in plan.grid["lr"]]
    return {
        "edge-of-stability": SweepResult(plan, "SUCCEEDED", children, []),
        "self-stabilization": SweepResult(probe, "FAILED", [], []),
    }


def test_a_trace_at_the_edge_passes_every_check():
    report = EOSReproduction().analyze("small", results(overshoot=0.04))
    failed = [c["name"] for c in report.summary["checks"] if not c["passed"]]
    assert failed == ["self-stabilization"], "only the probe, which needs the run's weights, is missing here"
    runs = report.summary["measurements"]["runs"]
    assert [r["arrival_step"] for r in runs] == [920, 920]
    assert all(r["max_deviation"] == pytest.approx(0.05, abs=0.02) and r["loss_increases"] > 0 for r in runs)
    image = matplotlib.image.imread(io.BytesIO(report.figures["sharpness.png"]), format="png")
    assert image.shape[0] > 300 and image.shape[1] > 400


def test_an_overshoot_past_ten_percent_fails_the_band_check():
    report = EOSReproduction().analyze("small", results(overshoot=0.15))
    failed = [c["name"] for c in report.summary["checks"] if not c["passed"] and c["name"] != "self-stabilization"]
    assert failed and all("stays at the edge" in name for name in failed)


def test_a_run_that_never_sharpens_fails():
    flat = [(s, {"sharpness": 3.0, "loss": 0.1}) for s in range(20, 3001, 20)]
    assert analyze_trace(0.1, flat)["arrival_step"] is None


def spiky(last: float, final_level: float) -> list[tuple[int, dict[str, float]]]:
    """S reaches 2/η = 10 at step 1000; the loss is 0.1 before, ``final_level`` later, ``last`` at the last step."""
    out = []
    for step in range(20, 3001, 20):
        s = 10.0 * min(1.0, 0.4 + 0.6 * step / 1000)
        loss = 0.1 if step <= 1000 else final_level * (1.1 if (step // 20) % 2 else 1.0)
        out.append((step, {"sharpness": s, "loss": last if step == 3000 else loss}))
    return out


def test_the_loss_is_judged_by_window_means_not_by_its_last_point():
    """A spike at the last step does not fail a falling loss; a low last point does not pass a loss that rose."""
    falling = edge_checks(analyze_trace(0.2, spiky(last=0.5, final_level=0.05)))[2]
    assert falling.passed and falling.measured == pytest.approx((5 * 0.055 + 4 * 0.05 + 0.5) / 10), falling.detail
    rising = edge_checks(analyze_trace(0.2, spiky(last=0.01, final_level=0.2)))[2]
    assert not rising.passed, rising.detail
