"""Family ``factual-recall`` (PAPERS.md §1)."""

from probe_models.families.factual_recall.config import FactualRecallConfig
from probe_models.families.factual_recall.family import FactualRecall

__all__ = ["FactualRecall", "FactualRecallConfig"]
