"""MeZO at small scale: it trains factual recall and fine-tunes the LM by prompt, by loss or accuracy.

See docs/families/lm-finetune.md.
"""

import pytest
import torch

from probe_models.config import parse_config
from probe_models.families.factual_recall import FactualRecall, FactualRecallConfig
from probe_models.families.lm_finetune import LMFinetune, LMFinetuneConfig
from probe_models.families.lm_finetune.family import style
from probe_models.families.lm_finetune.language import corpus_rule_accuracy
from probe_models.mezo import MezoConfig, MezoRun
from probe_models.training import advance
from tests.science.resume import restored_and_whole

FINETUNE = {"k_shot": 64, "batch_size": 128}


def test_mezo_trains_factual_recall():
    config = parse_config(
        FactualRecallConfig,
        {"model": "mlp-am", "num_subjects": 8, "num_relations": 4, "answers_per_relation": 4, "batch_size": 256},
    )
    run = FactualRecall().new_run(config, seed=0, steps=1000)
    trainer = MezoRun(run, parse_config(MezoConfig, {"lr": 0.03}), seed=0)
    losses = [trainer.train_step(step)["loss"] for step in range(1000)]
    assert sum(losses[-20:]) / 20 < 0.5 * losses[0], (losses[0], losses[-20:])
    assert run.evaluate()["fact_accuracy"] >= 0.8


@pytest.fixture(scope="module")
def pretrained() -> dict[str, torch.Tensor]:
    """The GPT after 1,000 pretraining steps on the synthetic corpus (about 30 s on 2 cores)."""
    config = parse_config(LMFinetuneConfig, {"mode": "pretrain", "lr": 3e-3})
    run = LMFinetune().new_run(config, seed=0, steps=1000)
    for step in range(1000):
        advance(run, step)
    return {k: v.clone() for k, v in run.model.state_dict().items()}


def finetune_run(pretrained: dict[str, torch.Tensor], steps: int, **overrides):
    config = parse_config(LMFinetuneConfig, {**FINETUNE, **overrides})
    run = LMFinetune().new_run(config, seed=0, steps=steps)
    run.model.load_state_dict(pretrained)
    return run


def test_pretraining_gives_zero_shot_above_chance_but_miscalibrated(pretrained):
    zero_shot = finetune_run(pretrained, 1).evaluate()["prompt_accuracy"]
    ceiling = corpus_rule_accuracy(style(parse_config(LMFinetuneConfig, {})))  # the writers' own label rule
    assert 0.57 <= zero_shot <= ceiling + 0.03, (zero_shot, ceiling)


@pytest.mark.parametrize("objective, eps, lr", [("loss", 1e-3, 3e-4), ("accuracy", 1e-2, 3e-4)])
def test_mezo_fine_tuning_raises_prompt_accuracy(pretrained, objective, eps, lr):
    run = finetune_run(pretrained, 300)
    zero_shot = run.evaluate()
    trainer = MezoRun(run, parse_config(MezoConfig, {"lr": lr, "eps": eps, "objective": objective}), seed=0)
    losses = [advance(trainer, step)["loss"] for step in range(300)]
    tuned = run.evaluate()
    assert tuned["prompt_accuracy"] >= zero_shot["prompt_accuracy"] + 0.1, (zero_shot, tuned)
    assert tuned["train_accuracy"] > zero_shot["train_accuracy"]
    if objective == "loss":
        assert sum(losses[-10:]) / 10 < 0.8 * losses[0]


def test_a_restored_lm_finetune_run_continues_exactly():
    config = parse_config(LMFinetuneConfig, {"mode": "pretrain", "n_layers": 1, "d_model": 16, "n_heads": 2})
    restored_and_whole(LMFinetune(), config, seed=1, steps=8, stop=3)
