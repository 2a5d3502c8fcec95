"""Errors raised by ProbeClient: one class per gRPC status, keeping the server's message."""

from __future__ import annotations

import grpc


class ProbeError(Exception):
    """A failed RPC. ``code`` is the gRPC status; ``message`` the server's explanation."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


class InvalidArgument(ProbeError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ProbeError):
    code = grpc.StatusCode.NOT_FOUND


class FailedPrecondition(ProbeError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(ProbeError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unauthenticated(ProbeError):
    code = grpc.StatusCode.UNAUTHENTICATED


class Unavailable(ProbeError):
    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(ProbeError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class DataLoss(ProbeError):
    """The server's stored data (a checkpoint's file) is damaged or missing; the request was fine."""

    code = grpc.StatusCode.DATA_LOSS


class PermissionDenied(ProbeError):
    """The token is valid but its role may not make this call (a read token submitting a job)."""

    code = grpc.StatusCode.PERMISSION_DENIED


class VersionMismatch(ProbeError):
    """The server speaks another API version than this client."""

    code = grpc.StatusCode.FAILED_PRECONDITION


_BY_CODE = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        FailedPrecondition,
        ResourceExhausted,
        Unauthenticated,
        Unavailable,
        DeadlineExceeded,
        DataLoss,
        PermissionDenied,
    )
}


def from_rpc_error(error: grpc.RpcError) -> ProbeError:
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    cls = _BY_CODE.get(code, ProbeError)
    return cls(details or code.name, code)
