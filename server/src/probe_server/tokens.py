"""Bearer tokens from ``--token-file``: several, each with a name and a role, ``read`` or ``write``.

The file holds one token per line as ``NAME ROLE TOKEN`` (``#`` starts a comment). A file with one bare token
(the earlier format) is that token, named ``default``, with the ``write`` role. ``read`` may call every probe,
list, get, watch and export; ``write`` may also submit, cancel, resume, start and delete (:data:`WRITE_PREFIXES`).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROLES = ("read", "write")
# An RPC whose name starts with one of these changes what the server stores or runs: it needs ``write``.
WRITE_PREFIXES = ("Submit", "Cancel", "Resume", "Delete", "Start")


@dataclass(frozen=True)
class Token:
    name: str
    role: str
    secret: str = ""

    def __repr__(self) -> str:  # never the secret, in a log or a traceback
        return f"Token(name={self.name!r}, role={self.role!r})"


class TokenFileError(ValueError):
    """The token file cannot be used; the message names the line."""


def needs_write(method: str) -> bool:
    """Whether the RPC ``method`` (its bare name, e.g. ``SubmitJob``) needs the write role."""
    return method.startswith(WRITE_PREFIXES)


def load_tokens(path: Path) -> list[Token]:
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise TokenFileError(f"{path} is not UTF-8 text") from None
    lines = [(n, line.split("#", 1)[0].split()) for n, line in enumerate(text.splitlines(), 1)]
    lines = [(n, fields) for n, fields in lines if fields]
    if not lines:
        raise TokenFileError(f"{path} holds no token")
    if len(lines) == 1 and len(lines[0][1]) == 1:
        return [Token("default", "write", lines[0][1][0])]
    tokens = []
    for number, fields in lines:
        if len(fields) != 3:
            raise TokenFileError(f"{path}:{number}: expected NAME ROLE TOKEN, got {len(fields)} field(s)")
        name, role, secret = fields
        if role not in ROLES:
            raise TokenFileError(f"{path}:{number}: role must be read or write, got {role!r}")
        if len(secret) < 16:
            raise TokenFileError(f"{path}:{number}: token {name!r} is shorter than 16 characters")
        tokens.append(Token(name, role, secret))
    names = [t.name for t in tokens]
    if len(set(names)) != len(names):
        raise TokenFileError(f"{path}: a token name appears twice")
    return tokens


def match(tokens: Iterable[Token], metadata: Iterable[tuple[str, str | bytes]] | None) -> Token | None:
    """The token the call's ``authorization: Bearer`` names, compared in constant time; None if none does."""
    presented = [str(value) for key, value in metadata or () if key == "authorization"]
    found = None
    for token in tokens:
        for value in presented:
            if hmac.compare_digest(value.encode(), f"Bearer {token.secret}".encode()):
                found = token
    return found
