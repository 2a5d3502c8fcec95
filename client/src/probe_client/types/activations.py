"""Results of the ActivationService RPCs."""

from __future__ import annotations

from dataclasses import dataclass

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
