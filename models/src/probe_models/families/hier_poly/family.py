"""The hier-poly family: a three-layer network with a width-1 bottleneck learning h = g∘p, against a kernel.

Wang, Nichani, Lee (2023), PAPERS.md §7. The network is
h(x) = c·σ2(a·z(x) + b) + c₀ with the bottleneck z(x) = u·σ1(Vx) + u₀, V
frozen (rows uniform on the sphere), σ1 = h_k for p of degree k, a = ±1, σ2 = ReLU. Stage 1 fits u on
the first n₁ samples by the paper's GD with weight decay on the
random-features model u·σ1(Vx), a strongly convex problem: we compute its
minimizer, the ridge solution, exactly rather than iterate to it, with λ
chosen on a validation sample. Its solution is the projection of y on the
low-degree functions the features span, ∝ p plus small terms, so z learns
p. Stage 2 standardizes z on the stage-1 data, draws b ~ U[−r, r] and fits
c by ridge on the other samples: a one-dimensional fit of g. The baseline
is ridge on the ReLU random features of the same V over all n samples.

Transfer to a new link is a job that starts from a checkpoint and trains
only c and c₀ (`trainable`): stage 1 is then skipped and the learned z
kept, so a few samples of the new g suffice.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from probe_models.errors import InvalidInput, UnsupportedProbe
from probe_models.families.hier_poly.config import HierPolyConfig
from probe_models.families.hier_poly.reproduce import PAPER, HierPolyReproduction
from probe_models.families.three_layer.networks import (
    ACTIVATION_MEANS,
    RandomFeatures,
    alternating_signs,
    unit_rows,
)
from probe_models.family import CPU, Evaluation, Family, LoadedModel, ObjectiveBatch, SharpnessData, TrainingRun
from probe_models.gaussian.features import Features
from probe_models.gaussian.hermite import monomial_coefficients
from probe_models.gaussian.links import polynomial_values
from probe_models.gaussian.metrics import feature_metrics, test_errors
from probe_models.gaussian.ridge import fit_ridge
from probe_models.gaussian.targets import HierarchicalTarget
from probe_models.seeding import generator

TEST_SAMPLES = 2000
PAIRS = (("u", "u0"), ("c", "c0"), ("a", "a0"))  # each ridge fit sets a weight vector and its intercept together


class BottleneckNet(nn.Module):
    """h(x) = c·σ2(a·z(x) + b) + c₀ with the scalar feature z(x) = (u·σ1(Vx) + u₀) / s."""

    def __init__(self, replicas: int, dim: int, width1: int, width2: int, activation: str, degree: int) -> None:
        super().__init__()
        self.activation = activation
        basis = np.zeros(degree + 1)
        basis[degree] = 1.0
        self.monomials = monomial_coefficients(basis)  # h_degree, for activation = hermite
        self.register_buffer("V", torch.zeros(replicas, width1, dim))
        self.u = nn.Parameter(torch.zeros(replicas, width1))
        self.u0 = nn.Parameter(torch.zeros(replicas))
        self.register_buffer("scale", torch.ones(replicas))  # z's standard deviation on the stage-1 data
        self.register_buffer("a", alternating_signs(replicas, width2))
        self.register_buffer("b", torch.zeros(replicas, width2))
        self.c = nn.Parameter(torch.zeros(replicas, width2))
        self.c0 = nn.Parameter(torch.zeros(replicas))

    def first_layer(self, x: torch.Tensor) -> torch.Tensor:
        z = x @ self.V.transpose(1, 2)
        if self.activation == "hermite":
            return polynomial_values(z, self.monomials)
        out = z.abs() if self.activation == "abs" else torch.relu(z)
        return out - ACTIVATION_MEANS[self.activation]

    def feature(self, x: torch.Tensor) -> torch.Tensor:
        """z(x), [K, n]."""
        return ((self.first_layer(x) * self.u[:, None, :]).sum(-1) + self.u0[:, None]) / self.scale[:, None]

    def units(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.a[:, None, :] * self.feature(x)[..., None] + self.b[:, None, :])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.units(x) * self.c[:, None, :]).sum(-1) + self.c0[:, None]


def target(config: HierPolyConfig, seed: int) -> HierarchicalTarget:
    features = Features(config.feature, config.num_seeds, 1, config.dim, seed, quadratic=config.quadratic,
                        degree=config.degree)  # fmt: skip
    return HierarchicalTarget(config.inputs, features, config.link_coefficients, config.num_seeds, config.dim, seed)


def build(config: HierPolyConfig, seed: int) -> nn.Module:
    k, d = config.num_seeds, config.dim
    module: nn.Module
    if config.learner == "three-layer":
        module = BottleneckNet(k, d, config.width1, config.width2, config.activation, config.feature_degree)
    else:
        module = RandomFeatures(k, d, config.width1)
    with torch.no_grad():
        module.V.copy_(unit_rows((k, config.width1), d, generator(seed, "first-layer")))
    return module


@torch.no_grad()
def assess(module: nn.Module, x: torch.Tensor, p: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    metrics = test_errors(module(x), y)
    if isinstance(module, BottleneckNet) and bool(module.u.abs().sum() > 0):
        metrics.update(feature_metrics(module.feature(x), p))
    return metrics


class HierPolyRun(TrainingRun):
    def __init__(self, config: HierPolyConfig, seed: int, device: torch.device) -> None:
        self.config, self.seed, self.device = config, seed, device
        self.task = target(config, seed)
        self.x, _, self.y = self.task.draw(config.samples, device, "train")
        self.validation = self.task.draw(config.validation, device, "validation")
        self.test = self.task.draw(TEST_SAMPLES, device, "test")
        self.model = build(config, seed).to(device)
        self.steps = 2 if config.learner == "three-layer" else 1

    def train_only(self, groups: list[str]) -> None:
        """Freeze the others; a stage whose parameters are frozen is skipped (transfer: refit c alone)."""
        super().train_only(groups)
        names = dict(self.model.named_parameters())
        for weight, intercept in PAIRS:
            if weight in names and names[weight].requires_grad != names[intercept].requires_grad:
                raise InvalidInput(
                    f"{weight} and {intercept} are fitted together by ridge: make both trainable or neither"
                )

    def train_step(self, step: int) -> dict[str, float]:
        model, vx, vy = self.model, self.validation[0], self.validation[2]
        if isinstance(model, RandomFeatures):
            if model.a.requires_grad:
                fit = fit_ridge(model.features(self.x), self.y, model.features(vx), vy)
                self._set(model.a, model.a0, fit.weights, fit.intercept)
        elif step == 0 and model.u.requires_grad:
            x1, y1 = self.x[:, : self.config.stage1_samples], self.y[:, : self.config.stage1_samples]
            fit = fit_ridge(model.first_layer(x1), y1, model.first_layer(vx), vy)
            self._set(model.u, model.u0, fit.weights, fit.intercept)
            with torch.no_grad():
                model.scale.copy_(model.feature(x1).std(dim=1).clamp_min(1e-12))
        elif step == 1 and model.c.requires_grad:
            with torch.no_grad():
                gen = generator(self.seed, "stage2-bias")
                r = self.config.bias_range
                model.b.copy_((torch.rand(model.b.shape, generator=gen) * 2 - 1) * r)
            n1 = self.config.stage1_samples
            fit = fit_ridge(model.units(self.x[:, n1:]).detach(), self.y[:, n1:], model.units(vx).detach(), vy)
            self._set(model.c, model.c0, fit.weights, fit.intercept)
        with torch.no_grad():
            return {"loss": float((model(self.x) - self.y).pow(2).mean())}

    @staticmethod
    def _set(weight: nn.Parameter, intercept: nn.Parameter, w: torch.Tensor, w0: torch.Tensor) -> None:
        with torch.no_grad():
            weight.copy_(w)
            intercept.copy_(w0)

    def evaluate(self) -> dict[str, float]:
        return assess(self.model, *self.test)

    def objective_batch(self, step: int) -> ObjectiveBatch:
        def score(module: nn.Module) -> tuple[torch.Tensor, None]:
            return (module(self.x) - self.y).pow(2).mean(), None

        return ObjectiveBatch(score, self.config.samples * self.config.num_seeds)

    def optimizer_state(self) -> dict[str, torch.Tensor]:
        return {}  # closed-form fits keep no state; the weights and buffers are the whole state

    def restore(self, step: int, weights: dict[str, torch.Tensor], optimizer: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict({k: v.to(self.device) for k, v in weights.items()})


class HierPoly(Family):
    name = "hier-poly"
    description = "Three-layer bottleneck network learning h = g∘p by layer-wise ridge fits, against a kernel"
    paper = PAPER
    config_cls = HierPolyConfig
    default_steps = 2
    reproduction = HierPolyReproduction()

    def new_run(self, config: HierPolyConfig, seed: int, steps: int, device: torch.device = CPU) -> HierPolyRun:
        return HierPolyRun(config, seed, device)

    def has_classes(self, config: HierPolyConfig) -> bool:
        return False

    def parameter_count(self, config: HierPolyConfig) -> int:
        k, d, m1, m2 = config.num_seeds, config.dim, config.width1, config.width2
        if config.learner == "three-layer":
            return k * (m1 * d + m1 + 2 + 3 * m2 + 1)
        return k * (m1 * d + m1 + 1)

    def load(
        self, config: HierPolyConfig, seed: int, weights: dict[str, torch.Tensor], device: torch.device = CPU
    ) -> LoadedModel:
        module = build(config, seed)
        module.load_state_dict(weights)
        return LoadedModel(self, config, seed, module.to(device).eval(), device)

    def evaluate(self, model: LoadedModel, num_sequences: int, eval_seed: int) -> Evaluation:
        x, p, y = target(model.config, model.seed).draw(num_sequences, model.device, "eval", eval_seed)
        metrics = assess(model.module, x, p, y)
        return Evaluation(accuracy=float("nan"), loss=metrics["test_mse"], metrics=metrics)

    def sharpness_data(
        self, model: LoadedModel, num_examples: int, seed: int, whole_training_set: bool = False
    ) -> SharpnessData:
        raise UnsupportedProbe("hier-poly fits its layers in closed form by ridge; it offers no MeasureSharpness")
