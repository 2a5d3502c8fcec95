"""The families this build knows, by name, each with its paper's reproduction.

The registry pairs them, so that a family's module need not import its reproduction: a reproduction's
analysis may then use its family (eos's runs the family's own probes) with no import cycle.
"""

from __future__ import annotations

from probe_models.errors import InvalidInput
from probe_models.families.causal_icl import CausalICL
from probe_models.families.causal_icl.reproduce import CausalICLReproduction
from probe_models.families.depth_ushape import DepthUShape
from probe_models.families.depth_ushape.reproduce import DepthUShapeReproduction
from probe_models.families.eos import EOS
from probe_models.families.eos.reproduce import EOSReproduction
from probe_models.families.factual_recall import FactualRecall
from probe_models.families.factual_recall.reproduce import FactualRecallReproduction
from probe_models.families.hier_poly import HierPoly
from probe_models.families.hier_poly.reproduce import HierPolyReproduction
from probe_models.families.lm_finetune import LMFinetune
from probe_models.families.lm_finetune.reproduce import MezoReproduction
from probe_models.families.ntk_escape import NTKEscape
from probe_models.families.ntk_escape.reproduce import NTKEscapeReproduction
from probe_models.families.single_index import SingleIndex
from probe_models.families.single_index.reproduce import SingleIndexReproduction
from probe_models.families.three_layer import ThreeLayer
from probe_models.families.three_layer.reproduce import ThreeLayerReproduction
from probe_models.family import Family
from probe_models.reproduction import Reproduction

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        FactualRecall(),
        CausalICL(),
        EOS(),
        LMFinetune(),
        SingleIndex(),
        ThreeLayer(),
        HierPoly(),
        NTKEscape(),
        DepthUShape(),
    )
}


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise InvalidInput(f"unknown family {name!r}; known families: {', '.join(sorted(FAMILIES))}") from None


REPRODUCTIONS: dict[str, Reproduction] = {
    "factual-recall": FactualRecallReproduction(),
    "causal-icl": CausalICLReproduction(),
    "eos": EOSReproduction(),
    "lm-finetune": MezoReproduction(),
    "single-index": SingleIndexReproduction(),
    "three-layer": ThreeLayerReproduction(),
    "hier-poly": HierPolyReproduction(),
    "ntk-escape": NTKEscapeReproduction(),
    "depth-ushape": DepthUShapeReproduction(),
}

# Papers whose reproduction lives in a family of another name: `reproduce mezo` runs lm-finetune's.
REPRODUCTION_ALIASES = {"mezo": "lm-finetune"}


def reproduction_of(name: str) -> tuple[Family, Reproduction | None]:
    """The family whose reproduction ``name`` (a family name or a paper's key, e.g. mezo) runs, and that
    reproduction (None where none is written)."""
    family = get_family(REPRODUCTION_ALIASES.get(name, name))
    return family, REPRODUCTIONS.get(family.name)
