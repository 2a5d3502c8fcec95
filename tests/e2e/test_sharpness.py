"""MeasureSharpness through the real server: the same numbers as in process, every option honoured."""

import grpc
import numpy as np
import pytest
import torch

from probe_client import ProbeError
from probe_models.sharpness import SharpnessRequest, measure_sharpness
from tests.conftest import in_process


def test_served_sharpness_equals_in_process_with_trace_and_eigenvectors(server, client, trained):
    ckpt = trained.checkpoint_id
    served = client.measure_sharpness(
        ckpt, top_k=2, num_examples=256, seed=5, trace_samples=20, return_eigenvectors=True, float64=True
    )
    family, model = in_process(server, client, ckpt)
    data = family.sharpness_data(model, 256, 5)
    local = measure_sharpness(model, data, SharpnessRequest(top_k=2, seed=5, trace_samples=20, float64=True))
    assert served.eigenvalues == pytest.approx(local.eigenvalues, rel=1e-9)
    assert served.trace == pytest.approx(local.trace, rel=1e-9) and served.trace_standard_error > 0
    assert served.eigenvectors.shape == (2, served.num_parameters) and served.dtype == "float64"
    assert served.data == "256 training sequences drawn with seed 5" and served.method == "lanczos"
    assert served.hvp_count == served.iterations + 2 + 20
    # a warm start from the returned top eigenvector converges in fewer iterations
    warm = client.measure_sharpness(ckpt, num_examples=256, seed=5, float64=True, warm_start=served.eigenvectors[0])
    assert warm.eigenvalues[0] == pytest.approx(served.eigenvalues[0], rel=1e-6)
    assert warm.iterations < served.iterations
    power = client.measure_sharpness(ckpt, num_examples=256, seed=5, method="power", max_iterations=500)
    assert power.method == "power" and power.eigenvalues[0] == pytest.approx(served.eigenvalues[0], rel=1e-3)
    chunked = client.measure_sharpness(ckpt, num_examples=256, seed=5, chunk_size=100, float64=True)
    assert chunked.chunks == 3 and chunked.eigenvalues[0] == pytest.approx(served.eigenvalues[0], rel=1e-6)
    assert torch.allclose(torch.from_numpy(np.abs(served.eigenvectors[0])), local.eigenvectors[0].abs(), atol=1e-6)


def test_more_eigenvalues_than_parameters_is_invalid(client):
    tiny = {"model": "linear-am", "num_subjects": 2, "num_relations": 2, "d_model": 4}
    job = client.wait(client.submit_job("factual-recall", tiny, steps=2).job_id)
    with pytest.raises(ProbeError) as error:
        client.measure_sharpness(job.checkpoint_id, top_k=17, max_iterations=50)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "16 trainable parameters" in error.value.message
    assert client.measure_sharpness(job.checkpoint_id, top_k=16, max_iterations=50).num_parameters == 16
