"""Python values to and from google.protobuf Struct and Value, as probe sends configs."""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2


def to_value(python: Any) -> struct_pb2.Value:
    value = struct_pb2.Value()
    if isinstance(python, bool):
        value.bool_value = python
    elif isinstance(python, (int, float)):
        value.number_value = python
    elif python is None:
        value.null_value = struct_pb2.NULL_VALUE
    else:
        value.string_value = str(python)
    return value


def to_struct(values: dict[str, Any] | None) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    if values:
        message.update(values)
    return message
