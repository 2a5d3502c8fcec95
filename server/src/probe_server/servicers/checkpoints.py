"""CheckpointService: list, inspect, delete and export checkpoints."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import safetensors.torch

from probe_models.capabilities import RunsWithHooks, capability
from probe_models.errors import InvalidInput
from probe_models.registry import get_family
from probe_server import paging
from probe_server.convert import checkpoint_proto
from probe_server.ids import check_id
from probe_server.model_cache import ONNX_INPUT, ONNX_LOGITS, ONNX_PROBABILITIES, ModelCache
from probe_server.probe_lanes import ProbeLanes
from probe_wire.v1 import checkpoints_pb2, checkpoints_pb2_grpc

CHUNK_BYTES = 1 << 20
TRANSFORMER_LENS_CONFIG = "transformer_lens_config"  # the safetensors metadata key of the export's config


class CheckpointServicer(checkpoints_pb2_grpc.CheckpointServiceServicer):
    def __init__(self, cache: ModelCache, lanes: ProbeLanes) -> None:
        self.cache = cache
        self.store = cache.store
        self.lanes = lanes

    def ListCheckpoints(
        self, request: checkpoints_pb2.ListCheckpointsRequest, context: grpc.ServicerContext
    ) -> checkpoints_pb2.ListCheckpointsResponse:
        limit = paging.page_size(request.page_size)
        if request.job_id:
            check_id("job", request.job_id)
        if request.family:
            get_family(request.family)
        records = self.store.list_checkpoints(
            request.job_id, request.family, limit + 1, paging.decode_token(request.page_token)
        )
        token = paging.encode_token(records[limit - 1].rowid) if len(records) > limit else ""
        return checkpoints_pb2.ListCheckpointsResponse(
            checkpoints=[checkpoint_proto(r) for r in records[:limit]], next_page_token=token
        )

    def GetCheckpoint(
        self, request: checkpoints_pb2.GetCheckpointRequest, context: grpc.ServicerContext
    ) -> checkpoints_pb2.GetCheckpointResponse:
        return checkpoints_pb2.GetCheckpointResponse(
            checkpoint=checkpoint_proto(self.cache.record(request.checkpoint_id))
        )

    def DeleteCheckpoint(
        self, request: checkpoints_pb2.DeleteCheckpointRequest, context: grpc.ServicerContext
    ) -> checkpoints_pb2.DeleteCheckpointResponse:
        record = self.cache.record(request.checkpoint_id)
        self.store.delete_checkpoint(record.checkpoint_id)
        self.cache.remove(record.checkpoint_id)  # after the row is gone, so no query can cache it again
        return checkpoints_pb2.DeleteCheckpointResponse()

    def ExportCheckpoint(
        self, request: checkpoints_pb2.ExportCheckpointRequest, context: grpc.ServicerContext
    ) -> Iterator[checkpoints_pb2.ExportCheckpointChunk]:
        onnx = request.format in (checkpoints_pb2.EXPORT_FORMAT_UNSPECIFIED, checkpoints_pb2.EXPORT_FORMAT_ONNX)
        if not onnx and request.format != checkpoints_pb2.EXPORT_FORMAT_TRANSFORMER_LENS:
            raise InvalidInput(f"unknown export format {request.format}")
        checkpoint_id = self.cache.record(request.checkpoint_id).checkpoint_id
        with self.lanes.lane() as lane:
            data = lane.call(self.cache.onnx_bytes if onnx else self._transformer_lens, checkpoint_id)
        for offset in range(0, max(len(data), 1), CHUNK_BYTES):
            chunk = checkpoints_pb2.ExportCheckpointChunk(
                size_bytes=len(data), offset=offset, data=data[offset : offset + CHUNK_BYTES]
            )
            if offset == 0 and onnx:
                chunk.input_names.append(ONNX_INPUT)
                chunk.output_names.extend([ONNX_LOGITS, ONNX_PROBABILITIES])
            yield chunk

    def _transformer_lens(self, checkpoint_id: str) -> bytes:
        """The HookedTransformer state dict as safetensors, its config as JSON in the file's metadata."""
        family = capability(self.cache.describe(checkpoint_id).family, RunsWithHooks)
        config, state = family.transformer_lens_export(self.cache.model(checkpoint_id))
        return safetensors.torch.save(state, metadata={TRANSFORMER_LENS_CONFIG: json.dumps(config)})
