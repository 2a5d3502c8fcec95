"""`probe-cli ckpt …`: list, show, delete and export checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from probe_client.cli.app import ckpt_app, connect, handles_errors
from probe_client.cli.options import JsonFlag
from probe_client.cli.output import console, fmt, print_json, table


@ckpt_app.command("list")
@handles_errors
def ckpt_list(
    job: Annotated[str, typer.Option(help="only this job's checkpoints")] = "",
    family: Annotated[str, typer.Option(help="only this family's checkpoints")] = "",
    limit: Annotated[int, typer.Option(help="at most this many", min=1)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List checkpoints, newest first."""
    with connect() as client:
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
    with connect() as client:
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
    with connect() as client:
        client.delete_checkpoint(checkpoint_id)
    print_json({"deleted": checkpoint_id}) if as_json else console.print(f"deleted {checkpoint_id}")


@ckpt_app.command("export")
@handles_errors
def ckpt_export(
    checkpoint_id: str,
    export_format: Annotated[
        str,
        typer.Option("--format", help="onnx (a file) or transformer-lens (a directory)"),
    ] = "onnx",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="the .onnx file, or the directory")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Export a checkpoint's model: as ONNX, or as TransformerLens's HookedTransformer config and state dict."""
    if export_format == "transformer-lens":
        directory = out or Path(f"{checkpoint_id}-transformer-lens")
        with connect() as client:
            config = client.export_transformer_lens(checkpoint_id, directory)
        result: dict[str, Any] = {"checkpoint_id": checkpoint_id, "path": str(directory), "config": config}
        if as_json:
            print_json(result)
        else:
            console.print(f"wrote {directory}/config.json and {directory}/model.safetensors")
        return
    if export_format != "onnx":
        raise ValueError(f"--format must be onnx or transformer-lens, got {export_format!r}")
    out = out or Path("model.onnx")
    tmp = out.with_name(out.name + ".part")
    with connect() as client, open(tmp, "wb") as f:
        size = client.export_onnx(checkpoint_id, f)
    tmp.replace(out)
    result = {"checkpoint_id": checkpoint_id, "path": str(out), "size_bytes": size}
    print_json(result) if as_json else console.print(f"wrote {out} ({size} bytes)")
