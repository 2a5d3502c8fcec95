"""``probe-server fsck``: check a stopped server's data dir — the database and every checkpoint's files.

It takes the data dir's lock, so it never runs beside a server (whose temporary directories are writes in
progress). It reports every damaged, missing or unrecorded file and removes what an interrupted write left
behind (``.tmp-*`` and ``.trash-*``); it changes nothing else: a damaged checkpoint is the operator's to
restore from a backup or delete.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from probe_server.checkpoint_files import LEFTOVER_PREFIXES, read_meta, verified_bytes
from probe_server.checkpoint_names import META, OPTIMIZER, WEIGHTS
from probe_server.data_lock import DataDirInUse, DataDirLock
from probe_server.errors import DataLoss


@dataclass
class FsckReport:
    checked: int = 0  # checkpoints whose files were read and verified
    problems: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # leftovers of interrupted writes
    unverified: list[str] = field(default_factory=list)  # checkpoints from before digests: read, not verified

    @property
    def ok(self) -> bool:
        return not self.problems


def fsck(data_dir: Path) -> FsckReport:
    """Check ``data_dir``; raises DataDirInUse while a server holds it."""
    lock = DataDirLock(data_dir)
    lock.acquire()
    try:
        return _check(data_dir)
    finally:
        lock.release()


def _check(data_dir: Path) -> FsckReport:
    report = FsckReport()
    recorded = _database(data_dir / "probe.db", report)
    root = data_dir / "checkpoints"
    on_disk = sorted(root.iterdir()) if root.is_dir() else []
    for path in on_disk:
        if path.name.startswith(LEFTOVER_PREFIXES):
            _remove(path, report)
        elif path.is_dir() and path.name not in recorded:
            report.problems.append(f"checkpoint {path.name}: on disk but not in the database")
    for checkpoint_id in sorted(recorded):
        path = root / checkpoint_id
        if not path.is_dir():
            report.problems.append(f"checkpoint {checkpoint_id}: recorded but its directory is missing")
            continue
        for leftover in path.glob(".tmp-*"):
            _remove(leftover, report)
        report.problems += _checkpoint_problems(path, report)
        report.checked += 1
    return report


def _database(path: Path, report: FsckReport) -> set[str]:
    """The recorded checkpoint ids, after SQLite's integrity check (read-only: fsck never migrates)."""
    if not path.exists():
        report.problems.append(f"{path.name}: missing")
        return set()
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = db.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                report.problems.append(f"{path.name}: fails SQLite's integrity check ({result})")
            return {row[0] for row in db.execute("SELECT checkpoint_id FROM checkpoints")}
        finally:
            db.close()
    except sqlite3.DatabaseError as error:
        report.problems.append(f"{path.name}: unreadable ({error})")
        return set()


def _checkpoint_problems(path: Path, report: FsckReport) -> list[str]:
    try:
        meta = read_meta(path)
    except DataLoss as error:
        return [str(error)]
    problems = []
    for name in sorted({WEIGHTS, OPTIMIZER, *meta.sha256}):
        try:
            verified_bytes(path, name)
        except DataLoss as error:
            problems.append(str(error))
    if not meta.sha256:
        report.unverified.append(path.name)
    return problems


def _remove(path: Path, report: FsckReport) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    report.removed.append(str(path))


def main(data_dir: Path) -> int:
    """Print the report; the exit status is 0 when nothing is wrong."""
    if not data_dir.is_dir():
        print(f"fsck: {data_dir} is not a directory")
        return 2
    try:
        report = fsck(data_dir)
    except DataDirInUse as error:
        print(f"fsck: {error}")
        return 2
    for problem in report.problems:
        print(f"PROBLEM  {problem}")
    for removed in report.removed:
        print(f"removed  {removed} (left by an interrupted write)")
    if report.unverified:
        print(f"note     {len(report.unverified)} checkpoint(s) predate digests in {META}: read, not verified")
    verdict = "ok" if report.ok else f"{len(report.problems)} problem(s)"
    print(f"fsck {data_dir}: {report.checked} checkpoint(s) checked, {verdict}")
    return 0 if report.ok else 1
