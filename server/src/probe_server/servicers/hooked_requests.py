"""What the ActivationService RPCs read from a request and check before anything runs: token batches (given or
drawn from the task), typed edits, and the floats a run holds and returns."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from probe_models.capabilities import RunsWithHooks
from probe_models.errors import InvalidInput, TooLarge
from probe_models.family import LoadedModel
from probe_models.hooks import Edit, HookSpec
from probe_server.servicers.request_checks import check_count, parse_tokens
from probe_server.settings import Limits
from probe_wire.tensors import TensorFormatError, from_tensor
from probe_wire.v1 import activations_pb2, tensor_pb2

DEFAULT_SEQUENCES = 8
EDIT_KINDS = {
    activations_pb2.EDIT_KIND_SET: "set",
    activations_pb2.EDIT_KIND_ZERO: "zero",
    activations_pb2.EDIT_KIND_MEAN: "mean",
    activations_pb2.EDIT_KIND_ADD: "add",
    activations_pb2.EDIT_KIND_PATCH: "patch",
}
SWEEP_AXES = {activations_pb2.SWEEP_AXIS_POSITION: "position", activations_pb2.SWEEP_AXIS_HEAD: "head"}


@dataclass
class TokenBatch:
    """A request's token ids, given or to be drawn from the task once every check has passed."""

    batch: int
    seq_len: int
    given: torch.Tensor | None
    seed: int

    def tokens(self, family: RunsWithHooks, model: LoadedModel) -> torch.Tensor:
        return self.given if self.given is not None else family.sample_tokens(model, self.batch, self.seed)


def token_batch(
    family: RunsWithHooks,
    model: LoadedModel,
    limits: Limits,
    given: tensor_pb2.Tensor | None,
    num_sequences: int,
    seed: int,
    what: str = "tokens",
) -> TokenBatch:
    """``given`` token ids checked against the network (ids, lengths) and the limits, or the shape of
    ``num_sequences`` sequences to draw with ``seed``."""
    vocab, shortest, longest = family.token_limits(model)
    if given is not None:
        if num_sequences:
            raise InvalidInput(f"give either {what} or num_sequences, not both")
        tokens = parse_tokens(given, limits, what)
        if not shortest <= tokens.shape[1] <= longest:
            span = f"{longest}" if shortest == longest else f"{shortest} to {longest}"
            raise InvalidInput(f"{what}: sequences of {tokens.shape[1]} tokens; this network takes {span}")
        if bool(((tokens < 0) | (tokens >= vocab)).any()):
            raise InvalidInput(f"{what}: token ids must lie in [0, {vocab - 1}]")
        return TokenBatch(tokens.shape[0], tokens.shape[1], tokens, seed)
    batch = check_count("num_sequences", num_sequences, DEFAULT_SEQUENCES, limits.max_batch)
    if batch * longest > limits.max_tokens:
        raise TooLarge(f"{batch} sequences of {longest} tokens exceed this server's limit of "
                       f"{limits.max_tokens:,} tokens per request")  # fmt: skip
    return TokenBatch(batch, longest, None, seed)


def parse_edits(messages: Sequence[activations_pb2.HookEdit]) -> list[Edit]:
    """The request's edits as typed :class:`Edit`; what they select is checked against the hooks later."""
    edits = []
    for message in messages:
        kind = EDIT_KINDS.get(message.kind)
        if kind is None:
            raise InvalidInput(f"edit of {message.hook!r}: kind must be one of SET, ZERO, MEAN, ADD, PATCH")
        value = None
        if message.HasField("value"):
            try:
                array = from_tensor(message.value)
            except TensorFormatError as error:
                raise InvalidInput(f"edit of {message.hook!r}: value: {error}") from None
            if array.dtype.kind != "f":
                raise InvalidInput(f"edit of {message.hook!r}: value must be floating point, got {array.dtype.name}")
            with np.errstate(over="ignore"):  # a float64 past float32's range becomes inf, which check_edits refuses
                value = torch.from_numpy(array.astype(np.float32))
        edits.append(Edit(message.hook, kind, tuple(message.positions), tuple(message.heads), value))
    return edits


def sequence_floats(specs: Sequence[HookSpec]) -> int:
    """Floats one sequence's forward pass holds at its hook points."""
    return sum(math.prod(s.sizes[1:]) for s in specs)


def check_floats(limits: Limits, held: int, returned: int, returned_ints: int = 0) -> None:
    """Refuse a run holding ``held`` floats, or a reply of ``returned`` floats and ``returned_ints`` int64s,
    beyond what this server allows."""
    if held > limits.max_probe_floats:
        raise TooLarge(f"the run would hold {held:,} floats; this server's limit is {limits.max_probe_floats:,}: "
                       "ask for fewer sequences")  # fmt: skip
    if returned > limits.max_probe_floats:
        raise TooLarge(f"the reply would hold {returned:,} floats; this server's limit is "
                       f"{limits.max_probe_floats:,}: ask for fewer hooks or sequences")  # fmt: skip
    reply_bytes = 4 * returned + 8 * returned_ints
    if reply_bytes > limits.max_message_bytes:
        raise TooLarge(f"the reply would be {reply_bytes:,} bytes; the message limit is "
                       f"{limits.max_message_bytes:,}: ask for fewer hooks or sequences")  # fmt: skip
