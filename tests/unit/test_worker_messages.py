"""A job's worker reports in typed messages: progress, each checkpoint once it is on disk, then Done or Failed."""

import multiprocessing

from probe_server.job_spec import JobSpec
from probe_server.worker import WorkerTask, run_job
from probe_server.worker_messages import CheckpointWritten, Done, Failed, Progress

SMALL = {"num_subjects": 4, "num_relations": 4}


def spec(tmp_path, config: dict) -> WorkerTask:
    return WorkerTask(
        job_id="job-0000000000000001", family="factual-recall", config=config,
        spec=JobSpec(steps=4, seed=0, checkpoint_every=2, log_every=2), checkpoint_root=str(tmp_path),
        resume_from="", threads=1, device="cpu", max_parameters=10**9, data_roots=(), max_data_bytes=0,
    )  # fmt: skip


def messages(job: WorkerTask) -> list:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(target=run_job, args=(job, child))
    process.start()
    child.close()
    received = []
    while True:
        try:
            received.append(parent.recv())
        except EOFError:
            break
    process.join()
    return received


def test_a_run_reports_progress_checkpoints_on_disk_and_done(tmp_path):
    received = messages(spec(tmp_path, SMALL))
    assert [type(m) for m in received] == [Progress, CheckpointWritten, Progress, CheckpointWritten, Done]
    assert [m.step for m in received if isinstance(m, Progress)] == [2, 4]
    for written in (m for m in received if isinstance(m, CheckpointWritten)):
        assert (tmp_path / written.meta["checkpoint_id"] / "weights.safetensors").is_file() and written.size_bytes > 0
    done = received[-1]
    assert done.step == 4 and not done.stopped and done.peak_memory_bytes > 0
    assert "loss" in received[0].metrics


def test_a_failing_run_reports_the_error_and_its_traceback(tmp_path):
    received = messages(spec(tmp_path, {**SMALL, "no_such_key": 1}))
    assert len(received) == 1 and isinstance(received[0], Failed)
    assert "no_such_key" in received[0].error and "Traceback" in received[0].traceback
