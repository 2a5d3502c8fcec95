"""Page sizes and opaque page tokens for the List RPCs (keyset paging on rowid)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from probe_models.errors import InvalidInput

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidInput(f"page_size must be >= 0, got {requested}")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


# "r" and a rowid in ASCII digits, at most 18 of them: SQLite's rowids fit in 63 bits, and str.isdigit() would
# also take "²" (which int() refuses).
_TOKEN = re.compile(r"^r[0-9]{1,18}$")


def decode_token(token: str) -> int | None:
    if not token:
        return None
    if not _TOKEN.match(token):
        raise InvalidInput(f"malformed page_token {token[:40]!r}; pass back a next_page_token unchanged")
    return int(token[1:])


def encode_token(rowid: int) -> str:
    return f"r{rowid}"


def state_filter(values: Iterable[int], enum: Any, prefix: str) -> list[str]:
    """The short state names ("RUNNING") of a List request's state filter; UNSPECIFIED or unknown is refused."""
    names = []
    for value in values:
        if value == 0 or value not in enum.values():
            raise InvalidInput(f"states: {value} is not a {prefix.lower().replace('_', ' ').strip()}")
        names.append(enum.Name(value).removeprefix(prefix))
    return names
