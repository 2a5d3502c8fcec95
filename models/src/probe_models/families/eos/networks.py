"""The eos family's networks: an MLP (200-200 in the paper) and a small CNN, with tanh or swish."""

from __future__ import annotations

import torch
from torch import nn

from probe_models.families.eos.config import EOSConfig


class Swish(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


def _activation(name: str) -> nn.Module:
    return nn.Tanh() if name == "tanh" else Swish()


def build_network(config: EOSConfig, input_shape: tuple[int, ...], classes: int, init_seed: int) -> nn.Module:
    """PyTorch's default initialization, drawn from ``init_seed``."""
    with torch.random.fork_rng():
        torch.manual_seed(init_seed)
        if config.model == "mlp":
            layers: list[nn.Module] = []
            width_in = input_shape[0]
            for _ in range(config.depth):
                layers += [nn.Linear(width_in, config.width), _activation(config.activation)]
                width_in = config.width
            return nn.Sequential(*layers, nn.Linear(width_in, classes))
        channels, height, width = input_shape
        layers = []
        for _ in range(config.depth):
            layers += [nn.Conv2d(channels, config.width, 3, padding=1), _activation(config.activation)]
            channels = config.width
            if height > 4:
                layers.append(nn.AvgPool2d(2))
                height, width = height // 2, width // 2
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * height * width, classes))


def input_shape(config: EOSConfig) -> tuple[int, ...]:
    """The shape of one example as the network sees it."""
    image = {"digits": (1, 8, 8), "cifar10": (3, 32, 32)}.get(config.data, (config.input_dim,))
    return image if config.model == "cnn" else (int(torch.tensor(image).prod()),)


def classes(config: EOSConfig) -> int:
    return config.num_classes if config.data == "synthetic" else 10


def parameter_count(config: EOSConfig) -> int:
    """Computed without building the network, so an oversized config is refused cheaply."""
    shape, out, w = input_shape(config), classes(config), config.width
    if config.model == "mlp":
        total, width_in = 0, shape[0]
        for _ in range(config.depth):
            total += width_in * w + w
            width_in = w
        return total + width_in * out + out
    channels, height, width = shape
    total = 0
    for _ in range(config.depth):
        total += channels * w * 9 + w
        channels = w
        if height > 4:
            height, width = height // 2, width // 2
    return total + channels * height * width * out + out
