"""Hierarchical targets y = g(p(x)) with their seeded samples, one per replica.

The composable pieces: an input distribution (:mod:`data`), a hidden
feature p (:mod:`features`: linear, quadratic, or a degree-k Hermite sum)
and a link g in normalized Hermite polynomials (:mod:`links`). A family
names them in its config; the target of replica k and every sample it
draws depend only on (seed, k, stream), so the learners of a comparison and
a resumed run see the same data.
"""

from __future__ import annotations

import numpy as np
import torch

from probe_models.gaussian.data import draw_inputs
from probe_models.gaussian.features import Features
from probe_models.gaussian.hermite import monomial_coefficients
from probe_models.gaussian.links import polynomial_values
from probe_models.seeding import generator


class HierarchicalTarget:
    def __init__(self, inputs: str, features: Features, link: np.ndarray, replicas: int, dim: int,
                 seed: int) -> None:  # fmt: skip
        self.inputs, self.features, self.replicas, self.dim, self.seed = inputs, features, replicas, dim, seed
        self.monomials = monomial_coefficients(link)

    def draw(self, n: int, device: torch.device, *stream: str | int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [K, n, d], p [K, n] and y = g(p) [K, n] of the named stream."""
        x = draw_inputs(self.inputs, (self.replicas, n), self.dim, generator(self.seed, *stream))
        p = self.features.values(x)[..., 0]
        return x.to(device), p.to(device), polynomial_values(p, self.monomials).to(device)
