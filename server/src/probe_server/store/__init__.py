"""SQLite (WAL) store of jobs, their events, checkpoints, sweeps and reproductions.

Every state change of a job is written together with the event that records
it, in one transaction, before anyone is told; a watcher reading events in
``seq`` order therefore sees the job's whole history without gaps. The
connection and its transactions live in :mod:`.database`, the tables and
their numbered migrations in :mod:`.schema`, and each group of tables in a
module of its own, joined here into one :class:`Store`.
"""

from __future__ import annotations

from probe_server.store.checkpoints import CheckpointTables
from probe_server.store.jobs import JobTables
from probe_server.store.records import (
    CheckpointRecord,
    EventRecord,
    JobRecord,
    ReproductionRecord,
    SweepChildRecord,
    SweepEventRecord,
    SweepRecord,
)
from probe_server.store.reproductions import ReproductionTables
from probe_server.store.sweeps import SweepTables

__all__ = [
    "CheckpointRecord",
    "EventRecord",
    "JobRecord",
    "ReproductionRecord",
    "Store",
    "SweepChildRecord",
    "SweepEventRecord",
    "SweepRecord",
]


class Store(JobTables, CheckpointTables, SweepTables, ReproductionTables):
    """Thread-safe access to ``probe.db``: one connection guarded by a lock, every table."""
