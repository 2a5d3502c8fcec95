"""Where the server's torch probes run: a few long-lived threads, only the first of them multi-threaded.

libgomp, the OpenMP runtime of torch's CPU builds, gives every thread that
starts a parallel region a team of worker threads of its own; once the
process holds more such threads than it has CPUs, every team stops spinning
between regions and sleeps on a futex instead. Measured on 2 cores with a
causal-icl forward pass of 256 sequences: 1.6 ms on the only team, 3.5 ms on
a gRPC thread once a second thread had a team, and 3.5 ms on either from then
on. Torch probes running on whichever gRPC thread took the call made that
the normal case.

So every torch probe runs on a lane. The first lane runs torch with
``threads`` threads and is the only thread that ever starts a team; the other
lanes are taken only while it is busy and run torch single-threaded, as every
other thread of the server does (:func:`single_threaded`). The lanes also
bound how many torch probes run at once, so a few heavy Hessian requests
cannot occupy every RPC thread.

The server's default is one thread on the first lane too (``--probe-torch-threads``):
bench/run.py on 2 cores measured ExtractAttention at 4.0 ms of server CPU and
4.6 ms per call with one, against 5.7-7.1 ms and 3.9-4.8 ms with two, whose
OpenMP worker spins while the reply travels; a box with cores to spare for
large probes can give the first lane more.
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import torch

from probe_server.errors import ShuttingDown

P = ParamSpec("P")
T = TypeVar("T")


def use_threads(count: int) -> None:
    """Run this thread's torch operations on ``count`` threads, whatever other threads set later.

    At its first parallel operation a thread takes the count any thread set
    last, unless it has taken one already: asking for the count takes it, so
    the count set next is this thread's own.
    """
    torch.get_num_threads()
    torch.set_num_threads(count)


def single_threaded() -> None:
    """Run this thread's torch operations on itself: it never starts an OpenMP team."""
    use_threads(1)


class Lane:
    """One long-lived thread that runs torch probes, one at a time."""

    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self._executor = executor

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on this lane's thread; its result, or its exception raised here."""
        try:
            future = self._executor.submit(fn, *args, **kwargs)
        except RuntimeError:  # the lanes closed after this lane was taken
            raise ShuttingDown("the server is stopping; retry on one that is up") from None
        return future.result()


class ProbeLanes:
    """``count`` lanes; the first runs torch with ``threads`` threads, the others with one."""

    def __init__(self, count: int, threads: int) -> None:
        if count < 1 or threads < 1:
            raise ValueError(f"probe lanes need at least one lane and one thread, got {count} and {threads}")
        self._executors = [
            ThreadPoolExecutor(
                1,
                thread_name_prefix=f"probe-lane-{index}",
                initializer=use_threads,
                initargs=(threads if index == 0 else 1,),
            )
            for index in range(count)
        ]
        for executor in self._executors:
            executor.submit(lambda: None).result()  # each thread has set its own count
        single_threaded()  # the first lane's count is no longer the default threads started later take
        self._free: queue.PriorityQueue[int] = queue.PriorityQueue()
        for index in range(count):
            self._free.put(index)
        self._closed = False

    @contextlib.contextmanager
    def lane(self) -> Iterator[Lane]:
        """The free lane with the lowest index, waiting for one if all are busy; UNAVAILABLE once closed."""
        index = self._free.get()
        try:
            if self._closed:
                raise ShuttingDown("the server is stopping; retry on one that is up")
            yield Lane(self._executors[index])
        finally:
            self._free.put(index)

    def close(self) -> None:
        """Refuse new probes and wait for the running ones (torch work cannot be interrupted), so that nothing
        reads the store or writes the data dir after the server has let them go."""
        self._closed = True
        for executor in self._executors:
            executor.shutdown(wait=True)
