"""The ntk-escape family: the NTK, the QuadNTK and their combination on dense-plus-sparse targets.

Nichani, Bai, Lee (2022), docs/families/ntk-escape.md. The three learners see the same n
samples of f*(x) = c1·βᵀx/√d + c2·x_1⋯x_p (x on the sphere of radius √d) and
move the same two-layer network away from its symmetric initialization W0
(f = 0 there) by Δ; what differs is which Taylor terms of f(W0 + Δ) predict
(see :mod:`networks`) and how Δ is regularized:

- ntk: f_L(Δ), a linear model: (1/n)‖f_L − y‖² + λ‖Δ‖² is solved in
  closed form as kernel ridge regression with the analytic NTK (λ picked on
  a validation sample), or trained by Adam / GD to the same minimizer.
- quad-ntk: f_Q(Δ) alone with λ1‖Δ‖_{2,4}^8, the regularizer of Bai & Lee
  (2020), from a small random Δ (the gradient of f_Q vanishes at Δ = 0).
- combined: f_L(Δ) + f_Q(Δ) from Δ = 0 with the paper's regularizer
  R1(Δ) = ‖(J − J_k)Δ‖²/n, where J [n, m·d] is the NTK Jacobian of the
  network at W0 on the training inputs and J_k its best rank-k
  approximation (k = d): moving Δ is free in the top-k NTK directions,
  which fit the low-degree part, while the linear term's output from every
  other direction is penalized, so the quadratic term must carry the rest.
  The randomized variant (reg_randomized) penalizes f_L(x; Δ − V_kV_kᵀΔ)²
  on fresh inputs each step, V_k J's top-k right singular vectors. Both
  follow the authors' code (eshnich/escape_NTK, neurips_experiment.ipynb):
  GD with weight 0.01 on R1, the randomized term added with its own weight.

Test error is MSE / Var f*, so 1 is the error of predicting 0 (f* has mean 0);
dense_captured and sparse_captured are the coefficients of each part in the
prediction (1: fitted, 0: missed; the two parts are orthogonal).
"""

from __future__ import annotations

import math

import scipy.linalg
import torch
from torch import nn

from probe_models.capabilities import MeasuresSharpness
from probe_models.families.ntk_escape.config import PAPER, NTKEscapeConfig
from probe_models.families.ntk_escape.networks import TERMS, TaylorNet, norm_24, outside_top_k, without_directions
from probe_models.families.ntk_escape.target import Sample, Target
from probe_models.family import CPU, Evaluation, Family, LoadedModel, ObjectiveBatch, SharpnessData, TrainingRun
from probe_models.gaussian.ridge import LAMBDAS
from probe_models.optim_state import OneOptimizerState

TEST_SAMPLES = 4000


def build(config: NTKEscapeConfig) -> TaylorNet:
    return TaylorNet(config.dim, config.width, config.activation, TERMS[config.learner])


def initialized(config: NTKEscapeConfig, seed: int) -> TaylorNet:
    module = build(config)
    module.initialize(seed, config.init_scale if config.learner == "quad-ntk" else 0.0)
    return module


@torch.no_grad()
def top_kernel_eigenvectors(module: TaylorNet, x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The top-k eigenpairs of the NTK matrix K = JJᵀ on x, in float64: (S_k², U_k [N, k]).

    LAPACK's selected-eigenvector driver: at N = 4096, k = 24 it takes 6.5 s where the full eigh takes 18 s.
    """
    kernel = module.kernel(x, x).double().cpu().numpy()
    n = kernel.shape[0]
    values, vectors = scipy.linalg.eigh(kernel, subset_by_index=[n - k, n - 1], driver="evx")
    values, vectors = torch.from_numpy(values).to(x.device), torch.from_numpy(vectors).to(x.device)
    return values.clamp_min(1e-30), vectors


@torch.no_grad()
def top_ntk_directions(
    module: TaylorNet, x: torch.Tensor, eigenpairs: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    """J's top-k right singular vectors V_k on the inputs x, [k, m·d], orthonormal, from JJᵀ's top-k eigenpairs.

    J [N, m·d] is never formed: with JJᵀ = U S² Uᵀ, V_k = JᵀU_k / S_k.
    """
    values, vectors = eigenpairs
    k = vectors.shape[1]
    scale = module.feature_scale(x).double()  # [N, m]
    coefficients = vectors / values.sqrt()  # [N, k]
    directions = torch.einsum("nk,nr,nd->krd", coefficients, scale, x.double())
    return directions.reshape(k, -1).to(x.dtype)


def error_metrics(prediction: torch.Tensor, sample: Sample) -> dict[str, float]:
    truth = sample.dense + sample.sparse
    mse = float((prediction - truth).pow(2).mean())
    captured = {
        f"{name}_captured": float((prediction * part).mean() / part.pow(2).mean().clamp_min(1e-30))
        for name, part in (("dense", sample.dense), ("sparse", sample.sparse))
        if float(part.abs().max()) > 0
    }
    return {"test_error": mse / max(float(truth.pow(2).mean()), 1e-30), "test_mse": mse, **captured}


class NTKEscapeRun(OneOptimizerState, TrainingRun):
    model: TaylorNet

    def __init__(self, config: NTKEscapeConfig, seed: int, steps: int, device: torch.device) -> None:
        self.config, self.seed, self.device = config, seed, device
        self.task = Target(config, seed)
        self.train = self.task.draw(config.samples, device, "train", noisy=True)
        self.test = self.task.draw(TEST_SAMPLES, device, "test")
        self.model = initialized(config, seed).to(device)
        self.slopes = self.model.slopes(self.train.x)
        self.closed_form = config.solver == "closed-form"
        self.steps = 1 if self.closed_form else steps
        parameters = self.model.parameters()
        self.optimizer = (
            None if self.closed_form
            else torch.optim.Adam(parameters, lr=config.lr) if config.solver == "adam"
            else torch.optim.SGD(parameters, lr=config.lr)
        )  # fmt: skip
        self.basis: torch.Tensor | None = None  # U_k, the top-k eigenvectors of the training NTK matrix
        self.directions: torch.Tensor | None = None  # V_k, for the randomized R1
        if config.learner == "combined":
            eigenpairs = top_kernel_eigenvectors(self.model, self.train.x, config.directions)
            self.basis = eigenpairs[1].to(self.train.x.dtype)
            if config.reg_randomized > 0:
                self.directions = top_ntk_directions(self.model, self.train.x, eigenpairs)
        self.lam = math.nan

    def r1(self, module: TaylorNet, linear: torch.Tensor | None = None) -> torch.Tensor:
        """R1(Δ) = ‖(J − J_k)Δ‖²/n on the training inputs; ``linear``: JΔ = f_L(X; Δ) when the caller has it."""
        assert self.basis is not None
        linear = module.linear_term(self.train.x, self.slopes) if linear is None else linear
        return outside_top_k(linear, self.basis).pow(2).mean()

    def randomized_r1(self, module: TaylorNet, step: int) -> torch.Tensor:
        """The mean of f_L(x; Δ − V_kV_kᵀΔ)² over fresh inputs drawn for this step."""
        assert self.directions is not None
        fresh = self.task.draw(self.config.fresh_samples, self.device, "fresh", step).x
        return module.linear_term(fresh, delta=without_directions(module.delta, self.directions)).pow(2).mean()

    def objective(self, module: TaylorNet, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(the training loss (1/n)‖f − y‖², the whole objective with every regularizer)."""
        config = self.config
        linear, quadratic = module.terms_of(self.train.x, self.slopes)
        loss = (linear + quadratic - self.train.y).pow(2).mean()
        total = loss + config.ridge * module.delta.pow(2).sum()
        if config.learner == "quad-ntk" and config.reg_norm > 0:
            total = total + config.reg_norm * norm_24(module.delta)
        if config.learner == "combined" and config.reg_r1 > 0:
            total = total + config.reg_r1 * self.r1(module, linear)
        if self.directions is not None:
            total = total + config.reg_randomized * self.randomized_r1(module, step)
        return loss, total

    def train_step(self, step: int) -> dict[str, float]:
        if self.closed_form:
            return self._kernel_regression()
        loss, total = self.objective(self.model, step)
        assert self.optimizer is not None, "an iterative solver has its optimizer"
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        return {"loss": float(loss.detach()), "objective": float(total.detach())}

    @torch.no_grad()
    def _kernel_regression(self) -> dict[str, float]:
        """Δ = Σ_i α_i ∇f_L(x_i) with α = (K + nλI)⁻¹y: f_L(Δ) is kernel ridge regression with the NTK."""
        module, x, y, n = self.model, self.train.x, self.train.y, self.config.samples
        values, vectors = torch.linalg.eigh(module.kernel(x, x).double())
        projected = vectors.T @ y.double()
        if self.config.ridge > 0:
            lams = [self.config.ridge]
        else:
            validation = self.task.draw(self.config.validation, self.device, "validation", noisy=True)
            unit = float(values.clamp_min(0).mean()) / n  # λ in units of the mean eigenvalue of K/n
            lams = [lam * unit for lam in LAMBDAS]
            cross = module.kernel(validation.x, x).double()
        best: tuple[float, torch.Tensor | None, float] = (math.inf, None, math.nan)
        for lam in lams:
            alpha = vectors @ (projected / (values + n * lam))
            error = 0.0 if len(lams) == 1 else float((cross @ alpha - validation.y.double()).pow(2).mean())
            if error < best[0]:
                best = (error, alpha, lam)
        _, alpha, self.lam = best
        assert alpha is not None, "every λ gave a finite validation error"
        scale = module.feature_scale(x)  # [n, m]
        module.delta.copy_((scale.double().T @ (alpha[:, None] * x.double())).to(module.delta.dtype))
        return {"loss": float((module.predict(x, self.slopes) - y).pow(2).mean())}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        metrics = error_metrics(self.model.predict(self.test.x), self.test)
        metrics["delta_norm"] = float(self.model.delta.norm())
        if self.basis is not None:
            linear = self.model.linear_term(self.train.x, self.slopes).pow(2).mean()
            metrics["r1"] = float(self.r1(self.model))
            metrics["linear_outside_top_k"] = metrics["r1"] / max(float(linear), 1e-30)
        if not math.isnan(self.lam):
            metrics["ridge_lambda"] = self.lam
        return metrics

    def objective_batch(self, step: int) -> ObjectiveBatch:
        def score(module: nn.Module) -> tuple[torch.Tensor, None]:
            assert isinstance(module, TaylorNet)
            return self.objective(module, step)[1], None

        return ObjectiveBatch(score, self.config.samples)


class NTKEscape(Family, MeasuresSharpness):
    name = "ntk-escape"
    description = "NTK, QuadNTK and both with the paper's regularizer R1, on low-degree plus sparse or He2 targets"
    paper = PAPER
    config_cls = NTKEscapeConfig
    default_steps = 2000

    run_cls = NTKEscapeRun

    def parameter_names(self, config: NTKEscapeConfig) -> list[str]:
        return ["delta"]

    def has_classes(self, config: NTKEscapeConfig) -> bool:
        return False

    def parameter_count(self, config: NTKEscapeConfig) -> int:
        return config.width * (2 * config.dim + 1)  # Δ, W0 and a

    def working_floats(self, config: NTKEscapeConfig) -> int:
        """Kernel ridge and R1 hold n×n float64 matrices; Adam/GD about six [n, m] tensors (z, σ', σ'', xΔᵀ, grads)."""
        n = config.samples
        if config.solver == "closed-form":
            return 2 * (3 * n * n + n * config.width)
        kernel = 2 * (3 * n * n + n * config.width) if config.learner == "combined" else 0  # eigh of JJᵀ, V_k
        return 6 * n * config.width + kernel

    def architecture(self, config: NTKEscapeConfig, seed: int) -> torch.nn.Module:
        return build(config)

    @torch.no_grad()
    def evaluate(self, model: LoadedModel, num_sequences: int, eval_seed: int) -> Evaluation:
        sample = Target(model.config, model.seed).draw(num_sequences, model.device, "eval", eval_seed)
        module = model.module
        assert isinstance(module, TaylorNet)
        metrics = error_metrics(module.predict(sample.x), sample)
        return Evaluation(accuracy=math.nan, loss=metrics["test_mse"], metrics=metrics)

    def sharpness_data(
        self, model: LoadedModel, num_examples: int, seed: int, whole_training_set: bool = False
    ) -> SharpnessData:
        config, task = model.config, Target(model.config, model.seed)
        if whole_training_set:
            sample, described = task.draw(config.samples, CPU, "train", noisy=True), "the training samples"
        else:
            sample, described = task.draw(num_examples, CPU, "sharpness", seed), f"{num_examples} fresh samples"

        def loss(module: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return (module(inputs) - targets).pow(2).mean()

        return SharpnessData(sample.x, sample.y, loss, f"{described} (seed {seed}), loss (1/n)‖f − y‖²")
