"""Config of the eos family (docs/families/eos.md; Damian, Nichani, Lee 2022; Cohen et al. 2021)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from probe_models.config import param
from probe_models.errors import ConfigError

DIGITS_SIZE = 1797


@dataclass(frozen=True)
class EOSConfig:
    data: str = param(
        "digits",
        "digits: scikit-learn's bundled 8x8 digits, standardized; cifar10: CIFAR-10 python batches at data_path; "
        "synthetic: Gaussian inputs labelled by a random teacher",
        choices=("digits", "cifar10", "synthetic"),
    )
    data_path: str = param(
        "", "cifar10: a data_batch file, or a directory of data_batch_* files (never downloaded)", server_path=True
    )
    num_examples: int = param(1000, "training examples, the first n after a seeded shuffle", min=1, max=60_000)
    num_classes: int = param(10, "synthetic: classes (digits and CIFAR-10 have 10)", min=2, max=100)
    input_dim: int = param(64, "synthetic: input dimension", min=1, max=4096)
    model: str = param("mlp", "mlp: fully connected; cnn: a small convolutional net", choices=("mlp", "cnn"))
    width: int = param(200, "mlp: hidden units per layer; cnn: channels", min=1, max=4096)
    depth: int = param(2, "hidden layers (mlp) or convolutions (cnn)", min=1, max=8)
    activation: str = param("tanh", "tanh or swish (x·sigmoid(x))", choices=("tanh", "swish"))
    lr: float = param(0.2, "η, the fixed GD step; the edge of stability is at sharpness 2/η", min=0.0, max=1000.0)
    sharpness_every: int = param(50, "measure the top Hessian eigenvalue every k steps (0: never)", min=0)
    sharpness_examples: int = param(0, "examples in the sharpness's loss (0: the whole training set)", min=0)

    @property
    def threshold(self) -> float:
        """2/η, the stability threshold of GD on a quadratic."""
        return 2.0 / self.lr

    def check(self) -> None:
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError("lr", f"η must be positive and finite, got {self.lr!r}")
        if self.data == "cifar10" and not self.data_path:
            raise ConfigError("data_path", "data=cifar10 needs data_path (CIFAR-10 python batches on the server)")
        if self.data != "cifar10" and self.data_path:
            raise ConfigError("data_path", f"data_path is for data=cifar10, not data={self.data}")
        if self.sharpness_examples > self.num_examples:
            raise ConfigError("sharpness_examples", "cannot exceed num_examples")
        if self.data == "digits" and self.num_examples > DIGITS_SIZE:
            raise ConfigError("num_examples", f"the digits data set has {DIGITS_SIZE} examples")
        if self.data == "synthetic" and self.model == "cnn":
            raise ConfigError("model", "the cnn needs image data: digits or cifar10")

    def check_files(self) -> None:
        """A path that is not CIFAR-10 batches, or holds too few images, fails the job here, in its worker."""
        if self.data == "cifar10":
            from probe_models.datasets.image_batches import CIFAR10_TRAIN, load_batches

            images, _ = load_batches(self.data_path, CIFAR10_TRAIN)
            if self.num_examples > len(images):
                raise ConfigError("num_examples", f"{self.data_path} holds {len(images)} images")
