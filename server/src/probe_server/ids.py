"""Server-made ids, and the check that keeps a client's id from becoming an arbitrary path."""

from __future__ import annotations

import re
import secrets

from probe_models.errors import InvalidInput

_PREFIX = {"job": "job", "checkpoint": "ckpt", "sweep": "sweep", "reproduction": "repro"}
_PATTERNS = {kind: re.compile(rf"^{prefix}-[0-9a-f]{{16}}$") for kind, prefix in _PREFIX.items()}


def new_id(kind: str) -> str:
    return f"{_PREFIX[kind]}-{secrets.token_hex(8)}"


def check_id(kind: str, value: str) -> str:
    """Return ``value`` if it is a well-formed id of ``kind``; INVALID_ARGUMENT otherwise."""
    if not value:
        raise InvalidInput(f"{kind}_id is required")
    if not _PATTERNS[kind].match(value):
        shown = value if len(value) <= 64 else value[:64] + "..."
        raise InvalidInput(f"malformed {kind}_id {shown!r}: expected {_PREFIX[kind]}- followed by 16 hex digits")
    return value
