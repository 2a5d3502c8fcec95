"""The two-layer network of Nichani, Bai, Lee (2022) and its first- and second-order Taylor terms.

f(x; W) = m^{-1/2} Σ_r a_r σ(w_rᵀx) with a_r = ±1 fixed. The initialization
is symmetric, as the authors' code: the first m/2 rows of W0 are Gaussian
directions scaled to unit norm, unit r + m/2 copies w_r and has a = -1, so
f(x; W0) = 0 and a learner's prediction is its Taylor term alone. With
W = W0 + Δ:

    f_L(x; Δ) = m^{-1/2} Σ_r a_r σ'(w_rᵀx) (δ_rᵀx)          (the NTK term)
    f_Q(x; Δ) = ½ m^{-1/2} Σ_r a_r σ''(w_rᵀx) (δ_rᵀx)²      (the QuadNTK term)

and the NTK of the network at W0 is
K(x, x') = ⟨∇f_L(x), ∇f_L(x')⟩ = m^{-1} Σ_r σ'(w_rᵀx) σ'(w_rᵀx') xᵀx'.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

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
    if name == "sigmoid-shifted":  # the authors' σ(z) = sigmoid(z − 1): σ'' is not zero at z = 0

        def shifted(z: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(z - 1)

        def h1(z: torch.Tensor) -> torch.Tensor:
            s = torch.sigmoid(z - 1)
            return s * (1 - s)

        def h2(z: torch.Tensor) -> torch.Tensor:
            s = torch.sigmoid(z - 1)
            return s * (1 - s) * (1 - 2 * s)

        return shifted, h1, h2
    raise ValueError(f"unknown activation {name!r}")


class Slopes(NamedTuple):
    first: torch.Tensor  # σ'(W0x), [n, m]
    second: torch.Tensor  # σ''(W0x), [n, m]


class TaylorNet(nn.Module):
    """Δ (the only parameter) with the frozen W0 and a; the forward pass is the learner's predictor."""

    w0: torch.Tensor
    a: torch.Tensor

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
            half = torch.randn(m // 2, d, generator=generator(seed, "w0"))
            half = half / half.norm(dim=1, keepdim=True)
            self.w0.copy_(torch.cat([half, half]))
            delta = torch.randn(m, d, generator=generator(seed, "delta0")) * (init_scale / math.sqrt(d))
            self.delta.copy_(delta)

    def network(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """f(x; W), the network itself."""
        return self._output(self.sigma(x @ weights.T))

    def slopes(self, x: torch.Tensor) -> Slopes:
        """σ'(W0x) and σ''(W0x), [n, m]: fixed for fixed inputs, so a training run computes them once."""
        z = x @ self.w0.T
        return Slopes(self.d1(z), self.d2(z))

    def _output(self, weights: torch.Tensor) -> torch.Tensor:
        """m^{-1/2} Σ_r a_r weights[:, r]: the read-out every term shares."""
        return weights @ self.a / math.sqrt(self.a.numel())

    def linear_term(
        self, x: torch.Tensor, slopes: Slopes | None = None, delta: torch.Tensor | None = None
    ) -> torch.Tensor:
        """f_L(x; Δ), of this module's Δ or of ``delta``."""
        first = self.d1(x @ self.w0.T) if slopes is None else slopes.first
        delta = self.delta if delta is None else delta
        return self._output(first * (x @ delta.T))

    def quadratic_term(self, x: torch.Tensor, slopes: Slopes | None = None) -> torch.Tensor:
        second = self.d2(x @ self.w0.T) if slopes is None else slopes.second
        return self._output(second * (x @ self.delta.T).pow(2)) / 2

    def terms_of(self, x: torch.Tensor, slopes: Slopes | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(f_L, f_Q) of the learner's terms at x (a term the learner leaves out is zero), sharing xΔᵀ."""
        slopes = self.slopes(x) if slopes is None else slopes
        moved = x @ self.delta.T  # [n, m]
        zero = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        linear = self._output(slopes.first * moved) if "linear" in self.terms else zero
        quadratic = self._output(slopes.second * moved.pow(2)) / 2 if "quadratic" in self.terms else zero
        return linear, quadratic

    def predict(self, x: torch.Tensor, slopes: Slopes | None = None) -> torch.Tensor:
        """The learner's prediction; ``slopes`` of x when the caller has them already."""
        linear, quadratic = self.terms_of(x, slopes)
        return linear + quadratic

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


def outside_top_k(outputs: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """(I − U_kU_kᵀ) v for v = ``outputs`` [n] and U_k = ``basis`` [n, k] with orthonormal columns.

    With J = U S Vᵀ, J_k = U_k U_kᵀ J, so (J − J_k)Δ is this applied to JΔ = f_L(X; Δ): R1 needs the training
    outputs of the linear term and the top-k eigenvectors of the kernel matrix JJᵀ, never J itself.
    """
    return outputs - basis @ (basis.T @ outputs)


def without_directions(delta: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Δ − V_kV_kᵀΔ for k orthonormal directions [k, m·d] of parameter space."""
    flat = delta.reshape(-1)
    return (flat - directions.T @ (directions @ flat)).reshape(delta.shape)


def norm_24(delta: torch.Tensor) -> torch.Tensor:
    """‖Δ‖_{2,4}^8 = (Σ_r ‖δ_r‖⁴)²."""
    return delta.pow(2).sum(dim=1).pow(2).sum().pow(2)
