"""The determinism every family owes the job engine: a run restored at step s continues exactly."""

import torch

from probe_models.family import Family, TrainingRun
from probe_models.training import advance


def restored_and_whole(family: Family, config, seed: int, steps: int, stop: int) -> tuple[TrainingRun, TrainingRun]:
    """(a run restored from a copy stopped after ``stop`` steps and trained on, the uninterrupted run)."""
    whole = family.new_run(config, seed, steps)
    for step in range(steps):
        advance(whole, step)
    first = family.new_run(config, seed, steps)
    for step in range(stop):
        advance(first, step)
    resumed = family.new_run(config, seed, steps)
    resumed.restore(stop, {k: v.clone() for k, v in first.model.state_dict().items()}, first.optimizer_state())
    for step in range(stop, steps):
        advance(resumed, step)
    for name, tensor in whole.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], tensor), name
    return resumed, whole
