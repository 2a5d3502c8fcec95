"""Interpretability commands: hooks (a checkpoint's hook points) and activations (run_with_cache)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from probe_client.cli.app import app, connect, handles_errors
from probe_client.cli.options import JsonFlag
from probe_client.cli.output import console, print_json, table


@app.command()
@handles_errors
def hooks(
    checkpoint_id: str,
    seq_len: Annotated[int, typer.Option(help="the shapes for this many tokens; 0: the longest", min=0)] = 0,
    as_json: JsonFlag = False,
) -> None:
    """List a checkpoint's hook points: names as TransformerLens gives them, axes and shapes."""
    with connect() as client:
        found = client.list_hooks(checkpoint_id, seq_len)
    if as_json:
        print_json(found)
        return
    rows = [[h.name, " ".join(h.axes), "x".join("B" if s < 0 else str(s) for s in h.shape),
             "yes" if h.transformer_lens else "ours"] for h in found]  # fmt: skip
    table(f"hooks of {checkpoint_id}", ["hook", "axes", "shape", "as TransformerLens"], rows)


@app.command()
@handles_errors
def activations(
    checkpoint_id: str,
    hook: Annotated[list[str] | None, typer.Option(help="hook name or glob, e.g. 'blocks.*.hook_resid_post'")] = None,
    num_sequences: Annotated[int, typer.Option(help="sequences drawn from the checkpoint's task", min=1)] = 4,
    seed: Annotated[int, typer.Option(help="seed of the drawn sequences", min=0)] = 0,
    tokens: Annotated[str | None, typer.Option(help="your own token ids instead: a .npy file or '3,1,4;1,5,9'")] = None,
    npz: Annotated[Path | None, typer.Option(help="write every activation, the tokens, logits and loss here")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a checkpoint on sequences of its task (or given ids) and show (or save) its activations at the hooks."""
    ids = _token_ids(tokens, "--tokens") if tokens is not None else None
    with connect() as client:
        cache = client.run_with_cache(
            checkpoint_id, hook or [], tokens=ids, num_sequences=0 if ids is not None else num_sequences, seed=seed,
            logits=npz is not None, loss=True,
        )  # fmt: skip
    if npz is not None:
        arrays = {"tokens": cache.tokens, **cache.activations}
        if cache.logits is not None:
            arrays["logits"] = cache.logits
        if cache.loss is not None:
            arrays["loss"] = cache.loss
        with open(npz, "wb") as out:
            np.savez(out, **arrays)  # type: ignore[arg-type]  # numpy 2's stub reads the names as its allow_pickle
    summary: dict[str, dict[str, Any]] = {name: _summary(a) for name, a in cache.activations.items()}
    if as_json:
        loss = None if cache.loss is None else [float(v) for v in cache.loss]
        print_json({"activations": summary, "loss": loss, "npz": str(npz) if npz else None})
        return
    rows = [
        [name, "x".join(map(str, s["shape"])), f"{s['mean']:.4g}", f"{s['std']:.4g}"] for name, s in summary.items()
    ]
    table(f"activations of {checkpoint_id}", ["hook", "shape", "mean", "std"], rows)
    if cache.loss is not None:
        console.print(f"loss per sequence: {', '.join(f'{v:.4f}' for v in cache.loss)}")
    if npz is not None:
        console.print(f"wrote {npz}")


def _summary(array: np.ndarray) -> dict[str, Any]:
    """Shape, and mean and std over the finite values (attention scores hold -inf where the mask is)."""
    finite = array[np.isfinite(array)]
    mean, std = (float(finite.mean()), float(finite.std())) if finite.size else (float("nan"), float("nan"))
    return {"shape": list(array.shape), "mean": mean, "std": std, "finite": int(finite.size)}


def _token_ids(text: str, option: str) -> np.ndarray:
    """Token ids from ``--clean``/``--corrupt``: a .npy file of [batch, pos] ids, or inline ids, commas between
    tokens and semicolons between sequences ("3,1,4;1,5,9")."""
    if text.endswith(".npy"):
        ids = np.load(text, allow_pickle=False)
        if ids.dtype.kind not in "iu":
            raise ValueError(f"{option}: {text} holds {ids.dtype.name}; token ids must be integers")
        return ids.astype(np.int64)
    try:
        rows = [[int(t) for t in row.split(",")] for row in text.split(";") if row.strip()]
    except ValueError:
        raise ValueError(f"{option}: give a .npy file or ids like '3,1,4;1,5,9', got {text!r}") from None
    if not rows or len({len(r) for r in rows}) != 1:
        raise ValueError(f"{option}: every sequence needs the same number of tokens, got {text!r}")
    return np.array(rows, dtype=np.int64)


@app.command()
@handles_errors
def patch(
    checkpoint_id: str,
    clean: Annotated[str | None, typer.Option(help="clean token ids: a .npy file or '3,1,4;1,5,9'")] = None,
    corrupt: Annotated[str | None, typer.Option(help="corrupt token ids, the clean batch's shape")] = None,
    hook: Annotated[list[str] | None, typer.Option(help="hook name or glob, one row each")] = None,
    axis: Annotated[str, typer.Option(help="patch each 'position' or each 'head' in turn")] = "position",
    num_sequences: Annotated[int, typer.Option(help="without --clean: sequences drawn from the task", min=0)] = 0,
    seed: Annotated[int, typer.Option(help="without --clean: seed of the clean batch", min=0)] = 0,
    corrupt_seed: Annotated[int, typer.Option(help="without --corrupt: seed of the corrupt batch", min=0)] = 1,
    png: Annotated[Path | None, typer.Option(help="draw the patching heatmap to this PNG")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Activation patching: the corrupt batch with each cell (position or head) of each hook patched in from the
    clean batch, scored on the clean batch's targets; shows the share of the loss gap each patch closes.

    Rows come in the network's order, one per hook matching --hook; a position sweep has a column per position
    (a hook with fewer positions, such as factual-recall's EOS-only ones, fills the last)."""
    if (clean is None) != (corrupt is None):
        raise ValueError("give both --clean and --corrupt, or neither (both drawn from the task)")
    clean_ids = _token_ids(clean, "--clean") if clean is not None else None
    corrupt_ids = _token_ids(corrupt, "--corrupt") if corrupt is not None else None
    with connect() as client:
        result = client.patch_sweep(
            checkpoint_id, hook or ["blocks.*.attn.hook_z"], axis, clean_tokens=clean_ids, corrupt_tokens=corrupt_ids,
            num_sequences=num_sequences, seed=seed, corrupt_seed=corrupt_seed,
        )  # fmt: skip
    if png is not None:
        from probe_client.cli.plots import patching_png

        patching_png(result, png)
    restored = result.restored()
    if as_json:
        print_json({"hooks": result.hooks, "axis": result.axis, "loss": result.loss.tolist(),
                    "restored": restored.tolist(), "clean_loss": result.clean_loss,
                    "corrupt_loss": result.corrupt_loss, "png": str(png) if png else None})  # fmt: skip
        return
    rows = [[name, _top_cells(row, result.axis)] for name, row in zip(result.hooks, restored, strict=True)]
    table("share of the loss gap each patch restores (top cells; --json or --png for all)", ["hook", "cells"], rows)
    console.print(f"clean loss {result.clean_loss:.4f}, corrupt loss {result.corrupt_loss:.4f}")
    if not result.corrupt_loss > result.clean_loss:
        console.print("the corrupt batch's loss is not above the clean batch's: there is no gap for patches to "
                      "restore, and the shares mean nothing")  # fmt: skip
    if png is not None:
        console.print(f"wrote {png}")


def _top_cells(row: np.ndarray, axis: str, count: int = 4) -> str:
    """The cells of one row that restore most, e.g. "position 8: 1.00, position 3: 0.02"."""
    cells = [int(i) for i in np.argsort(-np.nan_to_num(row, nan=-np.inf))[:count] if np.isfinite(row[i])]
    return ", ".join(f"{axis} {i}: {row[i]:.2f}" for i in cells) or "no cells"
