"""PNG figures drawn by probe-cli (headless matplotlib, an optional extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from probe_client.types import Attention, PatchingResult


def attention_png(result: Attention, path: Path) -> None:
    """One heatmap per (hook, head) of the first sequence (or the batch mean): query rows, key columns.

    Where the checkpoint's task has a latent graph, each query position's true
    parents are marked with red squares.
    """
    plt = _pyplot()
    panels = [(name, head) for name, pattern in result.patterns.items() for head in range(pattern.shape[1])]
    queries, keys = next(iter(result.patterns.values())).shape[2:]
    height = 1.5 + 0.3 * queries
    fig, axes = plt.subplots(len(panels), 1, figsize=(max(6.0, 0.35 * keys + 2), height * len(panels)), squeeze=False)
    tokens = result.tokens[0]
    for ax, (name, head) in zip(axes[:, 0], panels, strict=True):
        pattern = result.patterns[name][0, head]  # (query, key)
        image = ax.imshow(pattern, aspect="auto", cmap="viridis", vmin=0, interpolation="nearest")
        label = result.heads[head] if result.heads else head
        ax.set_title(f"{name} head {label}", fontsize=9)
        ax.set_xticks(range(keys), [f"{k}:{tokens[k]}" for k in range(keys)], fontsize=6, rotation=90)
        ax.set_xlabel("key position:token id", fontsize=8)
        ax.set_yticks(range(queries), [str(q) for q in result.query_positions], fontsize=6)
        ax.set_ylabel("query position", fontsize=8)
        marks = [
            (parent, row)
            for row, position in enumerate(result.query_positions)
            if position < len(result.true_parents)
            for parent in result.true_parents[position]
        ]
        if marks:
            xs, ys = zip(*marks, strict=True)
            ax.scatter(
                xs, ys, marker="s", s=40, facecolors="none", edgecolors="red", linewidths=1.2, label="true parent"
            )
            ax.legend(loc="upper left", fontsize=6)
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sharpness_trace_png(trace: dict[str, Any], path: Path) -> None:
    """S(t) with the 2/η line, and the training loss on a second axis (log scale)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(trace["steps"], trace["sharpness"], color="tab:blue", marker=".", label="sharpness S(t)")
    if trace["threshold"] is not None:
        ax.axhline(trace["threshold"], color="k", ls="--", label=f"2/η = {trace['threshold']:g}")
    ax.set_xlabel("step")
    ax.set_ylabel("top Hessian eigenvalue")
    loss_axis = ax.twinx()
    loss_axis.plot(trace["loss_steps"], trace["loss"], color="tab:red", alpha=0.6, lw=0.8, label="training loss")
    loss_axis.set_yscale("log")
    loss_axis.set_ylabel("training loss")
    lines = ax.get_legend_handles_labels()[0] + loss_axis.get_legend_handles_labels()[0]
    ax.legend(lines, [line.get_label() for line in lines], loc="center right", fontsize=8)
    ax.set_title(f"job {trace['job_id']}: sharpness against 2/η")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def patching_png(result: PatchingResult, path: Path) -> None:
    """The patching heatmap as the literature draws it: one row per hook, one column per position or head, the
    share of the clean-to-corrupt loss gap each patch closes (1: the clean run's loss), on a diverging scale."""
    plt = _pyplot()
    restored = result.restored()
    rows, cells = restored.shape
    fig, ax = plt.subplots(figsize=(max(5.0, 0.4 * cells + 3), 1.2 + 0.45 * rows))
    finite = np.abs(restored[np.isfinite(restored)])
    bound = max(1.0, float(finite.max())) if finite.size else 1.0
    image = ax.imshow(restored, aspect="auto", cmap="RdBu", vmin=-bound, vmax=bound, interpolation="nearest")
    ax.set_yticks(range(rows), result.hooks, fontsize=7)
    ax.set_xticks(range(cells), [str(c) for c in range(cells)], fontsize=7)
    ax.set_xlabel(result.axis)
    fig.colorbar(image, ax=ax, label="loss gap restored")
    ax.set_title(f"activation patching: clean loss {result.clean_loss:.4f}, corrupt {result.corrupt_loss:.4f}",
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ValueError("--png needs matplotlib: pip install 'probe-client[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
