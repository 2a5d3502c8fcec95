"""A data directory made before jobs had training options opens, and its jobs read as the family's own optimizer."""

import sqlite3

from probe_server.store import SCHEMA, Store


def test_a_jobs_table_without_the_training_column_is_migrated(tmp_path):
    path = tmp_path / "probe.db"
    old_schema = SCHEMA.replace(",\n    training TEXT NOT NULL DEFAULT '{}'", "")
    assert "training" not in old_schema
    db = sqlite3.connect(path)
    db.executescript(old_schema)
    db.execute(
        "INSERT INTO jobs (job_id, family, config, seed, steps, checkpoint_every, log_every, state, created_at)"
        " VALUES ('job-0123456789abcdef', 'eos', '{}', 0, 5, 0, 1, 'SUCCEEDED', 0)"
    )
    db.commit()
    db.close()
    store = Store(path)
    try:
        assert store.get_job("job-0123456789abcdef").training == {}
    finally:
        store.close()
