"""Acceptance: `probe-cli reproduce mezo --scale small`: lm-finetune's MeZO, zero-shot and backprop fine-tuning."""

import pytest

from tests.slow.reproduce import check_figures

pytestmark = pytest.mark.slow
REPRODUCED = "mezo"


def test_small_reproduction_mezo_beats_zero_shot_and_icl_and_nears_backprop(reproductions):
    out = reproductions.out(REPRODUCED)
    summary = reproductions.summary(REPRODUCED)
    measured = summary["measurements"]
    accuracy, zero_shot = measured["prompt_accuracy"], measured["zero_shot_accuracy"]
    baselines = measured["baselines"]
    print(f"zero-shot {zero_shot}, {baselines}, {accuracy}, memory {measured['excess_memory_bytes']}")
    assert accuracy["mezo"] > baselines["icl_accuracy"] and baselines["icl_demonstrations"] >= 1
    assert accuracy["mezo"] >= zero_shot + 0.10
    assert accuracy["backprop"] - accuracy["mezo"] <= 0.05
    assert accuracy["mezo-accuracy"] >= zero_shot + 0.10
    assert summary["passed"], [c["name"] for c in summary["checks"] if not c["passed"]]
    assert [f.name for f in check_figures(out)] == ["finetuning.png"]
