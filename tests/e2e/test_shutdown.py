"""Stopping a server: one server per data dir, and SIGTERM lets running jobs checkpoint and stop."""

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import BIN, SMALL_FACTS, start_server

SLOW_STEP = {**SMALL_FACTS, "batch_size": 200_000}  # about a second per step on one core


def _training(client, config: dict, steps: int, seed: int, until: int, **options):
    """A submitted job, once it has reported progress at step ``until`` or later."""
    job = client.submit_job("factual-recall", config, steps=steps, seed=seed, log_every=1, **options)
    next(e for e in client.watch_job(job.job_id) if e.kind == "PROGRESS" and e.step >= until)
    return job


def _stopped_during(data_dir, config: dict, steps: int, seed: int, until: int, **options):
    """The job, after SIGTERM reached its server once the job had reported step ``until`` (default grace, 10 s)."""
    server = start_server(data_dir)
    try:
        with server.client() as client:
            job = _training(client, config, steps=steps, seed=seed, until=until, **options)
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(timeout=30)
    finally:
        server.stop()
    return job


def test_a_second_server_on_the_same_data_dir_exits_naming_the_first(tmp_path):
    data_dir = tmp_path / "data"
    first = start_server(data_dir)
    try:
        with first.client() as client:
            job = _training(client, SMALL_FACTS, steps=1_000_000, seed=1, until=1)
            start = time.monotonic()
            second = subprocess.run(
                [str(BIN / "probe-server"), "serve", "--port", "0", "--metrics-port", "0", "--data-dir", str(data_dir)],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            assert time.monotonic() - start < 5
            assert second.returncode != 0
            assert f"pid {first.process.pid}" in second.stderr and "in use by another probe-server" in second.stderr
            assert second.stdout == ""  # it never said it was listening
            running = client.get_job(job.job_id)
            assert running.state == "RUNNING" and running.runs == 1
            time.sleep(0.5)
            assert client.get_job(job.job_id).step > running.step  # still training, under the first server
            assert client.cancel_job(job.job_id).state == "CANCELLED"
    finally:
        first.stop()
    restarted = start_server(data_dir)  # the lock went with the first server
    restarted.stop()


def test_sigterm_at_the_last_step_records_the_job_succeeded(tmp_path):
    data_dir = tmp_path / "data"
    job = _stopped_during(data_dir, SLOW_STEP, steps=2, seed=2, until=1)  # the worker was inside its last step
    restarted = start_server(data_dir)
    try:
        with restarted.client() as client:
            finished = client.get_job(job.job_id)
            assert (finished.state, finished.step, finished.runs) == ("SUCCEEDED", 2, 1), finished
    finally:
        restarted.stop()


def test_sigterm_mid_training_checkpoints_the_step_reached_and_resume_finishes(tmp_path):
    data_dir, steps = tmp_path / "data", 600
    job = _stopped_during(data_dir, SMALL_FACTS, steps=steps, seed=3, until=20, checkpoint_every=0)
    restarted = start_server(data_dir)
    try:
        with restarted.client() as client:
            interrupted = client.get_job(job.job_id)
            assert interrupted.state == "INTERRUPTED" and 20 <= interrupted.step < steps, interrupted
            checkpoints, _ = client.list_checkpoints(job_id=job.job_id)
            assert [c.step for c in checkpoints] == [interrupted.step]  # no periodic ones: this is the shutdown's
            client.resume_job(job.job_id)
            finished = client.wait(job.job_id)
            assert (finished.state, finished.step, finished.runs) == ("SUCCEEDED", steps, 2)
            states = [e for e in client.watch_job(job.job_id) if e.kind == "STATE"]
            assert [e.state for e in states] == ["QUEUED", "RUNNING", "INTERRUPTED", "QUEUED", "RUNNING", "SUCCEEDED"]
            assert f"stopped at step {interrupted.step} (checkpointed)" in states[2].message
            assert f"at step {interrupted.step}" in states[3].message  # the resume starts where it stopped
    finally:
        restarted.stop()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP])
def test_ctrl_c_or_a_closed_terminal_stops_the_server_as_sigterm_does_and_the_job_is_checkpointed(tmp_path, sig):
    """A terminal's Ctrl-C (SIGINT) or its closing (SIGHUP) signals the server's whole process group. Workers
    lead sessions of their own, so the signal reaches the server alone, which checkpoints its running job and
    stops it as on SIGTERM."""
    data_dir = tmp_path / "data"
    server = start_server(data_dir, new_session=True)
    try:
        with server.client() as client:
            job = _training(client, SMALL_FACTS, steps=1_000_000, seed=4, until=5, checkpoint_every=0)
            os.killpg(server.process.pid, sig)
            server.process.wait(timeout=30)
    finally:
        server.stop()
    restarted = start_server(data_dir)
    try:
        with restarted.client() as client:
            interrupted = client.get_job(job.job_id)
            assert interrupted.state == "INTERRUPTED" and interrupted.step >= 5, interrupted
            checkpoints, _ = client.list_checkpoints(job_id=job.job_id)
            assert [c.step for c in checkpoints] == [interrupted.step]
    finally:
        restarted.stop()
