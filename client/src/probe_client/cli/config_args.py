"""``key=value`` command-line pairs typed by a family's or an optimizer's schema, as the server lists them."""

from __future__ import annotations

from typing import Any

from probe_client.client import ProbeClient
from probe_client.types import ConfigField, Family, Optimizer


def typed_value(spec: ConfigField, raw: str) -> Any:
    """A command-line string as the config field's type; the server checks the bounds."""
    key = spec.name
    if spec.type == "int":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{key} must be an integer, got {raw!r}") from None
    if spec.type == "float":
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{key} must be a number, got {raw!r}") from None
    if spec.type == "bool":
        if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{key} must be true or false, got {raw!r}")
        return raw.lower() in ("true", "1", "yes")
    return raw


def config_field(family: Family | Optimizer, key: str) -> ConfigField:
    fields = {f.name: f for f in family.config}
    if key not in fields:
        raise ValueError(f"{family.name} has no config key {key!r}; known keys: {', '.join(fields)}")
    return fields[key]


def split_pair(pair: str, option: str) -> tuple[str, str]:
    key, sep, raw = pair.partition("=")
    if not sep:
        raise ValueError(f"{option} expects key=value, got {pair!r}")
    return key, raw


def parse_overrides(family: Family | Optimizer, pairs: list[str], option: str = "--set") -> dict[str, Any]:
    """``key=value`` strings typed by the family's (or the optimizer's) schema."""
    overrides = {}
    for pair in pairs:
        key, raw = split_pair(pair, option)
        overrides[key] = typed_value(config_field(family, key), raw)
    return overrides


def parse_grid(family: Family, axes: list[str]) -> dict[str, list[Any]]:
    """``key=v1,v2,...`` strings typed by the family's schema."""
    grid = {}
    for axis in axes:
        key, raw = split_pair(axis, "--grid")
        spec = config_field(family, key)
        grid[key] = [typed_value(spec, value) for value in raw.split(",") if value != ""]
    return grid


def family_schema(client: ProbeClient, name: str) -> Family:
    """The family's schema from the server, to type ``--set`` values by."""
    schema = {f.name: f for f in client.families()}
    if name not in schema:
        raise ValueError(f"unknown family {name!r}; known: {', '.join(schema)}")
    return schema[name]


def optimizer_config(client: ProbeClient, optimizer: str, pairs: list[str]) -> dict[str, Any]:
    """``--opt key=value`` strings typed by the optimizer's schema."""
    if not optimizer:
        if pairs:
            raise ValueError("--opt sets the config of --optimizer; name the optimizer too")
        return {}
    known = {o.name: o for o in client.optimizers()}
    if optimizer not in known:
        raise ValueError(f"unknown optimizer {optimizer!r}; known: {', '.join(known)}")
    return parse_overrides(known[optimizer], pairs, "--opt")
