"""A job's events: each goes to the store first, then to the metrics and the state listeners, then wakes
the watchers waiting on :attr:`JobRecorder.changed` (who then read the store)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from probe_models.states import JobState
from probe_server.checkpoint_files import CheckpointMeta
from probe_server.metrics import Metrics
from probe_server.store import CheckpointRecord, Store
from probe_server.worker_messages import CheckpointWritten, Placed, Progress, WorkerMessage

log = logging.getLogger("probe.jobs")


class JobRecorder:
    def __init__(self, store: Store, metrics: Metrics) -> None:
        self.store = store
        self.metrics = metrics
        self.changed = threading.Condition()  # notified after every recorded event
        self._state_listeners: list[Callable[[str, str], None]] = []

    def notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def on_state_change(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(job_id, state)`` after every recorded state change (it must not block)."""
        self._state_listeners.append(listener)

    def record(self, job_id: str, family: str, kind: str, **kwargs: Any) -> None:
        event = self.store.append_event(job_id, kind, **kwargs)
        if kind == "STATE":
            for listener in self._state_listeners:
                listener(job_id, event.state)
            log.info("job=%s family=%s state=%s step=%d %s", job_id, family, event.state, event.step, event.message)
        elif kind == "PROGRESS":
            peak = kwargs.get("updates", {}).get("peak_memory_bytes", 0)
            self.metrics.jobs.progress(job_id, family, event.step, event.loss, event.metrics, peak)
        self.notify()

    def record_message(
        self, job_id: str, family: str, message: WorkerMessage, executor: str, recorded_step: int
    ) -> None:
        """A worker's message, except what is in the store already: progress up to ``recorded_step`` (a
        re-attached worker's messages from before a restart) and a checkpoint stored before."""
        if isinstance(message, Placed):
            where = f"running on {executor} node {message.node}"
            self.record(job_id, family, "STATE", state=JobState.RUNNING, message=where, updates={"node": message.node})
        elif isinstance(message, Progress) and message.step > recorded_step:
            self.record(
                job_id,
                family,
                "PROGRESS",
                step=message.step,
                loss=message.metrics["loss"],
                metrics=message.metrics,
                updates={"peak_memory_bytes": message.peak_memory_bytes},
            )
            self.metrics.jobs.worker_cpu(job_id, family, message.cpu_seconds)
        elif isinstance(message, CheckpointWritten) and not self.store.get_checkpoint(message.meta["checkpoint_id"]):
            self.add_checkpoint(CheckpointMeta(**message.meta), message.size_bytes)

    def add_checkpoint(self, meta: CheckpointMeta, size_bytes: int) -> None:
        self.store.add_checkpoint(
            CheckpointRecord(
                checkpoint_id=meta.checkpoint_id,
                job_id=meta.job_id,
                family=meta.family,
                step=meta.step,
                config=meta.config,
                seed=meta.seed,
                metrics=meta.metrics,
                created_at=meta.created_at,
                size_bytes=size_bytes,
                code_version=meta.code_version,
            )
        )
        self.record(
            meta.job_id,
            meta.family,
            "CHECKPOINT",
            step=meta.step,
            checkpoint_id=meta.checkpoint_id,
            message=f"checkpoint at step {meta.step}",
        )
