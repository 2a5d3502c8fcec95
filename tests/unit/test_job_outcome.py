"""A worker's end as the job's final state."""

import pytest

from probe_server.job_outcome import job_outcome
from probe_server.worker_messages import Done, Failed

DONE, STOPPED = Done(10, False, 123), Done(4, True, 123)


@pytest.mark.parametrize(
    "reported, cancel, stopping, exitcode, state, message",
    [
        (DONE, False, True, 0, "SUCCEEDED", "finished"),  # completed its last step while the server stopped
        (STOPPED, True, False, 0, "CANCELLED", "cancelled"),
        (STOPPED, False, True, 0, "INTERRUPTED", "stopped at step 4 (checkpointed)"),
        (Failed("ValueError: x", "tb"), False, False, 1, "FAILED", "ValueError: x"),
        (None, True, False, -15, "CANCELLED", "worker terminated"),
        (None, False, True, -9, "INTERRUPTED", "while the job was running"),
        (None, False, False, -9, "FAILED", "killed by signal 9"),
    ],
)
def test_each_end_is_the_state_it_means(reported, cancel, stopping, exitcode, state, message):
    outcome = job_outcome(reported, cancel_requested=cancel, server_stopping=stopping, exitcode=exitcode)
    assert outcome.state == state and message in outcome.message
    assert ("error" in outcome.updates) == (state == "FAILED")
