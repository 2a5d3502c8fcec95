"""Config of the three-layer family (docs/families/three-layer.md; Nichani, Damian, Lee 2023)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from probe_models.config import param
from probe_models.errors import ConfigError
from probe_models.gaussian.data import DISTRIBUTIONS
from probe_models.gaussian.links import MAX_DEGREE, checked_link, link_coefficients

PAPER = "Nichani, Damian, Lee (2023). Provable Guarantees for Nonlinear Feature Learning in Three-Layer Neural Networks"

LEARNERS = ("three-layer", "two-layer", "random-features")


@dataclass(frozen=True)
class ThreeLayerConfig:
    learner: str = param(
        "three-layer",
        "three-layer: layer-wise a·σ2(W σ1(Vx) + b); two-layer: c·ReLU(Ux + b) trained end to end by Adam; "
        "random-features: ridge on ReLU(Vx) (a kernel). All three see the same samples",
        choices=LEARNERS,
    )
    dim: int = param(16, "d, the input dimension", min=2, max=4096)
    inputs: str = param("sphere", "x uniform on the sphere of radius √d, or N(0, I_d)", choices=DISTRIBUTIONS)
    feature: str = param(
        "quadratic", "the hidden feature p: quadratic xᵀAx, or linear w*·x (a single-index target)",
        choices=("quadratic", "linear"),
    )  # fmt: skip
    quadratic: str = param(
        "spread", "A = Q diag(±1) Qᵀ/√(2d) (spread), or a traceless GOE matrix (gaussian); both ‖A‖_F = 1/√2",
        choices=("spread", "gaussian"),
    )  # fmt: skip
    link: str = param("custom", "g = h_q (hermite) or Σ_k c_k h_k (custom); y = g(p(x))",
                      choices=("hermite", "custom"))  # fmt: skip
    link_degree: int = param(3, "hermite: q, the degree of g = h_q", min=1, max=MAX_DEGREE)
    coefficients: str = param("0,0.6,0,0.8", "custom: c_0,c_1,... of g in normalized Hermite polynomials")
    samples: int = param(8192, "n, the training samples every learner sees", min=16, max=10_000_000)
    stage1_fraction: float = param(
        0.75, "three-layer: the share of the n samples stage 1 uses (the rest fits a)", min=0.05, max=0.95
    )
    validation: int = param(2000, "fresh samples on which each ridge fit picks its λ (not counted in n)",
                            min=16, max=1_000_000)  # fmt: skip
    width1: int = param(2048, "m1: frozen first-layer units (random features)", min=1, max=100_000)
    width2: int = param(512, "m2: second-layer units (two-layer: its width)", min=1, max=100_000)
    activation: str = param(
        "abs",
        "σ1: abs = |z| − E|z| (ReLU less its linear part; even, so stage 1 picks up no degree-1 noise), or relu",
        choices=("abs", "relu"),
    )
    gd_steps: int = param(1, "three-layer: GD steps on W in stage 1, from W = 0", min=1, max=100)
    feature_scale: float = param(
        1.0, "three-layer: η makes the first step's pre-activations W σ1(Vx) have this RMS on the stage-1 data",
        min=1e-6, max=1e6,
    )  # fmt: skip
    bias_range: float = param(3.0, "three-layer: stage-2 biases b ~ U[−r, r] (the feature has RMS feature_scale)",
                              min=0.0, max=1e6)  # fmt: skip
    lr: float = param(0.003, "two-layer: the Adam learning rate (the job's steps are its steps)", min=0.0, max=10.0)
    batch_size: int = param(1024, "two-layer: samples per Adam step, drawn afresh each step (0: all n)",
                            min=0, max=10_000_000)  # fmt: skip
    num_seeds: int = param(1, "K replicas trained at once, each with its own A, network and samples", min=1, max=64)

    @property
    def link_coefficients(self) -> np.ndarray:
        return link_coefficients(self.link, self.link_degree, self.coefficients)

    @property
    def stage1_samples(self) -> int:
        return stage1_samples(self.samples, self.stage1_fraction)

    def check(self) -> None:
        checked_link(self.link, self.link_degree, self.coefficients, ThreeLayerConfig.coefficients)
        if self.learner == "three-layer":
            check_split(self.samples, self.stage1_fraction)


def stage1_samples(samples: int, fraction: float) -> int:
    """The samples of a layer-wise network's first stage; the rest fit its last layer."""
    return max(1, round(samples * fraction))


def check_split(samples: int, fraction: float) -> None:
    if samples - stage1_samples(samples, fraction) < 1:
        raise ConfigError("samples", "stage 2 needs at least one sample")
