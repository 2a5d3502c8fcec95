from probe_models.families.depth_ushape.config import DepthUShapeConfig
from probe_models.families.depth_ushape.family import DepthUShape

__all__ = ["DepthUShape", "DepthUShapeConfig"]
