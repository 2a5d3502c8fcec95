"""Hessian probes on HVPs against the dense Hessian of torch.autograd.functional.hessian."""

import pytest
import torch
from torch.func import functional_call

from probe_models.config import parse_config
from probe_models.errors import InvalidInput
from probe_models.families.factual_recall import FactualRecall, FactualRecallConfig
from probe_models.family import LoadedModel
from probe_models.hessian import hutchinson_trace, lanczos_top_eigenpairs, power_top_eigenpairs
from probe_models.sharpness import SharpnessRequest, measure_sharpness

TINY = {"num_subjects": 3, "num_relations": 2, "answers_per_relation": 3, "seq_len": 6, "d_model": 6}


@pytest.fixture(scope="module")
def tiny():
    """A tiny transformer trained a little (so the Hessian is not that of the init), its data and dense Hessian."""
    config = parse_config(FactualRecallConfig, {**TINY, "num_heads": 2, "head_dim": 2, "mlp_width": 5})
    run = FactualRecall().new_run(config, seed=3, steps=30)
    for step in range(30):
        run.train_step(step)
    model = LoadedModel(FactualRecall(), config, 3, run.model.eval())
    data = model.family.sharpness_data(model, num_examples=64, seed=0)
    module = model.module
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    frozen = {n: p for n, p in module.named_parameters() if not p.requires_grad} | dict(module.named_buffers())
    sizes = [p.numel() for _, p in named]

    def loss(flat: torch.Tensor) -> torch.Tensor:
        params = {n: c.view(p.shape) for (n, p), c in zip(named, flat.split(sizes), strict=True)}
        return data.loss(lambda x: functional_call(module, {**params, **frozen}, (x,)), data.inputs, data.targets)

    flat = torch.cat([p.detach().reshape(-1) for _, p in named]).double()
    dense = torch.autograd.functional.hessian(lambda f: loss(f.float()).double(), flat)
    dense = (dense + dense.T) / 2
    return model, data, dense


def test_lanczos_matches_the_dense_hessian_top_eigenvalues(tiny):
    model, data, dense = tiny
    expected = torch.linalg.eigvalsh(dense).flip(0)[:3]
    report = measure_sharpness(model, data, SharpnessRequest(top_k=3, max_iterations=200, tolerance=1e-10))
    got = torch.tensor(report.eigenvalues, dtype=torch.float64)
    assert torch.allclose(got, expected, rtol=1e-4, atol=0), (got, expected)
    assert all(r < 1e-4 * abs(v) for r, v in zip(report.residuals, report.eigenvalues, strict=True))
    assert report.hvp_count == report.iterations + 3  # one HVP per iteration, one per measured residual
    assert report.num_parameters == dense.shape[0] and report.dtype == "float32" and report.chunks == 1


def test_power_iteration_matches_the_dense_hessian(tiny):
    model, data, dense = tiny
    spectrum = torch.linalg.eigvalsh(dense)
    by_magnitude = spectrum[spectrum.abs().argsort(descending=True)][:2].sort(descending=True).values
    report = measure_sharpness(
        model, data, SharpnessRequest(top_k=2, method="power", max_iterations=1000, tolerance=1e-9)
    )
    got = torch.tensor(report.eigenvalues, dtype=torch.float64)
    assert torch.allclose(got, by_magnitude, rtol=1e-4, atol=0), (got, by_magnitude)


def test_chunks_float64_and_warm_start_give_the_same_spectrum(tiny):
    model, data, dense = tiny
    top = torch.linalg.eigvalsh(dense).flip(0)[:2]
    plain = measure_sharpness(model, data, SharpnessRequest(top_k=2, tolerance=1e-10, max_iterations=200))
    chunked = measure_sharpness(model, data, SharpnessRequest(top_k=2, chunk_size=10, float64=True, tolerance=1e-12))
    assert chunked.chunks == 7 and chunked.dtype == "float64"
    assert torch.allclose(torch.tensor(chunked.eigenvalues, dtype=torch.float64), top, rtol=1e-6)
    warm = measure_sharpness(
        model, data, SharpnessRequest(top_k=1, float64=True, tolerance=1e-10, warm_start=plain.eigenvectors[0])
    )
    cold = measure_sharpness(model, data, SharpnessRequest(top_k=1, float64=True, tolerance=1e-10))
    assert warm.eigenvalues[0] == pytest.approx(float(top[0]), rel=1e-6)
    assert warm.iterations < cold.iterations, (warm.iterations, cold.iterations)


def test_hutchinson_trace_is_within_three_standard_errors(tiny):
    model, data, dense = tiny
    report = measure_sharpness(model, data, SharpnessRequest(top_k=1, trace_samples=400, float64=True))
    exact = float(torch.trace(dense))
    assert report.trace_samples == 400 and report.trace_standard_error > 0
    assert abs(report.trace - exact) <= 3 * report.trace_standard_error, (report.trace, exact)


def test_bad_requests_are_invalid(tiny):
    model, data, dense = tiny
    with pytest.raises(InvalidInput, match="unknown method"):
        measure_sharpness(model, data, SharpnessRequest(method="lobpcg"))
    with pytest.raises(InvalidInput, match="exceeds the model"):
        measure_sharpness(model, data, SharpnessRequest(top_k=dense.shape[0] + 1, max_iterations=1000))
    with pytest.raises(InvalidInput, match="warm_start"):
        measure_sharpness(model, data, SharpnessRequest(warm_start=torch.zeros(3)))


def test_solvers_on_an_explicit_symmetric_matrix():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(50, 50, generator=g, dtype=torch.float64)
    matrix = a @ a.T
    expected = torch.linalg.eigvalsh(matrix).flip(0)[:4]
    values, vectors, _ = lanczos_top_eigenpairs(lambda v: matrix @ v, 50, top_k=4, max_iterations=50, tolerance=1e-12)
    assert torch.allclose(values, expected, rtol=1e-10)
    for value, vector in zip(values, vectors, strict=True):
        assert torch.allclose(matrix @ vector, value * vector, atol=1e-8 * float(value))
    values, _, _ = power_top_eigenpairs(lambda v: matrix @ v, 50, top_k=2, max_iterations=5000, tolerance=1e-13)
    assert torch.allclose(values, expected[:2], rtol=1e-6)
    trace, error = hutchinson_trace(lambda v: matrix @ v, 50, samples=2000, seed=1)
    assert abs(trace - float(torch.trace(matrix))) <= 3 * error


@pytest.mark.parametrize("solve", [lanczos_top_eigenpairs, power_top_eigenpairs])
def test_every_uint64_seed_is_accepted(solve):
    """A request's seed is a uint64 on the wire; the largest one gave INTERNAL in the power method (seed + 1)."""
    matrix = torch.diag(torch.arange(1.0, 11.0, dtype=torch.float64))
    values, _, _ = solve(lambda v: matrix @ v, 10, top_k=2, max_iterations=200, tolerance=1e-10, seed=2**64 - 1)
    assert values.tolist() == pytest.approx([10.0, 9.0], rel=1e-6)
