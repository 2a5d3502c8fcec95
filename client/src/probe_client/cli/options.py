"""Options that several commands share, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

JsonFlag = Annotated[bool, typer.Option("--json", help="print one JSON document on stdout")]
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
