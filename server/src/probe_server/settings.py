"""All server settings in one typed object; the CLI and tests build it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from probe_wire.limits import max_message_bytes


@dataclass(frozen=True)
class Limits:
    """Request limits: past these a request gets INVALID_ARGUMENT or RESOURCE_EXHAUSTED, never a crash."""

    max_message_bytes: int = field(default_factory=max_message_bytes)
    max_batch: int = 65_536  # queries, sequences or examples in one probe request
    max_seq_len: int = 4096
    max_tokens: int = 2_000_000  # batch * seq_len of one probe request
    max_steps: int = 10_000_000
    max_parameters: int = 200_000_000  # of a model a job may build
    max_working_floats: int = 2_000_000_000  # data and activations a training step of a job may hold (8 GB)
    max_hvp_iterations: int = 1000
    max_attention_values: int = 16_000_000  # floats in one ExtractAttention reply
    max_probe_floats: int = 1 << 27  # what one probe may compute at once: queries x answers, attention maps (512 MB)
    max_eval_sequences: int = 16_384  # sequences or examples one Evaluate or RecoverGraph draws
    max_reproductions: int = 4  # reproductions running at once; StartReproduction past it: RESOURCE_EXHAUSTED
    max_sweep_children: int = 1000
    data_roots: tuple[Path, ...] = ()  # where a config's data_path/hf_path may point; none: no client paths
    max_data_bytes: int = 8 << 30  # a data set or model directory a job may read from a data root


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
    probe_threads: int = 2  # concurrent torch probes
    model_cache_size: int = 8
    shutdown_grace: float = 10.0  # seconds running jobs get on SIGTERM to checkpoint and stop, then killed
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if not 1 <= self.max_streams < self.rpc_threads:
            raise ValueError(
                f"max_streams must lie in [1, rpc_threads) = [1, {self.rpc_threads}), got {self.max_streams}: "
                "streams may not take every RPC thread"
            )

    @property
    def threads_per_job(self) -> int:
        """The cores shared among the job slots, as each worker's torch threads."""
        return max(1, (os.cpu_count() or 1) // max(1, self.slots))

    @property
    def checkpoint_root(self) -> Path:
        return self.data_dir / "checkpoints"

    @property
    def database(self) -> Path:
        return self.data_dir / "probe.db"
