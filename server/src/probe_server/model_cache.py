"""Checkpoints loaded for probing: torch models and ONNX Runtime sessions, each in an LRU cache.

Forward-only queries go through ONNX Runtime (CUDA provider when present);
probes that need autograd or internals use the torch model.
"""

from __future__ import annotations

import copy
import io
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import onnxruntime as ort
import torch

from probe_models.capabilities import ServesOnnx, capability
from probe_models.config import parse_config, server_paths
from probe_models.errors import DataUnavailable
from probe_models.family import Family, LoadedModel
from probe_models.registry import get_family
from probe_server.checkpoint_files import add_file, read_weights, remove_checkpoint, verified_bytes
from probe_server.checkpoint_names import ONNX
from probe_server.errors import Conflict, DataLoss, NotFoundError
from probe_server.ids import check_id
from probe_server.job_spec import check_parameters
from probe_server.metrics import Metrics
from probe_server.server_paths import check_server_path
from probe_server.settings import Limits
from probe_server.store import CheckpointRecord, Store

T = TypeVar("T")
ONNX_INPUT, ONNX_LOGITS, ONNX_PROBABILITIES = "inputs", "logits", "probabilities"


class _WithProbabilities(torch.nn.Module):
    """Adds the softmax to the graph: ONNX Runtime computes it faster than numpy in the servicer."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.module(inputs)
        return logits, logits.softmax(dim=-1)


class _LRU(Generic[T]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, T] = OrderedDict()
        self._bytes: dict[str, int] = {}

    def get(self, key: str) -> T | None:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, key: str, value: T, nbytes: int) -> int:
        """Insert; returns how many entries were evicted to make room."""
        self._items[key] = value
        self._bytes[key] = nbytes
        self._items.move_to_end(key)
        evicted = 0
        while len(self._items) > self.size:
            old, _ = self._items.popitem(last=False)
            del self._bytes[old]
            evicted += 1
        return evicted

    def pop(self, key: str) -> None:
        self._items.pop(key, None)
        self._bytes.pop(key, None)

    def usage(self) -> tuple[int, int]:
        """Entries, and the bytes of their weights."""
        return len(self._items), sum(self._bytes.values())


def session_options() -> ort.SessionOptions:
    """How the server runs an ONNX graph (bench/run.py's in-process baseline runs it the same way)."""
    options = ort.SessionOptions()
    # One thread per run: on 2 cores a QueryFacts batch of 1024 took as long on two (1.78 ms) but 0.76 ms
    # more CPU, and the server then spent 3.80 ms of CPU per batch against 2.80 (bench/run.py). Concurrent
    # requests run on the RPC threads side by side instead.
    options.intra_op_num_threads = 1
    # No busy-waiting between runs should the thread count grow: spinning threads took the CPU from the RPC
    # threads and from training workers (single-query p50 went from 4.4 to 3.3 ms with it off).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def onnx_providers() -> list[str]:
    """CUDA where onnxruntime-gpu can use it, else the CPU. The CUDA libraries that torch's wheels installed
    (nvidia-* packages) are loaded first where ONNX Runtime can (1.21+), so it finds cuDNN without LD paths."""
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" in available and hasattr(ort, "preload_dlls"):
        ort.preload_dlls()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


@dataclass(frozen=True)
class Described:
    """What a checkpoint's row says, parsed once: enough for a probe that needs no weights (QueryFacts)."""

    record: CheckpointRecord
    family: Family
    config: Any


class ModelCache:
    def __init__(
        self, store: Store, checkpoint_root: Path, size: int, metrics: Metrics, device: str, limits: Limits
    ) -> None:
        self.device = torch.device(device)
        self.limits = limits
        self.store = store
        self.root = checkpoint_root
        self.metrics = metrics
        self._lock = threading.Lock()
        self._export_lock = threading.Lock()
        self._models: _LRU[LoadedModel] = _LRU(size)
        self._sessions: _LRU[ort.InferenceSession] = _LRU(size)
        self._described: _LRU[Described] = _LRU(size * 64)  # rows are small; a hit skips the database

    def record(self, checkpoint_id: str) -> CheckpointRecord:
        """The stored checkpoint, after checking the id's form and that its files exist."""
        check_id("checkpoint", checkpoint_id)
        record = self.store.get_checkpoint(checkpoint_id)
        if record is None:
            raise NotFoundError(f"no checkpoint {checkpoint_id}")
        if not (self.root / checkpoint_id).is_dir():
            raise Conflict(f"checkpoint {checkpoint_id} is recorded but its files are missing from the data dir")
        return record

    def describe(self, checkpoint_id: str) -> Described:
        """The checkpoint's record, family and parsed config; from memory after the first call."""
        check_id("checkpoint", checkpoint_id)
        with self._lock:
            found = self._described.get(checkpoint_id)
        if found is not None:
            return found
        record = self.record(checkpoint_id)
        family = get_family(record.family)
        described = Described(record, family, parse_config(family.config_cls, record.config))
        with self._lock:
            self._described.put(checkpoint_id, described, 0)
        return described

    def usage(self) -> dict[str, tuple[int, int]]:
        """Per cache (torch, onnx): entries and the bytes of their weights."""
        with self._lock:
            return {"torch": self._models.usage(), "onnx": self._sessions.usage()}

    def _cached(self, cache: _LRU[T], name: str, key: str, build: Callable[[], tuple[T, int]]) -> T:
        """The cached value, or a new one; a hit skips the database (a delete evicts first)."""
        check_id("checkpoint", key)
        with self._lock:
            value = cache.get(key)
        if value is not None:
            self.metrics.cache_hits.labels(name).inc()
            return value
        self.metrics.cache_misses.labels(name).inc()
        self.record(key)
        value, nbytes = build()
        with self._lock:
            evicted = cache.put(key, value, nbytes)
        if evicted:
            self.metrics.cache_evictions.labels(name).inc(evicted)
        return value

    def model(self, checkpoint_id: str) -> LoadedModel:
        def build() -> tuple[LoadedModel, int]:
            loaded = load()
            return loaded, sum(t.nbytes for t in loaded.module.state_dict().values())

        def load() -> LoadedModel:
            record = self.record(checkpoint_id)
            family = get_family(record.family)
            config = parse_config(family.config_cls, record.config)
            weights = read_weights(self.root / checkpoint_id)
            if not family.builds_from_server_files(config):
                return family.load(config, record.seed, weights, self.device)
            # A Hugging Face checkpoint builds its model from hf_path: checked again, as a job's worker does
            for key, given in server_paths(config).items():
                check_server_path(key, given, self.limits.data_roots, self.limits.max_data_bytes)
            check_parameters(family.parameter_count(config), self.limits.max_parameters)
            try:
                return family.load(config, record.seed, weights, self.device)
            except OSError as error:
                raise DataUnavailable(f"checkpoint {checkpoint_id}: its base model cannot be read ({error})") from None

        return self._cached(self._models, "torch", checkpoint_id, build)

    def onnx_bytes(self, checkpoint_id: str) -> bytes:
        """The checkpoint's ONNX graph, verified; exported on first use and kept beside the weights."""
        directory = self.root / checkpoint_id
        if not (directory / ONNX).exists():
            loaded = self.model(checkpoint_id)
            with self._export_lock:
                if not (directory / ONNX).exists():
                    module, example = capability(loaded.family, ServesOnnx).serving_module(loaded)
                    add_file(directory, ONNX, export_onnx(copy.deepcopy(module).cpu(), example.cpu()))
        return verified_bytes(directory, ONNX)

    def session(self, checkpoint_id: str) -> ort.InferenceSession:
        def build() -> tuple[ort.InferenceSession, int]:
            graph = self.onnx_bytes(checkpoint_id)
            try:
                return ort.InferenceSession(graph, session_options(), providers=onnx_providers()), len(graph)
            except Exception as error:  # onnxruntime raises its own Fail/InvalidProtobuf: a damaged graph
                raise DataLoss(f"checkpoint {checkpoint_id}: {ONNX} does not load ({error})") from None

        return self._cached(self._sessions, "onnx", checkpoint_id, build)

    def remove(self, checkpoint_id: str) -> None:
        """Evict a checkpoint whose record is gone and delete its files, never in the middle of an ONNX export."""
        with self._lock:
            self._models.pop(checkpoint_id)
            self._sessions.pop(checkpoint_id)
            self._described.pop(checkpoint_id)
        with self._export_lock:
            remove_checkpoint(self.root, checkpoint_id)


def export_onnx(module: torch.nn.Module, example: Any) -> bytes:
    """ONNX bytes of ``module`` with outputs logits and probabilities and a dynamic batch axis."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(
            _WithProbabilities(module).eval(),
            (example,),
            buffer,  # type: ignore[arg-type]  # the stub lists paths; the TorchScript exporter writes to file objects
            dynamo=False,
            input_names=[ONNX_INPUT],
            output_names=[ONNX_LOGITS, ONNX_PROBABILITIES],
            dynamic_axes={ONNX_INPUT: {0: "batch"}, ONNX_LOGITS: {0: "batch"}, ONNX_PROBABILITIES: {0: "batch"}},
            opset_version=17,
        )
    return buffer.getvalue()
