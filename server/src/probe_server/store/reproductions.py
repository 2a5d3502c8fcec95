"""The reproductions table: one row per `reproduce` run, with the sweeps it submitted and the files it wrote."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from probe_server.store.database import Database, insert, update
from probe_server.store.records import ReproductionRecord

_UPDATABLE = {"state", "sweep_ids", "files", "passed", "message", "finished_at"}


def _reproduction(row: sqlite3.Row) -> ReproductionRecord:
    values = dict(row)
    values["sweep_ids"] = json.loads(values["sweep_ids"])
    values["files"] = json.loads(values["files"])
    values["passed"] = bool(values["passed"])
    return ReproductionRecord(**values)


class ReproductionTables(Database):
    def create_reproduction(self, record: ReproductionRecord) -> None:
        with self._transaction() as db:
            insert(db, "reproductions", {
                "reproduction_id": record.reproduction_id, "family": record.family, "scale": record.scale,
                "state": record.state, "created_at": record.created_at,
            })  # fmt: skip

    def get_reproduction(self, reproduction_id: str) -> ReproductionRecord | None:
        row = self._one("SELECT * FROM reproductions WHERE reproduction_id = ?", (reproduction_id,))
        return _reproduction(row) if row else None

    def reproductions_in_state(self, state: str) -> list[ReproductionRecord]:
        rows = self._query("SELECT * FROM reproductions WHERE state = ? ORDER BY rowid", (state,))
        return [_reproduction(r) for r in rows]

    def update_reproduction(self, reproduction_id: str, **changes: Any) -> None:
        if set(changes) - _UPDATABLE:
            raise ValueError(f"cannot update reproduction columns {sorted(set(changes) - _UPDATABLE)}")
        values = {k: json.dumps(v) if k in ("sweep_ids", "files") else v for k, v in changes.items()}
        with self._transaction() as db:
            update(db, "reproductions", ("reproduction_id", reproduction_id), values)
