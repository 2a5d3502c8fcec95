"""ActivationService: a checkpoint's activations by TransformerLens's names (ListHooks, RunWithCache).

Every request is sized before anything runs: the activations asked for, the logits and the tokens echoed
must fit in one reply and in the floats a probe may hold.
"""

from __future__ import annotations

import math
import threading

import grpc
import torch

from probe_models.capabilities import RunsWithHooks, capability
from probe_models.errors import InvalidInput, TooLarge
from probe_models.family import LoadedModel
from probe_models.hooks import HookRun, HookSpec, select
from probe_server.metrics import Metrics
from probe_server.model_cache import ModelCache
from probe_server.servicers.request_checks import check_count, parse_tokens
from probe_server.settings import Limits
from probe_wire.tensors import to_tensor
from probe_wire.v1 import activations_pb2, activations_pb2_grpc

DEFAULT_SEQUENCES = 8


class ActivationServicer(activations_pb2_grpc.ActivationServiceServicer):
    def __init__(self, cache: ModelCache, limits: Limits, probe_slots: threading.Semaphore, metrics: Metrics) -> None:
        self.cache = cache
        self.limits = limits
        self.probe_slots = probe_slots
        self.metrics = metrics

    def _load(self, checkpoint_id: str) -> tuple[LoadedModel, RunsWithHooks]:
        family = capability(self.cache.describe(checkpoint_id).family, RunsWithHooks)
        return self.cache.model(checkpoint_id), family

    def ListHooks(
        self, request: activations_pb2.ListHooksRequest, context: grpc.ServicerContext
    ) -> activations_pb2.ListHooksResponse:
        model, family = self._load(request.checkpoint_id)
        _, longest = family.token_limits(model)
        if not 0 <= request.seq_len <= longest:
            raise InvalidInput(f"seq_len must lie in [1, {longest}] (0: {longest}), got {request.seq_len}")
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
    ) -> activations_pb2.RunWithCacheResponse:
        model, family = self._load(request.checkpoint_id)
        vocab, longest = family.token_limits(model)
        given: torch.Tensor | None = None
        if request.HasField("tokens"):
            if request.num_sequences:
                raise InvalidInput("give either tokens or num_sequences, not both")
            given = parse_tokens(request.tokens, self.limits)
            if given.shape[1] > longest:
                raise InvalidInput(f"sequences of {given.shape[1]} tokens exceed this network's {longest}")
            if bool(((given < 0) | (given >= vocab)).any()):
                raise InvalidInput(f"token ids must lie in [0, {vocab - 1}]")
            batch, seq_len = given.shape
        else:
            batch = check_count("num_sequences", request.num_sequences, DEFAULT_SEQUENCES, self.limits.max_batch)
            seq_len = longest
            if batch * seq_len > self.limits.max_tokens:
                raise TooLarge(f"{batch} sequences of {seq_len} tokens exceed this server's limit of "
                               f"{self.limits.max_tokens:,} tokens per request")  # fmt: skip
        if request.return_loss and seq_len < 2:
            raise InvalidInput("a next-token loss needs sequences of at least 2 tokens")
        specs = family.hook_specs(model, seq_len)
        names = select(specs, list(request.hooks) or ["*"])
        self._check_size([s for s in specs if s.name in names], batch, seq_len, vocab, request.return_logits)
        tokens = given if given is not None else family.sample_tokens(model, batch, request.seed)
        hooks = HookRun({s.name: s for s in specs}, keep=frozenset(names))
        with self.probe_slots, self.metrics.inference("RunWithCache", model.family.name, batch):
            logits, loss = family.run_hooked(model, tokens, hooks)
        response = activations_pb2.RunWithCacheResponse(tokens=to_tensor(tokens.numpy()))
        for name in names:
            response.activations.add(name=name, tensor=to_tensor(hooks.cache[name].float().cpu().numpy()))
        if request.return_logits:
            response.logits.CopyFrom(to_tensor(logits.float().cpu().numpy()))
        if request.return_loss:
            response.loss.CopyFrom(to_tensor(loss.float().cpu().numpy()))
        return response

    def _check_size(self, chosen: list[HookSpec], batch: int, seq_len: int, vocab: int, logits: bool) -> None:
        """Refuse, before anything runs, a reply or a working set larger than this server allows."""
        floats = batch * sum(math.prod(s.sizes[1:]) for s in chosen) + (batch * seq_len * vocab if logits else 0)
        if floats > self.limits.max_probe_floats:
            raise TooLarge(f"the reply would hold {floats:,} floats; this server's limit is "
                           f"{self.limits.max_probe_floats:,}: ask for fewer hooks or sequences")  # fmt: skip
        reply_bytes = 4 * floats + 8 * batch * seq_len
        if reply_bytes > self.limits.max_message_bytes:
            raise TooLarge(f"the reply would be {reply_bytes:,} bytes; the message limit is "
                           f"{self.limits.max_message_bytes:,}: ask for fewer hooks or sequences")  # fmt: skip
