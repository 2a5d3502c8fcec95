"""All server settings in one typed object; the CLI and tests build it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from probe_wire.limits import max_message_bytes


def _limit(default: int, meaning: str) -> Any:
    """A request limit: its default, and what it bounds (the help of its ``--max-*`` flag)."""
    return field(default=default, metadata={"help": meaning})


@dataclass(frozen=True)
class Limits:
    """Request limits: past these a request gets INVALID_ARGUMENT or RESOURCE_EXHAUSTED, never a crash.

    Every integer limit is also the server's flag of the same name (``max_batch``: ``--max-batch``).
    """

    max_message_bytes: int = field(
        default_factory=max_message_bytes, metadata={"help": "bytes of one gRPC message, either way"}
    )
    max_batch: int = _limit(65_536, "queries, sequences or examples in one probe request")
    max_seq_len: int = _limit(4096, "tokens per sequence in a probe request")
    max_tokens: int = _limit(2_000_000, "batch x seq_len of one probe request")
    max_steps: int = _limit(10_000_000, "training steps of one job")
    max_parameters: int = _limit(200_000_000, "parameters of a model a job may build")
    max_working_floats: int = _limit(2_000_000_000, "floats of data and activations a job's training step holds")
    max_hvp_iterations: int = _limit(1000, "Hessian-vector iterations (and stabilization steps) of one probe")
    max_attention_values: int = _limit(16_000_000, "floats in one ExtractAttention reply")
    max_probe_floats: int = _limit(
        1 << 28, "floats one probe may hold at once (1 GiB): queries x answers, attention maps, Lanczos vectors"
    )
    max_sweep_tokens: int = _limit(50_000_000, "tokens one PatchSweep runs: its cells x sequences x seq_len")
    max_eval_sequences: int = _limit(16_384, "sequences or examples one Evaluate or RecoverGraph draws")
    max_reproductions: int = _limit(4, "reproductions running at once (StartReproduction past it: RESOURCE_EXHAUSTED)")
    max_sweep_children: int = _limit(1000, "jobs one sweep may plan")
    max_data_bytes: int = _limit(8 << 30, "bytes a data_path/hf_path may hold")
    data_roots: tuple[Path, ...] = ()  # where a config's data_path/hf_path may point; none: no client paths

    def __post_init__(self) -> None:
        for name in integer_limits():
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_message_bytes < 1024:
            raise ValueError(f"max_message_bytes must be at least 1024, got {self.max_message_bytes}")


def integer_limits() -> dict[str, str]:
    """Each integer limit's name and meaning, in declaration order."""
    return {f.name: f.metadata["help"] for f in fields(Limits) if f.type in (int, "int")}


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 50051
    data_dir: Path = Path("probe-data")
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464  # 0 turns the endpoint off
    slots: int = 1
    device: str = "auto"  # auto | cpu | cuda
    token_file: Path | None = None  # tokens, each "NAME ROLE TOKEN" (or one bare token: write); see tokens.py
    tls_cert: Path | None = None  # PEM certificate chain: serve TLS only (with tls_key)
    tls_key: Path | None = None
    tls_client_ca: Path | None = None  # PEM CA: clients must present a certificate it signed (mutual TLS)
    rpc_threads: int = 32
    max_streams: int = 24  # open server streams (watchers, downloads); the other rpc_threads stay for unary calls
    probe_threads: int = 2  # concurrent torch probes: the probe lanes (probe_lanes.py)
    probe_torch_threads: int = 1  # torch threads of the first probe lane (the others run on one): see probe_lanes.py
    model_cache_size: int = 8
    job_threads: int = 0  # torch threads per job worker; 0: the cores but one, shared among the slots
    executor: str = "local"  # local | ray: see executor.py
    ray_address: str = "auto"
    max_retries: int = 2  # of a job lost with its Ray node or actor
    shutdown_grace: float = 10.0  # seconds running jobs get on SIGTERM to checkpoint and stop, then killed
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if self.probe_threads < 1 or self.probe_torch_threads < 1:
            raise ValueError(
                f"probe_threads and probe_torch_threads must be at least 1, got {self.probe_threads} and "
                f"{self.probe_torch_threads}"
            )
        if not 1 <= self.max_streams < self.rpc_threads:
            raise ValueError(
                f"max_streams must lie in [1, rpc_threads) = [1, {self.rpc_threads}), got {self.max_streams}: "
                "streams may not take every RPC thread"
            )

    @property
    def threads_per_job(self) -> int:
        """Each worker's torch threads: ``job_threads`` if set, else the cores but one shared among the slots.

        The core left is the server's: with every core in a job's threads, a busy server preempts one of them
        and the others wait for it at each parallel step (bench/load.py on 2 cores: single queries taking 52%
        of the cores slowed training 78% with 2 threads, 46% with 1 while taking 55%).
        """
        if self.job_threads:
            return self.job_threads
        return max(1, ((os.cpu_count() or 1) - 1) // max(1, self.slots))

    @property
    def checkpoint_root(self) -> Path:
        return self.data_dir / "checkpoints"

    @property
    def database(self) -> Path:
        return self.data_dir / "probe.db"
