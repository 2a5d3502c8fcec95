"""How probe-cli prints: one JSON document with --json, rich tables otherwise."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)


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
    t = Table(title=title, title_justify="left")
    for column in columns:
        t.add_column(column)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    console.print(t)


def fmt(value: float) -> str:
    return f"{value:.4g}"
