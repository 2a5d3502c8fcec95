"""`probe-cli reproduce`: a family's headline experiments, run on the server, report written locally."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from probe_client.cli.app import app, connect, handles_errors
from probe_client.cli.following import finished_count, progress_bar
from probe_client.cli.options import JsonFlag
from probe_client.cli.output import fmt, print_json, table


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
    with connect() as client:
        reproduction = client.start_reproduction(family, scale)
        progress = progress_bar("jobs", as_json)
        with progress:
            bar = progress.add_task(f"{family} ({scale})", total=reproduction.planned_children, status="")
            for update in client.follow_reproduction(reproduction.reproduction_id):
                reproduction = update
                finished = finished_count(update.counts)
                total = max(update.planned_children, sum(update.counts.values()))
                progress.update(bar, completed=finished, total=total, status=f"{len(update.sweep_ids)} sweeps")
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
