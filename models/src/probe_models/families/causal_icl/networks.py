"""The disentangled transformer of Nichani, Damian, Lee (2024) and a standard transformer variant.

Both attend with a bilinear form h A hᵀ under a causal mask and no 1/√d, and
read the prediction off the last position. Their attention tensors carry
TransformerLens names, ``blocks.{L}.attn.hook_attn_scores`` (masked, before
the softmax) and ``blocks.{L}.attn.hook_pattern`` (after).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from probe_models.families.causal_icl.config import CausalICLConfig


def pattern_hook(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_pattern"


def scores_hook(layer: int) -> str:
    return f"blocks.{layer}.attn.hook_attn_scores"


def _attend(h: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Masked scores, pattern [b, head, T, T] and per-head outputs [b, T, head, d] of h under each weights[head]."""
    T = h.shape[1]
    scores = torch.einsum("bid,hde,bje->bhij", h, weights, h)
    future = torch.ones(T, T, dtype=torch.bool, device=h.device).triu(1)
    scores = scores.masked_fill(future, float("-inf"))
    pattern = scores.softmax(dim=-1)
    return scores, pattern, torch.einsum("bhij,bjd->bihd", pattern, h)


class ReadsLastPosition(nn.Module):
    """Logits from the last position's residual through W; one pass gives the logits and every hook."""

    W: nn.Parameter

    def _run(self, tokens: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def logits_and_attention(self, tokens: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        h, hooks = self._run(tokens)
        return h[:, -1] @ self.W, hooks

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.logits_and_attention(tokens)[0]

    def attention(self, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        return self._run(tokens)[1]


class DisentangledTransformer(ReadsLastPosition):
    """Input [one-hot token; one-hot position]; each layer appends its heads' outputs to the residual."""

    def __init__(self, vocab: int, seq_len: int, heads: tuple[int, ...]) -> None:
        super().__init__()
        self.vocab, self.seq_len = vocab, seq_len
        width = vocab + seq_len
        self.A = nn.ParameterList()
        for count in heads:
            self.A.append(nn.Parameter(torch.zeros(count, width, width)))
            width *= 1 + count
        self.W = nn.Parameter(torch.zeros(width, vocab))

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        batch, T = tokens.shape
        positions = torch.eye(self.seq_len, device=tokens.device)[:T].expand(batch, T, self.seq_len)
        return torch.cat([F.one_hot(tokens, self.vocab).float(), positions], dim=-1)

    def _run(self, tokens: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        h = self.embed(tokens)
        hooks = {}
        for layer, A in enumerate(self.A):
            scores, pattern, heads = _attend(h, A)
            hooks[scores_hook(layer)], hooks[pattern_hook(layer)] = scores, pattern
            h = torch.cat([h, heads.flatten(2)], dim=-1)
        return h, hooks


class StandardTransformer(ReadsLastPosition):
    """Embeddings, per layer attention with a value map and an MLP on its output, additive residual."""

    def __init__(self, vocab: int, seq_len: int, heads: tuple[int, ...], width: int, gen: torch.Generator) -> None:
        super().__init__()
        self.wte = nn.Parameter(torch.randn(vocab, width, generator=gen) / width**0.5)
        self.wpe = nn.Parameter(torch.randn(seq_len, width, generator=gen) / width**0.5)
        self.A = nn.ParameterList(nn.Parameter(torch.zeros(count, width, width)) for count in heads)
        self.V = nn.ParameterList(
            nn.Parameter(torch.randn(count * width, width, generator=gen) / (count * width) ** 0.5) for count in heads
        )
        self.mlps = nn.ModuleList()
        for _ in heads:
            hidden, out = nn.Linear(width, width), nn.Linear(width, width)
            with torch.no_grad():
                hidden.weight.copy_(torch.randn(width, width, generator=gen) / width**0.5)
                hidden.bias.zero_()
                out.weight.zero_()
                out.bias.zero_()
            self.mlps.append(nn.Sequential(hidden, nn.ReLU(), out))
        self.W = nn.Parameter(torch.zeros(width, vocab))

    def _run(self, tokens: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        h = self.wte[tokens] + self.wpe[: tokens.shape[1]]
        hooks = {}
        for layer, (A, V, mlp) in enumerate(zip(self.A, self.V, self.mlps, strict=True)):
            scores, pattern, heads = _attend(h, A)
            hooks[scores_hook(layer)], hooks[pattern_hook(layer)] = scores, pattern
            h = h + mlp(heads.flatten(2) @ V)
        return h, hooks


def build_network(config: CausalICLConfig, init_seed: int) -> nn.Module:
    if config.model == "disentangled":
        return DisentangledTransformer(config.vocab_size, config.seq_len, config.head_counts)
    gen = torch.Generator().manual_seed(init_seed)
    return StandardTransformer(config.vocab_size, config.seq_len, config.head_counts, config.embedding_dim, gen)


def parameter_count(config: CausalICLConfig) -> int:
    S, T, heads = config.vocab_size, config.seq_len, config.head_counts
    if config.model == "disentangled":
        width, total = S + T, 0
        for count in heads:
            total += count * width * width
            width *= 1 + count
        return total + width * S
    d = config.embedding_dim
    per_layer = sum(count * d * d + count * d * d + 2 * (d * d + d) for count in heads)
    return (S + T) * d + per_layer + d * S
