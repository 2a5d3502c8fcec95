"""One server per data directory: an exclusive ``flock`` on ``DATA_DIR/server.lock`` held while the server runs.

A second server on the same directory would mark the first's running jobs INTERRUPTED and run its queue, so it
must not start. The kernel drops the lock when the holder's process ends, however it ends (``kill -9``
included), so a stale lock file never blocks a restart; the file holds the holder's pid for the error message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "server.lock"


class DataDirInUse(RuntimeError):
    """Another live process holds the data directory."""


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`DataDirInUse` naming the holder's pid, without waiting."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirInUse(
                f"{self.path.parent} is in use by another probe-server (pid {holder}); "
                "stop it or give this one another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
