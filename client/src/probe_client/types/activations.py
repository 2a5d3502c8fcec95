"""Results of the ActivationService RPCs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class HookInfo:
    name: str
    axes: list[str]  # the first is "batch"
    shape: list[int]  # the batch's is -1 (any)
    transformer_lens: bool  # the same computation as TransformerLens's hook of this name
    meaning: str


@dataclass
class ActivationCache:
    activations: dict[str, np.ndarray]  # hook name -> float32 array, in the network's order
    tokens: np.ndarray  # int64 [batch, pos]: what was run
    logits: np.ndarray | None  # when asked for
    loss: np.ndarray | None  # per sequence, when asked for


@dataclass
class HookEdit:
    """An edit of one hook's activation (Intervene): ``kind`` is set, zero, mean, add or patch; positions and
    heads select where (empty: everywhere); set and add take ``value``, which broadcasts to the hook's shape."""

    hook: str
    kind: str
    positions: list[int] = field(default_factory=list)
    heads: list[int] = field(default_factory=list)
    value: np.ndarray | None = None


@dataclass
class Intervention:
    tokens: np.ndarray  # int64 [batch, pos]
    source_tokens: np.ndarray | None  # the batch patches read from, when there was one
    clean_loss: np.ndarray  # float32 [batch]
    loss: np.ndarray  # float32 [batch], with the edits
    clean_logits: np.ndarray | None  # when asked for
    logits: np.ndarray | None
    activations: dict[str, np.ndarray]  # the edited run's, at the requested hooks


@dataclass
class PatchingResult:
    hooks: list[str]  # the rows
    axis: str  # "position" or "head": what the columns index
    loss: np.ndarray  # float32 [rows, cells]: the corrupt batch's loss with that cell patched from the clean one
    clean_loss: float
    corrupt_loss: float
    clean_tokens: np.ndarray
    corrupt_tokens: np.ndarray

    def restored(self) -> np.ndarray:
        """The share of the clean-to-corrupt loss gap each patch closes: 1 restores the clean run, 0 does nothing;
        NaN everywhere when the two batches' losses are equal (there is no gap to close)."""
        gap = self.corrupt_loss - self.clean_loss
        if gap == 0:
            return np.full_like(self.loss, np.nan)
        return (self.corrupt_loss - self.loss) / gap
