"""Checkpoint directories: ``weights.safetensors``, ``optimizer.safetensors``, ``meta.json``.

A checkpoint is written into a hidden temporary directory, every file fsynced,
then renamed into place, so a reader sees either the whole checkpoint or none
of it; a write that fails removes its temporary directory. Weights are
safetensors: nothing here ever unpickles.

``meta.json`` holds the SHA-256 of every other file (the ONNX graph's once it
is exported), and every read checks it: a flipped byte or a truncated file on
disk is :class:`DataLoss` naming the checkpoint and the file, never a model
served from damaged weights. Checkpoints written before the digests existed
are read unverified; their damage still surfaces as DataLoss when it breaks
the format.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save_file

from probe_server.checkpoint_names import META, OPTIMIZER, TRANSFERRED, WEIGHTS
from probe_server.errors import DataLoss, NotFoundError, StorageFull

log = logging.getLogger("probe.checkpoints")


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
    sha256: dict[str, str] = field(default_factory=dict)  # file name -> hex digest; empty before digests existed


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
    """Write a checkpoint atomically under ``root``, with its files' digests in meta.json; returns its size."""
    final = root / meta.checkpoint_id
    tmp = root / f".tmp-{meta.checkpoint_id}"
    tmp.mkdir(parents=True)
    try:
        save_file(_unshared(weights), str(tmp / WEIGHTS))
        save_file({k: v.detach().contiguous().cpu() for k, v in optimizer.items()}, str(tmp / OPTIMIZER))
        digests = {name: sha256_file(tmp / name) for name in (WEIGHTS, OPTIMIZER)}
        (tmp / META).write_text(json.dumps(asdict(replace(meta, sha256=digests)), indent=1))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a full disk or a kill leaves no half-written directory
        raise
    return _commit(tmp, final)


def _commit(tmp: Path, final: Path) -> int:
    """Make a written temporary directory the checkpoint: its files and it fsynced, then renamed into place."""
    try:
        for name in (WEIGHTS, OPTIMIZER, META):
            _fsync_file(tmp / name)
        _fsync_dir(tmp)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(final.parent)
    return directory_size(final)


def checkpoint_bytes(path: Path) -> dict[str, bytes]:
    """A checkpoint's files as bytes, each checked against its digest: what goes to a worker on another node."""
    read_meta(path)
    return {WEIGHTS: verified_bytes(path, WEIGHTS), OPTIMIZER: verified_bytes(path, OPTIMIZER),
            META: (path / META).read_bytes()}  # fmt: skip


def place_checkpoint(root: Path, checkpoint_id: str, files: dict[str, bytes]) -> int:
    """Write a checkpoint that arrived as bytes from a worker elsewhere, atomically, after checking every file
    against the digests its meta.json carries; returns its size. One already in place is kept (a message
    delivered again after a restart)."""
    final = root / checkpoint_id
    if final.is_dir():
        return directory_size(final)
    if set(files) != set(TRANSFERRED):
        raise DataLoss(f"checkpoint {checkpoint_id} arrived with files {sorted(files)}, not {list(TRANSFERRED)}")
    try:
        meta = CheckpointMeta(**json.loads(files[META]))
    except (UnicodeDecodeError, ValueError, TypeError) as error:
        raise DataLoss(f"checkpoint {checkpoint_id} arrived with an unreadable {META} ({error})") from None
    for name in (WEIGHTS, OPTIMIZER):
        if meta.checkpoint_id != checkpoint_id or sha256_bytes(files[name]) != meta.sha256.get(name):
            raise DataLoss(f"checkpoint {checkpoint_id}: {name} does not match its digest after the transfer")
    tmp = root / f".tmp-{checkpoint_id}"
    tmp.mkdir(parents=True)
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _commit(tmp, final)


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


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_meta(path: Path) -> CheckpointMeta:
    """The checkpoint's meta.json; DataLoss if it is missing or unreadable, NotFoundError if the whole checkpoint
    is (deleted while a request read it)."""
    if not path.is_dir():
        raise NotFoundError(f"no checkpoint {path.name} (deleted)")
    try:
        return CheckpointMeta(**json.loads((path / META).read_text()))
    except FileNotFoundError:
        raise DataLoss(f"checkpoint {path.name}: {META} is missing") from None
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as error:
        raise DataLoss(f"checkpoint {path.name}: {META} is unreadable ({type(error).__name__})") from None


def verified_bytes(path: Path, name: str) -> bytes:
    """The bytes of one file of the checkpoint at ``path``, checked against the digest meta.json records."""
    expected = read_meta(path).sha256.get(name)
    try:
        data = (path / name).read_bytes()
    except FileNotFoundError:
        if not path.is_dir():
            raise NotFoundError(f"no checkpoint {path.name} (deleted)") from None
        raise DataLoss(f"checkpoint {path.name}: {name} is missing") from None
    except OSError as error:
        raise DataLoss(f"checkpoint {path.name}: {name} cannot be read ({error.strerror})") from None
    if expected is not None and sha256_bytes(data) != expected:
        raise DataLoss(
            f"checkpoint {path.name}: {name} does not match the SHA-256 in {META} "
            f"({len(data)} bytes on disk; damaged or truncated): restore it from a backup or delete the checkpoint"
        )
    return data


def _tensors(path: Path, name: str) -> dict[str, torch.Tensor]:
    try:
        return load(verified_bytes(path, name))
    except SafetensorError as error:
        raise DataLoss(f"checkpoint {path.name}: {name} is not a readable safetensors file ({error})") from None


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    return _tensors(path, WEIGHTS)


def read_optimizer(path: Path) -> dict[str, torch.Tensor]:
    return _tensors(path, OPTIMIZER)


def add_file(path: Path, name: str, data: bytes) -> None:
    """Add a derived file (the ONNX graph) to a checkpoint: the file, then its digest in meta.json, each atomic.

    If the digest cannot be recorded the file is removed again, so it is never served unverified; a full disk
    is :class:`StorageFull`.
    """
    meta = read_meta(path)
    try:
        write_atomic(path / name, data)
        try:
            digests = {**meta.sha256, name: sha256_bytes(data)}
            write_atomic(path / META, json.dumps(asdict(replace(meta, sha256=digests)), indent=1).encode())
        except BaseException:
            (path / name).unlink(missing_ok=True)
            raise
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull(f"the server's disk is full: checkpoint {path.name}'s {name} was not written") from None
        raise


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


LEFTOVER_PREFIXES = (".tmp-", ".trash-")  # what an interrupted write or delete leaves under the checkpoint root


def unrecorded_checkpoints(root: Path, recorded: set[str]) -> Iterator[tuple[Path, CheckpointMeta]]:
    """Checkpoints on disk that the database lacks (written just before a server died), with their meta.json.

    On the way, what interrupted writes and deletes left is removed, and so is a directory whose meta.json
    cannot be read: neither was ever a whole checkpoint.
    """
    for path in sorted(root.iterdir()):
        if path.name.startswith(LEFTOVER_PREFIXES):
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir() and path.name not in recorded:
            try:
                yield path, read_meta(path)
            except DataLoss as error:
                log.warning("removing unreadable checkpoint directory %s: %s", path, error)
                shutil.rmtree(path, ignore_errors=True)


def remove_checkpoint(root: Path, checkpoint_id: str) -> None:
    """Delete by renaming aside first, so a crash never leaves half a checkpoint under its id."""
    final = root / checkpoint_id
    if not final.exists():
        return
    trash = root / f".trash-{checkpoint_id}"
    os.rename(final, trash)
    shutil.rmtree(trash)
