"""The bottleneck networks of the hier-poly family, K replicas each as a leading batch dimension."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from probe_models.families.three_layer.networks import ACTIVATION_MEANS, alternating_signs
from probe_models.gaussian.hermite import monomial_coefficients
from probe_models.gaussian.links import polynomial_values


class RandomFeatureLayer(nn.Module):
    """σ1(Vx) with V frozen: h_k (activation hermite), or |z| or ReLU less their Gaussian mean."""

    V: torch.Tensor

    def __init__(self, replicas: int, dim: int, width1: int, activation: str, degree: int) -> None:
        super().__init__()
        self.activation = activation
        basis = np.zeros(degree + 1)
        basis[degree] = 1.0
        self.monomials = monomial_coefficients(basis)
        self.register_buffer("V", torch.zeros(replicas, width1, dim))

    def first_layer(self, x: torch.Tensor) -> torch.Tensor:
        z = x @ self.V.transpose(1, 2)
        if self.activation == "hermite":
            return polynomial_values(z, self.monomials)
        out = z.abs() if self.activation == "abs" else torch.relu(z)
        return out - ACTIVATION_MEANS[self.activation]


class BottleneckNet(RandomFeatureLayer):
    """h(x) = c·σ2(a·z(x) + b) + c₀ with the scalar feature z(x) = (u·σ1(Vx) + u₀) / s."""

    scale: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor

    def __init__(self, replicas: int, dim: int, width1: int, width2: int, activation: str, degree: int) -> None:
        super().__init__(replicas, dim, width1, activation, degree)
        self.u = nn.Parameter(torch.zeros(replicas, width1))
        self.u0 = nn.Parameter(torch.zeros(replicas))
        self.register_buffer("scale", torch.ones(replicas))  # z's standard deviation on the stage-1 data
        self.register_buffer("a", alternating_signs(replicas, width2))
        self.register_buffer("b", torch.zeros(replicas, width2))
        self.c = nn.Parameter(torch.zeros(replicas, width2))
        self.c0 = nn.Parameter(torch.zeros(replicas))

    def feature(self, x: torch.Tensor) -> torch.Tensor:
        """z(x), [K, n]."""
        return ((self.first_layer(x) * self.u[:, None, :]).sum(-1) + self.u0[:, None]) / self.scale[:, None]

    def units(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.a[:, None, :] * self.feature(x)[..., None] + self.b[:, None, :])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.units(x) * self.c[:, None, :]).sum(-1) + self.c0[:, None]


class SpanNet(RandomFeatureLayer):
    """A width-r bottleneck: z(x) = (Q σ1(Vx) − m) / s ∈ R^r, h(x) = c·σ2(a z(x) + b) + c₀.

    Stage 1 trains a quadratic middle layer, q(x) = Σ_j ε_j (w_j·σ1(Vx))² + u·σ1(Vx) + u₀
    with fixed signs ε_j = ±1, by GD with weight decay; the rows of Q are the top-r
    eigenvectors (by |eigenvalue|) of Wᵀ diag(ε) W, the directions its quadratic
    part uses. The outer layer then sees r standardized features through random
    unit directions a_j.
    """

    signs: torch.Tensor
    Q: torch.Tensor
    shift: torch.Tensor
    scale: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor

    def __init__(self, replicas: int, dim: int, width1: int, width2: int, activation: str, degree: int,
                 rank: int, quadratic_units: int) -> None:  # fmt: skip
        super().__init__(replicas, dim, width1, activation, degree)
        self.W = nn.Parameter(torch.zeros(replicas, quadratic_units, width1))
        self.register_buffer("signs", alternating_signs(replicas, quadratic_units))
        self.u = nn.Parameter(torch.zeros(replicas, width1))
        self.u0 = nn.Parameter(torch.zeros(replicas))
        self.register_buffer("Q", torch.zeros(replicas, rank, width1))
        self.register_buffer("shift", torch.zeros(replicas, rank))
        self.register_buffer("scale", torch.ones(replicas, rank))
        self.register_buffer("a", torch.zeros(replicas, width2, rank))
        self.register_buffer("b", torch.zeros(replicas, width2))
        self.c = nn.Parameter(torch.zeros(replicas, width2))
        self.c0 = nn.Parameter(torch.zeros(replicas))

    def stage1(self, first: torch.Tensor) -> torch.Tensor:
        """q(x) from σ1(Vx), [K, n]."""
        quadratic = ((first @ self.W.transpose(1, 2)) ** 2 * self.signs[:, None, :]).sum(-1)
        return quadratic + (first * self.u[:, None, :]).sum(-1) + self.u0[:, None]

    def learned_directions(self) -> torch.Tensor:
        """The top-r eigenvectors of Wᵀ diag(ε) W, [K, r, m1]."""
        operator = self.W.transpose(1, 2) @ (self.signs[:, :, None] * self.W)
        values, vectors = torch.linalg.eigh(operator.double())
        order = values.abs().argsort(dim=-1, descending=True)[:, : self.Q.shape[1]]
        top = torch.gather(vectors, 2, order[:, None, :].expand(-1, vectors.shape[1], -1))
        return top.transpose(1, 2).to(self.W.dtype)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """z(x), [K, n, r]."""
        return ((self.first_layer(x) @ self.Q.transpose(1, 2)) - self.shift[:, None, :]) / self.scale[:, None, :]

    def units(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.features(x) @ self.a.transpose(1, 2) + self.b[:, None, :])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.units(x) * self.c[:, None, :]).sum(-1) + self.c0[:, None]

    def quadratic_forms(self) -> torch.Tensor:
        """The quadratic part of each learned feature as a traceless matrix, [K, r, d, d].

        For any σ1 the degree-2 part of Σ_l q_l σ1(v_l·x) is c₂(σ1) Σ_l q_l h₂(v_l·x),
        ∝ xᵀ(Σ_l q_l v_l v_lᵀ)x up to a constant, so the span is σ1's to scale only.
        """
        forms = torch.einsum("krl,kld,kle->krde", self.Q, self.V, self.V)
        d = forms.shape[-1]
        trace = forms.diagonal(dim1=-2, dim2=-1).sum(-1) / d
        return forms - trace[..., None, None] * torch.eye(d, device=forms.device, dtype=forms.dtype)
