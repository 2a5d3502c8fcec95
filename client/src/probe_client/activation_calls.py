"""The ActivationService RPCs of :class:`~probe_client.client.ProbeClient`: hook points and their activations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from probe_client.connection import Connection
from probe_client.types import ActivationCache, HookInfo
from probe_wire.tensors import from_tensor, to_tensor
from probe_wire.v1 import activations_pb2


class ActivationCalls(Connection):
    """One typed method per ActivationService RPC."""

    def list_hooks(self, checkpoint_id: str, seq_len: int = 0) -> list[HookInfo]:
        """Every hook point of the checkpoint's network, with shapes for ``seq_len`` tokens (0: the longest)."""
        reply = self._call(
            self._activations.ListHooks, activations_pb2.ListHooksRequest(checkpoint_id=checkpoint_id, seq_len=seq_len)
        )
        return [HookInfo(h.name, list(h.axes), list(h.shape), h.transformer_lens, h.meaning) for h in reply.hooks]

    def run_with_cache(
        self,
        checkpoint_id: str,
        hooks: Sequence[str] = (),
        *,
        tokens: np.ndarray | None = None,
        num_sequences: int = 0,
        seed: int = 0,
        logits: bool = False,
        loss: bool = False,
    ) -> ActivationCache:
        """Activations at ``hooks`` (names or globs; empty: all) for ``tokens`` or sequences of the task."""
        request = activations_pb2.RunWithCacheRequest(
            checkpoint_id=checkpoint_id, hooks=list(hooks), num_sequences=num_sequences, seed=seed,
            return_logits=logits, return_loss=loss,
        )  # fmt: skip
        if tokens is not None:
            request.tokens.CopyFrom(to_tensor(np.asarray(tokens, dtype=np.int64)))
        reply = self._call(self._activations.RunWithCache, request)
        return ActivationCache(
            activations={a.name: from_tensor(a.tensor) for a in reply.activations},
            tokens=from_tensor(reply.tokens),
            logits=from_tensor(reply.logits) if reply.HasField("logits") else None,
            loss=from_tensor(reply.loss) if reply.HasField("loss") else None,
        )
