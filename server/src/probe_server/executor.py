"""Where a job's worker runs: the seam between the job engine and the processes that train.

The engine keeps the queue, the states and the store; an executor starts a job's worker, carries its
typed messages (:mod:`worker_messages`) back in order, passes CANCEL and SHUTDOWN to it, stops it, and
says how it ended. Two executors: :class:`LocalExecutor` (a worker process on the server's machine, forked
from a helper that has imported torch) and ``ray_executor.RayExecutor`` (a Ray actor on any node of a
cluster).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol

from probe_server.worker import WorkerTask, run_job
from probe_server.worker_messages import WorkerMessage


@dataclass(frozen=True)
class WorkerEnd:
    """How a worker ended, beyond what it reported: its exit code (negative: the signal), and ``lost`` when it
    was lost with its node or actor, not ended by itself (the job may then be retried elsewhere)."""

    exitcode: int | None
    lost: str = ""
    detached: bool = False  # left running when the server stopped: a restarted server re-attaches to it


class WorkerHandle(Protocol):
    job_id: str
    node: str  # where it runs, as the job's record shows it
    pid: int | None  # on this machine, for its resident memory; None elsewhere

    def messages(self) -> Iterator[WorkerMessage]:
        """The worker's messages in order; ends when the worker is gone."""
        ...

    def send(self, command: str) -> None:
        """CANCEL or SHUTDOWN; a worker already gone is not an error."""
        ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...

    def detach(self) -> None:
        """Stop following the worker and leave it running (an executor whose workers survive the server)."""
        ...

    def end(self) -> WorkerEnd:
        """Wait for the worker to be gone (after :meth:`messages` ended) and say how it ended."""
        ...


class ExecutorUnavailable(Exception):
    """The executor cannot run jobs: its cluster cannot be reached. The server says so at start and exits."""


class Executor(Protocol):
    name: str
    survives_server: bool  # its workers outlive the server process, and a restarted server re-attaches to them

    def cluster(self) -> dict[str, float]:
        """Its cluster as the metrics show it: nodes alive, CPUs and GPUs free (none for the local executor)."""
        ...

    def start(self) -> None:
        """Get ready to run workers, off the request path (may take seconds)."""
        ...

    def run(self, task: WorkerTask) -> WorkerHandle: ...

    def reattach(self, job_id: str) -> WorkerHandle | None:
        """The worker of a job a previous server process started, if it still runs."""
        ...

    def close(self) -> None: ...


class _LocalWorker:
    def __init__(self, job_id: str, process: Any, conn: Connection) -> None:
        self.job_id = job_id
        self.process = process
        self.conn = conn
        self.pid: int | None = process.pid
        self.node = socket.gethostname()

    def messages(self) -> Iterator[WorkerMessage]:
        try:
            while True:
                yield self.conn.recv()
        except (EOFError, OSError):
            return

    def send(self, command: str) -> None:
        with contextlib.suppress(OSError):  # the worker is gone; its end is reported by messages()
            self.conn.send(command)

    def terminate(self) -> None:
        self.process.terminate()

    def kill(self) -> None:
        self.process.kill()

    def detach(self) -> None:
        raise NotImplementedError("a local worker dies with its server; it is stopped, not detached")

    def end(self) -> WorkerEnd:
        self.process.join()
        self.conn.close()
        return WorkerEnd(self.process.exitcode)


class LocalExecutor:
    """One worker process per job on the server's machine."""

    name = "local"
    survives_server = False

    def __init__(self) -> None:
        # Workers fork from a clean helper process that has already imported torch: a fresh
        # spawn paid ~2 s of imports per job; forking from the helper takes milliseconds.
        self._context = multiprocessing.get_context("forkserver")
        # torch._dynamo is imported lazily by the first optimizer a job builds (2.5 s on 2 cores).
        self._context.set_forkserver_preload(["torch", "torch._dynamo", "probe_models.registry", "probe_server.worker"])

    def start(self) -> None:
        # Start the fork helper now, off the request path: it takes seconds to import torch.
        threading.Thread(target=multiprocessing.forkserver.ensure_running, name="forkserver-start", daemon=True).start()

    def run(self, task: WorkerTask) -> _LocalWorker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=run_job, args=(task, child), name=f"probe-worker-{task.job_id}", daemon=True
        )
        process.start()
        child.close()
        return _LocalWorker(task.job_id, process, parent)

    def reattach(self, job_id: str) -> None:
        return None  # a local worker dies with its server

    def cluster(self) -> dict[str, float]:
        return {}

    def close(self) -> None:
        pass
