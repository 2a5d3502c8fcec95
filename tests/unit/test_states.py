"""Job, sweep and reproduction states: named once, with one meaning each of "at rest", "settled", "resumable"."""

from probe_models.states import JobState, RunState
from probe_wire.v1 import jobs_pb2, reproductions_pb2, sweeps_pb2


def test_a_job_at_rest_is_terminal_but_an_interrupted_one_is_not_settled():
    assert [s for s in JobState if s.is_active] == [JobState.QUEUED, JobState.RUNNING]
    assert [s for s in JobState if s.is_terminal] == ["SUCCEEDED", "FAILED", "CANCELLED", "INTERRUPTED"]
    assert [s for s in JobState if s.is_outcome] == ["SUCCEEDED", "FAILED", "CANCELLED"]
    assert [s for s in JobState if s.is_resumable] == ["FAILED", "CANCELLED", "INTERRUPTED"]
    assert JobState("RUNNING") is JobState.RUNNING and f"{JobState.QUEUED}" == "QUEUED"


def test_the_states_are_the_wire_enums_names():
    def names(enum, prefix: str) -> set[str]:
        return {v.name.removeprefix(prefix) for v in enum.DESCRIPTOR.values if not v.name.endswith("UNSPECIFIED")}

    assert names(jobs_pb2.JobState, "JOB_STATE_") == set(JobState)
    assert names(sweeps_pb2.SweepState, "SWEEP_STATE_") == set(RunState)
    assert names(reproductions_pb2.ReproductionState, "REPRODUCTION_STATE_") == set(RunState)
