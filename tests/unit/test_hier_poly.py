"""The hier-poly bottleneck network: its stages, what transfer freezes, and what it refuses."""

import pytest
import torch

from probe_models.errors import InvalidInput
from probe_models.families.hier_poly import HierPoly, HierPolyConfig
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


@pytest.mark.parametrize("learner", ["three-layer", "random-features"])
def test_parameter_count_is_what_the_module_holds(learner):
    config = HierPolyConfig(**SMALL, learner=learner)
    run = HierPoly().new_run(config, seed=0, steps=2)
    held = sum(t.numel() for t in run.model.state_dict().values())
    assert HierPoly().parameter_count(config) == held
