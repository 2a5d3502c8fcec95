"""PNG figures drawn by probe-cli (headless matplotlib, an optional extra)."""

from __future__ import annotations

from pathlib import Path

from probe_client.types import Attention


def attention_png(result: Attention, path: Path) -> None:
    """One panel per hook: rows are (head, query position), columns key positions, of the first sequence."""
    try:
        import matplotlib
    except ImportError:
        raise ValueError("--png needs matplotlib: pip install 'probe-client[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result.patterns)
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 1.2 + 0.45 * _rows(result, names[0])), squeeze=False)
    tokens = result.tokens[0]
    for ax, name in zip(axes[:, 0], names, strict=True):
        pattern = result.patterns[name][0]  # (head, query, key)
        heads, queries, keys = pattern.shape
        image = ax.imshow(pattern.reshape(heads * queries, keys), aspect="auto", cmap="viridis", vmin=0)
        ax.set_title(name)
        ax.set_xticks(range(keys), [str(t) for t in tokens[:keys]], fontsize=6)
        ax.set_xlabel("key position (token id)")
        labels = [f"h{h} q{result.query_positions[q]}" for h in range(heads) for q in range(queries)]
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _rows(result: Attention, name: str) -> int:
    pattern = result.patterns[name]
    return pattern.shape[1] * pattern.shape[2]
