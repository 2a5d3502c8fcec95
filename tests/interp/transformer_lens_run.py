"""Run TransformerLens on an exported checkpoint, in TransformerLens's own virtual environment.

``python transformer_lens_run.py EXPORT_DIR TOKENS.npy OUT.npz``: loads ``config.json`` and
``model.safetensors`` into a HookedTransformer, runs ``run_with_cache`` on the tokens and writes the logits
and every cached activation. TransformerLens and its dependencies (transformers, datasets, wandb) live in a
venv of their own (see transformer_lens_env.py), never in probe's.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from transformer_lens import HookedTransformer, HookedTransformerConfig


def main() -> None:
    export, tokens_path, out = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    config = HookedTransformerConfig(**json.loads((export / "config.json").read_text()))
    model = HookedTransformer(config)
    missing, unexpected = model.load_state_dict(load_file(str(export / "model.safetensors")), strict=False)
    weights = [name for name in missing if not name.endswith(("mask", "IGNORE"))]
    if weights or unexpected:
        raise SystemExit(f"the export does not fit HookedTransformer: missing {weights}, unexpected {unexpected}")
    model.eval()
    with torch.no_grad():
        logits, cache = model.run_with_cache(torch.from_numpy(np.load(tokens_path)))
    arrays = {name: value.numpy() for name, value in cache.items()}
    np.savez(out, logits=logits.numpy(), **arrays)


if __name__ == "__main__":
    main()
