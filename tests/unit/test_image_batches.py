"""The CIFAR-10 and ImageNet32 readers, on files the tests write in the published batch formats."""

import io
import os
import pickle

import numpy as np
import pytest

from probe_models.datasets.image_batches import CIFAR10, IMAGENET32, load_batches
from probe_models.errors import DataUnavailable


def cifar_batch(n: int, seed: int = 0) -> dict:
    """CIFAR-10's python batch: a pickled dict with bytes keys, labels 0..9 as a list."""
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": [int(x) for x in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img{i}.png".encode() for i in range(n)],
    }


def imagenet32_batch(n: int, seed: int = 0) -> dict:
    """Downsampled ImageNet's batch: a dict with str keys, labels 1..1000, and the training mean."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    return {"data": data, "labels": [int(x) for x in rng.integers(1, 1001, n)], "mean": data.mean(axis=0)}


def write_pickle(path, batch: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def write_npz(path, batch: dict) -> None:
    with open(path, "wb") as f:
        np.savez(f, data=batch["data"], labels=np.asarray(batch["labels"]))


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/probe-pwned-batches",))


def test_cifar10_reads_the_training_and_test_batches_of_a_directory(tmp_path):
    first, second, test = cifar_batch(30, 1), cifar_batch(20, 2), cifar_batch(10, 3)
    write_pickle(tmp_path / "data_batch_1", first)
    write_pickle(tmp_path / "data_batch_2", second)
    write_pickle(tmp_path / "test_batch", test)
    (tmp_path / "batches.meta").write_bytes(b"ignored: not a batch file")
    images, labels = load_batches(str(tmp_path), CIFAR10)
    assert images.shape == (60, 3, 32, 32) and images.dtype == np.uint8
    assert labels.tolist() == first[b"labels"] + second[b"labels"] + test[b"labels"]
    assert np.array_equal(images[0], first[b"data"][0].reshape(3, 32, 32))  # channel-major rows, as published
    single, _ = load_batches(str(tmp_path / "test_batch"), CIFAR10)
    assert np.array_equal(single, test[b"data"].reshape(-1, 3, 32, 32))


def test_imagenet32_reads_pickled_and_npz_batches_with_labels_from_zero(tmp_path):
    train, val = imagenet32_batch(40, 1), imagenet32_batch(15, 2)
    write_pickle(tmp_path / "train_data_batch_1", train)
    write_npz(tmp_path / "val_data.npz", val)
    images, labels = load_batches(str(tmp_path), IMAGENET32)
    assert images.shape == (55, 3, 32, 32)
    assert labels.tolist() == [x - 1 for x in train["labels"] + val["labels"]]
    assert labels.min() >= 0 and labels.max() <= 999


def test_bad_paths_are_unavailable_data_naming_the_path_and_the_format(tmp_path):
    (tmp_path / "text").write_text("not a batch")
    (tmp_path / "empty").mkdir()
    write_pickle(tmp_path / "list", [1, 2, 3])  # type: ignore[arg-type]
    write_pickle(tmp_path / "floats", {b"data": np.zeros((2, 3072)), b"labels": [0, 1]})
    write_pickle(tmp_path / "labels", {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]})
    write_pickle(tmp_path / "count", {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]})
    (tmp_path / "exploit").write_bytes(pickle.dumps({b"data": _Exploit(), b"labels": [0]}))
    buffer = io.BytesIO()
    np.savez(buffer, data=np.array([object()], dtype=object), labels=np.zeros(1))
    (tmp_path / "objects.npz").write_bytes(buffer.getvalue())
    cases = {
        "missing": "does not exist",
        "empty": "holds no batch files",
        "text": "not readable as a batch",
        "list": "not a dict",
        "floats": "'data' is not a uint8 array",
        "labels": "labels out of range",
        "count": "1 labels for 2 images",
        "exploit": "is not allowed",
        "objects.npz": "not readable as a batch",
    }
    for name, problem in cases.items():
        with pytest.raises(DataUnavailable, match=problem) as error:
            load_batches(str(tmp_path / name), CIFAR10)
        assert str(tmp_path / name) in str(error.value)
        assert "expected CIFAR-10 python batches (data_batch_*, test_batch" in str(error.value)
    assert not os.path.exists("/tmp/probe-pwned-batches")
    with pytest.raises(DataUnavailable, match=r"expected ImageNet32 batches .*labels' 1\.\.1000"):
        load_batches(str(tmp_path / "missing"), IMAGENET32)
