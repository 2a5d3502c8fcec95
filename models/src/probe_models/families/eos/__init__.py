"""Family ``eos`` (docs/families/eos.md)."""

from probe_models.families.eos.config import EOSConfig
from probe_models.families.eos.family import EOS

__all__ = ["EOS", "EOSConfig"]
