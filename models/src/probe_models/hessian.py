"""Hessian spectra from Hessian-vector products: Lanczos, power iteration, Hutchinson's trace.

Every HVP is a double backward (Pearlmutter's trick). When the loss is one
chunk, its gradient graph is built once and each HVP is one extra backward
through it; when the data come in several chunks (to bound memory), each HVP
rebuilds each chunk's graph in turn and sums the chunks' weighted products.
Lanczos keeps every basis vector and fully reorthogonalizes, which is what
makes a few dozen iterations accurate to 1e-6 on the extreme eigenvalues;
residuals ``‖Hy − θy‖`` are measured with one HVP per returned pair.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

Chunk = tuple[float, Callable[[], torch.Tensor]]  # (weight, the chunk's loss); the weights sum to 1


class HessianOperator:
    """v ↦ H v for the Hessian of Σ weight · chunk loss w.r.t. ``params``, flattened, in ``params``' dtype."""

    def __init__(self, params: list[torch.nn.Parameter], chunks: Sequence[Chunk]) -> None:
        self.params = params
        self.chunks = list(chunks)
        self.num_parameters = sum(p.numel() for p in params)
        self.dtype = params[0].dtype
        self.count = 0
        self._grad = self._gradient(*self.chunks[0]) if len(self.chunks) == 1 else None

    def _gradient(self, weight: float, loss: Callable[[], torch.Tensor]) -> torch.Tensor:
        # the fused attention kernels have no double backward (the CPU flash kernel raises): the math one has
        with sdpa_kernel(SDPBackend.MATH):
            grads = torch.autograd.grad(weight * loss(), self.params, create_graph=True)
        return torch.cat([g.reshape(-1) for g in grads])

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        """H v, returned on the CPU (the Krylov vectors live there) in float64."""
        self.count += 1
        device = self.params[0].device
        v = v.to(device, self.dtype)
        if self._grad is not None:
            return self._product(self._grad, v, retain=True)
        total = torch.zeros(self.num_parameters, dtype=torch.float64)
        for weight, loss in self.chunks:
            total += self._product(self._gradient(weight, loss), v, retain=False)
        return total

    def _product(self, grad: torch.Tensor, v: torch.Tensor, retain: bool) -> torch.Tensor:
        hv = torch.autograd.grad(grad @ v, self.params, retain_graph=retain)
        return torch.cat([h.reshape(-1) for h in hv]).detach().cpu().double()


def _start(n: int, seed: int, start: torch.Tensor | None) -> torch.Tensor:
    q = start.double().clone() if start is not None else torch.randn(n, generator=torch.Generator().manual_seed(seed))
    q = q.double()
    return q / q.norm()


def lanczos_top_eigenpairs(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    n: int,
    top_k: int,
    max_iterations: int = 100,
    tolerance: float = 1e-7,
    seed: int = 0,
    start: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The ``top_k`` largest (algebraic) eigenpairs of a symmetric operator, and the iterations used.

    Stops when every wanted Ritz pair's residual bound ``|β_m s_{m,i}|`` is
    below ``tolerance · max(1, |θ_i|)``, or when the Krylov space is exhausted.
    ``start`` warm-starts from a vector (e.g. the previous top eigenvector).
    """
    m_max = min(n, max_iterations)
    basis = torch.zeros(m_max, n, dtype=torch.float64)
    alphas: list[float] = []
    betas: list[float] = []
    q = _start(n, seed, start)
    beta = 0.0
    for j in range(m_max):
        basis[j] = q
        w = matvec(q).double()
        alpha = float(w @ q)
        w = w - alpha * q - (beta * basis[j - 1] if j > 0 else 0.0)
        w -= basis[: j + 1].T @ (basis[: j + 1] @ w)  # full reorthogonalization, twice is enough
        w -= basis[: j + 1].T @ (basis[: j + 1] @ w)
        alphas.append(alpha)
        beta = float(w.norm())
        m = j + 1
        theta, s = _tridiagonal_eigh(alphas, betas)
        wanted = min(top_k, m)
        bounds = (beta * s[-1, -wanted:]).abs()
        converged = bool((bounds <= tolerance * theta[-wanted:].abs().clamp(min=1.0)).all()) and m >= top_k
        if converged or beta < 1e-12 or m == m_max:
            break
        betas.append(beta)
        q = w / beta
    order = torch.argsort(theta, descending=True)[: min(top_k, m)]
    vectors = s[:, order].T @ basis[:m]  # (k, n)
    return theta[order], vectors, m


def power_top_eigenpairs(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    n: int,
    top_k: int,
    max_iterations: int = 100,
    tolerance: float = 1e-7,
    seed: int = 0,
    start: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The ``top_k`` eigenpairs of largest magnitude by power iteration with deflation.

    Each pair runs until its Rayleigh quotient changes by at most ``tolerance``
    relative, or ``max_iterations`` HVPs; the returned count is the total.
    This is PyHessian's method, kept for comparison: Lanczos needs far fewer
    HVPs when the top eigenvalues are clustered.
    """
    values: list[float] = []
    vectors: list[torch.Tensor] = []
    total = 0
    for i in range(top_k):
        v = _start(n, (seed + i) % 2**64, start if i == 0 else None)  # a seed is any uint64: wrap, never overflow
        value = math.nan
        for _ in range(max_iterations):
            for u in vectors:  # keep v orthogonal to the pairs found so far
                v -= (u @ v) * u
            v /= v.norm()
            hv = matvec(v).double()
            total += 1
            for lam, u in zip(values, vectors, strict=True):
                hv -= lam * (u @ v) * u
            previous, value = value, float(v @ hv)
            v = hv / hv.norm()
            if abs(value - previous) <= tolerance * max(1.0, abs(value)):
                break
        values.append(value)
        vectors.append(v)
    order = sorted(range(top_k), key=lambda i: -values[i])
    return (
        torch.tensor([values[i] for i in order], dtype=torch.float64),
        torch.stack([vectors[i] for i in order]),
        total,
    )


def hutchinson_trace(
    matvec: Callable[[torch.Tensor], torch.Tensor], n: int, samples: int, seed: int = 0
) -> tuple[float, float]:
    """Hutchinson's estimate of tr H with Rademacher probes, and its standard error."""
    gen = torch.Generator().manual_seed(seed)
    estimates = []
    for _ in range(samples):
        z = torch.randint(0, 2, (n,), generator=gen).double() * 2 - 1
        estimates.append(float(z @ matvec(z).double()))
    values = torch.tensor(estimates, dtype=torch.float64)
    error = float(values.std() / math.sqrt(samples)) if samples > 1 else math.inf
    return float(values.mean()), error


def _tridiagonal_eigh(alphas: list[float], betas: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if betas:
        off = torch.tensor(betas, dtype=torch.float64)
        T += torch.diag(off, 1) + torch.diag(off, -1)
    return torch.linalg.eigh(T)


def residuals(
    matvec: Callable[[torch.Tensor], torch.Tensor], values: torch.Tensor, vectors: torch.Tensor
) -> list[float]:
    """‖H y − θ y‖ of each pair, one HVP each."""
    return [float((matvec(v).double() - float(theta) * v).norm()) for theta, v in zip(values, vectors, strict=True)]
