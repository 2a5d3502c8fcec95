"""The server's malloc settings (malloc_tuning.py): a block of megabytes comes from the heap, not from a fresh
mapping, and freed memory stays for the next one; an operator's own settings are left alone.

Malloc settings are process state, so each check runs in a fresh interpreter and reads glibc's own account
(``mallinfo2``: bytes in mapped blocks, free bytes in the heap). That the real server's large replies fault in
almost no fresh pages is tests/e2e/test_activations.py's check.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import textwrap

import pytest

from probe_server.malloc_tuning import glibc

SCRIPT = """
    import ctypes, json, sys, threading
    from probe_server.malloc_tuning import keep_reply_buffers

    class Info(ctypes.Structure):  # glibc's struct mallinfo2
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Info
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    applied = keep_reply_buffers() if sys.argv[1] == "tuned" else False
    found = {}

    def reply() -> None:  # on a thread started after the settings, as the server's RPC threads are
        mapped = libc.mallinfo2().hblkhd
        block = libc.malloc(20 << 20)
        ctypes.memset(block, 1, 20 << 20)  # touched, as a joined reply is
        found["mapped"] = libc.mallinfo2().hblkhd - mapped
        libc.free(block)
        found["kept_free"] = libc.mallinfo2().fordblks

    thread = threading.Thread(target=reply)
    thread.start()
    thread.join()
    print(json.dumps({"applied": applied, **found}))
"""


def run(mode: str, **environment: str) -> dict[str, int]:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), mode], capture_output=True, text=True, timeout=120,
        env={"PATH": "", **environment},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.splitlines()[-1])


needs_glibc = pytest.mark.skipif(
    glibc() is None or not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="glibc 2.33 or later only"
)


@needs_glibc
def test_a_reply_sized_block_comes_from_the_heap_and_stays_there_once_freed() -> None:
    plain, tuned = run("plain"), run("tuned")
    assert plain["mapped"] >= 20 << 20  # glibc's default: a fresh mapping, unmapped on free
    assert tuned["applied"] and tuned["mapped"] == 0, tuned
    assert tuned["kept_free"] >= 20 << 20, tuned  # ready for the next reply, no page faulted in again
    assert plain["kept_free"] < 20 << 20


@needs_glibc
def test_malloc_set_through_the_environment_is_left_as_the_operator_set_it() -> None:
    for variable in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES"):
        kept = run("tuned", **{variable: "glibc.malloc.arena_max=8" if variable == "GLIBC_TUNABLES" else "8"})
        assert not kept["applied"] and kept["mapped"] >= 20 << 20, (variable, kept)
