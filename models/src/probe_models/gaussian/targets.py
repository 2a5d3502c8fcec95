"""Hierarchical targets y = g(p(x)) with their seeded samples, one per replica.

The composable pieces: an input distribution (:mod:`data`), a hidden
feature p (:mod:`features`: linear, quadratic, or a degree-k Hermite sum)
and a link g in normalized Hermite polynomials (:mod:`links`). A family
names them in its config; the target of replica k and every sample it
draws depend only on (seed, k, stream), so the learners of a comparison and
a resumed run see the same data.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from probe_models.gaussian.data import draw_inputs
from probe_models.gaussian.features import Features
from probe_models.gaussian.hermite import monomial_coefficients
from probe_models.gaussian.links import polynomial_values
from probe_models.seeding import generator


class HierarchicalTarget:
    """y = g(p_1(x), …, p_r(x)) with g(z) = σ(s) + β Σ_{i<j} z_i z_j / √(r(r−1)/2), s = Σ_i z_i / √r.

    σ is the link in normalized Hermite polynomials; for r = 1, g = σ. The
    pairwise term (β = ``interaction``) makes g depend on every feature, not
    only on their sum, so that the span of the features is identifiable;
    both terms have unit variance when the z_i are independent standard.
    """

    def __init__(self, inputs: str, features: Features, link: np.ndarray, replicas: int, dim: int, seed: int,
                 interaction: float = 0.0) -> None:  # fmt: skip
        self.inputs, self.features, self.replicas, self.dim, self.seed = inputs, features, replicas, dim, seed
        self.monomials = monomial_coefficients(link)
        self.interaction = interaction

    def link(self, p: torch.Tensor) -> torch.Tensor:
        """g(p) for p [K, n, r]."""
        r = p.shape[-1]
        y = polynomial_values(p.sum(dim=-1) / math.sqrt(r), self.monomials)
        if r > 1 and self.interaction:
            pairs = ((p.sum(dim=-1) ** 2 - (p * p).sum(dim=-1)) / 2) / math.sqrt(r * (r - 1) / 2)
            y = y + self.interaction * pairs
        return y

    def draw(self, n: int, device: torch.device, *stream: str | int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [K, n, d], p [K, n, r] and y = g(p) [K, n] of the named stream."""
        x = draw_inputs(self.inputs, (self.replicas, n), self.dim, generator(self.seed, *stream))
        p = self.features.values(x)
        return x.to(device), p.to(device), self.link(p).to(device)
