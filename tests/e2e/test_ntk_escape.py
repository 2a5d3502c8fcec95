"""ntk-escape through the server: the three learners, Evaluate and `probe-cli eval`, and bad input."""

import math

import grpc
import pytest

from probe_client import ProbeClient, ProbeError
from tests.e2e.test_cli import cli_json

SMALL = {"dim": 8, "width": 64, "samples": 256, "validation": 200}


def test_the_three_learners_train_and_evaluate(client: ProbeClient, server):
    kernel = client.wait(client.submit_job("ntk-escape", {**SMALL, "learner": "ntk", "solver": "closed-form"}).job_id)
    assert kernel.state == "SUCCEEDED" and kernel.step == 1, kernel.error
    assert kernel.metrics["dense_captured"] > 0.8, "the NTK fits the linear part"
    for learner in ("quad-ntk", "combined"):
        job = client.wait(client.submit_job("ntk-escape", {**SMALL, "learner": learner}, steps=40).job_id)
        assert job.state == "SUCCEEDED" and job.step == 40, job.error
        assert math.isfinite(job.metrics["test_error"])
    assert job.metrics["r1"] >= 0 and 0 <= job.metrics["linear_outside_top_k"] <= 1
    evaluation = client.evaluate(kernel.checkpoint_id, num_sequences=2000, seed=2)
    assert math.isnan(evaluation.accuracy) and evaluation.metrics["test_error"] < 1
    printed = cli_json(server, "eval", kernel.checkpoint_id, "--num-sequences", "2000", "--seed", "2")
    assert printed["metrics"]["test_error"] == pytest.approx(evaluation.metrics["test_error"])


@pytest.mark.parametrize(
    "config, message",
    [
        ({"width": 65}, "even"),
        ({"sparse_degree": 9, "dim": 8}, "exceeds d"),
        ({"learner": "combined", "solver": "closed-form"}, "closed-form"),
        ({"dim": 1}, "dim"),
        ({"reg_r1": -1}, "reg_r1"),
        ({"target": "cubic"}, "target"),
    ],
)
def test_bad_configs_are_invalid_arguments(client: ProbeClient, config, message):
    with pytest.raises(ProbeError) as error:
        client.submit_job("ntk-escape", {**SMALL, **config})
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT, error.value
    assert message in error.value.message


@pytest.mark.parametrize("config", [{"samples": 1_000_000, "width": 4096}, {"samples": 40_000, "learner": "ntk",
                                                                          "solver": "closed-form"}])  # fmt: skip
def test_sample_counts_beyond_the_server_s_memory_are_resource_exhausted(client: ProbeClient, config):
    with pytest.raises(ProbeError) as error:
        client.submit_job("ntk-escape", config)
    assert error.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED, error.value
    assert "floats of data and activations" in error.value.message
