"""The hier-poly bottleneck network: its stages, what transfer freezes, and what it refuses."""

import pytest
import torch

from probe_models.config import parse_config
from probe_models.errors import InvalidInput
from probe_models.families.hier_poly import HierPoly, HierPolyConfig
from probe_models.gaussian.features import quadratic_matrices
from probe_models.gaussian.metrics import principal_angles
from probe_models.gaussian.ridge import fit_ridge
from probe_models.training import advance

SMALL = {"dim": 6, "samples": 800, "validation": 200, "width1": 100, "width2": 16, "num_seeds": 2}


def test_stage_one_is_the_ridge_fit_of_y_on_the_random_features_and_z_is_standardized():
    config = HierPolyConfig(**SMALL)
    run = HierPoly().new_run(config, seed=1, steps=2)
    advance(run, 0)
    net, n1 = run.model, config.stage1_samples
    vx, _, vy = run.validation
    fit = fit_ridge(net.first_layer(run.x[:, :n1]), run.y[:, :n1], net.first_layer(vx), vy)
    torch.testing.assert_close(net.u.detach(), fit.weights)
    z = net.feature(run.x[:, :n1]).detach()
    torch.testing.assert_close(z.std(dim=1), torch.ones(2), rtol=1e-5, atol=0)
    assert float(net.c.detach().abs().sum()) == 0.0, "the outer layer waits for stage 2"
    advance(run, 1)
    assert float(net.c.detach().abs().sum()) > 0.0 and float(net.b.abs().max()) <= config.bias_range


def test_a_weight_and_its_intercept_train_together():
    run = HierPoly().new_run(HierPolyConfig(**SMALL), seed=0, steps=2)
    with pytest.raises(InvalidInput, match="c and c0"):
        run.train_only(["c"])


@pytest.mark.parametrize("learner, features", [("three-layer", 1), ("three-layer", 2), ("random-features", 1)])
def test_parameter_count_is_what_the_module_holds(learner, features):
    config = HierPolyConfig(**SMALL, learner=learner, features=features)
    run = HierPoly().new_run(config, seed=0, steps=2)
    held = sum(t.numel() for t in run.model.state_dict().values())
    assert HierPoly().parameter_count(config) == held


def test_principal_angles_are_zero_for_one_span_and_ninety_for_orthogonal_ones():
    a = quadratic_matrices("spread", 1, 3, 6, torch.Generator().manual_seed(0))
    mixed = torch.stack([a[:, 0] + a[:, 1], a[:, 0] - 2 * a[:, 1]], dim=1)  # another basis of span{A0, A1}
    torch.testing.assert_close(principal_angles(mixed, a[:, :2]), torch.zeros(1, 2, dtype=torch.float64),
                               atol=1e-3, rtol=0)  # fmt: skip
    assert principal_angles(a[:, 2:], a[:, :1])[0, -1] == pytest.approx(90.0, abs=1e-3)


def test_the_learned_span_is_the_top_eigenspace_of_the_quadratic_layer():
    config = HierPolyConfig(**{**SMALL, "features": 2, "quadratic_units": 4})
    net = HierPoly().new_run(config, seed=0, steps=0).model
    with torch.no_grad():
        net.W.zero_()
        net.W[:, 0, 3], net.W[:, 1, 7], net.W[:, 2, 5] = 2.0, 3.0, 1.0  # signs +, −, +: eigenvalues 4, −9, 1
    directions = net.learned_directions()
    assert directions.shape == (2, 2, config.width1)
    assert directions[0, 0].abs().argmax() == 7 and directions[0, 1].abs().argmax() == 3


@pytest.mark.parametrize(
    "config, field",
    [({"features": 7, "dim": 6}, "r = 7 > d = 6"), ({"features": 2, "feature": "hermite-sum"}, "feature=quadratic"),
     ({"features": 3, "quadratic_units": 2}, "quadratic_units")],
)  # fmt: skip
def test_bad_feature_counts_are_refused(config, field):
    with pytest.raises(InvalidInput, match=field):
        parse_config(HierPolyConfig, config)
