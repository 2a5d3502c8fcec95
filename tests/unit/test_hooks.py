"""Hook points of the lm-finetune GPT: the hooked forward is the model's, caches have the declared shapes,
and edits do what their by-hand equivalents do."""

from __future__ import annotations

import re

import pytest
import torch

from probe_models.errors import InvalidInput
from probe_models.families.lm_finetune.networks import GPT
from probe_models.hooks import Edit, HookRun, check_edits, select

LAYERS, WIDTH, HEADS, VOCAB, LENGTH = 2, 16, 4, 11, 7


@pytest.fixture(scope="module")
def model() -> GPT:
    torch.manual_seed(0)
    gpt = GPT(VOCAB, 12, LAYERS, WIDTH, HEADS)
    with torch.no_grad():  # biases away from GPT-2's zeros, so that a wrong bias would show
        for name, param in gpt.named_parameters():
            if name.endswith("bias"):
                param.normal_(std=0.1)
    return gpt.eval()


def run(model: GPT, tokens: torch.Tensor, **kwargs) -> tuple[torch.Tensor, HookRun]:
    specs = {s.name: s for s in model.hook_specs(tokens.shape[1])}
    hooks = HookRun(specs, **kwargs)
    with torch.no_grad():
        return model(tokens, hooks), hooks


def tokens(seed: int) -> torch.Tensor:
    return torch.randint(VOCAB, (5, LENGTH), generator=torch.Generator().manual_seed(seed))


def test_the_hooked_forward_is_the_models_and_every_hook_has_its_declared_shape(model: GPT) -> None:
    batch = tokens(1)
    specs = model.hook_specs(LENGTH)
    logits, hooks = run(model, batch, keep=frozenset(s.name for s in specs))
    with torch.no_grad():
        torch.testing.assert_close(logits, model(batch), rtol=1e-5, atol=1e-5)
    assert list(hooks.cache) == [s.name for s in specs]  # in the order the forward passes them
    for spec in specs:
        assert tuple(hooks.cache[spec.name].shape) == (5, *spec.sizes[1:]), spec.name
    assert torch.allclose(hooks.cache["blocks.1.attn.hook_pattern"].sum(-1), torch.ones(5, HEADS, LENGTH))


def test_globs_select_in_the_models_order_and_unknown_names_list_what_there_is(model: GPT) -> None:
    specs = model.hook_specs(LENGTH)
    assert select(specs, ["blocks.*.attn.hook_pattern"]) == ["blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern"]
    with pytest.raises(
        InvalidInput,
        match=re.escape(
            "no hook matches 'blocks.9.hook_resid_post' (did you mean 'blocks.1.hook_resid_post'?); this model has "
            "hook_embed"
        ),
    ):
        select(specs, ["blocks.9.hook_resid_post"])


def test_zero_ablating_a_head_equals_removing_it_by_hand(model: GPT) -> None:
    batch, head, dh = tokens(2), 2, WIDTH // HEADS
    ablated, _ = run(model, batch, edits=[Edit("blocks.1.attn.hook_z", "zero", heads=(head,))])
    by_hand = GPT(VOCAB, 12, LAYERS, WIDTH, HEADS)
    by_hand.load_state_dict(model.state_dict())
    with torch.no_grad():
        by_hand.blocks[1].proj.weight[:, head * dh : (head + 1) * dh] = (
            0  # the head's output never reaches the residual
        )
        torch.testing.assert_close(ablated, by_hand(batch), rtol=1e-5, atol=1e-5)
        assert not torch.allclose(ablated, model(batch), atol=1e-3)


def test_patching_every_position_from_the_source_reproduces_the_source_logits(model: GPT) -> None:
    clean, source = tokens(3), tokens(4)
    source_logits, source_run = run(model, source, keep=frozenset({"blocks.0.hook_resid_post"}))
    patched, _ = run(model, clean, edits=[Edit("blocks.0.hook_resid_post", "patch")], source=source_run.cache)
    assert torch.equal(patched, source_logits)
    one, _ = run(
        model, clean, edits=[Edit("blocks.0.hook_resid_post", "patch", positions=(3,))], source=source_run.cache
    )
    assert torch.equal(one[:, :3], run(model, clean)[0][:, :3])  # a causal model: earlier positions do not see it


def test_set_add_and_mean_edit_only_what_they_select(model: GPT) -> None:
    batch = tokens(5)
    name = "blocks.0.hook_attn_out"
    _, clean = run(model, batch, keep=frozenset({name}))
    vector = torch.arange(WIDTH, dtype=torch.float32)
    _, added = run(model, batch, keep=frozenset({name}), edits=[Edit(name, "add", positions=(1, 4), value=vector)])
    expected = clean.cache[name].clone()
    expected[:, [1, 4]] += vector
    torch.testing.assert_close(added.cache[name], expected)
    _, meaned = run(model, batch, keep=frozenset({name}), edits=[Edit(name, "mean")])
    torch.testing.assert_close(meaned.cache[name], clean.cache[name].mean(0, keepdim=True).expand(5, -1, -1))
    _, set_ = run(model, batch, keep=frozenset({name}), edits=[Edit(name, "set", positions=(0,), value=vector)])
    assert torch.equal(set_.cache[name][:, 0], vector.expand(5, -1)) and torch.equal(
        set_.cache[name][:, 1:], clean.cache[name][:, 1:]
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (Edit("blocks.7.hook_z", "zero"), "no hook 'blocks.7.hook_z'"),
        (Edit("blocks.0.attn.hook_z", "scale"), "unknown edit 'scale'"),
        (Edit("blocks.0.attn.hook_z", "zero", heads=(4,)), "head 4 is out of range for blocks.0.attn.hook_z: it has 4"),
        (Edit("blocks.0.hook_attn_out", "zero", heads=(0,)), "blocks.0.hook_attn_out has no head axis"),
        (Edit("blocks.0.hook_attn_out", "zero", positions=(7,)), "position 7 is out of range"),
        (Edit("blocks.0.hook_attn_out", "add", value=torch.zeros(3)), "does not broadcast to blocks.0.hook_attn_out"),
        (Edit("blocks.0.hook_attn_out", "add", value=torch.zeros(6, 7, 16)), "[6, 7, 16] does not broadcast to"),
        (Edit("blocks.0.hook_attn_out", "set", value=torch.zeros(1, 1, 7, 16)), "does not broadcast to"),
        (Edit("blocks.0.hook_attn_out", "set"), "needs a value"),
        (Edit("blocks.0.hook_attn_out", "patch"), "needs a source batch"),
    ],
)
def test_bad_edits_are_refused_before_anything_runs(model: GPT, edit: Edit, message: str) -> None:
    specs = {s.name: s for s in model.hook_specs(LENGTH)}
    with pytest.raises(InvalidInput, match=re.escape(message)):
        check_edits(specs, [edit], batch=5, has_source=False)
