"""A job's worker as a Ray actor: the same training loop as a local worker process, on any node of a cluster.

The server stays the only writer of the store and of checkpoint directories. The actor trains into a
temporary directory of its own node and sends every checkpoint back as bytes (through Ray's object store,
so no filesystem is shared between machines), then removes its copy; an init or resume checkpoint comes in
the same way. Its messages wait in an in-memory log until the server has asked for messages after them:
a server that restarts (or was killed) asks again from the last one it recorded, so nothing is lost.

This module does not import ray: the executor wraps :class:`JobActor` with ``ray.remote``.
"""

from __future__ import annotations

import queue
import shutil
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from probe_server.checkpoint_files import TRANSFERRED
from probe_server.worker import WorkerTask, train_job
from probe_server.worker_messages import CheckpointWritten, WorkerMessage


@dataclass(frozen=True)
class CheckpointFiles:
    """A checkpoint written on the actor's node, as the bytes of its files (see ``checkpoint_files``)."""

    meta: dict[str, Any]
    files: dict[str, bytes]


class _ActorPipe:
    """What :func:`train_job` reports over and reads commands from, in place of a process's pipe."""

    def __init__(self, actor: JobActor) -> None:
        self.actor = actor

    def send(self, message: WorkerMessage) -> None:
        self.actor.emit(message)

    def poll(self) -> bool:
        return not self.actor.commands.empty()

    def recv(self) -> str:
        return self.actor.commands.get()


class JobActor:
    """One job: ``start`` it once, then poll ``events``; ``command`` passes CANCEL or SHUTDOWN."""

    def __init__(self) -> None:
        self.commands: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._log: list[tuple[int, WorkerMessage | CheckpointFiles]] = []
        self._seq = 0
        self._ended = False
        self._changed = threading.Condition()
        self._root = Path(tempfile.mkdtemp(prefix="probe-job-"))
        self._thread: threading.Thread | None = None

    def start(self, task: WorkerTask, checkpoints: dict[str, dict[str, bytes]]) -> str:
        """Place the checkpoints the job starts from, start training in a thread, and say where it runs."""
        if self._thread is None:
            for checkpoint_id, files in checkpoints.items():
                directory = self._root / checkpoint_id
                directory.mkdir()
                for name in TRANSFERRED:
                    (directory / name).write_bytes(files[name])
            local = replace(task, checkpoint_root=str(self._root))
            self._thread = threading.Thread(target=self._train, args=(local,), name=f"train-{task.job_id}", daemon=True)
            self._thread.start()
        return self.node()

    @staticmethod
    def node() -> str:
        import ray

        return f"{ray.get_runtime_context().get_node_id()[:12]} ({ray.util.get_node_ip_address()})"

    def _train(self, task: WorkerTask) -> None:
        try:
            train_job(task, _ActorPipe(self))
        finally:
            shutil.rmtree(self._root, ignore_errors=True)
            with self._changed:
                self._ended = True
                self._changed.notify_all()

    def emit(self, message: WorkerMessage) -> None:
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
        training has ended. Asking after N says the server has recorded 1..N: they are dropped here."""
        with self._changed:
            self._changed.wait_for(lambda: self._ended or (self._log and self._log[-1][0] > after), timeout)
            self._log = [(seq, m) for seq, m in self._log if seq > after]
            return list(self._log), self._ended

    def command(self, command: str) -> None:
        self.commands.put(command)
