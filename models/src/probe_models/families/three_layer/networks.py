"""The three learners of the three-layer family, each holding K independent replicas as a leading batch dimension."""

from __future__ import annotations

import math

import torch
from torch import nn

# E σ(z) under z ~ N(0, 1): subtracted so that σ1 carries no mean into the features.
ACTIVATION_MEANS = {"abs": math.sqrt(2 / math.pi), "relu": 1 / math.sqrt(2 * math.pi)}


def unit_rows(shape: tuple[int, ...], dim: int, gen: torch.Generator) -> torch.Tensor:
    v = torch.randn(*shape, dim, generator=gen)
    return v / v.norm(dim=-1, keepdim=True)


def alternating_signs(replicas: int, width: int) -> torch.Tensor:
    """+1, −1, +1, … per replica: the output a·σ2(b) of identical units cancels, so h = 0 at W = 0."""
    return (1.0 - 2.0 * (torch.arange(width) % 2).float()).repeat(replicas, 1)


class ThreeLayerNet(nn.Module):
    """h(x) = a·σ2(W σ1(Vx) + b) + a₀ with V frozen (rows uniform on the unit sphere), σ2 = ReLU."""

    V: torch.Tensor
    b: torch.Tensor

    def __init__(self, replicas: int, dim: int, width1: int, width2: int, activation: str) -> None:
        super().__init__()
        self.activation = activation
        self.register_buffer("V", torch.zeros(replicas, width1, dim))
        self.register_buffer("b", torch.ones(replicas, width2))
        self.W = nn.Parameter(torch.zeros(replicas, width2, width1))
        self.a = nn.Parameter(alternating_signs(replicas, width2))
        self.a0 = nn.Parameter(torch.zeros(replicas))

    def first_layer(self, x: torch.Tensor) -> torch.Tensor:
        """σ1(Vx) centered, [K, n, m1]."""
        z = x @ self.V.transpose(1, 2)
        out = z.abs() if self.activation == "abs" else torch.relu(z)
        return out - ACTIVATION_MEANS[self.activation]

    def hidden(self, first: torch.Tensor) -> torch.Tensor:
        """W σ1(Vx) without b: the learned features, [K, n, m2]."""
        return first @ self.W.transpose(1, 2)

    def head(self, first: torch.Tensor) -> torch.Tensor:
        return (torch.relu(self.hidden(first) + self.b[:, None, :]) * self.a[:, None, :]).sum(-1) + self.a0[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.first_layer(x))


class TwoLayerNet(nn.Module):
    """f(x) = c·ReLU(Ux + b)/√m + c₀, every parameter trained."""

    def __init__(self, replicas: int, dim: int, width: int) -> None:
        super().__init__()
        self.U = nn.Parameter(torch.zeros(replicas, width, dim))
        self.b = nn.Parameter(torch.zeros(replicas, width))
        self.c = nn.Parameter(torch.zeros(replicas, width))
        self.c0 = nn.Parameter(torch.zeros(replicas))

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x @ self.U.transpose(1, 2) + self.b[:, None, :])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.hidden(x) * self.c[:, None, :]).sum(-1) / math.sqrt(self.c.shape[1]) + self.c0[:, None]


class RandomFeatures(nn.Module):
    """f(x) = a·ReLU(Vx) + a₀ with V frozen: ridge on it is regression with the ReLU random-features kernel."""

    V: torch.Tensor

    def __init__(self, replicas: int, dim: int, width: int) -> None:
        super().__init__()
        self.register_buffer("V", torch.zeros(replicas, width, dim))
        self.a = nn.Parameter(torch.zeros(replicas, width))
        self.a0 = nn.Parameter(torch.zeros(replicas))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x @ self.V.transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.features(x) * self.a[:, None, :]).sum(-1) + self.a0[:, None]
