"""The lm-finetune GPT's hooks against the real TransformerLens (3.x) on the exported model."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from probe_models.families.lm_finetune.networks import GPT
from probe_models.families.lm_finetune.transformer_lens import transformer_lens_config, transformer_lens_state
from probe_models.hooks import HookRun
from tests.interp.transformer_lens_env import transformer_lens_python


@pytest.fixture(scope="module")
def tl_python() -> Path:
    python = transformer_lens_python()
    if isinstance(python, str):
        pytest.skip(python)
    return python


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
    np.save(tmp_path / "tokens.npy", tokens.numpy())
    script = Path(__file__).with_name("transformer_lens_run.py")
    result = subprocess.run([str(tl_python), str(script), str(export), str(tmp_path / "tokens.npy"),
                             str(tmp_path / "tl.npz")], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    theirs = np.load(tmp_path / "tl.npz")
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
