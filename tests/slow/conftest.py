"""The reproductions' server (one job slot per core) and every selected reproduction, started at once.

A reproduction submits its sweeps at once. With one slot a job gets every core, and the small models here
use a second torch thread poorly: on 2 cores two one-thread jobs at a time took `make reproduce-check`
from about 2,500 s to 1,696 s, mezo's three seeds included (depth-ushape 307 → 234 s, factual-recall 436 →
188 s, three-layer 288 → 180 s). The README tells an operator the same: ``--slots`` as many as the cores.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import ServerProcess, start_server
from tests.slow.reproduce import Reproductions

SLOTS = max(1, os.cpu_count() or 1)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("reproductions") / "data"
    running = start_server(data_dir, "--slots", str(SLOTS), "--max-reproductions", "16")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def reproductions(
    server: ServerProcess, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Reproductions]:
    """The reproduction of each selected slow test module's REPRODUCED family, all started before the first test
    waits."""
    modules = {item.module for item in request.session.items if item.get_closest_marker("slow")}
    families = sorted(m.REPRODUCED for m in modules if isinstance(getattr(m, "REPRODUCED", None), str))
    started = Reproductions(server.address, tmp_path_factory.mktemp("reports"))
    for family in families:
        started.start(family)
    yield started
    started.stop()
