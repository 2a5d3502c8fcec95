"""The server's malloc settings: a reply of megabytes built again and again reuses freed memory instead of
faulting in fresh pages each time (malloc_tuning.py).

Malloc settings are process state, so each side runs in a fresh interpreter; page faults are counted by the
kernel (getrusage), not timed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from probe_server.malloc_tuning import glibc

SCRIPT = """
    import json, resource, sys
    import numpy as np
    from probe_server.malloc_tuning import keep_reply_buffers

    tuned = keep_reply_buffers() if sys.argv[1] == "tuned" else False
    arrays = [np.ones(1_000_000, np.float32) for _ in range(6)]  # a 24 MB reply's tensors

    def reply() -> bytes:
        return b"".join(memoryview(a) for a in arrays)  # as EncodedReply.encode joins them

    reply()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        built = reply()
        del built
    print(json.dumps({"tuned": tuned, "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20}))
"""


def faults_per_reply(mode: str) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), mode], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.splitlines()[-1])


@pytest.mark.skipif(glibc() is None, reason="the settings are glibc's; other C libraries are left as they are")
def test_tuned_replies_reuse_freed_memory() -> None:
    plain, tuned = faults_per_reply("plain"), faults_per_reply("tuned")
    assert tuned["tuned"]
    assert plain["faults"] > 100, plain  # glibc's defaults map a fresh block for each reply
    assert tuned["faults"] < 10, tuned
