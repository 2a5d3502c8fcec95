"""Register a unary service whose methods may return an :class:`~probe_wire.encoded.EncodedReply`.

The generated ``add_*Servicer_to_server`` serializes every reply with protobuf; the services that return large
tensors (ProbeService, ActivationService) are registered here instead, with a serializer that writes an
EncodedReply's arrays to the wire by hand and any other reply through protobuf, so that the same interceptors
and the same method paths serve them.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import grpc
from google.protobuf.message import Message

from probe_wire.encoded import EncodedReply


def serialize(reply: Message | EncodedReply) -> bytes:
    return reply.encode() if isinstance(reply, EncodedReply) else reply.SerializeToString()


def add_unary_service(server: grpc.Server, module: ModuleType, service: str, servicer: Any) -> None:
    """Register ``servicer`` for ``module``'s (a ``*_pb2``) service ``service``, whose methods are all unary."""
    descriptor = module.DESCRIPTOR.services_by_name[service]
    handlers = {}
    for method in descriptor.methods:
        if method.client_streaming or method.server_streaming:
            raise ValueError(f"{descriptor.full_name}.{method.name} streams: register it with its generated adder")
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            getattr(servicer, method.name),
            request_deserializer=getattr(module, method.input_type.name).FromString,
            response_serializer=serialize,
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(descriptor.full_name, handlers),))
    server.add_registered_method_handlers(descriptor.full_name, handlers)
