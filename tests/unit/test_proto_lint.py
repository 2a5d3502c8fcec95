"""probe.v1 against buf's STANDARD lint rules (buf.yaml), checked on the compiled descriptors.

buf itself is not a Python package; this test applies the same rules to what `proto/generate.py` compiled,
so `make lint` and `make test` enforce them on every machine. One rule has exceptions: buf.yaml ignores
RPC_RESPONSE_STANDARD_NAME for the four files that hold the four streaming RPCs below (buf cannot name an
RPC), and this test excepts exactly those RPCs.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from google.protobuf.descriptor import EnumDescriptor, FileDescriptor

from probe_wire.v1 import (
    activations_pb2,
    checkpoints_pb2,
    info_pb2,
    jobs_pb2,
    probes_pb2,
    registry_pb2,
    reproductions_pb2,
    sweeps_pb2,
    tensor_pb2,
)

ROOT = Path(__file__).resolve().parents[2]
MODULES = (activations_pb2, checkpoints_pb2, info_pb2, jobs_pb2, probes_pb2, registry_pb2, reproductions_pb2,
           sweeps_pb2, tensor_pb2)  # fmt: skip
FILES: list[FileDescriptor] = [m.DESCRIPTOR for m in MODULES]
# Server-streaming RPCs published before this check answer with a stream of their event or chunk message;
# renaming those to <Rpc>Response would change the wire contract (buf.yaml excepts them the same way).
STREAMED_RESPONSES = {"ExportCheckpoint": "ExportCheckpointChunk", "WatchJob": "JobEvent",
                      "DownloadReproduction": "ReproductionFileChunk", "WatchSweep": "SweepEvent"}  # fmt: skip
PASCAL = re.compile(r"^[A-Z][A-Za-z0-9]*$")
LOWER_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def upper_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def test_every_proto_file_is_compiled_here():
    on_disk = {p.name for p in (ROOT / "proto/probe/v1").glob("*.proto")}
    assert {Path(f.name).name for f in FILES} == on_disk


def test_files_packages_and_names():
    for f in FILES:
        assert f.package == "probe.v1" and f.name.startswith("probe/v1/"), f.name  # PACKAGE_VERSION_SUFFIX
        assert LOWER_SNAKE.match(Path(f.name).stem), f.name  # FILE_LOWER_SNAKE_CASE
        for message in f.message_types_by_name.values():
            assert PASCAL.match(message.name), message.name  # MESSAGE_PASCAL_CASE
            for field in message.fields:
                assert LOWER_SNAKE.match(field.name), f"{message.name}.{field.name}"  # FIELD_LOWER_SNAKE_CASE


def enums(f: FileDescriptor) -> list[EnumDescriptor]:
    nested = [e for m in f.message_types_by_name.values() for e in m.enum_types]
    return [*f.enum_types_by_name.values(), *nested]


def test_enums_are_prefixed_and_start_unspecified():
    for f in FILES:
        for enum in enums(f):
            prefix = upper_snake(enum.name) + "_"
            assert PASCAL.match(enum.name), enum.name  # ENUM_PASCAL_CASE
            assert (
                enum.values[0].name == prefix + "UNSPECIFIED" and enum.values[0].number == 0
            )  # ENUM_ZERO_VALUE_SUFFIX
            for value in enum.values:
                assert UPPER_SNAKE.match(value.name) and value.name.startswith(prefix), value.name  # ENUM_VALUE_PREFIX


def test_services_and_rpcs_use_standard_names_and_their_own_messages():
    used: dict[str, str] = {}
    for f in FILES:
        for service in f.services_by_name.values():
            assert service.name.endswith("Service"), service.name  # SERVICE_SUFFIX
            for rpc in service.methods:
                assert PASCAL.match(rpc.name), rpc.name  # RPC_PASCAL_CASE
                assert rpc.input_type.name == f"{rpc.name}Request", rpc.name  # RPC_REQUEST_STANDARD_NAME
                response = STREAMED_RESPONSES.get(rpc.name, f"{rpc.name}Response")
                assert rpc.output_type.name == response, rpc.name  # RPC_RESPONSE_STANDARD_NAME
                for message in (rpc.input_type.name, rpc.output_type.name):  # RPC_REQUEST_RESPONSE_UNIQUE
                    assert used.setdefault(message, rpc.name) == rpc.name, (message, rpc.name, used[message])


def test_buf_yaml_applies_standard_with_that_one_exception():
    lint = yaml.safe_load((ROOT / "buf.yaml").read_text())["lint"]
    assert lint["use"] == ["STANDARD"] and "except" not in lint
    holding = {Path(f.name).name for f in FILES for s in f.services_by_name.values()
               for rpc in s.methods if rpc.name in STREAMED_RESPONSES}  # fmt: skip
    assert lint["ignore_only"] == {"RPC_RESPONSE_STANDARD_NAME": [f"proto/probe/v1/{n}" for n in sorted(holding)]}
