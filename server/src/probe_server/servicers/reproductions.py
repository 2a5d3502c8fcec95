"""ReproductionService: a family's headline experiments, run here, reported as files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import grpc

from probe_models.errors import InvalidInput
from probe_server.convert import timestamp
from probe_server.ids import check_id
from probe_server.reproductions import ReproductionManager
from probe_server.store import ReproductionRecord
from probe_wire.v1 import reproductions_pb2, reproductions_pb2_grpc

CHUNK_BYTES = 1 << 20


class ReproductionServicer(reproductions_pb2_grpc.ReproductionServiceServicer):
    def __init__(self, reproductions: ReproductionManager) -> None:
        self.reproductions = reproductions

    def _proto(self, record: ReproductionRecord) -> reproductions_pb2.Reproduction:
        counts: Counter[str] = Counter()
        for sweep_id in record.sweep_ids:
            counts.update(child.state for child in self.reproductions.store.sweep_children(sweep_id))
        return reproductions_pb2.Reproduction(
            reproduction_id=record.reproduction_id,
            family=record.family,
            scale=record.scale,
            state=reproductions_pb2.ReproductionState.Value(f"REPRODUCTION_STATE_{record.state}"),
            sweep_ids=record.sweep_ids,
            counts=dict(counts),
            planned_children=self.reproductions.planned_children(record),
            files=record.files,
            passed=record.passed,
            message=record.message,
            created_at=timestamp(record.created_at),
            finished_at=timestamp(record.finished_at),
        )

    def StartReproduction(
        self, request: reproductions_pb2.StartReproductionRequest, context: grpc.ServicerContext
    ) -> reproductions_pb2.StartReproductionResponse:
        record = self.reproductions.begin(request.family, request.scale or "small")
        return reproductions_pb2.StartReproductionResponse(reproduction=self._proto(record))

    def GetReproduction(
        self, request: reproductions_pb2.GetReproductionRequest, context: grpc.ServicerContext
    ) -> reproductions_pb2.GetReproductionResponse:
        record = self.reproductions.get(check_id("reproduction", request.reproduction_id))
        return reproductions_pb2.GetReproductionResponse(reproduction=self._proto(record))

    def CancelReproduction(
        self, request: reproductions_pb2.CancelReproductionRequest, context: grpc.ServicerContext
    ) -> reproductions_pb2.CancelReproductionResponse:
        record = self.reproductions.cancel(check_id("reproduction", request.reproduction_id))
        return reproductions_pb2.CancelReproductionResponse(reproduction=self._proto(record))

    def DownloadReproduction(
        self, request: reproductions_pb2.DownloadReproductionRequest, context: grpc.ServicerContext
    ) -> Iterator[reproductions_pb2.ReproductionFileChunk]:
        files = self.reproductions.files(check_id("reproduction", request.reproduction_id))
        for name, path in files.items():
            data = path.read_bytes()
            for offset in range(0, max(len(data), 1), CHUNK_BYTES):
                yield reproductions_pb2.ReproductionFileChunk(
                    name=name, size_bytes=len(data), offset=offset, data=data[offset : offset + CHUNK_BYTES]
                )

    def WatchReproduction(
        self, request: reproductions_pb2.WatchReproductionRequest, context: grpc.ServicerContext
    ) -> Iterator[reproductions_pb2.WatchReproductionResponse]:
        reproduction_id = check_id("reproduction", request.reproduction_id)
        if request.after_seq < 0:
            raise InvalidInput(f"after_seq must be >= 0, got {request.after_seq}")
        self.reproductions.get(reproduction_id)
        context.send_initial_metadata(())  # the stream is open: a follower's outage ends here
        after = request.after_seq or -1  # 0: from the reproduction as it is now
        while context.is_active():
            record = self.reproductions.get(reproduction_id)
            # settled first: once it holds nothing changes, so the snapshot taken after it is the final one
            settled = self.reproductions.settled(record)
            version = self.reproductions.version(record, settled)
            if version > after:
                yield reproductions_pb2.WatchReproductionResponse(seq=version, reproduction=self._proto(record))
                after = version
            if settled:
                return
            self.reproductions.wait_for_change(timeout=0.5)
