"""Prometheus metrics of the server: RPCs, jobs, checkpoints, the model cache and the process.

Job and checkpoint counts are read from the store at scrape time, so they are
right after a restart; per-job gauges exist only while a job runs, which keeps
label cardinality bounded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from probe_models.states import JobState

if TYPE_CHECKING:
    from probe_server.store import Store

JOB_STATES = tuple(JobState)


def rpc_type(method: MethodDescriptor) -> str:
    """The grpc_type label of go-grpc-prometheus: unary, client_stream, server_stream or bidi_stream."""
    streams = (method.client_streaming, method.server_streaming)
    return {(False, False): "unary", (True, False): "client_stream", (False, True): "server_stream"}.get(
        streams, "bidi_stream"
    )


class _StoreCollector(Collector):
    def __init__(self, store: "Store", families: list[str]) -> None:
        self.store, self.families = store, families

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily("probe_jobs", "Jobs by state and family", labels=["state", "family"])
        counts = self.store.count_jobs()
        for family in sorted(set(self.families) | {f for _, f in counts}):
            for state in JOB_STATES:
                jobs.add_metric([state, family], counts.get((state, family), 0))
        yield jobs
        yield GaugeMetricFamily("probe_checkpoints", "Stored checkpoints", value=self.store.count_checkpoints())


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.started = Counter(
            "grpc_server_started", "RPCs started", ["grpc_type", "grpc_service", "grpc_method"], registry=self.registry
        )
        self.handled = Counter(
            "grpc_server_handled",
            "RPCs completed",
            ["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
            registry=self.registry,
        )
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time to complete an RPC",
            ["grpc_type", "grpc_service", "grpc_method"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.msg_received = Counter(
            "grpc_server_msg_received",
            "Request messages received",
            ["grpc_type", "grpc_service", "grpc_method"],
            registry=self.registry,
        )
        self.msg_sent = Counter(
            "grpc_server_msg_sent",
            "Response messages sent (each event of a stream)",
            ["grpc_type", "grpc_service", "grpc_method"],
            registry=self.registry,
        )
        self.job_step = Gauge(
            "probe_job_step", "Completed steps of a running job", ["job_id", "family"], registry=self.registry
        )
        self.job_loss = Gauge(
            "probe_job_loss", "Latest training loss of a running job", ["job_id", "family"], registry=self.registry
        )
        self.job_sharpness = Gauge(
            "probe_job_sharpness",
            "Latest top Hessian eigenvalue a running job measured (families that track sharpness)",
            ["job_id", "family"],
            registry=self.registry,
        )
        self.job_peak_memory = Gauge(
            "probe_job_peak_memory_bytes",
            "Peak memory of a running job's worker: CUDA allocator peak, or the process's peak resident set on CPU",
            ["job_id", "family"],
            registry=self.registry,
        )
        self.finished_peak_memory = Histogram(
            "probe_job_finished_peak_memory_bytes",
            "Peak memory of jobs when they ended, by family",
            ["family"],
            buckets=tuple(2.0**k for k in range(24, 41, 2)),  # 16 MiB .. 1 TiB
            registry=self.registry,
        )
        self.cache_hits = Counter("probe_model_cache_hits", "Model cache hits", ["cache"], registry=self.registry)
        self.cache_misses = Counter("probe_model_cache_misses", "Model cache misses", ["cache"], registry=self.registry)
        # process_cpu_seconds_total, process_resident_memory_bytes, ...: what serving costs the host (Linux)
        ProcessCollector(registry=self.registry)

    def initialize(self, services: list[ServiceDescriptor]) -> None:
        """Every method's series at zero before its first call, as go-grpc-prometheus's InitializeMetrics does:
        a rate or an alert over a method never called reads 0, not "no data"."""
        for service in services:
            for method in service.methods:
                labels = (rpc_type(method), service.full_name, method.name)
                for metric in (self.started, self.msg_received, self.msg_sent, self.handling_seconds):
                    metric.labels(*labels)
                for code in grpc.StatusCode:
                    self.handled.labels(*labels, code.name)

    def watch_store(self, store: "Store", families: list[str]) -> None:
        self.registry.register(_StoreCollector(store, families))

    def job_progress(
        self, job_id: str, family: str, step: int, loss: float, metrics: dict[str, float], peak_memory: int
    ) -> None:
        self.job_step.labels(job_id, family).set(step)
        if peak_memory:
            self.job_peak_memory.labels(job_id, family).set(peak_memory)
        self.job_loss.labels(job_id, family).set(loss)
        if "sharpness" in metrics:
            self.job_sharpness.labels(job_id, family).set(metrics["sharpness"])

    def job_finished(self, family: str, peak_memory: int) -> None:
        self.finished_peak_memory.labels(family).observe(peak_memory)

    def job_left_running(self, job_id: str, family: str) -> None:
        for gauge in (self.job_step, self.job_loss, self.job_sharpness, self.job_peak_memory):
            with contextlib.suppress(KeyError):
                gauge.remove(job_id, family)

    def serve(self, host: str, port: int) -> int:
        """Start the HTTP endpoint; returns the bound port."""
        server, _ = start_http_server(port, addr=host, registry=self.registry)
        return server.server_port
