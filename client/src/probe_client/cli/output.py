"""How probe-cli prints: one JSON document with --json, rich tables otherwise."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)
SERVER_ID = re.compile(r"^(job|ckpt|sweep|repro)-[0-9a-f]{16}$")  # what a user copies into the next command


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if isinstance(value, float) and not math.isfinite(value):
        return None  # strict JSON has no NaN or Infinity
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(_plain(value), indent=2, allow_nan=False) + "\n")


def table(title: str, columns: list[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table as wide as the terminal; a column of server ids keeps them whole (rich shortened them with an
    ellipsis at 80 columns, so the id shown could not be pasted into the next command)."""
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    t = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        values = [row[index] for row in cells if index < len(row) and row[index]]
        if values and all(SERVER_ID.match(v) for v in values):
            t.add_column(column, no_wrap=True, min_width=max(len(v) for v in values))
        else:
            t.add_column(column)
    for row in cells:
        t.add_row(*row)
    console.print(t)


def fmt(value: float) -> str:
    return f"{value:.4g}"
