"""The eos family: full-batch GD at a fixed step, with the sharpness traced as it trains.

Training (docs/families/eos.md): GD with step η on MSE 0.5·‖f − y‖² over one-hot
targets, averaged over the training set, every step on the whole set. Every
``sharpness_every`` steps the top Hessian eigenvalue is measured by Lanczos,
warm-started from the previous top eigenvector (about 20 HVPs once warm), and
reported with a progress event, so watch streams S(t) beside the loss.
"""

from __future__ import annotations

import copy
import functools

import torch

from probe_models.capabilities import MeasuresSharpness, SelfStabilizes
from probe_models.errors import InvalidInput
from probe_models.families.eos.config import EOSConfig
from probe_models.families.eos.data import Dataset, load_dataset
from probe_models.families.eos.networks import build_network, classes, input_shape, parameter_count
from probe_models.family import Evaluation, Family, LoadedModel, ObjectiveBatch, SharpnessData, TrainingRun
from probe_models.hessian import lanczos_top_eigenpairs
from probe_models.seeding import derive_seed
from probe_models.sharpness import hessian_operator
from probe_models.stabilization import Landscape, StabilizationReport, self_stabilization
from probe_models.stabilization_tracking import TrackingReport, find_instability, track_dynamics

SHARPNESS_TOLERANCE = 1e-6
SHARPNESS_ITERATIONS = 100


def mse(module: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0.5·‖f(x) − y‖², averaged over examples."""
    return 0.5 * (module(inputs) - targets).pow(2).sum(dim=1).mean()


@functools.lru_cache(maxsize=8)
def dataset(config: EOSConfig, seed: int) -> Dataset:
    return load_dataset(config, seed)


def training_data(config: EOSConfig, seed: int, examples: int = 0) -> SharpnessData:
    data = dataset(config, seed)
    n = examples or len(data.inputs)
    described = data.description if n == len(data.inputs) else f"the first {n} of {data.description}"
    return SharpnessData(data.inputs[:n], data.targets[:n], mse, described)


class EOSRun(TrainingRun):
    def __init__(self, config: EOSConfig, seed: int, steps: int, device: torch.device) -> None:
        self.config, self.seed, self.steps, self.device = config, seed, steps, device
        self.data = dataset(config, seed)
        self.inputs, self.targets = self.data.inputs.to(device), self.data.targets.to(device)
        self.model = build_network(config, input_shape(config), classes(config), derive_seed(seed, "init")).to(device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=config.lr)
        self._direction: torch.Tensor | None = None  # the last top eigenvector, to warm-start the next measurement
        self._sharpness: dict[str, float] = {}
        self._completed = 0  # steps done
        self._measured_at = -1  # the step whose sharpness self._sharpness holds

    def train_step(self, step: int) -> dict[str, float]:
        self.model.train()
        loss = mse(self.model, self.inputs, self.targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": float(loss.detach())}

    def after_step(self, step: int) -> None:
        self._completed = step
        if self.progress_due(step):
            self._sharpness, self._measured_at = self.measure_sharpness(), step

    def objective_batch(self, step: int) -> ObjectiveBatch:
        labels = self.data.labels.to(self.device)

        def score(module: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
            outputs = module(self.inputs)
            return 0.5 * (outputs - self.targets).pow(2).sum(dim=1).mean(), outputs.argmax(dim=1) == labels

        return ObjectiveBatch(score, len(labels))

    def progress_due(self, step: int) -> bool:
        every = self.config.sharpness_every
        return every > 0 and step % every == 0

    def measure_sharpness(self) -> dict[str, float]:
        """The top Hessian eigenvalue now, on the configured examples, warm-started from the last one."""
        model = LoadedModel(EOS(), self.config, self.seed, self.model, self.device)
        data = training_data(self.config, self.seed, self.config.sharpness_examples)
        operator, _ = hessian_operator(model, data, chunk_size=0, float64=False)
        values, vectors, _ = lanczos_top_eigenpairs(
            operator, operator.num_parameters, 1, SHARPNESS_ITERATIONS, SHARPNESS_TOLERANCE, self.seed, self._direction
        )
        self._direction = vectors[0]
        sharpness = float(values[0])
        return {
            "sharpness": sharpness,
            "sharpness_over_threshold": sharpness / self.config.threshold,
            "sharpness_hvps": float(operator.count),
        }

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        self.model.eval()
        outputs = self.model(self.inputs)
        metrics = {
            "train_loss": float(0.5 * (outputs - self.targets).pow(2).sum(dim=1).mean()),
            "train_accuracy": float((outputs.argmax(dim=1) == self.data.labels.to(self.device)).float().mean()),
            "threshold": self.config.threshold,
        }
        fresh = self._measured_at == self._completed  # a trace point belongs to the step it was measured at
        return {**metrics, **self._sharpness} if fresh else metrics

    def optimizer_state(self) -> dict[str, torch.Tensor]:
        state = {} if self._direction is None else {"direction": self._direction.clone()}
        return state  # plain GD keeps no state; the warm start only saves HVPs

    def restore(self, step: int, weights: dict[str, torch.Tensor], optimizer: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict({k: v.to(self.device) for k, v in weights.items()})
        self._direction = optimizer.get("direction")
        self._completed = step


class EOS(Family, MeasuresSharpness, SelfStabilizes):
    name = "eos"
    description = "Full-batch GD at a fixed step: progressive sharpening and the edge of stability"
    paper = (
        "Damian, Nichani, Lee (2022). "
        "Self-Stabilization: The Implicit Bias of Gradient Descent at the Edge of Stability"
    )
    config_cls = EOSConfig
    default_steps = 2000

    run_cls = EOSRun

    def architecture(self, config: EOSConfig, seed: int) -> torch.nn.Module:
        return build_network(config, input_shape(config), classes(config), derive_seed(seed, "init"))

    def parameter_count(self, config: EOSConfig) -> int:
        return parameter_count(config)

    @torch.no_grad()
    def evaluate(self, model: LoadedModel, num_sequences: int, eval_seed: int) -> Evaluation:
        """On the training set: the object of study is the optimizer's path on it, not generalization."""
        data = dataset(model.config, model.seed)
        outputs = model.module(data.inputs.to(model.device))
        targets, labels = data.targets.to(model.device), data.labels.to(model.device)
        loss = float(0.5 * (outputs - targets).pow(2).sum(dim=1).mean())
        accuracy = float((outputs.argmax(dim=1) == labels).float().mean())
        metrics = {"train_loss": loss, "train_accuracy": accuracy, "threshold": model.config.threshold}
        return Evaluation(accuracy=accuracy, loss=loss, metrics=metrics)

    def self_stabilization(self, model: LoadedModel, steps: int, projected: bool) -> StabilizationReport:
        """On a float64 copy of the model and the whole training set; the cached model is never touched."""
        module = copy.deepcopy(model.module).double()
        data = dataset(model.config, model.seed)
        inputs, targets = data.inputs.to(model.device).double(), data.targets.to(model.device).double()
        params = [p for p in module.parameters() if p.requires_grad]
        return self_stabilization(params, lambda: mse(module, inputs, targets), model.config.lr, steps, projected)

    def track_from_instability(
        self, model: LoadedModel, search_steps: int, steps: int, sharpness_every: int
    ) -> TrackingReport:
        """The authors' ``taylor.py``: GD in float32 to the first S >= 2/η, then float64 tracking from there.

        On copies of the model; the cached one is never touched.
        """
        data = dataset(model.config, model.seed)
        inputs, targets = data.inputs.to(model.device), data.targets.to(model.device)
        module = copy.deepcopy(model.module).float()
        params = [p for p in module.parameters() if p.requires_grad]
        found, sharpness, direction = find_instability(
            Landscape(params, lambda: mse(module, inputs, targets)), model.config.lr, search_steps
        )
        module = module.double()
        params = [p for p in module.parameters() if p.requires_grad]
        inputs, targets = inputs.double(), targets.double()
        return track_dynamics(
            params, lambda: mse(module, inputs, targets), model.config.lr, steps,
            (found, sharpness, direction.double()), sharpness_every,
        )  # fmt: skip

    def training_set_size(self, model: LoadedModel) -> int | None:
        return len(dataset(model.config, model.seed).inputs)

    def sharpness_data(
        self, model: LoadedModel, num_examples: int, seed: int, whole_training_set: bool = False
    ) -> SharpnessData:
        data = dataset(model.config, model.seed)
        if whole_training_set:
            return training_data(model.config, model.seed)
        if num_examples > len(data.inputs):
            raise InvalidInput(f"num_examples {num_examples} exceeds the {len(data.inputs)} training examples")
        generator = torch.Generator().manual_seed(derive_seed(seed, "sharpness"))
        rows = torch.randperm(len(data.inputs), generator=generator)[:num_examples]
        return SharpnessData(
            data.inputs[rows], data.targets[rows], mse, f"{num_examples} of {data.description} drawn with seed {seed}"
        )
