"""Config of the depth-ushape family (docs/families/depth-ushape.md; Nichani, Radhakrishnan, Uhler 2020)."""

from __future__ import annotations

from dataclasses import dataclass

from probe_models.config import param
from probe_models.errors import ConfigError
from probe_models.families.depth_ushape.data import check_available

PAPER = (
    "Nichani, Radhakrishnan, Uhler (2020). "
    "Increasing Depth Leads to U-Shaped Test Risk in Over-parameterized Convolutional Networks"
)

MODELS = ("conv", "resnet", "linear-conv", "conv-authors")
DATA = ("digits", "mnist1d", "cifar10", "imagenet32")
PATH_DATA = ("cifar10", "imagenet32")


@dataclass(frozen=True)
class DepthUShapeConfig:
    model: str = param(
        "conv",
        "conv: L × (conv3 + BatchNorm + ReLU), no residuals, global average pooling, linear head; "
        "resnet: a conv stem and L basic residual blocks, same head; "
        "conv-authors: the authors' conv_net.py, L × (conv3 + BatchNorm + leaky ReLU), then a conv3 to the classes "
        "and the mean over positions; "
        "linear-conv: L zero-padded conv3 layers with no nonlinearity, normalization or bias, the last to the "
        "classes, then the mean over positions (the authors' linear net)",
        choices=MODELS,
    )
    depth: int = param(4, "L, the convolutional layers (resnet: residual blocks)", min=1, max=256)
    width: int = param(32, "w, channels of every convolutional layer", min=1, max=4096)
    data: str = param(
        "digits",
        "digits: scikit-learn's bundled 8×8 digits upsampled to image_size; mnist1d: sequences of length 40 made "
        "offline by mnist1d's make_dataset; cifar10, imagenet32: their published batches at data_path",
        choices=DATA,
    )
    data_path: str = param(
        "", "cifar10/imagenet32: a batch file or a directory of them on the server", server_path=True
    )
    image_size: int = param(16, "digits, cifar10, imagenet32: images are resized (bilinear) to this side",
                            min=4, max=256)  # fmt: skip
    mnist1d_samples: int = param(4000, "mnist1d: sequences generated (all classes together)", min=10, max=1_000_000)
    num_classes: int = param(10, "the first k classes of the data set (ignored when classes is given)", min=2,
                             max=1000)  # fmt: skip
    classes: str = param("", "an explicit list of classes, e.g. 3,8 (empty: the first num_classes)")
    train_per_class: int = param(10, "n, training images per class, drawn with the job's seed", min=1,
                                 max=100_000)  # fmt: skip
    test_per_class: int = param(0, "test images per class from the rest (0: every remaining image)", min=0,
                                max=100_000)  # fmt: skip
    loss: str = param("cross-entropy", "the training loss: cross-entropy, or mse on one-hot targets",
                      choices=("cross-entropy", "mse"))  # fmt: skip
    init_scale: float = param(1.0, "linear-conv: each layer's weights are init_scale times a variance-preserving "
                              "Gaussian (below 1: small init)", min=0.0, max=10.0)  # fmt: skip
    target_loss: float = param(0.0, "a job ends after_fit steps after its training loss first falls below this (0: "
                               "after it first reaches 100% training accuracy)", min=0.0, max=1e3)  # fmt: skip
    lr: float = param(0.001, "the Adam learning rate", min=0.0, max=10.0)
    batch_size: int = param(
        0, "0: every step is one Adam step on the whole training set; > 0: every step is one epoch of Adam steps on "
        "shuffled batches of this size, and the fit is the epoch's running training accuracy (the authors' rule)",
        min=0, max=1_000_000,
    )  # fmt: skip
    after_fit: int = param(
        50, "steps trained after the first step with 100% training accuracy; the job then ends (its steps "
        "bound the whole run)", min=0, max=10_000_000,
    )  # fmt: skip

    @property
    def class_list(self) -> tuple[int, ...]:
        if not self.classes.strip():
            return tuple(range(self.num_classes))
        return parse_classes(self.classes)

    def check(self) -> None:
        chosen = self.class_list
        if len(set(chosen)) != len(chosen):
            raise ConfigError("classes", f"lists a class twice: {self.classes!r}")
        if len(chosen) < 2:
            raise ConfigError("classes", "a classification task needs at least 2 classes")
        if self.data in PATH_DATA and not self.data_path:
            raise ConfigError("data_path", f"data={self.data} needs data_path (its batches on the server)")
        if self.data not in PATH_DATA and self.data_path:
            raise ConfigError("data_path", f"data_path is for cifar10 or imagenet32, not data={self.data}")
        if self.data not in PATH_DATA:
            check_available(self)  # the bundled data's labels: too many classes or samples fail at submit

    def check_files(self) -> None:
        """Classes and samples a data set at data_path lacks fail the job here, in its worker."""
        if self.data in PATH_DATA:
            check_available(self)


def parse_classes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ConfigError("classes", f"must be comma-separated class numbers, e.g. 3,8; got {text!r}") from None
