"""The kernel regime of linear convolutional networks (Nichani, Radhakrishnan, Uhler 2020, §5).

See docs/families/depth-ushape.md.

A linear conv net of L layers with 3-wide filters, zero ("same") padding, no
bias and a read-out that averages the last layer's map over positions
computes, per class, f(x) = 1ᵀ A_L ⋯ A_1 x / P with A_l = Σ_s w_{l,s} S_s,
the S_s the shifts of the filter's taps (zero where a tap falls outside the
image). With independent zero-mean filters, E f(x) f(x') ∝ xᵀ B_L x' where

    B_0 = 11ᵀ,    B_{l+1} = Σ_s S_s B_l S_sᵀ,

and the network's tangent kernel at initialization is proportional to the
same matrix (every layer contributes L times the same pattern). Kernel
regression with it interpolates with

    β̂_L = B_L Xᵀ (X B_L Xᵀ)⁻¹ Y,

the minimum-B_L⁻¹-norm interpolant. As L grows B_L spreads toward the
identity and β̂_L toward the minimum-ℓ2-norm interpolant Xᵀ(XXᵀ)⁻¹Y: deeper
linear conv nets are smaller operators, which generalize badly where the
minimum-norm solution does. The recursion is the authors'
(eshnich/deep_cnn, precompute_theta/precompute_B.py), B rescaled to unit
Frobenius norm at every layer as there (the predictor does not depend on
the scale). With circular padding every S_s is a permutation that fixes
11ᵀ, so B_L = 9^L 11ᵀ at every depth and the effect cannot appear:
``padding="circular"`` exists to show that.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F

KERNEL = 3
PADDINGS = ("zeros", "circular")


def shift_sum(b: torch.Tensor, spatial: tuple[int, ...], padding: str = "zeros") -> torch.Tensor:
    """Σ_s S_s B S_sᵀ over the 3^dims taps s, for B [P, P] with P = prod(spatial)."""
    dims = len(spatial)
    grid = b.reshape(*spatial, *spatial)
    if padding == "circular":
        out = torch.zeros_like(grid)
        for shift in itertools.product((-1, 0, 1), repeat=dims):
            out += torch.roll(grid, shifts=tuple(-s for s in shift) * 2, dims=tuple(range(2 * dims)))
        return out.reshape(b.shape)
    padded = F.pad(grid, (1, 1) * (2 * dims))
    out = torch.zeros_like(grid)
    for shift in itertools.product((0, 1, 2), repeat=dims):
        window = tuple(slice(s, s + n) for s, n in zip(shift, spatial, strict=True))
        out += padded[window + window]
    return out.reshape(b.shape)


def kernels_by_depth(spatial: tuple[int, ...], depths: list[int], padding: str = "zeros") -> dict[int, torch.Tensor]:
    """B_L [P, P] in float64, unit Frobenius norm, for each L in ``depths``."""
    positions = 1
    for n in spatial:
        positions *= n
    b = torch.ones(positions, positions, dtype=torch.float64)
    b /= b.norm()
    out: dict[int, torch.Tensor] = {}
    for layer in range(max(depths) + 1):
        if layer in depths:
            out[layer] = b.clone()
        b = shift_sum(b, spatial, padding)
        b /= b.norm()
    return out


@dataclass
class KernelFit:
    beta: torch.Tensor  # [C·P, classes], the interpolating linear map, float64
    test_accuracy: float


def kernel_predictor(
    b: torch.Tensor, train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_labels: torch.Tensor
) -> KernelFit:
    """β̂ = B Xᵀ(X B Xᵀ)⁻¹Y with B acting on each input channel's positions; accuracy by argmax on the test inputs.

    ``train_x``, ``test_x``: [n, C, *spatial]; ``train_y``: [n, classes] targets; ``b``: [P, P] (the identity
    gives the minimum-norm interpolant).
    """
    n, channels = train_x.shape[0], train_x.shape[1]
    x = train_x.double().reshape(n, channels, -1)  # [n, C, P]
    bx = torch.einsum("pq,ncq->ncp", b, x)  # B applied to every channel
    gram = torch.einsum("ncp,mcp->nm", x, bx)
    # least squares by SVD: the solve where X B Xᵀ is invertible, the minimum-norm fit where B's rank is below n
    alpha = torch.linalg.lstsq(gram, train_y.double(), driver="gelsd").solution  # [n, classes]
    beta = torch.einsum("ncp,nk->cpk", bx, alpha).reshape(channels * x.shape[2], -1)
    scores = test_x.double().reshape(test_x.shape[0], -1) @ beta
    accuracy = float((scores.argmax(dim=1) == test_labels).double().mean())
    return KernelFit(beta, accuracy)
