"""The lm-finetune GPT's hooks against the real TransformerLens (3.x) on the exported model."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from probe_client import ProbeError
from probe_models.config import parse_config
from probe_models.families.causal_icl.config import CausalICLConfig
from probe_models.families.causal_icl.networks import StandardTransformer, build_network
from probe_models.families.lm_finetune.networks import GPT
from probe_models.families.lm_finetune.transformer_lens import transformer_lens_config, transformer_lens_state
from probe_models.hooks import HookRun
from tests.conftest import BIN
from tests.interp import causal_icl_mapping
from tests.interp.transformer_lens_env import transformer_lens_python


@pytest.fixture(scope="module")
def tl_python() -> Path:
    python = transformer_lens_python()
    if isinstance(python, str):
        pytest.skip(python)
    return python


def run_transformer_lens(tl_python: Path, export: Path, tokens: torch.Tensor, tmp_path: Path) -> Any:
    """TransformerLens's logits and every cached activation of the exported model on ``tokens``."""
    np.save(tmp_path / "tokens.npy", tokens.numpy())
    script = Path(__file__).with_name("transformer_lens_run.py")
    result = subprocess.run([str(tl_python), str(script), str(export), str(tmp_path / "tokens.npy"),
                             str(tmp_path / "tl.npz")], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return np.load(tmp_path / "tl.npz")


def test_every_hook_of_the_exported_gpt_equals_transformer_lens_run_with_cache(tl_python: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = GPT(23, 16, 2, 32, 4).eval()
    with torch.no_grad():  # away from GPT-2's zero biases and unit layer norms, so that a misplaced one shows
        for name, param in model.named_parameters():
            if name.endswith("bias") or "ln" in name:
                param.add_(torch.randn_like(param) * 0.1)
    export = tmp_path / "export"
    export.mkdir()
    (export / "config.json").write_text(json.dumps(transformer_lens_config(model)))
    save_file(transformer_lens_state(model), str(export / "model.safetensors"))
    tokens = torch.randint(23, (6, 16), generator=torch.Generator().manual_seed(1))
    theirs = run_transformer_lens(tl_python, export, tokens, tmp_path)
    specs = model.hook_specs(16)
    hooks = HookRun({s.name: s for s in specs}, keep=frozenset(s.name for s in specs))
    with torch.no_grad():
        logits = model(tokens, hooks)
    np.testing.assert_allclose(logits.numpy(), theirs["logits"], rtol=0, atol=1e-5)
    assert all(s.transformer_lens for s in specs)
    for spec in specs:
        assert spec.name in theirs.files, f"TransformerLens has no {spec.name}"
        np.testing.assert_allclose(
            hooks.cache[spec.name].numpy(), theirs[spec.name], rtol=0, atol=1e-5, err_msg=spec.name
        )


def test_the_causal_icl_standard_transformers_flagged_hooks_equal_transformer_lens(
    tl_python: Path, tmp_path: Path
) -> None:
    """The hooks flagged as TransformerLens's equal run_with_cache on the mapped HookedTransformer; the others
    (after the first block's attention) are ours, and do differ."""
    config = parse_config(CausalICLConfig, {"model": "transformer", "heads": "2,2", "vocab_size": 7, "seq_len": 10})
    net = build_network(config, 4)
    with torch.no_grad():  # away from the zero init of A, the MLP's output and W
        for param in net.parameters():
            param.normal_(std=0.3, generator=torch.Generator().manual_seed(param.numel()))
    assert isinstance(net, StandardTransformer)
    export = tmp_path / "export"
    export.mkdir()
    (export / "config.json").write_text(json.dumps(causal_icl_mapping.transformer_lens_config(net)))
    save_file(causal_icl_mapping.transformer_lens_state(net), str(export / "model.safetensors"))
    tokens = torch.randint(7, (6, 10), generator=torch.Generator().manual_seed(2))
    theirs = run_transformer_lens(tl_python, export, tokens, tmp_path)
    specs = net.hook_specs(10)
    hooks = HookRun({s.name: s for s in specs}, keep=frozenset(s.name for s in specs))
    with torch.no_grad():
        net.hooked(tokens, hooks)
    flagged = [s.name for s in specs if s.transformer_lens]
    assert len(flagged) == 10, flagged  # embed, pos_embed, resid_pre, q, k, v, scores, pattern, z, attn_out
    for name in flagged:
        np.testing.assert_allclose(hooks.cache[name].numpy(), theirs[name], rtol=0, atol=1e-5, err_msg=name)
    for name in ("blocks.0.hook_mlp_out", "blocks.0.hook_resid_post", "blocks.1.attn.hook_pattern"):
        assert np.abs(hooks.cache[name].numpy() - theirs[name]).max() > 1e-2, f"{name} is marked ours but equal"


def test_every_served_hook_equals_transformer_lens_on_the_cli_export(tl_python, server, client, gpt, tmp_path) -> None:
    """`probe-cli ckpt export --format transformer-lens` of a served GPT, loaded by TransformerLens: its
    run_with_cache equals the server's RunWithCache, hook for hook."""
    export = tmp_path / "tl"
    result = subprocess.run(
        [str(BIN / "probe-cli"), "--server", server.address, "ckpt", "export", gpt, "--format", "transformer-lens",
         "-o", str(export), "--json"], capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(result.stdout)["config"]["n_layers"] == 2
    served = client.run_with_cache(gpt, num_sequences=5, seed=3, logits=True)
    theirs = run_transformer_lens(tl_python, export, torch.from_numpy(served.tokens), tmp_path)
    assert len(served.activations) == 38
    np.testing.assert_allclose(served.logits, theirs["logits"], rtol=0, atol=1e-5)
    for name, array in served.activations.items():
        np.testing.assert_allclose(array, theirs[name], rtol=0, atol=1e-5, err_msg=name)


def test_families_that_do_not_map_are_refused_with_the_reason(client, causal_chain, trained, tmp_path) -> None:
    for checkpoint_id, reason in ((causal_chain.checkpoint_id, "concatenates every layer's heads"),
                                  (trained.checkpoint_id, "only EOS queries")):  # fmt: skip
        with pytest.raises(ProbeError) as error:
            client.export_transformer_lens(checkpoint_id, tmp_path / "refused")
        assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION and reason in error.value.message
    assert not (tmp_path / "refused").exists()  # a refused export leaves no directory and no part file
