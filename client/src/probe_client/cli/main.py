"""The console entry point: every command module registers its commands on :data:`app` when imported.

The modules are imported in the order ``probe-cli --help`` lists their commands.
"""

from __future__ import annotations

import sys

from probe_client.cli.app import app

# isort: off
from probe_client.cli import server, train, jobs, ckpt, sweep, reproduce, probes, activations
# isort: on

COMMAND_MODULES = (server, train, jobs, ckpt, sweep, reproduce, probes, activations)


def run() -> None:
    """Console entry point."""
    sys.exit(app())
