"""The checkpoints table: what each checkpoint directory under the checkpoint root holds."""

from __future__ import annotations

import json
import sqlite3

from probe_server.store.database import Database, filters, insert
from probe_server.store.records import CheckpointRecord


def _checkpoint(row: sqlite3.Row) -> CheckpointRecord:
    values = dict(row)
    values["config"] = json.loads(values["config"])
    values["metrics"] = json.loads(values["metrics"])
    return CheckpointRecord(**values)


class CheckpointTables(Database):
    def add_checkpoint(self, record: CheckpointRecord) -> None:
        """Record a checkpoint; recording the same one twice (a restart adopting it) keeps the first."""
        with self._transaction() as db:
            insert(db, "checkpoints", {
                "checkpoint_id": record.checkpoint_id, "job_id": record.job_id, "family": record.family,
                "step": record.step, "config": json.dumps(record.config), "seed": record.seed,
                "metrics": json.dumps(record.metrics), "created_at": record.created_at,
                "size_bytes": record.size_bytes, "code_version": record.code_version,
            }, or_ignore=True)  # fmt: skip

    def get_checkpoint(self, checkpoint_id: str) -> CheckpointRecord | None:
        row = self._one("SELECT rowid, * FROM checkpoints WHERE checkpoint_id = ?", (checkpoint_id,))
        return _checkpoint(row) if row else None

    def list_checkpoints(
        self, job_id: str, family: str, limit: int, before_rowid: int | None
    ) -> list[CheckpointRecord]:
        where, args = filters(job_id=job_id, family=family, before_rowid=before_rowid)
        rows = self._query(f"SELECT rowid, * FROM checkpoints {where} ORDER BY rowid DESC LIMIT ?", (*args, limit))
        return [_checkpoint(r) for r in rows]

    def latest_checkpoint(self, job_id: str) -> CheckpointRecord | None:
        row = self._one(
            "SELECT rowid, * FROM checkpoints WHERE job_id = ? ORDER BY step DESC, rowid DESC LIMIT 1", (job_id,)
        )
        return _checkpoint(row) if row else None

    def checkpoint_ids(self) -> set[str]:
        return {r[0] for r in self._query("SELECT checkpoint_id FROM checkpoints")}

    def count_checkpoints(self) -> int:
        row = self._one("SELECT COUNT(*) FROM checkpoints")
        return int(row[0]) if row else 0

    def delete_checkpoint(self, checkpoint_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM checkpoints WHERE checkpoint_id = ?", (checkpoint_id,))
            db.execute("UPDATE jobs SET checkpoint_id = '' WHERE checkpoint_id = ?", (checkpoint_id,))
