from probe_models.families.lm_finetune.config import LMFinetuneConfig
from probe_models.families.lm_finetune.family import LMFinetune

__all__ = ["LMFinetune", "LMFinetuneConfig"]
