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
