"""The depth-ushape family: convolutional nets of depth L trained to 100% training accuracy.

Nichani, Radhakrishnan, Uhler (2020), docs/families/depth-ushape.md. Every step is one Adam
step on the whole training set (a few images per class, so the nets are
heavily over-parameterized), or with ``batch_size`` one epoch of Adam steps
on shuffled batches (the authors' protocol). The step at which the net
first classifies every training image right (in training mode: that step's
forward pass, or the epoch's running accuracy),
or whose loss first falls below ``target_loss`` when one is set, is recorded
as ``fit_step``; the job trains ``after_fit`` more steps and
then ends. Metrics are taken with BatchNorm normalizing by the whole
training set's statistics (what every full-batch step normalized with), so
the training accuracy reported is the one the network was trained to. Test
accuracy and loss at that point are what the paper plots against depth.
For linear conv nets the norms of the end-to-end operator M are reported.
"""

from __future__ import annotations

import math
from copy import deepcopy

import torch
import torch.nn.functional as F
from torch import nn

from probe_models.capabilities import MeasuresSharpness
from probe_models.errors import InvalidInput
from probe_models.families.depth_ushape.config import PAPER, DepthUShapeConfig
from probe_models.families.depth_ushape.data import Split, splits
from probe_models.families.depth_ushape.networks import LinearConvNet, build, end_to_end_operator, input_shape
from probe_models.family import Evaluation, Family, LoadedModel, ObjectiveBatch, SharpnessData, TrainingRun
from probe_models.optim_state import flatten_optimizer_state, load_optimizer_state
from probe_models.seeding import derive_seed, generator


def loss_function(config: DepthUShapeConfig):  # noqa: ANN201 (a loss of logits and labels)
    if config.loss == "mse":
        return lambda logits, labels: (
            0.5 * (logits - F.one_hot(labels, logits.shape[1]).to(logits.dtype)).pow(2).sum(dim=1).mean()
        )
    return F.cross_entropy


def initialized(config: DepthUShapeConfig, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "init"))
        return build(config)


@torch.no_grad()
def assess(module: nn.Module, config: DepthUShapeConfig, data: Split, prefix: str) -> dict[str, float]:
    loss = loss_function(config)
    device = next(module.parameters()).device
    logits = torch.cat([module(chunk.to(device)) for chunk in data.inputs.split(2048)])
    labels = data.labels.to(device)
    return {
        f"{prefix}_accuracy": float((logits.argmax(dim=1) == labels).float().mean()),
        f"{prefix}_loss": float(loss(logits, labels)),
    }


def operator_norms(module: nn.Module, config: DepthUShapeConfig) -> dict[str, float]:
    """Spectral and Frobenius norms of the linear conv net's end-to-end operator (empty for other nets)."""
    if not isinstance(module, LinearConvNet):
        return {}
    operator = end_to_end_operator(module, input_shape(config)).double()
    return {"operator_norm": float(torch.linalg.matrix_norm(operator, ord=2)),
            "operator_frobenius_norm": float(torch.linalg.matrix_norm(operator))}  # fmt: skip


@torch.no_grad()
def calibrated(module: nn.Module, inputs: torch.Tensor) -> nn.Module:
    """An eval-mode copy whose BatchNorm statistics are exactly those of the whole training set.

    Training is full batch, so these are the statistics every training step
    normalizes with; the running averages approach them only geometrically
    (momentum 0.1). The copy leaves the run's own buffers, and so its
    checkpoints and resumption, untouched.
    """
    copy = deepcopy(module)
    norms = [m for m in copy.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average: one pass gives the exact statistics
    if norms:
        copy.train()
        copy(inputs.to(next(copy.parameters()).device))
    return copy.eval()


def metrics(module: nn.Module, config: DepthUShapeConfig, seed: int) -> dict[str, float]:
    """Train and test metrics in eval mode: BatchNorm by the whole training set's statistics after full-batch
    training, by its running averages after training on batches (as the authors evaluate)."""
    data = splits(config, seed)
    net = calibrated(module, data.train.inputs) if config.batch_size == 0 else deepcopy(module).eval()
    return {**assess(net, config, data.train, "train"), **assess(net, config, data.test, "test"),
            **operator_norms(net, config)}  # fmt: skip


class DepthRun(TrainingRun):
    def __init__(self, config: DepthUShapeConfig, seed: int, steps: int, device: torch.device) -> None:
        self.config, self.seed, self.steps, self.device = config, seed, steps, device
        data = splits(config, seed).train
        self.inputs, self.labels = data.inputs.to(device), data.labels.to(device)
        self.model = initialized(config, seed).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.loss = loss_function(config)
        self.fit_step: int | None = None  # steps taken when every training example was first classified right
        self.completed = 0

    @property
    def finished(self) -> bool:
        return self.fit_step is not None and self.completed >= self.fit_step + self.config.after_fit

    def train_step(self, step: int) -> dict[str, float]:
        self.model.train()
        loss, correct = 0.0, 0
        for batch in self.batches(step):
            labels = self.labels[batch]
            logits = self.model(self.inputs[batch])
            batch_loss = self.loss(logits, labels)
            correct += int((logits.argmax(dim=1) == labels).sum())
            loss += float(batch_loss.detach()) * len(labels)
            self.optimizer.zero_grad(set_to_none=True)
            batch_loss.backward()
            self.optimizer.step()
        loss, accuracy = loss / len(self.labels), correct / len(self.labels)
        target = self.config.target_loss
        fitted = loss < target if target > 0 else accuracy == 1
        if self.fit_step is None and fitted:
            self.fit_step = step
        return {"loss": loss, "batch_accuracy": accuracy}

    def batches(self, step: int) -> list[slice | torch.Tensor]:
        """The whole training set as one batch, or step ``step``'s epoch: a seeded shuffle cut into batches."""
        n, size = len(self.labels), self.config.batch_size
        if size == 0 or size >= n:
            return [slice(None)]
        order = torch.randperm(n, generator=generator(self.seed, "epoch", step)).to(self.device)
        return list(order.split(size))

    def after_step(self, step: int) -> None:
        self.completed = step

    def evaluate(self) -> dict[str, float]:
        fit = math.nan if self.fit_step is None else float(self.fit_step)
        return {**metrics(self.model, self.config, self.seed), "fit_step": fit}

    def objective_batch(self, step: int) -> ObjectiveBatch:
        def score(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
            logits = module(self.inputs)
            return self.loss(logits, self.labels), logits.argmax(dim=1) == self.labels

        return ObjectiveBatch(score, len(self.labels))

    def optimizer_state(self) -> dict[str, torch.Tensor]:
        state = flatten_optimizer_state(self.optimizer)
        if self.fit_step is not None:
            state["fit_step"] = torch.tensor(self.fit_step)
        return state

    def restore(self, step: int, weights: dict[str, torch.Tensor], optimizer: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict({k: v.to(self.device) for k, v in weights.items()})
        fit = optimizer.get("fit_step")
        self.fit_step = None if fit is None else int(fit)
        adam = {k: v for k, v in optimizer.items() if k != "fit_step"}
        if adam:
            load_optimizer_state(self.optimizer, adam)
        self.completed = step


class DepthUShape(Family, MeasuresSharpness):
    name = "depth-ushape"
    description = "Convolutional nets of growing depth trained to 100% train accuracy: test risk against depth"
    paper = PAPER
    config_cls = DepthUShapeConfig
    default_steps = 2000

    run_cls = DepthRun

    def parameter_names(self, config: DepthUShapeConfig) -> list[str]:
        with torch.device("meta"):
            return [name for name, _ in build(config).named_parameters()]

    def working_floats(self, config: DepthUShapeConfig) -> int:
        """Full-batch steps keep about four feature maps (conv, BN, ReLU, gradient) per layer and training example."""
        positions = math.prod(input_shape(config)[1:])
        examples = config.train_per_class * len(config.class_list)
        blocks = config.depth * (2 if config.model == "resnet" else 1) + 1
        return 4 * examples * config.width * positions * blocks

    def parameter_count(self, config: DepthUShapeConfig) -> int:
        with torch.device("meta"):  # shapes only: nothing is allocated
            module = build(config)
        return sum(t.numel() for t in (*module.parameters(), *module.buffers()))

    def architecture(self, config: DepthUShapeConfig, seed: int) -> torch.nn.Module:
        return build(config)

    def evaluate(self, model: LoadedModel, num_sequences: int, eval_seed: int) -> Evaluation:
        """On the job's own test split (every test image): the data set is finite, so no fresh draw."""
        values = metrics(model.module, model.config, model.seed)
        return Evaluation(accuracy=values["test_accuracy"], loss=values["test_loss"], metrics=values)

    def training_set_size(self, model: LoadedModel) -> int | None:
        return len(splits(model.config, model.seed).train.labels)

    def sharpness_data(
        self, model: LoadedModel, num_examples: int, seed: int, whole_training_set: bool = False
    ) -> SharpnessData:
        data = splits(model.config, model.seed)
        loss = loss_function(model.config)

        def training_loss(module: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            return loss(module(inputs), labels)

        inputs, labels = data.train.inputs, data.train.labels
        if whole_training_set:
            return SharpnessData(inputs, labels, training_loss, f"the {len(labels)} training examples")
        if num_examples > len(labels):
            raise InvalidInput(f"num_examples {num_examples} exceeds the {len(labels)} training examples")
        rows = torch.randperm(len(labels), generator=torch.Generator().manual_seed(derive_seed(seed, "sharpness")))
        rows = rows[:num_examples]
        return SharpnessData(inputs[rows], labels[rows], training_loss,
                             f"{num_examples} of the training examples drawn with seed {seed}")  # fmt: skip
