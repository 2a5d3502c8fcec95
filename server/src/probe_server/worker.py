"""The worker process of one job: trains, writes checkpoints, reports over a pipe.

Runs in a spawned process so a crash or an out-of-memory kill cannot take the
server down and training never holds the server's GIL. Messages to the server
are :mod:`worker_messages` dataclasses; the server may send CANCEL at any time
and the worker stops before its next step, or SHUTDOWN, and the worker also
writes a checkpoint at the step it reached so that a resume loses nothing.
"""

from __future__ import annotations

import os
import resource
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import probe_models
from probe_server.checkpoint_files import CheckpointMeta, read_meta, read_optimizer, read_weights, write_checkpoint
from probe_server.ids import new_id
from probe_server.job_spec import JobSpec, check_parameters
from probe_server.server_paths import check_server_path
from probe_server.settings import Limits
from probe_server.store import JobRecord
from probe_server.worker_messages import CANCEL, SHUTDOWN, CheckpointWritten, Done, Failed, Progress


@dataclass(frozen=True)
class WorkerTask:
    """One run of a job: its validated spec, and where and how this worker runs it."""

    job_id: str
    family: str
    config: dict[str, Any]
    spec: JobSpec
    checkpoint_root: str
    resume_from: str  # a checkpoint id, or "" for a fresh start
    threads: int
    device: str  # "cpu" or "cuda"
    max_parameters: int  # checked here for a model built from server files, which the server never read
    data_roots: tuple[str, ...]  # a config's server paths are checked again here, right before they are read:
    max_data_bytes: int  # the files may have changed since the job was submitted, and the roots since a restart

    @classmethod
    def of(
        cls, job: JobRecord, checkpoint_root: Path, resume_from: str, threads: int, device: str, limits: Limits
    ) -> WorkerTask:
        return cls(
            job.job_id, job.family, job.config, job.spec, str(checkpoint_root), resume_from, threads, device,
            limits.max_parameters, tuple(str(root) for root in limits.data_roots), limits.max_data_bytes,
        )  # fmt: skip


def peak_memory_bytes(device: str) -> int:
    """The CUDA allocator's peak on a GPU; the process's peak resident set on the CPU."""
    if device == "cuda":
        import torch

        return int(torch.cuda.max_memory_allocated())
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def load_initial_weights(model: Any, path: Path) -> None:
    """Start from a checkpoint's weights; a checkpoint of another architecture fails the job, saying why."""
    weights = read_weights(path)
    try:
        model.load_state_dict({k: v.to(next(model.parameters()).device) for k, v in weights.items()})
    except RuntimeError as error:
        raise ValueError(f"init_checkpoint {path.name} does not fit this config's model: {error}") from None


class _PipeHooks:
    def __init__(self, task: WorkerTask, conn: Any, run: Any, baseline_memory: int) -> None:
        self.task, self.conn, self.run = task, conn, run
        self.baseline_memory = baseline_memory
        self.stopped = False
        self.shutdown = False  # the server is stopping: checkpoint where training stopped
        self.last_metrics: dict[str, float] = {}
        self.parent_pid = os.getppid()

    def on_progress(self, step: int, metrics: dict[str, float]) -> None:
        peak = peak_memory_bytes(self.task.device)
        # what training added to the process: the model, its optimizer and activations, not the runtime
        metrics = {**metrics, "excess_memory_bytes": float(peak - self.baseline_memory)}
        self.last_metrics = metrics
        self.conn.send(Progress(step, metrics, peak, time.process_time()))

    def on_checkpoint(self, step: int, metrics: dict[str, float]) -> None:
        task = self.task
        meta = CheckpointMeta(
            checkpoint_id=new_id("checkpoint"),
            job_id=task.job_id,
            family=task.family,
            config=task.config,
            seed=task.spec.seed,
            step=step,
            metrics=metrics,
            created_at=time.time(),
            code_version=probe_models.__version__,
        )
        size = write_checkpoint(
            Path(task.checkpoint_root), meta, self.run.model.state_dict(), self.run.optimizer_state()
        )
        self.conn.send(CheckpointWritten(meta.__dict__, size))

    def should_stop(self) -> bool:
        if os.getppid() != self.parent_pid:  # the server died: stop before writing anything more
            self.stopped = True
        while self.conn.poll():
            message = self.conn.recv()
            if message in (CANCEL, SHUTDOWN):
                self.stopped = True
                self.shutdown = self.shutdown or message == SHUTDOWN
        return self.stopped


def run_job(task: WorkerTask, conn: Connection) -> None:
    """Entry point of the worker process: a failed job's process exits non-zero.

    The worker leads a session of its own. A terminal's Ctrl-C or its closing then reaches the server alone,
    which checkpoints the job and stops it as on SIGTERM (in the server's process group the interrupt failed the
    job). Signals sent to the server's group (Ctrl-Z, a supervisor's group kill) no longer reach workers either:
    a worker whose server is gone stops at its next step, as after a crash. And where the kernel shares CPU
    among sessions first (autogroup: only for processes in the root CPU cgroup, so not under systemd's CPU
    accounting or in most containers), each running job gets as large a share as the whole server. In
    bench/load.py, with 32 clients sending single queries that took 57% of 2 cores, training slowed 31% instead
    of 55%, and the same 30 s served 43,000 queries instead of 32,000."""
    os.setsid()
    succeeded = train_job(task, conn)
    conn.close()
    if not succeeded:
        os._exit(1)


def train_job(task: WorkerTask, conn: Any) -> bool:
    """Run the job, reporting over ``conn`` (a pipe, or anything with send, poll and recv) until Done or Failed;
    False when it Failed."""
    try:
        import torch

        from probe_models.config import check_files, parse_config, server_paths
        from probe_models.optimizers import with_optimizer
        from probe_models.registry import get_family
        from probe_models.training import train

        spec = task.spec
        torch.set_num_threads(task.threads)
        family = get_family(task.family)
        config = parse_config(family.config_cls, task.config)
        for key, given in server_paths(config).items():
            check_server_path(key, given, [Path(root) for root in task.data_roots], task.max_data_bytes)
        check_files(config)  # what reads data_path/hf_path runs here, never in a request thread
        if family.builds_from_server_files(config):
            check_parameters(family.parameter_count(config), task.max_parameters)
        baseline_memory = peak_memory_bytes(task.device)
        run = family.new_run(config, spec.seed, spec.steps, torch.device(task.device))
        if spec.trainable and family.builds_from_server_files(config):
            family.trainable_names([name for name, _ in run.model.named_parameters()], list(spec.trainable))
        if spec.init_checkpoint and not task.resume_from:
            load_initial_weights(run.model, Path(task.checkpoint_root) / spec.init_checkpoint)
        if spec.trainable:
            run.train_only(list(spec.trainable))
        run = with_optimizer(run, spec.optimizer, dict(spec.optimizer_config), spec.seed)
        start = 0
        if task.resume_from:
            path = Path(task.checkpoint_root) / task.resume_from
            start = read_meta(path).step
            run.restore(start, read_weights(path), read_optimizer(path))
        hooks = _PipeHooks(task, conn, run, baseline_memory)
        step = train(run, start, spec.log_every, spec.checkpoint_every, hooks)
        periodic = spec.checkpoint_every > 0 and step % spec.checkpoint_every == 0  # one exists at this step
        if hooks.shutdown and step > start and not periodic:
            hooks.on_checkpoint(step, hooks.last_metrics or {"loss": float("nan")})
        conn.send(Done(step, hooks.stopped, peak_memory_bytes(task.device), time.process_time()))
        return True
    except BaseException as error:  # report everything
        conn.send(Failed(f"{type(error).__name__}: {error}", traceback.format_exc()))
        return False
