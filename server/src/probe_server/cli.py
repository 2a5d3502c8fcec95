"""``probe-server serve``: the command that runs the server."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from probe_server.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="probe-server", description="gRPC server of probe: training jobs, checkpoints and probes"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server until SIGINT or SIGTERM")
    defaults = Settings()
    serve.add_argument("--host", default=defaults.host, help="address to bind (default %(default)s)")
    serve.add_argument(
        "--port", type=int, default=defaults.port, help="gRPC port; 0 picks a free one (default %(default)s)"
    )
    serve.add_argument(
        "--data-dir", type=Path, default=defaults.data_dir, help="database and checkpoints (default %(default)s)"
    )
    serve.add_argument(
        "--metrics-port",
        type=int,
        default=defaults.metrics_port,
        help="Prometheus port; 0 turns it off (default %(default)s)",
    )
    serve.add_argument("--slots", type=int, default=defaults.slots, help="jobs that run at once (default %(default)s)")
    serve.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default=defaults.device, help="torch device (default %(default)s)"
    )
    serve.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help="require 'authorization: Bearer <token>' with the token in this file",
    )
    serve.add_argument(
        "--max-streams",
        type=int,
        default=defaults.max_streams,
        help=f"open streams (watchers) served at once; past it RESOURCE_EXHAUSTED, so unary calls keep "
        f"{defaults.rpc_threads} - max-streams threads (default %(default)s)",
    )
    serve.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    args = parser.parse_args(argv)
    if args.slots < 1:
        parser.error("--slots must be at least 1")
    if not 1 <= args.max_streams < defaults.rpc_threads:
        parser.error(f"--max-streams must lie in [1, {defaults.rpc_threads - 1}]")
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from probe_server.app import serve as run  # torch is imported only once the arguments are good

    run(
        Settings(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            metrics_port=args.metrics_port,
            slots=args.slots,
            device=args.device,
            token_file=args.token_file,
            max_streams=args.max_streams,
        )
    )


if __name__ == "__main__":
    main()
