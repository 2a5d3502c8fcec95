"""probe-cli: train, watch and probe models on a probe server.

Every command takes ``--json`` and then prints exactly one JSON document on
stdout. Errors print one line on stderr and exit non-zero.
"""

from __future__ import annotations

import functools
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from probe_client.cli.following import finished_count, follow_job, follow_sweep, progress_bar
from probe_client.cli.output import console, errors, fmt, print_json, table
from probe_client.client import API_VERSION, ProbeClient, default_address
from probe_client.errors import ProbeError, Unavailable
from probe_client.follow import DEFAULT_RETRY_FOR_S, reach
from probe_client.types import ConfigField, Family, Job, Optimizer, Sweep

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
jobs_app = typer.Typer(help="List, inspect, watch, cancel and resume training jobs.", no_args_is_help=True)
ckpt_app = typer.Typer(help="List, inspect, delete and export checkpoints.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
sweep_app = typer.Typer(help="Submit, list, watch, show and cancel sweeps of many jobs.", no_args_is_help=True)
app.add_typer(ckpt_app, name="ckpt")
app.add_typer(sweep_app, name="sweep")

F = TypeVar("F", bound=Callable[..., Any])
JsonFlag = Annotated[bool, typer.Option("--json", help="print one JSON document on stdout")]


class _State:
    server: str = ""
    token: str | None = None


state = _State()


@app.callback()
def main(
    server: Annotated[
        str, typer.Option("--server", envvar="PROBE_SERVER", help="address of the probe server")
    ] = default_address(),
    token: Annotated[str | None, typer.Option("--token", envvar="PROBE_TOKEN", help="bearer token")] = None,
) -> None:
    state.server, state.token = server, token


def _client() -> ProbeClient:
    return ProbeClient(state.server, token=state.token)


def fail(message: str) -> None:
    errors.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(1)


def handles_errors(command: F) -> F:
    """Turn client errors into one line on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Unavailable as error:
            fail(f"cannot reach a probe server at {state.server} ({error.message})")
        except ProbeError as error:
            fail(str(error))
        except (ValueError, OSError) as error:
            fail(str(error))

    return wrapped  # type: ignore[return-value]


def _typed(spec: ConfigField, raw: str) -> Any:
    """A command-line string as the config field's type; the server checks the bounds."""
    key = spec.name
    if spec.type == "int":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{key} must be an integer, got {raw!r}") from None
    if spec.type == "float":
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{key} must be a number, got {raw!r}") from None
    if spec.type == "bool":
        if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{key} must be true or false, got {raw!r}")
        return raw.lower() in ("true", "1", "yes")
    return raw


def _field(family: Family | Optimizer, key: str) -> ConfigField:
    fields = {f.name: f for f in family.config}
    if key not in fields:
        raise ValueError(f"{family.name} has no config key {key!r}; known keys: {', '.join(fields)}")
    return fields[key]


def _split(pair: str, option: str) -> tuple[str, str]:
    key, sep, raw = pair.partition("=")
    if not sep:
        raise ValueError(f"{option} expects key=value, got {pair!r}")
    return key, raw


def parse_overrides(family: Family | Optimizer, pairs: list[str], option: str = "--set") -> dict[str, Any]:
    """``key=value`` strings typed by the family's (or the optimizer's) schema."""
    overrides = {}
    for pair in pairs:
        key, raw = _split(pair, option)
        overrides[key] = _typed(_field(family, key), raw)
    return overrides


def parse_grid(family: Family, axes: list[str]) -> dict[str, list[Any]]:
    """``key=v1,v2,...`` strings typed by the family's schema."""
    grid = {}
    for axis in axes:
        key, raw = _split(axis, "--grid")
        spec = _field(family, key)
        grid[key] = [_typed(spec, value) for value in raw.split(",") if value != ""]
    return grid


def _family(client: ProbeClient, name: str) -> Family:
    schema = {f.name: f for f in client.families()}
    if name not in schema:
        raise ValueError(f"unknown family {name!r}; known: {', '.join(schema)}")
    return schema[name]


def optimizer_config(client: ProbeClient, optimizer: str, pairs: list[str]) -> dict[str, Any]:
    """``--opt key=value`` strings typed by the optimizer's schema."""
    if not optimizer:
        if pairs:
            raise ValueError("--opt sets the config of --optimizer; name the optimizer too")
        return {}
    known = {o.name: o for o in client.optimizers()}
    if optimizer not in known:
        raise ValueError(f"unknown optimizer {optimizer!r}; known: {', '.join(known)}")
    return parse_overrides(known[optimizer], pairs, "--opt")


OptimizerOption = Annotated[
    str, typer.Option("--optimizer", help="train with this optimizer instead of the family's own (e.g. mezo)")
]
OptOption = Annotated[list[str] | None, typer.Option("--opt", help="optimizer config key=value (e.g. eps=1e-3)")]
InitOption = Annotated[
    str, typer.Option("--init", help="start from this checkpoint's weights (same family and architecture)")
]
RetryForOption = Annotated[
    float,
    typer.Option("--retry-for", min=0.0, help="seconds to keep reconnecting (with backoff) while the server is down"),
]
TrainOnlyOption = Annotated[
    list[str] | None,
    typer.Option("--train-only", help="train only this parameter group (repeatable; e.g. the last layer)"),
]


def _print_job(job: Job) -> None:
    rows: list[list[Any]] = [
        ["job", job.job_id],
        ["family", job.family],
        ["state", job.state],
        ["step", f"{job.step}/{job.steps}"],
        ["loss", fmt(job.loss)],
        ["checkpoint", job.checkpoint_id or "-"],
        ["seed", job.seed],
        ["runs", job.runs],
        ["peak memory", f"{job.peak_memory_bytes / 2**20:.0f} MiB"],
        ["optimizer", job.training.optimizer or "the family's own"],
    ]
    if job.training.init_checkpoint:
        rows.append(["started from", job.training.init_checkpoint])
    if job.training.trainable:
        rows.append(["trains only", ", ".join(job.training.trainable)])
    rows += [[f"optimizer {k}", v] for k, v in job.training.optimizer_config.items()]
    rows += [[f"metric {k}", fmt(v)] for k, v in sorted(job.metrics.items())]
    rows += [[f"config {k}", v] for k, v in job.config.items()]
    table(f"job {job.job_id}", ["field", "value"], rows)
    if job.error:
        errors.print(f"[bold red]error:[/] {job.error}", highlight=False)
        if job.last_event:
            e = job.last_event
            errors.print(f"last event: seq {e.seq} {e.kind} at step {e.step}, loss {fmt(e.loss)} {e.message}")


@app.command()
@handles_errors
def families(as_json: JsonFlag = False) -> None:
    """List the families the server can train, with their config keys."""
    with _client() as client:
        _print_schemas(client.families(), as_json)


@app.command()
@handles_errors
def optimizers(as_json: JsonFlag = False) -> None:
    """List the optimizers any family's job may use instead of its own (train --optimizer), with their keys."""
    with _client() as client:
        _print_schemas(client.optimizers(), as_json)


def _print_schemas(items: list[Family] | list[Optimizer], as_json: bool) -> None:
    if as_json:
        print_json(items)
        return
    for item in items:
        rows = []
        for f in item.config:
            bounds = "|".join(f.choices) if f.choices else f"[{_bound(f.min)}, {_bound(f.max)}]"
            rows.append([f.name, f.type, f.default, bounds, f.help])
        probes = f" (probes: {', '.join(item.probes)})" if isinstance(item, Family) else ""
        table(f"{item.name}: {item.description}{probes}", ["key", "type", "default", "allowed", "help"], rows)


def _bound(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


@app.command()
@handles_errors
def train(
    family: Annotated[str, typer.Argument(help="family name, see `probe-cli families`")],
    overrides: Annotated[list[str] | None, typer.Option("--set", help="config override key=value")] = None,
    steps: Annotated[int, typer.Option(help="training steps (0: the family's default)", min=0)] = 0,
    seed: Annotated[int, typer.Option(help="seed of the task, the init and the data stream", min=0)] = 0,
    checkpoint_every: Annotated[int, typer.Option(help="steps between checkpoints (0: only the last)", min=0)] = 0,
    log_every: Annotated[int, typer.Option(help="steps between progress events (0: about 100 per job)", min=0)] = 0,
    optimizer: OptimizerOption = "",
    opts: OptOption = None,
    init: InitOption = "",
    train_only: TrainOnlyOption = None,
    watch: Annotated[bool, typer.Option("--watch", help="follow the job until it ends")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Submit a training job."""
    with _client() as client:
        config = parse_overrides(_family(client, family), overrides or [])
        job = client.submit_job(
            family, config, steps=steps, seed=seed, checkpoint_every=checkpoint_every, log_every=log_every,
            optimizer=optimizer, optimizer_config=optimizer_config(client, optimizer, opts or []), init_checkpoint=init,
            trainable=train_only or [],
        )  # fmt: skip
        if watch:
            job = follow_job(client, job, quiet=as_json)
    if as_json:
        print_json(job)
    elif watch:
        _print_job(job)
    else:
        console.print(f"submitted {job.job_id} ({job.family}, {job.steps} steps)")
    if watch and job.state != "SUCCEEDED":
        raise typer.Exit(1)


@jobs_app.command("list")
@handles_errors
def jobs_list(
    states: Annotated[list[str] | None, typer.Option("--state", help="filter by state, repeatable")] = None,
    family: Annotated[str, typer.Option(help="filter by family")] = "",
    limit: Annotated[int, typer.Option(help="at most this many jobs", min=1)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List jobs, newest first."""
    with _client() as client:
        jobs, _ = client.list_jobs(states=states or [], family=family, page_size=limit)
    if as_json:
        print_json(jobs)
        return
    rows = [[j.job_id, j.family, j.state, f"{j.step}/{j.steps}", fmt(j.loss), j.checkpoint_id] for j in jobs]
    table("jobs", ["job", "family", "state", "step", "loss", "checkpoint"], rows)


@jobs_app.command("show")
@handles_errors
def jobs_show(job_id: str, as_json: JsonFlag = False) -> None:
    """Show one job, with its error and last event if it failed."""
    with _client() as client:
        job = client.get_job(job_id)
    print_json(job) if as_json else _print_job(job)


@jobs_app.command("watch")
@handles_errors
def jobs_watch(
    job_id: str,
    from_step: Annotated[int, typer.Option(help="start with the first event at or after this step", min=0)] = 0,
    retry_for: RetryForOption = DEFAULT_RETRY_FOR_S,
    as_json: JsonFlag = False,
) -> None:
    """Follow a job with a progress bar until it ends."""
    with _client() as client:
        if as_json:
            events = list(client.follow_job(job_id, from_step=from_step, retry_for=retry_for))
            print_json({"job": client.get_job(job_id), "events": events})
            return
        job = reach(lambda: client.get_job(job_id), f"job {job_id}", retry_for=retry_for)
        job = follow_job(client, job, quiet=False, from_step=from_step, retry_for=retry_for)
    _print_job(job)


@jobs_app.command("cancel")
@handles_errors
def jobs_cancel(job_id: str, as_json: JsonFlag = False) -> None:
    """Cancel a queued or running job (a running one stops within two seconds)."""
    with _client() as client:
        job = client.cancel_job(job_id)
    print_json(job) if as_json else console.print(f"{job.job_id}: {job.state} at step {job.step}")


@jobs_app.command("resume")
@handles_errors
def jobs_resume(
    job_id: str,
    watch: Annotated[bool, typer.Option("--watch", help="follow the job until it ends")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Resume an interrupted, failed or cancelled job from its last checkpoint."""
    with _client() as client:
        job = client.resume_job(job_id)
        if watch:
            job = follow_job(client, job, quiet=as_json)
    print_json(job) if as_json else console.print(f"{job.job_id}: {job.state} from step {job.step}")


@ckpt_app.command("list")
@handles_errors
def ckpt_list(
    job: Annotated[str, typer.Option(help="only this job's checkpoints")] = "",
    family: Annotated[str, typer.Option(help="only this family's checkpoints")] = "",
    limit: Annotated[int, typer.Option(help="at most this many", min=1)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List checkpoints, newest first."""
    with _client() as client:
        checkpoints, _ = client.list_checkpoints(job_id=job, family=family, page_size=limit)
    if as_json:
        print_json(checkpoints)
        return
    rows = [
        [c.checkpoint_id, c.job_id, c.family, c.step, fmt(c.metrics.get("loss", float("nan"))), c.size_bytes]
        for c in checkpoints
    ]
    table("checkpoints", ["checkpoint", "job", "family", "step", "loss", "bytes"], rows)


@ckpt_app.command("show")
@handles_errors
def ckpt_show(checkpoint_id: str, as_json: JsonFlag = False) -> None:
    """Show one checkpoint's metadata."""
    with _client() as client:
        c = client.get_checkpoint(checkpoint_id)
    if as_json:
        print_json(c)
        return
    rows: list[list[Any]] = [["checkpoint", c.checkpoint_id], ["job", c.job_id], ["family", c.family], ["step", c.step]]
    rows += [["seed", c.seed], ["bytes", c.size_bytes], ["code version", c.code_version]]
    rows += [[f"metric {k}", fmt(v)] for k, v in sorted(c.metrics.items())]
    table(f"checkpoint {c.checkpoint_id}", ["field", "value"], rows)


@ckpt_app.command("rm")
@handles_errors
def ckpt_rm(checkpoint_id: str, as_json: JsonFlag = False) -> None:
    """Delete a checkpoint and its files."""
    with _client() as client:
        client.delete_checkpoint(checkpoint_id)
    print_json({"deleted": checkpoint_id}) if as_json else console.print(f"deleted {checkpoint_id}")


@ckpt_app.command("export")
@handles_errors
def ckpt_export(
    checkpoint_id: str,
    out: Annotated[Path, typer.Option("--out", "-o", help="where to write the .onnx file")] = Path("model.onnx"),
    as_json: JsonFlag = False,
) -> None:
    """Export a checkpoint's model as ONNX."""
    tmp = out.with_name(out.name + ".part")
    with _client() as client, open(tmp, "wb") as f:
        size = client.export_onnx(checkpoint_id, f)
    tmp.replace(out)
    result = {"checkpoint_id": checkpoint_id, "path": str(out), "size_bytes": size}
    print_json(result) if as_json else console.print(f"wrote {out} ({size} bytes)")


def _print_sweep(sweep: Sweep) -> None:
    console.print(f"sweep {sweep.sweep_id} {sweep.name!r} ({sweep.family}): {sweep.state}  {sweep.message}")
    rows = [
        [c.job_id, c.point, c.seed, " ".join(f"{k}={v}" for k, v in c.overrides.items()), c.state,
         " ".join(f"{k}={fmt(v)}" for k, v in sorted(c.metrics.items()) if k in ("loss", "fact_accuracy"))]
        for c in sweep.children
    ]  # fmt: skip
    table("children", ["job", "point", "seed", "overrides", "state", "metrics"], rows)
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
    with _client() as client:
        schema = _family(client, family)
        search_spec = None
        if search is not None:
            key, raw = _split(search, "--search")
            low, sep, high = raw.partition(":")
            if not sep:
                raise ValueError(f"--search expects key=low:high, got {search!r}")
            _field(schema, key)
            search_spec = {"key": key, "low": float(low), "high": float(high), "metric": metric,
                           "threshold": threshold, "log_scale": log_scale, "resolution": resolution}  # fmt: skip
        sweep = client.submit_sweep(
            family, parse_overrides(schema, overrides or []), parse_grid(schema, grid or []),
            search=search_spec, seeds=seeds, seed=seed, steps=steps, name=name, optimizer=optimizer,
            optimizer_config=optimizer_config(client, optimizer, opts or []), init_checkpoint=init,
            trainable=train_only or [],
        )  # fmt: skip
        if watch:
            sweep = follow_sweep(client, sweep, quiet=as_json)
    if as_json:
        print_json(sweep)
    elif watch:
        _print_sweep(sweep)
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
    with _client() as client:
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
    with _client() as client:
        sweep = client.get_sweep(sweep_id)
    print_json(sweep) if as_json else _print_sweep(sweep)


@sweep_app.command("watch")
@handles_errors
def sweep_watch(sweep_id: str, retry_for: RetryForOption = DEFAULT_RETRY_FOR_S, as_json: JsonFlag = False) -> None:
    """Follow a sweep with a progress bar over its children until it ends."""
    with _client() as client:
        sweep = reach(lambda: client.get_sweep(sweep_id), f"sweep {sweep_id}", retry_for=retry_for)
        sweep = follow_sweep(client, sweep, quiet=as_json, retry_for=retry_for)
    print_json(sweep) if as_json else _print_sweep(sweep)


@sweep_app.command("cancel")
@handles_errors
def sweep_cancel(sweep_id: str, as_json: JsonFlag = False) -> None:
    """Cancel a sweep and every child that has not finished."""
    with _client() as client:
        sweep = client.cancel_sweep(sweep_id)
    print_json(sweep) if as_json else console.print(f"{sweep.sweep_id}: {sweep.state} {sweep.counts}")


@app.command()
@handles_errors
def reproduce(
    family: Annotated[str, typer.Argument(help="family name")],
    scale: Annotated[str, typer.Option(help="small (1 to 6 minutes on 2 CPU cores) or paper (a GPU box)")] = "small",
    out: Annotated[Path, typer.Option(help="directory for summary.json, the figures and README.md")] = Path(
        "reproductions"
    ),
    as_json: JsonFlag = False,
) -> None:
    """Run a family's headline experiments on the server and write the report into --out."""
    with _client() as client:
        reproduction = client.start_reproduction(family, scale)
        progress = progress_bar("jobs", as_json)
        with progress:
            bar = progress.add_task(f"{family} ({scale})", total=reproduction.planned_children, status="")
            while not reproduction.done:
                time.sleep(1.0)
                rid = reproduction.reproduction_id
                reproduction = reach(functools.partial(client.get_reproduction, rid), f"reproduction {rid}")
                finished = finished_count(reproduction.counts)
                total = max(reproduction.planned_children, sum(reproduction.counts.values()))
                progress.update(bar, completed=finished, total=total, status=f"{len(reproduction.sweep_ids)} sweeps")
        if reproduction.state != "SUCCEEDED":
            raise ValueError(
                f"reproduction {reproduction.reproduction_id} ended {reproduction.state}: {reproduction.message}"
            )
        paths = client.download_reproduction(reproduction.reproduction_id, out)
    summary = json.loads((out / "summary.json").read_text())
    if as_json:
        print_json({"reproduction_id": reproduction.reproduction_id, "out": str(out), "files": sorted(map(str, paths)),
                    "passed": summary["passed"], "checks": summary["checks"]})  # fmt: skip
        return
    rows = [[c["name"], "n/a" if c["measured"] is None else fmt(c["measured"]), c["reference"],
             "pass" if c["passed"] else "FAIL"] for c in summary["checks"]]  # fmt: skip
    table(f"{family} reproduction ({scale}) -> {out}", ["check", "measured", "paper", "verdict"], rows)


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
    with _client() as client:
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
    with _client() as client:
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
    with _client() as client:
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
    with _client() as client:
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
    with _client() as client:
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
    with _client() as client:
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
    with _client() as client:
        result = client.evaluate(checkpoint_id, num_sequences=num_sequences, seed=seed)
    if as_json:
        print_json(result)
        return
    rows = [["accuracy", fmt(result.accuracy)], ["test loss", fmt(result.test_loss)]]
    rows += [[k, fmt(v)] for k, v in sorted(result.metrics.items())]
    table(f"evaluation of {checkpoint_id}", ["metric", "value"], rows)


@app.command()
@handles_errors
def health(as_json: JsonFlag = False) -> None:
    """Ask the server's standard gRPC health service."""
    with _client() as client:
        status = client.health()
    print_json({"server": state.server, "status": status}) if as_json else console.print(f"{state.server}: {status}")
    if status != "SERVING":
        raise typer.Exit(1)


@app.command()
@handles_errors
def version(as_json: JsonFlag = False) -> None:
    """Versions of this client and of the server, checked against each other."""
    from probe_client import __version__

    with _client() as client:
        info = client.check_version()
    result = {"client_version": __version__, "client_api": API_VERSION, "server": info}
    if as_json:
        print_json(result)
        return
    console.print(
        f"client {__version__} ({API_VERSION}); server {info.package_version} ({info.api_version}) on {info.device}"
    )


def run() -> None:
    """Console entry point."""
    sys.exit(app())
