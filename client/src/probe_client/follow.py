"""Following a job's or a sweep's event stream across lost connections, with backoff and a deadline.

A stream of numbered events can be reopened after the last sequence number
seen, so a dropped connection (the server restarting, a network blip) costs
nothing if the follower reconnects. Reconnecting at once, forever, is what
it must not do: against a stopped server that was thousands of attempts a
second. Here the wait between attempts doubles from ``Backoff.first_s`` up to
``Backoff.most_s``, and the follower gives up with one Unavailable error once
the server has been unreachable for ``retry_for`` seconds (a last attempt
is made at that moment), or raises DeadlineExceeded once ``timeout``
seconds have passed in all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import grpc

from probe_client.errors import DeadlineExceeded, ProbeError, Unavailable

OUTAGE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
# A stream refused because the server serves as many as it allows (RESOURCE_EXHAUSTED) is retried like an
# outage: a watcher ahead of it ends, and the follower gets its place. (A unary call's RESOURCE_EXHAUSTED
# is a request too large, which no retry helps: reach() retries outages only.)
STREAM_RETRIED = (*OUTAGE, grpc.StatusCode.RESOURCE_EXHAUSTED)
DEFAULT_RETRY_FOR_S = 60.0
# gRPC's own reconnection backoff grows to 120 s, and while it waits every call fails at once: a server back
# after a minute's outage would be reached only minutes later. Capped here at Backoff's own most_s.
# (min_reconnect_backoff_ms is left alone: gRPC also takes it as the connect timeout of each attempt.)
RECONNECT_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 2000)]


class Numbered(Protocol):
    @property
    def seq(self) -> int: ...


E = TypeVar("E", bound=Numbered)


@dataclass(frozen=True)
class Backoff:
    """Waits between reconnection attempts: first_s, then ×factor each time, at most most_s."""

    first_s: float = 0.1
    factor: float = 2.0
    most_s: float = 2.0


def follow(
    open_stream: Callable[[int, float | None, Callable[[], None]], Iterator[E]],
    what: str,
    *,
    timeout: float | None = None,
    retry_for: float = DEFAULT_RETRY_FOR_S,
    backoff: Backoff = Backoff(),
    retried: tuple[grpc.StatusCode, ...] = STREAM_RETRIED,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[E]:
    """Every event of ``open_stream(after_seq, seconds_left, connected)`` once, in order, until the stream ends.

    ``open_stream`` opens the stream after a sequence number, as a call that ends itself (DEADLINE_EXCEEDED)
    after ``seconds_left`` (None: never), and calls ``connected()`` once the server has answered: an outage
    ends there, whether events follow or not (a queued job's stream can be quiet for hours). ``what`` names
    the followed thing in errors ("job j-…"). ``timeout`` bounds the whole follow (None: no bound);
    ``retry_for`` bounds one outage, counted from its first failed attempt.
    """
    start = clock()
    last_seq = 0
    outage_since: float | None = None
    delay = backoff.first_s

    def connected() -> None:
        nonlocal outage_since, delay
        outage_since, delay = None, backoff.first_s

    while True:
        try:
            left = None if timeout is None else max(0.0, start + timeout - clock())
            for event in open_stream(last_seq, left, connected):
                connected()
                if event.seq > last_seq:
                    last_seq = event.seq
                    yield event
            return
        except ProbeError as error:
            if error.code not in retried:
                raise
            now = clock()
            outage_since = now if outage_since is None else outage_since
            if timeout is not None and now - start >= timeout:
                raise DeadlineExceeded(f"stopped following {what}: it had not ended after {timeout:g} s") from None
            if now - outage_since >= retry_for:
                why = "busy" if error.code == grpc.StatusCode.RESOURCE_EXHAUSTED else "unreachable"
                raise Unavailable(
                    f"gave up following {what}: the server was {why} for {now - outage_since:.0f} s "
                    f"(retry_for {retry_for:g} s); last error: {error.message}"
                ) from None
            limits = [delay, outage_since + retry_for - now] + ([] if timeout is None else [start + timeout - now])
            sleep(min(limits))
            delay = min(delay * backoff.factor, backoff.most_s)


T = TypeVar("T")


@dataclass(frozen=True)
class _Answer(Generic[T]):
    value: T
    seq: int = 1


def reach(call: Callable[[], T], what: str, *, retry_for: float = DEFAULT_RETRY_FOR_S, **follow_options: Any) -> T:
    """One unary call, retried as :func:`follow` reconnects: a stream of one event."""

    def once(after_seq: int, left: float | None, connected: Callable[[], None]) -> Iterator[_Answer[T]]:
        yield _Answer(call())

    return next(iter(follow(once, what, retry_for=retry_for, retried=OUTAGE, **follow_options))).value
