"""TransformerLens 3.x in a virtual environment of its own (``.venv-tl``), made on first use.

TransformerLens pulls transformers, datasets, accelerate and wandb; none of it belongs in probe's
environment, so the comparison runs TransformerLens in a subprocess of this venv (with the same CPU
build of torch) on files the test writes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-tl"
PINNED = "transformer-lens==3.9.0"


def transformer_lens_python() -> Path | str:
    """The venv's python, or why it could not be made (no package index reachable, say)."""
    python = VENV / "bin" / "python"
    marker = VENV / f".installed-{PINNED}"
    if marker.exists():
        return python
    torch_pin = f"torch=={torch.__version__.split('+')[0]}"  # the CPU build from local disk, as probe's venv has
    steps = [
        [sys.executable, "-m", "venv", str(VENV)],
        [str(python), "-m", "pip", "install", "-q", torch_pin],
        [str(python), "-m", "pip", "install", "-q", PINNED, "safetensors", "numpy"],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            return f"could not install {PINNED} into {VENV}: {result.stderr.strip().splitlines()[-1:]}"
    marker.touch()
    return python
