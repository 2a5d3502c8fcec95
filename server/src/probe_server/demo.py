"""`make demo`: a server on a free port with a temporary data dir, driven only through probe-cli.

Trains the default factual-recall transformer (128 facts, 8,192 paper-counted
parameters), then shows queries, the EOS head's attention and the top Hessian
eigenvalues, and ends by printing the fact accuracy. Each command is printed
before it runs so the demo doubles as a tour of the CLI.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent
STEPS = 1000


def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    command = [str(BIN / "probe-server"), "serve", "--port", "0", "--data-dir", str(data_dir), "--metrics-port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert server.stdout is not None
    for line in server.stdout:
        if line.startswith("probe-server listening on "):
            return server, line.rsplit(" ", 1)[1].strip()
    raise SystemExit(f"probe-server exited with code {server.wait()} before listening")


def cli(address: str, *args: str, capture: bool = False) -> str:
    shown = "probe-cli " + " ".join(shlex.quote(a) for a in args)
    print(f"\n$ {shown}", flush=True)
    env = {**os.environ, "PROBE_SERVER": address}
    result = subprocess.run([str(BIN / "probe-cli"), *args], env=env, text=True, capture_output=capture)
    if result.returncode != 0:
        raise SystemExit(f"{shown} failed with exit code {result.returncode}\n{result.stderr or ''}")
    return result.stdout


def main() -> None:
    if not (BIN / "probe-cli").exists():  # probe-server does not depend on the client; `make demo` installs both
        raise SystemExit(
            f"the demo drives the server through probe-cli, which is not in {BIN}: pip install ./wire ./client"
        )
    with tempfile.TemporaryDirectory(prefix="probe-demo-") as tmp:
        server, address = start_server(Path(tmp))
        print(f"probe-server is listening on {address} with data dir {tmp}")
        try:
            cli(address, "families")
            job = json.loads(cli(address, "train", "factual-recall", "--steps", str(STEPS), "--json", capture=True))
            cli(address, "jobs", "watch", job["job_id"])
            shown = json.loads(cli(address, "jobs", "show", job["job_id"], "--json", capture=True))
            checkpoint = shown["checkpoint_id"]
            for subject, relation in ((0, 0), (5, 3), (11, 7)):
                cli(address, "query", checkpoint, str(subject), str(relation))
            cli(address, "query", checkpoint, "--all")
            cli(address, "attention", checkpoint)
            cli(address, "sharpness", checkpoint, "--top-k", "3", "--num-examples", "512")
            evaluation = json.loads(cli(address, "eval", checkpoint, "--json", capture=True))
            cli(address, "eval", checkpoint)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    accuracy = evaluation["accuracy"]
    print(f"\nfact accuracy: {accuracy:.4f} ({'>=' if accuracy >= 0.99 else 'below'} 0.99)")
    if accuracy < 0.99:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
