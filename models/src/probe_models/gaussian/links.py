"""Links σ = Σ_k c_k h_k given by name or by their normalized Hermite coefficients, evaluated as polynomials.

One parser serves every family whose target passes a feature through a
link (single-index, three-layer, hier-poly), so `link=hermite` and
`link=custom coefficients=…` mean the same thing everywhere.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from probe_models.errors import ConfigError
from probe_models.gaussian.hermite import information_exponent

MAX_DEGREE = 8


@functools.lru_cache(maxsize=64)
def link_coefficients(link: str, degree: int, coefficients: str) -> np.ndarray:
    """c_0 … c_m of the link: h_degree for ``hermite``, the given list for ``custom``."""
    if link == "hermite":
        out = np.zeros(degree + 1)
        out[degree] = 1.0
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


def checked_link(link: str, degree: int, coefficients: str, default_coefficients: str) -> np.ndarray:
    """The coefficients of a config's link; coefficients given to link=hermite and a link with only a mean
    (nothing to learn) are refused."""
    if link == "hermite" and coefficients != default_coefficients:
        raise ConfigError("coefficients", "coefficients are for link=custom")
    values = link_coefficients(link, degree, coefficients)
    information_exponent(values)
    return values


def polynomial_values(u: torch.Tensor, monomials: np.ndarray) -> torch.Tensor:
    """Σ_j m_j u^j, elementwise (Horner)."""
    total = torch.zeros_like(u)
    for j in reversed(range(len(monomials))):
        total = total * u + float(monomials[j])
    return total
