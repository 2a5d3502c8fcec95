"""Family ``factual-recall`` (docs/families/factual-recall.md)."""

from probe_models.families.factual_recall.config import FactualRecallConfig
from probe_models.families.factual_recall.family import FactualRecall

__all__ = ["FactualRecall", "FactualRecallConfig"]
