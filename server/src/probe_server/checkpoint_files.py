"""Checkpoint directories: ``weights.safetensors``, ``optimizer.safetensors``, ``meta.json``.

A checkpoint is written into a hidden temporary directory, every file fsynced,
then renamed into place, so a reader sees either the whole checkpoint or none
of it. Weights are safetensors: nothing here ever unpickles.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

WEIGHTS = "weights.safetensors"
OPTIMIZER = "optimizer.safetensors"
META = "meta.json"
ONNX = "model.onnx"


@dataclass
class CheckpointMeta:
    checkpoint_id: str
    job_id: str
    family: str
    config: dict[str, Any]
    seed: int
    step: int
    metrics: dict[str, float]
    created_at: float
    code_version: str


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def write_checkpoint(
    root: Path, meta: CheckpointMeta, weights: dict[str, torch.Tensor], optimizer: dict[str, torch.Tensor]
) -> int:
    """Write a checkpoint atomically under ``root``; returns its size in bytes."""
    final = root / meta.checkpoint_id
    tmp = root / f".tmp-{meta.checkpoint_id}"
    tmp.mkdir(parents=True)
    save_file(_unshared(weights), str(tmp / WEIGHTS))
    save_file({k: v.detach().contiguous().cpu() for k, v in optimizer.items()}, str(tmp / OPTIMIZER))
    (tmp / META).write_text(json.dumps(asdict(meta), indent=1))
    for name in (WEIGHTS, OPTIMIZER, META):
        _fsync_file(tmp / name)
    _fsync_dir(tmp)
    os.rename(tmp, final)
    _fsync_dir(root)
    return directory_size(final)


def _unshared(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Tensors safetensors can write: tied weights (one storage, two names) are written twice."""
    seen: set[int] = set()
    out = {}
    for name, tensor in weights.items():
        tensor = tensor.detach().contiguous().cpu()
        pointer = tensor.untyped_storage().data_ptr()
        out[name] = tensor.clone() if pointer in seen else tensor
        seen.add(pointer)
    return out


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def read_meta(path: Path) -> CheckpointMeta:
    return CheckpointMeta(**json.loads((path / META).read_text()))


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / WEIGHTS))


def read_optimizer(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / OPTIMIZER))


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def remove_checkpoint(root: Path, checkpoint_id: str) -> None:
    """Delete by renaming aside first, so a crash never leaves half a checkpoint under its id."""
    final = root / checkpoint_id
    if not final.exists():
        return
    trash = root / f".trash-{checkpoint_id}"
    os.rename(final, trash)
    shutil.rmtree(trash)
