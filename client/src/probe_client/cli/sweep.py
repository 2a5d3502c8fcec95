"""`probe-cli sweep …`: submit, list, show, watch and cancel sweeps."""

from __future__ import annotations

from typing import Annotated

import typer

from probe_client.cli.app import connect, handles_errors, sweep_app
from probe_client.cli.config_args import (
    optimizer_config,
    parse_grid,
    parse_overrides,
    split_pair,
)
from probe_client.cli.following import follow_sweep
from probe_client.cli.options import InitOption, JsonFlag, OptimizerOption, OptOption, RetryForOption, TrainOnlyOption
from probe_client.cli.output import console, fmt, print_json, table
from probe_client.follow import DEFAULT_RETRY_FOR_S, reach
from probe_client.types import Sweep


def print_sweep(sweep: Sweep) -> None:
    console.print(f"sweep {sweep.sweep_id} {sweep.name!r} ({sweep.family}): {sweep.state}  {sweep.message}")
    rows = [
        [c.job_id, c.point, c.seed, " ".join(f"{k}={v}" for k, v in c.overrides.items()), c.state, c.node or "-",
         " ".join(f"{k}={fmt(v)}" for k, v in sorted(c.metrics.items()) if k in ("loss", "fact_accuracy"))]
        for c in sweep.children
    ]  # fmt: skip
    table("children", ["job", "point", "seed", "overrides", "state", "node", "metrics"], rows)
    if sweep.search:
        key = sweep.search["key"]
        rows = [[r.point, _opt(r.best), _opt(r.first_failure), r.probes, "yes" if r.done else "no"]
                for r in sweep.search_results]  # fmt: skip
        table(f"search: largest {key} with {sweep.search['metric']} >= {sweep.search['threshold']}",
              ["point", f"best {key}", "first failure", "probes", "done"], rows)  # fmt: skip


def _opt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


@sweep_app.command("submit")
@handles_errors
def sweep_submit(
    family: Annotated[str, typer.Argument(help="family name")],
    overrides: Annotated[list[str] | None, typer.Option("--set", help="base config key=value")] = None,
    grid: Annotated[list[str] | None, typer.Option("--grid", help="axis key=v1,v2,... (repeatable)")] = None,
    seeds: Annotated[int, typer.Option(help="children per grid point (seeds seed, seed+1, ...)", min=1)] = 1,
    seed: Annotated[int, typer.Option(help="first seed", min=0)] = 0,
    steps: Annotated[int, typer.Option(help="steps per child (0: the family's default)", min=0)] = 0,
    search: Annotated[str | None, typer.Option(help="search key=low:high for the largest passing value")] = None,
    metric: Annotated[str, typer.Option(help="search metric, from each child's final metrics")] = "",
    threshold: Annotated[float, typer.Option(help="search threshold: pass when the mean metric >= this")] = 0.99,
    log_scale: Annotated[bool, typer.Option("--log-scale", help="bisect geometrically")] = False,
    resolution: Annotated[float, typer.Option(help="float search keys: stop at this bracket width", min=0.0)] = 0.0,
    name: Annotated[str, typer.Option(help="a name to recognize the sweep by")] = "",
    optimizer: OptimizerOption = "",
    opts: OptOption = None,
    init: InitOption = "",
    train_only: TrainOnlyOption = None,
    watch: Annotated[bool, typer.Option("--watch", help="follow the sweep until it ends")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Submit a grid (and optionally a search) of training jobs."""
    with connect() as client:
        search_spec = None
        if search is not None:
            key, raw = split_pair(search, "--search")
            low, sep, high = raw.partition(":")
            try:
                bounds = float(low), float(high)
            except ValueError:
                sep = ""
            if not sep:
                raise ValueError(f"--search expects key=low:high with numbers low and high, got {search!r}")
            search_spec = {"key": key, "low": bounds[0], "high": bounds[1], "metric": metric,
                           "threshold": threshold, "log_scale": log_scale, "resolution": resolution}  # fmt: skip
        sweep = client.submit_sweep(
            family, parse_overrides(overrides or []), parse_grid(grid or []),
            search=search_spec, seeds=seeds, seed=seed, steps=steps, name=name, optimizer=optimizer,
            optimizer_config=optimizer_config(optimizer, opts or []), init_checkpoint=init,
            trainable=train_only or [],
        )  # fmt: skip
        if watch:
            sweep = follow_sweep(client, sweep, quiet=as_json)
    if as_json:
        print_json(sweep)
    elif watch:
        print_sweep(sweep)
    else:
        console.print(f"submitted {sweep.sweep_id} ({sweep.planned_children} children planned)")
    if watch and sweep.state != "SUCCEEDED":
        raise typer.Exit(1)


@sweep_app.command("list")
@handles_errors
def sweep_list(
    states: Annotated[list[str] | None, typer.Option("--state", help="filter by state, repeatable")] = None,
    family: Annotated[str, typer.Option(help="filter by family")] = "",
    limit: Annotated[int, typer.Option(help="at most this many sweeps", min=1)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List sweeps, newest first."""
    with connect() as client:
        sweeps, _ = client.list_sweeps(states=states or [], family=family, page_size=limit)
    if as_json:
        print_json(sweeps)
        return
    rows = [[s.sweep_id, s.name, s.family, s.state, sum(s.counts.values()), s.planned_children,
             ", ".join(f"{n} {k.lower()}" for k, n in sorted(s.counts.items()))] for s in sweeps]  # fmt: skip
    table("sweeps", ["sweep", "name", "family", "state", "children", "planned", "by state"], rows)


@sweep_app.command("show")
@handles_errors
def sweep_show(sweep_id: str, as_json: JsonFlag = False) -> None:
    """Show a sweep: its children, their metrics, and search results."""
    with connect() as client:
        sweep = client.get_sweep(sweep_id)
    print_json(sweep) if as_json else print_sweep(sweep)


@sweep_app.command("watch")
@handles_errors
def sweep_watch(sweep_id: str, retry_for: RetryForOption = DEFAULT_RETRY_FOR_S, as_json: JsonFlag = False) -> None:
    """Follow a sweep with a progress bar over its children until it ends."""
    with connect() as client:
        sweep = reach(lambda: client.get_sweep(sweep_id), f"sweep {sweep_id}", retry_for=retry_for)
        sweep = follow_sweep(client, sweep, quiet=as_json, retry_for=retry_for)
    print_json(sweep) if as_json else print_sweep(sweep)


@sweep_app.command("cancel")
@handles_errors
def sweep_cancel(sweep_id: str, as_json: JsonFlag = False) -> None:
    """Cancel a sweep and every child that has not finished."""
    with connect() as client:
        sweep = client.cancel_sweep(sweep_id)
    print_json(sweep) if as_json else console.print(f"{sweep.sweep_id}: {sweep.state} {sweep.counts}")
