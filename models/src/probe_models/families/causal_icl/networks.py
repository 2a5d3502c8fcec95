"""The disentangled transformer of Nichani, Damian, Lee (2024) and a standard transformer variant.

Both attend with a bilinear form h A hᵀ under a causal mask and no 1/√d, and
read the prediction off the last position. Their attention tensors carry
TransformerLens names, ``blocks.{L}.attn.hook_attn_scores`` (masked, before
the softmax) and ``blocks.{L}.attn.hook_pattern`` (after).

With a :class:`~probe_models.hooks.HookRun`, ``hooked`` passes every activation through hook points
(docs/families/causal-icl.md lists them). Attention is written as TransformerLens writes it, with
``q = h A_head`` and ``k = v = h`` per head, so that the standard transformer's first block is
HookedTransformer's with W_Q = A, W_K = W_V = I, W_O = V and no attention scale
(:mod:`~probe_models.families.causal_icl.transformer_lens`). Its block then computes
h ← h + MLP(attn_out), where HookedTransformer's adds attn_out to the residual and feeds the MLP that sum:
hooks after its first attention are ours (``transformer_lens`` False), as are all of the disentangled
transformer's, whose residual is the concatenation of every layer's heads.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from probe_models.families.causal_icl.config import CausalICLConfig
from probe_models.hooks import HookRun, HookSpec


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


def _attend_hooked(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, at: str, hooks: HookRun) -> torch.Tensor:
    """Attention through its hook points, from per-head q, k, v [b, T, head, d]; the heads' outputs z."""
    q, k, v = (hooks(f"{at}.attn.hook_{n}", t) for n, t in zip("qkv", (q, k, v), strict=True))
    T = q.shape[1]
    future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
    scores = hooks(f"{at}.attn.hook_attn_scores", torch.einsum("bihd,bjhd->bhij", q, k).masked_fill(future, -torch.inf))
    pattern = hooks(f"{at}.attn.hook_pattern", scores.softmax(dim=-1))
    return hooks(f"{at}.attn.hook_z", torch.einsum("bhij,bjhd->bihd", pattern, v))


def _attention_specs(at: str, length: int, heads: int, width: int, tl: bool, meaning: str) -> list[HookSpec]:
    per_head, attention = ("batch", "pos", "head", "d_head"), ("batch", "head", "query_pos", "key_pos")
    means = {"q": f"h A_head {meaning}".strip(), "k": f"h itself {meaning}".strip(),
             "v": f"h itself {meaning}".strip(), "z": f"each head's output, pattern @ h {meaning}".strip()}  # fmt: skip
    specs = [HookSpec(f"{at}.attn.hook_{n}", per_head, (0, length, heads, width), tl, means[n]) for n in "qkv"]
    specs += [HookSpec(f"{at}.attn.hook_attn_scores", attention, (0, heads, length, length), tl,
                       f"h A hᵀ masked, no 1/√d {meaning}".strip()),
              HookSpec(f"{at}.attn.hook_pattern", attention, (0, heads, length, length), tl, meaning),
              HookSpec(f"{at}.attn.hook_z", per_head, (0, length, heads, width), tl, means["z"])]  # fmt: skip
    return specs


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

    def hooked(self, tokens: torch.Tensor, hooks: HookRun) -> torch.Tensor:
        """The logits [b, vocab] of the last position, with every activation through ``hooks``."""
        raise NotImplementedError

    def hook_specs(self, length: int) -> list[HookSpec]:
        """Every hook point for sequences of ``length`` tokens, in the order ``hooked`` passes them."""
        raise NotImplementedError


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

    def hooked(self, tokens: torch.Tensor, hooks: HookRun) -> torch.Tensor:
        batch, T = tokens.shape
        h = torch.cat([
            hooks("hook_embed", F.one_hot(tokens, self.vocab).float()),
            hooks("hook_pos_embed", torch.eye(self.seq_len, device=tokens.device)[:T].expand(batch, T, self.seq_len)),
        ], dim=-1)  # fmt: skip
        for layer, A in enumerate(self.A):
            at = f"blocks.{layer}"
            h = hooks(f"{at}.hook_resid_pre", h)
            q = torch.einsum("bid,hde->bihe", h, A)
            same = h[:, :, None].expand(-1, -1, A.shape[0], -1)
            z = _attend_hooked(q, same, same, at, hooks)
            h = hooks(f"{at}.hook_resid_post", torch.cat([h, z.flatten(2)], dim=-1))
        return h[:, -1] @ self.W

    def hook_specs(self, length: int) -> list[HookSpec]:
        residual = ("batch", "pos", "d_residual")
        width = self.vocab + self.seq_len
        specs = [HookSpec("hook_embed", ("batch", "pos", "vocab"), (0, length, self.vocab), False,
                          "the one-hot token block of the input"),
                 HookSpec("hook_pos_embed", ("batch", "pos", "position"), (0, length, self.seq_len), False,
                          "the one-hot position block of the input")]  # fmt: skip
        for layer, A in enumerate(self.A):
            at, heads = f"blocks.{layer}", A.shape[0]
            specs.append(HookSpec(f"{at}.hook_resid_pre", residual, (0, length, width), False,
                                  "the residual entering the layer: the input and every earlier head's "
                                  "output, concatenated"))  # fmt: skip
            specs += _attention_specs(at, length, heads, width, False, "(on the concatenated residual)")
            width *= 1 + heads
            specs.append(HookSpec(f"{at}.hook_resid_post", residual, (0, length, width), False,
                                  "the residual with this layer's heads appended: [resid_pre, z_0, ...]"))  # fmt: skip
        return specs


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

    def hooked(self, tokens: torch.Tensor, hooks: HookRun) -> torch.Tensor:
        embed = hooks("hook_embed", self.wte[tokens])
        h = embed + hooks("hook_pos_embed", self.wpe[: tokens.shape[1]].expand_as(embed))
        for layer, (A, V, mlp) in enumerate(zip(self.A, self.V, self.mlps, strict=True)):
            at = f"blocks.{layer}"
            h = hooks(f"{at}.hook_resid_pre", h)
            q = torch.einsum("bid,hde->bihe", h, A)
            same = h[:, :, None].expand(-1, -1, A.shape[0], -1)
            z = _attend_hooked(q, same, same, at, hooks)
            attn_out = hooks(f"{at}.hook_attn_out", z.flatten(2) @ V)
            assert isinstance(mlp, nn.Sequential)
            hidden, act, out = mlp[0], mlp[1], mlp[2]
            post = hooks(f"{at}.mlp.hook_post", act(hooks(f"{at}.mlp.hook_pre", hidden(attn_out))))
            h = hooks(f"{at}.hook_resid_post", h + hooks(f"{at}.hook_mlp_out", out(post)))
        return h[:, -1] @ self.W

    def hook_specs(self, length: int) -> list[HookSpec]:
        residual, d = ("batch", "pos", "d_model"), self.wte.shape[1]
        specs = [HookSpec("hook_embed", residual, (0, length, d), True),
                 HookSpec("hook_pos_embed", residual, (0, length, d), True)]  # fmt: skip
        for layer, A in enumerate(self.A):
            at, tl = f"blocks.{layer}", layer == 0  # later layers see a residual HookedTransformer's would not
            why = "" if tl else "(ours: TransformerLens's residual would also hold every earlier attn_out)"
            specs.append(HookSpec(f"{at}.hook_resid_pre", residual, (0, length, d), tl, why))
            specs += _attention_specs(at, length, A.shape[0], d, tl, why)
            specs += [
                HookSpec(f"{at}.hook_attn_out", residual, (0, length, d), tl, f"z @ V {why}".strip()),
                HookSpec(f"{at}.mlp.hook_pre", ("batch", "pos", "d_mlp"), (0, length, d), False,
                         "the MLP's hidden layer before ReLU; its input is attn_out alone (ours)"),
                HookSpec(f"{at}.mlp.hook_post", ("batch", "pos", "d_mlp"), (0, length, d), False,
                         "after ReLU (ours: the MLP's input is attn_out)"),
                HookSpec(f"{at}.hook_mlp_out", residual, (0, length, d), False, "MLP(attn_out) (ours)"),
                HookSpec(f"{at}.hook_resid_post", residual, (0, length, d), False,
                         "resid_pre + MLP(attn_out): attn_out itself is not added (ours)"),
            ]  # fmt: skip
        return specs


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
