"""The probe RPCs of :class:`~probe_client.client.ProbeClient`: queries, attention, graphs, sharpness, evaluation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from probe_client.connection import Connection
from probe_client.types import (
    Attention,
    Evaluation,
    FactQueryResult,
    GraphRecovery,
    RecoveredPosition,
    Sharpness,
    Stabilization,
)
from probe_wire.tensors import from_tensor, to_tensor
from probe_wire.v1 import (
    probes_pb2,
)


class ProbeCalls(Connection):
    """One typed method per ProbeService RPC."""

    def query_facts(
        self,
        checkpoint_id: str,
        pairs: Sequence[tuple[int, int]] = (),
        *,
        all_facts: bool = False,
        top_k: int = 1,
        noise_seed: int = 0,
    ) -> FactQueryResult:
        """Top-k answers to (subject, relation) pairs, or to every fact with ``all_facts``."""
        request = probes_pb2.QueryFactsRequest(
            checkpoint_id=checkpoint_id,
            subjects=[s for s, _ in pairs],
            relations=[r for _, r in pairs],
            all_facts=all_facts,
            top_k=top_k,
            noise_seed=noise_seed,
        )
        r = self._call(self._probes.QueryFacts, request)
        return FactQueryResult(
            subjects=from_tensor(r.subjects),
            relations=from_tensor(r.relations),
            answers=from_tensor(r.answers),
            probabilities=from_tensor(r.probabilities),
            stored_answers=from_tensor(r.stored_answers),
            recalled=from_tensor(r.recalled),
            accuracy=r.accuracy,
            backend=r.backend,
        )

    def extract_attention(
        self,
        checkpoint_id: str,
        *,
        tokens: np.ndarray | None = None,
        num_sequences: int = 0,
        seed: int = 0,
        hooks: Sequence[str] = (),
        heads: Sequence[int] = (),
        average_over_batch: bool = False,
    ) -> Attention:
        request = probes_pb2.ExtractAttentionRequest(
            checkpoint_id=checkpoint_id,
            hooks=list(hooks),
            heads=list(heads),
            num_sequences=num_sequences,
            seed=seed,
            average_over_batch=average_over_batch,
        )
        if tokens is not None:
            request.tokens.CopyFrom(to_tensor(np.asarray(tokens, dtype=np.int64)))
        response = self._call(self._probes.ExtractAttention, request)
        patterns = {t.name: from_tensor(t.tensor) for t in response.attention}
        return Attention(
            patterns,
            from_tensor(response.tokens),
            list(response.query_positions),
            list(response.heads),
            [list(p.parents) for p in response.true_parents],
        )

    def recover_graph(self, checkpoint_id: str, *, num_sequences: int = 0, seed: int = 0) -> GraphRecovery:
        """The latent graph read off the first attention layer (families with a latent graph)."""
        request = probes_pb2.RecoverGraphRequest(checkpoint_id=checkpoint_id, num_sequences=num_sequences, seed=seed)
        r = self._call(self._probes.RecoverGraph, request)
        positions = [
            RecoveredPosition(p.position, list(p.true_parents), list(p.recovered_parents), p.parent_mass, p.correct)
            for p in r.positions
        ]
        return GraphRecovery(
            r.graph,
            r.layer,
            positions,
            r.parent_accuracy,
            r.parent_mass,
            r.induction_score if r.HasField("induction_score") else None,
            r.test_loss,
            r.bayes_loss,
            dict(r.metrics),
        )

    def measure_sharpness(
        self,
        checkpoint_id: str,
        *,
        top_k: int = 1,
        num_examples: int = 0,
        seed: int = 0,
        max_iterations: int = 0,
        tolerance: float = 0.0,
        method: str = "",
        trace_samples: int = 0,
        whole_training_set: bool = False,
        chunk_size: int = 0,
        float64: bool = False,
        warm_start: np.ndarray | None = None,
        return_eigenvectors: bool = False,
    ) -> Sharpness:
        """Top Hessian eigenvalues (Lanczos, or power iteration), and optionally Hutchinson's trace."""
        request = probes_pb2.MeasureSharpnessRequest(
            checkpoint_id=checkpoint_id,
            top_k=top_k,
            num_examples=num_examples,
            seed=seed,
            max_iterations=max_iterations,
            tolerance=tolerance,
            method=method,
            trace_samples=trace_samples,
            whole_training_set=whole_training_set,
            chunk_size=chunk_size,
            float64=float64,
            return_eigenvectors=return_eigenvectors,
        )
        if warm_start is not None:
            request.warm_start.CopyFrom(to_tensor(np.asarray(warm_start)))
        r = self._call(self._probes.MeasureSharpness, request, timeout=max(self.timeout or 0, 600))
        return Sharpness(
            eigenvalues=list(r.eigenvalues),
            residuals=list(r.residuals),
            iterations=r.iterations,
            hvp_count=r.hvp_count,
            num_parameters=r.num_parameters,
            num_examples=r.num_examples,
            method=r.method,
            data=r.data,
            dtype=r.dtype,
            chunks=r.chunks,
            trace=r.trace if r.HasField("trace") else None,
            trace_standard_error=r.trace_standard_error if r.HasField("trace_standard_error") else None,
            trace_samples=r.trace_samples,
            eigenvectors=from_tensor(r.eigenvectors) if r.HasField("eigenvectors") else None,
        )

    def measure_stabilization(self, checkpoint_id: str, *, steps: int = 0, projected: bool = False) -> Stabilization:
        """α, β, δ at a GD-trained checkpoint and the next GD steps beside the paper's prediction."""
        request = probes_pb2.MeasureStabilizationRequest(checkpoint_id=checkpoint_id, steps=steps, projected=projected)
        r = self._call(self._probes.MeasureStabilization, request, timeout=max(self.timeout or 0, 1800))
        return Stabilization.from_proto(r)

    def evaluate(self, checkpoint_id: str, *, num_sequences: int = 0, seed: int = 0) -> Evaluation:
        request = probes_pb2.EvaluateRequest(checkpoint_id=checkpoint_id, num_sequences=num_sequences, seed=seed)
        r = self._call(self._probes.Evaluate, request)
        return Evaluation(r.accuracy, r.test_loss, dict(r.metrics))
