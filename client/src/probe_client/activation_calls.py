"""The ActivationService RPCs of :class:`~probe_client.client.ProbeClient`: hook points and their activations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from probe_client.connection import Connection
from probe_client.types import ActivationCache, HookEdit, HookInfo, Intervention, PatchingResult
from probe_wire.tensors import from_tensor, to_tensor
from probe_wire.v1 import activations_pb2, tensor_pb2

EDIT_KINDS = {"set": activations_pb2.EDIT_KIND_SET, "zero": activations_pb2.EDIT_KIND_ZERO,
              "mean": activations_pb2.EDIT_KIND_MEAN, "add": activations_pb2.EDIT_KIND_ADD,
              "patch": activations_pb2.EDIT_KIND_PATCH}  # fmt: skip
SWEEP_AXES = {"position": activations_pb2.SWEEP_AXIS_POSITION, "head": activations_pb2.SWEEP_AXIS_HEAD}


def _ids(tokens: np.ndarray) -> tensor_pb2.Tensor:
    """Token ids as int64; floats are refused rather than rounded."""
    array = np.asarray(tokens)
    if array.dtype.kind not in "iu":
        raise ValueError(f"token ids must be integers, got dtype {array.dtype.name}")
    return to_tensor(array.astype(np.int64))


def _names(hooks: str | Sequence[str]) -> list[str]:
    """Hook names or globs: one string is one name, not its characters."""
    return [hooks] if isinstance(hooks, str) else list(hooks)


def _optional(reply: object, name: str) -> np.ndarray | None:
    return from_tensor(getattr(reply, name)) if reply.HasField(name) else None  # type: ignore[attr-defined]


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
        hooks: str | Sequence[str] = (),
        *,
        tokens: np.ndarray | None = None,
        num_sequences: int = 0,
        seed: int = 0,
        logits: bool = False,
        loss: bool = False,
    ) -> ActivationCache:
        """Activations at ``hooks`` (names or globs; empty: all) for ``tokens`` or sequences of the task."""
        request = activations_pb2.RunWithCacheRequest(
            checkpoint_id=checkpoint_id, hooks=_names(hooks), num_sequences=num_sequences, seed=seed,
            return_logits=logits, return_loss=loss,
        )  # fmt: skip
        if tokens is not None:
            request.tokens.CopyFrom(_ids(tokens))
        reply = self._call(self._activations.RunWithCache, request)
        return ActivationCache(
            activations={a.name: from_tensor(a.tensor) for a in reply.activations},
            tokens=from_tensor(reply.tokens),
            logits=from_tensor(reply.logits) if reply.HasField("logits") else None,
            loss=from_tensor(reply.loss) if reply.HasField("loss") else None,
        )

    def intervene(
        self,
        checkpoint_id: str,
        edits: Sequence[HookEdit],
        *,
        tokens: np.ndarray | None = None,
        source_tokens: np.ndarray | None = None,
        num_sequences: int = 0,
        seed: int = 0,
        source_seed: int = 1,
        hooks: str | Sequence[str] = (),
        logits: bool = False,
        loss_on_source: bool = False,
    ) -> Intervention:
        """Run a batch clean and with ``edits``; patches read ``source_tokens`` (or a batch drawn with
        ``source_seed`` when the tokens are drawn too). Returns both runs' loss, logits on request, and the
        edited run's activations at ``hooks``."""
        request = activations_pb2.InterveneRequest(
            checkpoint_id=checkpoint_id, num_sequences=num_sequences, seed=seed, source_seed=source_seed,
            hooks=_names(hooks), return_logits=logits, loss_on_source=loss_on_source,
        )  # fmt: skip
        for edit in edits:
            if edit.kind not in EDIT_KINDS:
                raise ValueError(f"unknown edit kind {edit.kind!r}; kinds are {', '.join(EDIT_KINDS)}")
            message = request.edits.add(
                hook=edit.hook, kind=EDIT_KINDS[edit.kind], positions=edit.positions, heads=edit.heads
            )
            if edit.value is not None:
                value = np.asarray(edit.value)
                message.value.CopyFrom(to_tensor(value if value.dtype.kind == "f" else value.astype(np.float32)))
        if tokens is not None:
            request.tokens.CopyFrom(_ids(tokens))
        if source_tokens is not None:
            request.source_tokens.CopyFrom(_ids(source_tokens))
        reply = self._call(self._activations.Intervene, request)
        return Intervention(
            tokens=from_tensor(reply.tokens),
            source_tokens=_optional(reply, "source_tokens"),
            clean_loss=from_tensor(reply.clean_loss),
            loss=from_tensor(reply.loss),
            clean_logits=_optional(reply, "clean_logits"),
            logits=_optional(reply, "logits"),
            activations={a.name: from_tensor(a.tensor) for a in reply.activations},
        )

    def patch_sweep(
        self,
        checkpoint_id: str,
        hooks: str | Sequence[str] = ("blocks.*.attn.hook_z",),
        axis: str = "position",
        *,
        clean_tokens: np.ndarray | None = None,
        corrupt_tokens: np.ndarray | None = None,
        num_sequences: int = 0,
        seed: int = 0,
        corrupt_seed: int = 1,
    ) -> PatchingResult:
        """Activation patching: the corrupt batch's loss (on the clean batch's targets) with each ``axis`` cell
        ("position" or "head") of each hook patched in from the clean batch, one matrix row per hook."""
        if axis not in SWEEP_AXES:
            raise ValueError(f"axis must be one of {', '.join(SWEEP_AXES)}, got {axis!r}")
        request = activations_pb2.PatchSweepRequest(
            checkpoint_id=checkpoint_id, hooks=_names(hooks), axis=SWEEP_AXES[axis], num_sequences=num_sequences,
            seed=seed, corrupt_seed=corrupt_seed,
        )  # fmt: skip
        if clean_tokens is not None:
            request.clean_tokens.CopyFrom(_ids(clean_tokens))
        if corrupt_tokens is not None:
            request.corrupt_tokens.CopyFrom(_ids(corrupt_tokens))
        reply = self._call(self._activations.PatchSweep, request)
        return PatchingResult(
            hooks=list(reply.hooks), axis=axis, loss=from_tensor(reply.loss), clean_loss=reply.clean_loss,
            corrupt_loss=reply.corrupt_loss, clean_tokens=from_tensor(reply.clean_tokens),
            corrupt_tokens=from_tensor(reply.corrupt_tokens),
        )  # fmt: skip
