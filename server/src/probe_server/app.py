"""Build and run the probe server: gRPC services, health, reflection, metrics and the job engine."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import torch
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from probe_models.registry import FAMILIES
from probe_server import __version__
from probe_server.data_lock import DataDirInUse, DataDirLock
from probe_server.encoded_replies import add_unary_service
from probe_server.engine import JobEngine
from probe_server.errors import StorageFull
from probe_server.executor import Executor, ExecutorUnavailable, LocalExecutor
from probe_server.interceptors import ServerInterceptor
from probe_server.malloc_tuning import keep_reply_buffers
from probe_server.metrics import Metrics
from probe_server.model_cache import ModelCache
from probe_server.probe_lanes import ProbeLanes, single_threaded
from probe_server.reflection import Reflection
from probe_server.reproductions import ReproductionManager
from probe_server.servicers.activations import ActivationServicer
from probe_server.servicers.checkpoints import CheckpointServicer
from probe_server.servicers.jobs import JobServicer
from probe_server.servicers.probes import ProbeServicer
from probe_server.servicers.registry import InfoServicer, RegistryServicer
from probe_server.servicers.reproductions import ReproductionServicer
from probe_server.servicers.sweeps import SweepServicer
from probe_server.settings import Settings
from probe_server.store import Store
from probe_server.sweeps import SweepManager
from probe_server.tokens import TokenFileError, load_tokens
from probe_wire.limits import channel_options
from probe_wire.v1 import (
    activations_pb2,
    checkpoints_pb2,
    checkpoints_pb2_grpc,
    info_pb2,
    info_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
    probes_pb2,
    registry_pb2,
    registry_pb2_grpc,
    reproductions_pb2,
    reproductions_pb2_grpc,
    sweeps_pb2,
    sweeps_pb2_grpc,
)

log = logging.getLogger("probe.server")

SERVICES = (
    jobs_pb2.DESCRIPTOR.services_by_name["JobService"],
    checkpoints_pb2.DESCRIPTOR.services_by_name["CheckpointService"],
    probes_pb2.DESCRIPTOR.services_by_name["ProbeService"],
    registry_pb2.DESCRIPTOR.services_by_name["RegistryService"],
    info_pb2.DESCRIPTOR.services_by_name["InfoService"],
    sweeps_pb2.DESCRIPTOR.services_by_name["SweepService"],
    reproductions_pb2.DESCRIPTOR.services_by_name["ReproductionService"],
    activations_pb2.DESCRIPTOR.services_by_name["ActivationService"],
)


def resolve_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device on this machine")
    if requested not in ("cpu", "cuda"):
        raise SystemExit(f"--device must be auto, cpu or cuda, got {requested!r}")
    return requested


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS from --tls-cert/--tls-key, requiring client certificates signed by --tls-client-ca if given."""
    if settings.tls_cert is None and settings.tls_key is None:
        if settings.tls_client_ca is not None:
            raise SystemExit("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    if settings.tls_cert is None or settings.tls_key is None:
        raise SystemExit("TLS needs both --tls-cert and --tls-key")
    chain, key = _read_flag_file("--tls-cert", settings.tls_cert), _read_flag_file("--tls-key", settings.tls_key)
    client_ca = _read_flag_file("--tls-client-ca", settings.tls_client_ca) if settings.tls_client_ca else None
    return grpc.ssl_server_credentials([(key, chain)], root_certificates=client_ca, require_client_auth=bool(client_ca))


def _read_flag_file(flag: str, path: Path) -> bytes:
    """A file a flag names, or an exit that says which flag and why (not only the OS error)."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise SystemExit(f"{flag}: cannot read {path}: {error.strerror or error}") from None


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    metrics_port: int
    engine: JobEngine
    sweeps: SweepManager
    reproductions: ReproductionManager
    store: Store
    health: health.HealthServicer
    lock: DataDirLock
    lanes: ProbeLanes
    shutdown_grace: float

    def stop(self, grace: float = 2.0) -> None:
        """Stop taking calls (``grace`` seconds for those in flight), then give jobs ``shutdown_grace`` to stop."""
        for service in SERVICES:
            self.health.set(service.full_name, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.server.stop(grace).wait()
        self.lanes.close()  # a probe still running finishes before the store closes and the lock goes
        self.reproductions.stop()
        self.sweeps.stop()
        self.engine.stop(self.shutdown_grace)
        self.store.close()
        self.lock.release()


def create_executor(
    name: str, ray_address: str, checkpoint_root: Path, on_reachable: Callable[[bool], None]
) -> Executor:
    """The executor ``--executor`` names; Ray is imported only for ``ray``, and its absence is said clearly."""
    if name == "local":
        return LocalExecutor()
    try:
        from probe_server.ray_executor import RayExecutor
    except ImportError as error:
        raise ExecutorUnavailable(f"--executor ray needs Ray: pip install 'probe-server[ray]' ({error})") from None
    return RayExecutor(ray_address, checkpoint_root, on_reachable)


EXECUTOR_SERVICES = ("JobService", "SweepService", "ReproductionService")  # what cannot run without the executor


def executor_health(servicer: health.HealthServicer) -> Callable[[bool], None]:
    """What the executor calls when its cluster becomes unreachable or comes back: the services that start
    jobs say NOT_SERVING meanwhile (probes of stored checkpoints go on)."""

    def reachable(up: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if up else health_pb2.HealthCheckResponse.NOT_SERVING
        for service in SERVICES:
            if service.name in EXECUTOR_SERVICES:
                servicer.set(service.full_name, status)

    return reachable


def create_server(settings: Settings) -> RunningServer:
    """Start every part of the server; ``settings.port`` 0 binds a free port."""
    keep_reply_buffers()  # before any thread starts: each keeps the malloc arena it first used
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(settings.device)
    try:
        tokens = load_tokens(settings.token_file) if settings.token_file else None
    except OSError as error:
        raise SystemExit(f"--token-file: cannot read {settings.token_file}: {error.strerror or error}") from None
    except TokenFileError as error:
        raise SystemExit(f"--token-file: {error}") from None
    credentials = server_credentials(settings)
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire()  # before the store is opened: recovery would mark another server's running jobs
    except DataDirInUse as error:
        raise SystemExit(str(error)) from None
    lanes = ProbeLanes(settings.probe_threads, settings.probe_torch_threads)  # and this thread single-threaded
    log.info("probe lanes: %d, the first with %d torch threads", settings.probe_threads, settings.probe_torch_threads)
    store = Store(settings.database)
    if not store.integrity_ok():
        raise SystemExit(f"{settings.database} fails SQLite's integrity check; restore it from a backup")
    metrics = Metrics(list(FAMILIES))
    metrics.watch_store(store)
    health_servicer = health.HealthServicer()
    executor = create_executor(
        settings.executor, settings.ray_address, settings.checkpoint_root, executor_health(health_servicer)
    )
    engine = JobEngine(
        store,
        settings.checkpoint_root,
        settings.slots,
        metrics,
        settings.threads_per_job,
        device,
        settings.limits,
        executor,
        settings.max_retries,
    )
    metrics.jobs.workers = engine.running_workers
    try:
        engine.start()  # recovery records what a stopped server left running (or re-attaches to it)
    except StorageFull:
        raise SystemExit(f"the disk of {settings.data_dir} is full: free some space, then start the server") from None
    except ExecutorUnavailable as error:
        raise SystemExit(str(error)) from None
    metrics.jobs.cluster = executor.cluster
    sweeps = SweepManager(engine, settings.limits)
    sweeps.start()
    reproductions = ReproductionManager(sweeps, settings.data_dir / "reproductions", settings.limits.max_reproductions)
    reproductions.start()
    cache = ModelCache(store, settings.checkpoint_root, settings.model_cache_size, metrics, device, settings.limits)
    metrics.watch_cache(cache.usage)

    server = grpc.server(
        futures.ThreadPoolExecutor(
            max_workers=settings.rpc_threads, thread_name_prefix="rpc", initializer=single_threaded
        ),
        interceptors=[ServerInterceptor(metrics, tokens, settings.max_streams)],
        options=channel_options(settings.limits.max_message_bytes),
    )
    jobs_pb2_grpc.add_JobServiceServicer_to_server(JobServicer(engine, settings.limits), server)
    checkpoints_pb2_grpc.add_CheckpointServiceServicer_to_server(CheckpointServicer(cache, lanes), server)
    add_unary_service(server, probes_pb2, "ProbeService", ProbeServicer(cache, settings.limits, lanes, metrics))
    add_unary_service(
        server, activations_pb2, "ActivationService", ActivationServicer(cache, settings.limits, lanes, metrics)
    )
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(), server)
    sweeps_pb2_grpc.add_SweepServiceServicer_to_server(SweepServicer(sweeps, settings.limits), server)
    reproductions_pb2_grpc.add_ReproductionServiceServicer_to_server(ReproductionServicer(reproductions), server)
    info_pb2_grpc.add_InfoServiceServicer_to_server(
        InfoServicer(__version__, device, settings.slots, settings.limits), server
    )
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [s.full_name for s in SERVICES]
    reflection = Reflection([*names, health.SERVICE_NAME], [s.file for s in SERVICES])
    server.add_generic_rpc_handlers(reflection.handlers())
    metrics.initialize([reflection.pool.FindServiceByName(name) for name in reflection.services])
    address = f"{settings.host}:{settings.port}"
    port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    if port == 0:
        raise SystemExit(f"cannot bind {settings.host}:{settings.port}")
    server.start()
    for name in ["", *names]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    metrics_port = metrics.serve(settings.metrics_host, settings.metrics_port) if settings.metrics_port else 0
    log.info(
        "serving probe.v1 on %s:%d (device %s, %d slots, data dir %s, metrics port %d)",
        settings.host,
        port,
        device,
        settings.slots,
        settings.data_dir,
        metrics_port,
    )
    return RunningServer(
        server,
        port,
        metrics_port,
        engine,
        sweeps,
        reproductions,
        store,
        health_servicer,
        lock,
        lanes,
        settings.shutdown_grace,
    )


def serve(settings: Settings) -> None:
    running = create_server(settings)
    print(f"probe-server listening on {settings.host}:{running.port}", flush=True)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal it ran in closed
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    log.info("shutting down")
    running.stop()
