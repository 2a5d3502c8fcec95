"""The single-index family: online SGD on the sphere for y = σ(w*·x), vanilla or smoothed.

See docs/families/single-index.md.

A job trains K independent replicas at once — each its own teacher w*,
initialization and fresh sample stream — as one [K, d] tensor, because a
run is a few thousand tiny steps and the sweeps need many seeds. With
`lr_factors` the replicas form step-size groups of num_seeds each, paired
(the same teachers, starts and samples in every group), so a step-size
sweep is one job too. Step t of replica k: x ~ N(0, I_d), y = σ(w*·x); loss 1 − y·σ_λ(w; x) with σ_λ the
closed-form smoothing of :mod:`smoothing` (λ = 0 for vanilla SGD); the
spherical gradient step w ← (w − η∇_S)/‖·‖. A replica recovers weakly when
w·w* ≥ 1/2; from then on it runs with λ = 0 and η_t = min(η_k, 1/(4d))·t_r/t:
the phase-1 η of smoothed SGD is large because λ damps the gradient, and
without λ a step of order 1/d or more holds the overlap down at the noise
floor of the degree-2k* sample loss (measured at d = 64: overlap 0.28 after
3,000 steps with 1/d, 0.85 with 1/(4d)).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from probe_models.capabilities import MeasuresSharpness
from probe_models.errors import UnsupportedProbe
from probe_models.families.single_index.config import SingleIndexConfig
from probe_models.families.single_index.smoothing import smoothed_link_and_slope
from probe_models.family import Evaluation, Family, LoadedModel, ObjectiveBatch, SharpnessData, TrainingRun
from probe_models.gaussian.hermite import monomial_coefficients
from probe_models.gaussian.links import polynomial_values
from probe_models.seeding import generator

PER_SEED_LIMIT = 256  # replicas whose own metrics are reported (aggregates cover all)


class Replicas(nn.Module):
    """K directions on the unit sphere, one per replica."""

    def __init__(self, num_seeds: int, dim: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(num_seeds, dim))

    def directions(self) -> torch.Tensor:
        return self.w / self.w.norm(dim=-1, keepdim=True)


def unit_rows(rows: int, dim: int, gen: torch.Generator) -> torch.Tensor:
    v = torch.randn(rows, dim, generator=gen)
    return v / v.norm(dim=-1, keepdim=True)


def per_group(config: SingleIndexConfig, rows: torch.Tensor) -> torch.Tensor:
    """num_seeds rows repeated for every step-size group: the groups see the same teachers, starts and samples,
    so step sizes are compared on paired replicas."""
    return rows.repeat(len(config.factors), *([1] * (rows.dim() - 1)))


def teachers(config: SingleIndexConfig, seed: int) -> torch.Tensor:
    return per_group(config, unit_rows(config.num_seeds, config.dim, generator(seed, "teacher")))


def step_sizes(config: SingleIndexConfig) -> torch.Tensor:
    """Phase-1 η of each replica: η·f_g for group g."""
    return config.lr * torch.tensor(config.factors).repeat_interleave(config.num_seeds)


def is_even(coefficients: np.ndarray) -> bool:
    return not np.any(coefficients[1::2])


def overlaps(config: SingleIndexConfig, w: torch.Tensor, w_star: torch.Tensor) -> torch.Tensor:
    """w·w* per replica; |w·w*| for an even link, whose loss cannot tell w* from −w*."""
    m = (w * w_star).sum(dim=-1)
    return m.abs() if is_even(config.hermite_coefficients) else m


def population_loss(config: SingleIndexConfig, m: torch.Tensor) -> torch.Tensor:
    """E[1 − σ(w*·x) σ(w·x)] = 1 − Σ_k c_k² m^k for unit w, w* with overlap m."""
    c = config.hermite_coefficients
    return 1.0 - sum((float(c_k) ** 2 * m**k for k, c_k in enumerate(c)), torch.zeros_like(m))


def recovery_summary(recovered_at: torch.Tensor) -> dict[str, float]:
    """Aggregates of the steps of weak recovery (−1: not yet); the median counts the rest as never."""
    steps = sorted(float(s) if s >= 0 else math.inf for s in recovered_at.tolist())
    median = float(np.median(steps)) if steps else math.nan
    done = [s for s in steps if math.isfinite(s)]
    return {
        "recovered_fraction": len(done) / len(steps),
        "recovery_step_median": median if math.isfinite(median) else math.nan,
        "recovery_step_max": max(done) if len(done) == len(steps) else math.nan,
    }


class SingleIndexRun(TrainingRun):
    model: Replicas

    def __init__(self, config: SingleIndexConfig, seed: int, steps: int, device: torch.device) -> None:
        self.config, self.seed, self.steps, self.device = config, seed, steps, device
        self.monomials = monomial_coefficients(config.hermite_coefficients)
        self.w_star = teachers(config, seed).to(device)
        self.model = Replicas(config.replicas, config.dim).to(device)
        with torch.no_grad():
            self.model.w.copy_(per_group(config, unit_rows(config.num_seeds, config.dim, generator(seed, "init"))))
        self.recovered_at = torch.full((config.replicas,), -1, dtype=torch.int64)
        self.lr = step_sizes(config).to(device)
        self.completed = 0  # steps done: a replica not recovered yet is censored there

    def samples(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """x [K, d] and y [K]: replica k's fresh sample of step ``step``."""
        x = torch.randn(self.config.num_seeds, self.config.dim, generator=generator(self.seed, "train", step))
        x = per_group(self.config, x).to(self.device)
        return x, polynomial_values((self.w_star * x).sum(dim=-1), self.monomials)

    @property
    def finished(self) -> bool:
        """Some step-size group has this share of its replicas recovered: the best group is measured then."""
        fraction = self.config.stop_fraction
        groups = (self.recovered_at >= 0).float().reshape(len(self.config.factors), self.config.num_seeds)
        return fraction > 0 and float(groups.mean(dim=1).max()) >= fraction

    def train_step(self, step: int) -> dict[str, float]:
        x, y = self.samples(step)
        recovered = (self.recovered_at >= 0).to(self.device)
        lam = torch.where(recovered, 0.0, self.config.lam).to(x.dtype)
        since = torch.clamp(self.recovered_at, min=1).to(self.device, x.dtype)
        after = self.lr.clamp(max=0.25 / self.config.dim) * since / (step + 1)
        lr = torch.where(recovered, after, self.lr)
        with torch.no_grad():
            w = self.model.w
            a, r2 = (w * x).sum(dim=-1), (x * x).sum(dim=-1)
            value, slope = smoothed_link_and_slope(a, r2, self.monomials, lam, self.config.dim)
            losses, grad = 1.0 - y * value, -(y * slope)[:, None] * x
            tangent = grad - (grad * w).sum(dim=-1, keepdim=True) * w
            moved = w - lr[:, None] * tangent
            w.copy_(moved / moved.norm(dim=-1, keepdim=True))
            m = overlaps(self.config, w, self.w_star).cpu()
        newly = (m >= self.config.recovery) & (self.recovered_at < 0)
        self.recovered_at[newly] = step + 1
        self.completed = step + 1
        return {"loss": float(losses.mean()), "overlap": float(m.mean())}

    def evaluate(self) -> dict[str, float]:
        with torch.no_grad():
            m = overlaps(self.config, self.model.directions(), self.w_star).cpu()
        metrics = {
            "overlap": float(m.mean()),
            "overlap_min": float(m.min()),
            "population_loss": float(population_loss(self.config, m).mean()),
            "steps_completed": float(self.completed),
            **recovery_summary(self.recovered_at),
        }
        if len(self.config.factors) > 1:
            groups = self.recovered_at.reshape(len(self.config.factors), self.config.num_seeds)
            for g, steps in enumerate(groups):
                metrics[f"recovery_step_median_lr{g}"] = recovery_summary(steps)["recovery_step_median"]
        for k in range(min(self.config.replicas, PER_SEED_LIMIT)):
            metrics[f"overlap_{k}"] = float(m[k])
            metrics[f"recovery_step_{k}"] = float(self.recovered_at[k]) if self.recovered_at[k] >= 0 else math.nan
        return metrics

    def objective_batch(self, step: int) -> ObjectiveBatch:
        x, y = self.samples(step)

        def score(module: nn.Module) -> tuple[torch.Tensor, None]:
            assert isinstance(module, Replicas)
            u = (module.directions() * x).sum(dim=-1)
            return (1.0 - y * polynomial_values(u, self.monomials)).mean(), None

        return ObjectiveBatch(score, self.config.replicas)

    def optimizer_state(self) -> dict[str, torch.Tensor]:
        return {"recovered_at": self.recovered_at.clone()}  # plain SGD keeps no state but the phase of each replica

    def restore(self, step: int, weights: dict[str, torch.Tensor], optimizer: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict({k: v.to(self.device) for k, v in weights.items()})
        self.recovered_at = optimizer.get("recovered_at", torch.full_like(self.recovered_at, -1)).clone()
        self.completed = step


class SingleIndex(Family, MeasuresSharpness):
    name = "single-index"
    description = "Online SGD learning y = σ(w*·x) on the sphere, vanilla or with a smoothed loss"
    paper = "Damian, Nichani, Ge, Lee (2023). Smoothing the Landscape Boosts the Signal for SGD"
    config_cls = SingleIndexConfig
    default_steps = 20_000

    run_cls = SingleIndexRun

    def has_classes(self, config: SingleIndexConfig) -> bool:
        return False  # a regression target

    def parameter_count(self, config: SingleIndexConfig) -> int:
        return config.replicas * config.dim

    def architecture(self, config: SingleIndexConfig, seed: int) -> torch.nn.Module:
        return Replicas(config.replicas, config.dim)

    @torch.no_grad()
    def evaluate(self, model: LoadedModel, num_sequences: int, eval_seed: int) -> Evaluation:
        config, module = model.config, model.module
        assert isinstance(module, Replicas)
        w, w_star = module.directions(), teachers(config, model.seed).to(model.device)
        monomials = monomial_coefficients(config.hermite_coefficients)
        x = torch.randn(num_sequences, config.replicas, config.dim, generator=generator(eval_seed, "eval"))
        x = x.to(model.device)
        y = polynomial_values((x * w_star).sum(dim=-1), monomials)
        loss = float((1.0 - y * polynomial_values((x * w).sum(dim=-1), monomials)).mean())
        m = overlaps(config, w, w_star).cpu()
        metrics = {
            "overlap": float(m.mean()),
            "overlap_min": float(m.min()),
            "recovered_fraction": float((m >= config.recovery).float().mean()),
            "population_loss": float(population_loss(config, m).mean()),
            "lam": config.lam,
        }
        for k in range(min(config.replicas, PER_SEED_LIMIT)):
            metrics[f"overlap_{k}"] = float(m[k])
        return Evaluation(accuracy=metrics["recovered_fraction"], loss=loss, metrics=metrics)

    def sharpness_data(
        self, model: LoadedModel, num_examples: int, seed: int, whole_training_set: bool = False
    ) -> SharpnessData:
        if whole_training_set:
            raise UnsupportedProbe("single-index trains online on fresh samples: it has no finite training set")
        config = model.config
        monomials = monomial_coefficients(config.hermite_coefficients)
        w_star = teachers(config, model.seed)
        x = torch.randn(num_examples, config.replicas, config.dim, generator=generator(seed, "sharpness"))
        y = polynomial_values((x * w_star).sum(dim=-1), monomials)

        def loss(module: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            assert isinstance(module, Replicas)
            return (1.0 - targets * polynomial_values((inputs * module.directions()).sum(dim=-1), monomials)).mean()

        return SharpnessData(x, y, loss, f"{num_examples} samples per replica drawn with seed {seed}")
