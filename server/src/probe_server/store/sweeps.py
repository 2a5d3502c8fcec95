"""The sweeps, sweep_children and sweep_events tables (a sweep's jobs live in the jobs table)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable

from probe_models.states import RunState
from probe_server.store.database import Database, filters, insert, update
from probe_server.store.records import SweepChildRecord, SweepEventRecord, SweepRecord


def _sweep(row: sqlite3.Row) -> SweepRecord:
    values = dict(row)
    values["spec"] = json.loads(values["spec"])
    return SweepRecord(**values)


class SweepTables(Database):
    def get_sweep(self, sweep_id: str) -> SweepRecord | None:
        row = self._one("SELECT rowid, * FROM sweeps WHERE sweep_id = ?", (sweep_id,))
        return _sweep(row) if row else None

    def list_sweeps(
        self, states: Iterable[str], family: str, limit: int, before_rowid: int | None
    ) -> list[SweepRecord]:
        where, args = filters(states=states, family=family, before_rowid=before_rowid)
        rows = self._query(f"SELECT rowid, * FROM sweeps {where} ORDER BY rowid DESC LIMIT ?", (*args, limit))
        return [_sweep(r) for r in rows]

    def sweeps_in_state(self, state: str) -> list[SweepRecord]:
        rows = self._query("SELECT rowid, * FROM sweeps WHERE state = ? ORDER BY rowid", (state,))
        return [_sweep(r) for r in rows]

    def sweep_children(self, sweep_id: str) -> list[SweepChildRecord]:
        """The children in creation order, with their jobs' current state and metrics."""
        rows = self._query(
            "SELECT c.*, j.state AS state, j.metrics AS metrics, j.node AS node FROM sweep_children c"
            " JOIN jobs j ON j.job_id = c.job_id WHERE c.sweep_id = ? ORDER BY c.ordinal",
            (sweep_id,),
        )
        children = []
        for row in rows:
            values = dict(row)
            values["overrides"] = json.loads(values["overrides"])
            values["metrics"] = json.loads(values["metrics"])
            children.append(SweepChildRecord(**values))
        return children

    def sweep_of_job(self, job_id: str) -> str | None:
        row = self._one("SELECT sweep_id FROM sweep_children WHERE job_id = ?", (job_id,))
        return str(row[0]) if row else None

    def record_sweep_event(
        self, sweep_id: str, state: str, job_id: str, job_state: str, counts: dict[str, int], message: str
    ) -> SweepEventRecord:
        """Append a sweep event and set the sweep's state (and finish time once it ends), atomically."""
        with self._transaction() as db:
            seq = db.execute("SELECT last_seq FROM sweeps WHERE sweep_id = ?", (sweep_id,)).fetchone()[0] + 1
            event = SweepEventRecord(sweep_id, seq, state, job_id, job_state, counts, message, time.time())
            insert(db, "sweep_events", {
                "sweep_id": sweep_id, "seq": seq, "state": state, "job_id": job_id, "job_state": job_state,
                "counts": json.dumps(counts), "message": message, "time": event.time,
            })  # fmt: skip
            finished = event.time if state != RunState.RUNNING else None
            update(db, "sweeps", ("sweep_id", sweep_id), {
                "last_seq": seq, "state": state, "message": message, "finished_at": finished,
            })  # fmt: skip
        return event

    def sweep_events(self, sweep_id: str, after_seq: int, limit: int = 1000) -> list[SweepEventRecord]:
        rows = self._query(
            "SELECT * FROM sweep_events WHERE sweep_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (sweep_id, after_seq, limit),
        )
        events = []
        for row in rows:
            values = dict(row)
            values["counts"] = json.loads(values["counts"])
            events.append(SweepEventRecord(**values))
        return events
