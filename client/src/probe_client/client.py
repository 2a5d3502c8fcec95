"""ProbeClient: one typed method per RPC of probe.v1, returning plain Python and numpy."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from probe_client.activation_calls import ActivationCalls
from probe_client.connection import API_VERSION, default_address
from probe_client.errors import ProbeError, VersionMismatch, from_rpc_error
from probe_client.follow import DEFAULT_RETRY_FOR_S, follow
from probe_client.probe_calls import ProbeCalls
from probe_client.types import (
    Checkpoint,
    Family,
    Job,
    JobEvent,
    Optimizer,
    Reproduction,
    ReproductionUpdate,
    ServerInfo,
    Sweep,
    SweepEvent,
    TrainingOptions,
    state_value,
    sweep_state_value,
)
from probe_wire.structs import to_struct, to_value
from probe_wire.v1 import (
    checkpoints_pb2,
    info_pb2,
    jobs_pb2,
    registry_pb2,
    reproductions_pb2,
    sweeps_pb2,
)


class ProbeClient(ProbeCalls, ActivationCalls):
    """A connection to a probe server.

    ``token`` (or ``PROBE_TOKEN``) is sent as ``authorization: Bearer``.
    Every method raises a :class:`ProbeError` subclass on failure.
    """

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
        spec = jobs_pb2.JobSpec(
            steps=steps,
            seed=seed,
            checkpoint_every=checkpoint_every,
            log_every=log_every,
            training=TrainingOptions(optimizer, optimizer_config or {}, init_checkpoint, list(trainable)).to_proto(),
        )
        request = jobs_pb2.SubmitJobRequest(family=family, config=to_struct(config), spec=spec)
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
        return self._stream(self._jobs.WatchJob, request, JobEvent.from_proto, timeout, on_open)

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
        training = TrainingOptions(optimizer, optimizer_config or {}, init_checkpoint, list(trainable))
        request = sweeps_pb2.SubmitSweepRequest(
            family=family,
            base_config=to_struct(base_config),
            seeds=seeds,
            name=name,
            spec=jobs_pb2.JobSpec(
                steps=steps,
                seed=seed,
                checkpoint_every=checkpoint_every,
                log_every=log_every,
                training=training.to_proto(),
            ),
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
        return self._stream(self._sweeps.WatchSweep, request, SweepEvent.from_proto, timeout, on_open)

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

    def watch_reproduction(
        self, reproduction_id: str, *, after_seq: int = 0, timeout: float | None = None,
        on_open: Callable[[], None] | None = None,
    ) -> Iterator[ReproductionUpdate]:  # fmt: skip
        """The reproduction now (after_seq 0) and after every change, until it ends; see :meth:`watch_job`."""
        request = reproductions_pb2.WatchReproductionRequest(reproduction_id=reproduction_id, after_seq=after_seq)
        convert = ReproductionUpdate.from_proto
        return self._stream(self._reproductions.WatchReproduction, request, convert, timeout, on_open)

    def follow_reproduction(
        self, reproduction_id: str, *, timeout: float | None = None, retry_for: float = DEFAULT_RETRY_FOR_S
    ) -> Iterator[Reproduction]:
        """The reproduction after every change until it ends, across lost connections (the limits of
        :meth:`follow_job`); the last one yielded is its final state."""

        def open_stream(
            after_seq: int, left: float | None, connected: Callable[[], None]
        ) -> Iterator[ReproductionUpdate]:
            return self.watch_reproduction(reproduction_id, after_seq=after_seq, timeout=left, on_open=connected)

        for update in follow(open_stream, f"reproduction {reproduction_id}", timeout=timeout, retry_for=retry_for):
            yield update.reproduction

    def wait_reproduction(
        self, reproduction_id: str, *, timeout: float | None = None, retry_for: float = DEFAULT_RETRY_FOR_S
    ) -> Reproduction:
        """Block until the reproduction ends, then return it (see :meth:`follow_job` for the limits)."""
        for _ in self.follow_reproduction(reproduction_id, timeout=timeout, retry_for=retry_for):
            pass
        return self.get_reproduction(reproduction_id)

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
        return self._export(checkpoint_id, checkpoints_pb2.EXPORT_FORMAT_ONNX, out)

    def export_transformer_lens(self, checkpoint_id: str, directory: Path) -> dict[str, Any]:
        """Write ``config.json`` and ``model.safetensors`` to ``directory``, what TransformerLens loads:
        ``HookedTransformer(HookedTransformerConfig(**config))`` then ``load_state_dict(load_file(...),
        strict=False)``. Returns the config. Families that do not map exactly are refused (FAILED_PRECONDITION)."""
        created = [d for d in (directory, *directory.parents) if not d.exists()]
        directory.mkdir(parents=True, exist_ok=True)
        part = directory / "model.safetensors.part"
        try:
            with open(part, "wb") as out:
                self._export(checkpoint_id, checkpoints_pb2.EXPORT_FORMAT_TRANSFORMER_LENS, out)
        except BaseException:  # a refused export leaves nothing behind: no part file, no directory it made
            part.unlink(missing_ok=True)
            for made in created:
                made.rmdir()
            raise
        config = json.loads(safetensors_metadata(part)[TRANSFORMER_LENS_CONFIG])
        (directory / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        part.replace(directory / "model.safetensors")
        return config

    def _export(self, checkpoint_id: str, export_format: checkpoints_pb2.ExportFormat, out: BinaryIO) -> int:
        request = checkpoints_pb2.ExportCheckpointRequest(checkpoint_id=checkpoint_id, format=export_format)
        written = 0
        try:
            for chunk in self._checkpoints.ExportCheckpoint(request, timeout=self.timeout):
                data = chunk.data  # read once: upb copies a bytes field at every read
                out.write(data)
                written += len(data)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        return written


TRANSFORMER_LENS_CONFIG = "transformer_lens_config"  # the export's safetensors metadata key (checkpoints.proto)


def safetensors_metadata(path: Path) -> dict[str, str]:
    """A safetensors file's ``__metadata__``, read from its header (an 8-byte little-endian length, then JSON)
    without torch."""
    with open(path, "rb") as f:
        length = int.from_bytes(f.read(8), "little")
        header: dict[str, Any] = json.loads(f.read(length))
    return dict(header.get("__metadata__", {}))


__all__ = ["API_VERSION", "ProbeClient", "default_address"]  # the CLI and users import these from here
