"""The networks of depth-ushape: plain conv nets, ResNets and linear conv nets, for 1-D or 2-D inputs.

The plain net (`conv`) is the paper's fully convolutional architecture: L blocks of
3-wide convolution, BatchNorm and ReLU at constant width, no residuals, then
global average pooling and a linear head, so depth is the only thing that
changes; `conv-authors` is the authors' own version of it (leaky ReLU, their
init, a last convolution to the classes read out by the mean over positions).
The linear conv net is the authors' linear network (eshnich/deep_cnn,
fully_conv/conv_net.py, without its BatchNorm): L convolutions with zero
("same") padding and no bias, the last one to the classes, then the mean
over positions; the whole network is one linear
operator x ↦ Mx whose norm can be compared across depths, and its kernel
regime is :mod:`linear_cntk`'s B_L. (Circular padding with a dense read-out,
what this net was before, makes every depth's kernel the same.)
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from probe_models.families.depth_ushape.config import DepthUShapeConfig

KERNEL = 3
LEAKY_SLOPE = 0.01  # F.leaky_relu's default, which the authors use


def convolution(dims: int, cin: int, cout: int, *, bias: bool) -> nn.Conv1d | nn.Conv2d:
    """A 3-wide (3×3) convolution with zero ("same") padding, as the authors' nets use."""
    cls = nn.Conv1d if dims == 1 else nn.Conv2d
    return cls(cin, cout, KERNEL, padding=KERNEL // 2, bias=bias)


def batch_norm(dims: int, channels: int) -> nn.Module:
    return nn.BatchNorm1d(channels) if dims == 1 else nn.BatchNorm2d(channels)


class ConvNet(nn.Module):
    def __init__(self, dims: int, channels: int, width: int, depth: int, classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for layer in range(depth):
            cin = channels if layer == 0 else width
            layers += [convolution(dims, cin, width, bias=False), batch_norm(dims, width), nn.ReLU()]
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x)
        return self.head(h.flatten(2).mean(dim=2))


class AuthorsConvNet(nn.Module):
    """The authors' nonlinear conv net (eshnich/deep_cnn, fully_conv/conv_net.py with nonlinear=True): L × (conv3
    without bias + BatchNorm + leaky ReLU, slope 0.01), Kaiming-normal init for leaky ReLU, then a last conv3 to
    the classes (no BatchNorm, linear init) and the mean over positions."""

    def __init__(self, dims: int, channels: int, width: int, depth: int, classes: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(convolution(dims, channels if i == 0 else width, width, bias=False)
                                   for i in range(depth))  # fmt: skip
        self.norms = nn.ModuleList(batch_norm(dims, width) for _ in range(depth))
        self.final = convolution(dims, width, classes, bias=False)
        with torch.no_grad():
            for conv in self.convs:
                assert isinstance(conv, (nn.Conv1d, nn.Conv2d))
                nn.init.kaiming_normal_(conv.weight, a=LEAKY_SLOPE, nonlinearity="leaky_relu")
            nn.init.kaiming_normal_(self.final.weight, nonlinearity="linear")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = F.leaky_relu(norm(conv(x)), LEAKY_SLOPE)
        return self.final(x).flatten(2).mean(dim=2)


class BasicBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus the identity, then ReLU (He et al. 2016)."""

    def __init__(self, dims: int, width: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = convolution(dims, width, width, bias=False), batch_norm(dims, width)
        self.conv2, self.bn2 = convolution(dims, width, width, bias=False), batch_norm(dims, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(h)))


class ResNet(nn.Module):
    def __init__(self, dims: int, channels: int, width: int, depth: int, classes: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(convolution(dims, channels, width, bias=False), batch_norm(dims, width), nn.ReLU())
        self.blocks = nn.Sequential(*(BasicBlock(dims, width) for _ in range(depth)))
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(x))
        return self.head(h.flatten(2).mean(dim=2))


class LinearConvNet(nn.Module):
    """L zero-padded 3-wide convolutions (the last to the classes, width w before it) and a mean over positions."""

    def __init__(self, dims: int, channels: int, width: int, depth: int, classes: int, init_scale: float) -> None:
        super().__init__()
        sizes = [channels, *([width] * (depth - 1)), classes]
        self.convs = nn.Sequential(*(convolution(dims, cin, cout, bias=False)
                                     for cin, cout in itertools.pairwise(sizes)))  # fmt: skip
        with torch.no_grad():  # variance-preserving times init_scale per layer: small init is init_scale < 1
            for conv in self.convs:
                assert isinstance(conv, (nn.Conv1d, nn.Conv2d))
                nn.init.normal_(conv.weight, std=init_scale / math.sqrt(conv.weight[0].numel()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x).flatten(2).mean(dim=2)


def input_shape(config: DepthUShapeConfig) -> tuple[int, ...]:
    """(channels, *spatial) of the model's inputs, known from the config alone."""
    from probe_models.datasets.generated import MNIST1D_LENGTH

    if config.data == "mnist1d":
        return (1, MNIST1D_LENGTH)
    return (1 if config.data == "digits" else 3, config.image_size, config.image_size)


def build(config: DepthUShapeConfig) -> nn.Module:
    shape = input_shape(config)
    channels, dims, classes = shape[0], len(shape) - 1, len(config.class_list)
    if config.model == "conv":
        return ConvNet(dims, channels, config.width, config.depth, classes)
    if config.model == "resnet":
        return ResNet(dims, channels, config.width, config.depth, classes)
    if config.model == "conv-authors":
        return AuthorsConvNet(dims, channels, config.width, config.depth, classes)
    return LinearConvNet(dims, channels, config.width, config.depth, classes, config.init_scale)


@torch.no_grad()
def end_to_end_operator(module: LinearConvNet, shape: tuple[int, ...]) -> torch.Tensor:
    """M [classes, inputs] with f(x) = M x: the network applied to every basis vector of the input space."""
    size = math.prod(shape)
    parameter = next(module.parameters())
    basis = torch.eye(size, dtype=parameter.dtype, device=parameter.device).reshape(size, *shape)
    return module(basis).T
