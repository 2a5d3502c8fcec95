"""probe_client: a thin client of the probe server (grpcio, protobuf, numpy; no torch)."""

from probe_client.client import API_VERSION, ProbeClient
from probe_client.errors import (
    DataLoss,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ProbeError,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    VersionMismatch,
)
from probe_client.types import HookEdit

__version__ = "0.1.0"

__all__ = [
    "API_VERSION",
    "DataLoss",
    "FailedPrecondition",
    "HookEdit",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ProbeClient",
    "ProbeError",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "VersionMismatch",
]
