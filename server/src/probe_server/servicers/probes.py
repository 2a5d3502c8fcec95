"""ProbeService: facts through ONNX Runtime; attention, sharpness and evaluation in torch.

Torch probes run on the server's probe lanes (probe_lanes.py), which also
bound how many run at once.
"""

from __future__ import annotations

import dataclasses
import math

import grpc
import numpy as np
import torch

from probe_models.capabilities import (
    AnswersFacts,
    C,
    ExposesAttention,
    MeasuresSharpness,
    RecoversGraph,
    SelfStabilizes,
    capability,
)
from probe_models.errors import InvalidInput, TooLarge
from probe_models.family import LoadedModel
from probe_models.sharpness import METHODS, SharpnessReport, SharpnessRequest, measure_sharpness
from probe_server.metrics import Metrics
from probe_server.model_cache import ONNX_INPUT, ONNX_PROBABILITIES, ModelCache
from probe_server.probe_lanes import ProbeLanes
from probe_server.servicers.request_checks import check_count, parse_tokens
from probe_server.settings import Limits
from probe_wire.encoded import EncodedReply
from probe_wire.tensors import TensorFormatError, from_tensor, to_tensor
from probe_wire.v1 import probes_pb2, probes_pb2_grpc

ONNX_CHUNK = 8192
CHUNK_FLOATS = 1 << 22  # probabilities one ONNX run may return (16 MB): queries per run shrink as answers grow
DEFAULT_ATTENTION_SEQUENCES = 8
DEFAULT_SHARPNESS_EXAMPLES = 1024
DEFAULT_SHARPNESS_CHUNK = 4096
DEFAULT_LANCZOS_ITERATIONS = 100
DEFAULT_TOLERANCE = 1e-7
DEFAULT_EVAL_SEQUENCES = 4096
DEFAULT_GRAPH_SEQUENCES = 1024
DEFAULT_STABILIZATION_STEPS = 20
BYTES_PER_QUERY = 30  # wire bytes of one reply row besides its top-k answers and probabilities


def _top_k(probabilities: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k most probable answers per row, best first, and their probabilities."""
    if k == 1:
        top = probabilities.argmax(axis=1)[:, None]
    else:
        top = np.argpartition(-probabilities, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(probabilities, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
    return top, np.take_along_axis(probabilities, top, axis=1)


class ProbeServicer(probes_pb2_grpc.ProbeServiceServicer):
    def __init__(self, cache: ModelCache, limits: Limits, lanes: ProbeLanes, metrics: Metrics) -> None:
        self.cache = cache
        self.limits = limits
        self.lanes = lanes
        self.metrics = metrics

    def _load(self, kind: type[C], checkpoint_id: str) -> tuple[LoadedModel, C]:
        """The checkpoint's model and its family as a ``kind``; a family without that capability is refused
        from the checkpoint's record alone, before anything is loaded."""
        family = capability(self.cache.describe(checkpoint_id).family, kind)
        return self.cache.model(checkpoint_id), family

    def QueryFacts(
        self, request: probes_pb2.QueryFactsRequest, context: grpc.ServicerContext
    ) -> probes_pb2.QueryFactsResponse:
        described = self.cache.describe(request.checkpoint_id)  # no torch model: the ONNX session answers
        facts = capability(described.family, AnswersFacts)
        config, seed = described.config, described.record.seed
        num_subjects, num_relations, num_answers = facts.fact_count(config)
        if request.all_facts and (request.subjects or request.relations):
            raise InvalidInput("give either subjects and relations or all_facts, not both")
        if request.all_facts:
            subjects = np.repeat(np.arange(num_subjects, dtype=np.int64), num_relations)
            relations = np.tile(np.arange(num_relations, dtype=np.int64), num_subjects)
        else:
            if not request.subjects:
                raise InvalidInput("no queries: give subjects and relations, or set all_facts")
            if len(request.subjects) != len(request.relations):
                raise InvalidInput(f"{len(request.subjects)} subjects but {len(request.relations)} relations")
            if len(request.subjects) > self.limits.max_batch:
                raise TooLarge(f"{len(request.subjects)} queries exceed this server's limit of {self.limits.max_batch}")
            subjects = np.array(request.subjects, dtype=np.int64)
            relations = np.array(request.relations, dtype=np.int64)
            _check_range("subject", subjects, num_subjects)
            _check_range("relation", relations, num_relations)
        top_k = request.top_k or 1
        if not 1 <= top_k <= num_answers:
            raise InvalidInput(f"top_k must lie in [1, {num_answers}] (the number of answers), got {request.top_k}")
        if len(subjects) * (BYTES_PER_QUERY + 12 * top_k) > self.limits.max_message_bytes:
            raise TooLarge(
                f"{len(subjects)} queries with top_k={top_k} would exceed "
                f"the {self.limits.max_message_bytes}-byte message limit"
            )
        if len(subjects) * num_answers > self.limits.max_probe_floats:
            raise TooLarge(
                f"{len(subjects):,} queries x {num_answers:,} answers = {len(subjects) * num_answers:,} probabilities "
                f"to compute; this server's limit is {self.limits.max_probe_floats:,} per request"
            )
        inputs = facts.fact_inputs(config, seed, subjects, relations, request.noise_seed)
        session = self.cache.session(request.checkpoint_id)
        chunk = max(1, min(ONNX_CHUNK, CHUNK_FLOATS // num_answers))  # only each chunk's top k is kept
        with self.metrics.inference("QueryFacts", described.family.name, len(inputs)):
            tops = [
                _top_k(session.run([ONNX_PROBABILITIES], {ONNX_INPUT: inputs[i : i + chunk]})[0], top_k)
                for i in range(0, len(inputs), chunk)
            ]
        top, probs = np.concatenate([t for t, _ in tops]), np.concatenate([p for _, p in tops])
        stored = facts.stored_answers(config, seed, subjects, relations)
        recalled = top[:, 0] == stored
        return probes_pb2.QueryFactsResponse(
            subjects=to_tensor(subjects),
            relations=to_tensor(relations),
            answers=to_tensor(top.astype(np.int64)),
            probabilities=to_tensor(probs),
            stored_answers=to_tensor(stored.astype(np.int64)),
            recalled=to_tensor(recalled),
            accuracy=float(recalled.mean()),
            backend=f"onnxruntime/{session.get_providers()[0]}",
        )

    def ExtractAttention(
        self, request: probes_pb2.ExtractAttentionRequest, context: grpc.ServicerContext
    ) -> EncodedReply:  # an ExtractAttentionResponse, its maps encoded by hand
        model, attention = self._load(ExposesAttention, request.checkpoint_id)
        available = attention.attention_hooks(model)
        hooks = list(request.hooks) or [h for h in available if h.endswith("hook_pattern")]
        unknown = [h for h in hooks if h not in available]
        if unknown:
            raise InvalidInput(f"unknown hook {unknown[0]!r}; this model has {', '.join(available)}")
        given: torch.Tensor | None = None
        if request.HasField("tokens"):
            if request.num_sequences:
                raise InvalidInput("give either tokens or num_sequences, not both")
            given = parse_tokens(request.tokens, self.limits)
            attention.check_tokens(model, given)
            batch, seq_len = given.shape
        else:
            batch = check_count(
                "num_sequences", request.num_sequences, DEFAULT_ATTENTION_SEQUENCES, self.limits.max_batch
            )
            seq_len = attention.sample_sequences(model, 1, request.seed).shape[1]  # the length, from one sequence
        heads = list(request.heads)
        for name in hooks:
            bad = [h for h in heads if not 0 <= h < available[name]]
            if bad:
                raise InvalidInput(f"head {bad[0]} does not exist in {name}: it has heads 0..{available[name] - 1}")
        self._check_attention_size(model, attention, hooks, heads, batch, seq_len, request.average_over_batch)
        tokens = given if given is not None else attention.sample_sequences(model, batch, request.seed)
        with self.lanes.lane() as lane, self.metrics.inference("ExtractAttention", model.family.name, len(tokens)):
            patterns = lane.call(attention.run_with_attention, model, tokens)
        selected = {name: patterns[name][:, heads] if heads else patterns[name] for name in hooks}
        response = probes_pb2.ExtractAttentionResponse(
            tokens=to_tensor(tokens.numpy()),
            query_positions=attention.query_positions(model, tokens.shape[1]),
            heads=heads,
        )
        for parents in attention.true_parents(model)[: tokens.shape[1]]:
            response.true_parents.add(parents=parents)
        reply = EncodedReply(response)
        for name, tensor in selected.items():
            if request.average_over_batch:
                tensor = tensor.mean(dim=0, keepdim=True)
            reply.add_named_tensor(
                probes_pb2.ExtractAttentionResponse.ATTENTION_FIELD_NUMBER, name, tensor.float().numpy()
            )
        return reply

    def _check_attention_size(
        self, model: LoadedModel, attention: ExposesAttention, hooks: list[str], heads: list[int], batch: int,
        seq_len: int, averaged: bool,
    ) -> None:  # fmt: skip
        """Refuse, before anything runs, a reply or a working set larger than this server allows."""
        available = attention.attention_hooks(model)
        queries = len(attention.query_positions(model, seq_len))
        per_sequence = sum(len(heads) or available[name] for name in hooks) * queries * seq_len
        values = per_sequence if averaged else batch * per_sequence
        if values > self.limits.max_attention_values:
            raise TooLarge(f"the reply would hold {values:,} attention values; the limit is "
                           f"{self.limits.max_attention_values:,}")  # fmt: skip
        reply_bytes = 8 * batch * seq_len + 4 * values  # the echoed int64 tokens and the float32 patterns
        if reply_bytes > self.limits.max_message_bytes:
            raise TooLarge(f"the reply would be {reply_bytes:,} bytes (tokens and attention values); the message "
                           f"limit is {self.limits.max_message_bytes:,}")  # fmt: skip
        computed = batch * sum(available.values()) * seq_len * seq_len  # every hook's maps are computed
        if computed > self.limits.max_probe_floats:
            raise TooLarge(f"{batch:,} sequences of {seq_len} would compute {computed:,} attention weights; this "
                           f"server's limit is {self.limits.max_probe_floats:,} per request")  # fmt: skip

    def RecoverGraph(
        self, request: probes_pb2.RecoverGraphRequest, context: grpc.ServicerContext
    ) -> probes_pb2.RecoverGraphResponse:
        model, graphs = self._load(RecoversGraph, request.checkpoint_id)
        count = check_count(
            "num_sequences", request.num_sequences, DEFAULT_GRAPH_SEQUENCES, self.limits.max_eval_sequences
        )
        with self.lanes.lane() as lane, self.metrics.inference("RecoverGraph", model.family.name, count):
            result = lane.call(graphs.recover_graph, model, count, request.seed)
        return probes_pb2.RecoverGraphResponse(
            graph=result.graph,
            layer=result.layer,
            positions=[
                probes_pb2.RecoveredPosition(
                    position=p.position,
                    true_parents=p.true_parents,
                    recovered_parents=p.recovered_parents,
                    parent_mass=p.parent_mass,
                    correct=p.correct,
                )
                for p in result.positions
            ],
            parent_accuracy=result.accuracy,
            parent_mass=result.parent_mass,
            induction_score=result.induction_score,
            test_loss=result.test_loss,
            bayes_loss=result.bayes_loss,
            metrics=result.metrics,
        )

    def MeasureSharpness(
        self, request: probes_pb2.MeasureSharpnessRequest, context: grpc.ServicerContext
    ) -> probes_pb2.MeasureSharpnessResponse:
        model, sharpness = self._load(MeasuresSharpness, request.checkpoint_id)
        if request.whole_training_set and request.num_examples:
            raise InvalidInput("give either num_examples or whole_training_set, not both")
        examples = check_count("num_examples", request.num_examples, DEFAULT_SHARPNESS_EXAMPLES, self.limits.max_batch)
        iterations = check_count(
            "max_iterations", request.max_iterations, DEFAULT_LANCZOS_ITERATIONS, self.limits.max_hvp_iterations
        )
        trace_samples = check_count("trace_samples", request.trace_samples, 0, self.limits.max_hvp_iterations)
        chunk_size = check_count("chunk_size", request.chunk_size, DEFAULT_SHARPNESS_CHUNK, self.limits.max_batch)
        top_k = request.top_k or 1
        if not 1 <= top_k <= iterations:
            raise InvalidInput(f"top_k must lie in [1, max_iterations={iterations}], got {request.top_k}")
        tolerance = request.tolerance or DEFAULT_TOLERANCE
        if not (math.isfinite(tolerance) and 0 < tolerance < 1):
            raise InvalidInput(f"tolerance must lie in (0, 1), got {request.tolerance}")
        method = request.method or "lanczos"
        if method not in METHODS:
            raise InvalidInput(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
        self._check_sharpness_size(model, method, iterations, top_k, request.float64)
        warm_start = None
        if request.HasField("warm_start"):
            try:
                warm_start = torch.from_numpy(from_tensor(request.warm_start).astype(np.float64))
            except (TensorFormatError, ValueError) as error:
                raise InvalidInput(f"warm_start: {error}") from None
        settings = SharpnessRequest(
            top_k=top_k, method=method, max_iterations=iterations, tolerance=tolerance, seed=request.seed,
            chunk_size=chunk_size, float64=request.float64, trace_samples=trace_samples, warm_start=warm_start,
        )  # fmt: skip

        def measure() -> SharpnessReport:  # on a lane: the training set may first have to be loaded
            whole = request.whole_training_set or (request.num_examples == 0 and _fits(sharpness, model, examples))
            return measure_sharpness(model, sharpness.sharpness_data(model, examples, request.seed, whole), settings)

        with self.lanes.lane() as lane, self.metrics.inference("MeasureSharpness", model.family.name, examples):
            report = lane.call(measure)
        response = probes_pb2.MeasureSharpnessResponse(
            eigenvalues=report.eigenvalues,
            residuals=report.residuals,
            iterations=report.iterations,
            hvp_count=report.hvp_count,
            num_parameters=report.num_parameters,
            num_examples=report.num_examples,
            method=report.method,
            data=report.data,
            dtype=report.dtype,
            chunks=report.chunks,
            trace=report.trace,
            trace_standard_error=report.trace_standard_error,
            trace_samples=report.trace_samples,
        )
        if request.return_eigenvectors:
            vectors = report.eigenvectors.numpy()
            if vectors.nbytes > self.limits.max_message_bytes // 2:
                raise TooLarge(f"{vectors.nbytes:,} bytes of eigenvectors exceed half the message limit")
            response.eigenvectors.CopyFrom(to_tensor(vectors))
        return response

    def _check_sharpness_size(
        self, model: LoadedModel, method: str, iterations: int, top_k: int, float64: bool
    ) -> None:
        """Refuse, before anything runs, vectors larger than this server allows.

        Lanczos keeps one float64 vector per iteration (at most one per parameter); the eigenvectors and their
        Hessian products come beside it, 2 floats per float64 value each; a float64 probe copies the model too.
        """
        n = sum(p.numel() for p in model.module.parameters() if p.requires_grad)
        basis = min(n, iterations) if method == "lanczos" else 0
        floats = 2 * n * (basis + 2 * top_k + (1 if float64 else 0))
        if floats > self.limits.max_probe_floats:
            raise TooLarge(
                f"{method} with {iterations:,} iterations and top_k={top_k} on {n:,} parameters would hold "
                f"{floats:,} floats; this server's limit is {self.limits.max_probe_floats:,} per request"
            )

    def MeasureStabilization(
        self, request: probes_pb2.MeasureStabilizationRequest, context: grpc.ServicerContext
    ) -> probes_pb2.MeasureStabilizationResponse:
        model, gd = self._load(SelfStabilizes, request.checkpoint_id)
        steps = check_count("steps", request.steps, DEFAULT_STABILIZATION_STEPS, self.limits.max_hvp_iterations)
        with self.lanes.lane() as lane, self.metrics.inference("MeasureStabilization", model.family.name, 1):
            report = lane.call(gd.self_stabilization, model, steps, request.projected)
        return probes_pb2.MeasureStabilizationResponse(**dataclasses.asdict(report))

    def Evaluate(
        self, request: probes_pb2.EvaluateRequest, context: grpc.ServicerContext
    ) -> probes_pb2.EvaluateResponse:
        model = self.cache.model(request.checkpoint_id)  # every family answers Evaluate
        count = check_count(
            "num_sequences", request.num_sequences, DEFAULT_EVAL_SEQUENCES, self.limits.max_eval_sequences
        )
        with self.lanes.lane() as lane, self.metrics.inference("Evaluate", model.family.name, count):
            result = lane.call(model.family.evaluate, model, count, request.seed)
        return probes_pb2.EvaluateResponse(accuracy=result.accuracy, test_loss=result.loss, metrics=result.metrics)


def _check_range(name: str, values: np.ndarray, size: int) -> None:
    bad = (values < 0) | (values >= size)
    if bad.any():
        index = int(np.argmax(bad))
        raise InvalidInput(f"query {index}: {name} {int(values[index])} is out of range [0, {size - 1}]")


def _fits(family: MeasuresSharpness, model: LoadedModel, examples: int) -> bool:
    """The family's finite training set is no larger than ``examples``: the default count then means all of it."""
    size = family.training_set_size(model)
    return size is not None and size <= examples
