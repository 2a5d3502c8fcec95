"""Low-degree plus harder targets: f*(x) = c1·βᵀx/√d + c2·x_1⋯x_p, or the paper's (He2(βᵀx) + βᵀx)/√3."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from probe_models.families.ntk_escape.config import NTKEscapeConfig
from probe_models.gaussian.data import draw_inputs
from probe_models.seeding import generator


@dataclass
class Sample:
    x: torch.Tensor  # [n, d]
    y: torch.Tensor  # [n], noisy for training samples
    dense: torch.Tensor  # [n], the dense part c1·βᵀx/√d
    sparse: torch.Tensor  # [n], the sparse part c2·x_1⋯x_p


class Target:
    """β is drawn once per seed with ‖β‖ = √d, so βᵀx/√d has variance 1 under both input laws.

    The he2-linear target is the authors' experiment: with u = βᵀx/√d (‖β/√d‖ = 1), f* = (u² − 1 + u)/√3, whose
    two parts have variance 2/3 and 1/3 under Gaussian inputs; dense_scale and sparse_scale multiply the linear
    and the He2 part.
    """

    def __init__(self, config: NTKEscapeConfig, seed: int) -> None:
        self.config, self.seed = config, seed
        beta = torch.randn(config.dim, generator=generator(seed, "beta"))
        self.beta = beta * (math.sqrt(config.dim) / beta.norm())

    def parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the low-degree part the NTK fits, the part it cannot fit from few samples)."""
        c = self.config
        u = (x @ self.beta.to(x.device)) / math.sqrt(c.dim)
        if c.target == "he2-linear":
            return c.dense_scale * u / math.sqrt(3), c.sparse_scale * (u * u - 1) / math.sqrt(3)
        return c.dense_scale * u, c.sparse_scale * x[:, : c.sparse_degree].prod(dim=1)

    def draw(self, n: int, device: torch.device, *stream: int | str, noisy: bool = False) -> Sample:
        gen = generator(self.seed, *stream)
        x = draw_inputs(self.config.inputs, (n,), self.config.dim, gen)
        dense, sparse = self.parts(x)
        y = dense + sparse
        if noisy and self.config.noise > 0:
            y = y + self.config.noise * torch.randn(n, generator=gen)
        return Sample(x.to(device), y.to(device), dense.to(device), sparse.to(device))
