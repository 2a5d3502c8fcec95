"""Optimizer state as flat named tensors, so it can live in a safetensors file."""

from __future__ import annotations

import torch


def flatten_optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    flat = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensor = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            flat[f"state.{index}.{key}"] = tensor.detach().clone()
    return flat


def load_optimizer_state(optimizer: torch.optim.Optimizer, flat: dict[str, torch.Tensor]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in flat.items():
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = tensor.clone()
    current = optimizer.state_dict()
    optimizer.load_state_dict({"state": state, "param_groups": current["param_groups"]})


class OneOptimizerState:
    """``optimizer_state`` and ``restore`` of a run whose resumable state is its weights and one optimizer.

    Mixed into TrainingRun subclasses that have ``model``, ``device`` and an
    ``optimizer`` that is None where the run fits in closed form.
    """

    model: torch.nn.Module
    device: torch.device
    optimizer: torch.optim.Optimizer | None

    def optimizer_state(self) -> dict[str, torch.Tensor]:
        return flatten_optimizer_state(self.optimizer) if self.optimizer is not None else {}

    def restore(self, step: int, weights: dict[str, torch.Tensor], optimizer: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict({k: v.to(self.device) for k, v in weights.items()})
        if self.optimizer is not None and optimizer:
            load_optimizer_state(self.optimizer, optimizer)
