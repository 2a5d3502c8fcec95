"""Conversions that several result types share: state names, config Structs, timestamps."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from probe_wire.v1 import (
    jobs_pb2,
)

FINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED", "INTERRUPTED")


def enum_value(enum: Any, prefix: str, what: str, name: str) -> int:
    """The number of a state given by its short name ("running"), or a ValueError listing the known ones."""
    try:
        return enum.Value(prefix + name.upper())
    except ValueError:
        known = [n.removeprefix(prefix) for n in enum.keys()[1:]]
        raise ValueError(f"unknown {what} {name!r}; known: {', '.join(known)}") from None


def state_name(value: int) -> str:
    return jobs_pb2.JobState.Name(value).removeprefix("JOB_STATE_")


def state_value(name: str) -> jobs_pb2.JobState:
    return cast("jobs_pb2.JobState", enum_value(jobs_pb2.JobState, "JOB_STATE_", "job state", name))


def config_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    """Struct numbers are doubles; show integral ones as ints, as the family config declares most of them."""
    values = json_format.MessageToDict(message)
    return {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in values.items()}


def optional_time(ts: timestamp_pb2.Timestamp, present: bool) -> datetime | None:
    return ts.ToDatetime().replace(tzinfo=None) if present else None
