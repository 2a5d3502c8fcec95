"""The ntk-escape family: the NTK, the QuadNTK and their combination on dense-plus-sparse targets.

Nichani, Bai, Lee (2022), PAPERS.md §8. The three learners see the same n
samples of f*(x) = c1·βᵀx/√d + c2·x_1⋯x_p (x on the sphere of radius √d) and
move the same two-layer network away from its symmetric initialization W0
(f = 0 there) by Δ; what differs is which Taylor terms of f(W0 + Δ) predict
(see :mod:`networks`) and how Δ is regularized:

- ntk: f_L(Δ), a linear model: (1/n)‖f_L − y‖² + λ‖Δ‖² is solved in
  closed form as kernel ridge regression with the analytic NTK (λ picked on
  a validation sample), or trained by Adam / GD to the same minimizer.
- quad-ntk: f_Q(Δ) alone with λ1‖Δ‖_{2,4}^8, the regularizer of Bai & Lee
  (2020), from a small random Δ (the gradient of f_Q vanishes at Δ = 0).
- combined: f_L(Δ) + f_Q(Δ) with λ1‖Δ‖_{2,4}^8 + λ2‖P_k Δ‖². The paper's
  regularizer keeps the large movement the quadratic term needs out of the
  "bad" directions, the top eigenspace of the NTK feature covariance
  Σ = E[∇f_L(x)∇f_L(x)ᵀ], where any movement changes f_L and so the
  low-degree fit (§4-5 of the paper: the good directions are those Σ's
  top eigenvectors do not span). We penalize the projection on the top-k
  eigenvectors of Σ estimated on fresh unlabeled inputs; k = 1 + d (the
  constant and linear directions, the span of the dense part) by default.
  The text of the paper was not at hand when this was written: the
  regularizer follows its description, not a transcription of its
  equation, and λ1, λ2 and k are our choices (set in the reproduction, where
  the measurement behind them is recorded).

Test error is MSE / Var f*, so 1 is the error of predicting 0 (f* has mean 0);
dense_captured and sparse_captured are the coefficients of each part in the
prediction (1: fitted, 0: missed; the two parts are orthogonal).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from probe_models.families.ntk_escape.config import NTKEscapeConfig
from probe_models.families.ntk_escape.networks import TERMS, TaylorNet, good_direction_penalty, norm_24
from probe_models.families.ntk_escape.reproduce import PAPER, NTKEscapeReproduction
from probe_models.families.ntk_escape.target import Sample, Target
from probe_models.family import CPU, Evaluation, Family, LoadedModel, ObjectiveBatch, SharpnessData, TrainingRun
from probe_models.gaussian.ridge import LAMBDAS
from probe_models.optim_state import OneOptimizerState

TEST_SAMPLES = 4000


def build(config: NTKEscapeConfig) -> TaylorNet:
    return TaylorNet(config.dim, config.width, config.activation, TERMS[config.learner])


def initialized(config: NTKEscapeConfig, seed: int) -> TaylorNet:
    module = build(config)
    module.initialize(seed, 0.0 if config.learner == "ntk" else config.init_scale)
    return module


@torch.no_grad()
def bad_directions(module: TaylorNet, x: torch.Tensor, k: int) -> torch.Tensor:
    """The top-k eigenvectors of the NTK feature covariance on the sample x, [k, m·d], orthonormal.

    The features J [N, m·d] are never formed: JJᵀ is the kernel matrix, and
    its eigenvectors U give Σ's as JᵀU/√eigenvalue.
    """
    values, vectors = torch.linalg.eigh(module.kernel(x, x).double())
    values, vectors = values[-k:].clamp_min(1e-30), vectors[:, -k:]
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
    def __init__(self, config: NTKEscapeConfig, seed: int, steps: int, device: torch.device) -> None:
        self.config, self.seed, self.device = config, seed, device
        self.task = Target(config, seed)
        self.train = self.task.draw(config.samples, device, "train", noisy=True)
        self.test = self.task.draw(TEST_SAMPLES, device, "test")
        self.model = initialized(config, seed).to(device)
        self.z = self.train.x @ self.model.w0.T
        self.closed_form = config.solver == "closed-form"
        self.steps = 1 if self.closed_form else steps
        parameters = self.model.parameters()
        self.optimizer = (
            None if self.closed_form
            else torch.optim.Adam(parameters, lr=config.lr) if config.solver == "adam"
            else torch.optim.SGD(parameters, lr=config.lr)
        )  # fmt: skip
        self.directions: torch.Tensor | None = None
        if config.learner == "combined" and config.reg_good > 0:
            reference = self.task.draw(config.reference, device, "reference").x  # unlabeled
            self.directions = bad_directions(self.model, reference, config.directions)
        self.lam = math.nan

    def objective(self, module: TaylorNet) -> tuple[torch.Tensor, torch.Tensor]:
        """(the training loss (1/n)‖f − y‖², the whole objective with every regularizer)."""
        config = self.config
        loss = (module.predict(self.train.x, self.z) - self.train.y).pow(2).mean()
        total = loss + config.ridge * module.delta.pow(2).sum()
        if config.learner != "ntk" and config.reg_norm > 0:
            total = total + config.reg_norm * norm_24(module.delta)
        if self.directions is not None:
            total = total + config.reg_good * good_direction_penalty(module.delta, self.directions)
        return loss, total

    def train_step(self, step: int) -> dict[str, float]:
        if self.closed_form:
            return self._kernel_regression()
        loss, total = self.objective(self.model)
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
        best = (math.inf, None, math.nan)
        for lam in lams:
            alpha = vectors @ (projected / (values + n * lam))
            error = 0.0 if len(lams) == 1 else float((cross @ alpha - validation.y.double()).pow(2).mean())
            if error < best[0]:
                best = (error, alpha, lam)
        _, alpha, self.lam = best
        scale = module.feature_scale(x)  # [n, m]
        module.delta.copy_((scale.double().T @ (alpha[:, None] * x.double())).to(module.delta.dtype))
        return {"loss": float((module.predict(x, self.z) - y).pow(2).mean())}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        metrics = error_metrics(self.model.predict(self.test.x), self.test)
        metrics["delta_norm"] = float(self.model.delta.norm())
        if self.directions is not None:
            bad = good_direction_penalty(self.model.delta, self.directions)
            metrics["bad_fraction"] = float(bad / self.model.delta.pow(2).sum().clamp_min(1e-30))
        if not math.isnan(self.lam):
            metrics["ridge_lambda"] = self.lam
        return metrics

    def objective_batch(self, step: int) -> ObjectiveBatch:
        def score(module: nn.Module) -> tuple[torch.Tensor, None]:
            return self.objective(module)[1], None

        return ObjectiveBatch(score, self.config.samples)


class NTKEscape(Family):
    name = "ntk-escape"
    description = "NTK, QuadNTK and both with a good-direction regularizer, on dense low-degree plus sparse targets"
    paper = PAPER
    config_cls = NTKEscapeConfig
    default_steps = 2000
    reproduction = NTKEscapeReproduction()

    def new_run(self, config: NTKEscapeConfig, seed: int, steps: int, device: torch.device = CPU) -> NTKEscapeRun:
        return NTKEscapeRun(config, seed, steps, device)

    def parameter_names(self, config: NTKEscapeConfig) -> list[str]:
        return ["delta"]

    def has_classes(self, config: NTKEscapeConfig) -> bool:
        return False

    def parameter_count(self, config: NTKEscapeConfig) -> int:
        return config.width * (2 * config.dim + 1)  # Δ, W0 and a

    def working_floats(self, config: NTKEscapeConfig) -> int:
        """Kernel ridge holds n×n matrices in float64; Adam/GD about six [n, m] tensors (z, σ', σ'', xΔᵀ, grads)."""
        n = config.samples
        if config.solver == "closed-form":
            return 2 * (3 * n * n + n * config.width)
        reference = config.reference * (config.reference + config.width) if config.learner == "combined" else 0
        return 6 * n * config.width + reference

    def architecture(self, config: NTKEscapeConfig, seed: int) -> torch.nn.Module:
        return build(config)

    @torch.no_grad()
    def evaluate(self, model: LoadedModel, num_sequences: int, eval_seed: int) -> Evaluation:
        sample = Target(model.config, model.seed).draw(num_sequences, model.device, "eval", eval_seed)
        metrics = error_metrics(model.module.predict(sample.x), sample)
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
