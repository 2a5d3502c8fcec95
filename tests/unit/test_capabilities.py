"""Probes as capabilities: a family declares them by inheriting them, implements all of each, and the server
asks for one by type; the core Family has none of their methods."""

import pytest

from probe_models.capabilities import (
    PROBE_CAPABILITIES,
    AnswersFacts,
    Capability,
    ExposesAttention,
    MeasuresSharpness,
    ServesOnnx,
    capability,
)
from probe_models.errors import UnsupportedProbe
from probe_models.family import PROBES, Family
from probe_models.registry import FAMILIES, get_family

EXPECTED = {
    "causal-icl": ("Evaluate", "ExtractAttention", "RecoverGraph", "MeasureSharpness", "RunWithCache"),
    "depth-ushape": ("Evaluate", "MeasureSharpness"),
    "eos": ("Evaluate", "MeasureSharpness", "MeasureStabilization"),
    "factual-recall": ("Evaluate", "QueryFacts", "ExtractAttention", "MeasureSharpness", "RunWithCache"),
    "hier-poly": ("Evaluate",),
    "lm-finetune": ("Evaluate", "MeasureSharpness", "RunWithCache"),
    "ntk-escape": ("Evaluate", "MeasureSharpness"),
    "single-index": ("Evaluate", "MeasureSharpness"),
    "three-layer": ("Evaluate", "MeasureSharpness"),
}


def test_each_familys_probes_are_the_capabilities_it_declares():
    assert {name: family.probes for name, family in FAMILIES.items()} == EXPECTED
    assert {c.probe for c in PROBE_CAPABILITIES} | {"Evaluate"} == set(PROBES)


def test_the_core_family_has_no_probe_methods():
    for kind in (*PROBE_CAPABILITIES, ServesOnnx):
        for name in kind.__abstractmethods__:
            assert not hasattr(Family, name), name


def test_a_family_without_a_capability_is_refused_naming_what_it_answers():
    with pytest.raises(UnsupportedProbe) as refused:
        capability(get_family("hier-poly"), MeasuresSharpness)
    assert str(refused.value).startswith("family hier-poly does not answer MeasureSharpness; it answers Evaluate (")
    with pytest.raises(UnsupportedProbe, match="family eos has no ONNX serving graph"):
        capability(get_family("eos"), ServesOnnx)
    facts = capability(get_family("factual-recall"), AnswersFacts)
    assert facts is get_family("factual-recall") and isinstance(facts, ServesOnnx)


def test_declaring_a_capability_without_all_its_methods_cannot_make_a_family():
    class Incomplete(Family, ExposesAttention):
        name = "incomplete"

        def parameter_count(self, config):
            return 0

        def architecture(self, config, seed):
            raise NotImplementedError

        def evaluate(self, model, num_sequences, eval_seed):
            raise NotImplementedError

        def attention_hooks(self, model):
            return {}

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()
    assert issubclass(ExposesAttention, Capability)
