"""three-layer through the server: the layer-wise job, Evaluate and `probe-cli eval`; transfer by trainable groups."""

import math

import grpc
import pytest
import torch
from safetensors.torch import load_file

from probe_client import ProbeClient, ProbeError
from tests.e2e.test_cli import cli_json

SMALL = {"dim": 8, "samples": 4096, "width1": 1024, "width2": 128, "num_seeds": 2}


def test_a_layer_wise_job_takes_its_gd_steps_and_the_ridge_fit_then_evaluates(client: ProbeClient, server):
    job = client.wait(client.submit_job("three-layer", {**SMALL, "gd_steps": 1}, steps=1000, seed=3).job_id)
    assert job.state == "SUCCEEDED", job.error
    assert job.step == 2, "one GD step on W, then the ridge fit of a"
    assert job.metrics["test_error"] < 0.7 and job.metrics["feature_correlation"] > 0.8
    assert {"test_error_0", "test_error_1"} <= set(job.metrics)
    evaluation = client.evaluate(job.checkpoint_id, num_sequences=3000, seed=1)
    assert math.isnan(evaluation.accuracy), "a regression has no accuracy"
    assert evaluation.metrics["test_error"] == pytest.approx(job.metrics["test_error"], abs=0.1)
    printed = cli_json(server, "eval", job.checkpoint_id, "--num-sequences", "3000", "--seed", "1")
    assert printed["metrics"]["feature_correlation"] == pytest.approx(evaluation.metrics["feature_correlation"])
    assert printed["accuracy"] is None


def test_the_baselines_train_on_the_same_n(client: ProbeClient):
    kernel = client.wait(client.submit_job("three-layer", {**SMALL, "learner": "random-features"}, seed=3).job_id)
    assert kernel.state == "SUCCEEDED" and kernel.step == 1, kernel.error
    two = client.wait(client.submit_job("three-layer", {**SMALL, "learner": "two-layer"}, steps=50, seed=3).job_id)
    assert two.state == "SUCCEEDED" and two.step == 50, two.error
    assert "feature_correlation" not in two.metrics and two.metrics["test_error"] > 0


@pytest.mark.parametrize(
    "config, message",
    [
        ({"coefficients": "1.5"}, "information exponent 0"),
        ({"link": "hermite", "link_degree": 0}, "link_degree"),
        ({"link": "hermite", "link_degree": 12}, "link_degree"),
        ({"dim": 1}, "dim"),
        ({"samples": 4}, "samples"),
        ({"learner": "four-layer"}, "learner"),
    ],
)
def test_bad_targets_and_sizes_are_invalid_arguments(client: ProbeClient, config, message):
    with pytest.raises(ProbeError) as error:
        client.submit_job("three-layer", config)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT and message in error.value.message


def weights_of(server, checkpoint_id: str) -> dict:
    return load_file(str(server.data_dir / "checkpoints" / checkpoint_id / "weights.safetensors"))


def test_transfer_refits_only_the_named_groups_of_a_checkpoint(client: ProbeClient, server):
    source = client.wait(client.submit_job("three-layer", SMALL, seed=5).job_id)
    assert source.state == "SUCCEEDED", source.error
    new_link = {**SMALL, "coefficients": "0,0.6,0.8"}  # another g on the same feature (same seed: same A)
    job = client.submit_job("three-layer", new_link, seed=5, init_checkpoint=source.checkpoint_id,
                            trainable=["a", "a0"])  # fmt: skip
    assert job.training.trainable == ["a", "a0"]
    transfer = client.wait(job.job_id)
    assert transfer.state == "SUCCEEDED", transfer.error
    before, after = weights_of(server, source.checkpoint_id), weights_of(server, transfer.checkpoint_id)
    assert torch.equal(before["W"], after["W"]) and torch.equal(before["V"], after["V"]), "the feature is kept"
    assert not torch.equal(before["a"], after["a"]), "the output layer is refitted for the new link"
    assert transfer.metrics["test_error"] < 0.5


def test_trainable_groups_freeze_the_rest_of_any_family(client: ProbeClient, server):
    config = {"num_examples": 300, "width": 64, "lr": 0.05}
    source = client.wait(client.submit_job("eos", config, steps=5).job_id)
    tuned = client.wait(
        client.submit_job("eos", config, steps=5, init_checkpoint=source.checkpoint_id, trainable=["4"]).job_id
    )
    assert tuned.state == "SUCCEEDED", tuned.error
    before, after = weights_of(server, source.checkpoint_id), weights_of(server, tuned.checkpoint_id)
    for name in before:
        assert torch.equal(before[name], after[name]) == (not name.startswith("4.")), name


@pytest.mark.parametrize(
    "family, config, groups, message",
    [
        ("three-layer", SMALL, ["u"], "its parameters: W, a, a0"),
        ("eos", {"num_examples": 300, "width": 64}, ["4.weigh"], "trainable group '4.weigh'"),
    ],
)
def test_a_trainable_group_that_names_no_parameter_is_invalid(client: ProbeClient, family, config, groups, message):
    with pytest.raises(ProbeError) as error:
        client.submit_job(family, config, trainable=groups)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT and message in error.value.message
