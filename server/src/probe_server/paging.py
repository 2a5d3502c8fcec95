"""Page sizes and opaque page tokens for the List RPCs (keyset paging on rowid)."""

from __future__ import annotations

from probe_models.errors import InvalidInput

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidInput(f"page_size must be >= 0, got {requested}")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def decode_token(token: str) -> int | None:
    if not token:
        return None
    if not token.startswith("r") or not token[1:].isdigit() or len(token) > 20:
        raise InvalidInput(f"malformed page_token {token[:40]!r}; pass back a next_page_token unchanged")
    return int(token[1:])


def encode_token(rowid: int) -> str:
    return f"r{rowid}"
