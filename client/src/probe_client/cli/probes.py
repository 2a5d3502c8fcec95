"""Probe commands: query, attention, graph, sharpness, stabilization, sharpness-trace and eval."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from probe_client.cli.app import app, connect, handles_errors
from probe_client.cli.options import JsonFlag
from probe_client.cli.output import console, fmt, print_json, table


@app.command()
@handles_errors
def query(
    checkpoint_id: str,
    subject: Annotated[int | None, typer.Argument(help="subject id")] = None,
    relation: Annotated[int | None, typer.Argument(help="relation id")] = None,
    all_facts: Annotated[bool, typer.Option("--all", help="ask every fact and report the accuracy")] = False,
    top_k: Annotated[int, typer.Option(help="answers per query", min=1)] = 3,
    noise_seed: Annotated[int, typer.Option(help="seed of the noise tokens around the query", min=0)] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Ask a factual-recall checkpoint which answer it recalls for (subject, relation)."""
    if all_facts == (subject is not None or relation is not None):
        raise ValueError("give SUBJECT and RELATION, or --all")
    if not all_facts and (subject is None or relation is None):
        raise ValueError("give both SUBJECT and RELATION")
    pairs = [] if all_facts or subject is None or relation is None else [(subject, relation)]
    with connect() as client:
        result = client.query_facts(checkpoint_id, pairs, all_facts=all_facts, top_k=top_k, noise_seed=noise_seed)
    if as_json:
        print_json(result)
        return
    if all_facts:
        console.print(f"recalled {result.accuracy:.2%} of {len(result.subjects)} facts ({result.backend})")
        return
    for i in range(len(result.subjects)):
        guesses = ", ".join(f"{a} ({p:.3f})" for a, p in zip(result.answers[i], result.probabilities[i], strict=True))
        mark = "recalled" if result.recalled[i] else "NOT recalled"
        console.print(
            f"({result.subjects[i]}, {result.relations[i]}) -> {guesses}; stored {result.stored_answers[i]}: {mark}"
        )


@app.command()
@handles_errors
def attention(
    checkpoint_id: str,
    num_sequences: Annotated[int, typer.Option(help="sequences drawn from the checkpoint's task", min=1)] = 1,
    seed: Annotated[int, typer.Option(help="seed of the drawn sequences", min=0)] = 0,
    layer: Annotated[int | None, typer.Option(help="one layer's pattern, blocks.{L}.attn.hook_pattern", min=0)] = None,
    head: Annotated[list[int] | None, typer.Option(help="keep only these heads (repeatable)")] = None,
    hook: Annotated[list[str] | None, typer.Option(help="hook name, e.g. blocks.0.attn.hook_pattern")] = None,
    average: Annotated[bool, typer.Option("--average", help="mean over the batch")] = False,
    png: Annotated[Path | None, typer.Option(help="draw a heatmap per head to this PNG, true parents marked")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show where a transformer checkpoint's heads attend."""
    hooks = list(hook or [])
    if layer is not None:
        hooks.append(f"blocks.{layer}.attn.hook_pattern")
    with connect() as client:
        result = client.extract_attention(
            checkpoint_id,
            num_sequences=num_sequences,
            seed=seed,
            hooks=hooks,
            heads=head or [],
            average_over_batch=average,
        )
    if png is not None:
        from probe_client.cli.plots import attention_png

        attention_png(result, png)
    if as_json:
        print_json({**result.__dict__, "png": str(png) if png else None})
        return
    tokens = result.tokens[0]
    for name, pattern in result.patterns.items():
        console.print(f"{name} {list(pattern.shape)} (query positions {result.query_positions})")
        for index in range(pattern.shape[1]):
            row = pattern[0, index, -1]
            top = row.argsort()[::-1][:3]
            where = ", ".join(f"pos {p} (token {tokens[p]}): {row[p]:.2f}" for p in top)
            label = result.heads[index] if result.heads else index
            console.print(f"  head {label}, last query: {where}")
    if png is not None:
        console.print(f"wrote {png}")


@app.command()
@handles_errors
def graph(
    checkpoint_id: str,
    num_sequences: Annotated[int, typer.Option(help="fresh sequences averaged over (0: 1024)", min=0)] = 0,
    seed: Annotated[int, typer.Option(help="seed of the sequences", min=0)] = 0,
    as_json: JsonFlag = False,
) -> None:
    """The latent causal graph read off the first attention layer, against the true one."""
    with connect() as client:
        result = client.recover_graph(checkpoint_id, num_sequences=num_sequences, seed=seed)
    if as_json:
        print_json(result.__dict__)
        return

    def parents(values: list[int]) -> str:
        return ",".join(map(str, values)) or "-"

    rows = [
        [
            str(p.position),
            parents(p.true_parents),
            parents(p.recovered_parents),
            "" if not p.true_parents else f"{p.parent_mass:.3f}",
            "" if not p.true_parents else ("yes" if p.correct else "NO"),
        ]
        for p in result.positions
    ]
    table(f"graph {result.graph}", ["position", "true parents", "recovered", "parent mass", "correct"], rows)
    console.print(
        f"graph {result.graph}, layer {result.layer}: parent accuracy {result.parent_accuracy:.3f}, "
        f"mean parent mass {result.parent_mass:.3f}"
    )
    if result.induction_score is not None:
        console.print(f"induction score (layer 1 heads): {result.induction_score:.3f}")
    console.print(f"test loss {result.test_loss:.4f} vs Bayes loss {result.bayes_loss:.4f}")


@app.command()
@handles_errors
def sharpness(
    checkpoint_id: str,
    top_k: Annotated[int, typer.Option(help="eigenvalues wanted", min=1)] = 1,
    method: Annotated[str, typer.Option(help="lanczos or power")] = "lanczos",
    trace: Annotated[bool, typer.Option("--trace", help="also Hutchinson's estimate of the Hessian trace")] = False,
    trace_samples: Annotated[int, typer.Option(help="Rademacher probes for --trace", min=1)] = 100,
    num_examples: Annotated[int, typer.Option(help="training examples in the loss (0: 1024)", min=0)] = 0,
    whole_training_set: Annotated[bool, typer.Option("--whole-training-set", help="every training example")] = False,
    chunk_size: Annotated[int, typer.Option(help="examples per physical chunk (0: 4096)", min=0)] = 0,
    float64: Annotated[bool, typer.Option("--float64", help="compute on a float64 copy of the model")] = False,
    seed: Annotated[int, typer.Option(help="seed of the examples and of the start vector", min=0)] = 0,
    max_iterations: Annotated[int, typer.Option(help="iterations at most (0: 100)", min=0)] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Top eigenvalues of the training-loss Hessian at a checkpoint, from Hessian-vector products."""
    with connect() as client:
        result = client.measure_sharpness(
            checkpoint_id, top_k=top_k, method=method, num_examples=num_examples, seed=seed,
            max_iterations=max_iterations, trace_samples=trace_samples if trace else 0,
            whole_training_set=whole_training_set, chunk_size=chunk_size, float64=float64,
        )  # fmt: skip
    if as_json:
        print_json(result)
        return
    rows = [
        [i + 1, fmt(v), f"{r:.2e}"] for i, (v, r) in enumerate(zip(result.eigenvalues, result.residuals, strict=True))
    ]
    table(
        f"Hessian eigenvalues ({result.method}, {result.iterations} iterations, {result.hvp_count} HVPs, "
        f"{result.num_parameters} parameters, {result.dtype}; {result.data})",
        ["#", "eigenvalue", "residual"],
        rows,
    )
    if result.trace is not None:
        console.print(
            f"trace ≈ {fmt(result.trace)} ± {fmt(result.trace_standard_error or math.nan)} "
            f"(Hutchinson, {result.trace_samples} probes)"
        )


@app.command()
@handles_errors
def stabilization(
    checkpoint_id: str,
    steps: Annotated[int, typer.Option(help="GD steps to run from the checkpoint (0: 20)", min=0)] = 0,
    projected: Annotated[bool, typer.Option("--projected", help="also projected GD beside GD (slower)")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Self-stabilization at a GD checkpoint (eos): α, β, δ, and GD beside the paper's predicted x, y."""
    with connect() as client:
        result = client.measure_stabilization(checkpoint_id, steps=steps, projected=projected)
    if as_json:
        print_json(result)
        return
    console.print(
        f"S = {fmt(result.sharpness)} (2/η = {fmt(result.threshold)}), α = {fmt(result.alpha)} (progressive "
        f"sharpening), β = {fmt(result.beta)} (self-stabilization), δ = √(2α/β) = {fmt(result.delta)}"
    )
    columns = [result.steps, result.x_measured, result.x_predicted, result.y_measured, result.y_predicted,
               result.sharpness_along_gd, result.loss]  # fmt: skip
    names = ["step", "x", "x predicted", "y", "y predicted", "sharpness", "loss"]
    if projected:  # distance from GD to projected GD, and the projected trajectory's sharpness
        columns += [result.projected_distance, result.projected_sharpness]
        names += ["‖GD − projected‖", "projected sharpness"]
    rows = [[step, *(fmt(v) for v in values)] for step, *values in zip(*columns, strict=True)]
    table(f"GD from {checkpoint_id} beside the predicted dynamics ({result.hvp_count} HVPs)", names, rows)


@app.command("sharpness-trace")
@handles_errors
def sharpness_trace(
    job_id: str,
    png: Annotated[Path | None, typer.Option(help="draw S(t), the 2/η line and the loss to this PNG")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The sharpness a job traced while training (families that track it), once the job has ended."""
    with connect() as client:
        events = [e for e in client.watch_job(job_id) if e.kind == "PROGRESS"]
    traced = [e for e in events if "sharpness" in e.metrics]
    if not traced:
        raise ValueError(f"job {job_id} recorded no sharpness (set sharpness_every on a family that tracks it)")
    steps, sharpness = [e.step for e in traced], [e.metrics["sharpness"] for e in traced]
    threshold = traced[-1].metrics.get("threshold")
    trace: dict[str, Any] = {
        "job_id": job_id,
        "steps": steps,
        "sharpness": sharpness,
        "threshold": threshold,
        "loss_steps": [e.step for e in events],
        "loss": [e.loss for e in events],
    }
    if png is not None:
        from probe_client.cli.plots import sharpness_trace_png

        sharpness_trace_png(trace, png)
    if as_json:
        print_json({**trace, "png": str(png) if png else None})
        return
    rows = [[step, fmt(s)] for step, s in zip(steps, sharpness, strict=True)]
    table(f"sharpness of job {job_id} (2/η = {fmt(threshold or math.nan)})", ["step", "sharpness"], rows)
    if png is not None:
        console.print(f"wrote {png}")


@app.command("eval")
@handles_errors
def evaluate(
    checkpoint_id: str,
    num_sequences: Annotated[int, typer.Option(help="fresh test sequences (0: 4096)", min=0)] = 0,
    seed: Annotated[int, typer.Option(help="seed of the test data", min=0)] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Accuracy and test loss of a checkpoint on fresh data."""
    with connect() as client:
        result = client.evaluate(checkpoint_id, num_sequences=num_sequences, seed=seed)
    if as_json:
        print_json(result)
        return
    rows = [["accuracy", fmt(result.accuracy)], ["test loss", fmt(result.test_loss)]]
    rows += [[k, fmt(v)] for k, v in sorted(result.metrics.items())]
    table(f"evaluation of {checkpoint_id}", ["metric", "value"], rows)
