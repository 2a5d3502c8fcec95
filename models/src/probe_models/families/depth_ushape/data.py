"""The train and test splits of a depth-ushape job.

Every image of the chosen classes forms a pool; the job's seed draws n per
class for training and the test images from the rest, so two jobs that
differ only in depth see the same examples. Inputs are standardized per
channel with the training split's statistics.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from probe_models.datasets.generated import digits, mnist1d
from probe_models.datasets.image_batches import CIFAR10, IMAGENET32, load_batches
from probe_models.errors import ConfigError
from probe_models.seeding import derive_seed

if TYPE_CHECKING:  # the config checks its data set through check_available here
    from probe_models.families.depth_ushape.config import DepthUShapeConfig

MNIST1D_SEED = 42  # the published generator's seed: every job draws from the same pool


@dataclass
class Split:
    inputs: torch.Tensor  # float32 [n, channels, *spatial]
    labels: torch.Tensor  # int64 [n], the position of the class in the config's class list


@dataclass
class Splits:
    train: Split
    test: Split
    description: str


def _resized(images: np.ndarray, size: int) -> np.ndarray:
    if images.shape[-1] == size:
        return images
    resized = F.interpolate(torch.from_numpy(images), size=(size, size), mode="bilinear", align_corners=False)
    return resized.numpy()


def pool(config: DepthUShapeConfig) -> tuple[np.ndarray, np.ndarray, int, str]:
    """(every input, every label, the data set's number of classes, its name), before any selection."""
    if config.data == "digits":
        images, labels = digits()
        return _resized(images, config.image_size), labels, 10, f"scikit-learn digits at {config.image_size}²"
    if config.data == "mnist1d":
        x, labels = mnist1d(config.mnist1d_samples, MNIST1D_SEED)
        return x, labels, 10, f"{config.mnist1d_samples} mnist1d sequences"
    fmt = CIFAR10 if config.data == "cifar10" else IMAGENET32
    raw, labels = load_batches(config.data_path, fmt)
    return raw, labels, fmt.classes, f"{fmt.name} from {config.data_path} at {config.image_size}²"


def check_available(config: DepthUShapeConfig) -> None:
    """Refuse classes the data set lacks and more samples per class than it holds (INVALID_ARGUMENT)."""
    _, labels, classes, name = pool(config)
    chosen = config.class_list
    missing = [c for c in chosen if not 0 <= c < classes]
    if missing:
        raise ConfigError("classes" if config.classes else "num_classes",
                          f"{name} has {classes} classes (0..{classes - 1}); asked for {len(chosen)}: "
                          f"{', '.join(map(str, chosen[:20]))}")  # fmt: skip
    counts = np.bincount(labels, minlength=classes)
    needed = config.train_per_class + max(config.test_per_class, 1)
    short = [c for c in chosen if counts[c] < needed]
    if short:
        c = short[0]
        raise ConfigError(
            "train_per_class" if counts[c] <= config.train_per_class else "test_per_class",
            f"class {c} of {name} has {counts[c]} examples; train_per_class + test_per_class needs {needed} "
            f"(at least one left for testing)",
        )


@functools.lru_cache(maxsize=8)
def splits(config: DepthUShapeConfig, seed: int) -> Splits:
    inputs, labels, _, name = pool(config)
    rng = np.random.default_rng(derive_seed(seed, "split"))
    train_rows, test_rows = [], []
    for c in config.class_list:
        rows = rng.permutation(np.flatnonzero(labels == c))
        train_rows.append(rows[: config.train_per_class])
        rest = rows[config.train_per_class :]
        test_rows.append(rest[: config.test_per_class] if config.test_per_class else rest)
    position = {c: i for i, c in enumerate(config.class_list)}
    train_x = inputs[np.concatenate(train_rows)].astype(np.float32)
    test_x = inputs[np.concatenate(test_rows)].astype(np.float32)
    if config.data in ("cifar10", "imagenet32"):
        train_x, test_x = _resized(train_x / 255.0, config.image_size), _resized(test_x / 255.0, config.image_size)
    axes = (0, *range(2, train_x.ndim))
    mean, std = train_x.mean(axis=axes, keepdims=True), train_x.std(axis=axes, keepdims=True)
    std = np.where(std > 0, std, 1.0)

    def split(x: np.ndarray, rows: list[np.ndarray]) -> Split:
        y = np.array([position[c] for c in labels[np.concatenate(rows)]], dtype=np.int64)
        return Split(torch.from_numpy(((x - mean) / std).astype(np.float32)), torch.from_numpy(y))

    train, test = split(train_x, train_rows), split(test_x, test_rows)
    description = (f"{len(train.labels)} training and {len(test.labels)} test examples of {name}, "
                   f"classes {','.join(map(str, config.class_list))}")  # fmt: skip
    return Splits(train, test, description)
