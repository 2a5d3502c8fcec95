"""The states of jobs, and of sweeps and reproductions, named once for the server and the analyses.

A job is *active* while QUEUED or RUNNING and *terminal* otherwise: at rest,
so its event stream ends there. Terminal is not settled: an INTERRUPTED job
(the server stopped under it) is resumed by its sweep or by ResumeJob, so
only SUCCEEDED, FAILED and CANCELLED are *outcomes*, what a sweep counts as
a child's result. ResumeJob accepts an interrupted, failed or cancelled job.
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    INTERRUPTED = "INTERRUPTED"

    @property
    def is_active(self) -> bool:
        return self in (JobState.QUEUED, JobState.RUNNING)

    @property
    def is_terminal(self) -> bool:
        """At rest: no event follows unless someone resumes the job."""
        return not self.is_active

    @property
    def is_outcome(self) -> bool:
        """Settled: the job will not run again by itself (an INTERRUPTED one will, when resumed)."""
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)

    @property
    def is_resumable(self) -> bool:
        return self in (JobState.INTERRUPTED, JobState.FAILED, JobState.CANCELLED)


class RunState(StrEnum):
    """A sweep's or a reproduction's state."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
