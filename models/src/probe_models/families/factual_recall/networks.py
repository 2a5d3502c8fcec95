"""Networks of the factual-recall family (docs/families/factual-recall.md).

- :class:`LinearAM`: logits ``u_y^T W e_x`` with frozen unit-norm embeddings.
- :class:`MLPAM`: logits ``u_y^T W2 ReLU(W1 e_x + b1)``.
- :class:`FactTransformer`: one attention layer in which only the EOS token
  queries, then ``out = h + W2 ReLU(W1 h + b1)``; token embedding and
  unembedding are N(0, 1/d) and frozen, with no positional embedding.
  Parameters counted as in the paper's plots: ``4·H·d_h·d + 2·m·d``.
- :class:`LinearAttentionRecall`: one-hot tokens and linear attention,
  ``logits = Σ_t (x_T^T A x_t) x_t^T V`` — the model of the sequential-learning
  dynamics, whose loss plateaus near log D.

Every network maps ``inputs`` (token ids, or item ids of shape (B, 1) for the
memories) to logits over the answers; the transformers can also return their
attention, named as TransformerLens does.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from probe_models.families.factual_recall.config import FactualRecallConfig
from probe_models.hooks import HookRun, HookSpec
from probe_models.seeding import generator

PATTERN = "blocks.0.attn.hook_pattern"
SCORES = "blocks.0.attn.hook_attn_scores"


def _unit_gaussian(rows: int, dim: int, gen: torch.Generator) -> torch.Tensor:
    x = torch.randn(rows, dim, generator=gen)
    return x / x.norm(dim=1, keepdim=True)


class LinearAM(nn.Module):
    item_embedding: torch.Tensor
    answer_embedding: torch.Tensor

    def __init__(self, num_items: int, num_answers: int, dim: int, seed: int) -> None:
        super().__init__()
        self.register_buffer("item_embedding", _unit_gaussian(num_items, dim, generator(seed, "embed-in")))
        self.register_buffer("answer_embedding", _unit_gaussian(num_answers, dim, generator(seed, "embed-out")))
        self.W = nn.Parameter(torch.zeros(dim, dim))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        e = self.item_embedding[inputs[:, 0]]  # (B, d)
        return (e @ self.W.T) @ self.answer_embedding.T  # (B, answers)


class MLPAM(nn.Module):
    item_embedding: torch.Tensor
    answer_embedding: torch.Tensor

    def __init__(self, num_items: int, num_answers: int, dim: int, width: int, seed: int) -> None:
        super().__init__()
        self.register_buffer("item_embedding", _unit_gaussian(num_items, dim, generator(seed, "embed-in")))
        self.register_buffer("answer_embedding", _unit_gaussian(num_answers, dim, generator(seed, "embed-out")))
        self.W1 = nn.Linear(dim, width)
        self.W2 = nn.Linear(width, dim, bias=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        e = self.item_embedding[inputs[:, 0]]
        return self.W2(F.relu(self.W1(e))) @ self.answer_embedding.T


class FactTransformer(nn.Module):
    token_embedding: torch.Tensor
    unembedding: torch.Tensor

    def __init__(self, config: FactualRecallConfig, seed: int) -> None:
        super().__init__()
        d, H, dh = config.d_model, config.num_heads, config.head_dim
        self.num_heads, self.head_dim = H, dh
        self.register_buffer(
            "token_embedding", torch.randn(config.vocab_size, d, generator=generator(seed, "embed-in")) / math.sqrt(d)
        )
        self.register_buffer(
            "unembedding", torch.randn(config.num_answers, d, generator=generator(seed, "embed-out")) / math.sqrt(d)
        )
        self.W_Q = nn.Linear(d, H * dh, bias=False)
        self.W_K = nn.Linear(d, H * dh, bias=False)
        self.W_V = nn.Linear(d, H * dh, bias=False)
        self.W_O = nn.Linear(H * dh, d, bias=False)
        self.mlp = None
        if config.mlp_width > 0:
            self.mlp = nn.Sequential(
                nn.Linear(d, config.mlp_width), nn.ReLU(), nn.Linear(config.mlp_width, d, bias=False)
            )

    def attend(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The attention output h and the EOS query's scores and pattern, each (B, H, 1, T).

        Computed with the projections folded into the query and the output,
        ``score_t = x_t·(K_hᵀ q_h)`` and ``Σ_t a_t V_h x_t = V_h Σ_t a_t x_t``, so
        per-token keys and values are never materialized: the same function as
        projecting every token, without transposing (B, T, H, d_h) tensors:
        measured on 2 cores for 1024 sequences, ONNX Runtime went from 8.4 to
        2.4 ms and eager torch from 19 to 6 ms.
        """
        B = inputs.shape[0]
        H, dh = self.num_heads, self.head_dim
        x = self.token_embedding[inputs]  # (B, T, d)
        q = self.W_Q(x[:, -1]).view(B, H, dh)  # (B, H, dh)
        w_k = self.W_K.weight.view(H, dh, -1)  # (H, dh, d)
        w_v = self.W_V.weight.view(H, dh, -1)  # (H, dh, d)
        query_in_embedding = torch.einsum("bhe,hed->bhd", q, w_k)  # (B, H, d)
        scores = (x @ query_in_embedding.transpose(1, 2)) / math.sqrt(dh)  # (B, T, H)
        pattern = scores.softmax(dim=1)
        mixed = pattern.transpose(1, 2) @ x  # (B, H, d)
        heads = torch.einsum("bhd,hed->bhe", mixed, w_v).reshape(B, H * dh)  # (B, H*dh)
        as_hook = lambda a: a.transpose(1, 2).unsqueeze(2)  # noqa: E731  (B, T, H) -> (B, H, 1, T)
        return self.W_O(heads), as_hook(scores), as_hook(pattern)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        h, _, _ = self.attend(inputs)
        out = h + self.mlp(h) if self.mlp is not None else h
        return out @ self.unembedding.T  # (B, answers)

    def attention(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        _, scores, pattern = self.attend(inputs)
        return {PATTERN: pattern, SCORES: scores}

    def hooked(self, inputs: torch.Tensor, hooks: HookRun) -> torch.Tensor:
        """The forward with every activation through ``hooks``; only EOS queries, so the hooks after the
        embedding have one query position."""
        B, H, dh = inputs.shape[0], self.num_heads, self.head_dim
        x = hooks("hook_embed", self.token_embedding[inputs])  # (B, T, d)
        q = hooks("blocks.0.attn.hook_q", self.W_Q(x[:, -1]).view(B, 1, H, dh))
        query_in_embedding = torch.einsum("bhe,hed->bhd", q[:, 0], self.W_K.weight.view(H, dh, -1))
        scores = torch.einsum("btd,bhd->bht", x, query_in_embedding).unsqueeze(2) / math.sqrt(dh)  # (B, H, 1, T)
        pattern = hooks("blocks.0.attn.hook_pattern", hooks("blocks.0.attn.hook_attn_scores", scores).softmax(-1))
        mixed = pattern[:, :, 0] @ x  # (B, H, d)
        z = hooks("blocks.0.attn.hook_z", torch.einsum("bhd,hed->bhe", mixed, self.W_V.weight.view(H, dh, -1))
                  .unsqueeze(1))  # fmt: skip
        h = hooks("blocks.0.hook_attn_out", self.W_O(z.reshape(B, 1, H * dh)))  # (B, 1, d)
        if self.mlp is not None:
            hidden, act, out = self.mlp[0], self.mlp[1], self.mlp[2]
            post = hooks("blocks.0.mlp.hook_post", act(hooks("blocks.0.mlp.hook_pre", hidden(h))))
            h = h + hooks("blocks.0.hook_mlp_out", out(post))
        return hooks("blocks.0.hook_resid_post", h)[:, 0] @ self.unembedding.T

    def hook_specs(self, length: int) -> list[HookSpec]:
        """Every hook point for sequences of ``length`` tokens; all ours (see docs/families/factual-recall.md)."""
        d, H, dh = self.token_embedding.shape[1], self.num_heads, self.head_dim
        at, eos = "blocks.0", "at the EOS position, the only query"
        per_head, attention = ("batch", "query_pos", "head", "d_head"), ("batch", "head", "query_pos", "key_pos")
        specs = [
            HookSpec("hook_embed", ("batch", "pos", "d_model"), (0, length, d), False, "the frozen token embedding"),
            HookSpec(f"{at}.attn.hook_q", per_head, (0, 1, H, dh), False, f"the query {eos}"),
            HookSpec(f"{at}.attn.hook_attn_scores", attention, (0, H, 1, length), False, f"q·k/√d_head {eos}"),
            HookSpec(f"{at}.attn.hook_pattern", attention, (0, H, 1, length), False, f"softmax of the scores {eos}"),
            HookSpec(f"{at}.attn.hook_z", per_head, (0, 1, H, dh), False, f"each head's value mix {eos}"),
            HookSpec(f"{at}.hook_attn_out", ("batch", "query_pos", "d_model"), (0, 1, d), False,
                     "h, the attention output: no residual from the embedding"),
        ]  # fmt: skip
        if self.mlp is not None:
            hidden = self.mlp[0]
            assert isinstance(hidden, nn.Linear)
            width = hidden.out_features
            specs += [
                HookSpec(f"{at}.mlp.hook_pre", ("batch", "query_pos", "d_mlp"), (0, 1, width), False, "W1 h + b1"),
                HookSpec(f"{at}.mlp.hook_post", ("batch", "query_pos", "d_mlp"), (0, 1, width), False, "ReLU"),
                HookSpec(f"{at}.hook_mlp_out", ("batch", "query_pos", "d_model"), (0, 1, d), False, "W2 ReLU(...)"),
            ]  # fmt: skip
        specs.append(HookSpec(f"{at}.hook_resid_post", ("batch", "query_pos", "d_model"), (0, 1, d), False,
                              "h + MLP(h), read out by the frozen unembedding"))  # fmt: skip
        return specs


class LinearAttentionRecall(nn.Module):
    def __init__(self, config: FactualRecallConfig) -> None:
        super().__init__()
        V = config.vocab_size
        self.A = nn.Parameter(torch.full((V, V), config.init_scale))
        self.V = nn.Parameter(torch.full((V, config.num_answers), config.init_scale))

    def scores(self, inputs: torch.Tensor) -> torch.Tensor:
        """x_T^T A x_t for every t, shaped (B, 1, 1, T): one head, the last token queries."""
        return self.A[inputs[:, -1:], inputs][:, None, None, :]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        weights = self.scores(inputs)[:, 0, 0]  # (B, T)
        return (weights.unsqueeze(-1) * self.V[inputs]).sum(dim=1)  # (B, answers)

    def attention(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        scores = self.scores(inputs)
        return {PATTERN: scores, SCORES: scores}  # linear attention: no softmax between the two


def build_network(config: FactualRecallConfig, seed: int, init_seed: int) -> nn.Module:
    """The network of ``config.model``; frozen embeddings come from ``seed``, trained weights from ``init_seed``."""
    with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG untouched
        torch.manual_seed(init_seed)
        if config.model == "linear-am":
            return LinearAM(config.num_facts, config.num_answers, config.d_model, seed)
        if config.model == "mlp-am":
            return MLPAM(config.num_facts, config.num_answers, config.d_model, config.mlp_width, seed)
        if config.model == "linear-attention":
            return LinearAttentionRecall(config)
        return FactTransformer(config, seed)


def paper_parameter_count(config: FactualRecallConfig) -> int:
    """The parameter count of the paper's capacity plots for ``config.model``."""
    d = config.d_model
    if config.model == "linear-am":
        return d * d
    if config.model == "mlp-am":
        return config.mlp_width * d
    if config.model == "linear-attention":
        return config.vocab_size * (config.vocab_size + config.num_answers)
    return 4 * config.num_heads * config.head_dim * d + 2 * config.mlp_width * d
