"""Acceptance: `probe-cli reproduce mezo --scale small`: lm-finetune's MeZO, zero-shot and backprop fine-tuning."""

import pytest

from tests.slow.reproduce import check_figures, reproduce_small

pytestmark = pytest.mark.slow


def test_small_reproduction_mezo_beats_zero_shot_and_icl_and_nears_backprop(server, tmp_path):
    out = tmp_path / "report"
    summary = reproduce_small(server, "mezo", out, budget_s=10 * 60)
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
