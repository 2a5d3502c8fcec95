"""A GPT-style causal LM: token and position embeddings, pre-LN blocks, a head tied to the embedding.

With a :class:`~probe_models.hooks.HookRun` the forward passes every activation through hook points named
and shaped as TransformerLens's HookedTransformer (GPT-2 layout, ``act_fn="gelu"``, no folded layer norms)
names them; the two compute the same function (``probe-cli ckpt export --format transformer-lens``).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from probe_models.hooks import HookRun, HookSpec


def _layer_norm(ln: nn.LayerNorm, x: torch.Tensor, prefix: str, hooks: HookRun) -> torch.Tensor:
    """nn.LayerNorm, written out as TransformerLens's LayerNorm is, with its two hook points (the normalized
    activation is before the elementwise weight and bias, as there)."""
    x = x - x.mean(-1, keepdim=True)
    scale = hooks(f"{prefix}.hook_scale", (x.pow(2).mean(-1, keepdim=True) + ln.eps).sqrt())
    return hooks(f"{prefix}.hook_normalized", x / scale) * ln.weight + ln.bias


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

    def hooked(self, x: torch.Tensor, layer: int, hooks: HookRun) -> torch.Tensor:
        """The same block with attention written out, through its hook points."""
        at = f"blocks.{layer}"
        batch, length, width = x.shape
        resid_pre = hooks(f"{at}.hook_resid_pre", x)
        q, k, v = self.qkv(_layer_norm(self.ln_1, resid_pre, f"{at}.ln1", hooks)).split(width, dim=-1)
        q, k, v = (
            hooks(f"{at}.attn.hook_{n}", t.view(batch, length, self.n_heads, -1))
            for n, t in zip("qkv", (q, k, v), strict=True)
        )
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
        future = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        scores = hooks(f"{at}.attn.hook_attn_scores", scores.masked_fill(future, float("-inf")))
        pattern = hooks(f"{at}.attn.hook_pattern", scores.softmax(dim=-1))
        z = hooks(f"{at}.attn.hook_z", torch.einsum("bhqk,bkhd->bqhd", pattern, v))
        attn_out = hooks(f"{at}.hook_attn_out", self.proj(z.reshape(batch, length, width)))
        resid_mid = hooks(f"{at}.hook_resid_mid", resid_pre + attn_out)
        pre = hooks(f"{at}.mlp.hook_pre", self.mlp_in(_layer_norm(self.ln_2, resid_mid, f"{at}.ln2", hooks)))
        mlp_out = hooks(f"{at}.hook_mlp_out", self.mlp_out(hooks(f"{at}.mlp.hook_post", F.gelu(pre))))
        return hooks(f"{at}.hook_resid_post", resid_mid + mlp_out)


class GPT(nn.Module):
    def __init__(self, vocab: int, context: int, n_layers: int, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.context = context
        self.n_heads = n_heads
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

    def forward(self, ids: torch.Tensor, hooks: HookRun | None = None) -> torch.Tensor:
        """Next-token logits [batch, length, vocab] for token ids [batch, length]."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        if hooks is not None:
            return self._hooked(ids, positions, hooks)
        x = self.tokens(ids) + self.positions(positions)
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x) @ self.tokens.weight.T

    def _hooked(self, ids: torch.Tensor, positions: torch.Tensor, hooks: HookRun) -> torch.Tensor:
        embed = hooks("hook_embed", self.tokens(ids))
        x = embed + hooks("hook_pos_embed", self.positions(positions).expand_as(embed))
        for layer, block in enumerate(self.blocks):
            assert isinstance(block, Block)
            x = block.hooked(x, layer, hooks)
        return _layer_norm(self.ln_f, x, "ln_final", hooks) @ self.tokens.weight.T

    def hook_specs(self, length: int) -> list[HookSpec]:
        """Every hook point for sequences of ``length`` tokens, in the order the forward passes them."""
        d, heads = self.tokens.embedding_dim, self.n_heads
        dh, residual, per_head = d // heads, ("batch", "pos", "d_model"), ("batch", "pos", "head", "d_head")
        attention = ("batch", "head", "query_pos", "key_pos")
        specs = [HookSpec("hook_embed", residual, (0, length, d), True),
                 HookSpec("hook_pos_embed", residual, (0, length, d), True)]  # fmt: skip

        def norm(prefix: str) -> list[HookSpec]:
            return [HookSpec(f"{prefix}.hook_scale", ("batch", "pos", "one"), (0, length, 1), True),
                    HookSpec(f"{prefix}.hook_normalized", residual, (0, length, d), True)]  # fmt: skip

        for layer in range(len(self.blocks)):
            at = f"blocks.{layer}"
            specs += [HookSpec(f"{at}.hook_resid_pre", residual, (0, length, d), True), *norm(f"{at}.ln1")]
            specs += [HookSpec(f"{at}.attn.hook_{n}", per_head, (0, length, heads, dh), True) for n in "qkv"]
            specs += [HookSpec(f"{at}.attn.hook_{n}", attention, (0, heads, length, length), True)
                      for n in ("attn_scores", "pattern")]  # fmt: skip
            specs += [
                HookSpec(f"{at}.attn.hook_z", per_head, (0, length, heads, dh), True),
                HookSpec(f"{at}.hook_attn_out", residual, (0, length, d), True),
                HookSpec(f"{at}.hook_resid_mid", residual, (0, length, d), True),
                *norm(f"{at}.ln2"),
                HookSpec(f"{at}.mlp.hook_pre", ("batch", "pos", "d_mlp"), (0, length, 4 * d), True),
                HookSpec(f"{at}.mlp.hook_post", ("batch", "pos", "d_mlp"), (0, length, 4 * d), True),
                HookSpec(f"{at}.hook_mlp_out", residual, (0, length, d), True),
                HookSpec(f"{at}.hook_resid_post", residual, (0, length, d), True),
            ]
        return specs + norm("ln_final")


def gpt_parameter_count(vocab: int, context: int, n_layers: int, d_model: int) -> int:
    block = 12 * d_model * d_model + 13 * d_model
    return vocab * d_model + context * d_model + n_layers * block + 2 * d_model
