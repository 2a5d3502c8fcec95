"""JobService: submit, inspect, cancel, resume and watch training jobs."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from probe_models.config import config_to_dict, parse_config
from probe_models.errors import InvalidInput
from probe_models.registry import get_family
from probe_models.states import JobState
from probe_server import paging
from probe_server.convert import event_proto, job_proto, requested_spec, struct_to_dict
from probe_server.engine import JobEngine
from probe_server.ids import check_id
from probe_server.settings import Limits
from probe_server.store import JobRecord
from probe_wire.v1 import jobs_pb2, jobs_pb2_grpc


class JobServicer(jobs_pb2_grpc.JobServiceServicer):
    def __init__(self, engine: JobEngine, limits: Limits) -> None:
        self.engine = engine
        self.limits = limits

    @staticmethod
    def _job(job: JobRecord) -> jobs_pb2.Job:
        return job_proto(job)

    def SubmitJob(
        self, request: jobs_pb2.SubmitJobRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.SubmitJobResponse:
        family = get_family(request.family)
        config = parse_config(family.config_cls, struct_to_dict(request.config))
        spec = requested_spec(request).validate(family, config, self.limits, self.engine.store)
        job = self.engine.submit(family.name, config_to_dict(config), spec)
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
