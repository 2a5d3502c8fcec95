"""The reproductions' server: one job slot per core, so a reproduction's jobs run side by side.

A reproduction submits all its sweeps at once. With one slot a job gets every core, and the small models
here use a second torch thread poorly: on 2 cores two one-thread jobs at a time took `make reproduce-check`
from about 2,500 s to 1,696 s, mezo's three seeds included (depth-ushape 307 → 234 s, factual-recall 436 →
188 s, three-layer 288 → 180 s).
The README tells an operator the same: ``--slots`` as many as the cores for reproductions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import ServerProcess, start_server

SLOTS = max(1, os.cpu_count() or 1)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = start_server(tmp_path_factory.mktemp("reproductions") / "data", "--slots", str(SLOTS))
    yield running
    running.stop()
