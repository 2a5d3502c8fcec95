"""A probe's defaults work on every family that offers it: the README's `probe-cli sharpness CKPT --top-k 3` on a
checkpoint of each family trained briefly with the family's default config."""

import grpc
import pytest

from probe_client import ProbeError
from probe_models.registry import FAMILIES

STEPS = 2


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_sharpness_with_its_defaults_succeeds_on_every_family_that_offers_it(client, family):
    job = client.wait(client.submit_job(family, {}, steps=STEPS).job_id)
    assert job.state == "SUCCEEDED", job.error
    try:
        report = client.measure_sharpness(job.checkpoint_id, top_k=3)
    except ProbeError as error:  # a family without the probe says so, and only so
        assert error.code == grpc.StatusCode.FAILED_PRECONDITION, error
        assert family == "hier-poly", error
        return
    assert len(report.eigenvalues) == 3 and report.eigenvalues[0] >= report.eigenvalues[2]
    assert all(abs(r) < 1e-2 * max(1.0, abs(v)) for r, v in zip(report.residuals, report.eigenvalues, strict=True))
    if family in ("eos", "depth-ushape"):  # finite training sets smaller than the default 1,024: all of them
        assert report.num_examples < 1024 and str(report.num_examples) in report.data, report.data
    else:
        assert report.num_examples == 1024, report.data
