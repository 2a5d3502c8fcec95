"""The one message-size setting that both the client and the server use.

gRPC's default 4 MB receive limit surprises users of model servers; probe
sets send and receive limits on both sides from ``PROBE_MAX_MESSAGE_BYTES``.
"""

from __future__ import annotations

import os

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def max_message_bytes() -> int:
    value = os.environ.get("PROBE_MAX_MESSAGE_BYTES")
    if value is None:
        return DEFAULT_MAX_MESSAGE_BYTES
    try:
        parsed = int(value)
    except ValueError:
        raise ValueError(f"PROBE_MAX_MESSAGE_BYTES must be an integer number of bytes, got {value!r}") from None
    if parsed < 1024:
        raise ValueError(f"PROBE_MAX_MESSAGE_BYTES must be at least 1024, got {parsed}")
    return parsed


def channel_options(limit: int | None = None) -> list[tuple[str, int]]:
    limit = max_message_bytes() if limit is None else limit
    return [("grpc.max_send_message_length", limit), ("grpc.max_receive_message_length", limit)]
