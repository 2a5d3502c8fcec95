"""The three-layer family: a layer-wise trained three-layer network against a two-layer network and a kernel.

Nichani, Damian, Lee (2023), docs/families/three-layer.md. The layer-wise learner
(Algorithm 1 of the paper): V frozen with rows uniform on the sphere, W = 0,
a = ±1. Stage 1 takes ``gd_steps`` GD steps on W alone, on the squared loss
over the first n₁ samples, with every bias b = 1 so every unit receives the
gradient; the first step from W = 0 gives every unit the same feature,
W_j σ1(Vx) ∝ a_j Σ_i y_i σ1(Vx_i)·σ1(Vx), the random-features kernel
applied to the target, whose degree-2 part is ∝ xᵀAx. Stage 2 draws fresh
biases b ~ U[−r, r] and fits a by ridge on the other n − n₁ samples. The
baselines see the same n samples: a two-layer ReLU network trained end to
end (full-batch Adam, the job's steps) and ridge on the ReLU random
features of the same V (kernel regression with their kernel).

Every run is K replicas as a batch dimension: replica k has its own A,
network and samples. Errors are reported relative to the target's variance,
so 1 is the error of predicting the mean.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from probe_models.capabilities import MeasuresSharpness
from probe_models.families.three_layer.config import PAPER, ThreeLayerConfig
from probe_models.families.three_layer.networks import RandomFeatures, ThreeLayerNet, TwoLayerNet, unit_rows
from probe_models.family import (
    CPU,
    Evaluation,
    Family,
    LoadedModel,
    ObjectiveBatch,
    SharpnessData,
    TrainingRun,
    in_group,
)
from probe_models.gaussian.features import Features
from probe_models.gaussian.metrics import feature_metrics, test_errors
from probe_models.gaussian.ridge import check_fitted_together, fit_ridge
from probe_models.gaussian.targets import HierarchicalTarget
from probe_models.optim_state import flatten_optimizer_state, load_optimizer_state
from probe_models.seeding import generator

TEST_SAMPLES = 2000  # the held-out sample behind the progress metrics


def target(config: ThreeLayerConfig, seed: int) -> HierarchicalTarget:
    """y = g(p(x)) of every replica, with p = xᵀAx or w*·x."""
    features = Features(config.feature, config.num_seeds, 1, config.dim, seed, quadratic=config.quadratic)
    return HierarchicalTarget(config.inputs, features, config.link_coefficients, config.num_seeds, config.dim, seed)


def build(config: ThreeLayerConfig) -> nn.Module:
    k, d = config.num_seeds, config.dim
    if config.learner == "three-layer":
        return ThreeLayerNet(k, d, config.width1, config.width2, config.activation)
    if config.learner == "two-layer":
        return TwoLayerNet(k, d, config.width2)
    return RandomFeatures(k, d, config.width1)


def initialize(module: nn.Module, config: ThreeLayerConfig, seed: int) -> None:
    """The seeded initialization: V for both random-feature models, U for the two-layer network."""
    with torch.no_grad():
        if isinstance(module, (ThreeLayerNet, RandomFeatures)):
            module.V.copy_(unit_rows((config.num_seeds, module.V.shape[1]), config.dim, generator(seed, "first-layer")))
        elif isinstance(module, TwoLayerNet):
            gen = generator(seed, "two-layer")
            module.U.copy_(torch.randn(module.U.shape, generator=gen) / math.sqrt(config.dim))


def top_feature(hidden: torch.Tensor) -> torch.Tensor:
    """The first principal component of the units' pre-activations, [K, n]: after one step, the one learned feature."""
    centered = hidden - hidden.mean(dim=1, keepdim=True)
    u, s, _ = torch.linalg.svd(centered.double(), full_matrices=False)
    return (u[..., 0] * s[..., :1]).to(hidden.dtype)


@torch.no_grad()
def assess(module: nn.Module, x: torch.Tensor, p: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Test error (MSE / Var y) per replica and on average; for the layer-wise network, its feature against p."""
    metrics = test_errors(module(x), y)
    if isinstance(module, ThreeLayerNet) and bool(module.W.abs().sum() > 0):
        metrics.update(feature_metrics(top_feature(module.hidden(module.first_layer(x))), p[..., 0]))
    return metrics


class ThreeLayerRun(TrainingRun):
    def __init__(self, config: ThreeLayerConfig, seed: int, steps: int, device: torch.device) -> None:
        self.config, self.seed, self.device = config, seed, device
        self.task = target(config, seed)
        self.x, _, self.y = self.task.draw(config.samples, device, "train")
        self.validation = self.task.draw(config.validation, device, "validation")
        self.test = self.task.draw(TEST_SAMPLES, device, "test")
        self.model = build(config).to(device)
        initialize(self.model, config, seed)
        self.steps = {"three-layer": config.gd_steps + 1, "random-features": 1}.get(config.learner, steps)
        adam = config.learner == "two-layer"
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr) if adam else None
        self.eta: torch.Tensor | None = None  # the stage-1 step size of each replica, fixed by the first step
        self.lam = torch.full((config.num_seeds,), math.nan)

    def train_only(self, groups: list[str]) -> None:
        """Freeze the others; a stage whose parameters are all frozen is skipped (e.g. transfer: refit a alone)."""
        names = {name for name, _ in self.model.named_parameters()}
        check_fitted_together(names, {n for n in names if any(in_group(n, g) for g in groups)})
        super().train_only(groups)

    def _trains(self, name: str) -> bool:
        return getattr(self.model, name).requires_grad

    def train_step(self, step: int) -> dict[str, float]:
        if isinstance(self.model, TwoLayerNet):
            return self._adam_step(step)
        stage1 = isinstance(self.model, ThreeLayerNet) and step < self.config.gd_steps
        if not self._trains("W" if stage1 else "a"):
            return {"loss": self._training_loss()}
        if isinstance(self.model, RandomFeatures):
            return self._fit_random_features()
        return self._stage1_step() if stage1 else self._stage2()

    @torch.no_grad()
    def _training_loss(self) -> float:
        return float((self.model(self.x) - self.y).pow(2).mean())

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The two-layer network's samples of step ``step``: a seeded subset of the n, the same on resume."""
        size, n = self.config.batch_size, self.config.samples
        if size == 0 or size >= n:
            return self.x, self.y
        index = torch.randperm(n, generator=generator(self.seed, "batch", step))[:size].to(self.device)
        return self.x[:, index], self.y[:, index]

    def _adam_step(self, step: int) -> dict[str, float]:
        x, y = self.batch(step)
        loss = (self.model(x) - y).pow(2).mean()
        assert self.optimizer is not None, "the two-layer network trains by Adam"
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": float(loss.detach())}

    def _fit_random_features(self) -> dict[str, float]:
        model = self.model
        assert isinstance(model, RandomFeatures)
        vx, _, vy = self.validation
        fit = fit_ridge(model.features(self.x), self.y, model.features(vx), vy)
        with torch.no_grad():
            model.a.copy_(fit.weights)
            model.a0.copy_(fit.intercept)
            loss = float((model(self.x) - self.y).pow(2).mean())
        self.lam = fit.lam.float().cpu()
        return {"loss": loss}

    def _stage1_step(self) -> dict[str, float]:
        model, n1 = self.model, self.config.stage1_samples
        assert isinstance(model, ThreeLayerNet)
        first = model.first_layer(self.x[:, :n1])
        loss = (model.head(first) - self.y[:, :n1]).pow(2).mean(dim=1)
        (grad,) = torch.autograd.grad(loss.sum(), model.W)
        with torch.no_grad():
            if self.eta is None:
                moved = (first @ grad.transpose(1, 2)).pow(2).mean(dim=(1, 2)).sqrt()
                self.eta = self.config.feature_scale / moved.clamp_min(1e-30)
            model.W.sub_(self.eta[:, None, None] * grad)
        return {"loss": float(loss.detach().mean())}

    def _stage2(self) -> dict[str, float]:
        model, n1, r = self.model, self.config.stage1_samples, self.config.bias_range
        assert isinstance(model, ThreeLayerNet)
        with torch.no_grad():
            gen = generator(self.seed, "stage2-bias")
            model.b.copy_((torch.rand(model.b.shape, generator=gen) * 2 - 1) * r)
            x2, y2 = self.x[:, n1:], self.y[:, n1:]
            vx, _, vy = self.validation
            units = torch.relu(model.hidden(model.first_layer(x2)) + model.b[:, None, :])
            val_units = torch.relu(model.hidden(model.first_layer(vx)) + model.b[:, None, :])
            fit = fit_ridge(units, y2, val_units, vy)
            model.a.copy_(fit.weights)
            model.a0.copy_(fit.intercept)
            loss = float((model(x2) - y2).pow(2).mean())
        self.lam = fit.lam.float().cpu()
        return {"loss": loss}

    def evaluate(self) -> dict[str, float]:
        metrics = assess(self.model, *self.test)
        if not torch.isnan(self.lam).all():
            metrics["ridge_lambda"] = float(self.lam.median())
        return metrics

    def objective_batch(self, step: int) -> ObjectiveBatch:
        def score(module: nn.Module) -> tuple[torch.Tensor, None]:
            return (module(self.x) - self.y).pow(2).mean(), None

        return ObjectiveBatch(score, self.config.samples * self.config.num_seeds)

    def optimizer_state(self) -> dict[str, torch.Tensor]:
        state = flatten_optimizer_state(self.optimizer) if self.optimizer is not None else {}
        if self.eta is not None:
            state["eta"] = self.eta.clone()
        return state

    def restore(self, step: int, weights: dict[str, torch.Tensor], optimizer: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict({k: v.to(self.device) for k, v in weights.items()})
        adam = {k: v for k, v in optimizer.items() if k != "eta"}
        self.eta = optimizer["eta"].to(self.device) if "eta" in optimizer else None
        if self.optimizer is not None and adam:
            load_optimizer_state(self.optimizer, adam)


class ThreeLayer(Family, MeasuresSharpness):
    name = "three-layer"
    description = "Layer-wise three-layer network learning g(xᵀAx), against a two-layer network and random features"
    paper = PAPER
    config_cls = ThreeLayerConfig
    default_steps = 1000

    run_cls = ThreeLayerRun

    def parameter_names(self, config: ThreeLayerConfig) -> list[str]:
        return [name for name, _ in build(config).named_parameters()]  # without drawing the n samples

    def check_trainable(self, config: ThreeLayerConfig, groups: list[str]) -> set[str]:
        trainable = super().check_trainable(config, groups)
        check_fitted_together(set(self.parameter_names(config)), trainable)
        return trainable

    def has_classes(self, config: ThreeLayerConfig) -> bool:
        return False  # a regression target

    def parameter_count(self, config: ThreeLayerConfig) -> int:
        k, d, m1, m2 = config.num_seeds, config.dim, config.width1, config.width2
        if config.learner == "three-layer":
            return k * (m1 * d + m2 * m1 + 2 * m2 + 1)
        if config.learner == "two-layer":
            return k * (m2 * d + 2 * m2 + 1)
        return k * (m1 * d + m1 + 1)

    def architecture(self, config: ThreeLayerConfig, seed: int) -> torch.nn.Module:
        return build(config)

    def evaluate(self, model: LoadedModel, num_sequences: int, eval_seed: int) -> Evaluation:
        task = target(model.config, model.seed)
        x, p, y = task.draw(num_sequences, model.device, "eval", eval_seed)
        metrics = assess(model.module, x, p, y)
        return Evaluation(accuracy=math.nan, loss=metrics["test_mse"], metrics=metrics)

    def sharpness_data(
        self, model: LoadedModel, num_examples: int, seed: int, whole_training_set: bool = False
    ) -> SharpnessData:
        config = model.config
        task = target(config, model.seed)
        if whole_training_set:
            x, _, y = task.draw(config.samples, CPU, "train")
            description = f"the {config.samples} training samples of each replica"
        else:
            x, _, y = task.draw(num_examples, CPU, "sharpness", seed)
            description = f"{num_examples} samples per replica drawn with seed {seed}"

        def loss(module: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return (module(inputs.transpose(0, 1)) - targets.transpose(0, 1)).pow(2).mean()

        return SharpnessData(x.transpose(0, 1), y.transpose(0, 1), loss, description)
