"""Typed, bounded family configs: the one definition the server and CLI derive from.

A family's config is a frozen dataclass whose fields are declared with
:func:`param`. The schema (name, type, default, bounds, choices, help) is read
off the dataclass, so the proto, the server's validation and the CLI's
``--set key=value`` parsing never restate a field.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any

from probe_models.errors import ConfigError

_SCALAR_TYPES = {int: "int", float: "float", bool: "bool", str: "str"}


def param(
    default: Any,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[str, ...] | None = None,
    server_path: bool = False,
) -> Any:
    """Declare a config field with its bounds and one line of help.

    ``server_path`` marks a path on the server's disk that the job reads: a server checks it against its
    operator's allowed roots before accepting the job, and reads it only in the job's worker (``check_files``).
    """
    return dataclasses.field(
        default=default,
        metadata={"help": help, "min": min, "max": max, "choices": choices, "server_path": server_path},
    )


def server_paths(config: Any) -> dict[str, str]:
    """The config's server paths that are set, by field name."""
    return {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(config)
        if f.metadata.get("server_path") and getattr(config, f.name)
    }


def check_files(config: Any) -> None:
    """The checks that read the config's server paths (``Config.check_files``), run where the job runs.

    ``check`` (run by :func:`parse_config`) never opens a file, so a request cannot make a server read a path
    in a request thread; these run in the job's worker and fail the job with ConfigError's reason.
    """
    method = getattr(config, "check_files", None)
    if method is not None:
        method()


@dataclass(frozen=True)
class FieldSpec:
    """One config key as clients see it."""

    name: str
    type: str
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None


def schema(config_cls: type) -> list[FieldSpec]:
    """The config schema of a family, in declaration order."""
    specs = []
    for f in dataclasses.fields(config_cls):
        py_type = _field_type(config_cls, f)
        specs.append(
            FieldSpec(
                name=f.name,
                type=_SCALAR_TYPES[py_type],
                default=f.default,
                help=f.metadata["help"],
                min=f.metadata["min"],
                max=f.metadata["max"],
                choices=f.metadata["choices"],
            )
        )
    return specs


def _field_type(config_cls: type, f: dataclasses.Field) -> type:
    annotation = (
        f.type if isinstance(f.type, type) else {"int": int, "float": float, "bool": bool, "str": str}.get(f.type)
    )
    if annotation not in _SCALAR_TYPES:
        raise TypeError(f"{config_cls.__name__}.{f.name}: config fields must be int, float, bool or str")
    return annotation


TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")


def coerce_overrides(config_cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Each given key's value as its field's type (strings from a command line included), keys unchanged."""
    specs = {s.name: s for s in schema(config_cls)}
    for key in values:
        if key not in specs:
            raise ConfigError(key, f"unknown config key; known keys: {', '.join(specs)}")
    return {key: _coerce(specs[key], value) for key, value in values.items()}


def _coerce(spec: FieldSpec, value: Any) -> Any:
    """Convert a JSON-ish value to the field's type, refusing lossy or odd conversions."""
    key = spec.name
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in TRUE_WORDS + FALSE_WORDS:
            return value.lower() in TRUE_WORDS
        raise ConfigError(key, f"must be a boolean (true or false), got {value!r}")
    if spec.type == "str":
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string, got {value!r}")
        return value
    if isinstance(value, bool):
        raise ConfigError(key, f"must be a number, got {value!r}")
    if isinstance(value, str):  # a command line's value, typed here by the schema (exactly, for an integer)
        text = value.strip()
        if spec.type == "int" and _INTEGER.match(text):
            return int(text)
        try:
            value = float(text)
        except ValueError:
            kind = "an integer" if spec.type == "int" else "a number"
            raise ConfigError(key, f"must be {kind}, got {value!r}") from None
    if not isinstance(value, (int, float)):
        raise ConfigError(key, f"must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(key, f"must be finite, got {value!r}")
    if spec.type == "int":
        if float(value) != int(value):
            raise ConfigError(key, f"must be an integer, got {value!r}")
        return int(value)
    return float(value)


def _check_bounds(spec: FieldSpec, value: Any) -> None:
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(spec.name, f"must be one of {', '.join(spec.choices)}; got {value!r}")
    if spec.min is not None and value < spec.min:
        raise ConfigError(spec.name, f"must be >= {spec.min:g}; got {value!r}")
    if spec.max is not None and value > spec.max:
        raise ConfigError(spec.name, f"must be <= {spec.max:g}; got {value!r}")


def parse_config(config_cls: type, values: dict[str, Any]) -> Any:
    """Build a validated config from overrides; unknown keys and bad values raise ConfigError."""
    specs = {s.name: s for s in schema(config_cls)}
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise ConfigError(unknown[0], f"unknown config key; known keys: {', '.join(specs)}")
    parsed = {}
    for name, spec in specs.items():
        value = _coerce(spec, values[name]) if name in values else spec.default
        _check_bounds(spec, value)
        parsed[name] = value
    config = config_cls(**parsed)
    check = getattr(config, "check", None)
    if check is not None:
        check()
    return config


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
