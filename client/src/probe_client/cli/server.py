"""Commands about the server itself: families, optimizers, health and version."""

from __future__ import annotations

import typer

from probe_client.cli.app import app, connect, handles_errors, state
from probe_client.cli.options import JsonFlag
from probe_client.cli.output import console, print_json, table
from probe_client.client import API_VERSION
from probe_client.types import Family, Optimizer


@app.command()
@handles_errors
def families(as_json: JsonFlag = False) -> None:
    """List the families the server can train, with their config keys."""
    with connect() as client:
        _print_schemas(client.families(), as_json)


@app.command()
@handles_errors
def optimizers(as_json: JsonFlag = False) -> None:
    """List the optimizers any family's job may use instead of its own (train --optimizer), with their keys."""
    with connect() as client:
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
def health(as_json: JsonFlag = False) -> None:
    """Ask the server's standard gRPC health service."""
    with connect() as client:
        status = client.health()
    print_json({"server": state.server, "status": status}) if as_json else console.print(f"{state.server}: {status}")
    if status != "SERVING":
        raise typer.Exit(1)


@app.command()
@handles_errors
def version(as_json: JsonFlag = False) -> None:
    """Versions of this client and of the server, checked against each other."""
    from probe_client import __version__

    with connect() as client:
        info = client.check_version()
    result = {"client_version": __version__, "client_api": API_VERSION, "server": info}
    if as_json:
        print_json(result)
        return
    console.print(
        f"client {__version__} ({API_VERSION}); server {info.package_version} ({info.api_version}) on {info.device}"
    )
