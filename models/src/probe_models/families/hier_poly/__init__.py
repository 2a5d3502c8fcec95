from probe_models.families.hier_poly.config import HierPolyConfig
from probe_models.families.hier_poly.family import HierPoly

__all__ = ["HierPoly", "HierPolyConfig"]
