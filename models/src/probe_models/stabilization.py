"""Self-stabilization at a checkpoint (Damian, Nichani, Lee 2022; docs/families/eos.md).

At a reference point θ† with top Hessian eigenpair (S, u):
∇S = ∇³L(u, u), the gradient of uᵀ∇²L(θ)u with u held fixed (one triple
backward); ∇S⊥ = ∇S − u(u·∇S); α = −∇L·∇S⊥ (progressive sharpening);
β = ‖∇S⊥‖² (self-stabilization); δ = √(2α/β). With x = u·(θ − θ†) and
y = ∇S⊥·(θ − θ†), the paper predicts x ← −(1 + ηy)x, y ← y + η(α − βx²/2);
:func:`self_stabilization` runs N real GD steps from θ† beside that
prediction, and beside projected GD (a GD step, then 3 linearized projections
onto {S ≤ 2/η, u·∇L = 0}), reporting how far GD stays from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from probe_models.hessian import HessianOperator, lanczos_top_eigenpairs

PROJECTIONS = 3
LANCZOS_ITERATIONS = 100
LANCZOS_TOLERANCE = 1e-9


@dataclass
class Geometry:
    sharpness: float
    direction: torch.Tensor  # u, float64
    gradient: torch.Tensor  # ∇L
    sharpness_gradient: torch.Tensor  # ∇S
    orthogonal: torch.Tensor  # ∇S⊥

    @property
    def alpha(self) -> float:
        return float(-(self.gradient @ self.orthogonal))

    @property
    def beta(self) -> float:
        return float(self.orthogonal @ self.orthogonal)

    @property
    def delta(self) -> float:
        return math.sqrt(2 * self.alpha / self.beta) if self.alpha > 0 and self.beta > 0 else math.nan


@dataclass
class StabilizationReport:
    lr: float
    threshold: float
    sharpness: float
    alpha: float
    beta: float
    delta: float
    gradient_norm: float
    sharpness_gradient_norm: float
    steps: list[int] = field(default_factory=list)
    x_measured: list[float] = field(default_factory=list)
    y_measured: list[float] = field(default_factory=list)
    x_predicted: list[float] = field(default_factory=list)
    y_predicted: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    sharpness_along_gd: list[float] = field(default_factory=list)
    projected_distance: list[float] = field(default_factory=list)
    projected_sharpness: list[float] = field(default_factory=list)
    hvp_count: int = 0
    displacement: list[float] = field(default_factory=list)  # ‖θ_t − θ†‖ of GD


def _flat(tensors: tuple[torch.Tensor, ...]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


class Landscape:
    """The full-batch loss over the trainable parameters as a function of a flat parameter vector."""

    def __init__(self, params: list[torch.nn.Parameter], loss: Callable[[], torch.Tensor]) -> None:
        self.params, self.loss = params, loss
        self.hvps = 0

    def get(self) -> torch.Tensor:
        """The parameters as one float64 vector on the CPU, where the Lanczos vectors and ∇S live too."""
        return _flat(tuple(p.detach() for p in self.params)).double().cpu()

    @torch.no_grad()
    def set(self, flat: torch.Tensor) -> None:
        offset = 0
        for p in self.params:
            p.copy_(flat[offset : offset + p.numel()].view_as(p).to(p.dtype))
            offset += p.numel()

    def value_and_gradient(self) -> tuple[float, torch.Tensor]:
        loss = self.loss()
        return float(loss.detach()), _flat(torch.autograd.grad(loss, self.params)).double().cpu()

    def top_eigenpair(self, start: torch.Tensor | None) -> tuple[float, torch.Tensor]:
        operator = HessianOperator(self.params, [(1.0, self.loss)])
        values, vectors, _ = lanczos_top_eigenpairs(
            operator, operator.num_parameters, 1, LANCZOS_ITERATIONS, LANCZOS_TOLERANCE, 0, start
        )
        self.hvps += operator.count
        return float(values[0]), vectors[0]

    def geometry(self, start: torch.Tensor | None = None) -> Geometry:
        """S, u, ∇L, ∇S = ∇³L(u, u) and ∇S⊥ here."""
        sharpness, u = self.top_eigenpair(start)
        loss = self.loss()
        grads = torch.autograd.grad(loss, self.params, create_graph=True)
        gradient = _flat(grads)
        direction = u.to(gradient.dtype).to(gradient.device)
        hu = _flat(torch.autograd.grad(gradient @ direction, self.params, create_graph=True))
        sharpness_gradient = _flat(torch.autograd.grad(hu @ direction, self.params)).double().cpu()
        self.hvps += 2
        orthogonal = sharpness_gradient - u * (u @ sharpness_gradient)
        return Geometry(sharpness, u, gradient.detach().double().cpu(), sharpness_gradient, orthogonal)


def project(
    land: Landscape, theta: torch.Tensor, lr: float, direction: torch.Tensor | None
) -> tuple[torch.Tensor, Geometry]:
    """θ moved onto {S ≤ 2/η, u·∇L = 0} by PROJECTIONS linearized steps (the authors' ``linear_project``).

    Each step: θ ← θ − max(0, S − 2/η)∇S⊥/‖∇S⊥‖² − u(u·∇L)/S, then the geometry anew. Returns the projected
    point and its geometry; the landscape is left there.
    """
    land.set(theta)
    here = land.geometry(direction)
    for _ in range(PROJECTIONS):
        norm = float(here.orthogonal @ here.orthogonal)
        if norm > 0:
            theta = theta - max(0.0, here.sharpness - 2.0 / lr) * here.orthogonal / norm
        theta = theta - here.direction * float(here.direction @ here.gradient) / here.sharpness
        land.set(theta)
        here = land.geometry(here.direction)
    return theta, here


def self_stabilization(
    params: list[torch.nn.Parameter], loss: Callable[[], torch.Tensor], lr: float, steps: int, projected: bool
) -> StabilizationReport:
    """α, β, δ at the current parameters, then ``steps`` GD steps beside the predicted (x, y) and projected GD.

    The parameters are restored afterwards.
    """
    land = Landscape(params, loss)
    reference = land.get()
    here = land.geometry()
    threshold = 2.0 / lr
    report = StabilizationReport(
        lr=lr, threshold=threshold, sharpness=here.sharpness, alpha=here.alpha, beta=here.beta, delta=here.delta,
        gradient_norm=float(here.gradient.norm()), sharpness_gradient_norm=float(here.sharpness_gradient.norm()),
    )  # fmt: skip
    try:
        theta, tracked = reference.clone(), here.direction
        for t in range(1, steps + 1):
            land.set(theta)
            value, gradient = land.value_and_gradient()
            theta = theta - lr * gradient
            land.set(theta)
            sharpness, tracked = land.top_eigenpair(tracked)
            shift = theta - reference
            report.steps.append(t)
            report.loss.append(value)
            report.sharpness_along_gd.append(sharpness)
            report.x_measured.append(float(here.direction @ shift))
            report.y_measured.append(float(here.orthogonal @ shift))
            report.displacement.append(float(shift.norm()))
        x, y = report.x_measured[0], report.y_measured[0]
        for _ in report.steps:
            report.x_predicted.append(x)
            report.y_predicted.append(y)
            x, y = -(1 + lr * y) * x, y + lr * (here.alpha - here.beta * x * x / 2)
        if projected:
            _projected_gd(land, reference, lr, steps, here.direction, report)
    finally:
        land.set(reference)
    report.hvp_count = land.hvps
    return report


def _projected_gd(
    land: Landscape, reference: torch.Tensor, lr: float, steps: int, start: torch.Tensor, report: StabilizationReport
) -> None:
    """Projected GD from the reference; its distance to the GD iterates, which are replayed to compare."""
    gd, constrained, direction = reference.clone(), reference.clone(), start
    for _ in range(steps):
        land.set(gd)
        gd = gd - lr * land.value_and_gradient()[1]
        land.set(constrained)
        constrained, here = project(land, constrained - lr * land.value_and_gradient()[1], lr, direction)
        direction = here.direction
        report.projected_sharpness.append(here.sharpness)
        report.projected_distance.append(float((gd - constrained).norm()))
