"""The lm-finetune GPT as TransformerLens's HookedTransformer: its config and its state dict.

``HookedTransformer(HookedTransformerConfig(**config))`` with ``load_state_dict(state, strict=False)``
computes what :class:`~probe_models.families.lm_finetune.networks.GPT` computes, and each of its hooks
what ours of the same name holds (``strict=False``: TransformerLens's own buffers, the causal mask and
IGNORE, are not weights). No TransformerLens import here: the export needs torch alone.
"""

from __future__ import annotations

from typing import Any

import torch

from probe_models.families.lm_finetune.networks import GPT, Block


def transformer_lens_config(model: GPT) -> dict[str, Any]:
    d, heads = model.tokens.embedding_dim, model.n_heads
    return {
        "n_layers": len(model.blocks), "d_model": d, "n_ctx": model.context, "d_head": d // heads, "n_heads": heads,
        "d_mlp": 4 * d, "d_vocab": model.tokens.num_embeddings, "act_fn": "gelu", "normalization_type": "LN",
        "positional_embedding_type": "standard", "eps": model.ln_f.eps, "default_prepend_bos": False,
        "original_architecture": "probe-lm-finetune-gpt",
    }  # fmt: skip


def transformer_lens_state(model: GPT) -> dict[str, torch.Tensor]:
    d, heads = model.tokens.embedding_dim, model.n_heads
    dh = d // heads
    state = {
        "embed.W_E": model.tokens.weight,
        "pos_embed.W_pos": model.positions.weight,
        "ln_final.w": model.ln_f.weight,
        "ln_final.b": model.ln_f.bias,
        "unembed.W_U": model.tokens.weight.T,  # tied to the embedding, without a bias
        "unembed.b_U": torch.zeros(model.tokens.num_embeddings),
    }
    for layer, block in enumerate(model.blocks):
        assert isinstance(block, Block)
        at = f"blocks.{layer}"
        weights, biases = block.qkv.weight.split(d), block.qkv.bias.split(d)  # each [d_out, d_in], [d_out]
        for name, weight, bias in zip("QKV", weights, biases, strict=True):
            state[f"{at}.attn.W_{name}"] = weight.T.reshape(d, heads, dh).permute(1, 0, 2)  # [head, d_model, d_head]
            state[f"{at}.attn.b_{name}"] = bias.view(heads, dh)
        state[f"{at}.attn.W_O"] = block.proj.weight.T.reshape(heads, dh, d)
        state[f"{at}.attn.b_O"] = block.proj.bias
        for norm, theirs in ((block.ln_1, "ln1"), (block.ln_2, "ln2")):
            state[f"{at}.{theirs}.w"], state[f"{at}.{theirs}.b"] = norm.weight, norm.bias
        state[f"{at}.mlp.W_in"], state[f"{at}.mlp.b_in"] = block.mlp_in.weight.T, block.mlp_in.bias
        state[f"{at}.mlp.W_out"], state[f"{at}.mlp.b_out"] = block.mlp_out.weight.T, block.mlp_out.bias
    return {name: tensor.detach().contiguous().clone() for name, tensor in state.items()}
