"""MeasureSharpness for any family: what to compute, on which data, in which precision.

A family says which examples and which loss (:class:`SharpnessData`); this
module turns them into a Hessian operator over the model's trainable
parameters, chunked so that memory stays bounded however many examples are
used, optionally in float64 on a copy of the model, and runs the requested
method.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch

from probe_models.errors import InvalidInput
from probe_models.family import LoadedModel, SharpnessData
from probe_models.hessian import (
    HessianOperator,
    hutchinson_trace,
    lanczos_top_eigenpairs,
    power_top_eigenpairs,
    residuals,
)

METHODS = ("lanczos", "power")


@dataclass
class SharpnessRequest:
    top_k: int = 1
    method: str = "lanczos"
    max_iterations: int = 100
    tolerance: float = 1e-7
    seed: int = 0
    chunk_size: int = 0  # examples per physical chunk; 0: all at once
    float64: bool = False
    trace_samples: int = 0  # Hutchinson probes; 0: no trace
    warm_start: torch.Tensor | None = None  # a start vector over the trainable parameters


@dataclass
class SharpnessReport:
    eigenvalues: list[float]  # largest first
    eigenvectors: torch.Tensor  # (k, n) float64
    residuals: list[float]
    iterations: int
    hvp_count: int
    num_parameters: int
    num_examples: int
    method: str
    data: str
    dtype: str
    chunks: int
    trace: float | None
    trace_standard_error: float | None
    trace_samples: int


def hessian_operator(
    model: LoadedModel, data: SharpnessData, chunk_size: int, float64: bool
) -> tuple[HessianOperator, torch.nn.Module]:
    """The operator of the mean loss over ``data``, and the module (a float64 copy when asked) it differentiates."""
    module = model.module
    if float64:
        module = copy.deepcopy(module).double()
    device = next(module.parameters()).device
    dtype = torch.float64 if float64 else None
    inputs, targets = data.inputs, data.targets
    if dtype is not None:
        inputs = inputs.to(dtype) if inputs.is_floating_point() else inputs
        targets = targets.to(dtype) if targets.is_floating_point() else targets
    n = len(inputs)
    size = chunk_size or n
    chunks = []
    for start in range(0, n, size):
        x = inputs[start : start + size].to(device)
        y = targets[start : start + size].to(device)
        chunks.append((len(x) / n, lambda x=x, y=y: data.loss(module, x, y)))
    params = [p for p in module.parameters() if p.requires_grad]
    return HessianOperator(params, chunks), module


def measure_sharpness(model: LoadedModel, data: SharpnessData, request: SharpnessRequest) -> SharpnessReport:
    if request.method not in METHODS:
        raise InvalidInput(f"unknown method {request.method!r}; use one of {', '.join(METHODS)}")
    operator, _ = hessian_operator(model, data, request.chunk_size, request.float64)
    n = operator.num_parameters
    if request.top_k > n:
        raise InvalidInput(f"top_k {request.top_k} exceeds the model's {n} trainable parameters")
    start = request.warm_start
    if start is not None:
        if start.ndim != 1 or start.numel() != n:
            raise InvalidInput(f"warm_start must be a vector of {n} values (the trainable parameters)")
        if not torch.isfinite(start).all() or float(start.norm()) == 0:
            raise InvalidInput("warm_start must be finite and non-zero")
    solve = lanczos_top_eigenpairs if request.method == "lanczos" else power_top_eigenpairs
    values, vectors, iterations = solve(
        operator, n, request.top_k, request.max_iterations, request.tolerance, request.seed, start
    )
    pair_residuals = residuals(operator, values, vectors)
    trace = error = None
    if request.trace_samples:
        trace, error = hutchinson_trace(operator, n, request.trace_samples, request.seed)
    return SharpnessReport(
        eigenvalues=[float(x) for x in values],
        eigenvectors=vectors,
        residuals=pair_residuals,
        iterations=iterations,
        hvp_count=operator.count,
        num_parameters=n,
        num_examples=len(data.inputs),
        method=request.method,
        data=data.description,
        dtype="float64" if request.float64 else str(operator.dtype).removeprefix("torch."),
        chunks=len(operator.chunks),
        trace=trace,
        trace_standard_error=error if error is None or math.isfinite(error) else None,
        trace_samples=request.trace_samples,
    )
