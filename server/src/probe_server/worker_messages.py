"""What a job's worker process tells the engine over its pipe, one dataclass per kind of message.

The pipe is between the server and the worker it started (multiprocessing pickles these); no client
supplies them. The engine's messages back are CANCEL (stop now) and SHUTDOWN (the server is stopping:
checkpoint the step reached, then stop).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CANCEL = "cancel"
SHUTDOWN = "shutdown"


@dataclass(frozen=True)
class Progress:
    step: int
    metrics: dict[str, float]  # "loss" always among them
    peak_memory_bytes: int
    cpu_seconds: float = 0.0  # the worker's CPU (user and system) so far


@dataclass(frozen=True)
class CheckpointWritten:
    meta: dict[str, Any]  # a CheckpointMeta's fields: the checkpoint is on disk, atomically, before this is sent
    size_bytes: int


@dataclass(frozen=True)
class Done:
    """Training returned: after its last step, or early (``stopped``) on CANCEL or SHUTDOWN."""

    step: int
    stopped: bool
    peak_memory_bytes: int
    cpu_seconds: float = 0.0


@dataclass(frozen=True)
class Failed:
    error: str  # "TypeName: message"
    traceback: str


@dataclass(frozen=True)
class Placed:
    """The executor has placed the worker on a node (a Ray actor, once the cluster had room); the executor's
    handle sends it, not the worker."""

    node: str


WorkerMessage = Progress | CheckpointWritten | Done | Failed | Placed
