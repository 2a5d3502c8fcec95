"""A seeded fuzz campaign against a running server: every RPC of probe.v1 and health, case by case.

Each case is one of: a valid request (from ``World``), a mutation of one, a random message of the RPC's
request type, or raw bytes (random, or a valid body corrupted). Bodies go over a generic channel as bytes,
so what the server receives is exactly what was drawn. The campaign records each case's status; a
streamed RPC is read to its end or for ``STREAM_SECONDS`` (a watch of something still running never ends
by itself), and ending it there is the client's doing, not the server's.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2

from probe_server.app import SERVICES
from tests.fuzz.messages import Fuzz
from tests.fuzz.world import World

KINDS = (("valid", 0.35), ("mutated", 0.35), ("random", 0.15), ("raw", 0.15))
UNARY_SECONDS = 60.0
STREAM_SECONDS = 0.5
SERVER_FAULTS = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
CLIENT_ENDED = (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED)  # a stream the client stopped
HEALTH = health_pb2.DESCRIPTOR.services_by_name["Health"].methods_by_name["Check"]


def methods() -> dict[str, MethodDescriptor]:
    """Every RPC of probe.v1, and health's Check (its Watch streams until the server stops)."""
    found = {m.name: m for service in SERVICES for m in service.methods}
    return {**found, "Check": HEALTH}


@dataclass
class Finding:
    method: str
    kind: str
    code: str
    details: str
    body: bytes

    def __str__(self) -> str:
        return f"{self.method} ({self.kind}) -> {self.code}: {self.details[:300]!r}; body {self.body[:120].hex()}"


@dataclass
class Report:
    cases: Counter[str] = field(default_factory=Counter)  # per method
    ok: Counter[str] = field(default_factory=Counter)
    busy: Counter[str] = field(default_factory=Counter)  # seconds spent per method
    codes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    def valid_share(self, method: str) -> float:
        return self.ok[method] / max(1, self.cases[method])

    def table(self) -> str:
        lines = [f"{'rpc':22} {'cases':>6} {'ok':>5} {'s':>6}  statuses"]
        for method in sorted(self.cases):
            codes = ", ".join(f"{c}={n}" for c, n in self.codes[method].most_common())
            share, busy = self.valid_share(method), self.busy[method]
            lines.append(f"{method:22} {self.cases[method]:6} {share:5.0%} {busy:6.1f}  {codes}")
        return "\n".join(lines)


class Campaign:
    def __init__(self, channel: grpc.Channel, world: World, seed: int) -> None:
        self.channel = channel
        self.world = world
        self.rng = random.Random(seed)
        self.fuzz = Fuzz(self.rng, world.vocabulary())
        self.methods = methods()
        self.report = Report()

    def run(self, cases_per_method: int) -> Report:
        start = time.monotonic()
        names = sorted(self.methods)
        for _ in range(cases_per_method):
            self.rng.shuffle(names)
            for name in names:
                self._case(name)
                for method, request in self.world.excess():
                    self._tidy(method, request)
        for method, request in self.world.remaining():
            self._tidy(method, request)
        self.report.seconds = time.monotonic() - start
        return self.report

    def _draw(self, name: str) -> tuple[str, bytes]:
        """A case's kind and the request body it sends."""
        kind = self.rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        descriptor = self.methods[name].input_type
        if name == "Check":
            valid: Message = health_pb2.HealthCheckRequest(
                service=self.rng.choice(("", *(s.full_name for s in SERVICES)))
            )
        elif kind in ("valid", "mutated") or (kind == "raw" and self.rng.random() < 0.5):
            valid = self.world.valid(name)
        else:
            valid = message_factory.GetMessageClass(descriptor)()
        if kind == "valid":
            return kind, valid.SerializeToString()
        if kind == "mutated":
            return kind, self.fuzz.mutate(valid).SerializeToString(deterministic=True)
        if kind == "random":
            return kind, self.fuzz.message(descriptor).SerializeToString(deterministic=True)
        body = valid.SerializeToString()
        return kind, (self.fuzz.corrupt(body) if body and self.rng.random() < 0.5 else self.fuzz.raw())

    def _case(self, name: str) -> None:
        kind, body = self._draw(name)
        start = time.monotonic()
        code, details, reply = self._call(name, body)
        report = self.report
        report.busy[name] += time.monotonic() - start
        report.cases[name] += 1
        report.codes[name][code.name] += 1
        if code == grpc.StatusCode.OK:
            report.ok[name] += 1
            if reply is not None:  # the server parsed the body, so it parses here too
                request = message_factory.GetMessageClass(self.methods[name].input_type).FromString(body)
                self.world.started(name, request, reply)
        streamed = self.methods[name].server_streaming if name != "Check" else False
        if code in SERVER_FAULTS or (code in CLIENT_ENDED and not streamed):
            report.findings.append(Finding(name, kind, code.name, details, body))

    def _path(self, name: str) -> str:
        method = self.methods[name]
        return f"/{method.containing_service.full_name}/{method.name}"

    def _call(self, name: str, body: bytes) -> tuple[grpc.StatusCode, str, Message | None]:
        method = self.methods[name]
        path = self._path(name)
        reply_type = message_factory.GetMessageClass(method.output_type)
        try:
            if name != "Check" and method.server_streaming:
                stream = self.channel.unary_stream(path)(body, timeout=STREAM_SECONDS)
                for _ in stream:
                    pass
                return grpc.StatusCode.OK, "", None
            raw = self.channel.unary_unary(path)(body, timeout=UNARY_SECONDS)
            return grpc.StatusCode.OK, "", reply_type.FromString(raw)
        except grpc.RpcError as error:
            return error.code(), error.details() or "", None

    def _tidy(self, name: str, request: Message) -> None:
        """A cancel of the fuzz's own leftovers: OK, or FAILED_PRECONDITION where it ended by itself."""
        code, details, _ = self._call(name, request.SerializeToString())
        if code not in (grpc.StatusCode.OK, grpc.StatusCode.FAILED_PRECONDITION):
            self.report.findings.append(Finding(name, "tidy", code.name, details, request.SerializeToString()))
