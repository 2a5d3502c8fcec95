"""The MeZO reproduction's analysis on known results: margins over zero-shot, the gap to backprop, failures."""

import io

import matplotlib.image

from probe_models.families.lm_finetune.reproduce import MezoReproduction
from probe_models.reproduction import ChildResult, SweepResult


def results(zero_shot: float, backprop: float, mezo: float, by_accuracy: float) -> dict[str, SweepResult]:
    plans = {plan.name: plan for plan in MezoReproduction().plan("small")}
    finals = {"pretrain": zero_shot, "backprop": backprop, "mezo": mezo, "mezo-accuracy": by_accuracy}
    memory = {"pretrain": 9e6, "backprop": 8e6, "mezo": 2e6, "mezo-accuracy": 2e6}
    out = {}
    for name, accuracy in finals.items():
        history = [(step, {"prompt_accuracy": zero_shot + (accuracy - zero_shot) * step / 100}) for step in (10, 100)]
        metrics = {"prompt_accuracy": accuracy, "excess_memory_bytes": memory[name]}
        child = ChildResult({"mode": plans[name].grid["mode"][0]}, 0, "SUCCEEDED", metrics, history)
        out[name] = SweepResult(plans[name], "SUCCEEDED", [child], [])
    return out


def test_the_plan_fine_tunes_from_the_pretrained_checkpoint_with_each_optimizer():
    plans = {plan.name: plan for plan in MezoReproduction().plan("small")}
    assert plans["pretrain"].init_from == "" and plans["pretrain"].base_config["mode"] == "pretrain"
    assert all(plans[name].init_from == "pretrain" for name in ("backprop", "mezo", "mezo-accuracy"))
    assert plans["backprop"].optimizer == "" and plans["mezo"].optimizer == "mezo"
    assert plans["mezo-accuracy"].optimizer_config["objective"] == "accuracy"
    assert plans["mezo"].steps >= 10 * plans["backprop"].steps, "MeZO gets many more steps, as in the paper"


def test_mezo_near_backprop_and_well_above_zero_shot_passes():
    report = MezoReproduction().analyze("small", results(0.62, 0.92, 0.90, 0.86))
    assert report.summary["passed"], report.summary["checks"]
    assert report.summary["measurements"]["backprop_over_mezo_memory"] == 4.0
    image = matplotlib.image.imread(io.BytesIO(report.figures["finetuning.png"]), format="png")
    assert image.shape[0] > 300
    assert "finetuning.png" in report.readme and "| mezo | 90.0% |" in report.readme


def test_each_shortfall_fails_its_own_check():
    cases = {
        "MeZO beats zero-shot": (0.62, 0.66, 0.65, 0.80),
        "MeZO within 5 points of backprop": (0.62, 0.95, 0.85, 0.80),
        "MeZO on accuracy (no gradient) beats zero-shot": (0.62, 0.92, 0.90, 0.65),
    }
    for name, numbers in cases.items():
        checks = MezoReproduction().analyze("small", results(*numbers)).summary["checks"]
        assert [c["name"] for c in checks if not c["passed"]] == [name], (name, checks)


def test_a_failed_sweep_is_a_failed_check_not_a_crash():
    broken = results(0.62, 0.92, 0.90, 0.86)
    broken["mezo"] = SweepResult(broken["mezo"].plan, "FAILED", [], [])
    summary = MezoReproduction().analyze("small", broken).summary
    assert not summary["passed"] and "mezo: FAILED" in summary["checks"][0]["detail"]
