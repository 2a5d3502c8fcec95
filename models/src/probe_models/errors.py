"""Errors the science layer raises for inputs it cannot accept.

The server maps each class to one gRPC status in a single place; this layer
stays free of gRPC.
"""

from __future__ import annotations


class ProbeModelError(Exception):
    """Base class: the caller asked for something this model cannot do."""


class InvalidInput(ProbeModelError):
    """A malformed or out-of-range input (INVALID_ARGUMENT on the wire)."""


class ConfigError(InvalidInput):
    """A config key is unknown or its value is out of bounds."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config key {key!r}: {problem}")
        self.key = key


class UnsupportedProbe(ProbeModelError):
    """The probe does not apply to this family or model (FAILED_PRECONDITION)."""


class DataUnavailable(ProbeModelError):
    """A data set a config names is missing on the server or not in its format (FAILED_PRECONDITION).

    The request is well formed; the server's files are what is wrong, so
    the message names the path and the format it expected.
    """


class TooLarge(ProbeModelError):
    """The request would exceed a size limit (RESOURCE_EXHAUSTED)."""
