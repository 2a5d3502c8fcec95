"""Jobs, sweeps and failures on a real two-node Ray cluster (see conftest.py), through a real server."""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request
from collections import Counter
from pathlib import Path

import grpc
import pytest
import torch
from grpc_health.v1 import health_pb2, health_pb2_grpc

from probe_server.checkpoint_files import read_weights
from tests.conftest import BIN, free_port, start_server
from tests.ray.conftest import Cluster, RayCluster, ray, ray_server

FACTS = {"num_subjects": 8, "num_relations": 8, "batch_size": 64}
LONG_STEPS = 1500  # a job that runs for some seconds on one CPU
LOG_EVERY = 50


def wait_progress(client, job_id: str, step: int = 1) -> None:
    """Until the job has recorded progress at ``step`` or later."""
    for event in client.watch_job(job_id):
        if event.kind == "PROGRESS" and event.step >= step:
            return
    raise AssertionError(f"job {job_id} ended before step {step}: {client.get_job(job_id).state}")


def test_a_sweep_fans_out_over_both_nodes_and_equals_the_local_executors(cluster: RayCluster, tmp_path: Path) -> None:
    def run(server) -> dict[tuple[int, int], dict[str, float]]:
        try:
            with server.client() as client:
                sweep = client.submit_sweep("factual-recall", FACTS, {"d_model": [8, 16, 24]}, seeds=2, steps=40)
                done = client.wait_sweep(sweep.sweep_id)
                assert done.state == "SUCCEEDED", [client.get_job(c.job_id).error for c in done.children]
                nodes.append(Counter(c.node for c in done.children))
                cli = [str(BIN / "probe-cli"), "--server", server.address]
                shown = [
                    subprocess.run(
                        [*cli, *command],
                        capture_output=True,
                        text=True,
                        check=True,
                        env={**os.environ, "COLUMNS": "200"},
                    ).stdout
                    for command in (["sweep", "show", sweep.sweep_id], ["jobs", "show", done.children[0].job_id])
                ]
                assert all(done.children[0].node.split()[0] in text for text in shown), shown  # the node, as shown
                scraped.append(
                    urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics").read().decode()
                )
                return {(c.point, c.seed): c.metrics for c in done.children}
        finally:
            server.stop()

    nodes: list[Counter[str]] = []
    scraped: list[str] = []
    on_ray = run(ray_server(tmp_path / "ray", cluster))
    local = run(start_server(tmp_path / "local", "--slots", "2", "--threads-per-job", "1"))
    assert len(on_ray) == 6 and on_ray.keys() == local.keys()
    assert len(nodes[0]) == 2 and all("127.0.0.1" in node for node in nodes[0]), nodes[0]  # children on both nodes
    assert "probe_executor_nodes 2.0" in scraped[0] and "probe_executor_cpus_free" in scraped[0]
    for node, children in nodes[0].items():  # the metrics count each node's jobs
        counted = re.search(rf'probe_jobs_by_node{{node="{re.escape(node)}",state="SUCCEEDED"}} (\S+)', scraped[0])
        assert counted and float(counted.group(1)) == children, (node, children, counted)
    for key, metrics in on_ray.items():
        for name in ("loss", "fact_accuracy"):
            assert metrics[name] == pytest.approx(local[key][name], rel=1e-5, abs=1e-6), (key, name)


def test_cancel_stops_a_ray_job_within_two_seconds_and_its_actor_is_gone(cluster: RayCluster, tmp_path: Path) -> None:
    server = ray_server(tmp_path / "data", cluster)
    try:
        with server.client() as client:
            job = client.submit_job("factual-recall", FACTS, steps=1_000_000, log_every=LOG_EVERY)
            wait_progress(client, job.job_id)
            start = time.monotonic()
            cancelled = client.cancel_job(job.job_id)
            elapsed = time.monotonic() - start
            assert cancelled.state == "CANCELLED" and elapsed < 2.0, (cancelled.state, elapsed)
            assert "127.0.0.1" in cancelled.node
        with pytest.raises(ValueError):
            ray.get_actor(job.job_id, namespace="probe")
    finally:
        server.stop()


def test_a_job_no_node_can_place_fails_saying_why(cluster: RayCluster, tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "data", "--executor", "ray", "--ray-address", cluster.address, "--threads-per-job", "4"
    )
    try:
        with server.client() as client:
            job = client.wait(client.submit_job("factual-recall", FACTS, steps=10).job_id)
        assert job.state == "FAILED" and "no node of the Ray cluster has 4 CPUs" in job.error, job.error
        assert "(the largest has 1 CPUs)" in job.error
    finally:
        server.stop()


def test_an_unreachable_ray_address_stops_the_server_at_once_with_one_line(tmp_path: Path) -> None:
    start = time.monotonic()
    result = subprocess.run(
        [str(BIN / "probe-server"), "serve", "--port", "0", "--data-dir", str(tmp_path / "data"), "--metrics-port",
         "0", "--executor", "ray", "--ray-address", f"127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0 and time.monotonic() - start < 30
    last = result.stderr.strip().splitlines()[-1]
    assert "no Ray cluster answers at 127.0.0.1:" in last and "ray start --head" in last, result.stderr


def test_a_job_lost_with_its_node_is_retried_from_its_checkpoint_and_ends_as_an_uninterrupted_run(
    cluster: RayCluster, tmp_path: Path
) -> None:
    server = ray_server(tmp_path / "data", cluster)
    try:
        with server.client() as client:
            jobs = [
                client.submit_job("factual-recall", FACTS, steps=LONG_STEPS, seed=5, log_every=LOG_EVERY,
                                  checkpoint_every=250).job_id
                for _ in range(2)
            ]  # fmt: skip
            for job_id in jobs:
                wait_progress(client, job_id, 300)  # both placed, one per node, past their first checkpoint
            worker_node = cluster.worker.node_id[:12]
            lost = next(j for j in jobs if client.get_job(j).node.startswith(worker_node))
            cluster.replace_worker()
            ended = {j: client.wait(j) for j in jobs}
            assert [e.state for e in ended.values()] == ["SUCCEEDED"] * 2, [e.error for e in ended.values()]
            messages = [e.message for e in client.watch_job(lost) if e.kind == "STATE"]
            assert any("its node died" in m or "actor died" in m for m in messages), messages
            assert any(m.startswith("retry 1 of 2") for m in messages), messages
            assert ended[lost].runs == 2
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics").read().decode()
            assert 'probe_job_retries_total{family="factual-recall"} 1.0' in metrics
            weights = [read_weights(server.data_dir / "checkpoints" / ended[j].checkpoint_id) for j in jobs]
            assert weights[0].keys() == weights[1].keys()
            for name in weights[0]:
                torch.testing.assert_close(weights[0][name], weights[1][name], rtol=0, atol=0)
    finally:
        server.stop()


def test_a_killed_server_reattaches_to_its_running_ray_jobs_and_retries_one_whose_actor_is_gone(
    cluster: RayCluster, tmp_path: Path
) -> None:
    server = ray_server(tmp_path / "data", cluster)
    with server.client() as client:
        jobs = [
            client.submit_job("factual-recall", FACTS, steps=LONG_STEPS, seed=seed, log_every=LOG_EVERY,
                              checkpoint_every=250).job_id
            for seed in (1, 2)
        ]  # fmt: skip
        for job_id in jobs:
            wait_progress(client, job_id, 300)
    server.kill()
    followed, gone = jobs
    ray.kill(ray.get_actor(gone, namespace="probe"), no_restart=True)
    server = ray_server(tmp_path / "data", cluster)
    try:
        with server.client() as client:
            job = client.wait(followed)
            assert job.state == "SUCCEEDED" and job.runs == 1, (job.state, job.error)
            steps = Counter(e.step for e in client.watch_job(followed) if e.kind == "PROGRESS")
            assert sorted(steps) == list(range(LOG_EVERY, LONG_STEPS + 1, LOG_EVERY)), sorted(steps)
            assert set(steps.values()) == {1}, steps  # every step's event once, across the kill
            job = client.wait(gone)
            assert job.state == "SUCCEEDED" and job.runs == 2, (job.state, job.error)
            states = [(e.state, e.message) for e in client.watch_job(gone) if e.kind == "STATE"]
            assert ("INTERRUPTED", "its worker is gone while the job was running") in states, states
            assert any(m.startswith("retry 1 of 2") and "from checkpoint" in m for _, m in states), states
        assert f"job={followed} re-attached" in server.log()
    finally:
        server.stop()


def test_health_says_not_serving_for_the_job_services_while_the_cluster_is_unreachable(tmp_path: Path) -> None:
    own = Cluster(initialize_head=True, head_node_args=RayCluster.node_args())
    server = start_server(tmp_path / "data", "--executor", "ray", "--ray-address", own.address)
    try:
        with grpc.insecure_channel(server.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)

            def status(service: str) -> str:
                reply = health.Check(health_pb2.HealthCheckRequest(service=f"probe.v1.{service}"), timeout=5)
                return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

            assert status("JobService") == "SERVING"
            own.shutdown()
            deadline = time.monotonic() + 15
            while status("JobService") == "SERVING" and time.monotonic() < deadline:
                time.sleep(0.2)
            assert [status(s) for s in ("JobService", "SweepService", "ReproductionService")] == ["NOT_SERVING"] * 3
            assert status("ProbeService") == "SERVING"  # probes of stored checkpoints go on
        assert "the Ray cluster at" in server.log() and "is unreachable" in server.log()
    finally:
        server.stop()
        assert server.process.returncode == 0, server.log()[-2000:]
