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
    npz: Annotated[Path | None, typer.Option(help="write every activation, the tokens, logits and loss here")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a checkpoint on sequences of its task and show (or save) its activations at the given hooks."""
    with connect() as client:
        cache = client.run_with_cache(
            checkpoint_id, hook or [], num_sequences=num_sequences, seed=seed, logits=npz is not None, loss=True
        )
    if npz is not None:
        arrays = {"tokens": cache.tokens, **cache.activations}
        if cache.logits is not None:
            arrays["logits"] = cache.logits
        if cache.loss is not None:
            arrays["loss"] = cache.loss
        with open(npz, "wb") as out:
            np.savez(out, **arrays)  # type: ignore[arg-type]  # numpy 2's stub reads the names as its allow_pickle
    summary: dict[str, dict[str, Any]] = {
        name: {"shape": list(a.shape), "mean": float(a.mean()), "std": float(a.std())}
        for name, a in cache.activations.items()
    }
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
