"""The MeZO reproduction's analysis on known results: margins over zero-shot, the gap to backprop, failures."""

import io

import matplotlib.image
import numpy as np
import pytest
import torch

from probe_models.config import parse_config
from probe_models.families.lm_finetune.baselines import icl_accuracy, linear_probe_accuracy
from probe_models.families.lm_finetune.config import LMFinetuneConfig
from probe_models.families.lm_finetune.family import build_model
from probe_models.families.lm_finetune.reproduce import SETTINGS, MezoReproduction, icl_check, plan_name
from probe_models.reproduction import ChildResult, SweepResult

UNTRAINED = build_model(parse_config(LMFinetuneConfig, {"mode": "pretrain"}), seed=0).state_dict()


def results(zero_shot: float, backprop: float, mezo: float, by_accuracy: float, spread: float = 0.0):
    """Every seed's sweeps; seed i's fine-tuned accuracies are the given ones + (i - 1) * spread (mean unchanged)."""
    plans = {plan.name: plan for plan in MezoReproduction().plan("small")}
    finals = {"pretrain": zero_shot, "backprop": backprop, "mezo": mezo, "mezo-accuracy": by_accuracy}
    memory = {"pretrain": 9e6, "backprop": 8e6, "mezo": 2e6, "mezo-accuracy": 2e6}
    out = {}
    for seed in range(SETTINGS["small"]["seeds"]):
        for run, accuracy in finals.items():
            if run != "pretrain":
                accuracy += (seed - 1) * spread
            name = plan_name(run, seed)
            steps = (10, 100)
            history = [(step, {"prompt_accuracy": zero_shot + (accuracy - zero_shot) * step / 100}) for step in steps]
            metrics = {"prompt_accuracy": accuracy, "excess_memory_bytes": memory[run]}
            weights = UNTRAINED if run == "pretrain" else {}
            child = ChildResult({"mode": plans[name].grid["mode"][0]}, seed, "SUCCEEDED", metrics, history, weights)
            out[name] = SweepResult(plans[name], "SUCCEEDED", [child], [])
    return out


def test_the_plan_fine_tunes_each_seeds_pretrained_checkpoint_with_each_optimizer():
    plans = {plan.name: plan for plan in MezoReproduction().plan("small")}
    assert len(plans) == 4 * SETTINGS["small"]["seeds"] >= 12, "three seeds or more, as the paper's means"
    for seed in range(SETTINGS["small"]["seeds"]):
        pretrain = plans[plan_name("pretrain", seed)]
        assert pretrain.init_from == "" and pretrain.base_config["mode"] == "pretrain" and pretrain.seed == seed
        tuned = [plans[plan_name(run, seed)] for run in ("backprop", "mezo", "mezo-accuracy")]
        assert all(p.init_from == pretrain.name and p.seed == seed for p in tuned)
        backprop, mezo, by_accuracy = tuned
        assert backprop.optimizer == "" and mezo.optimizer == "mezo"
        assert by_accuracy.optimizer_config["objective"] == "accuracy"
        assert mezo.steps >= 10 * backprop.steps, "MeZO gets many more steps, as in the paper"


def test_the_checks_read_the_mean_over_seeds():
    summary = MezoReproduction().analyze("small", results(0.62, 0.92, 0.90, 0.86, spread=0.06)).summary
    assert summary["passed"], summary["checks"]
    per_seed = summary["measurements"]["prompt_accuracy_per_seed"]["mezo"]
    assert per_seed == pytest.approx([0.84, 0.90, 0.96])
    assert summary["measurements"]["prompt_accuracy"]["mezo"] == pytest.approx(0.90)
    missing = results(0.62, 0.92, 0.90, 0.86)
    missing[plan_name("mezo", 2)] = SweepResult(missing[plan_name("mezo", 2)].plan, "FAILED", [], [])
    checks = MezoReproduction().analyze("small", missing).summary["checks"]
    assert not any(c["passed"] for c in checks if "MeZO beats" in c["name"] or "backprop" in c["name"]), checks


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


def test_icl_and_linear_probing_run_on_the_pretrained_weights():
    baselines = (
        MezoReproduction().analyze("small", results(0.62, 0.92, 0.90, 0.86)).summary["measurements"]["baselines"]
    )
    assert 1 <= baselines["icl_demonstrations"] <= 2, "a 32-token context holds one or two demonstrations"
    assert 0.3 < baselines["icl_accuracy"] < 0.7 and 0.3 < baselines["linear_probe_accuracy"] <= 1.0, baselines
    assert icl_check(0.90, baselines).passed and not icl_check(baselines["icl_accuracy"] - 0.01, baselines).passed
    missing = icl_check(0.90, {})
    assert not missing.passed and "did not run" in missing.detail


def test_icl_prepends_whole_demonstrations_that_fit_the_context_and_reads_the_last_token():
    seen = []

    class Recorder(torch.nn.Module):  # "great" (id 1) wins only at a row's last real token, if the row holds a 7
        def forward(self, ids):
            seen.append(ids.clone())
            logits = torch.zeros(*ids.shape, 3)
            last = (ids != 2).sum(dim=1) - 1
            rows = torch.arange(len(ids))
            logits[rows, last, 1] = (ids == 7).any(dim=1).float()
            logits[rows, last, 0] = 0.5
            return logits

    demos = [[5, 0, 9], [7, 1, 9], [5, 0, 9], [7, 1, 9], [5, 5, 5, 5, 0, 9]]
    accuracy, shots = icl_accuracy(Recorder(), demos, [0, 1, 0, 1, 0], [[4, 4], [4, 4, 4]], [1, 1], (0, 1), 9, 2, 0)
    rows = seen[0]
    assert shots == 2 and accuracy == 1.0
    flipped, _ = icl_accuracy(Recorder(), demos, [0, 1, 0, 1, 0], [[4, 4], [4, 4, 4]], [0, 0], (0, 1), 9, 2, 0)
    assert flipped == 0.0, "read anywhere but the last token, every logit is 0 and label 0 would win"
    for row, prompt in zip(rows, ([4, 4], [4, 4, 4]), strict=True):
        tokens = [t for t in row.tolist() if t != 2]
        assert len(tokens) <= 9 and tokens[-len(prompt) :] == prompt and 7 in tokens and 5 in tokens


def test_linear_probing_separates_separable_features():
    rng = np.random.default_rng(0)
    labels = rng.integers(2, size=200)
    features = rng.normal(size=(200, 8)) + 3.0 * labels[:, None]
    assert linear_probe_accuracy(features[:100], labels[:100], features[100:], labels[100:]) == 1.0


def test_a_failed_sweep_is_a_failed_check_not_a_crash():
    broken = results(0.62, 0.92, 0.90, 0.86)
    broken[plan_name("mezo", 0)] = SweepResult(broken[plan_name("mezo", 0)].plan, "FAILED", [], [])
    summary = MezoReproduction().analyze("small", broken).summary
    assert not summary["passed"] and "mezo-s0: FAILED" in summary["checks"][0]["detail"]
