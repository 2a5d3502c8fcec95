"""Config of the ntk-escape family (docs/families/ntk-escape.md; Nichani, Bai, Lee 2022)."""

from __future__ import annotations

from dataclasses import dataclass

from probe_models.config import param
from probe_models.errors import ConfigError
from probe_models.gaussian.data import DISTRIBUTIONS

PAPER = (
    "Nichani, Bai, Lee (2022). Identifying Good Directions to Escape the NTK Regime and Efficiently Learn "
    "Low-Degree Plus Sparse Polynomials"
)

LEARNERS = ("ntk", "quad-ntk", "combined")
ACTIVATIONS = ("tanh", "softplus", "sigmoid-shifted")
TARGETS = ("sparse-product", "he2-linear")


@dataclass(frozen=True)
class NTKEscapeConfig:
    learner: str = param(
        "combined",
        "ntk: the linearized network f_L(Δ) = ⟨∇f(W0), Δ⟩; quad-ntk: the second-order term f_Q(Δ) = ½ΔᵀH Δ alone; "
        "combined: f_L(Δ) + f_Q(Δ) from Δ = 0 with the paper's regularizer R1",
        choices=LEARNERS,
    )
    solver: str = param("adam", "ntk: closed-form kernel ridge with the analytic NTK, or Adam/gd on Δ (the others "
                        "train Δ by adam or gd)", choices=("closed-form", "adam", "gd"))  # fmt: skip
    dim: int = param(32, "d, the input dimension", min=2, max=4096)
    inputs: str = param("sphere", "x uniform on the sphere of radius √d, or N(0, I_d)", choices=DISTRIBUTIONS)
    width: int = param(1024, "m, hidden units (even: the second half mirrors the first with a = -1)", min=2,
                       max=1_000_000)  # fmt: skip
    activation: str = param("tanh", "σ; smooth, so the second-order term is not zero (sigmoid-shifted: "
                            "sigmoid(z − 1), the paper's)", choices=ACTIVATIONS)  # fmt: skip
    target: str = param("sparse-product", "f*: sparse-product, c1·βᵀx/√d + c2·x_1⋯x_p; he2-linear, the paper's "
                        "experiment, (He2(βᵀx) + βᵀx)/√3 with ‖β‖ = 1 (dense: the linear part, sparse: the He2 "
                        "part)", choices=TARGETS)  # fmt: skip
    dense_scale: float = param(1.0, "c1 of the dense part c1·βᵀx/√d, β ~ N(0, I_d) drawn with the seed",
                               min=0.0, max=1e3)  # fmt: skip
    sparse_scale: float = param(1.0, "c2 of the sparse part c2·x_1⋯x_p", min=0.0, max=1e3)
    sparse_degree: int = param(3, "p, the coordinates in the sparse product", min=1, max=64)
    noise: float = param(0.0, "standard deviation of Gaussian label noise on the training labels", min=0.0, max=1e3)
    samples: int = param(4096, "n, training samples (the same n for every learner of a seed)", min=2,
                         max=10_000_000)  # fmt: skip
    validation: int = param(1000, "fresh samples on which closed-form ridge picks λ", min=1, max=1_000_000)
    ridge: float = param(0.0, "λ of (1/n)‖f − y‖² + λ‖Δ‖² (closed-form with 0: λ picked on the validation "
                         "sample)", min=0.0, max=1e6)  # fmt: skip
    lr: float = param(0.01, "adam/gd: the step size (full batch; the job's steps are its steps)", min=0.0, max=1e3)
    init_scale: float = param(0.05, "quad-ntk: Δ starts at N(0, s²/d) per entry (the second-order term has zero "
                              "gradient at Δ = 0); ntk and combined start at Δ = 0, as the paper", min=0.0,
                              max=10.0)  # fmt: skip
    reg_norm: float = param(1e-4, "quad-ntk: λ1 of λ1‖Δ‖_{2,4}^8 (Bai & Lee's regularizer; the combined learner has "
                            "none)", min=0.0, max=1e6)  # fmt: skip
    reg_r1: float = param(0.01, "combined: weight of R1(Δ) = ‖(J − J_k)Δ‖²/n, J the training NTK Jacobian at W0 and "
                          "J_k its best rank-k approximation (the paper's 0.01)", min=0.0, max=1e6)  # fmt: skip
    reg_randomized: float = param(0.0, "combined: weight of the randomized R1, the mean of f_L(x; Δ − V_kV_kᵀΔ)² over "
                                  "fresh inputs each step (V_k: J's top-k right singular vectors)", min=0.0,
                                  max=1e6)  # fmt: skip
    fresh_samples: int = param(100, "fresh inputs per step of the randomized R1", min=1, max=100_000)
    top_k: int = param(0, "k of J_k: the NTK directions left free (0: d, the paper's choice)", min=0, max=1_000_000)

    @property
    def directions(self) -> int:
        return self.top_k or self.dim

    def check(self) -> None:
        if self.width % 2:
            raise ConfigError("width", f"must be even (symmetric initialization pairs units); got {self.width}")
        if self.target == "sparse-product" and self.sparse_degree > self.dim:
            raise ConfigError("sparse_degree", f"p = {self.sparse_degree} exceeds d = {self.dim}")
        if self.solver == "closed-form" and self.learner != "ntk":
            raise ConfigError("solver", f"closed-form is the NTK's kernel regression; {self.learner} trains Δ")
        if self.learner == "combined" and self.directions >= min(self.samples, self.width * self.dim):
            raise ConfigError("top_k", f"k = {self.directions} must be below n = {self.samples} and the m·d = "
                              f"{self.width * self.dim} parameters (J is n × m·d)")  # fmt: skip
