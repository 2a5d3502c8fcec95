"""Client-chosen paths on the server's disk (``data_path``, ``hf_path``): allowed only inside the operator's roots.

A config's server paths (``param(server_path=True)``) are checked here when a job is submitted, with ``stat``
alone: nothing is opened, so a FIFO cannot block a request thread and ``/dev/zero`` cannot fill its memory.
The path must resolve (symlinks followed) inside a ``--data-root``, be a regular file or a directory of regular
files, and hold at most ``max_data_bytes``. The job's worker reads it later. A path outside every root gets one
text whatever is there, so the error tells a client nothing about files it may not read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from probe_models.errors import DataUnavailable, InvalidInput, TooLarge
from probe_server.errors import PermissionDenied

MAX_DIRECTORY_ENTRIES = 10_000  # a data directory is a handful of batch files or a model's shards


def check_server_path(key: str, given: str, roots: Iterable[Path], max_bytes: int) -> None:
    """Refuse ``given`` unless it is a readable data set or model inside a root, naming the rule it breaks."""
    roots = [Path(os.path.realpath(root)) for root in roots]
    if "\0" in given:
        raise InvalidInput(f"{key} {given!r}: a path cannot hold a NUL character")
    if not roots:
        raise PermissionDenied(
            f"{key} {given!r}: this server reads no client-chosen paths (its operator has set no --data-root)"
        )
    resolved = Path(os.path.realpath(given)) if os.path.isabs(given) else None
    if resolved is None or not any(resolved.is_relative_to(root) for root in roots):
        raise PermissionDenied(
            f"{key} {given!r}: not an absolute path inside the server's data roots (--data-root); "
            "the server reads no other path"
        )
    try:
        info = os.stat(resolved)
    except FileNotFoundError:
        raise DataUnavailable(f"{key} {given!r}: does not exist under the server's data roots") from None
    except OSError as error:
        raise InvalidInput(f"{key} {given!r}: {_reason(error)}") from None
    if stat.S_ISREG(info.st_mode):
        size = info.st_size
    elif stat.S_ISDIR(info.st_mode):
        try:
            size = _directory_size(key, given, resolved, roots)
        except OSError as error:  # the directory went away or cannot be listed
            raise InvalidInput(f"{key} {given!r}: cannot be listed ({_reason(error)})") from None
    else:
        raise InvalidInput(f"{key} {given!r}: not a regular file or a directory of regular files")
    if size > max_bytes:
        raise TooLarge(f"{key} {given!r}: holds {size:,} bytes; this server reads at most {max_bytes:,}")


def _reason(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()


def _directory_size(key: str, given: str, directory: Path, roots: list[Path]) -> int:
    total = 0
    with os.scandir(directory) as entries:
        for count, entry in enumerate(entries):
            if count >= MAX_DIRECTORY_ENTRIES:
                raise InvalidInput(f"{key} {given!r}: more than {MAX_DIRECTORY_ENTRIES:,} entries")
            target = Path(os.path.realpath(entry.path))
            if not any(target.is_relative_to(root) for root in roots):
                raise PermissionDenied(f"{key} {given!r}: {entry.name} links outside the server's data roots")
            try:
                info = os.stat(target)
            except OSError as error:
                raise InvalidInput(f"{key} {given!r}: {entry.name}: {_reason(error)}") from None
            if not stat.S_ISREG(info.st_mode):
                raise InvalidInput(f"{key} {given!r}: {entry.name} is not a regular file")
            total += info.st_size
    return total
