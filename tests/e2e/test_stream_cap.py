"""The server caps its open streams: past --max-streams a new watcher is refused at once, unary calls are still
answered, and a follower waits (with backoff) for a place instead of failing."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest

from probe_client.errors import ProbeError
from tests.conftest import SMALL_FACTS, start_server


def test_watchers_past_the_cap_are_refused_and_unary_calls_still_answer(tmp_path):
    server = start_server(tmp_path / "data", "--max-streams", "2")
    try:
        with server.client() as client:
            job = client.submit_job("factual-recall", SMALL_FACTS, steps=1_000_000, seed=1, log_every=1000)
            open_streams = [client.watch_job(job.job_id) for _ in range(2)]
            for stream in open_streams:
                next(stream)  # the first event came: the stream is open and holds its place
            start = time.monotonic()
            with pytest.raises(ProbeError) as refused:
                next(client.watch_job(job.job_id))
            assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "2 open streams" in refused.value.message and "--max-streams" in refused.value.message
            assert time.monotonic() - start < 5  # refused at once, not queued behind the watchers
            for _ in range(20):  # unary calls keep their threads
                assert client.get_job(job.job_id).job_id == job.job_id
            assert client.health() == "SERVING"

            waited = {}
            waiter = threading.Thread(target=lambda: waited.update(job=client.wait(job.job_id, timeout=120)))
            waiter.start()  # a follower finds no place, backs off and tries again
            time.sleep(1.5)
            assert waiter.is_alive()
            client.cancel_job(job.job_id)  # the two watchers' streams end, and their places free up
            waiter.join(60)
            assert not waiter.is_alive() and waited["job"].state == "CANCELLED"
            for stream in open_streams:
                assert [e.state for e in stream][-1] == "CANCELLED"
    finally:
        server.stop()


def test_a_cap_that_leaves_no_thread_for_unary_calls_is_refused(tmp_path):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "probe-server"), "serve", "--max-streams", "32", "--data-dir",
         str(tmp_path / "data")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "--max-streams must lie in [1, 31]" in result.stderr


def test_health_watches_without_a_token_have_a_cap_of_their_own(tmp_path):
    """Health needs no token: its watches cannot take the places of callers with one."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    tokens = tmp_path / "tokens"
    tokens.write_text("alice write 0123456789abcdef-secret\n")
    server = start_server(tmp_path / "data", "--max-streams", "2", "--token-file", str(tokens))
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            watches = [stub.Watch(health_pb2.HealthCheckRequest(service="")) for _ in range(2)]
            assert all(next(w).status == health_pb2.HealthCheckResponse.SERVING for w in watches)
            with pytest.raises(grpc.RpcError) as refused:
                next(stub.Watch(health_pb2.HealthCheckRequest(service="")))
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            with server.client(token="0123456789abcdef-secret") as client:  # both places of the others are free
                job = client.submit_job("factual-recall", SMALL_FACTS, steps=5, seed=1)
                streams = [client.watch_job(job.job_id) for _ in range(2)]
                assert all(next(s).job_id == job.job_id for s in streams)
            for w in watches:
                w.cancel()
    finally:
        server.stop()
