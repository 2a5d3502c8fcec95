"""Server reflection answers in both versions, v1 and v1alpha, with the comments of probe.v1's protos."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from tests.e2e.test_metrics import scrape, value

VERSIONS = ("grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection")


def ask(server, service: str, **request: str) -> reflection_pb2.ServerReflectionResponse:
    with grpc.insecure_channel(server.address) as channel:
        call = channel.stream_stream(
            f"/{service}/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        (response,) = list(call(iter([reflection_pb2.ServerReflectionRequest(**request)]), timeout=10))
        return response


def files(response: reflection_pb2.ServerReflectionResponse) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    protos = [
        descriptor_pb2.FileDescriptorProto.FromString(b)
        for b in response.file_descriptor_response.file_descriptor_proto
    ]
    return {p.name: p for p in protos}


def comments(proto: descriptor_pb2.FileDescriptorProto) -> str:
    return " ".join(location.leading_comments for location in proto.source_code_info.location)


@pytest.mark.parametrize("version", VERSIONS)
def test_both_versions_list_every_service(server, version):
    listed = {s.name for s in ask(server, version, list_services="").list_services_response.service}
    expected = {"probe.v1.JobService", "probe.v1.ProbeService", "probe.v1.CheckpointService", "probe.v1.SweepService",
                "probe.v1.ReproductionService", "probe.v1.RegistryService", "probe.v1.InfoService",
                "probe.v1.ActivationService", "grpc.health.v1.Health", *VERSIONS}  # fmt: skip
    assert listed == expected


@pytest.mark.parametrize("version", VERSIONS)
def test_descriptors_carry_the_proto_comments_and_their_imports(server, version):
    found = files(ask(server, version, file_containing_symbol="probe.v1.ProbeService"))
    assert set(found) == {"probe/v1/probes.proto", "probe/v1/tensor.proto"}  # the file and what it imports
    jobs = files(ask(server, version, file_containing_symbol="probe.v1.JobService"))
    assert set(jobs) == {"probe/v1/jobs.proto", "google/protobuf/struct.proto", "google/protobuf/timestamp.proto"}
    tensor = comments(found["probe/v1/tensor.proto"])
    assert "little-endian, row-major" in tensor and "float32" in tensor  # the tensor conventions, as written
    assert comments(found["probe/v1/probes.proto"])


def test_a_reflection_only_client_builds_every_service_from_the_server(server):
    with grpc.insecure_channel(server.address) as channel:
        pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        probes = pool.FindServiceByName("probe.v1.ProbeService")
        assert "QueryFacts" in probes.methods_by_name
        v1 = pool.FindServiceByName("grpc.reflection.v1.ServerReflection")
        assert (
            v1.methods_by_name["ServerReflectionInfo"].input_type.full_name
            == "grpc.reflection.v1.ServerReflectionRequest"
        )


@pytest.mark.parametrize("version", VERSIONS)
def test_an_unknown_symbol_is_not_found(server, version):
    response = ask(server, version, file_containing_symbol="probe.v1.NoSuchService")
    assert response.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    assert ask(server, version, file_by_filename="probe/v1/none.proto").error_response.error_code == 5


def test_reflection_is_counted_like_any_rpc(server):
    ask(server, VERSIONS[0], list_services="")
    text = scrape(server)
    rpc = {"grpc_service": VERSIONS[0], "grpc_method": "ServerReflectionInfo", "grpc_type": "bidi_stream"}
    assert value(text, "grpc_server_started_total", **rpc) >= 1
    assert value(text, "grpc_server_msg_received_total", **rpc) >= 1
    assert value(text, "grpc_server_msg_sent_total", **rpc) >= 1
    assert value(text, "grpc_server_handled_total", **rpc, grpc_code="OK") >= 1
