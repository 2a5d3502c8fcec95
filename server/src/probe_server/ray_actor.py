"""A job as a Ray actor: it holds the job's place on a node and its messages; a worker forked by the node's
launcher (:mod:`ray_launcher`) trains, reporting to the actor over a Unix socket as a local worker reports
over its pipe.

The server stays the only writer of the store and of checkpoint directories. The worker trains into a
temporary directory of its node, and the actor sends every checkpoint back as bytes (through Ray's object
store, so no filesystem is shared between machines), then removes its copy; an init or resume checkpoint
comes in the same way. Messages wait in an in-memory log until the server has asked for messages after
them: a server that restarts (or was killed) asks again from the last one it recorded, so nothing is lost.

This module imports neither torch nor ray at import time, so a job's actor starts in a fraction of a
second; the executor wraps :class:`JobActor` with ``ray.remote``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from typing import Any

from probe_server.checkpoint_names import TRANSFERRED
from probe_server.ray_launcher import launcher_here
from probe_server.worker_messages import CheckpointWritten, WorkerMessage

CONNECT_TIMEOUT_S = 120.0  # a forked worker connects at once; this only bounds a launcher that never forks


@dataclass(frozen=True)
class CheckpointFiles:
    """A checkpoint written on the actor's node, as the bytes of its files (see ``checkpoint_files``)."""

    meta: dict[str, Any]
    files: dict[str, bytes]


class JobActor:
    """One job: ``start`` it once, then poll ``events``; ``command`` passes CANCEL or SHUTDOWN."""

    def __init__(self) -> None:
        self._log: list[tuple[int, WorkerMessage | CheckpointFiles]] = []
        self._seq = 0
        self._ended = False
        self._changed = threading.Condition()
        self._root = Path(tempfile.mkdtemp(prefix="probe-job-"))
        self._conn: Connection | None = None
        self._pid = 0  # the worker's, on this node
        self._pending: list[str] = []  # commands that came before the worker connected
        self._lock = threading.Lock()

    def start(self, task: bytes, checkpoints: dict[str, dict[str, bytes]]) -> str:
        """Place the checkpoints the job starts from, have the node's launcher fork its worker, and say where
        it runs. ``task`` is the server's pickled WorkerTask: this actor passes it on unread. A start that
        fails ends the job here (the server reads why), and raises."""
        with self._lock:
            if self._conn is None and not self._ended:
                try:
                    self._connect(task, checkpoints)
                except BaseException:
                    self._end()
                    raise
        return self.node()

    def _connect(self, task: bytes, checkpoints: dict[str, dict[str, bytes]]) -> None:
        import ray

        for checkpoint_id, files in checkpoints.items():
            directory = self._root / checkpoint_id
            directory.mkdir()
            for name in TRANSFERRED:
                (directory / name).write_bytes(files[name])
        authkey = os.urandom(32)
        gpus = [str(g) for g in ray.get_gpu_ids()]  # the GPU Ray gave this actor goes to the worker it forks
        with Listener(str(self._root / "worker.sock"), family="AF_UNIX", authkey=authkey) as listener:
            spawn = launcher_here(ray).spawn.remote(task, str(self._root), listener.address, authkey, gpus)
            self._pid = ray.get(spawn)
            self._conn = _accept(listener)
        for command in self._pending:
            self._conn.send(command)
        threading.Thread(target=self._relay, args=(self._conn,), name="relay", daemon=True).start()

    def started(self) -> bool:
        """Whether a start was asked of it (a server that stopped while the actor waited for a node never did)."""
        return self._conn is not None or self._ended

    def stop_worker(self) -> None:
        """Kill the worker at once and remove the job's directory: the actor is about to be killed."""
        if self._pid:
            with contextlib.suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
        shutil.rmtree(self._root, ignore_errors=True)

    @staticmethod
    def node() -> str:
        import ray

        return f"{ray.get_runtime_context().get_node_id()[:12]} ({ray.util.get_node_ip_address()})"

    def _relay(self, conn: Connection) -> None:
        try:
            while True:
                self._emit(conn.recv())
        except (EOFError, OSError):
            pass  # the worker has ended (after Done or Failed) or died
        finally:
            self._end()

    def _end(self) -> None:
        shutil.rmtree(self._root, ignore_errors=True)
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def _emit(self, message: WorkerMessage) -> None:
        if isinstance(message, CheckpointWritten):
            directory = self._root / message.meta["checkpoint_id"]
            entry: WorkerMessage | CheckpointFiles = CheckpointFiles(
                message.meta, {name: (directory / name).read_bytes() for name in TRANSFERRED}
            )
            shutil.rmtree(directory)
        else:
            entry = message
        with self._changed:
            self._seq += 1
            self._log.append((self._seq, entry))
            self._changed.notify_all()

    def events(self, after: int, timeout: float) -> tuple[list[tuple[int, WorkerMessage | CheckpointFiles]], bool]:
        """The messages after sequence number ``after`` (waiting up to ``timeout`` seconds for one), and whether
        the worker has ended. Asking after N says the server has recorded 1..N: they are dropped here."""
        with self._changed:
            self._changed.wait_for(lambda: self._ended or bool(self._log and self._log[-1][0] > after), timeout)
            self._log = [(seq, m) for seq, m in self._log if seq > after]
            return list(self._log), self._ended

    def command(self, command: str) -> None:
        with self._lock:
            if self._conn is None:
                self._pending.append(command)
                return
        with contextlib.suppress(OSError):  # the worker has ended; its end is in the log
            self._conn.send(command)


def _accept(listener: Listener) -> Connection:
    """The worker's connection, or an error if none comes (a launcher that could not fork)."""
    accepted: list[Connection] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT_S)
    if not accepted:
        raise RuntimeError(f"the job's worker did not connect within {CONNECT_TIMEOUT_S:.0f} s")
    return accepted[0]
