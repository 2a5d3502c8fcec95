"""The linear part of the depth-ushape reproduction: the kernel-regime predictor β̂_L per depth, and its checks.

The paper's claim for linear convolutional networks (its Fig. 4): with depth,
the interpolating operator's ℓ2 norm decreases toward that of the
minimum-norm interpolant β_min = Xᵀ(XXᵀ)⁻¹Y, and the operator approaches
β_min, so its test accuracy approaches β_min's. Here β̂_L comes from
:mod:`linear_cntk` exactly (no training), on the same training and test
splits as the conv nets of the 2-class task, one per seed. L starts at 2:
B_1 has rank 9 (nine shifted means), below the n = 10 training images, so
the depth-1 kernel cannot interpolate.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import torch

from probe_models.config import parse_config
from probe_models.families.depth_ushape.config import DepthUShapeConfig
from probe_models.families.depth_ushape.data import splits
from probe_models.families.depth_ushape.linear_cntk import kernel_predictor, kernels_by_depth
from probe_models.reproduction import Check, png, pyplot

KERNEL_DEPTHS = [2, 4, 8, 16, 32, 64, 128]
GUARD = 0.5  # the deepest kernel's distance to β_min is at most half the shallowest's: the kernel depends on depth


def kernel_analysis(
    base_config: dict[str, Any], seeds: int, depths: list[int], padding: str = "zeros"
) -> dict[str, Any]:
    """Per seed and depth: ‖β̂_L‖, ‖β̂_L − β_min‖/‖β_min‖ and test accuracy, beside ‖β_min‖ and its accuracy.

    ``padding="circular"`` gives the depth-independent kernel of a circularly padded net, for the guard's sake.
    """
    config = parse_config(DepthUShapeConfig, base_config)
    per_seed = []
    kernels: dict[int, torch.Tensor] | None = None
    for seed in range(seeds):
        data = splits(config, seed)
        spatial = tuple(data.train.inputs.shape[2:])
        kernels = kernels or kernels_by_depth(spatial, depths, padding)
        targets = torch.nn.functional.one_hot(data.train.labels, len(config.class_list)).double()
        args = (data.train.inputs, targets, data.test.inputs, data.test.labels)
        identity = torch.eye(kernels[depths[0]].shape[0], dtype=torch.float64)
        minimum = kernel_predictor(identity, *args)
        row: dict[str, Any] = {"seed": seed, "min_norm": float(minimum.beta.norm()),
                               "min_norm_accuracy": minimum.test_accuracy, "norm": {}, "distance": {},
                               "accuracy": {}}  # fmt: skip
        for depth in depths:
            fit = kernel_predictor(kernels[depth], *args)
            row["norm"][depth] = float(fit.beta.norm())
            row["distance"][depth] = float((fit.beta - minimum.beta).norm() / minimum.beta.norm())
            row["accuracy"][depth] = fit.test_accuracy
        per_seed.append(row)
    mean = {key: {d: float(np.mean([r[key][d] for r in per_seed])) for d in depths}
            for key in ("norm", "distance", "accuracy")}  # fmt: skip
    return {"depths": depths, "per_seed": per_seed, "mean": mean,
            "min_norm": float(np.mean([r["min_norm"] for r in per_seed])),
            "min_norm_accuracy": float(np.mean([r["min_norm_accuracy"] for r in per_seed]))}  # fmt: skip


def kernel_checks(found: dict[str, Any]) -> list[Check]:
    depths, rows, mean = found["depths"], found["per_seed"], found["mean"]
    first, last = depths[0], depths[-1]
    tolerance = 1e-9  # float64 round-off on equal norms

    def non_increasing(values: list[float]) -> bool:
        return all(b <= a * (1 + tolerance) for a, b in itertools.pairwise(values))

    def decreasing(values: list[float]) -> bool:
        return all(b < a for a, b in itertools.pairwise(values))

    shrinking = all(non_increasing([r["norm"][d] for d in depths])
                    and r["norm"][last] >= r["min_norm"] * (1 - tolerance) for r in rows)  # fmt: skip
    approaching = all(decreasing([r["distance"][d] for d in depths]) for r in rows)
    gap_first = abs(mean["accuracy"][first] - found["min_norm_accuracy"])
    gap_last = abs(mean["accuracy"][last] - found["min_norm_accuracy"])
    norms = ", ".join(f"L={d}: {mean['norm'][d]:.3f}" for d in depths)
    return [
        Check("linear CNTK: the interpolant's norm decreases with depth toward the minimum norm",
              mean["norm"][last], "‖β̂_L‖ non-increasing in L and >= ‖β_min‖ (the paper's Fig. 4)", shrinking,
              f"mean over {len(rows)} training draws: {norms}; ‖β_min‖ = {found['min_norm']:.3f}; every draw "
              f"{'is' if shrinking else 'is not'} non-increasing"),
        Check("linear CNTK: the interpolant approaches the minimum-norm one", mean["distance"][last],
              "‖β̂_L − β_min‖ / ‖β_min‖ decreasing in L", approaching,
              ", ".join(f"L={d}: {mean['distance'][d]:.3f}" for d in depths)),
        Check("linear CNTK: the kernel depends on depth", mean["distance"][last] / mean["distance"][first],
              f"distance at L={last} <= {GUARD} × distance at L={first} (fails for a depth-independent kernel, "
              "e.g. circular padding)", mean["distance"][last] <= GUARD * mean["distance"][first],
              f"{mean['distance'][first]:.3f} at L={first}, {mean['distance'][last]:.3f} at L={last}"),
        Check("linear CNTK: test accuracy approaches the minimum-norm solution's", gap_last,
              "|acc(β̂_L) − acc(β_min)| smaller at the deepest L than at the shallowest", gap_last < gap_first,
              f"accuracy {mean['accuracy'][first]:.3f} at L={first}, {mean['accuracy'][last]:.3f} at L={last}, "
              f"β_min {found['min_norm_accuracy']:.3f}"),
    ]  # fmt: skip


def kernel_figure(found: dict[str, Any], trained: dict[int, float]) -> bytes:
    plt = pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    depths, mean = found["depths"], found["mean"]
    left.plot(depths, [mean["norm"][d] for d in depths], marker="o", label="‖β̂_L‖, linear CNTK")
    if trained:
        left.plot(list(trained), list(trained.values()), marker="s", label="‖M‖_F, trained linear conv nets")
    left.axhline(found["min_norm"], color="k", ls="--", label="‖β_min‖")
    left.set(xscale="log", yscale="log", xlabel="depth L", ylabel="operator norm", title="linear conv nets")
    left.legend(fontsize=8)
    right.plot(depths, [mean["accuracy"][d] for d in depths], marker="o", label="β̂_L")
    right.axhline(found["min_norm_accuracy"], color="k", ls="--", label="β_min")
    right.set(xscale="log", xlabel="depth L", ylabel="test accuracy", title="kernel-regime predictor")
    right.legend(fontsize=8)
    return png(figure)
