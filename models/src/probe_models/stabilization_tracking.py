"""Self-stabilization along the constrained trajectory, as the authors' ``taylor.py`` runs it.

Damian, Nichani, Lee (2022), code ``adamian98/EOS``: GD runs until the
sharpness S first reaches 2/η (``find_instability``); from that point θ, in
float64, θ†₀ is its projection onto M = {S ≤ 2/η, u·∇L = 0} (3 linearized
projections), and three trajectories run side by side (``track_dynamics``):

- GD from θ;
- projected GD θ†_t: a GD step, then the projection back onto M — the
  constrained trajectory the theorem says GD follows;
- the predicted displacement v_t (θ ≈ θ†_t + v_t), stepped with the cubic
  Taylor expansion at θ†_t:
  v ← v − η[(x² − δ²)/2 ∇S⊥ + ∇²L(θ†)v + u·x·y], x = u·v, y = ∇S⊥·v.

What we record per step: ‖θ_t − θ†_t‖ (GD against projected GD), ‖θ_t −
(θ†_t + v_t)‖ (GD against the prediction), S along GD and at θ†_t, and how far
θ†_t has moved from θ†₀ (the scale the distances are read against). The
authors re-estimate S along GD every step; we do every ``sharpness_every``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from probe_models.hessian import HessianOperator
from probe_models.stabilization import Geometry, Landscape, project


@dataclass
class TrackingReport:
    lr: float
    threshold: float
    search_steps: int  # GD steps from the start until S first reached 2/η
    sharpness_at_crossing: float
    alpha: float  # at θ†₀
    beta: float
    delta: float
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)  # along GD
    gd_to_projected: list[float] = field(default_factory=list)  # ‖θ_t − θ†_t‖
    gd_to_predicted: list[float] = field(default_factory=list)  # ‖θ_t − θ†_t − v_t‖
    projected_moved: list[float] = field(default_factory=list)  # ‖θ†_t − θ†₀‖
    x_gd: list[float] = field(default_factory=list)  # u_t·(θ_t − θ†_t)
    x_predicted: list[float] = field(default_factory=list)  # u_t·v_t
    projected_sharpness: list[float] = field(default_factory=list)  # S(θ†_t)
    sharpness_steps: list[int] = field(default_factory=list)
    sharpness_along_gd: list[float] = field(default_factory=list)  # S(θ_t) at sharpness_steps
    hvp_count: int = 0


def find_instability(land: Landscape, lr: float, max_steps: int, stride: int = 10) -> tuple[int, float, torch.Tensor]:
    """GD steps from the current parameters until S first reaches 2/η: (steps taken, S there, u there).

    As the authors' search: S is measured every ``stride`` steps; once it is at or above 2/η, the search
    backtracks to the last point below and measures every step from there, so the crossing is exact.
    The parameters are left at the crossing. Raises ValueError when S stays below 2/η for ``max_steps``.
    """
    threshold = 2.0 / lr
    theta, step, direction = land.get(), 0, None
    sharpness, direction = land.top_eigenpair(None)
    if sharpness >= threshold:
        raise ValueError(f"S = {sharpness:.4g} is already at or past 2/η = {threshold:g}: the first crossing is behind")
    while step < max_steps:
        below = (step, theta, direction)
        for _ in range(stride):
            land.set(theta)
            theta = theta - lr * land.value_and_gradient()[1]
        step += stride
        land.set(theta)
        sharpness, direction = land.top_eigenpair(direction)
        if sharpness >= threshold:
            if stride == 1:
                return step, sharpness, direction
            step, theta, direction = below
            stride = 1
    raise ValueError(f"S stayed below 2/η = {threshold:g} for {max_steps} GD steps (last S = {sharpness:.4g})")


def _hessian_times(land: Landscape, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    land.set(theta)
    operator = HessianOperator(land.params, [(1.0, land.loss)])
    product = operator(v).double().cpu()
    land.hvps += operator.count
    return product


def _predicted_step(land: Landscape, v: torch.Tensor, dagger: torch.Tensor, here: Geometry, lr: float) -> torch.Tensor:
    x, y = float(here.direction @ v), float(here.orthogonal @ v)
    delta_squared = 2 * here.alpha / here.beta if here.beta > 0 else 0.0  # as the authors' (α may be < 0)
    force = (x * x - delta_squared) / 2 * here.orthogonal + _hessian_times(land, dagger, v) + here.direction * x * y
    return v - lr * force


def track_dynamics(
    params: list[torch.nn.Parameter],
    loss: Callable[[], torch.Tensor],
    lr: float,
    steps: int,
    crossing: tuple[int, float, torch.Tensor],
    sharpness_every: int = 1,
) -> TrackingReport:
    """``steps`` steps of GD, projected GD and the prediction side by side from the current parameters.

    ``crossing`` is what :func:`find_instability` found here; the authors search in float32 and switch to
    float64 for the tracking, so ``params`` should be float64. Restores the parameters.
    """
    if sharpness_every < 1:
        raise ValueError(f"sharpness_every must be >= 1, got {sharpness_every}")
    land = Landscape(params, loss)
    found, crossing_sharpness, direction = crossing
    start = land.get()
    try:
        gd = start.clone()
        dagger, here = project(land, gd, lr, direction)
        origin, v = dagger.clone(), gd - dagger
        report = TrackingReport(
            lr=lr, threshold=2.0 / lr, search_steps=found, sharpness_at_crossing=crossing_sharpness,
            alpha=here.alpha, beta=here.beta, delta=here.delta,
        )  # fmt: skip
        along = direction
        for t in range(steps + 1):
            report.steps.append(t)
            report.gd_to_projected.append(float((gd - dagger).norm()))
            report.gd_to_predicted.append(float((gd - dagger - v).norm()))
            report.projected_moved.append(float((dagger - origin).norm()))
            report.x_gd.append(float(here.direction @ (gd - dagger)))
            report.x_predicted.append(float(here.direction @ v))
            report.projected_sharpness.append(here.sharpness)
            land.set(gd)
            value, gradient = land.value_and_gradient()
            report.loss.append(value)
            if t % sharpness_every == 0:
                sharpness, along = land.top_eigenpair(along)
                report.sharpness_steps.append(t)
                report.sharpness_along_gd.append(sharpness)
            if t == steps:
                break
            gd = gd - lr * gradient
            v = _predicted_step(land, v, dagger, here, lr)
            dagger, here = project(land, dagger - lr * here.gradient, lr, here.direction)
        report.hvp_count = land.hvps
        return report
    finally:
        land.set(start)
