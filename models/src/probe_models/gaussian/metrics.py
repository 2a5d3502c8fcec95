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
