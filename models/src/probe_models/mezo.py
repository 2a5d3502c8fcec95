"""MeZO: zeroth-order SGD with the memory of inference (docs/families/lm-finetune.md; Malladi et al. 2023).

One step with seed s: θ += εz; ℓ+ = L(θ); θ −= 2εz; ℓ− = L(θ); θ += εz;
g = (ℓ+ − ℓ−)/(2ε); θ −= η(g z + λθ), λ only off biases and norms. z ~ N(0, I)
is never stored: each parameter tensor regenerates its z from a seed derived
from s, in chunks of at most :data:`Z_CHUNK` elements, so no copy the size of
the largest tensor is ever made and a step needs only inference memory.
n-SPSA measures n seeds at the same θ and applies their mean.

Any family's run can train this way (:class:`MezoRun` wraps it); the
objective is the family's loss or, where the task has classes, −accuracy,
which has no gradient at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from probe_models.config import param
from probe_models.errors import ConfigError
from probe_models.family import ObjectiveBatch, TrainingRun
from probe_models.seeding import derive_seed

Z_CHUNK = 1 << 18  # elements of z drawn at once: 1 MiB of float32


@dataclass(frozen=True)
class MezoConfig:
    lr: float = param(1e-3, "η, the learning rate (the paper: 1e-7 to 1e-5 for billion-parameter LMs)", min=0.0)
    eps: float = param(1e-3, "ε, the perturbation scale (must be > 0)", min=0.0, max=1.0)
    schedule: str = param("constant", "learning-rate schedule over the job's steps", choices=("constant", "linear"))
    weight_decay: float = param(0.0, "λ, decoupled weight decay, never on biases and norms", min=0.0, max=10.0)
    n_spsa: int = param(1, "n, seeds averaged per step (2n forward passes, each weighted 1/n)", min=1, max=1024)
    objective: str = param(
        "loss",
        "loss: the family's training loss; accuracy: minimize −accuracy (families with classes only)",
        choices=("loss", "accuracy"),
    )

    def check(self) -> None:
        if not self.eps > 0:
            raise ConfigError("eps", f"ε must be > 0, got {self.eps!r}")


@dataclass
class TrainableParameter:
    name: str
    tensor: torch.Tensor
    decays: bool


def trainable_parameters(model: torch.nn.Module) -> list[TrainableParameter]:
    """The parameters MeZO moves, in a fixed order, each marked for weight decay or not.

    Biases and the parameters of normalization layers (any module whose class
    name contains "Norm", so Hugging Face RMSNorms count) never decay.
    """
    norms = {name for name, module in model.named_modules() if "Norm" in type(module).__name__}
    params = []
    for name, tensor in model.named_parameters():
        if not tensor.requires_grad:
            continue
        owner = name.rpartition(".")[0]
        decays = not (name.rpartition(".")[2] == "bias" or owner in norms)
        params.append(TrainableParameter(name, tensor, decays))
    return params


def noise_chunks(tensor: torch.Tensor, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(a view of ``tensor``'s elements, its z) chunk by chunk; the same seed gives the same z."""
    if not tensor.is_contiguous():
        raise ValueError("MeZO needs contiguous parameters")
    gen = torch.Generator(device=tensor.device).manual_seed(seed)
    flat = tensor.detach().view(-1)
    for start in range(0, flat.numel(), Z_CHUNK):
        view = flat[start : start + Z_CHUNK]
        yield view, torch.randn(view.shape, generator=gen, device=tensor.device, dtype=tensor.dtype)


def parameter_seed(step_seed: int, index: int) -> int:
    return derive_seed(step_seed, "parameter", index)


def perturb(params: list[TrainableParameter], step_seed: int, scale: float) -> None:
    """θ += scale·z, with z regenerated from ``step_seed``."""
    for index, param_ in enumerate(params):
        for view, z in noise_chunks(param_.tensor, parameter_seed(step_seed, index)):
            view.add_(z, alpha=scale)


def update(params: list[TrainableParameter], step_seeds: list[int], grads: list[float], lr: float, wd: float) -> None:
    """θ −= η(mean_i g_i z_i + λθ): z_i regenerated, chunk by chunk, from ``step_seeds[i]``."""
    n = len(step_seeds)
    for index, param_ in enumerate(params):
        decay = wd if param_.decays else 0.0
        chunks = [noise_chunks(param_.tensor, parameter_seed(s, index)) for s in step_seeds]
        for pieces in zip(*chunks, strict=True):
            view = pieces[0][0]
            direction = sum(g / n * z for g, (_, z) in zip(grads, pieces, strict=True))
            view.sub_(lr * (direction + decay * view))


@dataclass
class StepMeasure:
    objective: float
    loss: float
    accuracy: float | None


def measure(model: torch.nn.Module, batch: ObjectiveBatch, objective: str) -> StepMeasure:
    """The objective at the model's current parameters, with the loss and accuracy it came from."""
    loss, correct = batch.score(model)
    accuracy = None if correct is None else float(correct.float().mean())
    if objective == "accuracy":
        if accuracy is None:
            raise ConfigError("objective", "this task has no classes; use objective=loss")
        return StepMeasure(-accuracy, float(loss), accuracy)
    return StepMeasure(float(loss), float(loss), accuracy)


def projected_gradients(
    model: torch.nn.Module,
    params: list[TrainableParameter],
    batch: ObjectiveBatch,
    config: MezoConfig,
    seeds: list[int],
) -> tuple[list[float], list[StepMeasure]]:
    """g_i = (ℓ(θ + εz_i) − ℓ(θ − εz_i)) / 2ε for each seed; θ is restored after each."""
    grads, measures = [], []
    with torch.inference_mode():
        for seed in seeds:
            perturb(params, seed, config.eps)
            plus = measure(model, batch, config.objective)
            perturb(params, seed, -2 * config.eps)
            minus = measure(model, batch, config.objective)
            perturb(params, seed, config.eps)
            grads.append((plus.objective - minus.objective) / (2 * config.eps))
            measures += [plus, minus]
    return grads, measures


def learning_rate(config: MezoConfig, step: int, steps: int) -> float:
    if config.schedule == "linear":
        return config.lr * max(0.0, 1.0 - step / steps)
    return config.lr


def step_seeds(seed: int, step: int, n_spsa: int) -> list[int]:
    """The seeds of step ``step``: a function of (job seed, step) only, so a resumed run draws the same z."""
    return [derive_seed(seed, "mezo", step, i) for i in range(n_spsa)]


class MezoRun(TrainingRun):
    """A family's run trained by MeZO: its model, data and evaluation, with no optimizer state."""

    def __init__(self, inner: TrainingRun, config: MezoConfig, seed: int) -> None:
        self.inner, self.config, self.seed = inner, config, seed
        self.model = inner.model
        self.steps = inner.steps
        self.params = trainable_parameters(self.model)
        if not self.params:
            raise ConfigError("optimizer", "the model has no trainable parameters")

    def train_step(self, step: int) -> dict[str, float]:
        batch = self.inner.objective_batch(step)
        seeds = step_seeds(self.seed, step, self.config.n_spsa)
        lr = learning_rate(self.config, step, self.steps)
        self.model.eval()
        grads, measures = projected_gradients(self.model, self.params, batch, self.config, seeds)
        with torch.no_grad():
            update(self.params, seeds, grads, lr, self.config.weight_decay)
        metrics = {
            "loss": sum(m.loss for m in measures) / len(measures),
            "projected_grad": sum(grads) / len(grads),
            "lr": lr,
        }
        if measures[0].accuracy is not None:
            metrics["batch_accuracy"] = sum(m.accuracy or 0.0 for m in measures) / len(measures)
        return metrics

    def after_step(self, step: int) -> None:
        self.inner.after_step(step)

    def progress_due(self, step: int) -> bool:
        return self.inner.progress_due(step)

    def evaluate(self) -> dict[str, float]:
        return self.inner.evaluate()

    def objective_batch(self, step: int) -> ObjectiveBatch:
        return self.inner.objective_batch(step)

    def optimizer_state(self) -> dict[str, torch.Tensor]:
        return {}  # z is regenerated from (seed, step): MeZO keeps no state

    def restore(self, step: int, weights: dict[str, torch.Tensor], optimizer: dict[str, torch.Tensor]) -> None:
        self.inner.restore(step, weights, {})
        self.model = self.inner.model
        self.params = trainable_parameters(self.model)
