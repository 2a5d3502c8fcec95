"""The jobs and events tables: a job's row changes only together with the event that records the change."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from probe_server.job_spec import JobSpec
from probe_server.store.database import Database, filters, insert, update
from probe_server.store.records import EventRecord, JobRecord, SweepChildRecord, SweepRecord

_JOB_UPDATABLE = {
    "state",
    "step",
    "loss",
    "metrics",
    "checkpoint_id",
    "error",
    "started_at",
    "finished_at",
    "runs",
    "peak_memory_bytes",
    "node",
}

# The last event other than a state change, as one JSON object, beside each job row: a page of jobs in one query.
# Its metrics stay the column's text (Python's JSON, which may hold NaN or Infinity; SQLite's json() refuses those).
_LAST_EVENT = (
    "(SELECT json_object('job_id', e.job_id, 'seq', e.seq, 'kind', e.kind, 'state', e.state, 'step', e.step,"
    " 'loss', e.loss, 'metrics', e.metrics, 'checkpoint_id', e.checkpoint_id, 'message', e.message,"
    " 'time', e.time) FROM events e WHERE e.job_id = jobs.job_id AND e.kind != 'STATE'"
    " ORDER BY e.seq DESC LIMIT 1) AS last_event"
)
_JOB_COLUMNS = f"jobs.rowid AS rowid, jobs.*, {_LAST_EVENT}"


def _job(row: sqlite3.Row) -> JobRecord:
    values = dict(row)
    spec = JobSpec.stored(
        values.pop("steps"),
        values.pop("seed"),
        values.pop("checkpoint_every"),
        values.pop("log_every"),
        json.loads(values.pop("training")),
    )
    values["config"] = json.loads(values["config"])
    values["metrics"] = json.loads(values["metrics"])
    last_event = values.pop("last_event", None)
    return JobRecord(**values, spec=spec, last_event=_event(json.loads(last_event)) if last_event else None)


def _event(row: sqlite3.Row | dict[str, Any]) -> EventRecord:
    values = dict(row)
    values["metrics"] = json.loads(values["metrics"])
    return EventRecord(**values)


def job_row(job: JobRecord) -> dict[str, Any]:
    """The columns a new job is inserted with (the rest take their defaults)."""
    spec = job.spec
    return {
        "job_id": job.job_id, "family": job.family, "config": json.dumps(job.config), "seed": spec.seed,
        "steps": spec.steps, "checkpoint_every": spec.checkpoint_every, "log_every": spec.log_every,
        "state": job.state, "created_at": job.created_at, "training": json.dumps(spec.training()),
    }  # fmt: skip


class JobTables(Database):
    def create_jobs(
        self,
        jobs: list[JobRecord],
        message: str,
        sweep: SweepRecord | None = None,
        children: Iterable[SweepChildRecord] = (),
    ) -> bool:
        """Insert jobs (with their QUEUED events), and the sweep they belong to, in one transaction.

        Returns False, creating nothing, when a search child for the same probe exists already.
        """
        try:
            with self._transaction() as db:
                if sweep is not None:
                    insert(db, "sweeps", {
                        "sweep_id": sweep.sweep_id, "name": sweep.name, "family": sweep.family,
                        "spec": json.dumps(sweep.spec), "state": sweep.state, "created_at": sweep.created_at,
                    })  # fmt: skip
                for job in jobs:
                    insert(db, "jobs", job_row(job))
                    self._append(db, job.job_id, "STATE", job.state, 0, 0.0, {}, "", message, {})
                for child in children:
                    insert(db, "sweep_children", {
                        "job_id": child.job_id, "sweep_id": child.sweep_id, "ordinal": child.ordinal,
                        "point": child.point, "seed": child.seed, "overrides": json.dumps(child.overrides),
                        "probe": child.probe,
                    })  # fmt: skip
        except sqlite3.IntegrityError:
            return False
        return True

    def get_job(self, job_id: str) -> JobRecord | None:
        row = self._one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,))
        return _job(row) if row else None

    def list_jobs(self, states: Iterable[str], family: str, limit: int, before_rowid: int | None) -> list[JobRecord]:
        """A page of jobs, newest first, each with its last event: one query."""
        where, args = filters(states=states, family=family, before_rowid=before_rowid)
        rows = self._query(f"SELECT {_JOB_COLUMNS} FROM jobs {where} ORDER BY rowid DESC LIMIT ?", (*args, limit))
        return [_job(r) for r in rows]

    def jobs_in_states(self, states: Iterable[str]) -> list[JobRecord]:
        states = list(states)
        marks = ", ".join("?" * len(states))
        rows = self._query(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state IN ({marks}) ORDER BY rowid", states)
        return [_job(r) for r in rows]

    def count_jobs(self) -> dict[tuple[str, str], int]:
        rows = self._query("SELECT state, family, COUNT(*) FROM jobs GROUP BY state, family")
        return {(r[0], r[1]): r[2] for r in rows}

    def count_jobs_by_node(self) -> dict[tuple[str, str], int]:
        rows = self._query("SELECT node, state, COUNT(*) FROM jobs WHERE node != '' GROUP BY node, state")
        return {(r[0], r[1]): r[2] for r in rows}

    def append_event(
        self,
        job_id: str,
        kind: str,
        *,
        state: str | None = None,
        step: int | None = None,
        loss: float | None = None,
        metrics: dict[str, float] | None = None,
        checkpoint_id: str = "",
        message: str = "",
        updates: dict[str, Any] | None = None,
    ) -> EventRecord:
        """Record an event and the job changes it implies, atomically."""
        with self._transaction() as db:
            row = db.execute("SELECT state, step, loss FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            new_state = state or row["state"]
            new_step = row["step"] if step is None else step
            new_loss = row["loss"] if loss is None else loss
            changes = dict(updates or {})
            changes.update(state=new_state, step=new_step, loss=new_loss)
            if metrics:
                changes["metrics"] = metrics
            if checkpoint_id:
                changes["checkpoint_id"] = checkpoint_id
            return self._append(
                db, job_id, kind, new_state, new_step, new_loss, metrics or {}, checkpoint_id, message, changes
            )

    @staticmethod
    def _append(
        db: sqlite3.Connection,
        job_id: str,
        kind: str,
        state: str,
        step: int,
        loss: float,
        metrics: dict[str, float],
        checkpoint_id: str,
        message: str,
        changes: dict[str, Any],
    ) -> EventRecord:
        unknown = set(changes) - _JOB_UPDATABLE
        if unknown:
            raise ValueError(f"cannot update job columns {sorted(unknown)}")
        seq = db.execute("SELECT last_seq FROM jobs WHERE job_id = ?", (job_id,)).fetchone()[0] + 1
        event = EventRecord(job_id, seq, kind, state, step, loss, metrics, checkpoint_id, message, time.time())
        insert(db, "events", {
            "job_id": job_id, "seq": seq, "kind": kind, "state": state, "step": step, "loss": loss,
            "metrics": json.dumps(metrics), "checkpoint_id": checkpoint_id, "message": message, "time": event.time,
        })  # fmt: skip
        columns = {k: json.dumps(v) if k == "metrics" else v for k, v in changes.items()}
        update(db, "jobs", ("job_id", job_id), {"last_seq": seq, **columns})
        return event

    def events(self, job_id: str, after_seq: int, from_step: int, limit: int = 1000) -> list[EventRecord]:
        rows = self._query(
            "SELECT * FROM events WHERE job_id = ? AND seq > ? AND step >= ? ORDER BY seq LIMIT ?",
            (job_id, after_seq, from_step, limit),
        )
        return [_event(r) for r in rows]
