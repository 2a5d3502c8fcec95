"""The tables, as numbered migrations: ``PRAGMA user_version`` says how many a data directory has had.

A data directory made before the numbering (version 0) has tables from some
earlier release; the first migration creates what is missing and each later
one changes only what is not there yet, so such a directory ends up like a
new one. Migrations only add (tables, columns, indexes): the probe.v1 API
only ever adds fields.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

TABLES = """
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
    last_seq INTEGER NOT NULL DEFAULT 0
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


def _create_tables(db: sqlite3.Connection) -> None:
    for statement in TABLES.split(";"):  # one by one: executescript would commit the migration's transaction
        if statement.strip():
            db.execute(statement)


def _add_job_training(db: sqlite3.Connection) -> None:
    """Jobs' training options (optimizer, its config, init checkpoint, trainable groups) as one JSON object."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    if "training" not in columns:
        db.execute("ALTER TABLE jobs ADD COLUMN training TEXT NOT NULL DEFAULT '{}'")


def _add_job_node(db: sqlite3.Connection) -> None:
    """Where each job's worker runs or last ran (a Ray node, or the server's host)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    if "node" not in columns:
        db.execute("ALTER TABLE jobs ADD COLUMN node TEXT NOT NULL DEFAULT ''")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_create_tables, _add_job_training, _add_job_node]


def migrate(db: sqlite3.Connection) -> int:
    """Run the migrations this database has not had, each in its own transaction; returns the new version."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"the data directory's schema is version {version}, newer than this server's {len(MIGRATIONS)}: "
            "run the release that wrote it"
        )
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            migration(db)
            db.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return len(MIGRATIONS)
