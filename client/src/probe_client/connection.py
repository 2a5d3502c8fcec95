"""A channel to a probe server: address, bearer token, message limits, reconnection, one stub per service."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any, Self, TypeVar

import grpc

from probe_client.errors import ProbeError, Unavailable, from_rpc_error
from probe_client.follow import RECONNECT_OPTIONS
from probe_wire.limits import channel_options
from probe_wire.v1 import (
    activations_pb2_grpc,
    checkpoints_pb2_grpc,
    info_pb2_grpc,
    jobs_pb2_grpc,
    probes_pb2_grpc,
    registry_pb2_grpc,
    reproductions_pb2_grpc,
    sweeps_pb2_grpc,
)

T = TypeVar("T")

API_VERSION = "probe.v1"
DEFAULT_ADDRESS = "127.0.0.1:50051"


def default_address() -> str:
    return os.environ.get("PROBE_SERVER", DEFAULT_ADDRESS)


def stream_opened(call: Any) -> bool:
    """Whether the server answered a streaming call: its initial metadata came (a call that failed to
    connect returns from initial_metadata() already finished, with an error code)."""
    call.initial_metadata()
    return not call.done() or call.code() == grpc.StatusCode.OK


class _BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def __init__(self, token: str) -> None:
        self._metadata = ("authorization", f"Bearer {token}")

    def _with_token(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return _Details(details, [*list(details.metadata or []), self._metadata])

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._with_token(details), request)


class _Details(grpc.ClientCallDetails):
    def __init__(self, base: grpc.ClientCallDetails, metadata: list[tuple[str, str]]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


def _read(path: str | None, what: str) -> bytes | None:
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as error:
        raise ValueError(f"cannot read the {what} {path}: {error.strerror}") from None


class Connection:
    """A connection to a probe server.

    ``token`` (or ``PROBE_TOKEN``) is sent as ``authorization: Bearer``. ``tls_ca`` (or ``PROBE_TLS_CA``), a PEM
    file, makes the channel TLS and verifies the server against it; ``tls_cert``/``tls_key`` (``PROBE_TLS_CERT``,
    ``PROBE_TLS_KEY``) present a client certificate to a server that requires one (mutual TLS).
    Every method raises a :class:`ProbeError` subclass on failure.
    """

    def __init__(
        self, address: str | None = None, token: str | None = None, timeout: float | None = 60.0, *,
        tls_ca: str | None = None, tls_cert: str | None = None, tls_key: str | None = None,
    ) -> None:  # fmt: skip
        self.address = address or default_address()
        self.timeout = timeout
        options = [*channel_options(), *RECONNECT_OPTIONS]
        ca = _read(tls_ca or os.environ.get("PROBE_TLS_CA"), "TLS CA file")
        cert = _read(tls_cert or os.environ.get("PROBE_TLS_CERT"), "TLS certificate")
        key = _read(tls_key or os.environ.get("PROBE_TLS_KEY"), "TLS key")
        if (cert is None) != (key is None):
            raise ValueError("a client certificate needs both tls_cert and tls_key")
        self.tls = ca is not None or cert is not None
        if self.tls:
            credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
            self._channel = grpc.secure_channel(self.address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(self.address, options=options)
        token = token if token is not None else os.environ.get("PROBE_TOKEN")
        channel = grpc.intercept_channel(self._channel, _BearerToken(token)) if token else self._channel
        self._jobs = jobs_pb2_grpc.JobServiceStub(channel)
        self._checkpoints = checkpoints_pb2_grpc.CheckpointServiceStub(channel)
        self._probes = probes_pb2_grpc.ProbeServiceStub(channel)
        self._activations = activations_pb2_grpc.ActivationServiceStub(channel)
        self._registry = registry_pb2_grpc.RegistryServiceStub(channel)
        self._info = info_pb2_grpc.InfoServiceStub(channel)
        self._sweeps = sweeps_pb2_grpc.SweepServiceStub(channel)
        self._reproductions = reproductions_pb2_grpc.ReproductionServiceStub(channel)
        self._health_channel = channel

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Any, request: Any, timeout: float | None = None) -> Any:
        try:
            return method(request, timeout=timeout if timeout is not None else self.timeout)
        except grpc.RpcError as error:
            raise self._error(error) from None

    def _error(self, error: grpc.RpcError) -> ProbeError:
        """The client's error for a failed call; an unreachable server's says what to check about TLS."""
        converted = from_rpc_error(error)
        if isinstance(converted, Unavailable):
            hint = (
                "; check that the CA (--tls-ca) signed the server's certificate and the address matches its name"
                if self.tls
                else "; if the server uses TLS, give its CA with --tls-ca or PROBE_TLS_CA"
            )
            converted.message += hint
        return converted

    def _stream(
        self,
        method: Any,
        request: Any,
        convert: Callable[[Any], T],
        timeout: float | None,
        on_open: Callable[[], None] | None,
    ) -> Iterator[T]:
        """A server stream's messages as ``convert`` makes them, until it ends (or ``timeout`` seconds pass);
        ``on_open`` is called once the server has opened the stream, before any message."""
        call = method(request, timeout=timeout)
        try:
            if on_open is not None and stream_opened(call):
                on_open()
            for message in call:
                yield convert(message)
        except grpc.RpcError as error:
            raise self._error(error) from None
        finally:
            call.cancel()  # a caller that stops reading early frees the server's stream now, not at garbage collection
