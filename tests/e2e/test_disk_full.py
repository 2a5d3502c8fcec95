"""A full disk: writes are RESOURCE_EXHAUSTED saying so, reads go on, and writes work again once there is room.

The server runs in a mount namespace of its own with its data dir on a 16 MB tmpfs (needs root, as CI has);
the test fills that tmpfs through /proc/PID/root.
"""

import errno
import os
from pathlib import Path

import pytest

from probe_client import ResourceExhausted
from tests.conftest import SMALL_FACTS, start_server

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")


def _fill(path: Path) -> None:
    chunk = b"\0" * (64 << 10)
    with open(path, "wb") as f:
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC


def test_writes_on_a_full_disk_are_resource_exhausted_and_reads_go_on(tmp_path):
    data_dir = tmp_path / "data"
    server = start_server(data_dir, metrics=False, shell_setup=f"mount -t tmpfs -o size=16m tmpfs {data_dir}")
    try:
        with server.client() as client:
            first = client.submit_job("factual-recall", SMALL_FACTS, steps=5, seed=1)
            filler = Path(f"/proc/{server.process.pid}/root") / str(data_dir).lstrip("/") / "filler"
            _fill(filler)
            refused = None
            for attempt in range(200):  # until SQLite needs a page the disk does not have
                try:
                    client.submit_job("factual-recall", SMALL_FACTS, steps=5, seed=2 + attempt)
                except ResourceExhausted as error:
                    refused = error
                    break
            assert refused is not None, "200 submits fit on a full disk"
            assert "disk is full" in refused.message, refused
            assert client.get_job(first.job_id).job_id == first.job_id  # reads are served
            jobs, _ = client.list_jobs(page_size=500)
            assert len(jobs) == attempt + 1
            filler.unlink()
            again = client.submit_job("factual-recall", SMALL_FACTS, steps=5, seed=999)
            assert client.get_job(again.job_id).state in ("QUEUED", "RUNNING", "SUCCEEDED")
    finally:
        server.stop()
