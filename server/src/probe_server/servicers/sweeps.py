"""SweepService: grids and searches of child jobs."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from probe_models.config import parse_config
from probe_models.errors import InvalidInput
from probe_models.registry import get_family
from probe_models.states import RunState
from probe_server import paging
from probe_server.convert import requested_spec, struct_to_dict, sweep_event_proto, sweep_proto, value_to_python
from probe_server.ids import check_id
from probe_server.settings import Limits
from probe_server.sweeps import SweepManager
from probe_wire.v1 import sweeps_pb2, sweeps_pb2_grpc

MAX_SEEDS = 1000


class SweepServicer(sweeps_pb2_grpc.SweepServiceServicer):
    def __init__(self, sweeps: SweepManager, limits: Limits) -> None:
        self.sweeps = sweeps
        self.limits = limits

    def _full(self, sweep_id: str) -> sweeps_pb2.Sweep:
        sweep = self.sweeps.get(sweep_id)
        children = self.sweeps.store.sweep_children(sweep_id)
        return sweep_proto(sweep, children, self.sweeps.search_statuses(sweep), with_children=True)

    def SubmitSweep(
        self, request: sweeps_pb2.SubmitSweepRequest, context: grpc.ServicerContext
    ) -> sweeps_pb2.SubmitSweepResponse:
        family = get_family(request.family)
        if not 0 <= request.seeds <= MAX_SEEDS:
            raise InvalidInput(f"seeds must lie in [0, {MAX_SEEDS}], got {request.seeds}")
        grid = [(axis.key, [value_to_python(v) for v in axis.values]) for axis in request.grid]
        search = None
        if request.HasField("search"):
            s = request.search
            search = {
                "key": s.key, "low": s.low, "high": s.high, "metric": s.metric, "threshold": s.threshold,
                "log_scale": s.log_scale, "resolution": s.resolution,
            }  # fmt: skip
        base = struct_to_dict(request.base_config)
        config = parse_config(family.config_cls, base)
        spec = requested_spec(request).validate(family, config, self.limits, self.sweeps.store)
        sweep = self.sweeps.submit(family.name, base, grid, search, request.seeds or 1, spec, request.name)
        return sweeps_pb2.SubmitSweepResponse(sweep=self._full(sweep.sweep_id))

    def GetSweep(
        self, request: sweeps_pb2.GetSweepRequest, context: grpc.ServicerContext
    ) -> sweeps_pb2.GetSweepResponse:
        return sweeps_pb2.GetSweepResponse(sweep=self._full(check_id("sweep", request.sweep_id)))

    def ListSweeps(
        self, request: sweeps_pb2.ListSweepsRequest, context: grpc.ServicerContext
    ) -> sweeps_pb2.ListSweepsResponse:
        limit = paging.page_size(request.page_size)
        states = paging.state_filter(request.states, sweeps_pb2.SweepState, "SWEEP_STATE_")
        if request.family:
            get_family(request.family)
        store = self.sweeps.store
        sweeps = store.list_sweeps(states, request.family, limit + 1, paging.decode_token(request.page_token))
        token = paging.encode_token(sweeps[limit - 1].rowid) if len(sweeps) > limit else ""
        protos = [
            sweep_proto(s, store.sweep_children(s.sweep_id), self.sweeps.search_statuses(s), with_children=False)
            for s in sweeps[:limit]
        ]
        return sweeps_pb2.ListSweepsResponse(sweeps=protos, next_page_token=token)

    def CancelSweep(
        self, request: sweeps_pb2.CancelSweepRequest, context: grpc.ServicerContext
    ) -> sweeps_pb2.CancelSweepResponse:
        sweep = self.sweeps.cancel(check_id("sweep", request.sweep_id))
        return sweeps_pb2.CancelSweepResponse(sweep=self._full(sweep.sweep_id))

    def WatchSweep(
        self, request: sweeps_pb2.WatchSweepRequest, context: grpc.ServicerContext
    ) -> Iterator[sweeps_pb2.SweepEvent]:
        sweep_id = check_id("sweep", request.sweep_id)
        if request.after_seq < 0:
            raise InvalidInput("after_seq must be >= 0")
        self.sweeps.get(sweep_id)
        context.send_initial_metadata(())  # the stream is open: a follower's outage ends here, events or not
        after = request.after_seq
        while context.is_active():
            sweep = self.sweeps.get(sweep_id)  # the state before the events: nothing slips between
            events = self.sweeps.store.sweep_events(sweep_id, after)
            for event in events:
                yield sweep_event_proto(event)
                after = event.seq
            if events:
                continue
            if sweep.state != RunState.RUNNING:
                return
            with self.sweeps.changed:
                self.sweeps.changed.wait(timeout=0.5)
