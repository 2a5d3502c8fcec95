"""How a worker's end becomes the job's final state: what it reported, and why the engine stopped it, if it did."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from probe_models.states import JobState
from probe_server.worker_messages import Done, Failed


@dataclass(frozen=True)
class JobOutcome:
    state: JobState
    message: str
    updates: dict[str, Any] = field(default_factory=dict)  # the job row's changes beside its state


def job_outcome(
    reported: Done | Failed | None,
    *,
    cancel_requested: bool,
    server_stopping: bool,
    exitcode: int | None,
    lost: str = "",
) -> JobOutcome:
    """The final state of a job whose worker reported ``reported`` (None: it died without a word).

    A run that stopped early is CANCELLED when a client asked, INTERRUPTED (resumable) when the server was
    stopping; a worker that died unasked is FAILED with its exit code or signal, and one ``lost`` with its
    node or actor (the executor says why) is INTERRUPTED: it may be retried elsewhere.
    """
    updates: dict[str, Any] = {"finished_at": time.time()}
    if isinstance(reported, Failed):
        return JobOutcome(JobState.FAILED, reported.error,
                          {**updates, "error": f"{reported.error}\n{reported.traceback}"})  # fmt: skip
    if isinstance(reported, Done):
        updates["peak_memory_bytes"] = reported.peak_memory_bytes
        if not reported.stopped:
            return JobOutcome(JobState.SUCCEEDED, "finished", updates)
        if cancel_requested or not server_stopping:
            return JobOutcome(JobState.CANCELLED, "cancelled", updates)
        return JobOutcome(JobState.INTERRUPTED, f"the server stopped at step {reported.step} (checkpointed); a "
                          "resume continues from there", updates)  # fmt: skip
    if cancel_requested:
        return JobOutcome(JobState.CANCELLED, "cancelled (worker terminated)", updates)
    if server_stopping:
        return JobOutcome(JobState.INTERRUPTED, "the server stopped while the job was running", updates)
    if lost:
        return JobOutcome(JobState.INTERRUPTED, lost, updates)
    how = f"killed by signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit code {exitcode}"
    message = f"worker process died ({how}) without reporting an error"
    return JobOutcome(JobState.FAILED, message, {**updates, "error": message})
