"""Intervene and PatchSweep through the server: equal to in-process runs with torch hooks, the sweep equal to
its per-cell loop, the induction mechanism picked out on a chain causal-icl checkpoint, and bad input refused."""

from __future__ import annotations

import json
import os
import re
import subprocess

import grpc
import matplotlib.image
import numpy as np
import pytest
import torch

from probe_client import HookEdit, ProbeError
from tests.conftest import BIN, in_process

INVALID = grpc.StatusCode.INVALID_ARGUMENT
ONES = {shape: np.ones(shape, np.int64) for shape in ((2, 12), (4, 12), (4, 1), (1, 5), (2, 1))}
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
HEADS, DH = 4, 8  # the gpt fixture's


def batches(seed: int, shape: tuple[int, int] = (4, 12)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 20, size=shape), rng.integers(0, 20, size=shape)


def test_zero_ablating_a_head_equals_removing_it_with_a_torch_hook(client, server, gpt) -> None:
    tokens, _ = batches(0)
    served = client.intervene(gpt, [HookEdit("blocks.1.attn.hook_z", "zero", heads=[2])], tokens=tokens, logits=True)
    _, model = in_process(server, client, gpt)
    proj = model.module.blocks[1].proj

    def drop_head(module: torch.nn.Module, inputs: tuple[torch.Tensor]) -> tuple[torch.Tensor]:
        z = inputs[0].clone()
        z[..., 2 * DH : 3 * DH] = 0  # head 2's columns of the attention output, before W_O
        return (z,)

    handle = proj.register_forward_pre_hook(drop_head)
    try:
        with torch.no_grad():
            by_hand = model.module(torch.from_numpy(tokens))
    finally:
        handle.remove()
    np.testing.assert_allclose(served.logits, by_hand.numpy(), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(served.clean_logits, model.module(torch.from_numpy(tokens)).numpy(), atol=1e-5)
    assert not np.allclose(served.logits, served.clean_logits, atol=1e-3) and served.loss.shape == (4,)


def test_patching_every_position_reproduces_the_source_logits_exactly(client, gpt) -> None:
    tokens, source = batches(1)
    served = client.intervene(gpt, [HookEdit("blocks.0.hook_resid_post", "patch")], tokens=tokens,
                              source_tokens=source, logits=True, loss_on_source=True)  # fmt: skip
    source_run = client.run_with_cache(gpt, ["hook_embed"], tokens=source, logits=True, loss=True)
    np.testing.assert_array_equal(served.logits, source_run.logits)
    np.testing.assert_array_equal(served.loss, source_run.loss)
    assert np.array_equal(served.source_tokens, source) and not np.array_equal(served.clean_loss, served.loss)


def test_set_add_and_mean_edits_and_cached_activations_equal_the_in_process_run(client, server, gpt) -> None:
    from probe_models.hooks import Edit
    from probe_models.patching import intervene

    tokens, _ = batches(2)
    vector = np.linspace(-1, 1, 32, dtype=np.float32)
    edits = [HookEdit("hook_embed", "add", positions=[0, 3], value=vector),
             HookEdit("blocks.0.attn.hook_pattern", "mean", heads=[1]),
             HookEdit("blocks.1.hook_mlp_out", "set", positions=[5], value=np.float32(0.5))]  # fmt: skip
    served = client.intervene(gpt, edits, tokens=tokens, hooks=["blocks.*.hook_resid_post"], logits=True)
    family, model = in_process(server, client, gpt)
    local_edits = [Edit(e.hook, e.kind, tuple(e.positions), tuple(e.heads),
                        None if e.value is None else torch.as_tensor(e.value)) for e in edits]  # fmt: skip
    clean, edited = intervene(family, model, torch.from_numpy(tokens), local_edits, served.activations)
    np.testing.assert_array_equal(served.logits, edited.logits.numpy())
    np.testing.assert_array_equal(served.loss, edited.loss.numpy())
    np.testing.assert_array_equal(served.clean_loss, clean.loss.numpy())
    assert list(served.activations) == ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]
    for name, array in served.activations.items():
        np.testing.assert_array_equal(array, edited.cache[name].numpy())


@pytest.mark.parametrize("axis", ["head", "position"])
def test_the_sweeps_matrix_equals_the_per_cell_loop(client, gpt, axis) -> None:
    clean, corrupt = batches(3, (3, 8))
    sweep = client.patch_sweep(gpt, ["blocks.*.attn.hook_z"], axis, clean_tokens=clean, corrupt_tokens=corrupt)
    cells = HEADS if axis == "head" else 8
    assert sweep.hooks == ["blocks.0.attn.hook_z", "blocks.1.attn.hook_z"] and sweep.loss.shape == (2, cells)
    for row, hook in enumerate(sweep.hooks):
        for cell in range(cells):
            at = {"heads": [cell]} if axis == "head" else {"positions": [cell]}
            one = client.intervene(gpt, [HookEdit(hook, "patch", **at)], tokens=corrupt, source_tokens=clean,
                                   loss_on_source=True)  # fmt: skip
            assert sweep.loss[row, cell] == pytest.approx(float(one.loss.mean()), rel=1e-6), (hook, cell)
    whole = client.intervene(gpt, [HookEdit("blocks.0.hook_resid_pre", "patch")], tokens=corrupt,
                             source_tokens=clean, loss_on_source=True)  # fmt: skip
    assert sweep.clean_loss == pytest.approx(float(whole.loss.mean()), rel=1e-6)  # patching all of it is clean
    assert sweep.corrupt_loss == pytest.approx(float(whole.clean_loss.mean()), rel=1e-6)


def induction_batches(seed: int, query_gap: int = 7, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Chain sequences (S=10, T=20) whose query token q (last) occurs once before, at position J, followed by a;
    the corrupt copy changes the token at J, so that nothing before the query predicts a."""
    rng, S, T, J = np.random.default_rng(seed), 10, 20, query_gap
    clean = np.zeros((size, T), dtype=np.int64)
    corrupt = clean.copy()
    for b in range(size):
        q = int(rng.integers(S))
        others = [x for x in range(S) if x != q]
        sequence = rng.choice(others, size=T)
        a = int(rng.choice(others))
        sequence[J], sequence[J + 1], sequence[T - 1] = q, a, q
        clean[b] = sequence
        corrupt[b] = sequence
        corrupt[b, J] = rng.choice([x for x in others if x != a])
    return clean, corrupt


def test_the_patching_sweep_picks_out_the_induction_mechanism(client, causal_chain) -> None:
    """The first layer's previous-token head (blocks.0) at J+1, where it writes "the token before me was q", and
    the second layer's induction head (blocks.1) at the query, which reads a from there, restore the clean loss;
    nothing else moves it."""
    ckpt, J, T = causal_chain.checkpoint_id, 7, 20
    clean, corrupt = induction_batches(5, J)
    sweep = client.patch_sweep(ckpt, ["blocks.*.attn.hook_z"], "position", clean_tokens=clean, corrupt_tokens=corrupt)
    restored = sweep.restored()
    assert sweep.corrupt_loss > sweep.clean_loss + 0.3, (sweep.clean_loss, sweep.corrupt_loss)
    assert int(np.argmax(restored[0])) == J + 1 and int(np.argmax(restored[1])) == T - 1, restored
    assert restored[0, J + 1] > 0.9 and restored[1, T - 1] > 0.9, restored
    others = np.ones_like(restored, dtype=bool)
    others[0, J + 1] = others[1, T - 1] = False
    assert np.abs(restored[others]).max() < 0.1, restored
    heads = client.patch_sweep(ckpt, ["blocks.*.attn.hook_z"], "head", clean_tokens=clean, corrupt_tokens=corrupt)
    assert (heads.restored() > 0.9).all()  # each layer's one head carries its step of the mechanism


def test_probe_cli_patch_draws_the_heatmap(client, server, causal_chain, tmp_path) -> None:
    clean, corrupt = induction_batches(6, size=3)
    inline = {name: ";".join(",".join(map(str, row)) for row in ids) for name, ids in
              (("clean", clean), ("corrupt", corrupt))}  # fmt: skip
    np.save(tmp_path / "corrupt.npy", corrupt)
    png = tmp_path / "patching.png"
    result = subprocess.run(
        [str(BIN / "probe-cli"), "--server", server.address, "patch", causal_chain.checkpoint_id,
         "--clean", inline["clean"], "--corrupt", str(tmp_path / "corrupt.npy"), "--png", str(png), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    shown = json.loads(result.stdout)
    direct = client.patch_sweep(causal_chain.checkpoint_id, clean_tokens=clean, corrupt_tokens=corrupt,
                                axis="position")  # fmt: skip
    np.testing.assert_allclose(np.array(shown["restored"]), direct.restored(), rtol=1e-6)
    assert shown["hooks"] == ["blocks.0.attn.hook_z", "blocks.1.attn.hook_z"]
    plain = subprocess.run(
        [str(BIN / "probe-cli"), "--server", server.address, "patch", causal_chain.checkpoint_id,
         "--clean", inline["clean"], "--corrupt", inline["corrupt"]],
        capture_output=True, text=True, check=True, env={**os.environ, "COLUMNS": "80"},
    ).stdout  # fmt: skip
    assert re.search(r"blocks\.0\.attn\.hook_z\s+│\s+position 8: (1\.00|0\.9\d)", plain), plain  # readable at 80
    assert re.search(r"blocks\.1\.attn\.hook_z\s+│\s+position 19: (1\.00|0\.9\d)", plain), plain
    image = matplotlib.image.imread(png)
    assert image.ndim == 3 and image.shape[0] > 100 and image.std() > 0.05  # a drawn figure, not a blank canvas
    bad = subprocess.run(
        [str(BIN / "probe-cli"), "--server", server.address, "patch", causal_chain.checkpoint_id,
         "--clean", "1,2;3", "--corrupt", "1,2;3,4"], capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode != 0 and "same number of tokens" in bad.stderr


@pytest.mark.parametrize(
    ("call", "code", "message"),
    [
        (
            {"edits": [HookEdit("blocks.7.zz", "zero")]},
            INVALID,
            "no hook 'blocks.7.zz'; this model has hook_",
        ),
        ({"edits": [HookEdit("blocks.1.attn.hook_zz", "zero")]}, INVALID, "(did you mean 'blocks.1.attn.hook_z'?)"),
        ({"edits": [HookEdit("blocks.0.attn.hook_z", "zero", heads=[4])]}, INVALID, "head 4 is out of range"),
        ({"edits": [HookEdit("blocks.0.hook_resid_pre", "zero", positions=[12])]}, INVALID, "position 12 is out of"),
        ({"edits": [HookEdit("blocks.0.hook_resid_pre", "zero", heads=[0])]}, INVALID, "has no head axis"),
        ({"edits": [HookEdit("hook_embed", "add", value=np.ones(31, np.float32))]}, INVALID, "does not broadcast"),
        ({"edits": [HookEdit("hook_embed", "set")]}, INVALID, "needs a value"),
        ({"edits": [HookEdit("hook_embed", "patch")]}, INVALID, "needs source_tokens"),
        ({"edits": []}, INVALID, "at least one edit"),
        (
            {"edits": [HookEdit("hook_embed", "patch")], "source_tokens": ONES[2, 12]},
            INVALID,
            "must have",
        ),
        ({"edits": [HookEdit("hook_embed", "zero")], "hooks": ["nope"]}, INVALID, "no hook matches 'nope'"),
        ({"edits": [HookEdit("hook_embed", "add", value=np.array([np.nan], np.float32))]}, INVALID, "not finite"),
        ({"edits": [HookEdit("hook_embed", "set", value=np.array([1e300]))]}, INVALID, "not finite (as float32)"),
        ({"edits": [HookEdit("hook_embed", "zero", value=np.ones(1))]}, INVALID, "takes no value"),
        ({"edits": [HookEdit("hook_embed", "zero")] * 1025}, INVALID, "1025 edits; a run takes at most 1024"),
        ({"edits": [HookEdit("hook_embed", "zero", positions=list(range(12)) * 2)]}, INVALID, "24 positions chosen"),
        (
            {"edits": [HookEdit("hook_embed", "zero")], "source_tokens": ONES[4, 12]},
            INVALID,
            "read only",
        ),
        (
            {"edits": [HookEdit("hook_embed", "zero")], "tokens": ONES[4, 1]},
            INVALID,
            "at least 2 tokens",
        ),
        ({"edits": [HookEdit("hook_embed", "mean")], "tokens": ONES[1, 5]}, INVALID, "at least 2 seq"),
        ({"edits": [HookEdit("blocks.*.hook_z", "zero")]}, INVALID, "an edit names one hook exactly, not a pattern"),
    ],
)
def test_bad_interventions_are_refused(client, gpt, call, code, message) -> None:
    tokens, _ = batches(4)
    with pytest.raises(ProbeError) as error:
        client.intervene(gpt, **{"tokens": tokens, **call})
    assert error.value.code == code and message in error.value.message, error.value.message


@pytest.mark.parametrize(
    ("call", "code", "message"),
    [
        ({"hooks": ["blocks.*.hook_resid_post"], "axis": "head"}, INVALID, "has no head axis"),
        ({"corrupt_tokens": np.ones((4, 11), np.int64)}, INVALID, "must have one shape"),
        ({"corrupt_tokens": None}, INVALID, "give both clean_tokens and corrupt_tokens"),
        ({"hooks": ["blocks.9.*"]}, INVALID, "no hook matches 'blocks.9.*'"),
        (
            {"clean_tokens": ONES[2, 1], "corrupt_tokens": ONES[2, 1]},
            INVALID,
            "at least 2",
        ),
    ],
)
def test_bad_sweeps_are_refused(client, gpt, call, code, message) -> None:
    clean, corrupt = batches(5)
    kwargs = {"clean_tokens": clean, "corrupt_tokens": corrupt, "axis": "position", **call}
    with pytest.raises(ProbeError) as error:
        client.patch_sweep(gpt, **kwargs)
    assert error.value.code == code and message in error.value.message, error.value.message


def test_the_client_refuses_float_token_ids_rather_than_rounding_them(client, gpt) -> None:
    tokens, _ = batches(4)
    with pytest.raises(ValueError, match="token ids must be integers, got dtype float64"):
        client.intervene(gpt, [HookEdit("hook_embed", "zero")], tokens=tokens + 0.7)
    with pytest.raises(ValueError, match="token ids must be integers"):
        client.patch_sweep(gpt, clean_tokens=tokens + 0.5, corrupt_tokens=tokens)


def test_requests_too_large_for_the_reply_or_memory_are_refused_before_they_run(client, gpt) -> None:
    with pytest.raises(ProbeError) as error:
        client.intervene(gpt, [HookEdit("hook_embed", "zero")], num_sequences=60_000, hooks=["*"])
    assert error.value.code == EXHAUSTED and "floats; this server's limit is" in error.value.message
    with pytest.raises(ProbeError) as error:
        client.patch_sweep(gpt, num_sequences=60_000, seed=1, corrupt_seed=2)
    assert error.value.code == EXHAUSTED
    with pytest.raises(ProbeError) as error:  # 608 cells x 6,000 sequences x 16 tokens: hours of forward passes
        client.patch_sweep(gpt, ["*"], "position", num_sequences=6000, seed=1, corrupt_seed=2)
    assert error.value.code == EXHAUSTED and "58,368,000 tokens to run" in error.value.message
    with pytest.raises(ProbeError) as error:
        client.intervene(gpt, [HookEdit("hook_embed", "patch")], num_sequences=2, seed=3, source_seed=3)
    assert error.value.code == INVALID and "different seed and source_seed" in error.value.message
    assert client.health() == "SERVING"
