"""A server killed with SIGKILL mid-training: the job becomes INTERRUPTED and resumes to the same result."""

import sqlite3
import time

import torch
from safetensors.torch import load_file

from tests.conftest import SMALL_FACTS, start_server

CONFIG = {**SMALL_FACTS, "batch_size": 256}
STEPS = 400


def weights(data_dir, checkpoint_id):
    return load_file(str(data_dir / "checkpoints" / checkpoint_id / "weights.safetensors"))


def test_kill_9_then_resume_matches_an_uninterrupted_run(tmp_path):
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    try:
        with server.client() as client:
            job = client.submit_job("factual-recall", CONFIG, steps=STEPS, seed=7, checkpoint_every=50, log_every=10)
            reference = client.submit_job(
                "factual-recall", CONFIG, steps=STEPS, seed=7, checkpoint_every=50, log_every=10
            )
            for event in client.watch_job(job.job_id):
                if event.kind == "CHECKPOINT" and event.step >= 100:
                    break
        server.kill()
    finally:
        server.stop()

    restarted = start_server(data_dir)
    try:
        with restarted.client() as client:
            interrupted = client.get_job(job.job_id)
            assert interrupted.state == "INTERRUPTED"
            assert 100 <= interrupted.step < STEPS
            checkpoints, _ = client.list_checkpoints(job_id=job.job_id)
            last = max(c.step for c in checkpoints)
            assert last >= 100
            for c in checkpoints:  # every recorded checkpoint loads and answers
                assert len(client.query_facts(c.checkpoint_id, [(0, 0)]).answers) == 1

            resumed = client.resume_job(job.job_id)
            assert resumed.state == "QUEUED"
            finished = client.wait(job.job_id)
            assert finished.state == "SUCCEEDED" and finished.step == STEPS and finished.runs == 2
            states = [e.state for e in client.watch_job(job.job_id) if e.kind == "STATE"]
            assert states == ["QUEUED", "RUNNING", "INTERRUPTED", "QUEUED", "RUNNING", "SUCCEEDED"]

            # the reference job was queued behind it when the server died; it runs after the restart
            uninterrupted = client.wait(reference.job_id)
            assert uninterrupted.state == "SUCCEEDED" and uninterrupted.runs == 1
            resumed_weights = weights(data_dir, finished.checkpoint_id)
            reference_weights = weights(data_dir, uninterrupted.checkpoint_id)
            for name, tensor in reference_weights.items():
                assert torch.equal(resumed_weights[name], tensor), name
            assert client.evaluate(finished.checkpoint_id).accuracy == 1.0
    finally:
        restarted.stop()

    db = sqlite3.connect(data_dir / "probe.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    leftovers = [p.name for p in (data_dir / "checkpoints").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_cancel_stops_a_running_job_within_two_seconds(client):
    job = client.submit_job("factual-recall", SMALL_FACTS, steps=1_000_000, seed=3, log_every=1)
    for event in client.watch_job(job.job_id):
        if event.kind == "PROGRESS":
            break
    start = time.monotonic()
    cancelled = client.cancel_job(job.job_id)
    assert time.monotonic() - start < 2.0
    assert cancelled.state == "CANCELLED"
    assert client.get_job(job.job_id).step < 1_000_000


def test_a_failing_job_records_its_exception_and_last_event(client):
    # lr so large that the loss overflows: the job must fail with the step, not hang or vanish
    job = client.submit_job(
        "factual-recall",
        {**SMALL_FACTS, "optimizer": "gd", "lr": 100.0, "init_scale": 1.0, "model": "linear-attention"},
        steps=2000,
        seed=0,
        log_every=1,
    )
    failed = client.wait(job.job_id)
    assert failed.state == "FAILED"
    assert "NonFiniteLoss" in failed.error and "at step" in failed.error
    assert failed.last_event is not None and failed.last_event.kind == "PROGRESS"
