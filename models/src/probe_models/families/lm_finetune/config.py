"""Config of the lm-finetune family (docs/families/lm-finetune.md; Malladi et al. 2023)."""

from __future__ import annotations

from dataclasses import dataclass

from probe_models.config import param
from probe_models.errors import ConfigError


@dataclass(frozen=True)
class LMFinetuneConfig:
    mode: str = param(
        "finetune",
        "pretrain: next-token prediction on the synthetic corpus; finetune: the prompt-based sentiment task "
        "(start from a pretrain checkpoint with init_checkpoint, or from hf_path)",
        choices=("pretrain", "finetune"),
    )
    model: str = param(
        "gpt",
        "gpt: the built-in GPT-style causal LM; hf: a local Hugging Face causal-LM directory",
        choices=("gpt", "hf"),
    )
    hf_path: str = param(
        "", "model=hf: a local directory with config.json, safetensors weights and a tokenizer", server_path=True
    )
    n_layers: int = param(2, "gpt: transformer blocks", min=1, max=96)
    d_model: int = param(64, "gpt: width", min=8, max=16384)
    n_heads: int = param(4, "gpt: attention heads (must divide d_model)", min=1, max=256)
    context: int = param(32, "gpt: context length in tokens (prompts need 16)", min=16, max=8192)
    review_fraction: float = param(0.9, "corpus: share of documents that are reviews", min=0.0, max=1.0)
    label_rate: float = param(1.0, "corpus: share of reviews followed by 'it was <label> .'", min=0.0, max=1.0)
    label_sharpness: float = param(2.0, "corpus: a in P(great | review) = σ(a·score + b)", min=0.0, max=100.0)
    label_bias: float = param(3.0, "corpus: b, the writers' positive bias (zero-shot's miscalibration)", min=-100.0,
                              max=100.0)  # fmt: skip
    k_shot: int = param(16, "finetune: training examples per class", min=1, max=100_000)
    test_examples: int = param(1000, "finetune and evaluation: held-out task reviews", min=1, max=1_000_000)
    batch_size: int = param(32, "sequences (pretrain) or examples (finetune) per step", min=1, max=1_000_000)
    optimizer: str = param("adam", "backprop optimizer: adam (AdamW) or sgd; MeZO is the job's optimizer=mezo",
                           choices=("adam", "sgd"))  # fmt: skip
    lr: float = param(1e-3, "learning rate of the backprop optimizer (cosine decay to 10% when pretraining)",
                      min=0.0, max=100.0)  # fmt: skip
    weight_decay: float = param(0.0, "decoupled weight decay of the backprop optimizer", min=0.0, max=10.0)

    def check(self) -> None:
        if self.model == "gpt":
            if self.d_model % self.n_heads:
                raise ConfigError("n_heads", f"must divide d_model = {self.d_model}")
            if self.hf_path:
                raise ConfigError("hf_path", "hf_path is for model=hf")
        elif not self.hf_path:
            raise ConfigError("hf_path", "model=hf needs hf_path, a local Hugging Face model directory")

    def check_files(self) -> None:
        """A directory that is not a usable causal LM fails the job here, in its worker, saying why."""
        if self.model == "hf":
            from probe_models.families.lm_finetune.hf import check_hf_directory

            check_hf_directory(self.hf_path)
