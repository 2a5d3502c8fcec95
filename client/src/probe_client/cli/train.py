"""`probe-cli train`: submit a job, and optionally follow it."""

from __future__ import annotations

from typing import Annotated

import typer

from probe_client.cli.app import app, connect, handles_errors
from probe_client.cli.config_args import optimizer_config, parse_overrides
from probe_client.cli.following import follow_job
from probe_client.cli.jobs import print_job
from probe_client.cli.options import InitOption, JsonFlag, OptimizerOption, OptOption, TrainOnlyOption
from probe_client.cli.output import console, print_json


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
    with connect() as client:
        config = parse_overrides(overrides or [])
        job = client.submit_job(
            family, config, steps=steps, seed=seed, checkpoint_every=checkpoint_every, log_every=log_every,
            optimizer=optimizer, optimizer_config=optimizer_config(optimizer, opts or []), init_checkpoint=init,
            trainable=train_only or [],
        )  # fmt: skip
        if watch:
            job = follow_job(client, job, quiet=as_json)
    if as_json:
        print_json(job)
    elif watch:
        print_job(job)
    else:
        console.print(f"submitted {job.job_id} ({job.family}, {job.steps} steps)")
    if watch and job.state != "SUCCEEDED":
        raise typer.Exit(1)
