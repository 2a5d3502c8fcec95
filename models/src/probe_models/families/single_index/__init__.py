from probe_models.families.single_index.config import SingleIndexConfig
from probe_models.families.single_index.family import SingleIndex

__all__ = ["SingleIndex", "SingleIndexConfig"]
