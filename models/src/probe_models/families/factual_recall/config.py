"""Config of the factual-recall family (docs/families/factual-recall.md; Nichani, Lee, Bietti 2024)."""

from __future__ import annotations

from dataclasses import dataclass

from probe_models.config import param
from probe_models.errors import ConfigError

MODELS = ("transformer", "linear-am", "mlp-am", "linear-attention")
LADDER_LRS = (1e-3, 3e-3, 1e-2)  # the paper's order: smallest first, until >= target accuracy


@dataclass(frozen=True)
class FactualRecallConfig:
    model: str = param(
        "transformer",
        "transformer: one layer, EOS-only query, frozen embeddings; linear-am / mlp-am: associative "
        "memories over one item per fact; linear-attention: the sequential-learning model",
        choices=MODELS,
    )
    num_subjects: int = param(16, "S, number of subjects", min=1, max=1_000_000)
    num_relations: int = param(8, "R, number of relations", min=1, max=10_000)
    answers_per_relation: int = param(8, "D, size of each relation's answer block", min=1, max=10_000)
    seq_len: int = param(32, "T, tokens per sequence; EOS is the last", min=3, max=4096)
    num_noise: int = param(-1, "number of noise tokens; -1 means S+R as in the paper", min=-1, max=1_000_000)
    fact_table: str = param(
        "random",
        "random: a*(s,r) ~ Unif(A_r) from the seed; structured: a*(s,r) = rD + floor(sD/S)",
        choices=("random", "structured"),
    )
    subject_zipf: float = param(0.0, "Zipf exponent of the subject distribution (0: uniform)", min=0.0, max=10.0)
    relation_zipf: float = param(0.0, "Zipf exponent of the relation distribution (0: uniform)", min=0.0, max=10.0)
    d_model: int = param(32, "d, embedding dimension", min=1, max=8192)
    num_heads: int = param(4, "H, attention heads", min=1, max=512)
    head_dim: int = param(8, "d_h, head dimension", min=1, max=4096)
    mlp_width: int = param(64, "m, MLP width (0: no MLP)", min=0, max=1_000_000)
    am_target: str = param(
        "facts",
        "associative memories only. facts: item (s,r) -> a*(s,r); identity: f(x) = x over N = S*R items",
        choices=("facts", "identity"),
    )
    init_scale: float = param(1e-5, "linear-attention only: constant initial value of A and V", min=0.0, max=1.0)
    optimizer: str = param(
        "adamw", "adamw (the paper's transformers and memories) or gd (plain SGD)", choices=("adamw", "gd")
    )
    lr: float = param(1e-2, "learning rate (ignored when lr_ladder is on)", min=0.0, max=100.0)
    lr_ladder: bool = param(
        False,
        "try lr 1e-3, 3e-3, 1e-2 in turn, each for `steps` steps, until fact accuracy >= target_accuracy",
    )
    target_accuracy: float = param(0.99, "fact accuracy that ends an lr-ladder attempt", min=0.0, max=1.0)
    weight_decay: float = param(0.0, "decoupled weight decay (AdamW) or L2 (gd)", min=0.0, max=10.0)
    batch_size: int = param(1024, "fresh sequences per step", min=1, max=1_000_000)

    @property
    def noise_tokens(self) -> int:
        return self.num_subjects + self.num_relations if self.num_noise < 0 else self.num_noise

    @property
    def num_facts(self) -> int:
        return self.num_subjects * self.num_relations

    @property
    def num_answers(self) -> int:
        """Size of the output space."""
        if self.model in ("linear-am", "mlp-am") and self.am_target == "identity":
            return self.num_facts
        return self.answers_per_relation * self.num_relations

    @property
    def vocab_size(self) -> int:
        return self.num_subjects + self.num_relations + self.noise_tokens + 1

    def check(self) -> None:
        if self.num_noise == 0:
            raise ConfigError("num_noise", "must be -1 (S+R, the paper's) or >= 1: a sequence's other tokens are noise")
        if self.fact_table == "structured" and self.answers_per_relation > self.num_subjects:
            raise ConfigError("fact_table", "structured facts need answers_per_relation <= num_subjects")
        if self.num_facts > 10_000_000:
            raise ConfigError("num_subjects", f"S*R = {self.num_facts} facts exceeds the limit of 10,000,000")
        if self.model == "mlp-am" and self.mlp_width == 0:
            raise ConfigError("mlp_width", "mlp-am needs mlp_width >= 1")
