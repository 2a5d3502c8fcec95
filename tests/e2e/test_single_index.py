"""single-index through the server: a K-replica job, its per-replica metrics, Evaluate, and bad links."""

import math

import grpc
import pytest

from probe_client import ProbeClient, ProbeError


def test_a_k_replica_job_reports_each_replica_and_stops_when_they_recovered(client: ProbeClient):
    config = {"dim": 32, "method": "smoothed", "lr": 0.5, "num_seeds": 4}
    job = client.wait(client.submit_job("single-index", config, steps=20_000, seed=1).job_id)
    assert job.state == "SUCCEEDED", job.error
    assert job.step < 20_000, "every replica recovered, so the job stopped early"
    steps = [job.metrics[f"recovery_step_{k}"] for k in range(4)]
    assert all(math.isfinite(s) and 0 < s <= job.step for s in steps) and max(steps) == job.step
    assert job.metrics["recovered_fraction"] == 1.0
    evaluation = client.evaluate(job.checkpoint_id, num_sequences=2000)
    assert evaluation.metrics["recovered_fraction"] == 1.0 and evaluation.metrics["overlap_min"] >= 0.5
    assert evaluation.metrics["population_loss"] < 1.0 - 0.5**3


@pytest.mark.parametrize(
    "config, message",
    [
        ({"link": "custom", "coefficients": "1.5,0,0"}, "information exponent 0"),
        ({"k_star": 0}, "k_star"),
        ({"k_star": 12}, "k_star"),
        ({"lam_scale": -1.0}, "lam_scale"),
    ],
)
def test_bad_links_and_smoothing_are_invalid_arguments(client: ProbeClient, config, message):
    with pytest.raises(ProbeError) as error:
        client.submit_job("single-index", config)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT and message in error.value.message
