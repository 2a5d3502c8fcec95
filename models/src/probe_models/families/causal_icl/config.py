"""Config of the causal-icl family (docs/families/causal-icl.md; Nichani, Damian, Lee 2024)."""

from __future__ import annotations

from dataclasses import dataclass

from probe_models.config import param
from probe_models.errors import ConfigError
from probe_models.families.causal_icl.graphs import parse_parents

GRAPHS = ("chain", "icl-pairs", "random-tree", "random-dag", "two-parent", "custom")
MODELS = ("disentangled", "transformer")
OPTIMIZERS = ("sgd", "adam", "adamw")


@dataclass(frozen=True)
class CausalICLConfig:
    graph: str = param(
        "chain",
        "latent graph over positions. chain: p(i)=i-1; icl-pairs: odd positions copy the preceding even one; "
        "random-tree: p(i) ~ Unif{none,0..i-1}; random-dag: no parent w.p. no_parent_prob, else a uniform "
        "earlier position; two-parent: nodes 0 and 1 roots, node i >= 2 has parents floor((i-1)/2) and i-1; "
        "custom: the `parents` list",
        choices=GRAPHS,
    )
    parents: str = param(
        "",
        "custom graph: one entry per position, '-' for none or parent indices joined by '+' (e.g. '-,0,0+1'); "
        "T-1 entries (positions 0..T-2; the query s_{T-1} is uniform and the target is pi(.|s_{T-1})) or "
        "T+1 entries (every node 0..T, node T being the predicted token)",
    )
    graph_seed: int = param(-1, "seed of a random graph; -1 draws it from the job seed", min=-1, max=2**62)
    no_parent_prob: float = param(0.5, "random-dag: probability that a position has no parent", min=0.0, max=1.0)
    vocab_size: int = param(10, "S, vocabulary size", min=2, max=64)
    seq_len: int = param(20, "T, tokens per sequence including the query", min=3, max=256)
    alpha: float = param(0.1, "Dirichlet concentration of each row of pi", min=1e-3, max=100.0)
    model: str = param(
        "disentangled",
        "disentangled: one-hot token and position input, attention without value matrices, concatenation "
        "residual, zero init; transformer: embeddings, value matrices, MLP, additive residual",
        choices=MODELS,
    )
    heads: str = param("1,1", "attention heads per layer, comma-separated (the number of entries is the depth)")
    d_model: int = param(0, "transformer only: embedding dimension (0: S+T as in the paper)", min=0, max=4096)
    optimizer: str = param(
        "adam",
        "sgd with lr 1 and cosine decay is the paper's recipe; adam lr 0.03 converges in a few thousand CPU steps",
        choices=OPTIMIZERS,
    )
    lr: float = param(0.03, "peak learning rate", min=0.0, max=100.0)
    schedule: str = param("cosine", "cosine: decay to 0 over the job's steps; constant", choices=("cosine", "constant"))
    weight_decay: float = param(0.0, "weight decay (decoupled for adamw, L2 otherwise)", min=0.0, max=10.0)
    batch_size: int = param(256, "fresh sequences per step (the paper: 1024)", min=1, max=65_536)

    @property
    def head_counts(self) -> tuple[int, ...]:
        return tuple(int(h) for h in self.heads.split(","))

    @property
    def embedding_dim(self) -> int:
        return self.d_model or self.vocab_size + self.seq_len

    def check(self) -> None:
        try:
            counts = self.head_counts
        except ValueError:
            raise ConfigError("heads", f"must be comma-separated positive integers, got {self.heads!r}") from None
        if not 1 <= len(counts) <= 4 or not all(1 <= h <= 8 for h in counts):
            raise ConfigError("heads", f"1 to 4 layers of 1 to 8 heads each, got {self.heads!r}")
        if self.graph == "custom":
            if not self.parents:
                raise ConfigError("parents", "graph=custom needs a parents list")
            parse_parents(self.parents, self.seq_len)
        if self.graph != "custom" and self.parents:
            raise ConfigError("parents", f"a parents list needs graph=custom, not graph={self.graph}")
        if self.graph == "two-parent" and self.vocab_size**2 > 4096:
            raise ConfigError("vocab_size", "two-parent graphs keep S^2 <= 4096 contexts")
        if self.model == "disentangled":
            width = self.vocab_size + self.seq_len
            for h in counts:
                width *= 1 + h
            if width > 65_536:
                raise ConfigError("heads", f"the disentangled residual would be {width} wide; the limit is 65,536")
