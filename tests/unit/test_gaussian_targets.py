"""Inputs and hidden features of the feature-learning targets: the normalizations the papers state."""

import math

import pytest
import torch

from probe_models.errors import ConfigError
from probe_models.gaussian.data import draw_inputs
from probe_models.gaussian.features import Features, hermite_sum_moments, quadratic_matrices, sphere_moment


@pytest.mark.parametrize("kind", ["spread", "gaussian"])
def test_quadratic_matrices_are_symmetric_traceless_and_frobenius_orthonormal(kind):
    a = quadratic_matrices(kind, replicas=2, count=3, dim=10, gen=torch.Generator().manual_seed(0)).double()
    torch.testing.assert_close(a, a.transpose(-1, -2))
    traces = a.diagonal(dim1=-2, dim2=-1).sum(-1)
    torch.testing.assert_close(traces, torch.zeros(2, 3, dtype=torch.float64), atol=1e-6, rtol=0)
    gram = torch.einsum("krij,ksij->krs", a, a)
    torch.testing.assert_close(gram, torch.eye(3, dtype=torch.float64).expand(2, 3, 3) / 2, atol=1e-6, rtol=0)
    assert not torch.allclose(a[0], a[1]), "each replica has its own matrices"


def test_a_spread_quadratic_has_the_smallest_operator_norm_so_its_square_is_isotropic():
    d = 12
    a = quadratic_matrices("spread", 1, 1, d, torch.Generator().manual_seed(1))[0, 0].double()
    torch.testing.assert_close(a @ a, torch.eye(d, dtype=torch.float64) / (2 * d), atol=1e-6, rtol=0)
    assert torch.linalg.matrix_norm(a, ord=2) == pytest.approx(1 / math.sqrt(2 * d), rel=1e-5)


@pytest.mark.parametrize(
    "kind, options",
    [("quadratic", {"quadratic": "spread"}), ("quadratic", {"quadratic": "gaussian"}), ("linear", {}),
     ("hermite-sum", {"degree": 3}), ("hermite-sum", {"degree": 2})],
)  # fmt: skip
def test_every_feature_has_mean_zero_and_unit_variance_under_gaussian_inputs(kind, options):
    d, n = 16, 400_000
    features = Features(kind, replicas=1, count=1, dim=d, seed=3, **options)
    x = draw_inputs("gaussian", (1, n), d, torch.Generator().manual_seed(4)).double()
    p = features.values(x)[0, :, 0]
    stderr = 1 / math.sqrt(n)
    assert abs(float(p.mean())) < 5 * stderr
    assert float(p.var()) == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("degree", [1, 3, 4, 5, 6])
def test_a_hermite_sum_is_standardized_on_the_sphere_too(degree):
    """The raw sum's variance there is 0.43 at d = 8 for k = 3, and its mean is not 0 for even k ≥ 4."""
    d, n = 8, 400_000
    features = Features("hermite-sum", replicas=1, count=1, dim=d, seed=3, degree=degree, inputs="sphere")
    x = draw_inputs("sphere", (1, n), d, torch.Generator().manual_seed(4)).double()
    p = features.values(x)[0, :, 0]
    assert abs(float(p.mean())) < 5 / math.sqrt(n) * math.sqrt(float(p.var()))
    assert float(p.var()) == pytest.approx(1.0, abs=0.03)


def test_the_sphere_moments_are_those_of_a_sampled_sphere_and_a_degree_2_sum_is_refused_there():
    d = 6
    x = draw_inputs("sphere", (1_000_000,), d, torch.Generator().manual_seed(7)).double()
    for a, b in [(2, 0), (4, 0), (6, 0), (2, 2), (4, 2), (3, 1)]:
        sampled = float((x[:, 0] ** a * x[:, 1] ** b).mean())
        assert sphere_moment(a, b, d) == pytest.approx(sampled, rel=0.03, abs=0.01), (a, b)
    assert hermite_sum_moments(3, d, "gaussian") == (0.0, 1.0)
    with pytest.raises(ConfigError, match="constant on the sphere"):
        hermite_sum_moments(2, d, "sphere")


def test_sphere_inputs_have_norm_root_d_and_identity_covariance():
    d, n = 8, 200_000
    x = draw_inputs("sphere", (n,), d, torch.Generator().manual_seed(5)).double()
    torch.testing.assert_close(x.norm(dim=-1), torch.full((n,), math.sqrt(d), dtype=torch.float64), rtol=1e-6, atol=0)
    torch.testing.assert_close(x.T @ x / n, torch.eye(d, dtype=torch.float64), atol=0.03, rtol=0)


def test_unknown_distributions_and_features_are_refused():
    with pytest.raises(ValueError, match="cube"):
        draw_inputs("cube", (2,), 3, torch.Generator())
    with pytest.raises(ValueError, match="cubic"):
        Features("cubic", 1, 1, 3, seed=0)


@pytest.mark.parametrize("d", [8, 16])
def test_under_gaussian_inputs_the_degree_2_part_of_h2_of_a_quadratic_holds_the_isotropic_norm(d):
    """hier-poly's docs: P₂[h₂(xᵀAx)] = √2(‖x‖² − d)/d for a spread A, so the exact degree-2 projection of
    y = 0.6·p + 0.8·h₂(p) correlates with p at 0.6/√(0.36 + 2.56/d) only; on the sphere ‖x‖² − d = 0."""
    n = 1_000_000
    features = Features("quadratic", replicas=1, count=1, dim=d, seed=5)
    x = draw_inputs("gaussian", (1, n), d, torch.Generator().manual_seed(6)).double()
    p = features.values(x)[0, :, 0]
    h2, isotropic = (p * p - 1) / math.sqrt(2), (x[0] * x[0]).sum(-1) - d
    coefficient = float((h2 * isotropic).mean() / isotropic.pow(2).mean())
    assert coefficient == pytest.approx(math.sqrt(2) / d, rel=0.05)
    assert float((h2 * p).mean()) == pytest.approx(0.0, abs=0.02), "h₂(p) has no part along p itself"
