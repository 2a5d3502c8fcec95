"""numpy arrays to and from the wire's ``Tensor {dtype, shape, data}``."""

from __future__ import annotations

import math

import numpy as np

from probe_wire.v1 import tensor_pb2

ALLOWED_DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")


class TensorFormatError(ValueError):
    """The bytes do not describe a tensor of the stated dtype and shape."""


def to_tensor(array: np.ndarray) -> tensor_pb2.Tensor:
    array = np.asarray(array)
    if array.dtype.name not in ALLOWED_DTYPES:
        raise TensorFormatError(f"dtype {array.dtype.name} is not supported; use one of {', '.join(ALLOWED_DTYPES)}")
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return tensor_pb2.Tensor(
        dtype=array.dtype.name, shape=list(array.shape), data=np.ascontiguousarray(little).tobytes()
    )


def from_tensor(tensor: tensor_pb2.Tensor) -> np.ndarray:
    if tensor.dtype not in ALLOWED_DTYPES:
        raise TensorFormatError(f"dtype {tensor.dtype!r} is not supported; use one of {', '.join(ALLOWED_DTYPES)}")
    shape, data = tuple(tensor.shape), tensor.data  # upb copies a bytes field at every read: read it once
    if any(d < 0 for d in shape):
        raise TensorFormatError(f"shape {list(shape)} has a negative dimension")
    dtype = np.dtype(tensor.dtype).newbyteorder("<")
    count = math.prod(shape)  # Python integers: numpy's int64 product wraps ([2**32, 2**32] gave 0)
    if count * dtype.itemsize != len(data):
        raise TensorFormatError(f"{len(data)} bytes cannot hold a {tensor.dtype} tensor of shape {list(shape)}")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))  # a writable copy
