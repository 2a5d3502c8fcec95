"""Hook points of both causal-icl networks: the hooked forward is the network's, every hook has its declared
shape, the attention hooks are ExtractAttention's, and edits do what their by-hand equivalents do."""

from __future__ import annotations

import pytest
import torch

from probe_models.config import parse_config
from probe_models.families.causal_icl.config import CausalICLConfig
from probe_models.families.causal_icl.family import CausalICL, causal_task
from probe_models.families.causal_icl.networks import ReadsLastPosition, StandardTransformer, build_network
from probe_models.hooks import Edit, HookRun
from probe_models.patching import patch_sweep

S, T = 6, 9


def network(model: str, heads: str = "2,1") -> ReadsLastPosition:
    config = parse_config(CausalICLConfig, {"model": model, "heads": heads, "vocab_size": S, "seq_len": T})
    net = build_network(config, 3)
    with torch.no_grad():  # away from the zero init, so that every weight matters
        for param in net.parameters():
            param.normal_(std=0.3, generator=torch.Generator().manual_seed(param.numel()))
    assert isinstance(net, ReadsLastPosition)
    return net.eval()


def tokens(seed: int, batch: int = 5) -> torch.Tensor:
    return torch.randint(S, (batch, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("model", ["disentangled", "transformer"])
def test_the_hooked_forward_is_the_networks_and_every_hook_has_its_shape(model: str) -> None:
    net, batch = network(model), tokens(0)
    specs = net.hook_specs(T)
    hooks = HookRun({s.name: s for s in specs}, keep=frozenset(s.name for s in specs))
    with torch.no_grad():
        logits = net.hooked(batch, hooks)
        torch.testing.assert_close(logits, net(batch), rtol=1e-6, atol=1e-6)
        attention = net.attention(batch)
    assert list(hooks.cache) == [s.name for s in specs]
    for spec in specs:
        assert tuple(hooks.cache[spec.name].shape) == (5, *spec.sizes[1:]), spec.name
    for name, tensor in attention.items():  # ExtractAttention's tensors are these hooks'
        torch.testing.assert_close(hooks.cache[name], tensor, rtol=1e-6, atol=1e-6)
    if model == "disentangled":  # the residual is the concatenation: [input, layer 0's two heads, layer 1's head]
        assert [s.sizes[2] for s in specs if s.name.endswith("resid_post")] == [3 * (S + T), 6 * (S + T)]
        assert not any(s.transformer_lens for s in specs)
    else:
        flagged = {s.name for s in specs if s.transformer_lens}
        assert "blocks.0.attn.hook_pattern" in flagged and "blocks.0.hook_attn_out" in flagged
        assert not any(n.startswith("blocks.1") or n.endswith(("mlp_out", "resid_post")) for n in flagged)


def test_zero_ablating_a_standard_transformer_head_equals_zeroing_its_value_rows() -> None:
    net, batch = network("transformer"), tokens(1)
    assert isinstance(net, StandardTransformer)
    d = net.wte.shape[1]
    specs = {s.name: s for s in net.hook_specs(T)}
    with torch.no_grad():
        ablated = net.hooked(batch, HookRun(specs, edits=[Edit("blocks.0.attn.hook_z", "zero", heads=(1,))]))
        net.V[0][d : 2 * d] = 0  # head 1's rows of the output map: its output never reaches the MLP
        torch.testing.assert_close(ablated, net(batch), rtol=1e-5, atol=1e-5)


def test_the_loss_is_the_cross_entropy_against_the_bayes_predictor_of_the_targets_batch() -> None:
    config = parse_config(CausalICLConfig, {"vocab_size": S, "seq_len": T})
    family = CausalICL()
    net = network("disentangled", heads="1,1")
    model = family.load(config, 0, {k: v.detach().clone() for k, v in net.state_dict().items()})
    clean, other = family.sample_tokens(model, 4, 1), family.sample_tokens(model, 4, 2)
    logits, loss = family.run_hooked(model, clean, HookRun({}), targets_of=other)
    torch.testing.assert_close(logits, net(clean))
    bayes = torch.from_numpy(causal_task(config, 0).bayes(other.numpy())).float()
    torch.testing.assert_close(loss, -(bayes * net(clean).log_softmax(-1)).sum(-1))
    own = family.run_hooked(model, clean, HookRun({}))[1]  # the batch's own targets
    own_bayes = torch.from_numpy(causal_task(config, 0).bayes(clean.numpy())).float()
    torch.testing.assert_close(own, -(own_bayes * net(clean).log_softmax(-1)).sum(-1))
    assert (own - loss).abs().max() > 1e-3  # the targets batch, not the run's tokens, sets the answer


def test_a_sweep_split_over_many_passes_equals_one_pass() -> None:
    config = parse_config(CausalICLConfig, {"model": "transformer", "heads": "2,1", "vocab_size": S, "seq_len": T})
    family = CausalICL()
    model = family.load(config, 0, {k: v.detach().clone() for k, v in network("transformer").state_dict().items()})
    clean, corrupt = family.sample_tokens(model, 3, 1), family.sample_tokens(model, 3, 2)
    for axis in ("position", "head"):
        one = patch_sweep(family, model, clean, corrupt, ["blocks.*.attn.hook_z"], axis, max_rows=4096)
        many = patch_sweep(family, model, clean, corrupt, ["blocks.*.attn.hook_z"], axis, max_rows=4)  # a cell each
        torch.testing.assert_close(many.loss, one.loss, rtol=1e-5, atol=1e-6, equal_nan=True)
        assert one.loss.isfinite().sum() == (T + T if axis == "position" else 2 + 1)
    heads = patch_sweep(family, model, clean, corrupt, ["blocks.*.attn.hook_z"], "head", max_rows=4096).loss
    assert heads[1, 1].isnan() and heads[1, 0].isfinite()  # layer 1 has one head: padded on the right
