"""What the server offers: families and optimizers with their config schemas, and the server's own facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format

from probe_wire.v1 import (
    info_pb2,
    registry_pb2,
)


@dataclass
class ConfigField:
    name: str
    type: str
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: list[str] = field(default_factory=list)


def _config_fields(config: Any) -> list[ConfigField]:
    fields = [
        ConfigField(
            name=c.name,
            type=c.type,
            default=json_format.MessageToDict(c.default_value),
            help=c.help,
            min=c.min if c.HasField("min") else None,
            max=c.max if c.HasField("max") else None,
            choices=list(c.choices),
        )
        for c in config
    ]
    for spec in fields:  # Value carries numbers as doubles
        if spec.type == "int" and isinstance(spec.default, float):
            spec.default = int(spec.default)
    return fields


@dataclass
class Family:
    name: str
    description: str
    paper: str
    default_steps: int
    config: list[ConfigField]
    probes: list[str]  # the ProbeService RPCs it answers, e.g. "MeasureSharpness"

    @classmethod
    def from_proto(cls, f: registry_pb2.Family) -> "Family":
        return cls(f.name, f.description, f.paper, f.default_steps, _config_fields(f.config), list(f.probes))


@dataclass
class Optimizer:
    """An optimizer any family's job can use instead of its own (e.g. mezo)."""

    name: str
    description: str
    paper: str
    config: list[ConfigField]

    @classmethod
    def from_proto(cls, o: registry_pb2.Optimizer) -> "Optimizer":
        return cls(o.name, o.description, o.paper, _config_fields(o.config))


@dataclass
class ServerInfo:
    package_version: str
    api_version: str
    device: str
    slots: int
    limits: dict[str, int]

    @classmethod
    def from_proto(cls, r: info_pb2.GetServerInfoResponse) -> "ServerInfo":
        limits = json_format.MessageToDict(r.limits, preserving_proto_field_name=True)
        return cls(r.package_version, r.api_version, r.device, r.slots, {k: int(v) for k, v in limits.items()})
