"""Cross-cutting concerns of every RPC: bearer tokens and roles, metrics, a cap on open streams, error mapping.

The token is checked before the request body is parsed: each handler here takes the raw bytes, so a call
without a valid token is UNAUTHENTICATED whatever its body, and a body that does not parse is
INVALID_ARGUMENT, not gRPC's own INTERNAL. Health alone needs no token; reflection does.

Servicers raise domain exceptions; this is the one place that turns them into
gRPC statuses. An exception with no mapping is a bug: it is logged with its
traceback and reported as INTERNAL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from probe_models.errors import InvalidInput
from probe_server.errors import Busy, status_for
from probe_server.metrics import Metrics, code_label
from probe_server.tokens import Token, match, needs_write

log = logging.getLogger("probe.rpc")

UNAUTHENTICATED_SERVICES = ("grpc.health.v1.Health",)
ANYONE = Token("anonymous", "write")  # the caller when the server has no token file, or of health
HEALTH_STREAMS = 2  # open Health.Watch streams at once


class _Outcome:
    code = grpc.StatusCode.OK


class ServerInterceptor(grpc.ServerInterceptor):
    def __init__(self, metrics: Metrics, tokens: list[Token] | None, max_streams: int) -> None:
        self.metrics = metrics
        self.tokens = tokens
        # Each open stream holds one of the server's RPC threads for as long as it lasts (a watched job: hours).
        # Past max_streams a new stream is refused at once, so the threads left keep answering unary calls.
        self.max_streams = max_streams
        self._streams = threading.BoundedSemaphore(max_streams)
        # Health needs no token, so its watches get a small cap of their own: no caller without a token can
        # take the streams (and threads) of those with one.
        self._health_streams = threading.BoundedSemaphore(HEALTH_STREAMS)

    def intercept_service(self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        service, _, method = details.method.lstrip("/").rpartition("/")
        caller = self._caller(service, details.invocation_metadata)
        parse = handler.request_deserializer or (lambda raw: raw)
        if handler.unary_unary is not None:  # no deserializer: the wrapper gets the bytes and parses them itself
            behavior = self._wrap_unary(handler.unary_unary, parse, service, method, caller)
            return grpc.unary_unary_rpc_method_handler(behavior, None, handler.response_serializer)
        if handler.unary_stream is not None:
            behavior = self._wrap_stream(handler.unary_stream, parse, service, method, caller)
            return grpc.unary_stream_rpc_method_handler(behavior, None, handler.response_serializer)
        if handler.stream_stream is not None:  # reflection: probe has no client-streaming RPCs of its own
            return grpc.stream_stream_rpc_method_handler(
                self._wrap_bidi(handler.stream_stream, service, method, caller), handler.request_deserializer,
                handler.response_serializer,
            )  # fmt: skip
        return None

    def _caller(self, service: str, metadata: Any) -> Token | None:
        """Who calls: the matching token, ANYONE where no token is needed, None for a missing or wrong one."""
        if self.tokens is None or service in UNAUTHENTICATED_SERVICES:
            return ANYONE
        return match(self.tokens, metadata)

    @staticmethod
    def _check_caller(caller: Token | None, method: str, context: grpc.ServicerContext, outcome: _Outcome) -> None:
        if caller is None:
            outcome.code = grpc.StatusCode.UNAUTHENTICATED
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token (authorization: Bearer <token>)"
            )
            return  # abort raises; this says so to the type checker
        if needs_write(method):
            if caller.role != "write":
                outcome.code = grpc.StatusCode.PERMISSION_DENIED
                context.abort(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"token {caller.name!r} has the {caller.role} role; {method} needs a write token",
                )
            log.info("rpc=%s caller=%s", method, caller.name)

    @staticmethod
    def _parse(parse: Callable[[bytes], Any], raw: bytes, method: str) -> Any:
        try:
            return parse(raw)
        except DecodeError:
            raise InvalidInput(f"the request body is not a valid {method} request message") from None

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
        self, kind: str, service: str, method: str, caller: Token | None, context: grpc.ServicerContext,
        outcome: _Outcome,
    ) -> None:  # fmt: skip
        self.metrics.started.labels(kind, service, method).inc()
        self.metrics.msg_received.labels(kind, service, method).inc()  # a unary or server-streaming call's one
        self._check_caller(caller, method, context, outcome)

    def _end(
        self, kind: str, service: str, method: str, start: float, outcome: _Outcome, context: grpc.ServicerContext
    ) -> None:
        code = outcome.code
        if code == grpc.StatusCode.OK and context.code() not in (None, grpc.StatusCode.OK):
            code = context.code()
        self.metrics.handled.labels(kind, service, method, code_label(code)).inc()
        self.metrics.handling_seconds.labels(kind, service, method).observe(time.perf_counter() - start)

    def _wrap_unary(
        self, behavior: Callable[..., Any], parse: Callable[[bytes], Any], service: str, method: str,
        caller: Token | None,
    ) -> Callable[..., Any]:  # fmt: skip
        def wrapped(raw: bytes, context: grpc.ServicerContext) -> Any:
            start, outcome = time.perf_counter(), _Outcome()
            try:
                self._begin("unary", service, method, caller, context, outcome)
                reply = behavior(self._parse(parse, raw, method), context)
                self.metrics.msg_sent.labels("unary", service, method).inc()
                return reply
            except Exception as error:
                if outcome.code != grpc.StatusCode.OK:
                    raise  # already aborted
                self._fail(context, outcome, error, method)
            finally:
                self._end("unary", service, method, start, outcome, context)

        return wrapped

    def _wrap_stream(
        self, behavior: Callable[..., Any], parse: Callable[[bytes], Any], service: str, method: str,
        caller: Token | None,
    ) -> Callable[..., Any]:  # fmt: skip
        slots = self._health_streams if service in UNAUTHENTICATED_SERVICES else self._streams

        def wrapped(raw: bytes, context: grpc.ServicerContext) -> Iterator[Any]:
            start, outcome, opened = time.perf_counter(), _Outcome(), False
            try:
                self._begin("server_stream", service, method, caller, context, outcome)
                request = self._parse(parse, raw, method)
                opened = slots.acquire(blocking=False)
                if not opened:
                    raise Busy(
                        f"this server already serves {self.max_streams} open streams (its --max-streams); "
                        "retry later, or stop a watcher"
                    )
                sent = self.metrics.msg_sent.labels("server_stream", service, method)
                for message in behavior(request, context):
                    sent.inc()
                    yield message
            except Exception as error:
                if outcome.code != grpc.StatusCode.OK:
                    raise
                self._fail(context, outcome, error, method)
            finally:
                if opened:
                    slots.release()
                self._end("server_stream", service, method, start, outcome, context)

        return wrapped

    def _wrap_bidi(self, behavior: Callable[..., Any], service: str, method: str, caller: Token | None) -> Any:
        """Reflection: counted like any RPC, each message either way."""
        kind = "bidi_stream"
        received = self.metrics.msg_received.labels(kind, service, method)
        sent = self.metrics.msg_sent.labels(kind, service, method)

        def counted(requests: Iterator[Any]) -> Iterator[Any]:
            for request in requests:
                received.inc()
                yield request

        def wrapped(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
            start, outcome = time.perf_counter(), _Outcome()
            self.metrics.started.labels(kind, service, method).inc()
            opened = False
            try:
                self._check_caller(caller, method, context, outcome)
                opened = self._streams.acquire(blocking=False)  # a reflection stream holds a thread like any other
                if not opened:
                    outcome.code = grpc.StatusCode.RESOURCE_EXHAUSTED
                    context.abort(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"this server already serves {self.max_streams} open streams (its --max-streams)",
                    )
                for response in behavior(counted(requests), context):
                    sent.inc()
                    yield response
            finally:
                if opened:
                    self._streams.release()
                self._end(kind, service, method, start, outcome, context)

        return wrapped
