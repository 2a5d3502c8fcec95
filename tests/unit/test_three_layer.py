"""The layer-wise algorithm of the three-layer family, step by step, and the resumability of its learners."""

import pytest
import torch

from probe_models.families.three_layer import ThreeLayer, ThreeLayerConfig
from probe_models.families.three_layer.family import top_feature
from probe_models.training import advance

SMALL = {"dim": 6, "samples": 1200, "validation": 300, "width1": 80, "width2": 24, "num_seeds": 2}


def test_one_gd_step_from_zero_gives_every_unit_the_kernel_feature_at_the_chosen_scale():
    config = ThreeLayerConfig(**SMALL)
    run = ThreeLayer().new_run(config, seed=0, steps=1)
    net, n1 = run.model, config.stage1_samples
    first = net.first_layer(run.x[:, :n1])
    h0 = net(run.x[:, :n1]).detach()
    torch.testing.assert_close(h0, torch.zeros_like(h0), atol=1e-6, rtol=0)  # ±a in equal numbers cancel
    advance(run, 0)
    # ∂/∂W_j of mean (y − h)² at W = 0, b = 1: −2 a_j mean_i (y_i − h0) σ1(Vx_i)
    kernel = (run.y[:, :n1, None] * first).mean(dim=1)  # [K, m1]
    expected = 2 * run.eta[:, None, None] * net.a.detach()[:, :, None] * kernel[:, None, :]
    torch.testing.assert_close(net.W.detach(), expected, rtol=1e-4, atol=1e-6)
    rms = (net.hidden(first)).pow(2).mean(dim=(1, 2)).sqrt()
    torch.testing.assert_close(rms, torch.full((2,), config.feature_scale), rtol=1e-5, atol=0)
    feature = top_feature(net.hidden(first)).detach()
    for k in range(2):  # every unit carries ± the same feature, so the first component is that feature
        corr = torch.corrcoef(torch.stack([feature[k], first[k] @ kernel[k]]))[0, 1]
        assert abs(float(corr)) == pytest.approx(1.0, abs=1e-5)


def test_stage_two_fits_the_output_layer_on_fresh_biases_and_the_run_ends():
    config = ThreeLayerConfig(**SMALL)
    run = ThreeLayer().new_run(config, seed=0, steps=1000)
    assert run.max_steps == 2
    advance(run, 0)
    before = run.model.b.clone()
    advance(run, 1)
    assert not torch.equal(run.model.b, before) and float(run.model.b.abs().max()) <= config.bias_range
    metrics = run.evaluate()
    assert metrics["test_error"] < 1.0 and 0.0 <= metrics["feature_correlation"] <= 1.0
    assert set(metrics) >= {"test_error_0", "test_error_1", "ridge_lambda"}


@pytest.mark.parametrize("learner", ["two-layer", "three-layer"])
def test_a_restored_run_continues_exactly(learner):
    config = ThreeLayerConfig(**SMALL, learner=learner, gd_steps=3, batch_size=100)
    family, steps = ThreeLayer(), 6
    straight = family.new_run(config, seed=4, steps=steps)
    for step in range(straight.max_steps):
        advance(straight, step)
    first = family.new_run(config, seed=4, steps=steps)
    for step in range(2):
        advance(first, step)
    weights = {k: v.clone() for k, v in first.model.state_dict().items()}
    resumed = family.new_run(config, seed=4, steps=steps)
    resumed.restore(2, weights, first.optimizer_state())
    for step in range(2, resumed.max_steps):
        advance(resumed, step)
    for name, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=0, atol=0)


@pytest.mark.parametrize("learner", ["three-layer", "two-layer", "random-features"])
def test_parameter_count_is_what_the_module_holds(learner):
    config = ThreeLayerConfig(**SMALL, learner=learner)
    run = ThreeLayer().new_run(config, seed=0, steps=1)
    held = sum(t.numel() for t in run.model.state_dict().values())
    assert ThreeLayer().parameter_count(config) == held
