"""probe-cli: train, watch and probe models on a probe server.

Every command takes ``--json`` and then prints exactly one JSON document on
stdout. Errors print one line on stderr and exit non-zero.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from probe_client.cli.output import errors
from probe_client.client import ProbeClient, default_address
from probe_client.errors import ProbeError, Unavailable

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
jobs_app = typer.Typer(help="List, inspect, watch, cancel and resume training jobs.", no_args_is_help=True)
ckpt_app = typer.Typer(help="List, inspect, delete and export checkpoints.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
sweep_app = typer.Typer(help="Submit, list, watch, show and cancel sweeps of many jobs.", no_args_is_help=True)
app.add_typer(ckpt_app, name="ckpt")
app.add_typer(sweep_app, name="sweep")

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    server: str = ""
    token: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None


state = _State()


@app.callback()
def main(
    server: Annotated[
        str, typer.Option("--server", envvar="PROBE_SERVER", help="address of the probe server")
    ] = default_address(),
    token: Annotated[str | None, typer.Option("--token", envvar="PROBE_TOKEN", help="bearer token")] = None,
    tls_ca: Annotated[
        str | None, typer.Option("--tls-ca", envvar="PROBE_TLS_CA", help="PEM CA of a TLS server's certificate")
    ] = None,
    tls_cert: Annotated[
        str | None, typer.Option("--tls-cert", envvar="PROBE_TLS_CERT", help="PEM client certificate (mutual TLS)")
    ] = None,
    tls_key: Annotated[
        str | None, typer.Option("--tls-key", envvar="PROBE_TLS_KEY", help="PEM key of --tls-cert")
    ] = None,
) -> None:
    state.server, state.token = server, token
    state.tls_ca, state.tls_cert, state.tls_key = tls_ca, tls_cert, tls_key


def connect() -> ProbeClient:
    """A client of the server the global options name."""
    return ProbeClient(
        state.server, token=state.token, tls_ca=state.tls_ca, tls_cert=state.tls_cert, tls_key=state.tls_key
    )


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
