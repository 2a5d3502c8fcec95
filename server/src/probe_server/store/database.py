"""The store's SQLite connection: one connection, one lock, explicit transactions, named-column inserts."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from probe_server.errors import StorageFull
from probe_server.store.schema import migrate


class Database:
    """Thread-safe access to ``probe.db`` (WAL, synchronous writes); the table modules build on it."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self.schema_version = migrate(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def integrity_ok(self) -> bool:
        with self._lock:
            return bool(self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, inside BEGIN IMMEDIATE … COMMIT (ROLLBACK when the block raises).

        A full disk is :class:`StorageFull`: the write is rolled back whole and reads go on working.
        """
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode == sqlite3.SQLITE_FULL:
                    raise StorageFull(
                        "the server's disk is full: nothing was written; reads still work (tell the operator)"
                    ) from None
                raise

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    def _one(self, sql: str, args: Iterable[Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._db.execute(sql, tuple(args)).fetchone()
            return row


def insert(db: sqlite3.Connection, table: str, values: Mapping[str, Any], *, or_ignore: bool = False) -> None:
    """INSERT naming every column, so a column added later (with its default) never shifts a value."""
    columns = ", ".join(values)
    marks = ", ".join("?" * len(values))
    verb = "INSERT OR IGNORE" if or_ignore else "INSERT"
    db.execute(f"{verb} INTO {table} ({columns}) VALUES ({marks})", tuple(values.values()))


def update(db: sqlite3.Connection, table: str, key: tuple[str, str], values: Mapping[str, Any]) -> None:
    """UPDATE the named columns of the row whose ``key[0]`` column equals ``key[1]``."""
    if values:
        assignments = ", ".join(f"{column} = ?" for column in values)
        db.execute(f"UPDATE {table} SET {assignments} WHERE {key[0]} = ?", (*values.values(), key[1]))


def filters(
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
