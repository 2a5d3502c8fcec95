"""ActivationService: a checkpoint's activations by TransformerLens's names, and interventions on them.

ListHooks, RunWithCache, Intervene (typed edits: set, zero, mean, add, patch) and PatchSweep (activation
patching, every cell in one call). Every request is sized before anything runs: the floats the forward passes
hold, and the activations, logits and tokens the reply returns, within this server's limits.
"""

from __future__ import annotations

import math

import grpc
import numpy as np
import torch

from probe_models.capabilities import RunsWithHooks, capability
from probe_models.errors import InvalidInput, TooLarge
from probe_models.family import LoadedModel
from probe_models.hooks import check_edits, select
from probe_models.patching import hooked_run, intervene, patch_sweep, sweep_hooks
from probe_server.metrics import Metrics
from probe_server.model_cache import ModelCache
from probe_server.probe_lanes import ProbeLanes
from probe_server.servicers.hooked_requests import (
    SWEEP_AXES,
    check_floats,
    parse_edits,
    sequence_floats,
    token_batch,
)
from probe_server.settings import Limits
from probe_wire.encoded import EncodedReply
from probe_wire.tensors import to_tensor
from probe_wire.v1 import activations_pb2, activations_pb2_grpc, tensor_pb2


def _array(x: torch.Tensor) -> np.ndarray:
    return x.detach().float().cpu().numpy() if x.is_floating_point() else x.cpu().numpy()


def _tensor(x: torch.Tensor) -> tensor_pb2.Tensor:
    return to_tensor(_array(x))


class ActivationServicer(activations_pb2_grpc.ActivationServiceServicer):
    def __init__(self, cache: ModelCache, limits: Limits, lanes: ProbeLanes, metrics: Metrics) -> None:
        self.cache = cache
        self.limits = limits
        self.lanes = lanes
        self.metrics = metrics

    def _load(self, checkpoint_id: str) -> tuple[LoadedModel, RunsWithHooks]:
        family = capability(self.cache.describe(checkpoint_id).family, RunsWithHooks)
        return self.cache.model(checkpoint_id), family

    def ListHooks(
        self, request: activations_pb2.ListHooksRequest, context: grpc.ServicerContext
    ) -> activations_pb2.ListHooksResponse:
        model, family = self._load(request.checkpoint_id)
        _, shortest, longest = family.token_limits(model)
        if request.seq_len < 0 or (request.seq_len and not shortest <= request.seq_len <= longest):
            raise InvalidInput(f"seq_len must lie in [{shortest}, {longest}] (0: {longest}), got {request.seq_len}")
        seq_len = request.seq_len or longest
        response = activations_pb2.ListHooksResponse(seq_len=seq_len)
        for spec in family.hook_specs(model, seq_len):
            response.hooks.add(
                name=spec.name, axes=spec.axes, shape=[size or -1 for size in spec.sizes],
                transformer_lens=spec.transformer_lens, meaning=spec.meaning,
            )  # fmt: skip
        return response

    def RunWithCache(
        self, request: activations_pb2.RunWithCacheRequest, context: grpc.ServicerContext
    ) -> EncodedReply:  # a RunWithCacheResponse, its tensors encoded by hand
        model, family = self._load(request.checkpoint_id)
        given = request.tokens if request.HasField("tokens") else None
        batch = token_batch(family, model, self.limits, given, request.num_sequences, request.seed)
        if request.return_loss and batch.seq_len < 2:
            raise InvalidInput("a next-token loss needs sequences of at least 2 tokens")
        specs = family.hook_specs(model, batch.seq_len)
        names = select(specs, list(request.hooks) or ["*"])
        kept = sequence_floats([s for s in specs if s.name in names])
        logits = math.prod(family.logits_shape(model, batch.seq_len)) if request.return_logits else 0
        floats = batch.batch * (kept + logits + 1)
        check_floats(self.limits, batch.batch * sequence_floats(specs), floats, batch.batch * batch.seq_len)
        tokens = batch.tokens(family, model)
        with self.lanes.lane() as lane, self.metrics.inference("RunWithCache", model.family.name, batch.batch):
            run = lane.call(hooked_run, family, model, tokens, keep=names)
        reply = EncodedReply(activations_pb2.RunWithCacheResponse(tokens=_tensor(tokens)))
        message = activations_pb2.RunWithCacheResponse
        for name in names:
            reply.add_named_tensor(message.ACTIVATIONS_FIELD_NUMBER, name, _array(run.cache[name]))
        if request.return_logits:
            reply.add_tensor(message.LOGITS_FIELD_NUMBER, _array(run.logits))
        if request.return_loss:
            reply.add_tensor(message.LOSS_FIELD_NUMBER, _array(run.loss))
        return reply

    def Intervene(
        self, request: activations_pb2.InterveneRequest, context: grpc.ServicerContext
    ) -> EncodedReply:  # an InterveneResponse, its tensors encoded by hand
        model, family = self._load(request.checkpoint_id)
        given = request.tokens if request.HasField("tokens") else None
        batch = token_batch(family, model, self.limits, given, request.num_sequences, request.seed)
        edits = parse_edits(request.edits)
        if not edits:
            raise InvalidInput("an intervention needs at least one edit (RunWithCache runs without)")
        if batch.seq_len < 2:
            raise InvalidInput("an intervention's loss needs sequences of at least 2 tokens")
        needs_source = request.loss_on_source or any(e.kind == "patch" for e in edits)
        source = None
        if request.HasField("source_tokens"):
            if not needs_source:
                raise InvalidInput("source_tokens are read only by PATCH edits and loss_on_source: give neither")
            source = token_batch(family, model, self.limits, request.source_tokens, 0, 0, "source_tokens")
        elif needs_source and given is None:
            if request.seed == request.source_seed:
                raise InvalidInput("drawn tokens and source batches need different seed and source_seed")
            source = token_batch(family, model, self.limits, None, batch.batch, request.source_seed)
        elif needs_source:
            raise InvalidInput("patching or loss_on_source with given tokens needs source_tokens")
        if source is not None and (source.batch, source.seq_len) != (batch.batch, batch.seq_len):
            raise InvalidInput(f"source_tokens [{source.batch}, {source.seq_len}] must have the tokens' shape "
                               f"[{batch.batch}, {batch.seq_len}]")  # fmt: skip
        specs = family.hook_specs(model, batch.seq_len)
        check_edits({s.name: s for s in specs}, edits, batch.batch, source is not None)
        names = select(specs, request.hooks) if request.hooks else []
        kept = sequence_floats([s for s in specs if s.name in names])
        logits = math.prod(family.logits_shape(model, batch.seq_len))
        returned = 2 * logits if request.return_logits else 0
        # at most: the source run's patched hooks, and a forward pass with its logits beside the clean run's
        check_floats(self.limits, batch.batch * (2 * sequence_floats(specs) + 2 * logits),
                     batch.batch * (kept + returned + 2), 2 * batch.batch * batch.seq_len)  # fmt: skip
        tokens = batch.tokens(family, model)
        source_tokens = source.tokens(family, model) if source is not None else None
        with self.lanes.lane() as lane, self.metrics.inference("Intervene", model.family.name, batch.batch):
            clean, edited = lane.call(
                intervene, family, model, tokens, edits, names, source_tokens, request.loss_on_source
            )
        response = activations_pb2.InterveneResponse(
            tokens=_tensor(tokens), clean_loss=_tensor(clean.loss), loss=_tensor(edited.loss)
        )
        if source_tokens is not None:
            response.source_tokens.CopyFrom(_tensor(source_tokens))
        reply, message = EncodedReply(response), activations_pb2.InterveneResponse
        if request.return_logits:
            reply.add_tensor(message.CLEAN_LOGITS_FIELD_NUMBER, _array(clean.logits))
            reply.add_tensor(message.LOGITS_FIELD_NUMBER, _array(edited.logits))
        for name in names:
            reply.add_named_tensor(message.ACTIVATIONS_FIELD_NUMBER, name, _array(edited.cache[name]))
        return reply

    def PatchSweep(
        self, request: activations_pb2.PatchSweepRequest, context: grpc.ServicerContext
    ) -> activations_pb2.PatchSweepResponse:
        model, family = self._load(request.checkpoint_id)
        axis = SWEEP_AXES.get(request.axis)
        if axis is None:
            raise InvalidInput("axis must be POSITION or HEAD")
        if request.HasField("clean_tokens") != request.HasField("corrupt_tokens"):
            raise InvalidInput("give both clean_tokens and corrupt_tokens, or neither (both drawn from the task)")
        if request.HasField("clean_tokens"):
            clean = token_batch(family, model, self.limits, request.clean_tokens, request.num_sequences, 0,
                                "clean_tokens")  # fmt: skip
            corrupt = token_batch(family, model, self.limits, request.corrupt_tokens, 0, 0, "corrupt_tokens")
            if (clean.batch, clean.seq_len) != (corrupt.batch, corrupt.seq_len):
                raise InvalidInput(f"clean_tokens [{clean.batch}, {clean.seq_len}] and corrupt_tokens "
                                   f"[{corrupt.batch}, {corrupt.seq_len}] must have one shape")  # fmt: skip
        else:
            if request.seed == request.corrupt_seed:
                raise InvalidInput("drawn clean and corrupt batches need different seed and corrupt_seed")
            clean = token_batch(family, model, self.limits, None, request.num_sequences, request.seed)
            corrupt = token_batch(family, model, self.limits, None, clean.batch, request.corrupt_seed)
        if clean.seq_len < 2:
            raise InvalidInput("a sweep's loss needs sequences of at least 2 tokens")
        specs = family.hook_specs(model, clean.seq_len)
        rows = sweep_hooks(specs, request.hooks or ["blocks.*.attn.hook_z"], axis)
        names = [name for name, _, _ in rows]
        cells = sum(cells for _, _, cells in rows)
        work = cells * clean.batch * clean.seq_len
        if work > self.limits.max_sweep_tokens:
            raise TooLarge(f"{cells} cells x {clean.batch} sequences x {clean.seq_len} tokens = {work:,} tokens "
                           f"to run; this server's limit is {self.limits.max_sweep_tokens:,}: ask for fewer hooks "
                           "or sequences")  # fmt: skip
        per_sequence = sequence_floats(specs) + math.prod(family.logits_shape(model, clean.seq_len))
        max_rows = min(self.limits.max_batch, self.limits.max_tokens // clean.seq_len,
                       self.limits.max_probe_floats // (2 * per_sequence))  # fmt: skip
        # the clean run's cache of the swept hooks beside one forward pass of as many copies as max_rows allows
        check_floats(self.limits, 2 * clean.batch * per_sequence, len(rows) * max(c for _, _, c in rows),
                     2 * clean.batch * clean.seq_len)  # fmt: skip
        clean_tokens, corrupt_tokens = clean.tokens(family, model), corrupt.tokens(family, model)
        with self.lanes.lane() as lane, self.metrics.inference("PatchSweep", model.family.name, clean.batch * cells):
            result = lane.call(patch_sweep, family, model, clean_tokens, corrupt_tokens, names, axis, max_rows)
        return activations_pb2.PatchSweepResponse(
            hooks=result.hooks, loss=_tensor(result.loss), clean_loss=result.clean_loss,
            corrupt_loss=result.corrupt_loss, clean_tokens=_tensor(clean_tokens),
            corrupt_tokens=_tensor(corrupt_tokens),
        )  # fmt: skip
