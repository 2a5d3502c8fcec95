"""The Prometheus endpoint reports RPCs, jobs, checkpoints and the model cache with the right labels."""

import re
import urllib.request

import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from probe_client import ProbeError
from probe_server.app import SERVICES
from probe_server.metrics import rpc_type
from tests.conftest import SMALL_FACTS, start_server

HEALTH = health_pb2.DESCRIPTOR.services_by_name["Health"]
REFLECTION = reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"]


def scrape(server) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10) as response:
        return response.read().decode()


def value(text: str, name: str, **labels: str) -> float | None:
    """The sample of ``name`` whose labels include ``labels``, or None."""
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
        if match:
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(match.group(2))
    return None


def test_rpc_counters_histogram_and_codes(client, server, trained):
    client.server_info()
    with pytest.raises(ProbeError):
        client.get_job("job-0000000000000000")
    client.query_facts(trained.checkpoint_id, [(0, 0)])
    client.query_facts(trained.checkpoint_id, [(1, 1)])
    text = scrape(server)
    rpc = {"grpc_service": "probe.v1.InfoService", "grpc_method": "GetServerInfo", "grpc_type": "unary"}
    assert value(text, "grpc_server_started_total", **rpc) >= 1
    assert value(text, "grpc_server_handled_total", **rpc, grpc_code="OK") >= 1
    assert value(text, "grpc_server_handled_total", grpc_method="GetJob", grpc_code="NotFound") >= 1
    assert value(text, "grpc_server_handling_seconds_count", **rpc) >= 1
    assert value(text, "grpc_server_handling_seconds_bucket", **rpc, le="+Inf") >= 1
    assert (
        value(text, "grpc_server_handled_total", grpc_method="WatchJob", grpc_type="server_stream", grpc_code="OK") >= 1
    )
    watch = {"grpc_method": "WatchJob", "grpc_type": "server_stream"}
    assert value(text, "grpc_server_msg_sent_total", **watch) > value(text, "grpc_server_started_total", **watch)
    assert value(text, "grpc_server_msg_received_total", **rpc) == value(text, "grpc_server_started_total", **rpc)
    assert value(text, "probe_jobs", state="SUCCEEDED", family="factual-recall") >= 1
    assert value(text, "probe_jobs", state="RUNNING", family="factual-recall") is not None
    assert value(text, "probe_checkpoints") >= 1
    assert value(text, "probe_model_cache_hits_total", cache="onnx") >= 1
    assert value(text, "probe_model_cache_misses_total", cache="torch") >= 1
    assert value(text, "process_cpu_seconds_total") > 0  # the server's own process: what serving costs the host
    assert value(text, "process_resident_memory_bytes") > 50e6  # python, torch and onnxruntime are loaded


def test_probe_latency_batch_sizes_and_inference_counts_by_family(client, server, trained):
    before = scrape(server)
    rpc = {"grpc_method": "QueryFacts", "family": "factual-recall"}
    requests, count = (value(before, f"probe_inference_{n}_total", **rpc) or 0 for n in ("request", "count"))
    client.query_facts(trained.checkpoint_id, [(0, 0), (1, 1), (2, 2)])
    client.query_facts(trained.checkpoint_id, [(3, 3)])
    text = scrape(server)
    assert value(text, "probe_inference_request_total", **rpc) == requests + 2
    assert value(text, "probe_inference_count_total", **rpc) == count + 4  # Triton's: a batch of 3 counts 3
    assert value(text, "probe_inference_batch_size_bucket", **rpc, le="4.0") >= 2
    assert value(text, "probe_inference_seconds_count", **rpc) >= 2
    assert value(text, "probe_model_cache_entries", cache="onnx") >= 1
    assert value(text, "probe_model_cache_bytes", cache="onnx") > 1000  # the graph with its weights
    assert value(text, "probe_model_cache_bytes", cache="torch") > 1000
    assert value(text, "probe_model_cache_evictions_total", cache="onnx") is not None


def test_job_gauges_last_two_scrapes_past_the_end_and_workers_are_measured(client, server):
    job = client.submit_job("factual-recall", SMALL_FACTS, steps=1_000_000, seed=9, log_every=1)
    for event in client.watch_job(job.job_id):
        if event.kind == "PROGRESS" and event.step >= 3:
            break
    text = scrape(server)
    assert value(text, "probe_job_step", job_id=job.job_id, family="factual-recall") >= 3
    assert value(text, "probe_job_loss", job_id=job.job_id, family="factual-recall") > 0
    assert value(text, "probe_worker_resident_memory_bytes", family="factual-recall") > 50e6  # torch is loaded
    assert value(text, "probe_job_queue_seconds_count", family="factual-recall") >= 1
    cancelled = client.cancel_job(job.job_id)
    assert cancelled.state == "CANCELLED"
    for _ in range(2):  # the final step is still there for two scrapes, so a job ending between them is seen
        text = scrape(server)
        assert value(text, "probe_job_step", job_id=job.job_id) == cancelled.step
    text = scrape(server)
    assert value(text, "probe_job_step", job_id=job.job_id) is None
    assert value(text, "probe_job_loss", job_id=job.job_id) is None
    assert value(text, "probe_jobs", state="CANCELLED", family="factual-recall") >= 1
    assert value(text, "probe_worker_cpu_seconds_total", family="factual-recall") > 0.1
    assert value(text, "probe_job_run_seconds_count", family="factual-recall") >= 1
    assert value(text, "probe_worker_resident_memory_bytes", family="eos") is not None  # every family, always


def test_every_method_has_its_series_at_zero_before_its_first_call(tmp_path):
    """As go-grpc-prometheus's InitializeMetrics: rates and alerts over an idle method read 0, not "no data"."""
    server = start_server(tmp_path / "data")
    try:
        text = scrape(server)
    finally:
        server.stop()
    methods = [(s.full_name, m.name, rpc_type(m)) for s in (*SERVICES, HEALTH, REFLECTION) for m in s.methods]
    methods.append(("grpc.reflection.v1.ServerReflection", "ServerReflectionInfo", "bidi_stream"))
    for service, method, kind in methods:
        rpc = {"grpc_service": service, "grpc_method": method, "grpc_type": kind}
        for name in ("grpc_server_started_total", "grpc_server_msg_received_total", "grpc_server_msg_sent_total",
                     "grpc_server_handling_seconds_count"):  # fmt: skip
            assert value(text, name, **rpc) is not None, (name, rpc)
        for code in (
            "OK",
            "Canceled",
            "InvalidArgument",
            "NotFound",
            "ResourceExhausted",
            "Unauthenticated",
            "Internal",
        ):
            assert value(text, "grpc_server_handled_total", **rpc, grpc_code=code) is not None, (code, rpc)
    assert len(methods) == 37  # 33 of probe.v1, health's Check and Watch, reflection in two versions
    # the health check start_server made, and nothing else, was counted
    check = {"grpc_service": "grpc.health.v1.Health", "grpc_method": "Check"}
    assert value(text, "grpc_server_handled_total", **check, grpc_code="OK") >= 1
    assert value(text, "grpc_server_started_total", grpc_service="probe.v1.ProbeService", grpc_method="QueryFacts") == 0
