"""gRPC server reflection, v1 and v1alpha, with the comments of probe.v1's protos.

grpcio-reflection serves v1alpha only, and copies descriptors out of the pool without their source info, so a
reflection-only client (``grpcurl describe``) never saw the tensor conventions the comments state. This
serves both versions (v1 is v1alpha under a new package name, the same messages on the wire) from one pool:
probe.v1's files as ``proto/generate.py`` wrote them with their comments, the rest (health, reflection, the
well-known types) from the protobuf runtime.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import resources

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor
from grpc_reflection.v1alpha import reflection_pb2

V1ALPHA = "grpc.reflection.v1alpha.ServerReflection"
V1 = "grpc.reflection.v1.ServerReflection"
METHOD = "ServerReflectionInfo"


def _v1_file() -> descriptor_pb2.FileDescriptorProto:
    """grpc/reflection/v1/reflection.proto from the v1alpha file: the same messages in package grpc.reflection.v1."""
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    old, new = ".grpc.reflection.v1alpha.", ".grpc.reflection.v1."
    proto.name, proto.package = "grpc/reflection/v1/reflection.proto", "grpc.reflection.v1"
    proto.ClearField("options")
    messages = list(proto.message_type)
    while messages:
        message = messages.pop()
        messages.extend(message.nested_type)
        for field in message.field:
            if field.HasField("type_name"):  # descriptor.proto is proto2: setting "" would mark it present
                field.type_name = field.type_name.replace(old, new)
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(old, new)
            method.output_type = method.output_type.replace(old, new)
    return proto


class Reflection:
    """Answers reflection requests for ``services`` from a pool of their files and those they import."""

    def __init__(self, services: Iterable[str], probe_files: Iterable[FileDescriptor]) -> None:
        self.services = sorted({*services, V1ALPHA, V1})
        described = descriptor_pb2.FileDescriptorSet.FromString(
            resources.files("probe_wire.v1").joinpath("descriptors.binpb").read_bytes()
        )
        commented = {f.name: f for f in described.file}
        self.files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
        runtime = descriptor_pool.Default()
        for service in self.services:
            if service != V1:
                self._add(runtime.FindFileContainingSymbol(service), commented)
        for file in probe_files:
            self._add(file, commented)
        v1 = _v1_file()
        self.files[v1.name] = v1
        self.pool = descriptor_pool.DescriptorPool()
        added: set[str] = set()
        for name in self.files:
            self._load(name, added)

    def _add(self, file: FileDescriptor, commented: dict[str, descriptor_pb2.FileDescriptorProto]) -> None:
        if file.name in self.files:
            return
        if file.name in commented:
            self.files[file.name] = commented[file.name]
        else:
            proto = descriptor_pb2.FileDescriptorProto()
            file.CopyToProto(proto)
            self.files[file.name] = proto
        for dependency in file.dependencies:
            self._add(dependency, commented)

    def _load(self, name: str, added: set[str]) -> None:
        if name in added:
            return
        for dependency in self.files[name].dependency:
            self._load(dependency, added)
        self.pool.Add(self.files[name])
        added.add(name)

    def _closure(self, name: str, seen: dict[str, bytes]) -> dict[str, bytes]:
        if name not in seen:
            seen[name] = self.files[name].SerializeToString()
            for dependency in self.files[name].dependency:
                self._closure(dependency, seen)
        return seen

    def answer(self, request: reflection_pb2.ServerReflectionRequest) -> reflection_pb2.ServerReflectionResponse:
        response = reflection_pb2.ServerReflectionResponse(valid_host=request.host, original_request=request)
        asked = request.WhichOneof("message_request")
        try:
            if asked == "list_services":
                response.list_services_response.service.extend(
                    reflection_pb2.ServiceResponse(name=name) for name in self.services
                )
            elif asked == "file_by_filename":
                files = self._closure(self.pool.FindFileByName(request.file_by_filename).name, {})
                response.file_descriptor_response.file_descriptor_proto.extend(files.values())
            elif asked == "file_containing_symbol":
                file = self.pool.FindFileContainingSymbol(request.file_containing_symbol)
                response.file_descriptor_response.file_descriptor_proto.extend(self._closure(file.name, {}).values())
            else:  # probe.v1 declares no extensions
                raise KeyError(asked)
        except KeyError:
            response.error_response.error_code = grpc.StatusCode.NOT_FOUND.value[0]
            response.error_response.error_message = f"not found: {asked}"
        return response

    def ServerReflectionInfo(
        self, requests: Iterator[reflection_pb2.ServerReflectionRequest], context: grpc.ServicerContext
    ) -> Iterator[reflection_pb2.ServerReflectionResponse]:
        for request in requests:
            yield self.answer(request)

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        """Both versions' handlers; their messages are the same on the wire."""
        method = grpc.stream_stream_rpc_method_handler(
            self.ServerReflectionInfo,
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
        )
        return [grpc.method_handlers_generic_handler(name, {METHOD: method}) for name in (V1ALPHA, V1)]
