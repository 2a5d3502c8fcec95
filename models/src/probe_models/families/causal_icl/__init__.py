"""Family ``causal-icl`` (docs/families/causal-icl.md)."""

from probe_models.families.causal_icl.config import CausalICLConfig
from probe_models.families.causal_icl.family import CausalICL

__all__ = ["CausalICL", "CausalICLConfig"]
