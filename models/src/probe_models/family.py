"""What every family declares: its config, how it trains, and which probes apply.

A family is stateless; the state of training lives in a :class:`TrainingRun`,
and a trained model travels as a :class:`LoadedModel` (module plus the config
and seed that define its task). Every family answers Evaluate; the other probes are capabilities
(:mod:`probe_models.capabilities`) a family declares by inheriting them, and the server refuses a probe
a family lacks with FAILED_PRECONDITION.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import torch

from probe_models.capabilities import PROBE_CAPABILITIES
from probe_models.errors import InvalidInput

CPU = torch.device("cpu")


@dataclass
class LoadedModel:
    """A trained network together with what it needs to be probed.

    Data are always drawn on the CPU from seeded generators and moved to
    ``device``, so a GPU and a CPU see the same examples.
    """

    family: "Family"
    config: Any
    seed: int
    module: torch.nn.Module
    device: torch.device = CPU


@dataclass
class Evaluation:
    accuracy: float
    loss: float
    metrics: dict[str, float]


@dataclass
class SharpnessData:
    """The examples of a sharpness measurement and the mean loss of a module on any chunk of them."""

    inputs: torch.Tensor
    targets: torch.Tensor
    loss: Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
    description: str  # e.g. "1024 training sequences drawn with seed 0"


@dataclass
class ObjectiveBatch:
    """The examples of one training step, and how a module scores on them.

    What an optimizer that only evaluates (MeZO) needs from a family: one
    forward pass gives the mean training loss and, where the task has
    classes, whether each example is classified right.
    """

    score: Callable[[torch.nn.Module], tuple[torch.Tensor, torch.Tensor | None]]
    size: int


@dataclass
class PositionRecovery:
    """One position of a graph-recovery probe."""

    position: int
    true_parents: tuple[int, ...]
    recovered_parents: tuple[int, ...]
    parent_mass: float  # attention on the true parents; NaN where there are none

    @property
    def correct(self) -> bool:
        return set(self.true_parents) <= set(self.recovered_parents)


@dataclass
class GraphRecovery:
    """A latent graph read off a model's attention, beside its loss and the Bayes-optimal loss."""

    graph: str
    layer: int
    positions: list[PositionRecovery]
    induction_score: float | None
    test_loss: float
    bayes_loss: float
    metrics: dict[str, float]

    @property
    def scored(self) -> list[PositionRecovery]:
        """Positions that have parents: the ones recovery is scored on."""
        return [p for p in self.positions if p.true_parents]

    @property
    def accuracy(self) -> float:
        scored = self.scored
        return sum(p.correct for p in scored) / len(scored) if scored else float("nan")

    @property
    def parent_mass(self) -> float:
        scored = self.scored
        return sum(p.parent_mass for p in scored) / len(scored) if scored else float("nan")


def in_group(name: str, group: str) -> bool:
    """Whether parameter ``name`` is the group or lies under it: "blocks.1" holds "blocks.1.attn.W_Q"."""
    return name == group or name.startswith(group + ".")


class TrainingRun(ABC):
    """One training job's mutable state; steps are numbered globally from 0.

    The data of step t must depend only on (seed, t), so a run restored from a
    checkpoint at step t continues exactly as the uninterrupted run would.
    """

    model: torch.nn.Module
    steps: int

    @abstractmethod
    def train_step(self, step: int) -> dict[str, float]:
        """Run step ``step``; return at least ``loss``."""

    @abstractmethod
    def evaluate(self) -> dict[str, float]:
        """Cheap held-out metrics, reported with progress events."""

    @property
    def max_steps(self) -> int:
        """Upper bound on the number of steps (a run may finish earlier)."""
        return self.steps

    @property
    def finished(self) -> bool:
        return False

    def progress_due(self, step: int) -> bool:
        """Whether completed step ``step`` must be reported whatever log_every says (e.g. a sharpness trace)."""
        return False

    def after_step(self, step: int) -> None:  # noqa: B027 (most runs observe nothing)
        """Called once ``step`` steps are done, whichever optimizer took them (e.g. to trace the sharpness)."""

    def train_only(self, groups: list[str]) -> None:
        """Freeze every parameter outside ``groups``: optimizers skip a parameter that gets no gradient.

        Runs whose steps fit parameters in closed form override this to skip
        the stages that fit frozen ones.
        """
        for name, parameter in self.model.named_parameters():
            parameter.requires_grad_(any(in_group(name, group) for group in groups))

    @abstractmethod
    def objective_batch(self, step: int) -> ObjectiveBatch:
        """The examples step ``step`` trains on, the same ones :meth:`train_step` would use."""

    @abstractmethod
    def optimizer_state(self) -> dict[str, torch.Tensor]:
        """Optimizer tensors needed to resume, flat names to tensors."""

    @abstractmethod
    def restore(self, step: int, weights: dict[str, torch.Tensor], optimizer: dict[str, torch.Tensor]) -> None:
        """Put the run in the state it had after ``step`` steps."""


# Every ProbeService RPC: one per probe capability, and Evaluate, which every family answers.
PROBES = (*(c.probe for c in PROBE_CAPABILITIES), "Evaluate")


class RunClass(Protocol):
    """A TrainingRun class: what every family's run is made from."""

    def __call__(self, config: Any, seed: int, steps: int, device: torch.device) -> TrainingRun: ...


class Family(ABC):
    """A studied model with its task, declared once."""

    name: ClassVar[str]
    description: ClassVar[str]
    paper: ClassVar[str]
    config_cls: ClassVar[type]
    default_steps: ClassVar[int]
    run_cls: ClassVar[RunClass]  # the family's TrainingRun, made by new_run in every family

    @property
    def probes(self) -> tuple[str, ...]:
        """The ProbeService RPCs it answers: Evaluate, and one per probe capability it declares."""
        return ("Evaluate", *(c.probe for c in PROBE_CAPABILITIES if isinstance(self, c)))

    def new_run(self, config: Any, seed: int, steps: int, device: torch.device = CPU) -> TrainingRun:
        """A fresh run on ``device``: task, model and optimizer made from ``seed``."""
        return self.run_cls(config, seed, steps, device)

    def parameter_names(self, config: Any) -> list[str]:
        """The names of the model's parameters (what a job's trainable groups select from).

        Builds a run; a family whose runs are costly to build overrides this.
        """
        return [name for name, _ in self.new_run(config, 0, 1).model.named_parameters()]

    def builds_from_server_files(self, config: Any) -> bool:
        """Whether building the model reads the config's server paths (a Hugging Face directory).

        Such a model's size and parameter names are known only where the files are read: the job's worker.
        """
        return False

    def check_trainable(self, config: Any, groups: list[str]) -> set[str]:
        """The parameters that ``groups`` make trainable; a group that names none is refused."""
        return self.trainable_names(self.parameter_names(config), groups)

    def trainable_names(self, names: list[str], groups: list[str]) -> set[str]:
        """Those of the model's parameter ``names`` that ``groups`` select; a group that selects none is refused."""
        for group in groups:
            if not any(in_group(name, group) for name in names):
                raise InvalidInput(
                    f"trainable group {group!r} names no parameter of this {self.name} model; "
                    f"its parameters: {', '.join(names)}"
                )
        return {name for name in names if any(in_group(name, group) for group in groups)}

    def has_classes(self, config: Any) -> bool:
        """Whether the task has a classification target, so accuracy can be an objective."""
        return True

    @abstractmethod
    def parameter_count(self, config: Any) -> int:
        """Parameters and frozen buffers the model would hold, computed without building it."""

    def working_floats(self, config: Any) -> int:
        """About how many floats of data and activations a training step holds, beyond the parameters.

        Zero where they stay small next to the parameters; families whose
        steps scale with a sample count or an image size say, so a server can
        refuse a job that would exhaust its memory instead of crashing it.
        """
        return 0

    @abstractmethod
    def architecture(self, config: Any, seed: int) -> torch.nn.Module:
        """The network a checkpoint's weights fill: what ``new_run`` trains, before training."""

    def load(self, config: Any, seed: int, weights: dict[str, torch.Tensor], device: torch.device = CPU) -> LoadedModel:
        """Rebuild a checkpoint's model from its weights, on ``device``."""
        module = self.architecture(config, seed)
        module.load_state_dict(weights)
        return LoadedModel(self, config, seed, module.to(device).eval(), device)

    @abstractmethod
    def evaluate(self, model: LoadedModel, num_sequences: int, eval_seed: int) -> Evaluation:
        """Test accuracy and loss on fresh data, plus family metrics."""
