"""glibc malloc settings for a process that builds replies of megabytes, request after request.

By default glibc serves an allocation past its mmap threshold (128 KB at first, raised as such blocks are
freed) with a fresh ``mmap``, and returns freed memory at the top of a heap to the kernel once more than the
trim threshold lies free there. A 26 MB RunWithCache reply is a fresh block of pages each time it is joined,
then again when grpc copies it into its own buffer; the kernel faults in and zeroes every page each time. On
this project's 2-core machine that was 20 of the server's 55 ms of CPU per such reply (bench/activations.py).

Here blocks up to 32 MB (glibc's largest mmap threshold) come from the heap, up to ``KEEP_FREE_BYTES`` of
freed memory stays there for the next reply, and every thread allocates from the one main arena. Threads given
arenas of their own get heaps of at most 64 MB, which a reply, its activations and grpc's copy outgrow, and an
emptied heap goes back to the kernel: with four arenas a 26 MB reply still cost 2,500 to 6,300 page faults,
with one 2 to 81 (tests/e2e/test_activations.py). Python allocates under the GIL, so one arena costs little
contention; server CPU per such reply was the same with one arena as with four.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("probe.server")

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit systems
KEEP_FREE_BYTES = 128 * 1024 * 1024
ARENA_MAX = 1


def glibc() -> ctypes.CDLL | None:
    """The process's C library where it is glibc; None elsewhere (musl and others have no such thresholds)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version") else None


def keep_reply_buffers() -> bool:
    """Apply the settings above where the C library is glibc; False (and nothing changed) elsewhere."""
    libc = glibc()
    if libc is None:
        return False
    settings = ((M_ARENA_MAX, ARENA_MAX), (M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES), (M_TRIM_THRESHOLD, KEEP_FREE_BYTES))
    applied = all(libc.mallopt(parameter, value) == 1 for parameter, value in settings)
    if applied:
        log.info(
            "malloc: blocks up to %d MB from the heap, up to %d MB kept free, %d arena",
            MMAP_THRESHOLD_BYTES >> 20, KEEP_FREE_BYTES >> 20, ARENA_MAX,
        )  # fmt: skip
    else:
        log.warning("glibc refused a malloc setting; large replies will cost page faults")
    return applied
