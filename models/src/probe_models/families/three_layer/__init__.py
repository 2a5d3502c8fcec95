from probe_models.families.three_layer.config import ThreeLayerConfig
from probe_models.families.three_layer.family import ThreeLayer

__all__ = ["ThreeLayer", "ThreeLayerConfig"]
