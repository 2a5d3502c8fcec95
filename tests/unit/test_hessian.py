"""Lanczos on HVPs against the dense Hessian of torch.autograd.functional.hessian."""

import torch
from torch.func import functional_call

from probe_models.config import parse_config
from probe_models.families.factual_recall import FactualRecall, FactualRecallConfig
from probe_models.families.factual_recall.task import FactTask
from probe_models.family import LoadedModel
from probe_models.hessian import lanczos_top_eigenpairs, top_hessian_eigenvalues
from probe_models.seeding import generator

TINY = {"num_subjects": 3, "num_relations": 2, "answers_per_relation": 3, "seq_len": 6, "d_model": 6}


def tiny_transformer_objective(steps: int = 30):
    """A tiny transformer trained a little (so the Hessian is not that of the init), and its loss."""
    config = parse_config(FactualRecallConfig, {**TINY, "num_heads": 2, "head_dim": 2, "mlp_width": 5})
    run = FactualRecall().new_run(config, seed=3, steps=steps)
    for step in range(steps):
        run.train_step(step)
    model = LoadedModel(FactualRecall(), config, 3, run.model.eval())
    return model, model.family.sharpness_objective(model, num_examples=64, seed=0)


def dense_hessian(model: LoadedModel, objective) -> torch.Tensor:
    module = model.module
    names = [n for n, p in module.named_parameters() if p.requires_grad]
    shapes = [p.shape for p in objective.params]
    sizes = [p.numel() for p in objective.params]
    buffers = dict(module.named_buffers())
    # the objective's batch, drawn again from the same seed
    data = FactTask(model.config, model.seed).sample(objective.num_examples, generator(0, "sharpness"))

    def loss(flat: torch.Tensor) -> torch.Tensor:
        params = {n: c.view(s) for n, c, s in zip(names, flat.split(sizes), shapes, strict=True)}
        logits = functional_call(module, {**params, **buffers}, (data.inputs,))
        return torch.nn.functional.cross_entropy(logits, data.targets)

    flat = torch.cat([p.detach().reshape(-1) for p in objective.params])
    return torch.autograd.functional.hessian(loss, flat)


def test_lanczos_matches_the_dense_hessian_top_eigenvalues():
    model, objective = tiny_transformer_objective()
    dense = dense_hessian(model, objective).double()
    expected = torch.linalg.eigvalsh((dense + dense.T) / 2).flip(0)[:3]
    result = top_hessian_eigenvalues(objective.loss, objective.params, top_k=3, max_iterations=200, tolerance=1e-10)
    got = torch.tensor(result.eigenvalues, dtype=torch.float64)
    assert torch.allclose(got, expected, rtol=1e-4, atol=0), (got, expected)
    assert all(r < 1e-4 * abs(v) for r, v in zip(result.residuals, result.eigenvalues, strict=True))
    assert result.hvp_count == result.iterations + 3  # one HVP per iteration, one per measured residual


def test_lanczos_on_an_explicit_symmetric_matrix():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(50, 50, generator=g, dtype=torch.float64)
    matrix = a @ a.T
    values, vectors, _ = lanczos_top_eigenpairs(lambda v: matrix @ v, 50, top_k=4, max_iterations=50, tolerance=1e-12)
    expected = torch.linalg.eigvalsh(matrix).flip(0)[:4]
    assert torch.allclose(values, expected, rtol=1e-10)
    for value, vector in zip(values, vectors, strict=True):
        assert torch.allclose(matrix @ vector, value * vector, atol=1e-8 * float(value))
