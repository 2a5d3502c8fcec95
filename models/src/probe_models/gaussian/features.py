"""Hidden features p(x) of the hierarchical targets h = g∘p, one per replica, normalized as the papers do.

Each feature has mean 0 and variance 1 under x ~ N(0, I_d) (to O(1/d) on the
sphere), so a link written in normalized Hermite polynomials sees a
standardized argument:

- ``linear``: p(x) = w*·x with ‖w*‖ = 1 (the single-index model);
- ``quadratic``: p(x) = xᵀAx with A symmetric, traceless, ‖A‖_F = 1/√2;
- ``hermite-sum``: p(x) = d^{-1/2} Σ_i h_k(x_i), degree k, standardized to
  mean 0 and variance 1 under the inputs (exactly so already under N(0, I);
  on the sphere the raw sum's variance is 0.43 at d = 8, 0.61 at d = 16 for
  k = 3, which would leave g evaluated at a p smaller than the paper's and
  growing with d).

A quadratic A is ``spread`` (A = Q diag(±1) Qᵀ/√(2d) with Haar Q: the
smallest operator norm a traceless A can have, ‖A‖_op = ‖A‖_F/√d) or
``gaussian`` (a traceless GOE matrix). For a spread A, A² ∝ I and A³ ∝ A,
so the degree-2 part of any g(xᵀAx) on the sphere is exactly ∝ xᵀAx; for a
GOE matrix it also carries xᵀA³x, which at d = 16 caps the correlation of
even the exact degree-2 projection with p at 0.958 (0.985 at d = 32).
Several quadratic features are Frobenius-orthonormal (up to the 1/√2).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from probe_models.errors import ConfigError
from probe_models.gaussian.hermite import monomial_coefficients
from probe_models.gaussian.links import polynomial_values
from probe_models.seeding import generator

KINDS = ("quadratic", "linear", "hermite-sum")
QUADRATIC_KINDS = ("spread", "gaussian")


def quadratic_matrices(kind: str, replicas: int, count: int, dim: int, gen: torch.Generator) -> torch.Tensor:
    """A of shape [replicas, count, d, d]: symmetric, traceless, ⟨A_i, A_j⟩_F = δ_ij / 2."""
    if kind == "spread":
        q, _ = torch.linalg.qr(torch.randn(replicas, count, dim, dim, generator=gen))
        signs = torch.tensor([1.0, -1.0]).repeat(dim // 2 + 1)[:dim]
        if dim % 2:
            signs[-1] = 0.0  # an odd d keeps one zero eigenvalue so that A stays traceless
        raw = (q * signs) @ q.transpose(-1, -2)
    else:
        g = torch.randn(replicas, count, dim, dim, generator=gen)
        raw = (g + g.transpose(-1, -2)) / 2
        raw = raw - torch.eye(dim) * (raw.diagonal(dim1=-2, dim2=-1).sum(-1) / dim)[..., None, None]
    flat = raw.reshape(replicas, count, dim * dim)
    if count == 1:
        basis = flat / flat.norm(dim=-1, keepdim=True)
    else:
        basis = torch.linalg.qr(flat.transpose(-1, -2)).Q.transpose(-1, -2)  # Gram–Schmidt in Frobenius
    return basis.reshape(replicas, count, dim, dim) / math.sqrt(2)


def sphere_moment(a: int, b: int, dim: int) -> float:
    """E[x₁^a x₂^b] for x uniform on the sphere of radius √d: d^{i+j}(2i−1)!!(2j−1)!!/(d(d+2)…(d+2(i+j)−2))
    for a = 2i, b = 2j, and 0 when either is odd."""
    if a % 2 or b % 2:
        return 0.0
    half = (a + b) // 2
    odd_factorials = math.prod(range(1, a, 2)) * math.prod(range(1, b, 2))
    return dim**half * odd_factorials / math.prod(dim + 2 * t for t in range(half))


def hermite_sum_moments(degree: int, dim: int, inputs: str) -> tuple[float, float]:
    """Mean and standard deviation of d^{-1/2} Σ_i h_k(x_i): (0, 1) under N(0, I); on the sphere, exact from the
    sphere's moments (the coordinates are dependent there, so the cross terms E[h_k(x₁)h_k(x₂)] count)."""
    if inputs != "sphere":
        return 0.0, 1.0
    basis = np.zeros(degree + 1)
    basis[degree] = 1.0
    c = monomial_coefficients(basis)
    powers = range(len(c))
    one = sum(c[m] * sphere_moment(m, 0, dim) for m in powers)
    square = sum(c[m] * c[n] * sphere_moment(m + n, 0, dim) for m in powers for n in powers)
    cross = sum(c[m] * c[n] * sphere_moment(m, n, dim) for m in powers for n in powers)
    mean = math.sqrt(dim) * one
    variance = square + (dim - 1) * cross - mean**2
    if variance < 1e-9:  # k = 2: Σ_i h₂(x_i) = (‖x‖² − d)/√2 is 0 on the sphere
        raise ConfigError("degree", f"a degree-{degree} Hermite sum is constant on the sphere")
    return mean, math.sqrt(variance)


class Features:
    """p_1 … p_r of every replica: ``values(x)`` maps x [K, n, d] to [K, n, r]."""

    def __init__(self, kind: str, replicas: int, count: int, dim: int, seed: int,
                 quadratic: str = "spread", degree: int = 2, inputs: str = "gaussian") -> None:  # fmt: skip
        self.kind, self.degree = kind, degree
        self.shift, self.scale = hermite_sum_moments(degree, dim, inputs) if kind == "hermite-sum" else (0.0, 1.0)
        gen = generator(seed, "feature")
        if kind == "quadratic":
            self.matrices = quadratic_matrices(quadratic, replicas, count, dim, gen)
        elif kind == "linear":
            w = torch.randn(replicas, count, dim, generator=gen)
            self.directions = torch.linalg.qr(w.transpose(-1, -2)).Q.transpose(-1, -2)
        elif kind != "hermite-sum":
            raise ValueError(f"unknown feature {kind!r}; known: {', '.join(KINDS)}")

    def values(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "quadratic":
            a = self.matrices.to(x.device, x.dtype)
            return torch.einsum("knd,krde,kne->knr", x, a, x)
        if self.kind == "linear":
            return torch.einsum("knd,krd->knr", x, self.directions.to(x.device, x.dtype))
        basis = np.zeros(self.degree + 1)
        basis[self.degree] = 1.0
        terms = polynomial_values(x, monomial_coefficients(basis))
        return (terms.sum(dim=-1, keepdim=True) / math.sqrt(x.shape[-1]) - self.shift) / self.scale
