"""The ntk-escape learners against autograd and closed-form kernel regression."""

import pytest
import torch
from torch.func import jvp

from probe_models.config import parse_config
from probe_models.errors import ConfigError
from probe_models.families.ntk_escape import NTKEscape, NTKEscapeConfig
from probe_models.families.ntk_escape.family import initialized, top_kernel_eigenvectors, top_ntk_directions
from probe_models.families.ntk_escape.target import Target
from probe_models.training import advance
from tests.science.resume import restored_and_whole

SMALL = {"dim": 5, "width": 40, "samples": 30, "validation": 50}


def small_net(learner: str = "quad-ntk", activation: str = "tanh"):
    config = NTKEscapeConfig(**SMALL, learner=learner, activation=activation, init_scale=0.7)
    net = initialized(config, seed=3).double()
    x = Target(config, 3).draw(20, torch.device("cpu"), "probe").x.double()
    return config, net, x


@pytest.mark.parametrize("activation", ["tanh", "softplus", "sigmoid-shifted"])
def test_the_taylor_terms_are_the_network_s_first_and_second_derivatives_along_delta(activation):
    _, net, x = small_net(activation=activation)
    w0, delta = net.w0, net.delta.detach()
    at_init = net.network(x, w0)
    torch.testing.assert_close(at_init, torch.zeros_like(at_init), atol=1e-12, rtol=0)  # symmetric: f(W0) = 0

    def along(t: torch.Tensor) -> torch.Tensor:
        return net.network(x, w0 + t * delta)

    def slope(t: torch.Tensor) -> torch.Tensor:
        return jvp(along, (t,), (torch.ones_like(t),))[1]

    zero = torch.zeros((), dtype=x.dtype)
    first = jvp(along, (zero,), (torch.ones_like(zero),))[1]
    second = jvp(slope, (zero,), (torch.ones_like(zero),))[1]
    with torch.no_grad():
        torch.testing.assert_close(net.linear_term(x), first, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(net.quadratic_term(x), 0.5 * second, rtol=1e-10, atol=1e-12)
        assert float(net.quadratic_term(x).abs().max()) > 1e-3, "a real second-order term, not zero"


def test_the_analytic_ntk_is_the_gram_matrix_of_the_autograd_jacobian():
    _, net, x = small_net()
    jacobian = torch.stack([torch.autograd.grad(net.linear_term(x[i : i + 1]).sum(), net.delta)[0].reshape(-1)
                            for i in range(len(x))])  # fmt: skip
    with torch.no_grad():
        torch.testing.assert_close(net.kernel(x, x), jacobian @ jacobian.T, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(net.features(x), jacobian, rtol=1e-10, atol=1e-12)


def kernel_ridge(net, train, test, lam: float) -> torch.Tensor:
    """Kernel ridge regression with the analytic NTK, written out independently of the family."""
    x, y, n = train.x.double(), train.y.double(), len(train.y)
    k = net.kernel(x, x)
    alpha = torch.linalg.solve(k + n * lam * torch.eye(n, dtype=x.dtype), y)
    return net.kernel(test.x.double(), x) @ alpha


@pytest.mark.parametrize("solver", ["gd", "closed-form"])
def test_the_ntk_learner_predicts_what_kernel_regression_with_the_ntk_predicts(solver):
    lam = 0.01
    config = parse_config(NTKEscapeConfig, {**SMALL, "learner": "ntk", "solver": solver, "ridge": lam, "lr": 1.0})
    run = NTKEscape().new_run(config, seed=1, steps=1500)
    for step in range(run.max_steps):
        advance(run, step)
    with torch.no_grad():
        expected = kernel_ridge(run.model.double(), run.train, run.test, lam)
        predicted = run.model.predict(run.test.x.double())
    assert float((predicted - expected).abs().max()) < 1e-4
    assert float(expected.std()) > 0.1


def test_the_top_ntk_directions_are_orthonormal_top_eigenvectors_of_the_feature_covariance():
    _, net, x = small_net()
    directions = top_ntk_directions(net, x, top_kernel_eigenvectors(net, x, 6))
    torch.testing.assert_close(directions @ directions.T, torch.eye(6, dtype=x.dtype), atol=1e-8, rtol=0)
    with torch.no_grad():
        features = net.features(x)
        covariance = features.T @ features
        values = torch.linalg.eigvalsh(covariance)[-6:]
        torch.testing.assert_close((directions @ covariance @ directions.T).diagonal().sort().values, values,
                                   rtol=1e-8, atol=1e-10)  # fmt: skip


def explicit_jacobian(run) -> tuple[torch.Tensor, torch.Tensor]:
    """J [n, m·d] of f_L on the training inputs by autograd, row by row, and its rank-k SVD truncation J_k."""
    net, x = run.model.double(), run.train.x.double()
    at_w0 = torch.zeros_like(net.w0, requires_grad=True)
    rows = [torch.autograd.grad(net.network(x[i : i + 1], net.w0 + at_w0).sum(), at_w0)[0].reshape(-1)
            for i in range(len(x))]  # fmt: skip
    jacobian = torch.stack(rows)
    u, s, vh = torch.linalg.svd(jacobian, full_matrices=False)
    k = run.config.directions
    return jacobian, u[:, :k] @ torch.diag(s[:k]) @ vh[:k]


def test_r1_is_the_norm_of_the_jacobian_outside_its_rank_k_truncation_applied_to_delta():
    """R1(Δ) = ‖(J − J_k)Δ‖²/n, with J the network's own Jacobian at W0 (autograd) and J_k from a full SVD."""
    config = parse_config(NTKEscapeConfig, {**SMALL, "activation": "sigmoid-shifted", "reg_randomized": 1.0})
    run = NTKEscape().new_run(config, seed=5, steps=1)
    assert float(run.model.delta.detach().abs().max()) == 0.0, "the combined model starts at Δ = 0, as the paper's"
    with torch.no_grad():
        run.model.delta.copy_(torch.randn(run.model.delta.shape, generator=torch.Generator().manual_seed(0)))
    jacobian, truncated = explicit_jacobian(run)
    delta = run.model.delta.detach().double().reshape(-1)
    expected = ((jacobian - truncated) @ delta).pow(2).sum() / config.samples
    run.model.float()
    assert float(run.r1(run.model).detach()) == pytest.approx(float(expected), rel=1e-4)
    assert float(expected) > 0.01 * float((jacobian @ delta).pow(2).mean()), "a real part of JΔ lies outside J_k"

    _, _, vh = torch.linalg.svd(jacobian, full_matrices=False)
    kept = vh[: config.directions]
    outside = (delta - kept.T @ (kept @ delta)).reshape(run.model.delta.shape)
    fresh = run.task.draw(config.fresh_samples, torch.device("cpu"), "fresh", 7).x.double()
    net = run.model.double()
    expected = torch.stack([torch.autograd.functional.jvp(lambda w, x=x: net.network(x[None], w), net.w0,
                                                          outside)[1] for x in fresh]).pow(2).mean()  # fmt: skip
    run.model.float()
    assert float(run.randomized_r1(run.model, 7).detach()) == pytest.approx(float(expected), rel=1e-3)


def test_the_paper_s_target_is_he2_plus_linear_over_root_three():
    config = parse_config(NTKEscapeConfig, {**SMALL, "target": "he2-linear", "inputs": "gaussian"})
    task = Target(config, 0)
    sample = task.draw(200_000, torch.device("cpu"), "check")
    u = sample.x @ (task.beta / task.beta.norm())
    torch.testing.assert_close(sample.y, (u * u - 1 + u) / 3**0.5, rtol=1e-5, atol=1e-5)
    assert float(sample.y.pow(2).mean()) == pytest.approx(1.0, abs=0.03), "unit variance under Gaussian inputs"


def test_the_combined_learner_reports_r1_and_resumes_exactly():
    config = parse_config(NTKEscapeConfig, {**SMALL, "top_k": 4, "reg_randomized": 0.1})
    resumed, _ = restored_and_whole(NTKEscape(), config, seed=2, steps=8, stop=3)
    metrics = resumed.evaluate()
    assert 0 <= metrics["linear_outside_top_k"] <= 1 and metrics["r1"] > 0 and metrics["test_error"] > 0
    assert {"dense_captured", "sparse_captured", "delta_norm"} <= set(metrics)


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"width": 41}, "width"),
        ({"sparse_degree": 6, "dim": 5}, "sparse_degree"),
        ({"solver": "closed-form", "learner": "combined"}, "solver"),
        ({"top_k": 30, "samples": 30}, "top_k"),
        ({"top_k": 200, "width": 40, "dim": 5}, "top_k"),
        ({"activation": "relu"}, "activation"),
        ({"target": "cubic"}, "target"),
    ],
)
def test_bad_configs_are_refused(overrides, key):
    with pytest.raises(ConfigError) as error:
        parse_config(NTKEscapeConfig, overrides)
    assert error.value.key == key
