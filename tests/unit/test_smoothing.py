"""The closed-form smoothed correlation loss and its spherical gradient against Monte Carlo over z."""

import numpy as np
import torch

from probe_models.families.single_index.smoothing import smoothed_link, smoothed_link_and_slope
from probe_models.gaussian.hermite import monomial_coefficients
from probe_models.gaussian.links import polynomial_values

DIM, LAM, SAMPLES = 16, 16**0.25, 200_000
MONOMIALS = monomial_coefficients(np.array([0.0, 0.3, 0.0, 0.9, 0.2]))  # 0.3 h1 + 0.9 h3 + 0.2 h4


def tangent(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return g - (g @ w) * w


def setup() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(DIM, generator=gen, dtype=torch.float64)
    return w / w.norm(), torch.randn(DIM, generator=gen, dtype=torch.float64)


def monte_carlo(w: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-z values of σ(normalize(w + λz)·x) and their spherical gradients, z = P⊥ξ/‖P⊥ξ‖ uniform on S(w⊥)."""
    xi = torch.randn(SAMPLES, DIM, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def one(w_: torch.Tensor, xi_: torch.Tensor) -> torch.Tensor:
        p = xi_ - (xi_ @ w_) * w_
        moved = w_ + LAM * p / p.norm()
        return polynomial_values((moved / moved.norm()) @ x, MONOMIALS)

    values = torch.func.vmap(one, in_dims=(None, 0))(w, xi)
    grads = torch.func.vmap(torch.func.grad(one), in_dims=(None, 0))(w, xi)
    return values, grads - (grads @ w)[:, None] * w


def closed_form(w: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    w = w.clone().requires_grad_(True)
    value = smoothed_link(w @ x, x @ x, MONOMIALS, torch.tensor(LAM, dtype=torch.float64), DIM)
    (grad,) = torch.autograd.grad(value, w)
    return value.detach(), tangent(w.detach(), grad)


def test_the_closed_form_equals_monte_carlo_within_its_error_bars():
    w, x = setup()
    values, grads = monte_carlo(w, x)
    value, grad = closed_form(w, x)
    error = values.std() / SAMPLES**0.5
    assert abs(value - values.mean()) <= 4 * error, (float(value), float(values.mean()), float(error))
    errors = grads.std(dim=0) / SAMPLES**0.5
    assert torch.all((grad - grads.mean(dim=0)).abs() <= 4 * errors + 1e-12), (grad, grads.mean(dim=0), errors)


def test_no_smoothing_is_the_plain_link():
    w, x = setup()
    value = smoothed_link(w @ x, x @ x, MONOMIALS, torch.tensor(0.0, dtype=torch.float64), DIM)
    torch.testing.assert_close(value, polynomial_values(w @ x, MONOMIALS))


def test_the_closed_form_slope_is_the_derivative_in_a():
    """The training step's gradient −y·σ_λ'(a)·x rests on this slope; autograd of the value is the reference."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(64, DIM, generator=gen, dtype=torch.float64)
    w = torch.randn(64, DIM, generator=gen, dtype=torch.float64)
    a = ((w / w.norm(dim=-1, keepdim=True)) * x).sum(-1).requires_grad_(True)  # a² ≤ ‖x‖², as in training
    for lam in (0.0, LAM):
        lam_t = torch.tensor(lam, dtype=torch.float64)
        (reference,) = torch.autograd.grad(smoothed_link(a, (x * x).sum(-1), MONOMIALS, lam_t, DIM).sum(), a)
        value, slope = smoothed_link_and_slope(a.detach(), (x * x).sum(-1), MONOMIALS, lam_t, DIM)
        torch.testing.assert_close(value, smoothed_link(a.detach(), (x * x).sum(-1), MONOMIALS, lam_t, DIM))
        torch.testing.assert_close(slope, reference)
