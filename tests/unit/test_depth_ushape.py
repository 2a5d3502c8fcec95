"""depth-ushape: its splits, networks, the end-to-end operator of linear conv nets, and config refusals."""

import math

import pytest
import torch

from probe_models.config import parse_config
from probe_models.errors import ConfigError
from probe_models.families.depth_ushape import DepthUShape, DepthUShapeConfig
from probe_models.families.depth_ushape.data import splits
from probe_models.families.depth_ushape.family import initialized
from probe_models.families.depth_ushape.networks import end_to_end_operator, input_shape
from probe_models.training import advance
from tests.science.resume import restored_and_whole

PAIR = {"classes": "3,8", "train_per_class": 5, "width": 8, "image_size": 8}


def test_the_split_draws_n_per_class_disjoint_from_the_test_set_and_is_the_same_at_every_depth():
    config = parse_config(DepthUShapeConfig, {"num_classes": 4, "train_per_class": 7, "test_per_class": 20})
    data = splits(config, seed=1)
    assert data.train.inputs.shape == (28, 1, 16, 16) and data.test.inputs.shape == (80, 1, 16, 16)
    assert torch.bincount(data.train.labels).tolist() == [7, 7, 7, 7]
    train_rows = {tuple(x.flatten().tolist()) for x in data.train.inputs}
    assert not train_rows & {tuple(x.flatten().tolist()) for x in data.test.inputs}
    assert abs(float(data.train.inputs.mean())) < 1e-5 and float(data.train.inputs.std()) == pytest.approx(1, abs=0.01)
    deeper = splits(parse_config(DepthUShapeConfig, {"num_classes": 4, "train_per_class": 7, "test_per_class": 20,
                                                     "depth": 12, "model": "resnet"}), seed=1)  # fmt: skip
    assert torch.equal(deeper.train.inputs, data.train.inputs) and torch.equal(deeper.test.labels, data.test.labels)
    assert not torch.equal(splits(config, seed=2).train.inputs, data.train.inputs)


def test_chosen_classes_are_relabelled_in_their_order():
    data = splits(parse_config(DepthUShapeConfig, PAIR), seed=0)
    assert torch.bincount(data.train.labels).tolist() == [5, 5]
    assert len(data.test.labels) == 183 + 174 - 10  # every other 3 and 8 of the 1,797 digits


def test_a_linear_conv_net_is_its_end_to_end_operator():
    config = parse_config(DepthUShapeConfig, {**PAIR, "model": "linear-conv", "depth": 3})
    net = initialized(config, seed=0).double()
    operator = end_to_end_operator(net, input_shape(config))
    assert operator.shape == (2, 64)
    x = torch.randn(5, 1, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(net(x), x.flatten(1) @ operator.T, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("data, shape", [("digits", (1, 8, 8)), ("mnist1d", (1, 40))])
@pytest.mark.parametrize("model", ["conv", "resnet", "linear-conv", "conv-authors"])
def test_parameter_counts_need_no_build_and_every_net_takes_its_inputs(model, data, shape):
    config = parse_config(DepthUShapeConfig, {**PAIR, "model": model, "data": data, "depth": 3,
                                              "mnist1d_samples": 400})  # fmt: skip
    net = initialized(config, seed=0)
    assert input_shape(config) == shape
    counted = sum(t.numel() for t in (*net.parameters(), *net.buffers()))
    assert DepthUShape().parameter_count(config) == counted
    assert net(torch.zeros(4, *shape)).shape == (4, 2)


def test_a_job_fits_its_training_set_records_when_and_ends_after_fit_steps():
    config = parse_config(DepthUShapeConfig, {**PAIR, "depth": 3, "after_fit": 5})
    run = DepthUShape().new_run(config, seed=0, steps=500)
    step = 0
    while step < run.max_steps and not run.finished:
        advance(run, step)
        step += 1
    metrics = run.evaluate()
    assert run.finished and step == run.fit_step + 5 < 500
    assert metrics["train_accuracy"] == 1.0 and metrics["fit_step"] == run.fit_step
    assert 0.5 < metrics["test_accuracy"] <= 1.0 and math.isfinite(metrics["test_loss"])


def test_mnist1d_is_generated_offline_and_trains():
    config = parse_config(DepthUShapeConfig, {"data": "mnist1d", "mnist1d_samples": 600, "width": 8, "depth": 2})
    data = splits(config, seed=0)
    assert data.train.inputs.shape == (100, 1, 40) and len(data.test.labels) == 500
    run = DepthUShape().new_run(config, seed=0, steps=3)
    for step in range(3):
        assert math.isfinite(advance(run, step)["loss"])


def test_the_authors_net_is_conv_bn_leaky_relu_then_a_conv_to_the_classes_read_by_the_mean():
    """Rebuilt from its definition in eshnich/deep_cnn fully_conv/conv_net.py (nonlinear=True), in eval mode."""
    config = parse_config(DepthUShapeConfig, {**PAIR, "model": "conv-authors", "depth": 3})
    net = initialized(config, seed=0).eval()
    x = torch.randn(4, 1, 8, 8)
    h = x
    for conv, norm in zip(net.convs, net.norms, strict=True):
        assert conv.bias is None and conv.padding == (1, 1)
        h = torch.nn.functional.leaky_relu(norm(torch.nn.functional.conv2d(h, conv.weight, padding=1)), 0.01)
    expected = torch.nn.functional.conv2d(h, net.final.weight, padding=1).mean(dim=(2, 3))
    torch.testing.assert_close(net(x), expected)
    fan_in = net.convs[1].weight[0].numel()  # Kaiming-normal for leaky ReLU: std √(2 / (1 + 0.01²)) / √fan_in
    assert float(net.convs[1].weight.detach().std()) == pytest.approx(math.sqrt(2 / (1 + 1e-4) / fan_in), rel=0.1)


def test_with_batches_a_step_is_an_epoch_and_the_fit_is_its_running_accuracy():
    config = parse_config(DepthUShapeConfig, {**PAIR, "model": "conv-authors", "depth": 2, "batch_size": 4,
                                              "lr": 0.01, "after_fit": 0})  # fmt: skip
    run = DepthUShape().new_run(config, seed=0, steps=200)
    assert [len(b) for b in run.batches(0)] == [4, 4, 2]
    assert (
        sorted(torch.cat(run.batches(0)).tolist()) == list(range(10))
        and run.batches(0)[0].tolist() != run.batches(1)[0].tolist()
    )
    steps = 0
    while steps < run.max_steps and not run.finished:
        logged = advance(run, steps)
        steps += 1
    assert run.finished and logged["batch_accuracy"] == 1.0 and run.fit_step == steps - 1
    assert run.evaluate()["fit_step"] == run.fit_step


@pytest.mark.parametrize(
    "overrides",
    [
        {"model": "conv", "depth": 2},
        {"model": "linear-conv", "depth": 3, "lr": 0.03},
        {"model": "conv-authors", "depth": 2, "batch_size": 4},
    ],
)
def test_a_restored_run_continues_exactly(overrides):
    config = parse_config(DepthUShapeConfig, {**PAIR, **overrides, "after_fit": 1000})
    resumed, whole = restored_and_whole(DepthUShape(), config, seed=3, steps=30, stop=12)
    assert resumed.fit_step == whole.fit_step is not None


@pytest.mark.parametrize(
    "overrides, key, message",
    [
        ({"depth": 0}, "depth", ">= 1"),
        ({"width": 0}, "width", ">= 1"),
        ({"num_classes": 11}, "num_classes", "has 10 classes"),
        ({"classes": "3,12"}, "classes", "has 10 classes"),
        ({"classes": "3,3"}, "classes", "twice"),
        ({"classes": "three"}, "classes", "comma-separated"),
        ({"classes": "4"}, "classes", "at least 2"),
        ({"train_per_class": 200}, "train_per_class", "has 17"),
        ({"train_per_class": 100, "test_per_class": 100}, "test_per_class", "needs 200"),
        ({"data": "cifar10"}, "data_path", "needs data_path"),
        ({"data_path": "/tmp"}, "data_path", "not data=digits"),
        ({"data": "mnist1d", "mnist1d_samples": 100, "train_per_class": 10}, "train_per_class", "has 10 examples"),
    ],
)
def test_bad_configs_are_refused_with_the_key_and_the_reason(overrides, key, message):
    with pytest.raises(ConfigError, match=message) as error:
        parse_config(DepthUShapeConfig, overrides)
    assert error.value.key == key
