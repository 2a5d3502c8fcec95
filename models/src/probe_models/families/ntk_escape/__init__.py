from probe_models.families.ntk_escape.config import NTKEscapeConfig
from probe_models.families.ntk_escape.family import NTKEscape

__all__ = ["NTKEscape", "NTKEscapeConfig"]
