"""Config of the hier-poly family (docs/families/hier-poly.md; Wang, Nichani, Lee 2023; Fu, Wang, Nichani, Lee 2024)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from probe_models.config import param
from probe_models.errors import ConfigError
from probe_models.families.three_layer.config import check_split, stage1_samples
from probe_models.gaussian.data import DISTRIBUTIONS
from probe_models.gaussian.links import MAX_DEGREE, checked_link, link_coefficients

PAPER = "Wang, Nichani, Lee (2023). Learning Hierarchical Polynomials with Three-Layer Neural Networks"

MAX_FEATURE_DEGREE = 6
MAX_FEATURES = 16


@dataclass(frozen=True)
class HierPolyConfig:
    learner: str = param(
        "three-layer",
        "three-layer: the bottleneck network c·σ2(a·z(x) + b), z = u·σ1(Vx) fitted first; random-features: ridge "
        "on ReLU(Vx) over all n samples (the kernel baseline)",
        choices=("three-layer", "random-features"),
    )
    dim: int = param(16, "d, the input dimension", min=2, max=4096)
    inputs: str = param("sphere", "x uniform on the sphere of radius √d, or N(0, I_d)", choices=DISTRIBUTIONS)
    feature: str = param(
        "quadratic", "p: quadratic xᵀAx, or hermite-sum d^{-1/2} Σ_i h_k(x_i) of degree k",
        choices=("quadratic", "hermite-sum"),
    )  # fmt: skip
    degree: int = param(3, "hermite-sum: k, the degree of p", min=1, max=MAX_FEATURE_DEGREE)
    features: int = param(
        1, "r: quadratic features p_i = xᵀA_i x, the A_i Frobenius-orthonormal (r > 1 needs feature=quadratic, r <= d)",
        min=1, max=MAX_FEATURES,
    )  # fmt: skip
    interaction: float = param(
        0.0, "β: g(z) = σ(Σ_i z_i/√r) + β Σ_{i<j} z_i z_j/√(r(r−1)/2), σ the link (r > 1)", min=-10.0, max=10.0
    )
    quadratic: str = param(
        "spread", "A = Q diag(±1) Qᵀ/√(2d) (spread), or a traceless GOE matrix (gaussian); both ‖A‖_F = 1/√2",
        choices=("spread", "gaussian"),
    )  # fmt: skip
    link: str = param("custom", "g = h_q (hermite) or Σ_k c_k h_k (custom); y = g(p(x))",
                      choices=("hermite", "custom"))  # fmt: skip
    link_degree: int = param(2, "hermite: q, the degree of g = h_q", min=1, max=MAX_DEGREE)
    coefficients: str = param("0,0.6,0.8", "custom: c_0,c_1,... of g in normalized Hermite polynomials")
    samples: int = param(8192, "n, the training samples every learner sees", min=16, max=10_000_000)
    stage1_fraction: float = param(0.75, "three-layer: the share of the n samples that fits z (the rest fits c)",
                                   min=0.05, max=0.95)  # fmt: skip
    validation: int = param(2000, "fresh samples on which each ridge fit picks its λ (not counted in n)",
                            min=16, max=1_000_000)  # fmt: skip
    width1: int = param(2048, "m1: frozen random features σ1(Vx)", min=1, max=100_000)
    width2: int = param(512, "m2: outer units σ2(a·z + b)", min=1, max=100_000)
    activation: str = param(
        "hermite",
        "σ1: hermite = h_k, k the degree of p (2 for quadratic): the features span exactly the degree-k "
        "polynomials, so the stage-1 fit is y's projection on them, ∝ p; abs = |z| − E|z|; relu",
        choices=("hermite", "abs", "relu"),
    )
    bias_range: float = param(3.0, "stage-2 biases b ~ U[−r, r] (z is standardized on the stage-1 data)",
                              min=0.0, max=1e6)  # fmt: skip
    stage1_steps: int = param(300, "r > 1: full-batch AdamW steps on the quadratic layer in stage 1", min=1,
                              max=1_000_000)  # fmt: skip
    stage1_lr: float = param(0.01, "r > 1: the stage-1 AdamW learning rate", min=0.0, max=10.0)
    weight_decay: float = param(1e-3, "r > 1: λ, the stage-1 weight decay on W and u", min=0.0, max=10.0)
    quadratic_units: int = param(8, "r > 1: units of the quadratic layer (at least r)", min=1, max=4096)
    num_seeds: int = param(1, "K replicas trained at once, each with its own p, network and samples", min=1, max=64)

    @property
    def link_coefficients(self) -> np.ndarray:
        return link_coefficients(self.link, self.link_degree, self.coefficients)

    @property
    def feature_degree(self) -> int:
        return 2 if self.feature == "quadratic" else self.degree

    @property
    def stage1_samples(self) -> int:
        return stage1_samples(self.samples, self.stage1_fraction)

    def check(self) -> None:
        checked_link(self.link, self.link_degree, self.coefficients, HierPolyConfig.coefficients)
        if self.features > 1:
            if self.feature != "quadratic":
                raise ConfigError("features", "r > 1 features are quadratic: set feature=quadratic")
            if self.features > self.dim:
                raise ConfigError("features", f"r = {self.features} > d = {self.dim}: at most d features")
            if self.quadratic_units < self.features:
                raise ConfigError("quadratic_units", f"at least r = {self.features} units to span r features")
        if self.feature == "hermite-sum" and self.degree == 2 and self.inputs == "sphere":
            raise ConfigError("degree", "a degree-2 Hermite sum is (‖x‖² − d)/√(2d) = 0 on the sphere: use "
                              "inputs=gaussian, or feature=quadratic")  # fmt: skip
        if self.learner == "three-layer":
            check_split(self.samples, self.stage1_fraction)
