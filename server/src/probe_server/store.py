"""SQLite (WAL) store of jobs, their events, and checkpoint metadata.

Every state change of a job is written together with the event that records
it, in one transaction, before anyone is told; a watcher reading events in
``seq`` order therefore sees the job's whole history without gaps.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probe_models.states import RunState

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    checkpoint_every INTEGER NOT NULL,
    log_every INTEGER NOT NULL,
    state TEXT NOT NULL,
    step INTEGER NOT NULL DEFAULT 0,
    loss REAL NOT NULL DEFAULT 0,
    metrics TEXT NOT NULL DEFAULT '{}',
    checkpoint_id TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    runs INTEGER NOT NULL DEFAULT 0,
    peak_memory_bytes INTEGER NOT NULL DEFAULT 0,
    last_seq INTEGER NOT NULL DEFAULT 0,
    training TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL REFERENCES jobs(job_id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    step INTEGER NOT NULL,
    loss REAL NOT NULL,
    metrics TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    message TEXT NOT NULL,
    time REAL NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    checkpoint_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    family TEXT NOT NULL,
    step INTEGER NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    created_at REAL NOT NULL,
    size_bytes INTEGER NOT NULL,
    code_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoints_job ON checkpoints(job_id);
CREATE TABLE IF NOT EXISTS sweeps (
    sweep_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    family TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    finished_at REAL,
    last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sweep_children (
    job_id TEXT PRIMARY KEY REFERENCES jobs(job_id),
    sweep_id TEXT NOT NULL REFERENCES sweeps(sweep_id),
    ordinal INTEGER NOT NULL,
    point INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    overrides TEXT NOT NULL,
    probe REAL
);
CREATE INDEX IF NOT EXISTS sweep_children_sweep ON sweep_children(sweep_id, ordinal);
-- a search probes each (point, value, seed) once, whoever asks twice
CREATE UNIQUE INDEX IF NOT EXISTS sweep_children_probe
    ON sweep_children(sweep_id, point, probe, seed) WHERE probe IS NOT NULL;
CREATE TABLE IF NOT EXISTS reproductions (
    reproduction_id TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    scale TEXT NOT NULL,
    state TEXT NOT NULL,
    sweep_ids TEXT NOT NULL DEFAULT '[]',
    files TEXT NOT NULL DEFAULT '[]',
    passed INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS sweep_events (
    sweep_id TEXT NOT NULL REFERENCES sweeps(sweep_id),
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    job_id TEXT NOT NULL,
    job_state TEXT NOT NULL,
    counts TEXT NOT NULL,
    message TEXT NOT NULL,
    time REAL NOT NULL,
    PRIMARY KEY (sweep_id, seq)
);
"""


@dataclass
class JobRecord:
    job_id: str
    family: str
    config: dict[str, Any]
    seed: int
    steps: int
    checkpoint_every: int
    log_every: int
    state: str
    step: int
    loss: float
    metrics: dict[str, float]
    checkpoint_id: str
    error: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    runs: int
    peak_memory_bytes: int
    last_seq: int
    training: dict[str, Any] = field(default_factory=dict)  # optimizer, optimizer_config, init_checkpoint
    rowid: int = 0


@dataclass
class EventRecord:
    job_id: str
    seq: int
    kind: str
    state: str
    step: int
    loss: float
    metrics: dict[str, float] = field(default_factory=dict)
    checkpoint_id: str = ""
    message: str = ""
    time: float = 0.0


@dataclass
class CheckpointRecord:
    checkpoint_id: str
    job_id: str
    family: str
    step: int
    config: dict[str, Any]
    seed: int
    metrics: dict[str, float]
    created_at: float
    size_bytes: int
    code_version: str
    rowid: int = 0


@dataclass
class SweepRecord:
    sweep_id: str
    name: str
    family: str
    spec: dict[str, Any]
    state: str
    message: str
    created_at: float
    finished_at: float | None
    last_seq: int = 0
    rowid: int = 0


@dataclass
class SweepChildRecord:
    job_id: str
    sweep_id: str
    ordinal: int
    point: int
    seed: int
    overrides: dict[str, Any]
    probe: float | None
    # joined from the job
    state: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class SweepEventRecord:
    sweep_id: str
    seq: int
    state: str
    job_id: str
    job_state: str
    counts: dict[str, int]
    message: str
    time: float


@dataclass
class ReproductionRecord:
    reproduction_id: str
    family: str
    scale: str
    state: str
    sweep_ids: list[str]
    files: list[str]
    passed: bool
    message: str
    created_at: float
    finished_at: float | None


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
}


def _filters(
    *, states: Iterable[str] = (), family: str = "", job_id: str = "", before_rowid: int | None = None
) -> tuple[str, list[Any]]:
    """A WHERE clause (or "") and its arguments for the List RPCs' filters and keyset paging."""
    clauses: list[str] = []
    args: list[Any] = []
    states = list(states)
    if states:
        clauses.append(f"state IN ({', '.join('?' * len(states))})")
        args += states
    for column, value in (("family", family), ("job_id", job_id)):
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    if before_rowid is not None:
        clauses.append("rowid < ?")
        args.append(before_rowid)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), args


def _job(row: sqlite3.Row) -> JobRecord:
    values = dict(row)
    values["config"] = json.loads(values["config"])
    values["metrics"] = json.loads(values["metrics"])
    values["training"] = json.loads(values["training"])
    return JobRecord(**values)


def _event(row: sqlite3.Row) -> EventRecord:
    values = dict(row)
    values["metrics"] = json.loads(values["metrics"])
    return EventRecord(**values)


def _sweep(row: sqlite3.Row) -> SweepRecord:
    values = dict(row)
    values["spec"] = json.loads(values["spec"])
    return SweepRecord(**values)


def _reproduction(row: sqlite3.Row) -> ReproductionRecord:
    values = dict(row)
    values["sweep_ids"] = json.loads(values["sweep_ids"])
    values["files"] = json.loads(values["files"])
    values["passed"] = bool(values["passed"])
    return ReproductionRecord(**values)


def _checkpoint(row: sqlite3.Row) -> CheckpointRecord:
    values = dict(row)
    values["config"] = json.loads(values["config"])
    values["metrics"] = json.loads(values["metrics"])
    return CheckpointRecord(**values)


class Store:
    """Thread-safe access to ``probe.db``; one connection guarded by a lock."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Columns added after a data directory was created (the probe.v1 API only ever adds fields)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        if "training" not in columns:
            self._db.execute("ALTER TABLE jobs ADD COLUMN training TEXT NOT NULL DEFAULT '{}'")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def integrity_ok(self) -> bool:
        with self._lock:
            return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # jobs

    def create_jobs(
        self,
        jobs: list[JobRecord],
        message: str,
        sweep: SweepRecord | None = None,
        children: list[SweepChildRecord] = (),  # type: ignore[assignment]
    ) -> bool:
        """Insert jobs (with their QUEUED events), and the sweep they belong to, in one transaction.

        Returns False, creating nothing, when a search child for the same probe exists already.
        """
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if sweep is not None:
                    self._db.execute(
                        "INSERT INTO sweeps (sweep_id, name, family, spec, state, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            sweep.sweep_id,
                            sweep.name,
                            sweep.family,
                            json.dumps(sweep.spec),
                            sweep.state,
                            sweep.created_at,
                        ),
                    )
                for job in jobs:
                    self._db.execute(
                        "INSERT INTO jobs (job_id, family, config, seed, steps, checkpoint_every, log_every, state,"
                        " created_at, training) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            job.job_id,
                            job.family,
                            json.dumps(job.config),
                            job.seed,
                            job.steps,
                            job.checkpoint_every,
                            job.log_every,
                            job.state,
                            job.created_at,
                            json.dumps(job.training),
                        ),
                    )
                    self._append(job.job_id, "STATE", job.state, 0, 0.0, {}, "", message, {})
                for child in children:
                    self._db.execute(
                        "INSERT INTO sweep_children VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            child.job_id,
                            child.sweep_id,
                            child.ordinal,
                            child.point,
                            child.seed,
                            json.dumps(child.overrides),
                            child.probe,
                        ),
                    )
            except sqlite3.IntegrityError:
                self._db.execute("ROLLBACK")
                return False
        return True

    def get_job(self, job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute("SELECT rowid, * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def list_jobs(self, states: Iterable[str], family: str, limit: int, before_rowid: int | None) -> list[JobRecord]:
        where, args = _filters(states=states, family=family, before_rowid=before_rowid)
        with self._lock:
            rows = self._db.execute(f"SELECT rowid, * FROM jobs {where} ORDER BY rowid DESC LIMIT ?", (*args, limit))
            return [_job(r) for r in rows.fetchall()]

    def jobs_in_states(self, states: Iterable[str]) -> list[JobRecord]:
        states = list(states)
        with self._lock:
            rows = self._db.execute(
                f"SELECT rowid, * FROM jobs WHERE state IN ({', '.join('?' * len(states))}) ORDER BY rowid", states
            ).fetchall()
        return [_job(r) for r in rows]

    def count_jobs(self) -> dict[tuple[str, str], int]:
        with self._lock:
            rows = self._db.execute("SELECT state, family, COUNT(*) FROM jobs GROUP BY state, family").fetchall()
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
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT state, step, loss FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
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
                job_id, kind, new_state, new_step, new_loss, metrics or {}, checkpoint_id, message, changes
            )

    def _append(
        self,
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
        seq = self._db.execute("SELECT last_seq FROM jobs WHERE job_id = ?", (job_id,)).fetchone()[0] + 1
        event = EventRecord(job_id, seq, kind, state, step, loss, metrics, checkpoint_id, message, time.time())
        self._db.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job_id, seq, kind, state, step, loss, json.dumps(metrics), checkpoint_id, message, event.time),
        )
        changes = {k: json.dumps(v) if k == "metrics" else v for k, v in changes.items()}
        assignments = ", ".join(f"{k} = ?" for k in changes)
        self._db.execute(
            f"UPDATE jobs SET last_seq = ?{', ' + assignments if assignments else ''} WHERE job_id = ?",
            (seq, *changes.values(), job_id),
        )
        return event

    def events(self, job_id: str, after_seq: int, from_step: int, limit: int = 1000) -> list[EventRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM events WHERE job_id = ? AND seq > ? AND step >= ? ORDER BY seq LIMIT ?",
                (job_id, after_seq, from_step, limit),
            ).fetchall()
        return [_event(r) for r in rows]

    def last_event(self, job_id: str, exclude_kind: str = "") -> EventRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM events WHERE job_id = ? AND kind != ? ORDER BY seq DESC LIMIT 1", (job_id, exclude_kind)
            ).fetchone()
        return _event(row) if row else None

    # checkpoints

    def add_checkpoint(self, record: CheckpointRecord) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO checkpoints VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.checkpoint_id,
                    record.job_id,
                    record.family,
                    record.step,
                    json.dumps(record.config),
                    record.seed,
                    json.dumps(record.metrics),
                    record.created_at,
                    record.size_bytes,
                    record.code_version,
                ),
            )

    def get_checkpoint(self, checkpoint_id: str) -> CheckpointRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT rowid, * FROM checkpoints WHERE checkpoint_id = ?", (checkpoint_id,)
            ).fetchone()
        return _checkpoint(row) if row else None

    def list_checkpoints(
        self, job_id: str, family: str, limit: int, before_rowid: int | None
    ) -> list[CheckpointRecord]:
        where, args = _filters(job_id=job_id, family=family, before_rowid=before_rowid)
        with self._lock:
            query = f"SELECT rowid, * FROM checkpoints {where} ORDER BY rowid DESC LIMIT ?"
            return [_checkpoint(r) for r in self._db.execute(query, (*args, limit)).fetchall()]

    def latest_checkpoint(self, job_id: str) -> CheckpointRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT rowid, * FROM checkpoints WHERE job_id = ? ORDER BY step DESC, rowid DESC LIMIT 1", (job_id,)
            ).fetchone()
        return _checkpoint(row) if row else None

    def checkpoint_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT checkpoint_id FROM checkpoints")}

    def count_checkpoints(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]

    def delete_checkpoint(self, checkpoint_id: str) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM checkpoints WHERE checkpoint_id = ?", (checkpoint_id,))
            self._db.execute("UPDATE jobs SET checkpoint_id = '' WHERE checkpoint_id = ?", (checkpoint_id,))

    # sweeps

    def get_sweep(self, sweep_id: str) -> SweepRecord | None:
        with self._lock:
            row = self._db.execute("SELECT rowid, * FROM sweeps WHERE sweep_id = ?", (sweep_id,)).fetchone()
        return _sweep(row) if row else None

    def list_sweeps(
        self, states: Iterable[str], family: str, limit: int, before_rowid: int | None
    ) -> list[SweepRecord]:
        where, args = _filters(states=states, family=family, before_rowid=before_rowid)
        with self._lock:
            rows = self._db.execute(f"SELECT rowid, * FROM sweeps {where} ORDER BY rowid DESC LIMIT ?", (*args, limit))
            return [_sweep(r) for r in rows.fetchall()]

    def sweeps_in_state(self, state: str) -> list[SweepRecord]:
        with self._lock:
            rows = self._db.execute("SELECT rowid, * FROM sweeps WHERE state = ? ORDER BY rowid", (state,)).fetchall()
        return [_sweep(r) for r in rows]

    def sweep_children(self, sweep_id: str) -> list[SweepChildRecord]:
        """The children in creation order, with their jobs' current state and metrics."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.*, j.state AS state, j.metrics AS metrics FROM sweep_children c"
                " JOIN jobs j ON j.job_id = c.job_id WHERE c.sweep_id = ? ORDER BY c.ordinal",
                (sweep_id,),
            ).fetchall()
        children = []
        for row in rows:
            values = dict(row)
            values["overrides"] = json.loads(values["overrides"])
            values["metrics"] = json.loads(values["metrics"])
            children.append(SweepChildRecord(**values))
        return children

    def sweep_of_job(self, job_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT sweep_id FROM sweep_children WHERE job_id = ?", (job_id,)).fetchone()
        return row[0] if row else None

    def record_sweep_event(
        self, sweep_id: str, state: str, job_id: str, job_state: str, counts: dict[str, int], message: str
    ) -> SweepEventRecord:
        """Append a sweep event and set the sweep's state (and finish time once it ends), atomically."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            seq = self._db.execute("SELECT last_seq FROM sweeps WHERE sweep_id = ?", (sweep_id,)).fetchone()[0] + 1
            event = SweepEventRecord(sweep_id, seq, state, job_id, job_state, counts, message, time.time())
            self._db.execute(
                "INSERT INTO sweep_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (sweep_id, seq, state, job_id, job_state, json.dumps(counts), message, event.time),
            )
            finished = event.time if state != RunState.RUNNING else None
            self._db.execute(
                "UPDATE sweeps SET last_seq = ?, state = ?, message = ?, finished_at = ? WHERE sweep_id = ?",
                (seq, state, message, finished, sweep_id),
            )
        return event

    def sweep_events(self, sweep_id: str, after_seq: int, limit: int = 1000) -> list[SweepEventRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM sweep_events WHERE sweep_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (sweep_id, after_seq, limit),
            ).fetchall()
        events = []
        for row in rows:
            values = dict(row)
            values["counts"] = json.loads(values["counts"])
            events.append(SweepEventRecord(**values))
        return events

    # reproductions

    def create_reproduction(self, record: ReproductionRecord) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO reproductions (reproduction_id, family, scale, state, created_at) VALUES (?, ?, ?, ?, ?)",
                (record.reproduction_id, record.family, record.scale, record.state, record.created_at),
            )

    def get_reproduction(self, reproduction_id: str) -> ReproductionRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM reproductions WHERE reproduction_id = ?", (reproduction_id,)
            ).fetchone()
        return _reproduction(row) if row else None

    def reproductions_in_state(self, state: str) -> list[ReproductionRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM reproductions WHERE state = ? ORDER BY rowid", (state,)).fetchall()
        return [_reproduction(r) for r in rows]

    def update_reproduction(self, reproduction_id: str, **changes: Any) -> None:
        allowed = {"state", "sweep_ids", "files", "passed", "message", "finished_at"}
        if set(changes) - allowed:
            raise ValueError(f"cannot update reproduction columns {sorted(set(changes) - allowed)}")
        values = {k: json.dumps(v) if k in ("sweep_ids", "files") else v for k, v in changes.items()}
        with self._lock, self._db:
            self._db.execute(
                f"UPDATE reproductions SET {', '.join(f'{k} = ?' for k in values)} WHERE reproduction_id = ?",
                (*values.values(), reproduction_id),
            )
