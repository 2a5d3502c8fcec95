"""Training sets of the eos family: bundled digits, CIFAR-10's training batches from a local path, synthetic."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from probe_models.datasets.image_batches import CIFAR10_TRAIN, load_batches
from probe_models.errors import ConfigError
from probe_models.families.eos.config import EOSConfig
from probe_models.seeding import derive_seed


@dataclass
class Dataset:
    inputs: torch.Tensor  # float32 [n, features] or [n, channels, height, width]
    targets: torch.Tensor  # float32 one-hot [n, classes]
    labels: torch.Tensor  # int64 [n]
    description: str


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
        raw, labels = load_batches(config.data_path, CIFAR10_TRAIN)
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
