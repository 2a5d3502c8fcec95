"""Shared fixtures: a real probe-server subprocess on a free loopback port with a temporary data dir."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from probe_client import ProbeClient
from probe_client.errors import Unavailable
from probe_models.config import parse_config
from probe_models.registry import get_family
from probe_server.checkpoint_files import read_weights

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    process: subprocess.Popen
    address: str
    data_dir: Path
    metrics_port: int
    log_path: Path
    client_options: dict[str, Any] = field(default_factory=dict)  # TLS files the server's clients need

    def client(self, **kwargs: Any) -> ProbeClient:
        return ProbeClient(self.address, **{**self.client_options, **kwargs})

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to clean up, as in a crash."""
        self.process.kill()
        self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text()


def start_server(
    data_dir: Path,
    *extra: str,
    metrics: bool = True,
    shell_setup: str = "",
    client_options: dict[str, Any] | None = None,
    new_session: bool = False,
) -> ServerProcess:
    """A server on a free port; ``shell_setup`` runs first in a new mount namespace (``unshare --mount``);
    ``new_session`` leads a session and process group of its own, as a server started at a terminal does."""
    data_dir.mkdir(parents=True, exist_ok=True)
    metrics_port = free_port() if metrics else 0
    log_path = data_dir.parent / f"{data_dir.name}-server-{time.monotonic_ns()}.log"
    command = [str(BIN / "probe-server"), "serve", "--port", "0", "--data-dir", str(data_dir)]
    command += ["--metrics-port", str(metrics_port), *extra]
    if shell_setup:
        command = ["unshare", "--mount", "sh", "-c", f'{shell_setup} && exec "$@"', "sh", *command]
    with open(log_path, "w") as log_file:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log_file, text=True, start_new_session=new_session
        )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("probe-server listening on "):
        process.kill()
        raise RuntimeError(f"server did not start: {line!r}\n{log_path.read_text()}")
    address = line.rsplit(" ", 1)[1].strip()
    server = ServerProcess(process, address, data_dir, metrics_port, log_path, client_options or {})
    with server.client() as client:
        deadline = time.monotonic() + 30
        while not _serving(client):
            if time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"server never became healthy\n{log_path.read_text()}")
            time.sleep(0.1)
    return server


def _serving(client: ProbeClient) -> bool:
    """Health says SERVING; not yet reachable counts as not serving (a restart on an address that a client in
    this process saw refused may take a reconnection backoff to be reached)."""
    try:
        return client.health() == "SERVING"
    except Unavailable:
        return False


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # the tests' files (data sets, model directories) are under the session's base temporary directory
    data_root = str(tmp_path_factory.getbasetemp())
    running = start_server(tmp_path_factory.mktemp("shared") / "data", "--data-root", data_root)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def client(server: ServerProcess) -> Iterator[ProbeClient]:
    with server.client() as c:
        yield c


SMALL_FACTS = {"num_subjects": 8, "num_relations": 8}


@pytest.fixture(scope="session")
def trained(client: ProbeClient):
    """A factual-recall transformer trained to full recall of 64 facts, shared by the probe tests."""
    job = client.submit_job("factual-recall", SMALL_FACTS, steps=300, seed=1, checkpoint_every=100)
    job = client.wait(job.job_id)
    assert job.state == "SUCCEEDED", job.error
    return job


CAUSAL_CHAIN = {"batch_size": 128}


@pytest.fixture(scope="session")
def causal_chain(client: ProbeClient):
    """A causal-icl disentangled transformer on the in-context Markov chain (S=10, T=20), shared by probe tests."""
    job = client.submit_job("causal-icl", CAUSAL_CHAIN, steps=400, seed=2, log_every=100)
    job = client.wait(job.job_id)
    assert job.state == "SUCCEEDED", job.error
    return job


GPT_CONFIG = {"mode": "pretrain", "n_layers": 2, "d_model": 32, "n_heads": 4, "context": 16, "batch_size": 16}


@pytest.fixture(scope="session")
def gpt(client: ProbeClient) -> str:
    """A small lm-finetune GPT (2 layers, 4 heads) briefly pretrained: the hooks and interventions tests' model."""
    job = client.wait(client.submit_job("lm-finetune", GPT_CONFIG, steps=20, seed=3).job_id)
    assert job.state == "SUCCEEDED", job.error
    return job.checkpoint_id


def in_process(server: ServerProcess, client: ProbeClient, checkpoint_id: str):
    """A served checkpoint loaded in this process from the server's files: (family, LoadedModel)."""
    record = client.get_checkpoint(checkpoint_id)
    family = get_family(record.family)
    config = parse_config(family.config_cls, record.config)
    weights = read_weights(server.data_dir / "checkpoints" / checkpoint_id)
    return family, family.load(config, record.seed, weights)
