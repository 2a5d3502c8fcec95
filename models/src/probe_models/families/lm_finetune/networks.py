"""A GPT-style causal LM: token and position embeddings, pre-LN blocks, a head tied to the embedding."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.ln_1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp_in = nn.Linear(d_model, 4 * d_model)
        self.mlp_out = nn.Linear(4 * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(self.ln_1(x)).split(width, dim=-1)
        q, k, v = (t.view(batch, length, self.n_heads, -1).transpose(1, 2) for t in (q, k, v))
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attended.transpose(1, 2).reshape(batch, length, width))
        return x + self.mlp_out(F.gelu(self.mlp_in(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, vocab: int, context: int, n_layers: int, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.context = context
        self.tokens = nn.Embedding(vocab, d_model)
        self.positions = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_heads) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        for name, param in self.named_parameters():  # GPT-2's initialization
            if name.endswith("weight") and param.ndim == 2:
                std = 0.02 / (2 * n_layers) ** 0.5 if name.endswith(("proj.weight", "mlp_out.weight")) else 0.02
                nn.init.normal_(param, std=std)
            elif name.endswith("bias"):
                nn.init.zeros_(param)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Next-token logits [batch, length, vocab] for token ids [batch, length]."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.tokens(ids) + self.positions(positions)
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x) @ self.tokens.weight.T


def gpt_parameter_count(vocab: int, context: int, n_layers: int, d_model: int) -> int:
    block = 12 * d_model * d_model + 13 * d_model
    return vocab * d_model + context * d_model + n_layers * block + 2 * d_model
