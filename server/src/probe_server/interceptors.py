"""Cross-cutting concerns of every RPC: the bearer token, metrics, a cap on open streams, and error mapping.

Servicers raise domain exceptions; this is the one place that turns them into
gRPC statuses. An exception with no mapping is a bug: it is logged with its
traceback and reported as INTERNAL.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from probe_server.errors import Busy, status_for
from probe_server.metrics import Metrics

log = logging.getLogger("probe.rpc")

UNAUTHENTICATED_SERVICES = ("grpc.health.v1.Health",)


class _Outcome:
    code = grpc.StatusCode.OK


class ServerInterceptor(grpc.ServerInterceptor):
    def __init__(self, metrics: Metrics, token: str | None, max_streams: int) -> None:
        self.metrics = metrics
        self.token = token
        # Each open stream holds one of the server's RPC threads for as long as it lasts (a watched job: hours).
        # Past max_streams a new stream is refused at once, so the threads left keep answering unary calls.
        self.max_streams = max_streams
        self._streams = threading.BoundedSemaphore(max_streams)

    def intercept_service(self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        service, _, method = details.method.lstrip("/").rpartition("/")
        authorized = self._authorized(service, details.invocation_metadata)
        if handler.unary_unary is not None:
            behavior = self._wrap_unary(handler.unary_unary, service, method, authorized)
            return grpc.unary_unary_rpc_method_handler(
                behavior, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream is not None:
            behavior = self._wrap_stream(handler.unary_stream, service, method, authorized)
            return grpc.unary_stream_rpc_method_handler(
                behavior, handler.request_deserializer, handler.response_serializer
            )
        return handler  # probe has no client-streaming RPCs; reflection's bidi stream passes through

    def _authorized(self, service: str, metadata: Any) -> bool:
        if self.token is None or service in UNAUTHENTICATED_SERVICES:
            return True
        for key, value in metadata or ():
            if key == "authorization" and hmac.compare_digest(str(value), f"Bearer {self.token}"):
                return True
        return False

    def _fail(self, context: grpc.ServicerContext, outcome: _Outcome, error: BaseException, method: str) -> None:
        code = status_for(error)
        if code is None:
            log.exception("rpc=%s internal error", method)
            code, message = grpc.StatusCode.INTERNAL, f"internal error: {type(error).__name__}: {error}"
        else:
            message = str(error)
            log.info("rpc=%s code=%s %s", method, code.name, message)
        outcome.code = code
        context.abort(code, message)

    def _begin(
        self, kind: str, service: str, method: str, authorized: bool, context: grpc.ServicerContext, outcome: _Outcome
    ) -> None:
        self.metrics.started.labels(kind, service, method).inc()
        if not authorized:
            outcome.code = grpc.StatusCode.UNAUTHENTICATED
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token (authorization: Bearer <token>)"
            )

    def _end(
        self, kind: str, service: str, method: str, start: float, outcome: _Outcome, context: grpc.ServicerContext
    ) -> None:
        code = outcome.code
        if code == grpc.StatusCode.OK and context.code() not in (None, grpc.StatusCode.OK):
            code = context.code()
        self.metrics.handled.labels(kind, service, method, code.name).inc()
        self.metrics.handling_seconds.labels(kind, service, method).observe(time.perf_counter() - start)

    def _wrap_unary(
        self, behavior: Callable[..., Any], service: str, method: str, authorized: bool
    ) -> Callable[..., Any]:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
            start, outcome = time.perf_counter(), _Outcome()
            try:
                self._begin("UNARY", service, method, authorized, context, outcome)
                return behavior(request, context)
            except Exception as error:
                if outcome.code != grpc.StatusCode.OK:
                    raise  # already aborted
                self._fail(context, outcome, error, method)
            finally:
                self._end("UNARY", service, method, start, outcome, context)

        return wrapped

    def _wrap_stream(
        self, behavior: Callable[..., Any], service: str, method: str, authorized: bool
    ) -> Callable[..., Any]:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            start, outcome, opened = time.perf_counter(), _Outcome(), False
            try:
                self._begin("SERVER_STREAM", service, method, authorized, context, outcome)
                opened = self._streams.acquire(blocking=False)
                if not opened:
                    raise Busy(
                        f"this server already serves {self.max_streams} open streams (its --max-streams); "
                        "retry later, or stop a watcher"
                    )
                yield from behavior(request, context)
            except Exception as error:
                if outcome.code != grpc.StatusCode.OK:
                    raise
                self._fail(context, outcome, error, method)
            finally:
                if opened:
                    self._streams.release()
                self._end("SERVER_STREAM", service, method, start, outcome, context)

        return wrapped
