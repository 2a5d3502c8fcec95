"""Following a job while its server goes away: backoff and one clear error at the deadline, or, when the server
comes back on its address within the deadline, the job's whole stream with no event missed or repeated."""

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from probe_client.errors import DeadlineExceeded, Unavailable
from tests.conftest import SMALL_FACTS, free_port, start_server

BIN = Path(sys.executable).parent


def counting_watch(client):
    """Count the client's WatchJob attempts (each opens a real stream to the server)."""
    attempts = []
    watch = client.watch_job

    def counted(*args, **kwargs):
        attempts.append(time.monotonic())
        return watch(*args, **kwargs)

    client.watch_job = counted
    return attempts


def test_against_a_stopped_server_wait_and_the_cli_back_off_and_give_up_at_their_deadline(tmp_path):
    server = start_server(tmp_path / "data")
    with server.client() as client:
        job = client.submit_job("factual-recall", SMALL_FACTS, steps=1_000_000, seed=1, log_every=1)
        server.kill()
        attempts = counting_watch(client)
        start = time.monotonic()
        with pytest.raises(Unavailable, match=f"gave up following job {job.job_id}: the server was unreachable"):
            client.wait(job.job_id, retry_for=5.0)
        elapsed = time.monotonic() - start
    assert 4.5 < elapsed < 8.0, elapsed
    assert 3 <= len(attempts) <= 10, len(attempts)  # it was 8,669 attempts in 5 s, forever

    start = time.monotonic()
    command = [str(BIN / "probe-cli"), "--server", server.address, "jobs", "watch", job.job_id, "--retry-for", "3"]
    watchers = [  # the progress bar, and the event list
        subprocess.Popen([*command, *flag], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for flag in ([], ["--json"])
    ]
    for watcher in watchers:
        _, err = watcher.communicate(timeout=60)
        assert watcher.returncode == 1 and 3.0 <= time.monotonic() - start < 30
        assert re.search(f"gave up following job {job.job_id}: the server was unreachable for [34] s", err), err
        assert len(err.strip().splitlines()) == 1, err


def test_a_server_restarted_within_the_deadline_finishes_the_stream_once_for_wait_and_the_cli(tmp_path):
    data_dir, port = tmp_path / "data", free_port()
    server = start_server(data_dir, "--port", str(port))
    with server.client() as client:
        blocker = client.submit_job("factual-recall", SMALL_FACTS, steps=1_000_000, seed=1, log_every=1)
        job = client.submit_job("factual-recall", SMALL_FACTS, steps=60, seed=2, log_every=5)  # queued behind it
        for event in client.watch_job(blocker.job_id):
            if event.kind == "PROGRESS":
                break
    opened = []  # a stream with nothing to send yet (after_seq past the end) still says it is open
    with pytest.raises(DeadlineExceeded):
        list(server.client().watch_job(job.job_id, after_seq=10**6, timeout=1.5, on_open=lambda: opened.append(1)))
    assert opened == [1]
    watcher = subprocess.Popen(
        [str(BIN / "probe-cli"), "--server", server.address, "jobs", "watch", job.job_id, "--json", "--retry-for",
         "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    followed, errors = [], []
    follower_client = server.client()

    def follow() -> None:
        try:
            followed.extend(follower_client.follow_job(job.job_id, retry_for=60.0))
        except Exception as error:  # reported below
            errors.append(error)

    thread = threading.Thread(target=follow)
    thread.start()
    time.sleep(1.0)  # both followers are in the stream (the job's QUEUED event)
    server.kill()
    time.sleep(2.0)  # an outage: both reconnect with backoff meanwhile
    restarted = start_server(data_dir, "--port", str(port))
    try:
        thread.join(timeout=120)
        out, err = watcher.communicate(timeout=120)
        with restarted.client() as client:
            final = client.get_job(job.job_id)
            everything = [e.seq for e in client.watch_job(job.job_id)]
            assert client.get_job(blocker.job_id).state == "INTERRUPTED"  # the running job, cut by the kill
    finally:
        follower_client.close()
        restarted.stop()
    assert not errors and not thread.is_alive(), errors
    assert final.state == "SUCCEEDED", final
    assert [e.seq for e in followed] == everything  # each event once, in order
    assert [e.state for e in followed if e.kind == "STATE"] == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert watcher.returncode == 0, err
    assert [e["seq"] for e in json.loads(out)["events"]] == everything
