"""What moving a request and its reply through grpcio costs on this machine, with no work in between.

A bare grpcio server in its own process answers every call with a reply of
the size the request names; the bench sends requests as large as the real
ones and asks for replies as large as the real replies, over a channel with
the same options, in a process whose malloc is tuned as probe-server's is
(malloc_tuning.py). The round trip it measures is a floor under any served
call: a served QueryFacts or ExtractAttention pays it on top of its compute.

Run as ``python bench/transport_floor.py`` it serves and prints its port.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

from probe_server.malloc_tuning import keep_reply_buffers
from probe_wire.limits import channel_options

METHOD = "/bench.Transport/Reply"
HEADER = struct.Struct("<Q")  # the reply's size, first in every request


@dataclass(frozen=True)
class Floor:
    p50_s: float  # one call at a time
    client_cpu_s: float  # per call, this process
    server_cpu_s: float  # per call, the bare server's process


_REPLIES: dict[int, bytes] = {}


def _reply(request: bytes, context: grpc.ServicerContext) -> bytes:
    (size,) = HEADER.unpack_from(request)
    if size not in _REPLIES:
        _REPLIES[size] = os.urandom(size)  # incompressible, as float data is
    return _REPLIES[size]


def serve() -> None:
    keep_reply_buffers()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=channel_options())
    handler = grpc.unary_unary_rpc_method_handler(_reply)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Transport", {"Reply": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """User + system CPU of this process, all its threads."""
    times = os.times()
    return times.user + times.system


def measure(request_bytes: int, reply_bytes: int, calls: int) -> Floor:
    """The floor for calls of these sizes: p50 wall and CPU per call on both sides."""
    process = subprocess.Popen([sys.executable, __file__], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=channel_options()) as channel:
            call = channel.unary_unary(METHOD)
            request = HEADER.pack(reply_bytes) + bytes(max(0, request_bytes - HEADER.size))
            for _ in range(20):
                call(request)
            server_before, client_before = process_cpu_seconds(process.pid), own_cpu_seconds()
            walls = []
            for _ in range(calls):
                start = time.perf_counter()
                call(request)
                walls.append(time.perf_counter() - start)
            server_cpu = process_cpu_seconds(process.pid) - server_before
            client_cpu = own_cpu_seconds() - client_before
        return Floor(float(np.median(walls)), client_cpu / calls, server_cpu / calls)
    finally:
        process.kill()
        process.wait()


if __name__ == "__main__":
    serve()
