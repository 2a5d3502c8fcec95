"""The two-layer network of Nichani, Bai, Lee (2022) and its first- and second-order Taylor terms.

f(x; W) = m^{-1/2} Σ_r a_r σ(w_rᵀx) with a_r = ±1 fixed. The initialization
is symmetric: unit r + m/2 copies w_r and has a = -1, so f(x; W0) = 0 and a
learner's prediction is its Taylor term alone. With W = W0 + Δ:

    f_L(x; Δ) = m^{-1/2} Σ_r a_r σ'(w_rᵀx) (δ_rᵀx)          (the NTK term)
    f_Q(x; Δ) = ½ m^{-1/2} Σ_r a_r σ''(w_rᵀx) (δ_rᵀx)²      (the QuadNTK term)

and the NTK of the network at W0 is
K(x, x') = ⟨∇f_L(x), ∇f_L(x')⟩ = m^{-1} Σ_r σ'(w_rᵀx) σ'(w_rᵀx') xᵀx'.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from probe_models.seeding import generator

Derivative = Callable[[torch.Tensor], torch.Tensor]


def activation(name: str) -> tuple[Derivative, Derivative, Derivative]:
    """(σ, σ', σ'')."""
    if name == "tanh":

        def d1(z: torch.Tensor) -> torch.Tensor:
            return 1 - torch.tanh(z).pow(2)

        def d2(z: torch.Tensor) -> torch.Tensor:
            t = torch.tanh(z)
            return -2 * t * (1 - t * t)

        return torch.tanh, d1, d2
    if name == "softplus":

        def s2(z: torch.Tensor) -> torch.Tensor:
            s = torch.sigmoid(z)
            return s * (1 - s)

        return nn.functional.softplus, torch.sigmoid, s2
    raise ValueError(f"unknown activation {name!r}")


class TaylorNet(nn.Module):
    """Δ (the only parameter) with the frozen W0 and a; the forward pass is the learner's predictor."""

    def __init__(self, dim: int, width: int, activation_name: str, terms: tuple[str, ...]) -> None:
        super().__init__()
        self.delta = nn.Parameter(torch.zeros(width, dim))
        self.register_buffer("w0", torch.zeros(width, dim))
        self.register_buffer("a", torch.cat([torch.ones(width // 2), -torch.ones(width // 2)]))
        self.sigma, self.d1, self.d2 = activation(activation_name)
        self.terms = terms

    def initialize(self, seed: int, init_scale: float) -> None:
        m, d = self.w0.shape
        with torch.no_grad():
            half = torch.randn(m // 2, d, generator=generator(seed, "w0")) / math.sqrt(d)
            self.w0.copy_(torch.cat([half, half]))
            delta = torch.randn(m, d, generator=generator(seed, "delta0")) * (init_scale / math.sqrt(d))
            self.delta.copy_(delta)

    def network(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """f(x; W), the network itself."""
        return self.sigma(x @ weights.T) @ self.a / math.sqrt(self.a.numel())

    def linear_term(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        z = x @ self.w0.T if z is None else z
        return (self.d1(z) * (x @ self.delta.T)) @ self.a / math.sqrt(self.a.numel())

    def quadratic_term(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        z = x @ self.w0.T if z is None else z
        return (self.d2(z) * (x @ self.delta.T).pow(2)) @ self.a / (2 * math.sqrt(self.a.numel()))

    def predict(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """The learner's prediction; ``z`` = x W0ᵀ when the caller has it already."""
        z = x @ self.w0.T if z is None else z
        out = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        if "linear" in self.terms:
            out = out + self.linear_term(x, z)
        if "quadratic" in self.terms:
            out = out + self.quadratic_term(x, z)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.predict(x)

    def feature_scale(self, x: torch.Tensor) -> torch.Tensor:
        """a_r σ'(w_rᵀx) / √m, [n, m]: ∇_{δ_r} f_L(x) is this times x."""
        return self.a * self.d1(x @ self.w0.T) / math.sqrt(self.a.numel())

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """∇_Δ f_L(x) of each sample, [n, m·d]: the NTK's feature map."""
        return (self.feature_scale(x)[:, :, None] * x[:, None, :]).reshape(x.shape[0], -1)

    def kernel(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The NTK at W0 in closed form, K(x, y) = m^{-1} Σ_r σ'(w_rᵀx) σ'(w_rᵀy) xᵀy, [n_x, n_y]."""
        m = self.a.numel()
        return (self.d1(x @ self.w0.T) @ self.d1(y @ self.w0.T).T / m) * (x @ y.T)


TERMS = {"ntk": ("linear",), "quad-ntk": ("quadratic",), "combined": ("linear", "quadratic")}


def good_direction_penalty(delta: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """‖P_k Δ‖², the squared norm of Δ's projection on k orthonormal directions [k, m·d]."""
    return (directions @ delta.reshape(-1)).pow(2).sum()


def norm_24(delta: torch.Tensor) -> torch.Tensor:
    """‖Δ‖_{2,4}^8 = (Σ_r ‖δ_r‖⁴)²."""
    return delta.pow(2).sum(dim=1).pow(2).sum().pow(2)
