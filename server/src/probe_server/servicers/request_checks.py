"""What several probe RPCs check the same way: counts within the server's limits, and token ids."""

from __future__ import annotations

import numpy as np
import torch

from probe_models.errors import InvalidInput, TooLarge
from probe_server.settings import Limits
from probe_wire.tensors import TensorFormatError, from_tensor
from probe_wire.v1 import tensor_pb2


def check_count(name: str, value: int, default: int, limit: int) -> int:
    """A request's count, or (for 0) the default within this server's limit: leaving a count out is never
    refused for a limit the client did not choose."""
    if value < 0:
        raise InvalidInput(f"{name} must be >= 0, got {value}")
    value = value or min(default, limit)
    if value > limit:
        raise TooLarge(f"{name} {value} exceeds this server's limit of {limit}")
    return value


def parse_tokens(message: tensor_pb2.Tensor, limits: Limits, what: str = "tokens") -> torch.Tensor:
    """Token ids [batch, seq_len] as a request gives them, refused when malformed or beyond the limits."""
    try:
        array = from_tensor(message)
    except TensorFormatError as error:
        raise InvalidInput(f"{what}: {error}") from None
    if array.dtype.kind not in "iu":
        raise InvalidInput(f"{what} must be integer ids, got dtype {array.dtype.name}")
    if array.ndim != 2:
        raise InvalidInput(f"{what} must be shaped [batch, seq_len], got {list(array.shape)}")
    batch, seq_len = array.shape
    if batch == 0:
        raise InvalidInput(f"{what} has an empty batch")
    if batch > limits.max_batch or seq_len > limits.max_seq_len:
        raise TooLarge(
            f"{what} {list(array.shape)} exceed the limits batch <= {limits.max_batch}, seq_len <= {limits.max_seq_len}"
        )
    if batch * seq_len > limits.max_tokens:
        raise TooLarge(f"{batch * seq_len:,} tokens exceed this server's limit of {limits.max_tokens:,} per request")
    return torch.from_numpy(array.astype(np.int64))
