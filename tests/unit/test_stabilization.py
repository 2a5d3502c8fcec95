"""Self-stabilization quantities against finite differences on a tiny float64 network."""

import copy

import pytest
import torch

from probe_models.config import parse_config
from probe_models.families.eos import EOS, EOSConfig
from probe_models.families.eos.family import dataset, mse
from probe_models.stabilization import Landscape, self_stabilization
from probe_models.stabilization_tracking import find_instability, track_dynamics

TINY = {"data": "synthetic", "num_examples": 40, "input_dim": 5, "num_classes": 3, "width": 6, "depth": 1}


@pytest.fixture(scope="module")
def tiny():
    config = parse_config(EOSConfig, {**TINY, "lr": 0.5})
    run = EOS().new_run(config, seed=0, steps=30)
    for step in range(30):
        run.train_step(step)
    module = copy.deepcopy(run.model).double()
    data = dataset(config, 0)
    inputs, targets = data.inputs.double(), data.targets.double()
    params = list(module.parameters())
    return params, (lambda: mse(module, inputs, targets))


def _sharpness_along(land: Landscape, u: torch.Tensor) -> float:
    """uᵀ∇²L u at the current parameters, u held fixed."""
    grad = torch.cat([g.reshape(-1) for g in torch.autograd.grad(land.loss(), land.params, create_graph=True)])
    hu = torch.cat([h.reshape(-1) for h in torch.autograd.grad(grad @ u, land.params)])
    return float(hu @ u)


def test_sharpness_gradient_alpha_and_beta_match_finite_differences(tiny):
    params, loss = tiny
    land = Landscape(params, loss)
    here = land.geometry()
    theta, eps = land.get(), 1e-5
    fd_grad_s, fd_grad_l = torch.zeros_like(theta), torch.zeros_like(theta)
    for i in range(len(theta)):
        step = torch.zeros_like(theta)
        step[i] = eps
        values = []
        for sign in (1, -1):
            land.set(theta + sign * step)
            values.append((_sharpness_along(land, here.direction), float(loss().detach())))
        fd_grad_s[i] = (values[0][0] - values[1][0]) / (2 * eps)
        fd_grad_l[i] = (values[0][1] - values[1][1]) / (2 * eps)
    land.set(theta)
    torch.testing.assert_close(here.sharpness_gradient, fd_grad_s, rtol=1e-5, atol=1e-7)
    u = here.direction
    orthogonal = fd_grad_s - u * (u @ fd_grad_s)
    alpha, beta = float(-(fd_grad_l @ orthogonal)), float(orthogonal @ orthogonal)
    assert here.alpha == pytest.approx(alpha, rel=1e-4) and here.beta == pytest.approx(beta, rel=1e-4)
    assert here.delta == pytest.approx((2 * alpha / beta) ** 0.5, rel=1e-4) if alpha > 0 else True


def test_gd_beside_the_prediction_and_projected_gd(tiny):
    params, loss = tiny
    land = Landscape(params, loss)
    before = land.get()
    sharpness = land.top_eigenpair(None)[0]
    lr = 2.2 / sharpness  # 2/η = S/1.1: GD is past the edge, projected GD is pulled back to it
    report = self_stabilization(params, loss, lr, steps=5, projected=True)
    assert torch.equal(land.get(), before), "the parameters are restored"
    assert report.sharpness == pytest.approx(sharpness, rel=1e-6) and report.threshold == pytest.approx(2 / lr)
    assert len(report.x_measured) == len(report.y_predicted) == len(report.projected_distance) == 5
    assert (report.x_predicted[0], report.y_predicted[0]) == (report.x_measured[0], report.y_measured[0])
    x, y = report.x_predicted[0], report.y_predicted[0]
    assert report.x_predicted[1] == pytest.approx(-(1 + lr * y) * x)
    assert report.y_predicted[1] == pytest.approx(y + lr * (report.alpha - report.beta * x * x / 2))
    assert report.sharpness_along_gd[0] > report.threshold
    assert report.projected_sharpness[0] <= report.threshold * 1.01, (report.projected_sharpness, report.threshold)
    assert report.projected_distance[0] > 0 and report.hvp_count > 0


def test_find_instability_stops_at_the_first_gd_step_with_s_at_or_above_two_over_eta(tiny):
    params, loss = tiny
    land = Landscape(params, loss)
    start = land.get()
    lr = 0.8  # 2/η = 2.5: S starts near 2.1 here and GD sharpens it past 2.5 within a few hundred steps
    found, sharpness, _ = find_instability(land, lr, max_steps=1000, stride=10)
    at_crossing = land.get()
    land.set(start)
    replay = []  # S at every GD step from the start, each by a cold Lanczos
    theta = start.clone()
    for _ in range(found + 1):
        land.set(theta)
        replay.append(land.top_eigenpair(None)[0])
        theta = theta - lr * land.value_and_gradient()[1]
    assert found > 10 and sharpness >= 2 / lr
    assert replay[-1] == pytest.approx(sharpness, rel=1e-6) and max(replay[:-1]) < 2 / lr
    land.set(start)
    for _ in range(found):
        land.set(land.get() - lr * land.value_and_gradient()[1])
    torch.testing.assert_close(land.get(), at_crossing)
    land.set(start)
    with pytest.raises(ValueError, match="stayed below"):
        find_instability(land, 0.1, max_steps=20)


def test_tracking_starts_on_the_projection_and_restores_the_parameters(tiny):
    params, loss = tiny
    land = Landscape(params, loss)
    start = land.get()
    lr = 2.2 / land.top_eigenpair(None)[0]
    sharpness, direction = land.top_eigenpair(None)
    report = track_dynamics(params, loss, lr, steps=6, crossing=(0, sharpness, direction), sharpness_every=3)
    torch.testing.assert_close(land.get(), start)
    assert report.steps == list(range(7)) and report.sharpness_steps == [0, 3, 6]
    assert report.gd_to_predicted[0] == 0 and report.projected_moved[0] == 0 < report.gd_to_projected[0]
    assert report.sharpness_along_gd[0] == pytest.approx(sharpness, rel=1e-6)
    assert all(abs(s * lr / 2 - 1) < 0.01 for s in report.projected_sharpness), report.projected_sharpness
    assert report.projected_moved[-1] > 0 and report.hvp_count > 0
