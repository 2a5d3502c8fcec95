"""Config of the single-index family (PAPERS.md §5; Damian, Nichani, Ge, Lee 2023)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from probe_models.config import param
from probe_models.errors import ConfigError
from probe_models.gaussian.hermite import information_exponent

MAX_DEGREE = 8


@dataclass(frozen=True)
class SingleIndexConfig:
    dim: int = param(64, "d, the input dimension", min=2, max=100_000)
    link: str = param(
        "hermite", "hermite: σ = h_k* (normalized He_k*); custom: σ = Σ_k c_k h_k", choices=("hermite", "custom")
    )
    k_star: int = param(3, "hermite: the degree k* of σ = h_k*, its information exponent", min=1, max=MAX_DEGREE)
    coefficients: str = param("", "custom: c_0,c_1,...,c_m of σ in normalized Hermite polynomials (m <= 8)")
    method: str = param(
        "smoothed",
        "vanilla: online SGD on the correlation loss; smoothed: on L_λ with λ = lam_scale·d^(1/4) until weak "
        "recovery, then λ = 0",
        choices=("vanilla", "smoothed"),
    )
    lam_scale: float = param(1.0, "λ = lam_scale·d^(1/4) in phase 1 (the paper: 1)", min=0.0, max=100.0)
    lr: float = param(
        0.01, "η: constant until a replica recovers weakly at t_r, then min(η, 1/(4d))·t_r/t", min=0.0, max=100.0
    )
    num_seeds: int = param(8, "K replicas trained at once, each with its own w*, initialization and samples",
                           min=1, max=4096)  # fmt: skip
    recovery: float = param(0.5, "weak recovery: the overlap w·w* reaches this", min=0.0, max=1.0)
    stop_fraction: float = param(
        1.0, "end the job once this share of the replicas has recovered weakly (0: run every step)", min=0.0, max=1.0
    )

    @property
    def hermite_coefficients(self) -> np.ndarray:
        return link_coefficients(self.link, self.k_star, self.coefficients)

    @property
    def lam(self) -> float:
        return self.lam_scale * self.dim**0.25 if self.method == "smoothed" else 0.0

    def check(self) -> None:
        if self.link == "hermite" and self.coefficients:
            raise ConfigError("coefficients", "coefficients are for link=custom")
        information_exponent(self.hermite_coefficients)  # refuses a link with only a mean


@functools.lru_cache(maxsize=64)
def link_coefficients(link: str, k_star: int, coefficients: str) -> np.ndarray:
    if link == "hermite":
        out = np.zeros(k_star + 1)
        out[k_star] = 1.0
        return out
    try:
        values = [float(c) for c in coefficients.split(",")] if coefficients.strip() else []
    except ValueError:
        raise ConfigError("coefficients", f"must be comma-separated numbers, got {coefficients!r}") from None
    if not values:
        raise ConfigError("coefficients", "link=custom needs coefficients c_0,c_1,...")
    if len(values) > MAX_DEGREE + 1:
        raise ConfigError("coefficients", f"at most degree {MAX_DEGREE} ({MAX_DEGREE + 1} coefficients)")
    if not all(np.isfinite(values)):
        raise ConfigError("coefficients", "must be finite")
    return np.array(values)
