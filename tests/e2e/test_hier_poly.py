"""hier-poly through the server: a job, Evaluate, transfer from a checkpoint, and bad input."""

import math

import grpc
import pytest
import torch
from safetensors.torch import load_file

from probe_client import ProbeClient, ProbeError

SMALL = {"dim": 8, "samples": 2048, "width1": 512, "width2": 128, "num_seeds": 2}


def test_a_job_learns_p_and_transfers_to_a_new_link(client: ProbeClient, server):
    source = client.wait(client.submit_job("hier-poly", SMALL, seed=2).job_id)
    assert source.state == "SUCCEEDED" and source.step == 2, source.error
    assert source.metrics["feature_correlation"] > 0.95
    evaluation = client.evaluate(source.checkpoint_id, num_sequences=2000)
    assert math.isnan(evaluation.accuracy) and evaluation.metrics["test_error"] < 0.2
    few = {**SMALL, "samples": 128, "coefficients": "0,0.6,0,0.8"}
    transfer = client.wait(client.submit_job("hier-poly", few, seed=2, init_checkpoint=source.checkpoint_id,
                                             trainable=["c", "c0"]).job_id)  # fmt: skip
    scratch = client.wait(client.submit_job("hier-poly", few, seed=2).job_id)
    assert transfer.state == scratch.state == "SUCCEEDED", (transfer.error, scratch.error)
    assert transfer.metrics["test_error"] < scratch.metrics["test_error"]
    root = server.data_dir / "checkpoints"
    before = load_file(str(root / source.checkpoint_id / "weights.safetensors"))
    after = load_file(str(root / transfer.checkpoint_id / "weights.safetensors"))
    assert torch.equal(before["u"], after["u"]) and not torch.equal(before["c"], after["c"])


@pytest.mark.parametrize(
    "config, message",
    [
        ({"coefficients": "2.0"}, "information exponent 0"),
        ({"feature": "hermite-sum", "degree": 0}, "degree"),
        ({"feature": "hermite-sum", "degree": 9}, "degree"),
        ({"feature": "hermite-sum", "degree": 2}, "= 0 on the sphere"),
        ({"link": "hermite", "link_degree": 12}, "link_degree"),
        ({"stage1_fraction": 1.5}, "stage1_fraction"),
        ({"features": 9, "dim": 8}, "r = 9 > d = 8"),
        ({"features": 2, "feature": "hermite-sum"}, "feature=quadratic"),
        ({"features": 2, "weight_decay": -1.0}, "weight_decay"),
    ],
)
def test_bad_targets_are_invalid_arguments(client: ProbeClient, config, message):
    with pytest.raises(ProbeError) as error:
        client.submit_job("hier-poly", config)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT and message in error.value.message


@pytest.mark.parametrize("family, groups", [("hier-poly", ["c"]), ("hier-poly", ["u0"]), ("three-layer", ["a"])])
def test_a_fitted_weight_without_its_intercept_is_invalid(client: ProbeClient, family, groups):
    with pytest.raises(ProbeError) as error:
        client.submit_job(family, SMALL, trainable=groups)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT and "fitted together by ridge" in error.value.message
