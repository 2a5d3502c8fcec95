"""Serving's numpy query inputs keep the task's layout, and its stored answers are the task's fact table."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probe_models.config import parse_config
from probe_models.families.factual_recall import FactualRecall, FactualRecallConfig
from probe_models.families.factual_recall.family import fact_task


@pytest.mark.parametrize("model", ["transformer", "linear-am"])
def test_query_inputs_ask_for_each_fact_in_the_task_layout(model: str) -> None:
    config = parse_config(FactualRecallConfig, {"num_subjects": 16, "num_relations": 4, "model": model})
    family = FactualRecall()
    subjects = np.repeat(np.arange(16), 4)
    relations = np.tile(np.arange(4), 16)
    inputs = family.fact_inputs(config, 3, subjects, relations, noise_seed=7)
    task = fact_task(config, 3)
    expected = task.inputs_for(torch.from_numpy(subjects), torch.from_numpy(relations), torch.Generator())
    assert inputs.dtype == np.int64 and inputs.shape == tuple(expected.shape)
    if model == "linear-am":
        assert np.array_equal(inputs, expected.numpy())  # one item per fact: nothing random
    else:
        T, S = config.seq_len, config.num_subjects
        assert (inputs[:, T - 1] == task.eos).all()
        body = inputs[:, : T - 1]
        assert ((body == subjects[:, None]).sum(axis=1) == 1).all()  # the subject once
        assert ((body == S + relations[:, None]).sum(axis=1) == 1).all()  # the relation once, elsewhere
        noise = (body >= task.noise_start) & (body < task.noise_start + config.noise_tokens)
        assert (noise.sum(axis=1) == T - 3).all()  # noise everywhere else
    assert np.array_equal(inputs, family.fact_inputs(config, 3, subjects, relations, noise_seed=7))  # seeded
    stored = family.stored_answers(config, 3, subjects, relations)
    assert np.array_equal(stored, task.answers(torch.from_numpy(subjects), torch.from_numpy(relations)).numpy())
