"""Prometheus metrics of the server: RPCs, jobs, checkpoints, the model cache and the process.

Job and checkpoint counts are read from the store at scrape time, so they are
right after a restart; jobs and workers are job_metrics.py's. RPC metrics follow
go-grpc-prometheus's names and labels, so its dashboards work unchanged.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from probe_models.states import JobState
from probe_server.job_metrics import JobMetrics

if TYPE_CHECKING:
    from probe_server.store import Store

JOB_STATES = tuple(JobState)


def code_label(code: grpc.StatusCode) -> str:
    """The grpc_code label as go-grpc-prometheus writes it (Go's codes.Code names): OK, NotFound, Canceled."""
    if code == grpc.StatusCode.OK:
        return "OK"
    if code == grpc.StatusCode.CANCELLED:
        return "Canceled"
    return "".join(part.capitalize() for part in code.name.split("_"))


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
        by_node = GaugeMetricFamily("probe_jobs_by_node", "Jobs that have run, by the node their worker runs or last "
                                    "ran on, and state", labels=["node", "state"])  # fmt: skip
        for (node, node_state), count in sorted(self.store.count_jobs_by_node().items()):
            by_node.add_metric([node, node_state], count)
        yield by_node
        yield GaugeMetricFamily("probe_checkpoints", "Stored checkpoints", value=self.store.count_checkpoints())


class _CacheCollector(Collector):
    def __init__(self, usage: Callable[[], dict[str, tuple[int, int]]]) -> None:
        self.usage = usage

    def collect(self) -> Iterator[GaugeMetricFamily]:
        entries = GaugeMetricFamily("probe_model_cache_entries", "Models held by the cache", labels=["cache"])
        size = GaugeMetricFamily("probe_model_cache_bytes", "Bytes of the cached models' weights", labels=["cache"])
        for cache, (count, nbytes) in sorted(self.usage().items()):
            entries.add_metric([cache], count)
            size.add_metric([cache], nbytes)
        yield entries
        yield size


class Metrics:
    def __init__(self, families: list[str]) -> None:
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
        self.jobs = JobMetrics(self.registry, families)
        labels = ["grpc_method", "family"]
        self.inference_seconds = Histogram(
            "probe_inference_seconds",
            "Time a probe spent on its model, by RPC and the checkpoint's family (validation and loading excluded)",
            labels,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "probe_inference_batch_size",
            "Queries, sequences or examples in one probe request",
            labels,
            buckets=tuple(4.0**k for k in range(9)),  # 1 .. 65,536
            registry=self.registry,
        )
        self.inference_requests = Counter(
            "probe_inference_request",
            "Probe requests answered (Triton's request_count)",
            labels,
            registry=self.registry,
        )
        self.inference_count = Counter(
            "probe_inference_count",
            "Queries, sequences or examples answered (Triton's inference_count: a request of a batch of 64 counts 64)",
            labels,
            registry=self.registry,
        )
        self.cache_hits = Counter("probe_model_cache_hits", "Model cache hits", ["cache"], registry=self.registry)
        self.cache_misses = Counter("probe_model_cache_misses", "Model cache misses", ["cache"], registry=self.registry)
        self.cache_evictions = Counter(
            "probe_model_cache_evictions", "Models evicted to make room (thrash: high with misses)", ["cache"],
            registry=self.registry,
        )  # fmt: skip
        for cache in ("torch", "onnx"):
            for counter in (self.cache_hits, self.cache_misses, self.cache_evictions):
                counter.labels(cache)
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
                    self.handled.labels(*labels, code_label(code))

    def watch_cache(self, usage: Callable[[], dict[str, tuple[int, int]]]) -> None:
        """Export the model cache's entries and bytes, read at scrape time."""
        self.registry.register(_CacheCollector(usage))

    def watch_store(self, store: "Store") -> None:
        self.registry.register(_StoreCollector(store, self.jobs.families))

    @contextlib.contextmanager
    def inference(self, method: str, family: str, batch: int) -> Iterator[None]:
        """Time the model's part of a probe; counted once it returns."""
        start = time.perf_counter()
        yield
        self.inference_seconds.labels(method, family).observe(time.perf_counter() - start)
        self.batch_size.labels(method, family).observe(batch)
        self.inference_requests.labels(method, family).inc()
        self.inference_count.labels(method, family).inc(batch)

    def serve(self, host: str, port: int) -> int:
        """Start the HTTP endpoint; returns the bound port."""
        server, _ = start_http_server(port, addr=host, registry=self.registry)
        return server.server_port
