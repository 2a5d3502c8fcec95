"""JobService: submit, inspect, cancel, resume and watch training jobs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from probe_client._proto.probe.v1 import jobs_pb2, jobs_pb2_grpc
from probe_models.config import config_to_dict, parse_config
from probe_models.errors import InvalidInput, TooLarge
from probe_models.family import Family
from probe_models.optimizers import parse_optimizer
from probe_models.registry import get_family
from probe_models.states import JobState
from probe_server import paging
from probe_server.convert import event_proto, job_proto, struct_to_dict
from probe_server.engine import JobEngine
from probe_server.errors import Conflict, NotFoundError
from probe_server.ids import check_id
from probe_server.settings import Limits
from probe_server.store import JobRecord, Store

MAX_SEED = 2**63 - 1
EVENTS_PER_JOB = 100  # progress events a job gets when log_every is left at 0


def check_run(family: Family, request: Any, limits: Limits) -> tuple[int, int]:
    """Validate steps, seed and intervals shared by jobs and sweeps; returns (steps, log_every)."""
    if request.steps < 0:
        raise InvalidInput(f"steps must be >= 0, got {request.steps}")
    steps = request.steps or family.default_steps
    if steps > limits.max_steps:
        raise TooLarge(f"steps {steps} exceeds this server's limit of {limits.max_steps}")
    if request.seed > MAX_SEED:
        raise InvalidInput(f"seed must be < 2**63, got {request.seed}")
    for name in ("checkpoint_every", "log_every"):
        if getattr(request, name) < 0:
            raise InvalidInput(f"{name} must be >= 0, got {getattr(request, name)}")
    return steps, request.log_every or max(1, steps // EVENTS_PER_JOB)


def check_size(family: Family, config: Any, limits: Limits) -> None:
    parameters = family.parameter_count(config)
    if parameters > limits.max_parameters:
        raise TooLarge(
            f"the model would have {parameters:,} parameters; this server's limit is {limits.max_parameters:,}"
        )
    working = family.working_floats(config)
    if working > limits.max_working_floats:
        raise TooLarge(
            f"a training step would hold about {working:,} floats of data and activations; "
            f"this server's limit is {limits.max_working_floats:,}"
        )


def check_training(family: Family, config: Any, options: jobs_pb2.TrainingOptions, store: Store) -> dict[str, Any]:
    """Validate a job's (or sweep's) training options; returns them with the optimizer's config filled in."""
    optimizer_config = parse_optimizer(family, config, options.optimizer, struct_to_dict(options.optimizer_config))
    training: dict[str, Any] = {"optimizer": options.optimizer, "optimizer_config": optimizer_config}
    if options.init_checkpoint:
        checkpoint_id = check_id("checkpoint", options.init_checkpoint)
        checkpoint = store.get_checkpoint(checkpoint_id)
        if checkpoint is None:
            raise NotFoundError(f"no checkpoint {checkpoint_id} to start from")
        if checkpoint.family != family.name:
            raise Conflict(
                f"init_checkpoint {checkpoint_id} is a {checkpoint.family} model; this job trains {family.name}"
            )
        training["init_checkpoint"] = checkpoint_id
    if options.trainable:
        family.check_trainable(config, list(options.trainable))
        training["trainable"] = list(options.trainable)
    return training


class JobServicer(jobs_pb2_grpc.JobServiceServicer):
    def __init__(self, engine: JobEngine, limits: Limits) -> None:
        self.engine = engine
        self.limits = limits

    def _job(self, job: JobRecord) -> jobs_pb2.Job:
        return job_proto(job, self.engine.store.last_event(job.job_id, exclude_kind="STATE"))

    def SubmitJob(
        self, request: jobs_pb2.SubmitJobRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.SubmitJobResponse:
        family = get_family(request.family)
        config = parse_config(family.config_cls, struct_to_dict(request.config))
        check_size(family, config, self.limits)
        steps, log_every = check_run(family, request, self.limits)
        training = check_training(family, config, request.training, self.engine.store)
        job = self.engine.submit(
            family.name, config_to_dict(config), request.seed, steps, request.checkpoint_every, log_every, training
        )
        return jobs_pb2.SubmitJobResponse(job=self._job(job))

    def GetJob(self, request: jobs_pb2.GetJobRequest, context: grpc.ServicerContext) -> jobs_pb2.GetJobResponse:
        return jobs_pb2.GetJobResponse(job=self._job(self.engine.get(check_id("job", request.job_id))))

    def ListJobs(self, request: jobs_pb2.ListJobsRequest, context: grpc.ServicerContext) -> jobs_pb2.ListJobsResponse:
        limit = paging.page_size(request.page_size)
        states = paging.state_filter(request.states, jobs_pb2.JobState, "JOB_STATE_")
        if request.family:
            get_family(request.family)
        jobs = self.engine.store.list_jobs(states, request.family, limit + 1, paging.decode_token(request.page_token))
        token = paging.encode_token(jobs[limit - 1].rowid) if len(jobs) > limit else ""
        return jobs_pb2.ListJobsResponse(jobs=[self._job(j) for j in jobs[:limit]], next_page_token=token)

    def CancelJob(
        self, request: jobs_pb2.CancelJobRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.CancelJobResponse:
        return jobs_pb2.CancelJobResponse(job=self._job(self.engine.cancel(check_id("job", request.job_id))))

    def ResumeJob(
        self, request: jobs_pb2.ResumeJobRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.ResumeJobResponse:
        return jobs_pb2.ResumeJobResponse(job=self._job(self.engine.resume(check_id("job", request.job_id))))

    def WatchJob(self, request: jobs_pb2.WatchJobRequest, context: grpc.ServicerContext) -> Iterator[jobs_pb2.JobEvent]:
        job_id = check_id("job", request.job_id)
        if request.from_step < 0 or request.after_seq < 0:
            raise InvalidInput("from_step and after_seq must be >= 0")
        self.engine.get(job_id)
        context.send_initial_metadata(())  # the stream is open: a follower's outage ends here, events or not
        store, after = self.engine.store, request.after_seq
        while context.is_active():
            job = self.engine.get(job_id)  # read the state before the events: no event can slip between
            events = store.events(job_id, after, request.from_step)
            for event in events:
                yield event_proto(event)
                after = event.seq
            if events:
                continue
            if JobState(job.state).is_terminal:
                return
            with self.engine.changed:
                self.engine.changed.wait(timeout=0.5)
