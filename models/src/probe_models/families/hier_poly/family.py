"""The hier-poly family: a three-layer network with a width-1 bottleneck learning h = g∘p, against a kernel.

Wang, Nichani, Lee (2023), docs/families/hier-poly.md. The network is
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

r > 1 quadratic features (Fu, Wang, Nichani, Lee 2024): a linear fit of y
on the random features sees only the one quadratic direction of y's
degree-2 part; the others live in its degree-4 part, products p_i p_j. So
stage 1 trains a quadratic middle layer Σ_j ε_j (w_j·σ1(Vx))² + u·σ1(Vx)
by full-batch AdamW with weight decay (the decay keeps Wᵀdiag(ε)W low rank,
as a nuclear norm would), and the width-r bottleneck keeps the top-r
eigenvectors of Wᵀdiag(ε)W; stage 2 is ridge on σ2(a·z + b) with random unit
directions a. We tried training a width-r bottleneck end to end by Adam
first: at d = 8 it found the sum direction only (second principal angle 87°
after 3,000 steps). The paper's own stage-1 construction differs in its
details; the quadratic layer is ours.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from probe_models.families.hier_poly.config import PAPER, HierPolyConfig
from probe_models.families.hier_poly.networks import BottleneckNet, SpanNet
from probe_models.families.three_layer.networks import RandomFeatures, unit_rows
from probe_models.family import (
    Evaluation,
    Family,
    LoadedModel,
    ObjectiveBatch,
    TrainingRun,
    in_group,
)
from probe_models.gaussian.features import Features
from probe_models.gaussian.metrics import feature_metrics, principal_angles, span_metrics, test_errors
from probe_models.gaussian.ridge import check_fitted_together, fit_ridge
from probe_models.gaussian.targets import HierarchicalTarget
from probe_models.optim_state import OneOptimizerState
from probe_models.seeding import generator

TEST_SAMPLES = 2000


def target(config: HierPolyConfig, seed: int) -> HierarchicalTarget:
    features = Features(config.feature, config.num_seeds, config.features, config.dim, seed,
                        quadratic=config.quadratic, degree=config.degree, inputs=config.inputs)  # fmt: skip
    return HierarchicalTarget(config.inputs, features, config.link_coefficients, config.num_seeds, config.dim, seed,
                              interaction=config.interaction)  # fmt: skip


def build(config: HierPolyConfig, seed: int) -> nn.Module:
    k, d = config.num_seeds, config.dim
    module: nn.Module
    if config.learner == "three-layer" and config.features > 1:
        module = SpanNet(k, d, config.width1, config.width2, config.activation, config.feature_degree,
                         config.features, config.quadratic_units)  # fmt: skip
        with torch.no_grad():
            gen = generator(seed, "quadratic-layer")
            module.W.copy_(torch.randn(module.W.shape, generator=gen) * (0.1 / math.sqrt(config.width1)))
    elif config.learner == "three-layer":
        module = BottleneckNet(k, d, config.width1, config.width2, config.activation, config.feature_degree)
    else:
        module = RandomFeatures(k, d, config.width1)
    with torch.no_grad():
        module.V.copy_(unit_rows((k, config.width1), d, generator(seed, "first-layer")))
    return module


@torch.no_grad()
def assess(module: nn.Module, task: HierarchicalTarget, x: torch.Tensor, p: torch.Tensor,
           y: torch.Tensor) -> dict[str, float]:  # fmt: skip
    """Test error; the learned feature against p (r = 1) or the learned span against span{A_i} (r > 1)."""
    metrics = test_errors(module(x), y)
    if isinstance(module, BottleneckNet) and bool(module.u.abs().sum() > 0):
        metrics.update(feature_metrics(module.feature(x), p[..., 0]))
    if isinstance(module, SpanNet) and bool(module.Q.abs().sum() > 0):
        true = task.features.matrices.to(module.Q.device, module.Q.dtype)
        metrics.update(span_metrics(principal_angles(module.quadratic_forms(), true)))
    return metrics


class HierPolyRun(OneOptimizerState, TrainingRun):
    """Step 0 (r = 1) or steps 0 … T−1 (r > 1, AdamW) fit the bottleneck; the last step fits c by ridge."""

    def __init__(self, config: HierPolyConfig, seed: int, steps: int, device: torch.device) -> None:
        del steps  # the config's stages set how many steps the run takes (finished() ends the job)
        self.config, self.seed, self.device = config, seed, device
        self.task = target(config, seed)
        self.x, _, self.y = self.task.draw(config.samples, device, "train")
        self.validation = self.task.draw(config.validation, device, "validation")
        self.test = self.task.draw(TEST_SAMPLES, device, "test")
        self.model = build(config, seed).to(device)
        self.optimizer: torch.optim.Optimizer | None = None
        if isinstance(self.model, SpanNet):
            m = self.model
            self.optimizer = torch.optim.AdamW(
                [{"params": [m.W, m.u], "weight_decay": config.weight_decay}, {"params": [m.u0], "weight_decay": 0.0}],
                lr=config.stage1_lr,
            )
        self.stage1_steps = config.stage1_steps if isinstance(self.model, SpanNet) else 1
        self.steps = self.stage1_steps + 1 if config.learner == "three-layer" else 1
        self.n1 = config.stage1_samples

    def train_only(self, groups: list[str]) -> None:
        """Freeze the others; a stage whose parameters are frozen is skipped (transfer: refit c alone)."""
        names = {name for name, _ in self.model.named_parameters()}
        check_fitted_together(names, {n for n in names if any(in_group(n, g) for g in groups)})
        super().train_only(groups)

    def train_step(self, step: int) -> dict[str, float]:
        model = self.model
        if isinstance(model, RandomFeatures):
            if model.a.requires_grad:
                self._fit(model.a, model.a0, model.features, self.x, self.y)
        elif step < self.stage1_steps:
            self._stage1_step(step)
        elif model.c.requires_grad:
            self._stage2()
        with torch.no_grad():
            return {"loss": float((model(self.x) - self.y).pow(2).mean())}

    def _fit(
        self, weight: nn.Parameter, intercept: nn.Parameter, features: Callable[[torch.Tensor], torch.Tensor],
        x: torch.Tensor, y: torch.Tensor,
    ) -> None:  # fmt: skip
        """Ridge of y on features(x), λ picked on the validation sample."""
        vx, vy = self.validation[0], self.validation[2]
        with torch.no_grad():
            fit = fit_ridge(features(x), y, features(vx), vy)
            weight.copy_(fit.weights)
            intercept.copy_(fit.intercept)

    def _stage1_step(self, step: int) -> None:
        model, x1, y1 = self.model, self.x[:, : self.n1], self.y[:, : self.n1]
        if isinstance(model, BottleneckNet):
            if model.u.requires_grad:  # the minimizer of GD with weight decay on u·σ1(Vx), in closed form
                self._fit(model.u, model.u0, model.first_layer, x1, y1)
                with torch.no_grad():
                    model.scale.copy_(model.feature(x1).std(dim=1).clamp_min(1e-12))
            return
        assert isinstance(model, SpanNet) and self.optimizer is not None
        if not model.W.requires_grad:
            return
        loss = (model.stage1(model.first_layer(x1)) - y1).pow(2).mean(dim=1).sum()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if step == self.stage1_steps - 1:
            with torch.no_grad():
                model.Q.copy_(model.learned_directions())
                raw = model.first_layer(x1) @ model.Q.transpose(1, 2)
                model.shift.copy_(raw.mean(dim=1))
                model.scale.copy_(raw.std(dim=1).clamp_min(1e-12))

    def _stage2(self) -> None:
        model = self.model
        assert isinstance(model, (BottleneckNet, SpanNet))
        with torch.no_grad():
            gen = generator(self.seed, "stage2-bias")
            model.b.copy_((torch.rand(model.b.shape, generator=gen) * 2 - 1) * self.config.bias_range)
            if isinstance(model, SpanNet):
                directions = torch.randn(model.a.shape, generator=generator(self.seed, "stage2-directions"))
                model.a.copy_(directions / directions.norm(dim=-1, keepdim=True))
        self._fit(model.c, model.c0, model.units, self.x[:, self.n1 :], self.y[:, self.n1 :])

    def evaluate(self) -> dict[str, float]:
        return assess(self.model, self.task, *self.test)

    def objective_batch(self, step: int) -> ObjectiveBatch:
        def score(module: nn.Module) -> tuple[torch.Tensor, None]:
            return (module(self.x) - self.y).pow(2).mean(), None

        return ObjectiveBatch(score, self.config.samples * self.config.num_seeds)


class HierPoly(Family):
    name = "hier-poly"
    description = "Three-layer bottleneck network learning h = g∘p by layer-wise ridge fits, against a kernel"
    paper = PAPER
    config_cls = HierPolyConfig
    default_steps = 2

    run_cls = HierPolyRun

    def parameter_names(self, config: HierPolyConfig) -> list[str]:
        return [name for name, _ in build(config, 0).named_parameters()]  # without drawing the n samples

    def check_trainable(self, config: HierPolyConfig, groups: list[str]) -> set[str]:
        trainable = super().check_trainable(config, groups)
        check_fitted_together(set(self.parameter_names(config)), trainable)
        return trainable

    def has_classes(self, config: HierPolyConfig) -> bool:
        return False

    def parameter_count(self, config: HierPolyConfig) -> int:
        k, d, m1, m2, r = config.num_seeds, config.dim, config.width1, config.width2, config.features
        if config.learner == "three-layer" and r > 1:
            mq = config.quadratic_units
            return k * (m1 * d + mq * m1 + mq + m1 + 1 + r * m1 + 2 * r + m2 * r + 2 * m2 + 1)
        if config.learner == "three-layer":
            return k * (m1 * d + m1 + 2 + 3 * m2 + 1)
        return k * (m1 * d + m1 + 1)

    def architecture(self, config: HierPolyConfig, seed: int) -> torch.nn.Module:
        return build(config, seed)

    def evaluate(self, model: LoadedModel, num_sequences: int, eval_seed: int) -> Evaluation:
        task = target(model.config, model.seed)
        metrics = assess(model.module, task, *task.draw(num_sequences, model.device, "eval", eval_seed))
        return Evaluation(accuracy=float("nan"), loss=metrics["test_mse"], metrics=metrics)
