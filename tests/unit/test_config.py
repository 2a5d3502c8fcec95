"""Family configs: one schema, strict validation with the key named in every error."""

import math

import pytest

from probe_models.config import config_to_dict, parse_config, schema
from probe_models.errors import ConfigError
from probe_models.families.factual_recall import FactualRecallConfig


def test_defaults_fill_every_key():
    config = parse_config(FactualRecallConfig, {})
    assert config_to_dict(config) == {s.name: s.default for s in schema(FactualRecallConfig)}


def test_integral_floats_from_json_become_ints():
    assert parse_config(FactualRecallConfig, {"num_subjects": 12.0}).num_subjects == 12


@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        ({"num_subjectz": 3}, "num_subjectz", "unknown config key"),
        ({"num_subjects": 0}, "num_subjects", ">= 1"),
        ({"num_subjects": 2.5}, "num_subjects", "integer"),
        ({"lr": math.nan}, "lr", "finite"),
        ({"lr": math.inf}, "lr", "finite"),
        ({"lr": "fast"}, "lr", "number"),
        ({"model": "lstm"}, "model", "one of"),
        ({"lr_ladder": "maybe"}, "lr_ladder", "boolean"),
        ({"num_subjects": True}, "num_subjects", "number"),
        ({"fact_table": "structured", "num_subjects": 4, "answers_per_relation": 8}, "fact_table", "<="),
    ],
)
def test_bad_values_name_the_key(overrides, key, fragment):
    with pytest.raises(ConfigError) as error:
        parse_config(FactualRecallConfig, overrides)
    assert error.value.key == key
    assert fragment in str(error.value)


def test_schema_carries_bounds_choices_and_help():
    fields = {s.name: s for s in schema(FactualRecallConfig)}
    assert fields["num_subjects"].type == "int" and fields["num_subjects"].min == 1
    assert fields["model"].choices == ("transformer", "linear-am", "mlp-am", "linear-attention")
    assert all(s.help for s in fields.values())
