"""A command line sends config values as strings; the schema types them, in probe_models.config only."""

from dataclasses import dataclass

import pytest

from probe_models.config import coerce_overrides, param, parse_config
from probe_models.errors import ConfigError


@dataclass(frozen=True)
class Example:
    width: int = param(8, "units", min=1, max=2**62)
    lr: float = param(0.1, "step", min=0.0, max=10.0)
    bias: bool = param(True, "a bias term")
    kind: str = param("mlp", "model", choices=("mlp", "cnn"))


def test_strings_are_typed_by_each_fields_type():
    config = parse_config(Example, {"width": " 16 ", "lr": "5e-2", "bias": "no", "kind": "cnn"})
    assert config == Example(width=16, lr=0.05, bias=False, kind="cnn")
    assert parse_config(Example, {"width": "4611686018427387903"}).width == 2**62 - 1  # exact, not via a float
    assert parse_config(Example, {"width": "1e3"}).width == 1000
    assert parse_config(Example, {"bias": "YES"}).bias is True


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"width": "2.5"}, "'width': must be an integer, got 2.5"),
        ({"width": "wide"}, "'width': must be an integer, got 'wide'"),
        ({"lr": "fast"}, "'lr': must be a number, got 'fast'"),
        ({"lr": "nan"}, "'lr': must be finite"),
        ({"bias": "maybe"}, "'bias': must be a boolean \\(true or false\\), got 'maybe'"),
        ({"width": "0"}, "'width': must be >= 1"),
    ],
)
def test_a_string_that_is_not_of_the_fields_type_is_refused_naming_the_key(values, words):
    with pytest.raises(ConfigError, match=words):
        parse_config(Example, values)


def test_coerce_overrides_types_only_the_given_keys_and_refuses_unknown_ones():
    assert coerce_overrides(Example, {"lr": "1", "width": "3"}) == {"lr": 1.0, "width": 3}
    with pytest.raises(ConfigError, match="'depth': unknown config key"):
        coerce_overrides(Example, {"depth": "2"})
