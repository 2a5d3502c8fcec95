"""hier-poly at small scale: the bottleneck learns p, beats the kernel, and transfers to a new g.

See docs/families/hier-poly.md.
"""

from probe_models.families.hier_poly import HierPoly, HierPolyConfig
from probe_models.training import advance

D = 8
POINT = {"dim": D, "width1": 8 * D * D, "num_seeds": 2}


def trained(config: HierPolyConfig, weights: dict | None = None, trainable: list[str] | None = None):
    run = HierPoly().new_run(config, seed=0, steps=2)
    if weights is not None:
        run.model.load_state_dict(weights)
    if trainable is not None:
        run.train_only(trainable)
    for step in range(run.max_steps):
        advance(run, step)
    return run


def test_the_bottleneck_learns_p_and_beats_the_kernel_on_the_same_samples():
    network = trained(HierPolyConfig(**POINT, samples=32 * D * D)).evaluate()
    kernel = trained(HierPolyConfig(**POINT, samples=32 * D * D, learner="random-features")).evaluate()
    assert network["feature_correlation_min"] >= 0.95, network
    assert network["test_error"] < 0.5 * kernel["test_error"], (network, kernel)


def test_refitting_the_last_layer_transfers_to_a_new_link_with_few_samples():
    source = trained(HierPolyConfig(**POINT, samples=32 * D * D))
    few = HierPolyConfig(**POINT, samples=128, coefficients="0,0.6,0,0.8")
    transfer = trained(few, weights=source.model.state_dict(), trainable=["c", "c0"])
    scratch = trained(few)
    assert transfer.model.u.equal(source.model.u), "the learned feature is kept"
    assert transfer.evaluate()["test_error"] < 0.5 * scratch.evaluate()["test_error"]


def test_a_quadratic_middle_layer_recovers_the_span_of_two_quadratic_features():
    config = HierPolyConfig(dim=D, features=2, interaction=0.8, coefficients="0,0.6", samples=16 * D * D,
                            width1=2 * D * D, num_seeds=2)  # fmt: skip
    metrics = trained(config).evaluate()
    assert metrics["span_angle_max"] < 10.0, metrics
    assert metrics["test_error"] < 0.05, metrics
