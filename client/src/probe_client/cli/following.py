"""Progress bars that follow a job or a sweep to its end, across a server restart (ProbeClient.follow_*)."""

from __future__ import annotations

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from probe_client.cli.output import console, fmt
from probe_client.client import ProbeClient
from probe_client.follow import DEFAULT_RETRY_FOR_S
from probe_client.types import Job, Sweep


def progress_bar(unit: str, quiet: bool) -> Progress:
    """A bar of completed/total ``unit`` with a status text; silent under --json."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn(f"{{task.completed}}/{{task.total}} {unit}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
    )


def finished_count(counts: dict[str, int]) -> int:
    return sum(n for state, n in counts.items() if state in ("SUCCEEDED", "FAILED", "CANCELLED"))


def follow_job(
    client: ProbeClient, job: Job, quiet: bool, from_step: int = 0, retry_for: float = DEFAULT_RETRY_FOR_S
) -> Job:
    """Follow a job to its end, with a progress bar unless quiet; reconnects with backoff, missing nothing."""
    total = job.steps * (3 if job.config.get("lr_ladder") else 1)
    progress = progress_bar("steps", quiet)
    with progress:
        bar = progress.add_task(job.job_id, total=total, completed=job.step, status="")
        for event in client.follow_job(job.job_id, from_step=from_step, retry_for=retry_for):
            status = event.state if event.kind == "STATE" else f"loss {fmt(event.loss)}"
            if "fact_accuracy" in event.metrics:
                status += f"  facts {event.metrics['fact_accuracy']:.1%}"
            progress.update(bar, completed=event.step, status=status)
    return client.get_job(job.job_id)


def follow_sweep(client: ProbeClient, sweep: Sweep, quiet: bool, retry_for: float = DEFAULT_RETRY_FOR_S) -> Sweep:
    """A progress bar over the sweep's children until it ends; reconnects like :func:`follow_job`."""
    progress = progress_bar("children", quiet)
    with progress:
        bar = progress.add_task(sweep.sweep_id, total=sweep.planned_children, completed=0, status="")
        for event in client.follow_sweep(sweep.sweep_id, retry_for=retry_for):
            finished = finished_count(event.counts)
            status = ", ".join(f"{n} {state.lower()}" for state, n in sorted(event.counts.items()))
            progress.update(bar, completed=finished, total=max(sweep.planned_children, sum(event.counts.values())),
                            status=status)  # fmt: skip
    return client.get_sweep(sweep.sweep_id)
