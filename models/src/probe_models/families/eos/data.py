"""Training sets of the eos family: bundled digits, CIFAR-10 from a local path, synthetic.

CIFAR-10's python batches are pickles. probe never unpickles with the
standard loader: :class:`_ArrayUnpickler` resolves only the numpy names an
array needs, so a file at a user-given path cannot run code, and anything
else in it is a format error.
"""

from __future__ import annotations

import functools
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from probe_models.errors import ConfigError
from probe_models.families.eos.config import EOSConfig
from probe_models.seeding import derive_seed

CIFAR_PIXELS = 3 * 32 * 32
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 spell bytes
}


@dataclass
class Dataset:
    inputs: torch.Tensor  # float32 [n, features] or [n, channels, height, width]
    targets: torch.Tensor  # float32 one-hot [n, classes]
    labels: torch.Tensor  # int64 [n]
    description: str


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR-10 batch")
        return super().find_class(module, name)


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [n, 3, 32, 32], labels int64 [n]) of one python batch file, or a ConfigError saying why not."""
    try:
        raw = path.read_bytes()
        batch = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise ConfigError("data_path", f"{path} is not a CIFAR-10 python batch: {error}") from None
    if not isinstance(batch, dict):
        raise ConfigError("data_path", f"{path} is not a CIFAR-10 python batch: it holds a {type(batch).__name__}")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != CIFAR_PIXELS:
        raise ConfigError("data_path", f"{path}: 'data' must be a uint8 array [n, {CIFAR_PIXELS}]")
    if labels is None or len(labels) != len(data):
        raise ConfigError("data_path", f"{path}: 'labels' must hold one label per image")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.min() < 0 or labels.max() > 9:
        raise ConfigError("data_path", f"{path}: labels must lie in 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def cifar_files(path_text: str) -> list[Path]:
    path = Path(path_text)
    if not path.exists():
        raise ConfigError("data_path", f"{path} does not exist on the server")
    files = sorted(path.glob("data_batch_*")) if path.is_dir() else [path]
    if not files:
        raise ConfigError("data_path", f"{path} holds no data_batch_* files")
    return files


@functools.lru_cache(maxsize=4)
def _cifar(path_text: str, stamp: tuple[tuple[str, int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    parts = [read_cifar_batch(Path(name)) for name, _, _ in stamp]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def load_cifar(path_text: str) -> tuple[np.ndarray, np.ndarray]:
    """Every image and label under ``path_text``; read once per file version."""
    stamp = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in cifar_files(path_text))
    return _cifar(path_text, stamp)


def _standardize(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    mean = x.mean(axis=axes, keepdims=True)
    std = x.std(axis=axes, keepdims=True)
    return (x - mean) / np.where(std > 0, std, 1.0)


def load_dataset(config: EOSConfig, seed: int) -> Dataset:
    """The first ``num_examples`` of a seeded shuffle, standardized, with one-hot targets."""
    rng = np.random.default_rng(derive_seed(seed, "data"))
    if config.data == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        images, labels = digits.images.astype(np.float64)[:, None], digits.target.astype(np.int64)
        images = _standardize(images.reshape(len(images), -1), (0,)).reshape(images.shape)
        classes, name = 10, "scikit-learn digits"
    elif config.data == "cifar10":
        raw, labels = load_cifar(config.data_path)
        images = _standardize(raw.astype(np.float64) / 255.0, (0, 2, 3))
        classes, name = 10, f"CIFAR-10 from {config.data_path}"
    else:
        teacher = rng.standard_normal((config.input_dim, config.num_classes))
        images = rng.standard_normal((config.num_examples, config.input_dim))
        labels = (images @ teacher).argmax(axis=1)
        classes, name = config.num_classes, "synthetic Gaussian inputs, random linear teacher"
    if config.num_examples > len(images):
        raise ConfigError("num_examples", f"{config.num_examples} exceeds the {len(images)} examples of {name}")
    order = rng.permutation(len(images))[: config.num_examples]
    images, labels = images[order], labels[order]
    if config.model == "mlp":
        images = images.reshape(len(images), -1)
    targets = np.eye(classes)[labels]
    return Dataset(
        torch.from_numpy(images.astype(np.float32)),
        torch.from_numpy(targets.astype(np.float32)),
        torch.from_numpy(labels),
        f"{config.num_examples} examples of {name}",
    )
