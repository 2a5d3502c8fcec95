"""Hook points of factual-recall's transformer: the hooked forward is the network's, the EOS-only hooks sit in
the last position's column of a position sweep, and sequences that ask no fact are left out of its means."""

from __future__ import annotations

import torch

from probe_models.config import parse_config
from probe_models.families.factual_recall.config import FactualRecallConfig
from probe_models.families.factual_recall.family import FactualRecall
from probe_models.families.factual_recall.networks import FactTransformer, build_network
from probe_models.hooks import HookRun
from probe_models.patching import patch_sweep

CONFIG = {"num_subjects": 8, "num_relations": 8, "mlp_width": 16}


def loaded():
    config = parse_config(FactualRecallConfig, CONFIG)
    net = build_network(config, 1, 2)
    with torch.no_grad():
        for param in net.parameters():
            param.normal_(std=0.5, generator=torch.Generator().manual_seed(param.numel()))
    family = FactualRecall()
    return family, family.load(config, 1, {k: v.detach().clone() for k, v in net.state_dict().items()})


def test_the_hooked_forward_is_the_networks_and_every_hook_has_its_shape() -> None:
    family, model = loaded()
    assert isinstance(model.module, FactTransformer)
    tokens = family.sample_tokens(model, 6, 0)
    specs = family.hook_specs(model, tokens.shape[1])
    hooks = HookRun({s.name: s for s in specs}, keep=frozenset(s.name for s in specs))
    logits, loss = family.run_hooked(model, tokens, hooks)
    with torch.no_grad():
        torch.testing.assert_close(logits, model.module(tokens), rtol=1e-5, atol=1e-6)
    for spec in specs:
        assert tuple(hooks.cache[spec.name].shape) == (6, *spec.sizes[1:]), spec.name
    assert not any(s.transformer_lens for s in specs) and loss.isfinite().all()


def test_eos_rows_of_a_position_sweep_sit_in_the_last_column_and_factless_sequences_are_skipped() -> None:
    family, model = loaded()
    clean, corrupt = family.sample_tokens(model, 4, 1), family.sample_tokens(model, 4, 2)
    noise = model.config.num_subjects + model.config.num_relations
    clean[3] = noise  # asks no fact: its loss is NaN, and the means leave it out
    sweep = patch_sweep(family, model, clean, corrupt, ["hook_embed", "blocks.0.hook_attn_out"], "position", 64)
    T = clean.shape[1]
    assert sweep.loss[0].isfinite().all() and sweep.loss[1, :-1].isnan().all() and sweep.loss[1, -1].isfinite()
    # patching the attention output at EOS is the whole clean run (nothing else reaches the readout)
    torch.testing.assert_close(sweep.loss[1, T - 1], torch.tensor(sweep.clean_loss), rtol=1e-5, atol=1e-6)
    assert abs(sweep.clean_loss - sweep.corrupt_loss) > 1e-3
    alone = patch_sweep(family, model, clean, corrupt, ["blocks.0.hook_attn_out"], "position", 64)
    assert alone.loss.shape == (1, T) and alone.loss[0, :-1].isnan().all()  # its column is still position T-1
    torch.testing.assert_close(alone.loss[0, -1], sweep.loss[1, -1])
