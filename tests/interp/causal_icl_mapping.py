"""The HookedTransformer whose hooks the causal-icl standard transformer's TransformerLens-flagged hooks equal.

W_Q = A (per head), W_K = W_V = I, W_O = V's rows of that head, no attention scale, no layer norm, a ReLU MLP
of width d. Its first block's attention is ours; its MLP reads resid_pre + attn_out where ours reads attn_out,
and its residual adds attn_out where ours does not, so every later hook differs: which is why probe does not
export causal-icl to TransformerLens, and why those hooks are flagged as ours.
"""

from __future__ import annotations

from typing import Any

import torch

from probe_models.families.causal_icl.networks import StandardTransformer


def transformer_lens_config(net: StandardTransformer) -> dict[str, Any]:
    heads = {a.shape[0] for a in net.A}
    assert len(heads) == 1, "HookedTransformer has one head count for every layer"
    S, d = net.W.shape[1], net.wte.shape[1]
    return {"n_layers": len(net.A), "d_model": d, "n_ctx": net.wpe.shape[0], "d_head": d, "n_heads": heads.pop(),
            "d_mlp": d, "d_vocab": S, "d_vocab_out": S, "act_fn": "relu", "normalization_type": None,
            "use_attn_scale": False, "positional_embedding_type": "standard", "default_prepend_bos": False}  # fmt: skip


def transformer_lens_state(net: StandardTransformer) -> dict[str, torch.Tensor]:
    S, d = net.W.shape[1], net.wte.shape[1]
    state = {"embed.W_E": net.wte, "pos_embed.W_pos": net.wpe, "unembed.W_U": net.W, "unembed.b_U": torch.zeros(S)}
    for layer, (A, V, mlp) in enumerate(zip(net.A, net.V, net.mlps, strict=True)):
        at, heads = f"blocks.{layer}", A.shape[0]
        identity = torch.eye(d).expand(heads, d, d)
        state |= {f"{at}.attn.W_Q": A, f"{at}.attn.W_K": identity, f"{at}.attn.W_V": identity,
                  f"{at}.attn.W_O": V.view(heads, d, d), f"{at}.attn.b_O": torch.zeros(d)}  # fmt: skip
        for name in "QKV":
            state[f"{at}.attn.b_{name}"] = torch.zeros(heads, d)
        state |= {f"{at}.mlp.W_in": mlp[0].weight.T, f"{at}.mlp.b_in": mlp[0].bias,
                  f"{at}.mlp.W_out": mlp[2].weight.T, f"{at}.mlp.b_out": mlp[2].bias}  # fmt: skip
    return {name: tensor.detach().contiguous().clone() for name, tensor in state.items()}
