"""The Ray executor: each job a detached Ray actor named after its job id, on whatever node has room.

Actors are detached and named in the ``probe`` namespace, so they outlive the server process: a restarted
server finds a running job's actor by name and asks it for the messages after the last one it recorded.
Checkpoint bytes come back through Ray's object store and are written here (see :mod:`ray_actor`).

Ray is an extra (``probe-server[ray]``); this module is imported only for ``--executor ray``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError, RayError, RayTaskError

from probe_server.checkpoint_files import checkpoint_bytes, place_checkpoint
from probe_server.errors import DataLoss, StorageFull
from probe_server.executor import ExecutorUnavailable, WorkerEnd
from probe_server.ray_actor import CheckpointFiles, JobActor
from probe_server.worker import WorkerTask
from probe_server.worker_messages import CheckpointWritten, Failed, Placed, WorkerMessage

log = logging.getLogger("probe.ray")

NAMESPACE = "probe"
POLL_S = 1.0  # how long one events() call waits for a message: a detached server stops within this
CONNECT_TIMEOUT_S = 5.0
MONITOR_S = 2.0
NAME_RELEASE_S = 10.0
KILL_WAIT_S = 2.0
GCS_PATIENCE_S = 365 * 24 * 3600


class RayUnreachable(ExecutorUnavailable):
    """The Ray cluster at the given address cannot be reached."""


def gcs_address(address: str) -> str:
    """``host:port`` of the cluster's GCS: ``address`` itself, or for ``auto`` the cluster ``ray start`` left
    on this machine."""
    from ray._private.services import canonicalize_bootstrap_address

    try:
        resolved = canonicalize_bootstrap_address(address)
    except (ConnectionError, ValueError) as error:
        raise RayUnreachable(f"--ray-address {address}: {error}") from None
    if resolved is None:
        raise RayUnreachable(f"--ray-address {address}: no Ray cluster runs here (start one with `ray start --head`)")
    return resolved


def reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


class RayWorker:
    """A job's actor, seen from the server."""

    def __init__(self, job_id: str, actor: Any, root: Path, start: Callable[[], str] | None) -> None:
        self.job_id = job_id
        self.pid: int | None = None
        self.node = "pending"  # until Ray has placed the actor
        self._actor = actor
        self._root = root
        self._start = start  # None: re-attached to a running actor
        self._after = 0
        self._detached = threading.Event()
        self._ended = False  # the actor said its worker has ended
        self._lost = ""

    def messages(self) -> Iterator[WorkerMessage]:
        try:
            if self._start is not None:
                self.node = self._start()
                yield Placed(self.node)
            elif not ray.get(self._actor.started.remote()):  # its start was lost with the server that asked
                self._lost = "its Ray actor had not started its worker when the server stopped"
                return
            else:
                self.node = ray.get(self._actor.node.remote())
            while not self._ended and not self._detached.is_set():
                try:
                    batch, self._ended = ray.get(self._actor.events.remote(self._after, POLL_S), timeout=POLL_S + 30)
                except (ActorUnavailableError, GetTimeoutError):
                    continue  # a node that is slow to answer, not yet a dead one
                for seq, message in batch:
                    yield self._local(message)
                    self._after = seq
        except RayActorError as error:
            self._lost = f"its Ray actor died ({_reason(error)})"
        except RayTaskError as error:  # its start failed (the launcher could not fork, say)
            yield Failed(f"the job's Ray actor could not start its worker: {error.cause!r}", str(error))
        except (StorageFull, DataLoss, OSError) as error:  # a checkpoint could not be written here
            self.terminate()
            yield Failed(f"{type(error).__name__}: {error}", "")

    def _local(self, message: WorkerMessage | CheckpointFiles) -> WorkerMessage:
        """A checkpoint that arrived as bytes is written here first; the engine then records it."""
        if isinstance(message, CheckpointFiles):
            size = place_checkpoint(self._root, message.meta["checkpoint_id"], message.files)
            return CheckpointWritten(message.meta, size)
        return message

    def send(self, command: str) -> None:
        self._actor.command.remote(command)  # a dead actor's call fails in its own ref, never here

    def terminate(self) -> None:
        """Kill the worker the node's launcher forked (it would run on to its next step), then the actor."""
        with contextlib.suppress(RayError):
            ray.get(self._actor.stop_worker.remote(), timeout=KILL_WAIT_S)
        ray.kill(self._actor, no_restart=True)

    kill = terminate

    def detach(self) -> None:
        """Stop following the actor and leave it running: the server is stopping, and a restart re-attaches."""
        self._detached.set()

    def end(self) -> WorkerEnd:
        if self._detached.is_set() and not self._lost and not self._ended:
            return WorkerEnd(None, detached=True)
        with contextlib.suppress(RayError):  # done with it: a detached actor would otherwise live on
            self.terminate()
        return WorkerEnd(None if self._lost else 0, lost=self._lost)


def _reason(error: RayActorError) -> str:
    text = str(error)
    if "node" in text.lower() and ("died" in text.lower() or "dead" in text.lower()):
        return "its node died"
    return text.strip().splitlines()[0][:200] if text.strip() else type(error).__name__


class RayExecutor:
    """Jobs as Ray actors on the cluster at ``address`` (``auto``: the one ``ray start`` runs on this machine)."""

    name = "ray"
    survives_server = True

    def __init__(self, address: str, checkpoint_root: Path, on_reachable: Callable[[bool], None]) -> None:
        self.given_address = address
        self.address = ""  # host:port of the GCS, once start() has resolved it
        self.checkpoint_root = checkpoint_root
        self.on_reachable = on_reachable
        self._actor_class: Any = None
        self._stop = threading.Event()
        self._cluster: dict[str, float] = {}

    def start(self) -> None:
        """Connect, or raise RayUnreachable at once: ray.init itself waits minutes for an absent cluster."""
        self.address = gcs_address(self.given_address)
        if not reachable(self.address):
            raise RayUnreachable(
                f"--ray-address {self.given_address}: no Ray cluster answers at {self.address} "
                "(start one with `ray start --head`, or give the head's address)"
            )
        # Ray's driver exits its process once the GCS has been unreachable for a minute: this process is the
        # server, which must outlive a cluster outage (it serves probes meanwhile, and health says NOT_SERVING).
        os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", str(GCS_PATIENCE_S))
        ray.init(address=self.address, namespace=NAMESPACE, log_to_driver=False, logging_level=logging.WARNING)
        self._actor_class = ray.remote(JobActor)
        self._refresh()
        threading.Thread(target=self._monitor, name="ray-monitor", daemon=True).start()

    def run(self, task: WorkerTask) -> RayWorker:
        gpus = 1 if task.device == "cuda" else 0
        self._check_feasible(task.threads, gpus)
        wanted = [c for c in (task.resume_from, task.spec.init_checkpoint) if c]
        checkpoints = {c: checkpoint_bytes(self.checkpoint_root / c) for c in wanted}
        self._release_name(task.job_id)
        actor = self._actor_class.options(
            name=task.job_id, namespace=NAMESPACE, lifetime="detached", max_concurrency=4, max_restarts=0,
            num_cpus=task.threads, num_gpus=gpus,
        ).remote()  # fmt: skip
        reference = actor.start.remote(pickle.dumps(task), checkpoints)  # queued by Ray until a node has room
        return RayWorker(task.job_id, actor, self.checkpoint_root, lambda: ray.get(reference))

    @staticmethod
    def _check_feasible(cpus: int, gpus: int) -> None:
        """Refuse a job no node could ever place (Ray would keep it pending for good): the job FAILS, saying why."""
        sizes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        if not any(size.get("CPU", 0) >= cpus and size.get("GPU", 0) >= gpus for size in sizes):
            largest = max((size.get("CPU", 0) for size in sizes), default=0)
            raise ValueError(
                f"no node of the Ray cluster has {cpus} CPUs{f' and {gpus} GPU' if gpus else ''} for this job "
                f"(the largest has {largest:g} CPUs): lower --threads-per-job, or add a node"
            )

    @staticmethod
    def _release_name(job_id: str) -> None:
        """A run of a job the engine does not follow may find its name still held by an actor of an earlier run
        (one killed a moment ago, whose name Ray frees once it is dead): kill it and wait for the name."""
        deadline = time.monotonic() + NAME_RELEASE_S
        while True:
            try:
                stale = ray.get_actor(job_id, namespace=NAMESPACE)
            except ValueError:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Ray actor named {job_id} (an earlier run's) would not go away")
            ray.kill(stale, no_restart=True)
            time.sleep(0.1)

    def reattach(self, job_id: str) -> RayWorker | None:
        try:
            actor = ray.get_actor(job_id, namespace=NAMESPACE)
        except ValueError:
            return None
        return RayWorker(job_id, actor, self.checkpoint_root, None)

    def _refresh(self) -> None:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        free = ray.available_resources()
        self._cluster = {"nodes": len(nodes), "cpus_free": free.get("CPU", 0.0), "gpus_free": free.get("GPU", 0.0)}

    def cluster(self) -> dict[str, float]:
        return dict(self._cluster)

    def _monitor(self) -> None:
        """Health follows the cluster: the job service is NOT_SERVING while the GCS cannot be reached."""
        was = True
        while not self._stop.wait(MONITOR_S):
            now = reachable(self.address, timeout=MONITOR_S)
            if now:
                try:
                    self._refresh()
                except Exception:  # the GCS went away between the two checks
                    now = False
            if now != was:
                log.warning("the Ray cluster at %s is %s", self.address, "back" if now else "unreachable")
                self.on_reachable(now)
                was = now

    def close(self) -> None:
        self._stop.set()
        ray.shutdown()  # with the cluster gone, this waits some seconds for it
