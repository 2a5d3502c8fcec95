"""Prometheus metrics of jobs and their worker processes.

Training runs in worker processes, so the server's own ``process_*`` metrics miss nearly all of it: the
workers' CPU seconds (as each worker reports them) and resident memory (read from /proc at scrape time)
are exported by family. Per-job gauges exist for running jobs only, and for two scrapes after a job ends,
holding its final step and loss, so that a job ending between scrapes is still seen at its end; the series
of all jobs together stay bounded by the slots.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

SCRAPES_AFTER_END = 2
SECONDS_BUCKETS = (0.1, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 48 * 3600)
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CLUSTER = {  # the executor's view of its cluster (the Ray executor's; the local one has none)
    "nodes": "Nodes alive in the executor's cluster",
    "cpus_free": "CPUs free in the executor's cluster",
    "gpus_free": "GPUs free in the executor's cluster",
}


def resident_bytes(pid: int) -> int:
    """A process's resident set from /proc (0 once it has gone)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


class _Scrapes(Collector):
    """Collects the workers' memory, and counts scrapes so that ended jobs' gauges go after two."""

    def __init__(self, jobs: JobMetrics) -> None:
        self.jobs = jobs

    def collect(self) -> Iterator[GaugeMetricFamily]:
        memory = GaugeMetricFamily(
            "probe_worker_resident_memory_bytes", "Resident memory of the running jobs' workers", labels=["family"]
        )
        by_family: dict[str, int] = {}
        for family, pid in self.jobs.workers():
            by_family[family] = by_family.get(family, 0) + resident_bytes(pid)
        for family in sorted(set(self.jobs.families) | set(by_family)):
            memory.add_metric([family], by_family.get(family, 0))
        yield memory
        cluster = self.jobs.cluster()
        for name, meaning in CLUSTER.items():
            if name in cluster:
                yield GaugeMetricFamily(f"probe_executor_{name}", meaning, value=cluster[name])
        self.jobs.scraped()


class JobMetrics:
    def __init__(self, registry: CollectorRegistry, families: list[str]) -> None:
        self.families = families
        self.workers: Callable[[], list[tuple[str, int]]] = list  # (family, pid) of running workers: the engine's
        self.cluster: Callable[[], dict[str, float]] = dict  # the executor's view of its cluster, if it has one
        labels = ["job_id", "family"]
        self.step = Gauge("probe_job_step", "Completed steps of a running (or just ended) job", labels,
                          registry=registry)  # fmt: skip
        self.loss = Gauge("probe_job_loss", "Latest training loss of a running (or just ended) job", labels,
                          registry=registry)  # fmt: skip
        self.sharpness = Gauge(
            "probe_job_sharpness",
            "Latest top Hessian eigenvalue a running job measured (families that track sharpness)",
            labels,
            registry=registry,
        )
        self.peak_memory = Gauge(
            "probe_job_peak_memory_bytes",
            "Peak memory of a running job's worker: CUDA allocator peak, or the process's peak resident set on CPU",
            labels,
            registry=registry,
        )
        self.last_progress = Gauge(
            "probe_job_last_progress_timestamp_seconds",
            "When a running job last reported progress (or started): a stalled job's stays behind time()",
            labels,
            registry=registry,
        )
        self.finished_peak_memory = Histogram(
            "probe_job_finished_peak_memory_bytes",
            "Peak memory of jobs when they ended, by family",
            ["family"],
            buckets=tuple(2.0**k for k in range(24, 41, 2)),  # 16 MiB .. 1 TiB
            registry=registry,
        )
        self.cpu = Counter("probe_worker_cpu_seconds", "CPU seconds the jobs' workers used (user and system)",
                           ["family"], registry=registry)  # fmt: skip
        self.queue_wait = Histogram("probe_job_queue_seconds", "Time from queued to running, per run of a job",
                                    ["family"], buckets=SECONDS_BUCKETS, registry=registry)  # fmt: skip
        self.run_time = Histogram("probe_job_run_seconds", "Time a job's worker ran, per run", ["family"],
                                  buckets=SECONDS_BUCKETS, registry=registry)  # fmt: skip
        self.retries = Counter("probe_job_retries", "Runs of jobs started again after their worker was lost with its "
                               "node or actor", ["family"], registry=registry)  # fmt: skip
        for family in families:
            for metric in (self.cpu, self.queue_wait, self.run_time, self.finished_peak_memory, self.retries):
                metric.labels(family)
        self._lock = threading.Lock()
        self._cpu_seen: dict[str, float] = {}  # CPU seconds each running worker last reported
        self._ended: dict[tuple[str, str], int] = {}  # scrapes left for the gauges of ended jobs
        registry.register(_Scrapes(self))

    def started(self, job_id: str, family: str, queued_seconds: float) -> None:
        self.queue_wait.labels(family).observe(queued_seconds)
        self.last_progress.labels(job_id, family).set_to_current_time()

    def progress(
        self, job_id: str, family: str, step: int, loss: float, metrics: dict[str, float], peak_memory: int
    ) -> None:
        with self._lock:
            self._ended.pop((job_id, family), None)  # a resumed job's gauges are its own again
        self.step.labels(job_id, family).set(step)
        self.loss.labels(job_id, family).set(loss)
        self.last_progress.labels(job_id, family).set_to_current_time()
        if peak_memory:
            self.peak_memory.labels(job_id, family).set(peak_memory)
        if "sharpness" in metrics:
            self.sharpness.labels(job_id, family).set(metrics["sharpness"])

    def retried(self, family: str) -> None:
        self.retries.labels(family).inc()

    def worker_cpu(self, job_id: str, family: str, cpu_seconds: float) -> None:
        """Count what a worker used since its last report (reports are cumulative within one worker)."""
        with self._lock:
            delta = cpu_seconds - self._cpu_seen.get(job_id, 0.0)
            self._cpu_seen[job_id] = max(cpu_seconds, self._cpu_seen.get(job_id, 0.0))
        if delta > 0:
            self.cpu.labels(family).inc(delta)

    def worker_ended(self, job_id: str, family: str, run_seconds: float, peak_memory: int | None) -> None:
        with self._lock:
            self._cpu_seen.pop(job_id, None)
        self.run_time.labels(family).observe(run_seconds)
        if peak_memory:
            self.finished_peak_memory.labels(family).observe(peak_memory)

    def ended(self, job_id: str, family: str, step: int, loss: float) -> None:
        """A job left RUNNING: its gauges hold its final step and loss for two more scrapes."""
        with contextlib.suppress(KeyError):  # an ended job is not stalled
            self.last_progress.remove(job_id, family)
        self.step.labels(job_id, family).set(step)
        if loss:
            self.loss.labels(job_id, family).set(loss)
        with self._lock:
            self._ended[(job_id, family)] = SCRAPES_AFTER_END

    def scraped(self) -> None:
        with self._lock:
            done = [key for key, left in self._ended.items() if left <= 1]
            for key in self._ended:
                self._ended[key] -= 1
            for key in done:
                del self._ended[key]
        for key in done:
            for gauge in (self.step, self.loss, self.sharpness, self.peak_memory):
                with contextlib.suppress(KeyError):  # sharpness and memory exist for some jobs only
                    gauge.remove(*key)
