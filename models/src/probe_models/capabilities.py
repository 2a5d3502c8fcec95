"""What a family can be asked beside Evaluate, as capabilities it declares by inheriting them.

A family class lists the capabilities it has (``class EOS(Family, MeasuresSharpness, SelfStabilizes)``);
each one's methods are abstract, so a family that declares a capability implements all of it, and one that
does not has none of its methods. ``Family.probes`` (what ListFamilies reports) is derived from the
capabilities, and :func:`capability` is how the server gets a family as one, refusing it with
UnsupportedProbe (FAILED_PRECONDITION) when the family lacks it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
import torch

from probe_models.errors import UnsupportedProbe
from probe_models.hooks import HookRun, HookSpec
from probe_models.stabilization import StabilizationReport

if TYPE_CHECKING:
    from probe_models.family import Family, GraphRecovery, LoadedModel, SharpnessData


class Capability(ABC):  # noqa: B024 (its subclasses hold the abstract methods; ABCMeta must be theirs)
    """A group of methods a family may offer; ``probe`` names the ProbeService RPC it answers, if any."""

    probe: ClassVar[str] = ""
    missing: ClassVar[str] = "does not offer this"  # why a family without it is refused


class ServesOnnx(Capability):
    """A forward-only graph for ONNX Runtime (ExportCheckpoint, and QueryFacts' fast path)."""

    missing = "has no ONNX serving graph"

    @abstractmethod
    def serving_module(self, model: LoadedModel) -> tuple[torch.nn.Module, torch.Tensor]:
        """A forward-only module and an example input, for ONNX export."""


class AnswersFacts(ServesOnnx):
    """QueryFacts: the model stores (subject, relation) → answer facts and is asked them."""

    probe = "QueryFacts"
    missing = "stores no facts"

    # Serving needs no torch model: these read the checkpoint's config and seed only (its fact table and query
    # layout), so QueryFacts runs on the ONNX session alone.

    @abstractmethod
    def fact_inputs(
        self, config: Any, seed: int, subjects: np.ndarray, relations: np.ndarray, noise_seed: int
    ) -> np.ndarray:
        """Model inputs that ask for the facts (subject, relation), as numpy."""

    @abstractmethod
    def stored_answers(self, config: Any, seed: int, subjects: np.ndarray, relations: np.ndarray) -> np.ndarray:
        """The answers the task stored for (subject, relation)."""

    @abstractmethod
    def fact_count(self, config: Any) -> tuple[int, int, int]:
        """(number of subjects, number of relations, number of answers)."""


class ExposesAttention(Capability):
    """ExtractAttention: token sequences in, every attention pattern out."""

    probe = "ExtractAttention"
    missing = "has no attention"

    @abstractmethod
    def attention_hooks(self, model: LoadedModel) -> dict[str, int]:
        """TransformerLens-style names of the attention tensors this model exposes, with their head counts.

        Knowing the heads lets a server bound a reply's size before it runs the model.
        """

    @abstractmethod
    def sample_sequences(self, model: LoadedModel, num_sequences: int, seed: int) -> torch.Tensor:
        """Fresh sequences of the checkpoint's task."""

    @abstractmethod
    def check_tokens(self, model: LoadedModel, tokens: torch.Tensor) -> None:
        """Refuse (InvalidInput) token ids or lengths the model cannot take."""

    @abstractmethod
    def run_with_attention(self, model: LoadedModel, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every attention hook's tensor for ``tokens``, [batch, head, query_pos, key_pos], on the CPU."""

    @abstractmethod
    def query_positions(self, model: LoadedModel, seq_len: int) -> list[int]:
        """Which positions act as queries in the attention tensors."""

    def true_parents(self, model: LoadedModel) -> list[tuple[int, ...]]:
        """The latent graph's parents of each input position; empty when the task has no graph."""
        return []


class RecoversGraph(Capability):
    """RecoverGraph: the latent causal graph read off the first attention layer."""

    probe = "RecoverGraph"
    missing = "encodes no latent graph"

    @abstractmethod
    def recover_graph(self, model: LoadedModel, num_sequences: int, seed: int) -> GraphRecovery:
        """The latent graph as the first attention layer encodes it, on ``num_sequences`` fresh sequences."""


class MeasuresSharpness(Capability):
    """MeasureSharpness: the training loss's Hessian, by Hessian-vector products."""

    probe = "MeasureSharpness"
    missing = "is not trained by gradients of a training loss"

    @abstractmethod
    def sharpness_data(
        self, model: LoadedModel, num_examples: int, seed: int, whole_training_set: bool = False
    ) -> SharpnessData:
        """The training loss's examples: ``num_examples`` drawn with ``seed``, or the whole training set.

        Families that train on fresh samples have no finite training set and
        raise UnsupportedProbe for ``whole_training_set``.
        """

    def training_set_size(self, model: LoadedModel) -> int | None:
        """The examples of a finite training set, or None where training draws fresh samples: a sharpness request
        with the default example count takes the whole set when it is no larger than that count."""
        return None


class SelfStabilizes(Capability):
    """MeasureStabilization: full-batch GD at a fixed step, beside the self-stabilization prediction."""

    probe = "MeasureStabilization"
    missing = "is not trained by full-batch GD at a fixed step"

    @abstractmethod
    def self_stabilization(self, model: LoadedModel, steps: int, projected: bool) -> StabilizationReport:
        """α, β, δ at the checkpoint and the next ``steps`` GD steps beside the paper's prediction."""


class RunsWithHooks(Capability):
    """ListHooks and RunWithCache: a forward pass through named hook points (:mod:`probe_models.hooks`)."""

    probe = "RunWithCache"
    missing = "has no hook points"

    @abstractmethod
    def hook_specs(self, model: LoadedModel, seq_len: int) -> list[HookSpec]:
        """Every hook point for sequences of ``seq_len`` tokens, in the order the forward passes them."""

    @abstractmethod
    def token_limits(self, model: LoadedModel) -> tuple[int, int, int]:
        """The vocabulary size, and the shortest and longest sequences the network (and its loss) takes."""

    @abstractmethod
    def logits_shape(self, model: LoadedModel, seq_len: int) -> tuple[int, ...]:
        """The shape of one sequence's logits: [pos, vocab] for a language model, [vocab] for a last-token one."""

    @abstractmethod
    def sample_tokens(self, model: LoadedModel, num_sequences: int, seed: int) -> torch.Tensor:
        """int64 [num_sequences, seq_len] token ids from the checkpoint's own task."""

    def transformer_lens_export(self, model: LoadedModel) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """HookedTransformerConfig's arguments and the state dict under which TransformerLens computes what this
        network does, hook for hook; UnsupportedProbe saying why where the architecture does not map exactly."""
        raise UnsupportedProbe("this family's network has no exact TransformerLens mapping")

    @abstractmethod
    def run_hooked(
        self, model: LoadedModel, tokens: torch.Tensor, hooks: HookRun, targets_of: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The logits and the loss of each sequence, with every activation through ``hooks``; the loss is against
        the targets ``targets_of`` (a batch of ``tokens``' shape; default ``tokens``) defines, so that a patched
        corrupt run is scored on the clean batch's answers."""


# The probe capabilities in the order ListFamilies reports them (after Evaluate, which every family answers).
PROBE_CAPABILITIES: tuple[type[Capability], ...] = (
    AnswersFacts,
    ExposesAttention,
    RecoversGraph,
    MeasuresSharpness,
    SelfStabilizes,
    RunsWithHooks,
)

C = TypeVar("C", bound=Capability)


def capability(family: Family, kind: type[C]) -> C:
    """``family`` as a ``kind``; UnsupportedProbe (FAILED_PRECONDITION) naming what it offers when it is not one."""
    if isinstance(family, kind):
        return family
    if not kind.probe:
        raise UnsupportedProbe(f"family {family.name} {kind.missing}")
    raise UnsupportedProbe(
        f"family {family.name} does not answer {kind.probe}; it answers {', '.join(family.probes)} "
        f"(its model {kind.missing})"
    )
