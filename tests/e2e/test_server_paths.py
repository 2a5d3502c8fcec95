"""Client-chosen paths (data_path, hf_path) are read only inside the operator's --data-root, checked by stat alone."""

import os
import time
from pathlib import Path

import grpc
import pytest

from probe_client import ProbeError
from tests.conftest import SMALL_FACTS, start_server
from tests.science.test_eos import write_cifar_batch

OUTSIDE = "not an absolute path inside the server's data roots"


def rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) * 1024


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory):
    """A server whose one data root holds a FIFO, a link out, a 10 GB sparse file and a CIFAR-like directory."""
    base = tmp_path_factory.mktemp("paths")
    root = base / "root"
    root.mkdir()
    os.mkfifo(root / "fifo")
    (root / "link-out").symlink_to("/etc")
    with open(root / "sparse", "wb") as f:
        f.truncate(10 << 30)
    (root / "mixed").mkdir()
    os.mkfifo(root / "mixed" / "data_batch_1")
    (base / "outside").mkdir()
    server = start_server(base / "data", "--data-root", str(root))
    yield server, root, base / "outside"
    server.stop()


def _refusal(client, key: str, path: str) -> ProbeError:
    family, config = ("eos", {"data": "cifar10"}) if key == "data_path" else ("lm-finetune", {"model": "hf"})
    start = time.monotonic()
    with pytest.raises(ProbeError) as error:
        client.submit_job(family, {**config, key: path})
    assert time.monotonic() - start < 1.0, path
    return error.value


@pytest.mark.parametrize("key", ["data_path", "hf_path"])
def test_hostile_paths_are_refused_within_a_second_without_reading_them(sandboxed, key):
    server, root, outside = sandboxed
    before = rss_bytes(server.process.pid)
    cases = {
        "/dev/zero": (grpc.StatusCode.PERMISSION_DENIED, OUTSIDE),
        "/etc/passwd": (grpc.StatusCode.PERMISSION_DENIED, OUTSIDE),
        str(outside): (grpc.StatusCode.PERMISSION_DENIED, OUTSIDE),
        str(root / "link-out" / "passwd"): (grpc.StatusCode.PERMISSION_DENIED, OUTSIDE),
        str(root / ".." / "outside"): (grpc.StatusCode.PERMISSION_DENIED, OUTSIDE),
        "relative/path": (grpc.StatusCode.PERMISSION_DENIED, OUTSIDE),
        str(root / "fifo"): (grpc.StatusCode.INVALID_ARGUMENT, "not a regular file or a directory of regular files"),
        str(root / "mixed"): (grpc.StatusCode.INVALID_ARGUMENT, "data_batch_1 is not a regular file"),
        str(root / "sparse"): (grpc.StatusCode.RESOURCE_EXHAUSTED, "holds 10,737,418,240 bytes"),
        str(root / "nowhere"): (grpc.StatusCode.FAILED_PRECONDITION, "does not exist"),
        str(root / "nul\0byte"): (grpc.StatusCode.INVALID_ARGUMENT, "NUL character"),
    }
    with server.client() as client:
        for path, (code, fragment) in cases.items():
            error = _refusal(client, key, path)
            assert error.code == code and fragment in error.message and repr(path) in error.message, (path, error)
        assert client.health() == "SERVING"
    assert abs(rss_bytes(server.process.pid) - before) < 50 << 20


def test_outside_the_roots_the_text_is_the_same_whether_or_not_the_path_exists(sandboxed):
    server, root, outside = sandboxed
    with server.client() as client:
        texts = {
            _refusal(client, "data_path", path).message.replace(repr(path), "PATH")
            for path in ("/etc/shadow", "/etc/no-such-file", "/etc", str(outside), str(root / "link-out" / "hostname"))
        }
    assert len(texts) == 1, texts


def test_the_worker_checks_the_path_again_before_reading_it(sandboxed):
    """A link inside the root, pointed out of it after submit while the job waits, fails the job unread."""
    server, root, outside = sandboxed
    write_cifar_batch(outside / "data_batch_1", 4)
    (root / "swapped").mkdir()
    write_cifar_batch(root / "swapped" / "data_batch_1", 4)
    (root / "link").symlink_to(root / "swapped")
    with server.client() as client:
        blocker = client.submit_job("factual-recall", SMALL_FACTS, steps=1_000_000, seed=1, log_every=1)
        next(e for e in client.watch_job(blocker.job_id) if e.kind == "PROGRESS")  # the one slot is taken
        config = {"data": "cifar10", "data_path": str(root / "link"), "num_examples": 4, "width": 8}
        job = client.submit_job("eos", config, steps=2)
        (root / "link").unlink()
        (root / "link").symlink_to(outside)
        client.cancel_job(blocker.job_id)
        failed = client.wait(job.job_id)
    assert failed.state == "FAILED" and OUTSIDE in failed.error, failed.error


def test_a_server_without_data_roots_reads_no_client_path(tmp_path):
    server = start_server(tmp_path / "data")
    try:
        with server.client() as client:
            error = _refusal(client, "data_path", str(tmp_path))
        assert error.code == grpc.StatusCode.PERMISSION_DENIED and "no --data-root" in error.message
    finally:
        server.stop()
