"""The job engine: a queue, a fixed number of slots, and one worker per running job (see :mod:`executor`).

Every transition is written to the store (with its event) before anything
else learns of it; watchers wait on :attr:`JobEngine.changed` and then read
the store, so what they stream is exactly what was persisted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probe_models.states import JobState
from probe_server.checkpoint_files import directory_size, unrecorded_checkpoints
from probe_server.errors import Conflict, NotFoundError, StorageFull
from probe_server.executor import Executor, LocalExecutor, WorkerEnd, WorkerHandle
from probe_server.ids import new_id
from probe_server.job_outcome import job_outcome
from probe_server.job_queue import JobQueue
from probe_server.job_recorder import JobRecorder
from probe_server.job_spec import JobSpec
from probe_server.metrics import Metrics
from probe_server.settings import Limits
from probe_server.store import JobRecord, Store, SweepChildRecord, SweepRecord
from probe_server.worker import WorkerTask
from probe_server.worker_messages import CANCEL, SHUTDOWN, Done, Failed

log = logging.getLogger("probe.jobs")

CANCEL_GRACE_S = 1.2  # then terminate; the whole cancel stays under two seconds
STORAGE_RETRY_S = 5.0  # a job that could not start on a full disk is tried again after this


@dataclass
class _Worker:
    job_id: str
    family: str
    handle: WorkerHandle
    recorded_step: int = -1  # re-attached: progress up to here is in the store already
    cancel_requested: bool = False
    finished: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)


class JobEngine:
    def __init__(
        self, store: Store, checkpoint_root: Path, slots: int, metrics: Metrics, threads_per_job: int, device: str,
        limits: Limits, executor: Executor | None = None, max_retries: int = 2,
    ) -> None:  # fmt: skip
        self.executor: Executor = executor or LocalExecutor()
        self.max_retries = max_retries  # of a job lost with its node or actor, each from its last checkpoint
        self._retries: dict[str, int] = {}
        self.device = device
        self.limits = limits  # what a worker checks again where it reads files: server paths, a model's size
        self.store = store
        self.checkpoint_root = checkpoint_root
        self.slots = slots
        self.metrics = metrics
        self.threads_per_job = threads_per_job
        self._recorder = JobRecorder(store, metrics)
        self.changed = self._recorder.changed  # notified after every recorded event
        self.on_state_change = self._recorder.on_state_change
        self._lock = threading.Condition()
        self._queue = JobQueue()
        self._running: dict[str, _Worker] = {}
        self._stopping = False
        self._dispatcher = threading.Thread(target=self._dispatch, name="job-dispatcher", daemon=True)

    # lifecycle

    def start(self) -> None:
        self.executor.start()
        self._recover()
        self._dispatcher.start()

    def stop(self, grace: float = 0.0) -> None:
        """Stop dispatching and let running jobs stop well within ``grace`` seconds.

        Each running job is asked to write a checkpoint at the step it reached and stop: it ends INTERRUPTED
        and a resume continues from that step. A job that completes its last step meanwhile is SUCCEEDED. A
        worker still running after the grace period is killed (INTERRUPTED; a resume starts from its last
        periodic checkpoint).
        """
        with self._lock:
            self._stopping = True
            workers = list(self._running.values())
            self._lock.notify_all()
        if self.executor.survives_server:  # they run on; a restarted server re-attaches to them
            for worker in workers:
                worker.handle.detach()
            for worker in workers:
                worker.finished.wait(5)
            self.executor.close()
            return
        for worker in workers:
            worker.handle.send(SHUTDOWN)
        deadline = time.monotonic() + grace
        for worker in workers:
            worker.finished.wait(max(0.0, deadline - time.monotonic()))
        for worker in workers:
            if not worker.finished.is_set():
                log.warning("job=%s did not stop within the %.0f s grace period; killing its worker", worker.job_id,
                            grace)  # fmt: skip
                worker.handle.kill()
        for worker in workers:
            worker.finished.wait(5)

    def _recover(self) -> None:
        """Undo what a dead server left: half-written files, orphan checkpoints, running jobs."""
        self.checkpoint_root.mkdir(parents=True, exist_ok=True)
        for path, meta in unrecorded_checkpoints(self.checkpoint_root, self.store.checkpoint_ids()):
            if self.store.get_job(meta.job_id) is None:
                log.warning("checkpoint %s belongs to unknown job %s; left in place", path.name, meta.job_id)
            else:
                self._recorder.add_checkpoint(meta, directory_size(path))
        for job in self.store.jobs_in_states([JobState.RUNNING]):
            handle = self.executor.reattach(job.job_id) if self.executor.survives_server else None
            if handle is not None:
                log.info("job=%s re-attached to its worker", job.job_id)
                self._follow(job, handle, recorded_step=job.step)
                continue
            gone = "its worker is gone" if self.executor.survives_server else "the server stopped"
            self._recorder.record(
                job.job_id, job.family, "STATE", state=JobState.INTERRUPTED, message=f"{gone} while the job was running"
            )
            if self.executor.survives_server:
                self._retry(job.job_id, "its worker was gone after a server restart")
        for job in self.store.jobs_in_states([JobState.QUEUED]):
            if job.job_id not in self._queue:  # a lost Ray job retried above is queued already
                self._queue.push(job.job_id, job.created_at)  # the ranks of a previous run are not kept

    # requests

    @staticmethod
    def new_job(family: str, config: dict[str, Any], spec: JobSpec) -> JobRecord:
        """A QUEUED job of a validated spec (see :meth:`JobSpec.validate`), not yet stored."""
        return JobRecord(
            job_id=new_id("job"), family=family, config=config, spec=spec, state=JobState.QUEUED, step=0, loss=0.0,
            metrics={}, checkpoint_id="", error="", created_at=time.time(), started_at=None, finished_at=None,
            runs=0, peak_memory_bytes=0, last_seq=0,
        )  # fmt: skip

    def submit(self, family: str, config: dict[str, Any], spec: JobSpec) -> JobRecord:
        job = self.new_job(family, config, spec)
        self.submit_jobs([job])
        return self.get(job.job_id)

    def submit_jobs(
        self,
        jobs: list[JobRecord],
        sweep: SweepRecord | None = None,
        children: Iterable[SweepChildRecord] = (),
        rank: float | None = None,
    ) -> bool:
        """Persist and queue jobs (with their sweep) atomically; False if a search probe exists already.

        ``rank`` is when the request they belong to began (default: now); see :mod:`job_queue`.
        """
        rank = time.time() if rank is None else rank
        with self._lock:
            if not self.store.create_jobs(jobs, "submitted", sweep, children):
                return False
            for job in jobs:
                self._queue.push(job.job_id, rank)
            self._lock.notify_all()
        self._recorder.notify()
        for job in jobs:
            log.info(
                "job=%s family=%s state=QUEUED steps=%d seed=%d", job.job_id, job.family, job.spec.steps, job.spec.seed
            )
        return True

    def get(self, job_id: str) -> JobRecord:
        job = self.store.get_job(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id}")
        return job

    def cancel(self, job_id: str) -> JobRecord:
        with self._lock:
            job = self.get(job_id)
            if job.state == JobState.QUEUED and job_id in self._queue:
                self._queue.remove(job_id)
                self._recorder.record(
                    job_id,
                    job.family,
                    "STATE",
                    state=JobState.CANCELLED,
                    message="cancelled while queued",
                    updates={"finished_at": time.time()},
                )
                return self.get(job_id)
            worker = self._running.get(job_id)
            if worker is None:
                raise Conflict(f"job {job_id} is {job.state}; only QUEUED or RUNNING jobs can be cancelled")
            worker.cancel_requested = True
            worker.handle.send(CANCEL)
        if not worker.finished.wait(CANCEL_GRACE_S):
            worker.handle.terminate()
            if not worker.finished.wait(0.4):
                worker.handle.kill()
            worker.finished.wait(2)
        return self.get(job_id)

    def resume(self, job_id: str) -> JobRecord:
        with self._lock:
            job = self.get(job_id)
            if not JobState(job.state).is_resumable:
                resumable = ", ".join(s for s in JobState if s.is_resumable)
                raise Conflict(f"job {job_id} is {job.state}; only {resumable} jobs can be resumed")
            self._retries.pop(job_id, None)  # a client's resume starts the retry count again
            self._requeue(job, "resuming")
        return self.get(job_id)

    def _retry(self, job_id: str, reason: str) -> None:
        """Queue a job lost with its node or actor again, from its last checkpoint, while retries are left."""
        retries = self._retries.get(job_id, 0)
        job = self.get(job_id)
        if retries >= self.max_retries:
            log.warning("job=%s lost (%s) after %d retries: left INTERRUPTED", job_id, reason, retries)
            return
        self._retries[job_id] = retries + 1
        self.metrics.jobs.retried(job.family)
        self._requeue(job, f"retry {retries + 1} of {self.max_retries} ({reason}): resuming")

    def _requeue(self, job: JobRecord, why: str) -> None:
        with self._lock:
            job_id = job.job_id
            checkpoint = self.store.latest_checkpoint(job_id)
            where = (
                f"checkpoint {checkpoint.checkpoint_id} at step {checkpoint.step}"
                if checkpoint
                else "step 0 (no checkpoint)"
            )
            self._recorder.record(
                job_id,
                job.family,
                "STATE",
                state=JobState.QUEUED,
                step=checkpoint.step if checkpoint else 0,
                message=f"{why} from {where}",
                updates={"error": "", "finished_at": None},
            )
            self._queue.push(job_id, time.time())
            self._lock.notify_all()

    def running_workers(self) -> list[tuple[str, int]]:
        """(family, pid) of each running job's worker on this machine."""
        with self._lock:
            return [(w.family, w.handle.pid) for w in self._running.values() if w.handle.pid is not None]

    # internals

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                while not self._stopping and (not self._queue or len(self._running) >= self.slots):
                    self._lock.wait()
                if self._stopping:
                    return
                entry = self._queue.pop()
                try:
                    self._start(entry.job_id, time.time() - entry.queued_at)
                except Exception:  # nothing could be recorded (the store fails): retry later; the dispatcher lives
                    log.exception("job=%s waits to start: the store cannot record it", entry.job_id)
                    self._queue.restore(entry)
                    self._lock.wait(STORAGE_RETRY_S)

    def _start(self, job_id: str, waited: float) -> None:
        """Start the job's worker; a job whose worker cannot start is FAILED, saying why."""
        job = self.store.get_job(job_id)
        if job is None:
            log.error("job=%s was queued but is not stored; dropped from the queue", job_id)
            return
        try:
            self._start_worker(job)
            self.metrics.jobs.started(job.job_id, job.family, waited)
        except StorageFull:
            raise
        except Exception as error:
            log.exception("job=%s could not start a worker", job.job_id)
            message = f"could not start a worker: {type(error).__name__}: {error}"
            self._recorder.record(
                job.job_id,
                job.family,
                "STATE",
                state=JobState.FAILED,
                message=message,
                updates={"error": message, "finished_at": time.time()},
            )

    def _start_worker(self, job: JobRecord) -> None:
        checkpoint = self.store.latest_checkpoint(job.job_id)
        if checkpoint is not None and not (self.checkpoint_root / checkpoint.checkpoint_id).is_dir():
            checkpoint = None
        resume_from = checkpoint.checkpoint_id if checkpoint else ""
        task = WorkerTask.of(job, self.checkpoint_root, resume_from, self.threads_per_job, self.device, self.limits)
        handle = self.executor.run(task)
        where = f"worker pid {handle.pid}" if handle.pid is not None else f"{self.executor.name} worker {handle.node}"
        try:
            self._recorder.record(
                job.job_id,
                job.family,
                "STATE",
                state=JobState.RUNNING,
                step=checkpoint.step if checkpoint else 0,
                message=where,
                updates={"started_at": time.time(), "runs": job.runs + 1, "node": handle.node},
            )
        except BaseException:
            handle.kill()
            handle.end()
            raise
        self._follow(job, handle)

    def _follow(self, job: JobRecord, handle: WorkerHandle, recorded_step: int = -1) -> None:
        worker = _Worker(job.job_id, job.family, handle, recorded_step)
        self._running[job.job_id] = worker
        threading.Thread(target=self._supervise, args=(worker,), name=f"supervise-{job.job_id}", daemon=True).start()

    def _supervise(self, worker: _Worker) -> None:
        outcome: Done | Failed | None = None
        try:
            for message in worker.handle.messages():
                try:
                    self._recorder.record_message(
                        worker.job_id, worker.family, message, self.executor.name, worker.recorded_step
                    )
                except Exception:  # the job goes on; a checkpoint's files are adopted at the next start
                    log.exception("job=%s %s not recorded", worker.job_id, type(message).__name__)
                if isinstance(message, Done | Failed):
                    outcome = message
        finally:  # whatever happened above, the slot is freed and the end recorded if the store can
            self._finish(worker, outcome)

    def _finish(self, worker: _Worker, reported: Done | Failed | None) -> None:
        try:
            end = worker.handle.end()
        except Exception as error:  # its executor could not say (a cluster that went away): lost, so retried
            log.exception("job=%s: its worker's end is unknown", worker.job_id)
            end = WorkerEnd(None, lost=f"its worker's end is unknown ({type(error).__name__}: {error})")
        if end.detached:  # the server stops; the job runs on, RUNNING in the store, for the next server
            with self._lock:
                self._running.pop(worker.job_id, None)
            worker.finished.set()
            return
        outcome = job_outcome(reported, cancel_requested=worker.cancel_requested, server_stopping=self._stopping,
                              exitcode=end.exitcode, lost=end.lost)  # fmt: skip
        state, message, updates = outcome.state, outcome.message, outcome.updates
        if isinstance(reported, Done):
            self.metrics.jobs.worker_cpu(worker.job_id, worker.family, reported.cpu_seconds)
        run_seconds = time.monotonic() - worker.started
        self.metrics.jobs.worker_ended(worker.job_id, worker.family, run_seconds, updates.get("peak_memory_bytes"))
        with self._lock:
            try:
                self._recorder.record(
                    worker.job_id, worker.family, "STATE", state=state, message=message, updates=updates
                )
                ended = self.get(worker.job_id)
                self.metrics.jobs.ended(ended.job_id, ended.family, ended.step, ended.loss)
            except Exception:  # the job reads RUNNING until the next start, which records it INTERRUPTED
                log.exception("job=%s ended %s but the store could not record it", worker.job_id, state)
            self._running.pop(worker.job_id, None)
            try:
                if end.lost and state == JobState.INTERRUPTED and not self._stopping:
                    self._retry(worker.job_id, end.lost)
            except Exception:  # the store failed: the job stays INTERRUPTED, a client may resume it
                log.exception("job=%s could not be queued again", worker.job_id)
            self._lock.notify_all()
        worker.finished.set()
