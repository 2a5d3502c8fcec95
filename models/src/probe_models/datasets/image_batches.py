"""CIFAR-10 and ImageNet32 in their published batch formats, from a local path.

Both data sets ship as pickled dicts ``{'data': uint8 [n, 3072], 'labels':
[...]}`` (ImageNet32 also as ``.npz`` with the same keys). probe never
unpickles with the standard loader: :class:`_ArrayUnpickler` resolves only
the numpy names an array needs, so a file at a user-given path cannot run
code, and anything else in it is a format error. A missing or malformed
path is the server's problem, not the request's: DataUnavailable
(FAILED_PRECONDITION), naming the path and the format expected.
"""

from __future__ import annotations

import functools
import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from probe_models.errors import DataUnavailable

PIXELS = 3 * 32 * 32
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 spell bytes
}


@dataclass(frozen=True)
class BatchFormat:
    """One published batch format: which files a directory holds and how labels are numbered."""

    name: str
    patterns: tuple[str, ...]  # the batch files of a directory, in reading order
    first_label: int  # CIFAR-10 numbers classes from 0, ImageNet32 from 1
    classes: int

    @property
    def description(self) -> str:
        return (
            f"{self.name} batches ({', '.join(self.patterns)}: pickled dicts or .npz with 'data' uint8 "
            f"[n, {PIXELS}] and 'labels' {self.first_label}..{self.first_label + self.classes - 1}), "
            "a directory of them or one file"
        )


CIFAR10 = BatchFormat("CIFAR-10 python", ("data_batch_*", "test_batch"), 0, 10)
CIFAR10_TRAIN = BatchFormat("CIFAR-10 python", ("data_batch_*",), 0, 10)
IMAGENET32 = BatchFormat("ImageNet32", ("train_data_batch_*", "val_data*"), 1, 1000)


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a data batch")
        return super().find_class(module, name)


def _unavailable(path: Path, fmt: BatchFormat, problem: str) -> DataUnavailable:
    return DataUnavailable(f"{path}: {problem}; expected {fmt.description}")


def _load(path: Path, fmt: BatchFormat) -> dict:
    raw = path.read_bytes()
    if raw[:4] == b"PK\x03\x04":  # an .npz archive
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    batch = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    if not isinstance(batch, dict):
        raise ValueError(f"it holds a {type(batch).__name__}, not a dict")
    return {key.decode() if isinstance(key, bytes) else key: value for key, value in batch.items()}


def read_batch(path: Path, fmt: BatchFormat) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [n, 3, 32, 32], labels int64 [n] from 0) of one batch file."""
    try:
        batch = _load(path, fmt)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, zipfile.BadZipFile) as error:  # fmt: skip
        raise _unavailable(path, fmt, f"not readable as a batch ({error})") from None
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        raise _unavailable(path, fmt, "'data' is not a uint8 array [n, 3072]")
    try:
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise _unavailable(path, fmt, "'labels' are not integers") from None
    if len(labels) != len(data):
        raise _unavailable(path, fmt, f"{len(labels)} labels for {len(data)} images")
    labels = labels - fmt.first_label
    if len(labels) and (labels.min() < 0 or labels.max() >= fmt.classes):
        raise _unavailable(path, fmt, "labels out of range")
    return data.reshape(-1, 3, 32, 32), labels


def batch_files(path_text: str, fmt: BatchFormat) -> list[Path]:
    path = Path(path_text)
    if not path.exists():
        raise _unavailable(path, fmt, "does not exist on the server")
    if not path.is_dir():
        return [path]
    files = [f for pattern in fmt.patterns for f in sorted(path.glob(pattern)) if f.is_file()]
    if not files:
        raise _unavailable(path, fmt, "the directory holds no batch files")
    return files


@functools.lru_cache(maxsize=4)
def _read(stamp: tuple[tuple[str, int, int], ...], fmt: BatchFormat) -> tuple[np.ndarray, np.ndarray]:
    parts = [read_batch(Path(name), fmt) for name, _, _ in stamp]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def load_batches(path_text: str, fmt: BatchFormat) -> tuple[np.ndarray, np.ndarray]:
    """Every image and label under ``path_text``; each file version is read once per process."""
    stamp = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in batch_files(path_text, fmt))
    return _read(stamp, fmt)
