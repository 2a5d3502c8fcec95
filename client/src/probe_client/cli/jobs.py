"""`probe-cli jobs …`: list, show, watch, cancel and resume jobs."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from probe_client.cli.app import connect, handles_errors, jobs_app
from probe_client.cli.following import follow_job
from probe_client.cli.options import JsonFlag, RetryForOption
from probe_client.cli.output import console, errors, fmt, print_json, table
from probe_client.follow import DEFAULT_RETRY_FOR_S, reach
from probe_client.types import Job


def print_job(job: Job) -> None:
    rows: list[list[Any]] = [
        ["job", job.job_id],
        ["family", job.family],
        ["state", job.state],
        ["step", f"{job.step}/{job.steps}"],
        ["loss", fmt(job.loss)],
        ["checkpoint", job.checkpoint_id or "-"],
        ["seed", job.seed],
        ["runs", job.runs],
        ["node", job.node or "-"],
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


@jobs_app.command("list")
@handles_errors
def jobs_list(
    states: Annotated[list[str] | None, typer.Option("--state", help="filter by state, repeatable")] = None,
    family: Annotated[str, typer.Option(help="filter by family")] = "",
    limit: Annotated[int, typer.Option(help="at most this many jobs", min=1)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List jobs, newest first."""
    with connect() as client:
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
    with connect() as client:
        job = client.get_job(job_id)
    print_json(job) if as_json else print_job(job)


@jobs_app.command("watch")
@handles_errors
def jobs_watch(
    job_id: str,
    from_step: Annotated[int, typer.Option(help="start with the first event at or after this step", min=0)] = 0,
    retry_for: RetryForOption = DEFAULT_RETRY_FOR_S,
    as_json: JsonFlag = False,
) -> None:
    """Follow a job with a progress bar until it ends."""
    with connect() as client:
        if as_json:
            events = list(client.follow_job(job_id, from_step=from_step, retry_for=retry_for))
            print_json({"job": client.get_job(job_id), "events": events})
            return
        job = reach(lambda: client.get_job(job_id), f"job {job_id}", retry_for=retry_for)
        job = follow_job(client, job, quiet=False, from_step=from_step, retry_for=retry_for)
    print_job(job)


@jobs_app.command("cancel")
@handles_errors
def jobs_cancel(job_id: str, as_json: JsonFlag = False) -> None:
    """Cancel a queued or running job (a running one stops within two seconds)."""
    with connect() as client:
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
    with connect() as client:
        job = client.resume_job(job_id)
        if watch:
            job = follow_job(client, job, quiet=as_json)
    print_json(job) if as_json else console.print(f"{job.job_id}: {job.state} from step {job.step}")
