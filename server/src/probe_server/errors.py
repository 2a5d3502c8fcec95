"""Server-side error classes and the one table that maps every error to a gRPC status."""

from __future__ import annotations

import grpc

from probe_models.errors import DataUnavailable, InvalidInput, TooLarge, UnsupportedProbe


class NotFoundError(Exception):
    """A well-formed id names nothing stored."""


class Conflict(Exception):
    """The request is valid but the thing is in the wrong state for it."""


class DataLoss(Exception):
    """A stored file is missing, damaged or truncated: the request was fine, the server's data is not."""


class StorageFull(Exception):
    """The data dir's disk has no room for a write; the request may succeed once the operator frees space."""


class PermissionDenied(Exception):
    """The request is well formed but this server does not allow it (a path outside its data roots)."""


class Busy(Exception):
    """The server is at a concurrency limit (open streams); the same request may succeed later."""


class ShuttingDown(Exception):
    """The server is stopping: the request was fine and may succeed on a server that is up."""


STATUS_BY_ERROR: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (Conflict, grpc.StatusCode.FAILED_PRECONDITION),
    (UnsupportedProbe, grpc.StatusCode.FAILED_PRECONDITION),
    (DataUnavailable, grpc.StatusCode.FAILED_PRECONDITION),
    (TooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Busy, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (StorageFull, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (DataLoss, grpc.StatusCode.DATA_LOSS),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (ShuttingDown, grpc.StatusCode.UNAVAILABLE),
)


def status_for(error: BaseException) -> grpc.StatusCode | None:
    """The status of a known user error, or None for a bug (INTERNAL)."""
    for cls, code in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return code
    return None
