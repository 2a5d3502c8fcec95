"""One Ray actor per node that forks job workers from a warm helper, as the local executor does.

A job's actor is a fresh process: importing torch, torch._dynamo and the families there took 1.9 s on
top of Ray's 0.4 s actor start (measured on 2 cores). So each node keeps one detached launcher
(``probe-launcher-<node id>``, no CPUs reserved) whose forkserver has imported all of it once; a job's
actor asks the launcher of its own node to fork the worker, which connects back to the actor over a Unix
socket of the job's directory (with a random key) and runs the same training loop as a local worker.

The task travels pickled from the server, which made it, to the worker: nothing here unpickles what a
client sent.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import pickle
from dataclasses import replace
from multiprocessing.connection import Client
from typing import Any

NAME_PREFIX = "probe-launcher-"
PRELOAD = ["torch", "torch._dynamo", "probe_models.registry", "probe_server.worker", "probe_server.ray_launcher"]


def run_connected(task: bytes, root: str, address: str, authkey: bytes, gpus: list[str]) -> None:
    """The worker process: connect to the job's actor, then train as a local worker does, into ``root``, on
    the GPUs Ray gave the actor (none: CUDA hidden), set before torch first touches CUDA."""
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    from probe_server.worker import train_job

    conn = Client(address, family="AF_UNIX", authkey=authkey)
    try:
        train_job(replace(pickle.loads(task), checkpoint_root=root), conn)
    finally:
        conn.close()
        os._exit(0)  # the end was reported (Done or Failed), or the actor is gone and nobody listens


class NodeLauncher:
    def __init__(self) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        multiprocessing.forkserver.ensure_running()

    def spawn(self, task: bytes, root: str, address: str, authkey: bytes, gpus: list[str]) -> int:
        """Fork a worker for one job; returns its pid."""
        multiprocessing.active_children()  # reaps the workers that have ended
        process: Any = self._context.Process(
            target=run_connected, args=(task, root, address, authkey, gpus), name="probe-worker", daemon=True
        )
        process.start()
        return int(process.pid)


def launcher_here(ray: Any) -> Any:
    """The launcher of the node this process runs on, started there if it is not yet."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    node = ray.get_runtime_context().get_node_id()
    options = {
        "name": NAME_PREFIX + node, "namespace": "probe", "lifetime": "detached", "get_if_exists": True,
        "num_cpus": 0, "max_concurrency": 8, "scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=False),
    }  # fmt: skip
    return ray.remote(NodeLauncher).options(**options).remote()
