"""Optimizers a job may choose instead of its family's own, each with a config defined once.

A family trains with the optimizer its config describes (AdamW, GD, ...);
a job may instead name one of :data:`OPTIMIZERS`, which wraps the family's
run and uses only what every family provides (its model and the examples of
each step). The server and the CLI learn these schemas from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from probe_models.config import config_to_dict, parse_config
from probe_models.errors import ConfigError, InvalidInput
from probe_models.family import Family, TrainingRun
from probe_models.mezo import MezoConfig, MezoRun


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    description: str
    paper: str
    config_cls: type


OPTIMIZERS = {
    "mezo": OptimizerSpec(
        "mezo",
        "Zeroth-order SGD: two forward passes per step along a seeded Gaussian direction, inference memory",
        "Malladi et al. (2023). Fine-Tuning Language Models with Just Forward Passes",
        MezoConfig,
    ),
}


def parse_optimizer(family: Family, config: Any, optimizer: str, values: dict[str, Any]) -> dict[str, Any]:
    """The full, validated config of ``optimizer`` for a job of ``family`` ("" means the family's own)."""
    if not optimizer:
        if values:
            raise InvalidInput("optimizer_config needs an optimizer; leave both empty for the family's own")
        return {}
    spec = OPTIMIZERS.get(optimizer)
    if spec is None:
        known = ", ".join(sorted(OPTIMIZERS))
        raise InvalidInput(f"unknown optimizer {optimizer!r}; known: {known} (or empty for the family's own)")
    parsed = parse_config(spec.config_cls, values)
    if getattr(parsed, "objective", "loss") == "accuracy" and not family.has_classes(config):
        raise ConfigError("objective", f"family {family.name} has no classification target; use objective=loss")
    return config_to_dict(parsed)


def with_optimizer(run: TrainingRun, optimizer: str, values: dict[str, Any], seed: int) -> TrainingRun:
    """``run`` trained by ``optimizer`` instead of its family's own ("" leaves it as it is)."""
    if not optimizer:
        return run
    return MezoRun(run, parse_config(OPTIMIZERS[optimizer].config_cls, values), seed)
