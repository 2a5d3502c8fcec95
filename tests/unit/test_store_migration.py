"""The store's schema is numbered migrations keyed on PRAGMA user_version; every data directory ends up alike."""

import sqlite3

import pytest

from probe_server.store import Store
from probe_server.store.schema import MIGRATIONS, TABLES

JOB = (
    "INSERT INTO jobs (job_id, family, config, seed, steps, checkpoint_every, log_every, state, created_at)"
    " VALUES ('job-0123456789abcdef', 'eos', '{}', 0, 5, 0, 1, 'SUCCEEDED', 0)"
)


def columns(path, table: str) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
    finally:
        db.close()


def version(path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


def test_a_jobs_table_without_the_training_column_is_migrated(tmp_path):
    path = tmp_path / "probe.db"
    assert "training" not in TABLES
    db = sqlite3.connect(path)
    db.executescript(TABLES)  # a data directory from before jobs had training options, before the numbering
    db.execute(JOB)
    db.commit()
    db.close()
    store = Store(path)
    try:
        job = store.get_job("job-0123456789abcdef")
        assert job.spec.optimizer == "" and job.spec.trainable == () and job.spec.steps == 5
        assert store.schema_version == len(MIGRATIONS)
    finally:
        store.close()
    assert version(path) == len(MIGRATIONS)


def test_a_directory_of_the_last_unnumbered_release_and_a_new_one_get_the_same_tables(tmp_path):
    fresh, old = tmp_path / "fresh.db", tmp_path / "old.db"
    Store(fresh).close()
    db = sqlite3.connect(old)  # tables as the last release before the numbering made them, user_version 0
    db.executescript(TABLES)
    db.execute("ALTER TABLE jobs ADD COLUMN training TEXT NOT NULL DEFAULT '{}'")
    db.execute(JOB)
    db.commit()
    db.close()
    Store(old).close()
    Store(old).close()  # opening again runs nothing twice
    for table in ("jobs", "events", "checkpoints", "sweeps", "sweep_children", "sweep_events", "reproductions"):
        assert columns(old, table) == columns(fresh, table), table
    assert version(old) == version(fresh) == len(MIGRATIONS)


def test_a_directory_from_a_newer_release_is_refused_unchanged(tmp_path):
    path = tmp_path / "probe.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(RuntimeError, match="newer than this server's"):
        Store(path)
    assert version(path) == len(MIGRATIONS) + 1
