"""``key=value`` command-line pairs, sent as strings: the server types each value by the family's (or the
optimizer's) config schema, in one place, and names the key of any value it refuses."""

from __future__ import annotations


def split_pair(pair: str, option: str) -> tuple[str, str]:
    key, sep, raw = pair.partition("=")
    if not sep or not key:
        raise ValueError(f"{option} expects key=value, got {pair!r}")
    return key, raw


def parse_overrides(pairs: list[str], option: str = "--set") -> dict[str, str]:
    """``key=value`` strings as {key: value}; a key given twice is refused rather than silently overwritten."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        key, raw = split_pair(pair, option)
        if key in overrides:
            raise ValueError(f"{option} sets {key!r} twice")
        overrides[key] = raw
    return overrides


def parse_grid(axes: list[str]) -> dict[str, list[str]]:
    """``key=v1,v2,...`` strings as {key: [v1, v2, ...]}."""
    grid: dict[str, list[str]] = {}
    for axis in axes:
        key, raw = split_pair(axis, "--grid")
        if key in grid:
            raise ValueError(f"--grid names {key!r} twice")
        grid[key] = [value for value in raw.split(",") if value != ""]
    return grid


def optimizer_config(optimizer: str, pairs: list[str]) -> dict[str, str]:
    """``--opt key=value`` strings, which only make sense with ``--optimizer``."""
    if pairs and not optimizer:
        raise ValueError("--opt sets the config of --optimizer; name the optimizer too")
    return parse_overrides(pairs, "--opt")
