"""Metrics of regression on the hierarchical targets, per replica and on average."""

from __future__ import annotations

import torch

PER_SEED_LIMIT = 64  # replicas whose own metrics are reported (the averages cover all)


def correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|corr(a_k, b_k)| per replica, for a and b of shape [K, n]."""
    a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
    return ((a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-30)).abs()


def test_errors(prediction: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """MSE / Var y of each replica (1: predicting the mean) and their mean, and the mean MSE."""
    mse = (prediction - y).pow(2).mean(dim=1)
    error = (mse / y.var(dim=1)).cpu()
    metrics = {"test_error": float(error.mean()), "test_mse": float(mse.mean())}
    for k in range(min(len(error), PER_SEED_LIMIT)):
        metrics[f"test_error_{k}"] = float(error[k])
    return metrics


def feature_metrics(feature: torch.Tensor, p: torch.Tensor) -> dict[str, float]:
    """How well a learned scalar feature [K, n] tracks the true one: mean and worst |correlation| over replicas."""
    corr = correlation(feature, p).cpu()
    return {"feature_correlation": float(corr.mean()), "feature_correlation_min": float(corr.min())}


def principal_angles(learned: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Principal angles in degrees between span{learned_i} and span{true_i} per replica, [K, min(r', r)].

    Both are stacks of matrices [K, r, d, d] compared in the Frobenius inner product; the largest angle
    is 0 when the learned span contains the true one (r' = r: equals it).
    """
    k = learned.shape[0]
    basis_learned = torch.linalg.qr(learned.reshape(k, learned.shape[1], -1).transpose(1, 2).double()).Q
    basis_true = torch.linalg.qr(true.reshape(k, true.shape[1], -1).transpose(1, 2).double()).Q
    cosines = torch.linalg.svdvals(basis_true.transpose(1, 2) @ basis_learned).clamp(max=1.0)
    return torch.rad2deg(torch.acos(cosines))  # cosines descend, so the largest angle is last


def span_metrics(angles: torch.Tensor) -> dict[str, float]:
    """The largest principal angle of each replica, its mean and worst over replicas."""
    largest = angles[:, -1].cpu()
    metrics = {"span_angle_max": float(largest.max()), "span_angle_mean": float(largest.mean())}
    for k in range(min(len(largest), PER_SEED_LIMIT)):
        metrics[f"span_angle_{k}"] = float(largest[k])
    return metrics
