"""RegistryService and InfoService: what this server can train, and what it is."""

from __future__ import annotations

import grpc

from probe_models.config import schema
from probe_models.optimizers import OPTIMIZERS
from probe_models.registry import FAMILIES
from probe_server.settings import Limits
from probe_wire.structs import to_value
from probe_wire.v1 import info_pb2, info_pb2_grpc, registry_pb2, registry_pb2_grpc


def config_fields(config_cls: type) -> list[registry_pb2.ConfigField]:
    return [
        registry_pb2.ConfigField(
            name=spec.name,
            type=spec.type,
            default_value=to_value(spec.default),
            min=spec.min,
            max=spec.max,
            choices=list(spec.choices or ()),
            help=spec.help,
        )
        for spec in schema(config_cls)
    ]


def family_proto(name: str) -> registry_pb2.Family:
    family = FAMILIES[name]
    return registry_pb2.Family(
        name=family.name,
        description=family.description,
        paper=family.paper,
        default_steps=family.default_steps,
        config=config_fields(family.config_cls),
        probes=list(family.probes),
    )


def optimizer_proto(name: str) -> registry_pb2.Optimizer:
    spec = OPTIMIZERS[name]
    return registry_pb2.Optimizer(
        name=spec.name, description=spec.description, paper=spec.paper, config=config_fields(spec.config_cls)
    )


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def ListFamilies(
        self, request: registry_pb2.ListFamiliesRequest, context: grpc.ServicerContext
    ) -> registry_pb2.ListFamiliesResponse:
        return registry_pb2.ListFamiliesResponse(
            families=[family_proto(name) for name in sorted(FAMILIES)],
            optimizers=[optimizer_proto(name) for name in sorted(OPTIMIZERS)],
        )


class InfoServicer(info_pb2_grpc.InfoServiceServicer):
    def __init__(self, package_version: str, device: str, slots: int, limits: Limits) -> None:
        self.response = info_pb2.GetServerInfoResponse(
            package_version=package_version,
            api_version="probe.v1",
            device=device,
            slots=slots,
            limits=info_pb2.Limits(
                max_message_bytes=limits.max_message_bytes,
                max_batch=limits.max_batch,
                max_seq_len=limits.max_seq_len,
                max_steps=limits.max_steps,
                max_parameters=limits.max_parameters,
                max_hvp_iterations=limits.max_hvp_iterations,
            ),
        )

    def GetServerInfo(
        self, request: info_pb2.GetServerInfoRequest, context: grpc.ServicerContext
    ) -> info_pb2.GetServerInfoResponse:
        return self.response
