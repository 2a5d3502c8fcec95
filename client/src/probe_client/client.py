"""ProbeClient: one typed method per RPC of probe.v1, returning plain Python and numpy."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from probe_client._proto.probe.v1 import (
    checkpoints_pb2,
    checkpoints_pb2_grpc,
    info_pb2,
    info_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
    probes_pb2,
    probes_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    reproductions_pb2,
    reproductions_pb2_grpc,
    sweeps_pb2,
    sweeps_pb2_grpc,
)
from probe_client.errors import ProbeError, VersionMismatch, from_rpc_error
from probe_client.follow import DEFAULT_RETRY_FOR_S, RECONNECT_OPTIONS, follow
from probe_client.limits import channel_options
from probe_client.structs import to_struct, to_value
from probe_client.tensors import from_tensor, to_tensor
from probe_client.types import (
    Attention,
    Checkpoint,
    Evaluation,
    FactQueryResult,
    Family,
    GraphRecovery,
    Job,
    JobEvent,
    Optimizer,
    RecoveredPosition,
    Reproduction,
    ServerInfo,
    Sharpness,
    Stabilization,
    Sweep,
    SweepEvent,
    TrainingOptions,
    state_value,
    sweep_state_value,
)

API_VERSION = "probe.v1"
DEFAULT_ADDRESS = "127.0.0.1:50051"


def default_address() -> str:
    return os.environ.get("PROBE_SERVER", DEFAULT_ADDRESS)


def _opened(call: Any) -> bool:
    """Whether the server answered a streaming call: its initial metadata came (a call that failed to
    connect returns from initial_metadata() already finished, with an error code)."""
    call.initial_metadata()
    return not call.done() or call.code() == grpc.StatusCode.OK


class _BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def __init__(self, token: str) -> None:
        self._metadata = ("authorization", f"Bearer {token}")

    def _with_token(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return _Details(details, [*list(details.metadata or []), self._metadata])

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._with_token(details), request)


class _Details(grpc.ClientCallDetails):
    def __init__(self, base: grpc.ClientCallDetails, metadata: list[tuple[str, str]]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


class ProbeClient:
    """A connection to a probe server.

    ``token`` (or ``PROBE_TOKEN``) is sent as ``authorization: Bearer``.
    Every method raises a :class:`ProbeError` subclass on failure.
    """

    def __init__(self, address: str | None = None, token: str | None = None, timeout: float | None = 60.0) -> None:
        self.address = address or default_address()
        self.timeout = timeout
        self._channel = grpc.insecure_channel(self.address, options=[*channel_options(), *RECONNECT_OPTIONS])
        token = token if token is not None else os.environ.get("PROBE_TOKEN")
        channel = grpc.intercept_channel(self._channel, _BearerToken(token)) if token else self._channel
        self._jobs = jobs_pb2_grpc.JobServiceStub(channel)
        self._checkpoints = checkpoints_pb2_grpc.CheckpointServiceStub(channel)
        self._probes = probes_pb2_grpc.ProbeServiceStub(channel)
        self._registry = registry_pb2_grpc.RegistryServiceStub(channel)
        self._info = info_pb2_grpc.InfoServiceStub(channel)
        self._sweeps = sweeps_pb2_grpc.SweepServiceStub(channel)
        self._reproductions = reproductions_pb2_grpc.ReproductionServiceStub(channel)
        self._health_channel = channel

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "ProbeClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Any, request: Any, timeout: float | None = None) -> Any:
        try:
            return method(request, timeout=timeout if timeout is not None else self.timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    # server

    def server_info(self) -> ServerInfo:
        return ServerInfo.from_proto(self._call(self._info.GetServerInfo, info_pb2.GetServerInfoRequest()))

    def check_version(self) -> ServerInfo:
        """Server info, after checking that the server speaks this client's API."""
        info = self.server_info()
        if info.api_version != API_VERSION:
            raise VersionMismatch(
                f"server speaks {info.api_version}, this client speaks {API_VERSION}; upgrade the older side"
            )
        return info

    def health(self, service: str = "") -> str:
        stub = health_pb2_grpc.HealthStub(self._health_channel)
        response = self._call(stub.Check, health_pb2.HealthCheckRequest(service=service))
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def families(self) -> list[Family]:
        response = self._call(self._registry.ListFamilies, registry_pb2.ListFamiliesRequest())
        return [Family.from_proto(f) for f in response.families]

    def optimizers(self) -> list[Optimizer]:
        """Optimizers any family's job can choose instead of its own, with their config schemas."""
        response = self._call(self._registry.ListFamilies, registry_pb2.ListFamiliesRequest())
        return [Optimizer.from_proto(o) for o in response.optimizers]

    # jobs

    def submit_job(
        self,
        family: str,
        config: dict[str, Any] | None = None,
        *,
        steps: int = 0,
        seed: int = 0,
        checkpoint_every: int = 0,
        log_every: int = 0,
        optimizer: str = "",
        optimizer_config: dict[str, Any] | None = None,
        init_checkpoint: str = "",
        trainable: Sequence[str] = (),
    ) -> Job:
        """Train ``family`` as a job; ``optimizer="mezo"`` trains by MeZO instead of the family's own optimizer,
        ``init_checkpoint`` starts from a checkpoint's weights (e.g. fine-tuning a pretrained model), and
        ``trainable`` names the only parameter groups that train (e.g. refitting a last layer)."""
        request = jobs_pb2.SubmitJobRequest(
            family=family,
            config=to_struct(config),
            steps=steps,
            seed=seed,
            checkpoint_every=checkpoint_every,
            log_every=log_every,
            training=TrainingOptions(optimizer, optimizer_config or {}, init_checkpoint, list(trainable)).to_proto(),
        )
        return Job.from_proto(self._call(self._jobs.SubmitJob, request).job)

    def get_job(self, job_id: str) -> Job:
        return Job.from_proto(self._call(self._jobs.GetJob, jobs_pb2.GetJobRequest(job_id=job_id)).job)

    def list_jobs(
        self, *, states: Sequence[str] = (), family: str = "", page_size: int = 0, page_token: str = ""
    ) -> tuple[list[Job], str]:
        """One page of jobs, newest first, and the token of the next page ('' at the end)."""
        request = jobs_pb2.ListJobsRequest(
            page_size=page_size, page_token=page_token, states=[state_value(s) for s in states], family=family
        )
        response = self._call(self._jobs.ListJobs, request)
        return [Job.from_proto(j) for j in response.jobs], response.next_page_token

    def cancel_job(self, job_id: str) -> Job:
        return Job.from_proto(self._call(self._jobs.CancelJob, jobs_pb2.CancelJobRequest(job_id=job_id)).job)

    def resume_job(self, job_id: str) -> Job:
        return Job.from_proto(self._call(self._jobs.ResumeJob, jobs_pb2.ResumeJobRequest(job_id=job_id)).job)

    def watch_job(
        self, job_id: str, *, from_step: int = 0, after_seq: int = 0, timeout: float | None = None,
        on_open: Callable[[], None] | None = None,
    ) -> Iterator[JobEvent]:  # fmt: skip
        """Events in order until the job ends (or ``timeout`` seconds pass); reconnect with ``after_seq`` to miss
        nothing, or use :meth:`follow_job`, which does. ``on_open`` is called once the server has opened the
        stream, before any event."""
        request = jobs_pb2.WatchJobRequest(job_id=job_id, from_step=from_step, after_seq=after_seq)
        try:
            call = self._jobs.WatchJob(request, timeout=timeout)
            if on_open is not None and _opened(call):
                on_open()
            for event in call:
                yield JobEvent.from_proto(event)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def follow_job(
        self, job_id: str, *, from_step: int = 0, timeout: float | None = None,
        retry_for: float = DEFAULT_RETRY_FOR_S,
    ) -> Iterator[JobEvent]:  # fmt: skip
        """Every event of the job once, across lost connections: reconnects with backoff after the last event
        seen; Unavailable once the server has been unreachable for ``retry_for`` seconds, DeadlineExceeded
        after ``timeout`` seconds in all (None: none)."""

        def open_stream(after_seq: int, left: float | None, connected: Callable[[], None]) -> Iterator[JobEvent]:
            return self.watch_job(job_id, from_step=from_step, after_seq=after_seq, timeout=left, on_open=connected)

        return follow(open_stream, f"job {job_id}", timeout=timeout, retry_for=retry_for)

    def wait(self, job_id: str, *, timeout: float | None = None, retry_for: float = DEFAULT_RETRY_FOR_S) -> Job:
        """Block until the job reaches a final state, then return it (see :meth:`follow_job` for the limits)."""
        for _ in self.follow_job(job_id, timeout=timeout, retry_for=retry_for):
            pass
        return self.get_job(job_id)

    # sweeps

    def submit_sweep(
        self,
        family: str,
        base_config: dict[str, Any] | None = None,
        grid: Mapping[str, Sequence[Any]] | None = None,
        *,
        search: dict[str, Any] | None = None,
        seeds: int = 1,
        seed: int = 0,
        steps: int = 0,
        checkpoint_every: int = 0,
        log_every: int = 0,
        name: str = "",
        optimizer: str = "",
        optimizer_config: dict[str, Any] | None = None,
        init_checkpoint: str = "",
        trainable: Sequence[str] = (),
    ) -> Sweep:
        """One child job per grid point and seed; or, with ``search`` (key, low, high, metric,
        threshold, log_scale, resolution), a bisection for the largest passing value at each point."""
        request = sweeps_pb2.SubmitSweepRequest(
            family=family,
            base_config=to_struct(base_config),
            seeds=seeds,
            seed=seed,
            steps=steps,
            checkpoint_every=checkpoint_every,
            log_every=log_every,
            name=name,
            training=TrainingOptions(optimizer, optimizer_config or {}, init_checkpoint, list(trainable)).to_proto(),
        )
        for key, values in (grid or {}).items():
            axis = request.grid.add(key=key)
            for value in values:
                axis.values.append(to_value(value))
        if search is not None:
            request.search.CopyFrom(sweeps_pb2.SearchSpec(**search))
        return Sweep.from_proto(self._call(self._sweeps.SubmitSweep, request).sweep)

    def get_sweep(self, sweep_id: str) -> Sweep:
        return Sweep.from_proto(self._call(self._sweeps.GetSweep, sweeps_pb2.GetSweepRequest(sweep_id=sweep_id)).sweep)

    def list_sweeps(
        self, *, states: Sequence[str] = (), family: str = "", page_size: int = 0, page_token: str = ""
    ) -> tuple[list[Sweep], str]:
        request = sweeps_pb2.ListSweepsRequest(
            page_size=page_size, page_token=page_token, states=[sweep_state_value(s) for s in states], family=family
        )
        response = self._call(self._sweeps.ListSweeps, request)
        return [Sweep.from_proto(s) for s in response.sweeps], response.next_page_token

    def cancel_sweep(self, sweep_id: str) -> Sweep:
        request = sweeps_pb2.CancelSweepRequest(sweep_id=sweep_id)
        return Sweep.from_proto(self._call(self._sweeps.CancelSweep, request, timeout=600).sweep)

    def watch_sweep(
        self, sweep_id: str, *, after_seq: int = 0, timeout: float | None = None,
        on_open: Callable[[], None] | None = None,
    ) -> Iterator[SweepEvent]:  # fmt: skip
        """Events in order until the sweep ends (or ``timeout`` seconds pass); ``on_open`` as for watch_job."""
        request = sweeps_pb2.WatchSweepRequest(sweep_id=sweep_id, after_seq=after_seq)
        try:
            call = self._sweeps.WatchSweep(request, timeout=timeout)
            if on_open is not None and _opened(call):
                on_open()
            for event in call:
                yield SweepEvent.from_proto(event)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def follow_sweep(
        self, sweep_id: str, *, timeout: float | None = None, retry_for: float = DEFAULT_RETRY_FOR_S
    ) -> Iterator[SweepEvent]:
        """Every event of the sweep once, across lost connections (the limits of :meth:`follow_job`)."""

        def open_stream(after_seq: int, left: float | None, connected: Callable[[], None]) -> Iterator[SweepEvent]:
            return self.watch_sweep(sweep_id, after_seq=after_seq, timeout=left, on_open=connected)

        return follow(open_stream, f"sweep {sweep_id}", timeout=timeout, retry_for=retry_for)

    def wait_sweep(
        self, sweep_id: str, *, timeout: float | None = None, retry_for: float = DEFAULT_RETRY_FOR_S
    ) -> Sweep:
        for _ in self.follow_sweep(sweep_id, timeout=timeout, retry_for=retry_for):
            pass
        return self.get_sweep(sweep_id)

    # reproductions

    def start_reproduction(self, family: str, scale: str = "small") -> Reproduction:
        request = reproductions_pb2.StartReproductionRequest(family=family, scale=scale)
        return Reproduction.from_proto(self._call(self._reproductions.StartReproduction, request).reproduction)

    def get_reproduction(self, reproduction_id: str) -> Reproduction:
        request = reproductions_pb2.GetReproductionRequest(reproduction_id=reproduction_id)
        return Reproduction.from_proto(self._call(self._reproductions.GetReproduction, request).reproduction)

    def cancel_reproduction(self, reproduction_id: str) -> Reproduction:
        request = reproductions_pb2.CancelReproductionRequest(reproduction_id=reproduction_id)
        return Reproduction.from_proto(self._call(self._reproductions.CancelReproduction, request).reproduction)

    def download_reproduction(self, reproduction_id: str, directory: Path) -> list[Path]:
        """Write the report's files into ``directory``; returns their paths."""
        directory.mkdir(parents=True, exist_ok=True)
        request = reproductions_pb2.DownloadReproductionRequest(reproduction_id=reproduction_id)
        parts: dict[str, list[bytes]] = {}
        try:
            for chunk in self._reproductions.DownloadReproduction(request, timeout=self.timeout):
                if "/" in chunk.name or chunk.name.startswith("."):
                    raise ProbeError(f"refusing a report file named {chunk.name!r}")
                parts.setdefault(chunk.name, []).append(chunk.data)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        paths = []
        for name, data in parts.items():
            path = directory / name
            path.write_bytes(b"".join(data))
            paths.append(path)
        return paths

    # checkpoints

    def list_checkpoints(
        self, *, job_id: str = "", family: str = "", page_size: int = 0, page_token: str = ""
    ) -> tuple[list[Checkpoint], str]:
        request = checkpoints_pb2.ListCheckpointsRequest(
            job_id=job_id, family=family, page_size=page_size, page_token=page_token
        )
        response = self._call(self._checkpoints.ListCheckpoints, request)
        return [Checkpoint.from_proto(c) for c in response.checkpoints], response.next_page_token

    def get_checkpoint(self, checkpoint_id: str) -> Checkpoint:
        request = checkpoints_pb2.GetCheckpointRequest(checkpoint_id=checkpoint_id)
        return Checkpoint.from_proto(self._call(self._checkpoints.GetCheckpoint, request).checkpoint)

    def delete_checkpoint(self, checkpoint_id: str) -> None:
        request = checkpoints_pb2.DeleteCheckpointRequest(checkpoint_id=checkpoint_id)
        self._call(self._checkpoints.DeleteCheckpoint, request)

    def export_onnx(self, checkpoint_id: str, out: BinaryIO) -> int:
        """Write the checkpoint's ONNX graph to ``out``; returns the bytes written."""
        request = checkpoints_pb2.ExportCheckpointRequest(
            checkpoint_id=checkpoint_id, format=checkpoints_pb2.EXPORT_FORMAT_ONNX
        )
        written = 0
        try:
            for chunk in self._checkpoints.ExportCheckpoint(request, timeout=self.timeout):
                out.write(chunk.data)
                written += len(chunk.data)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        return written

    # probes

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
