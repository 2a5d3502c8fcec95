"""Config of the single-index family (docs/families/single-index.md; Damian, Nichani, Ge, Lee 2023)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from probe_models.config import param
from probe_models.errors import ConfigError
from probe_models.gaussian.links import MAX_DEGREE, checked_link, link_coefficients

MAX_REPLICAS = 4096
MAX_FACTORS = 16


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
    lr_factors: str = param(
        "1",
        "a step-size sweep inside the job: comma-separated factors f_g; each trains its own num_seeds replicas "
        "at η·f_g (replica k in group k // num_seeds)",
    )
    recovery: float = param(0.5, "weak recovery: the overlap w·w* reaches this", min=0.0, max=1.0)
    stop_fraction: float = param(
        1.0, "end the job once this share of the replicas has recovered weakly (0: run every step)", min=0.0, max=1.0
    )

    @property
    def hermite_coefficients(self) -> np.ndarray:
        return link_coefficients(self.link, self.k_star, self.coefficients)

    @property
    def factors(self) -> tuple[float, ...]:
        return parse_factors(self.lr_factors)

    @property
    def replicas(self) -> int:
        """Every replica of the job: num_seeds per step-size factor."""
        return self.num_seeds * len(self.factors)

    @property
    def lam(self) -> float:
        return self.lam_scale * self.dim**0.25 if self.method == "smoothed" else 0.0

    def check(self) -> None:
        checked_link(self.link, self.k_star, self.coefficients, SingleIndexConfig.coefficients)
        if self.replicas > MAX_REPLICAS:
            raise ConfigError("lr_factors", f"num_seeds x factors is {self.replicas}, at most {MAX_REPLICAS}")


def parse_factors(text: str) -> tuple[float, ...]:
    """The step-size factors of ``lr_factors``: positive, finite, at most MAX_FACTORS of them."""
    try:
        factors = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError("lr_factors", f"must be comma-separated numbers, got {text!r}") from None
    if not 1 <= len(factors) <= MAX_FACTORS:
        raise ConfigError("lr_factors", f"1 to {MAX_FACTORS} factors, got {len(factors)}")
    if not all(math.isfinite(f) and f > 0 for f in factors):
        raise ConfigError("lr_factors", f"factors must be positive and finite, got {text!r}")
    return factors
