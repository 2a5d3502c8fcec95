"""Stopping a server: one server per data dir, and SIGTERM lets running jobs checkpoint and stop."""

import signal
import subprocess
import time

from tests.conftest import BIN, SMALL_FACTS, start_server

SLOW_STEP = {**SMALL_FACTS, "batch_size": 200_000}  # about a second per step on one core


def _sigterm(server) -> None:
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=30)


def test_a_second_server_on_the_same_data_dir_exits_naming_the_first(tmp_path):
    data_dir = tmp_path / "data"
    first = start_server(data_dir)
    try:
        with first.client() as client:
            job = client.submit_job("factual-recall", SMALL_FACTS, steps=1_000_000, seed=1, log_every=1)
            for event in client.watch_job(job.job_id):
                if event.kind == "PROGRESS":
                    break
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
    server = start_server(data_dir)
    try:
        with server.client() as client:
            job = client.submit_job("factual-recall", SLOW_STEP, steps=2, seed=2, log_every=1)
            for event in client.watch_job(job.job_id):
                if event.kind == "PROGRESS" and event.step == 1:
                    break  # the worker is now inside its last step
            _sigterm(server)
    finally:
        server.stop()
    restarted = start_server(data_dir)
    try:
        with restarted.client() as client:
            finished = client.get_job(job.job_id)
            assert (finished.state, finished.step, finished.runs) == ("SUCCEEDED", 2, 1), finished
    finally:
        restarted.stop()


def test_sigterm_mid_training_checkpoints_the_step_reached_and_resume_finishes(tmp_path):
    data_dir = tmp_path / "data"
    steps = 600
    server = start_server(data_dir, "--shutdown-grace", "10")
    try:
        with server.client() as client:
            job = client.submit_job("factual-recall", SMALL_FACTS, steps=steps, seed=3, log_every=1, checkpoint_every=0)
            for event in client.watch_job(job.job_id):
                if event.kind == "PROGRESS" and event.step >= 20:
                    break
            _sigterm(server)
    finally:
        server.stop()
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
