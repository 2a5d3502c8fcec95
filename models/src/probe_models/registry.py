"""The families this build knows, by name."""

from __future__ import annotations

from probe_models.errors import InvalidInput
from probe_models.families.causal_icl import CausalICL
from probe_models.families.depth_ushape import DepthUShape
from probe_models.families.eos import EOS
from probe_models.families.factual_recall import FactualRecall
from probe_models.families.hier_poly import HierPoly
from probe_models.families.lm_finetune import LMFinetune
from probe_models.families.ntk_escape import NTKEscape
from probe_models.families.single_index import SingleIndex
from probe_models.families.three_layer import ThreeLayer
from probe_models.family import Family

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


# Papers whose reproduction lives in a family of another name: `reproduce mezo` runs lm-finetune's.
REPRODUCTION_ALIASES = {"mezo": "lm-finetune"}


def family_of_reproduction(name: str) -> Family:
    """The family whose reproduction ``name`` (a family name or a paper's key, e.g. mezo) runs."""
    return get_family(REPRODUCTION_ALIASES.get(name, name))
