"""Replies encoded by hand parse as the message protobuf builds from the same arrays."""

from __future__ import annotations

import numpy as np
import pytest

from probe_wire.encoded import EncodedReply
from probe_wire.tensors import TensorFormatError, from_tensor, to_tensor
from probe_wire.v1 import activations_pb2

ARRAYS = {
    "float32": np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7,
    "big-endian float64": np.linspace(-1, 1, 6).astype(">f8").reshape(3, 2),
    "int64, a view": np.arange(40, dtype=np.int64).reshape(5, 8)[:, ::3],
    "bool": np.array([[True, False, True]]),
    "scalar": np.array(np.float32(0.25)),
    "empty": np.zeros((0, 4), dtype=np.float32),
    "long name": np.ones(300, dtype=np.int8),
}


def test_a_hand_encoded_reply_parses_as_the_message_protobuf_builds() -> None:
    small = activations_pb2.RunWithCacheResponse(tokens=to_tensor(np.array([[1, 2, 3]])))
    built = activations_pb2.RunWithCacheResponse()
    built.CopyFrom(small)
    reply = EncodedReply(small)
    for name, array in ARRAYS.items():
        label = name * 20 if name == "long name" else name  # a name longer than one varint byte
        built.activations.add(name=label, tensor=to_tensor(array))
        reply.add_named_tensor(activations_pb2.RunWithCacheResponse.ACTIVATIONS_FIELD_NUMBER, label, array)
    big = np.random.default_rng(0).standard_normal((64, 300)).astype(np.float32)  # lengths of three varint bytes
    built.logits.CopyFrom(to_tensor(big))
    reply.add_tensor(activations_pb2.RunWithCacheResponse.LOGITS_FIELD_NUMBER, big)
    parsed = activations_pb2.RunWithCacheResponse.FromString(reply.encode())
    assert parsed == built
    for name, array in ARRAYS.items():
        entry = next(a for a in parsed.activations if a.name.startswith(name))
        np.testing.assert_array_equal(from_tensor(entry.tensor), array)
    assert [a.name[:5] for a in parsed.activations] == [n[:5] for n in ARRAYS]  # the order they were added


def test_an_unsupported_dtype_is_refused() -> None:
    with pytest.raises(TensorFormatError, match="complex64 is not supported"):
        EncodedReply(activations_pb2.RunWithCacheResponse()).add_tensor(3, np.zeros(2, dtype=np.complex64))


def test_a_singular_tensor_field_cannot_be_set_twice() -> None:
    reply = EncodedReply(activations_pb2.RunWithCacheResponse(tokens=to_tensor(np.ones((1, 2), np.int64))))
    with pytest.raises(ValueError, match="tokens is set already"):
        reply.add_tensor(activations_pb2.RunWithCacheResponse.TOKENS_FIELD_NUMBER, np.ones((1, 2), np.int64))
    reply.add_tensor(activations_pb2.RunWithCacheResponse.LOSS_FIELD_NUMBER, np.ones(1, np.float32))
    with pytest.raises(ValueError, match="loss is set already"):
        reply.add_tensor(activations_pb2.RunWithCacheResponse.LOSS_FIELD_NUMBER, np.ones(1, np.float32))
