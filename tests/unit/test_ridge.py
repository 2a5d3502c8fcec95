"""Batched ridge with validated λ: the solution of the normal equations, and the λ that validates best."""

import numpy as np
import pytest
import torch

from probe_models.gaussian.ridge import fit_ridge


def numpy_ridge(f: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    """argmin (1/n)‖y − Fc − c₀‖² + λ‖c‖², c₀ free, by the augmented normal equations."""
    n, p = f.shape
    f1 = np.hstack([f, np.ones((n, 1))])
    penalty = lam * n * np.eye(p + 1)
    penalty[p, p] = 0.0
    solution = np.linalg.solve(f1.T @ f1 + penalty, f1.T @ y)
    return solution[:p], solution[p]


def test_each_replica_gets_the_normal_equations_solution_with_an_unpenalized_intercept():
    """λ counts in units of the mean eigenvalue of the centered Gram matrix, tr(FcᵀFc/n)/p."""
    gen = torch.Generator().manual_seed(0)
    f, y = torch.randn(2, 200, 7, generator=gen, dtype=torch.float64), torch.randn(2, 200, generator=gen).double()
    y = y + 5.0  # a large mean the intercept must take without penalty
    fit = fit_ridge(f, y, f[:, :20], y[:, :20], lambdas=(0.3,))
    for k in range(2):
        centered = f[k].numpy() - f[k].numpy().mean(axis=0)
        unit = np.trace(centered.T @ centered / 200) / 7
        weights, intercept = numpy_ridge(f[k].numpy(), y[k].numpy(), 0.3 * unit)
        np.testing.assert_allclose(fit.weights[k].numpy(), weights, rtol=1e-9, atol=1e-12)
        assert float(fit.intercept[k]) == pytest.approx(intercept, rel=1e-9)


def test_lambda_is_chosen_per_replica_on_the_validation_sample():
    gen = torch.Generator().manual_seed(1)
    n, p = 60, 50
    f = torch.randn(2, n, p, generator=gen, dtype=torch.float64)
    truth = torch.zeros(2, p, dtype=torch.float64)
    truth[0, 0] = 1.0  # replica 0: a clean linear target, best with the smallest λ
    y = (f * truth[:, None, :]).sum(-1)
    y[1] = torch.randn(n, generator=gen, dtype=torch.float64)  # replica 1: pure noise, best shrunk to the mean
    vf = torch.randn(2, 500, p, generator=gen, dtype=torch.float64)
    vy = (vf * truth[:, None, :]).sum(-1)
    vy[1] = torch.randn(500, generator=gen, dtype=torch.float64)
    fit = fit_ridge(f, y, vf, vy, lambdas=(1e-6, 1e-2, 10.0))
    assert fit.lam.tolist() == [1e-6, 10.0]
