"""ActivationService through the server: the GPT's hooks, served equal to the same run in this process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import grpc
import numpy as np
import pytest
import torch

from probe_client import ProbeError
from probe_models.hooks import HookRun
from probe_server.malloc_tuning import glibc
from tests.conftest import BIN, in_process


def test_list_hooks_gives_every_hook_with_its_shape(client, gpt) -> None:
    hooks = client.list_hooks(gpt, seq_len=10)
    names = [h.name for h in hooks]
    assert names[:3] == ["hook_embed", "hook_pos_embed", "blocks.0.hook_resid_pre"]
    assert names[-1] == "ln_final.hook_normalized" and len(names) == 2 + 2 * 17 + 2
    z = hooks[names.index("blocks.1.attn.hook_z")]
    assert z.axes == ["batch", "pos", "head", "d_head"] and z.shape == [-1, 10, 4, 8] and z.transformer_lens
    assert client.list_hooks(gpt)[0].shape == [-1, 16, 32]  # the longest sequence by default


def test_served_activations_logits_and_loss_equal_the_same_run_in_process(client, server, gpt) -> None:
    tokens = np.random.default_rng(0).integers(0, 20, size=(5, 12))
    served = client.run_with_cache(gpt, ["blocks.*.hook_resid_post", "blocks.0.attn.hook_pattern"], tokens=tokens,
                                   logits=True, loss=True)  # fmt: skip
    assert list(served.activations) == ["blocks.0.attn.hook_pattern", "blocks.0.hook_resid_post",
                                        "blocks.1.hook_resid_post"]  # fmt: skip
    family, model = in_process(server, client, gpt)
    specs = family.hook_specs(model, 12)
    hooks = HookRun({s.name: s for s in specs}, keep=frozenset(served.activations))
    logits, loss = family.run_hooked(model, torch.from_numpy(tokens), hooks)
    for name, array in served.activations.items():
        np.testing.assert_array_equal(array, hooks.cache[name].numpy())
    np.testing.assert_array_equal(served.logits, logits.numpy())
    np.testing.assert_array_equal(served.loss, loss.numpy())
    assert np.array_equal(served.tokens, tokens)


def test_sequences_drawn_from_the_task_are_returned_with_their_tokens(client, gpt) -> None:
    served = client.run_with_cache(gpt, ["hook_embed"], num_sequences=3, seed=7)
    assert served.tokens.shape == (3, 16) and served.activations["hook_embed"].shape == (3, 16, 32)
    again = client.run_with_cache(gpt, ["hook_embed"], num_sequences=3, seed=7)
    assert np.array_equal(again.tokens, served.tokens) and served.logits is None and served.loss is None


@pytest.mark.parametrize(
    ("kwargs", "code", "message"),
    [
        ({"hooks": ["blocks.5.hook_resid_post"]}, "INVALID_ARGUMENT", "no hook matches 'blocks.5.hook_resid_post'"),
        ({"tokens": np.full((2, 17), 1)}, "INVALID_ARGUMENT", "sequences of 17 tokens; this network takes 1 to 16"),
        ({"tokens": np.full((2, 4), 999)}, "INVALID_ARGUMENT", "token ids must lie in [0,"),
        ({"tokens": np.full((2, 4), 1), "num_sequences": 2}, "INVALID_ARGUMENT", "either tokens or num_sequences"),
        ({"tokens": np.full((2, 1), 1), "loss": True}, "INVALID_ARGUMENT", "needs sequences of at least 2 tokens"),
        ({"num_sequences": 60_000, "logits": True}, "RESOURCE_EXHAUSTED", "floats; this server's limit is"),
        ({"num_sequences": 700}, "RESOURCE_EXHAUSTED", "bytes; the message limit is 67,108,864"),  # 70 MB of hooks
    ],
)
def test_bad_requests_are_refused_before_anything_runs(client, gpt, kwargs, code, message) -> None:
    with pytest.raises(ProbeError) as error:
        client.run_with_cache(gpt, **kwargs)
    assert error.value.code == getattr(grpc.StatusCode, code) and message in error.value.message


def test_factual_recalls_transformer_serves_its_hooks_and_the_memories_are_refused(client, server, trained) -> None:
    ckpt = trained.checkpoint_id
    served = client.run_with_cache(ckpt, num_sequences=6, seed=2, logits=True, loss=True)
    assert [h.name for h in client.list_hooks(ckpt)] == list(served.activations)
    family, model = in_process(server, client, ckpt)
    hooks = HookRun({s.name: s for s in family.hook_specs(model, served.tokens.shape[1])},
                    keep=frozenset(served.activations))  # fmt: skip
    logits, _ = family.run_hooked(model, torch.from_numpy(served.tokens), hooks)
    for name, array in served.activations.items():
        np.testing.assert_array_equal(array, hooks.cache[name].numpy())
    attention = client.extract_attention(ckpt, tokens=served.tokens)  # ExtractAttention is the special case
    np.testing.assert_allclose(served.activations["blocks.0.attn.hook_pattern"],
                               attention.patterns["blocks.0.attn.hook_pattern"], rtol=1e-5, atol=1e-7)  # fmt: skip
    S = 8  # SMALL_FACTS: the stored answer of each sequence's (subject, relation), as QueryFacts answers it
    subjects = [int(next(t for t in row if t < S)) for row in served.tokens]
    relations = [int(next(t for t in row if S <= t < 2 * S)) - S for row in served.tokens]
    answers = client.query_facts(ckpt, list(zip(subjects, relations, strict=True))).stored_answers.astype(np.int64)
    expected = torch.nn.functional.cross_entropy(logits, torch.from_numpy(answers), reduction="none")
    np.testing.assert_allclose(served.loss, expected.numpy(), rtol=1e-6)
    memory = client.wait(client.submit_job("factual-recall", {"model": "linear-am", "num_subjects": 4,
                                                              "num_relations": 2}, steps=2).job_id)  # fmt: skip
    with pytest.raises(ProbeError) as error:
        client.list_hooks(memory.checkpoint_id)
    assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "model 'linear-am' has no hook points; the transformer has" in error.value.message


def test_the_cli_lists_hooks_and_saves_activations(client, server, gpt, tmp_path) -> None:
    cli = [str(BIN / "probe-cli"), "--server", server.address]
    listed = json.loads(
        subprocess.run([*cli, "hooks", gpt, "--json"], capture_output=True, text=True, check=True).stdout
    )
    assert [h["name"] for h in listed] == [h.name for h in client.list_hooks(gpt)]
    out = tmp_path / "acts.npz"
    result = subprocess.run(
        [*cli, "activations", gpt, "--hook", "blocks.*.hook_resid_post", "--num-sequences", "2", "--seed", "4",
         "--npz", str(out), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    shown = json.loads(result.stdout)
    assert list(shown["activations"]) == ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]
    saved = np.load(out)
    direct = client.run_with_cache(gpt, ["blocks.*.hook_resid_post"], num_sequences=2, seed=4, logits=True, loss=True)
    for name, array in direct.activations.items():
        np.testing.assert_array_equal(saved[name], array)
    np.testing.assert_array_equal(saved["tokens"], direct.tokens)
    np.testing.assert_array_equal(saved["logits"], direct.logits)
    assert shown["loss"] == pytest.approx(direct.loss.tolist())
    given = subprocess.run([*cli, "activations", gpt, "--hook", "hook_embed", "--tokens", "1,2,3;4,5,6", "--json"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(given.stdout)["activations"]["hook_embed"]["shape"] == [2, 3, 32]


@pytest.mark.skipif(glibc() is None, reason="the server tunes glibc's malloc only")
def test_large_replies_reuse_the_servers_freed_memory(client, server, gpt) -> None:
    """Every hook for 256 sequences is a 26 MB reply; the server builds each in memory it freed before, not in
    fresh pages (glibc's defaults cost about 14,000 page faults per call here, the server's settings under 100)."""
    tokens = client.run_with_cache(gpt, num_sequences=256).tokens
    for _ in range(3):  # the heaps grow to what a call needs at its peak
        client.run_with_cache(gpt, tokens=tokens)
    before = minor_faults(server.process.pid)
    for _ in range(5):
        served = client.run_with_cache(gpt, tokens=tokens)
    per_call = (minor_faults(server.process.pid) - before) / 5
    pages = sum(a.nbytes for a in served.activations.values()) // 4096
    assert per_call < pages / 10, f"{per_call:.0f} page faults per call for a reply of {pages} pages"
    assert "malloc: blocks up to 32 MB from the heap" in server.log_path.read_text()


def minor_faults(pid: int) -> int:
    """The process's minor page faults so far (/proc/<pid>/stat's tenth field)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])
