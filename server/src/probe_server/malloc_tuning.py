"""glibc malloc settings for a process that builds replies of megabytes, request after request.

With glibc's defaults the server faulted in about 14,000 fresh pages for every 26 MB RunWithCache reply (the
join of its tensors, grpc's copy of it, the activations), and the kernel zeroed each one: 55 ms of server CPU
per reply on this project's 2-core machine, 33 ms with the settings below (bench/activations.py); under 100
faults per reply (tests/e2e/test_activations.py). With four arenas instead of one it still faulted 2,500 to
6,300 pages per reply: a thread's own arena grows heaps of at most 64 MB, which a reply, its activations and
grpc's copy outgrow, and an emptied heap goes back to the kernel.

So every thread started after ``keep_reply_buffers`` allocates from the one main arena, blocks up to 32 MB
(glibc's largest mmap threshold; larger ones are still mapped afresh each time) come from its heap, and freed
memory at the top of the heap goes back to the kernel only past 128 MB, down to 64 MB. The server's resident
memory therefore stays up to about 128 MB above what it holds, more where a freed block sits below a live
one. Server CPU per reply was the same with one arena as with four; on more cores, with threads allocating
at once outside the GIL (grpc's, OpenMP's), one arena may cost contention that this machine cannot show.

An operator who sets malloc through the environment keeps those settings: none of these is applied then.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger("probe.server")

MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit systems
TOP_PAD_BYTES = 64 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 128 * 1024 * 1024
ARENA_MAX = 1
SETTINGS = (  # name, mallopt's parameter (glibc's malloc.h), value; the arena limit first, before any thread
    ("M_ARENA_MAX", -8, ARENA_MAX),
    ("M_MMAP_THRESHOLD", -3, MMAP_THRESHOLD_BYTES),
    ("M_TOP_PAD", -2, TOP_PAD_BYTES),
    ("M_TRIM_THRESHOLD", -1, TRIM_THRESHOLD_BYTES),
)
OPERATOR_VARIABLES = (
    "GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_TRIM_THRESHOLD_",
)  # fmt: skip


def glibc() -> ctypes.CDLL | None:
    """The process's C library where it is glibc; None elsewhere (musl, macOS: no such thresholds)."""
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):  # the name is unknown here, or the C library does not answer it
        return None
    return ctypes.CDLL(None) if version and version.startswith("glibc") else None


def keep_reply_buffers() -> bool:
    """Apply SETTINGS, first thing in the server, before it starts a thread: a thread keeps the arena it first
    allocated from. False where nothing was applied: the operator set malloc, or the C library is not glibc."""
    chosen = [name for name in OPERATOR_VARIABLES if name in os.environ]
    if chosen:
        log.info("malloc: left as the environment sets it (%s)", ", ".join(chosen))
        return False
    libc = glibc()
    if libc is None:
        log.info("malloc: not glibc; left as it is")
        return False
    refused = [name for name, parameter, value in SETTINGS if libc.mallopt(parameter, value) != 1]
    if refused:
        log.warning("malloc: glibc refused %s; large replies will cost page faults", ", ".join(refused))
        return False
    log.info(
        "malloc: blocks up to %d MB from the heap, trimmed past %d MB down to %d MB, %d arena",
        MMAP_THRESHOLD_BYTES >> 20, TRIM_THRESHOLD_BYTES >> 20, TOP_PAD_BYTES >> 20, ARENA_MAX,
    )  # fmt: skip
    return True
