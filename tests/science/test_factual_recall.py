"""The qualitative claims of Nichani, Lee, Bietti (2024) at CPU scale (docs/families/factual-recall.md)."""

import math

import pytest
import torch

from probe_models.config import parse_config
from probe_models.families.factual_recall import FactualRecall, FactualRecallConfig
from probe_models.families.factual_recall.networks import paper_parameter_count
from probe_models.families.factual_recall.task import FactTask
from probe_models.seeding import generator
from tests.science.resume import restored_and_whole

FACTS_64 = {"num_subjects": 8, "num_relations": 8}


def train(overrides: dict, steps: int, seed: int = 0) -> tuple[list[float], dict[str, float], FactualRecallConfig]:
    config = parse_config(FactualRecallConfig, overrides)
    run = FactualRecall().new_run(config, seed, steps)
    losses = [run.train_step(step)["loss"] for step in range(steps)]
    return losses, run.evaluate(), config


def test_task_puts_subject_relation_and_eos_where_the_paper_does():
    config = parse_config(FactualRecallConfig, FACTS_64)
    task = FactTask(config, seed=0)
    batch = task.sample(512, generator(0, "test"))
    S, R = config.num_subjects, config.num_relations
    assert config.vocab_size == 2 * (S + R) + 1
    assert (batch.inputs[:, -1] == task.eos).all()
    body = batch.inputs[:, :-1]
    assert ((body < S).sum(dim=1) == 1).all(), "exactly one subject token per sequence"
    assert (((body >= S) & (body < S + R)).sum(dim=1) == 1).all(), "exactly one relation token per sequence"
    D = config.answers_per_relation
    assert ((batch.targets >= batch.relations * D) & (batch.targets < (batch.relations + 1) * D)).all()
    assert torch.equal(batch.targets, task.fact_table[batch.subjects, batch.relations])


def test_structured_facts_follow_the_sequential_learning_rule():
    config = parse_config(FactualRecallConfig, {"num_subjects": 16, "num_relations": 4, "fact_table": "structured"})
    table = FactTask(config, seed=0).fact_table
    assert table[5, 2] == 2 * 8 + (5 * 8) // 16


def test_transformer_with_enough_parameters_recalls_every_fact():
    _, metrics, config = train(FACTS_64, steps=300)
    assert paper_parameter_count(config) == 4 * 4 * 8 * 32 + 2 * 64 * 32
    assert metrics["fact_accuracy"] == 1.0


def test_transformer_with_far_too_few_parameters_cannot():
    tiny = {**FACTS_64, "d_model": 8, "num_heads": 1, "head_dim": 1, "mlp_width": 2}
    _, metrics, config = train(tiny, steps=300)
    assert paper_parameter_count(config) == 64  # the paper's line predicts about 0.15 * 64 ≈ 10 facts
    assert metrics["fact_accuracy"] < 0.5


def test_linear_associative_memory_with_d_squared_well_above_n_stores_n_facts():
    # N = 64 items, N log N ≈ 266, d² = 1024 ≈ 3.8 N log N (the paper's threshold is d² ≈ 1.3 N log N)
    memory = {**FACTS_64, "model": "linear-am", "am_target": "identity", "d_model": 32, "batch_size": 64}
    _, metrics, _ = train(memory, steps=300)
    assert metrics["fact_accuracy"] == 1.0


def test_linear_associative_memory_with_d_squared_far_below_n_cannot():
    memory = {"num_subjects": 32, "num_relations": 8, "model": "linear-am", "am_target": "identity", "d_model": 6}
    _, metrics, _ = train({**memory, "batch_size": 256}, steps=300)
    assert metrics["fact_accuracy"] < 0.5  # 256 items, d² = 36


def test_mlp_memory_stores_facts_when_width_times_d_is_large():
    memory = {**FACTS_64, "model": "mlp-am", "d_model": 16, "mlp_width": 64, "batch_size": 64}
    _, metrics, _ = train(memory, steps=300)
    assert metrics["fact_accuracy"] == 1.0


def test_sequential_learning_plateaus_near_log_d_before_converging():
    setup = {
        "model": "linear-attention",
        "num_subjects": 16,
        "num_relations": 4,
        "answers_per_relation": 8,
        "num_noise": 20,
        "fact_table": "structured",
        "optimizer": "gd",
        "lr": 0.1,
        "batch_size": 128,
    }
    losses, metrics, _ = train(setup, steps=5500)
    smoothed = [sum(losses[i : i + 100]) / 100 for i in range(0, len(losses) - 100, 100)]
    log_d = math.log(8)
    near_plateau = [abs(v - log_d) < 0.1 for v in smoothed]
    assert sum(near_plateau) >= 5, f"no plateau near log D = {log_d:.3f}: {smoothed}"
    first_plateau = near_plateau.index(True)
    assert smoothed[0] > log_d + 0.5, "starts above the plateau, near log(D·R)"
    assert min(smoothed[first_plateau:]) < 0.2 and metrics["fact_accuracy"] == 1.0, "then converges"


@pytest.mark.parametrize("model", ["transformer", "linear-am", "mlp-am", "linear-attention"])
def test_parameter_count_without_building_matches_the_built_model(model):
    family = FactualRecall()
    config = parse_config(FactualRecallConfig, {**FACTS_64, "model": model})
    module = family.load(config, 0, family.new_run(config, 0, 1).model.state_dict()).module
    built = sum(p.numel() for p in module.parameters()) + sum(b.numel() for b in module.buffers())
    assert family.parameter_count(config) == built


def test_lr_ladder_moves_to_the_next_rate_until_the_facts_are_learned():
    # 100 steps at 1e-3 do not learn 64 facts; the ladder restarts at 3e-3, then 1e-2
    config = parse_config(FactualRecallConfig, {**FACTS_64, "lr_ladder": True})
    run = FactualRecall().new_run(config, seed=0, steps=100)
    assert run.max_steps == 300
    rates, step = [], 0
    while step < run.max_steps and not run.finished:
        rates.append(run.train_step(step)["lr"])
        step += 1
    assert rates[0] == 1e-3 and rates[100] == 3e-3 and rates[200] == 1e-2
    assert run.finished and step == 300
    assert run.evaluate()["fact_accuracy"] == 1.0


def test_a_restored_run_continues_exactly_as_the_uninterrupted_one():
    config = parse_config(FactualRecallConfig, {**FACTS_64, "batch_size": 128})
    restored_and_whole(FactualRecall(), config, seed=4, steps=40, stop=25)
