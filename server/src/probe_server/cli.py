"""``probe-server serve``: the command that runs the server."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from probe_server.settings import Limits, Settings, integer_limits


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="probe-server", description="gRPC server of probe: training jobs, checkpoints and probes"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server until SIGINT, SIGTERM or SIGHUP")
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
        help="require 'authorization: Bearer <token>' on every RPC but health; one token per line as "
        "'NAME ROLE TOKEN' (role read or write), or a single bare token (write)",
    )
    serve.add_argument(
        "--max-streams",
        type=int,
        default=defaults.max_streams,
        help=f"open streams (watchers) served at once; past it RESOURCE_EXHAUSTED, so unary calls keep "
        f"{defaults.rpc_threads} - max-streams threads (default %(default)s)",
    )
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve TLS only (with --tls-key)")
    serve.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    serve.add_argument("--tls-client-ca", type=Path, help="PEM CA: require client certificates it signed (mutual TLS)")
    serve.add_argument(
        "--data-root",
        type=Path,
        action="append",
        default=[],
        help="a directory a job's data_path/hf_path may point into (repeatable); without one the server reads "
        "no client-chosen path",
    )
    for name, meaning in integer_limits().items():
        flag = "--" + name.replace("_", "-")
        serve.add_argument(
            flag, type=int, default=getattr(defaults.limits, name), help=f"{meaning} (default %(default)s)"
        )
    serve.add_argument(
        "--probe-threads",
        type=int,
        default=defaults.probe_threads,
        help="torch probes that run at once, each on a lane of its own; more wait (default %(default)s)",
    )
    serve.add_argument(
        "--probe-torch-threads",
        type=int,
        default=defaults.probe_torch_threads,
        help="torch threads of the first probe lane; the others run on one (default %(default)s)",
    )
    serve.add_argument(
        "--threads-per-job",
        type=int,
        default=0,
        help="torch threads of each job's worker; 0 (default): the cores but one (kept for serving), shared "
        "among the slots",
    )
    serve.add_argument(
        "--model-cache-size",
        type=int,
        default=defaults.model_cache_size,
        help="checkpoints whose torch model (and ONNX session) stay loaded for probes (default %(default)s)",
    )
    serve.add_argument(
        "--shutdown-grace",
        type=float,
        default=defaults.shutdown_grace,
        help="seconds running jobs get on SIGTERM, SIGINT or SIGHUP to write a checkpoint and stop before they "
        "are killed (default %(default)s)",
    )
    serve.add_argument(
        "--executor",
        choices=("local", "ray"),
        default=defaults.executor,
        help="where jobs run: worker processes here (local), or Ray actors on a cluster (ray; needs the "
        "probe-server[ray] extra) (default %(default)s)",
    )
    serve.add_argument(
        "--ray-address",
        default=defaults.ray_address,
        help="the Ray cluster's address (host:port of its head); auto: the cluster `ray start` runs on this "
        "machine (default %(default)s)",
    )
    serve.add_argument(
        "--max-retries",
        type=int,
        default=defaults.max_retries,
        help="times a job lost with its Ray node or actor is started again from its last checkpoint "
        "(default %(default)s)",
    )
    serve.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    check = commands.add_parser(
        "fsck", help="check a stopped server's data dir: the database and every checkpoint's digests"
    )
    check.add_argument("--data-dir", type=Path, default=defaults.data_dir, help="(default %(default)s)")
    args = parser.parse_args(argv)
    if args.command == "fsck":
        from probe_server.fsck import main as fsck

        raise SystemExit(fsck(args.data_dir))
    if args.slots < 1:
        parser.error("--slots must be at least 1")
    for root in args.data_root:
        if not root.is_absolute() or not root.is_dir():
            parser.error(f"--data-root {root}: must be an absolute path to a directory")
    for name in integer_limits():
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.max_retries < 0:
        parser.error("--max-retries must be 0 or more")
    if args.probe_threads < 1 or args.probe_torch_threads < 1:
        parser.error("--probe-threads and --probe-torch-threads must be at least 1")
    if args.threads_per_job < 0:
        parser.error("--threads-per-job must be 0 (automatic) or more")
    if args.model_cache_size < 1:
        parser.error("--model-cache-size must be at least 1")
    if not 0 <= args.shutdown_grace <= 3600:
        parser.error("--shutdown-grace must lie in [0, 3600] seconds")
    if not 1 <= args.max_streams < defaults.rpc_threads:
        parser.error(f"--max-streams must lie in [1, {defaults.rpc_threads - 1}]")
    try:
        settings = Settings(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            metrics_port=args.metrics_port,
            slots=args.slots,
            device=args.device,
            token_file=args.token_file,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            tls_client_ca=args.tls_client_ca,
            max_streams=args.max_streams,
            shutdown_grace=args.shutdown_grace,
            model_cache_size=args.model_cache_size,
            job_threads=args.threads_per_job,
            probe_threads=args.probe_threads,
            probe_torch_threads=args.probe_torch_threads,
            executor=args.executor,
            ray_address=args.ray_address,
            max_retries=args.max_retries,
            limits=Limits(data_roots=tuple(args.data_root), **{name: getattr(args, name) for name in integer_limits()}),
        )
    except ValueError as error:  # a combination the flags alone do not catch
        parser.error(str(error))
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from probe_server.app import serve as run  # torch is imported only once the arguments are good

    run(settings)


if __name__ == "__main__":
    main()
