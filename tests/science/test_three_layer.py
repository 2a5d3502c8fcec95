"""three-layer at small scale: the layer-wise network learns xᵀAx and beats both baselines on g(xᵀAx).

See docs/families/three-layer.md.
"""

from probe_models.config import parse_config
from probe_models.families.three_layer import ThreeLayer, ThreeLayerConfig
from probe_models.training import advance

POINT = {"dim": 10, "samples": 16384, "width1": 1600, "num_seeds": 1}  # m1 = 16d², as the reproduction


def trained(learner: str, steps: int) -> dict[str, float]:
    config = parse_config(ThreeLayerConfig, {**POINT, "learner": learner})
    run = ThreeLayer().new_run(config, seed=0, steps=steps)
    for step in range(run.max_steps):
        advance(run, step)
    return run.evaluate()


def test_the_layer_wise_network_learns_the_quadratic_feature_and_halves_the_baselines_error():
    three = trained("three-layer", 1)
    kernel = trained("random-features", 1)
    two = trained("two-layer", 1000)
    assert three["feature_correlation"] >= 0.9, three
    assert three["test_error"] < 0.5 * kernel["test_error"], (three, kernel)
    assert three["test_error"] < 0.5 * two["test_error"], (three, two)
