"""What grpcurl and other generic clients rely on: reflection, health, and the shared size limit."""

import grpc
import numpy as np
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from probe_client import ProbeClient, ResourceExhausted
from tests.conftest import start_server


def test_reflection_lists_every_service(server):
    with grpc.insecure_channel(server.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        response = next(stub.ServerReflectionInfo(iter([request])))
    names = {s.name for s in response.list_services_response.service}
    expected = {"probe.v1.JobService", "probe.v1.CheckpointService", "probe.v1.ProbeService"}
    assert expected | {"probe.v1.RegistryService", "probe.v1.InfoService", "grpc.health.v1.Health"} <= names


def test_message_limit_comes_from_one_setting_on_both_sides(tmp_path, monkeypatch):
    monkeypatch.setenv("PROBE_MAX_MESSAGE_BYTES", "65536")
    small = start_server(tmp_path / "data", metrics=False)
    try:
        assert small.client().server_info().limits["max_message_bytes"] == 65536
        with ProbeClient(small.address) as client:
            job = client.wait(
                client.submit_job("factual-recall", {"num_subjects": 8, "num_relations": 8}, steps=2).job_id
            )
            tokens = np.zeros((400, 32), dtype=np.int64)  # 102 kB of tokens: over the limit on the client's side
            with pytest.raises(ResourceExhausted):
                client.extract_attention(job.checkpoint_id, tokens=tokens)
            assert client.health() == "SERVING"
            with pytest.raises(ResourceExhausted) as error:  # a reply that would not fit is refused up front
                client.query_facts(job.checkpoint_id, [(0, 0)] * 3000, top_k=64)
            assert "message limit" in error.value.message
    finally:
        small.stop()
