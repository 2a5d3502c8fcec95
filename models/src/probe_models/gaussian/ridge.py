"""Ridge regression for K replicas at once, with λ chosen on a validation sample.

The fits of the layer-wise networks and of the random-features baseline
are all ridge regressions on fixed features. One eigendecomposition of the
Gram matrix gives the solution for every λ of the grid at the cost of one,
so each learner gets its best λ on the same validation sample, and none is
favoured by a hand-picked one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from probe_models.errors import InvalidInput

# Each ridge fit of the layer-wise networks sets a weight vector and its intercept at once.
FITTED_TOGETHER = (("a", "a0"), ("u", "u0"), ("c", "c0"))
LAMBDAS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)  # in units of the mean eigenvalue


@dataclass
class RidgeFit:
    weights: torch.Tensor  # [K, p]
    intercept: torch.Tensor  # [K]
    lam: torch.Tensor  # [K], the λ each replica chose, in units of its mean Gram eigenvalue


def fit_ridge(
    features: torch.Tensor,
    targets: torch.Tensor,
    val_features: torch.Tensor,
    val_targets: torch.Tensor,
    lambdas: tuple[float, ...] = LAMBDAS,
) -> RidgeFit:
    """argmin_c (1/n)‖y − Fc − c₀‖² + λ‖c‖² per replica (F [K, n, p], y [K, n]); the intercept is not penalized.

    λ is in units of the mean eigenvalue of the centered Gram matrix (F'F/n),
    so one grid serves features of any scale and number.

    The Gram matrix is accumulated in the features' precision (float32: 10x
    faster than float64 at n = 24,576, p = 2,048) and decomposed in float64,
    whose eigenvalues of a few thousand random features span more than
    float32's 7 digits.
    """
    f, y = features, targets.double()
    mean_f, mean_y = f.mean(dim=1, keepdim=True), y.mean(dim=1, keepdim=True)
    fc, yc = f - mean_f, y - mean_y
    n = f.shape[1]
    gram = (fc.transpose(1, 2) @ fc).double() / n
    values, vectors = torch.linalg.eigh(gram)
    correlations = (fc.transpose(1, 2) @ yc[..., None].to(f.dtype)).double() / n  # [K, p, 1]
    projected = (vectors.transpose(1, 2) @ correlations)[..., 0]
    best_error = torch.full((f.shape[0],), float("inf"), dtype=torch.float64, device=f.device)
    best_weights = torch.zeros(f.shape[0], f.shape[2], dtype=torch.float64, device=f.device)
    best_lam = torch.zeros(f.shape[0], dtype=torch.float64, device=f.device)
    vf, vy = (val_features - mean_f).double(), val_targets.double() - mean_y
    unit = values.clamp_min(0.0).mean(dim=1, keepdim=True)  # [K, 1]
    for lam in lambdas:
        weights = (vectors @ (projected / (values.clamp_min(0.0) + lam * unit))[..., None])[..., 0]
        error = ((vf @ weights[..., None])[..., 0] - vy).pow(2).mean(dim=1)
        better = error < best_error
        best_error = torch.where(better, error, best_error)
        best_weights = torch.where(better[:, None], weights, best_weights)
        best_lam = torch.where(better, torch.full_like(best_lam, lam), best_lam)
    intercept = mean_y[:, 0] - (mean_f[:, 0].double() * best_weights).sum(dim=1)
    return RidgeFit(best_weights.to(features.dtype), intercept.to(features.dtype), best_lam)


def check_fitted_together(names: set[str], trainable: set[str]) -> None:
    """A job may freeze a fitted weight only with its intercept (transfer refits both, or neither)."""
    for weight, intercept in FITTED_TOGETHER:
        if weight in names and (weight in trainable) != (intercept in trainable):
            raise InvalidInput(f"{weight} and {intercept} are fitted together by ridge: make both trainable or neither")
