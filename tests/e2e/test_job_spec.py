"""JobSpec on the wire: SubmitJob and SubmitSweep take it, Job and Sweep carry it with the server's defaults;
a client of the previous version, which sets the deprecated flat fields, is served as before."""

from probe_client.types import Job
from probe_wire.structs import to_struct, to_value
from probe_wire.v1 import jobs_pb2, sweeps_pb2

CONFIG = to_struct({"num_subjects": 4, "num_relations": 4})


def test_submit_job_with_a_spec_or_with_the_deprecated_fields_asks_the_same(client):
    spec = jobs_pb2.JobSpec(steps=3, seed=5, log_every=0, training=jobs_pb2.TrainingOptions(trainable=["W_O"]))
    new = client._jobs.SubmitJob(jobs_pb2.SubmitJobRequest(family="factual-recall", config=CONFIG, spec=spec)).job
    old = client._jobs.SubmitJob(
        jobs_pb2.SubmitJobRequest(
            family="factual-recall",
            config=CONFIG,
            steps=3,
            seed=5,
            training=jobs_pb2.TrainingOptions(trainable=["W_O"]),
        )
    ).job
    for job in (new, old):
        assert job.spec.steps == 3 and job.spec.seed == 5 and job.spec.log_every == 1  # default: steps // 100, >= 1
        assert list(job.spec.training.trainable) == ["W_O"]
        # the flat fields repeat the spec for clients of the previous version
        assert (job.steps, job.seed, job.log_every, list(job.training.trainable)) == (3, 5, 1, ["W_O"])
    assert Job.from_proto(new).steps == Job.from_proto(old).steps == 3
    client.wait(new.job_id, timeout=120)
    client.wait(old.job_id, timeout=120)


def test_a_job_from_a_server_of_the_previous_version_reads_from_the_flat_fields():
    previous = jobs_pb2.Job(job_id="job-0123456789abcdef", steps=7, seed=2, log_every=1, checkpoint_every=3)
    job = Job.from_proto(previous)
    assert (job.steps, job.seed, job.log_every, job.checkpoint_every) == (7, 2, 1, 3)


def test_submit_sweep_with_a_spec_or_with_the_deprecated_fields_asks_the_same(client):
    axis = sweeps_pb2.GridAxis(key="num_subjects", values=[to_value(4)])
    new = client._sweeps.SubmitSweep(
        sweeps_pb2.SubmitSweepRequest(
            family="factual-recall", base_config=CONFIG, grid=[axis], seeds=2, spec=jobs_pb2.JobSpec(steps=2, seed=9)
        )
    ).sweep
    old = client._sweeps.SubmitSweep(
        sweeps_pb2.SubmitSweepRequest(
            family="factual-recall", base_config=CONFIG, grid=[axis], seeds=2, steps=2, seed=9
        )
    ).sweep
    for sweep in (new, old):
        assert sweep.spec.steps == sweep.steps == 2 and sweep.spec.seed == sweep.seed == 9
        assert [c.seed for c in sweep.children] == [9, 10]
        for child in sweep.children:
            job = client.get_job(child.job_id)
            assert job.steps == 2 and job.seed == child.seed
    client.wait_sweep(new.sweep_id, timeout=120)
    client.wait_sweep(old.sweep_id, timeout=120)
