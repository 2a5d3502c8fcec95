"""MeZO's arithmetic: the projected gradient, the in-place step, no drift, determinism, n-SPSA, resume."""

import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from probe_models import mezo
from probe_models.config import parse_config
from probe_models.errors import ConfigError, InvalidInput
from probe_models.families.causal_icl import CausalICL, CausalICLConfig
from probe_models.families.factual_recall import FactualRecall, FactualRecallConfig
from probe_models.family import ObjectiveBatch, TrainingRun
from probe_models.mezo import MezoConfig, MezoRun, noise_chunks, parameter_seed, step_seeds, trainable_parameters
from probe_models.optimizers import parse_optimizer
from tests.science.resume import restored_and_whole


class SmallNetRun(TrainingRun):
    """A float64 classifier with biases and a LayerNorm on fixed data: exact enough to check MeZO to 1e-12."""

    steps = 10

    def __init__(self) -> None:
        gen = torch.Generator().manual_seed(0)
        torch.manual_seed(0)
        self.model = nn.Sequential(nn.Linear(5, 7), nn.LayerNorm(7), nn.Tanh(), nn.Linear(7, 3)).double()
        self.inputs = torch.randn(40, 5, generator=gen, dtype=torch.float64)
        self.labels = torch.randint(0, 3, (40,), generator=gen)

    def loss(self, module: nn.Module) -> torch.Tensor:
        return F.cross_entropy(module(self.inputs), self.labels)

    def objective_batch(self, step: int) -> ObjectiveBatch:
        def score(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
            logits = module(self.inputs)
            return F.cross_entropy(logits, self.labels), logits.argmax(-1) == self.labels

        return ObjectiveBatch(score, len(self.labels))

    def train_step(self, step: int) -> dict[str, float]:
        raise AssertionError("MeZO never calls the family's own step")

    def evaluate(self) -> dict[str, float]:
        return {}

    def optimizer_state(self) -> dict[str, torch.Tensor]:
        return {}

    def restore(self, step, weights, optimizer) -> None:
        self.model.load_state_dict(weights)


def z_of(tensor: torch.Tensor, seed: int) -> torch.Tensor:
    """z of one parameter, regenerated from its seed."""
    return torch.cat([z for _, z in noise_chunks(tensor, seed)]).view_as(tensor)


@pytest.fixture(params=[mezo.Z_CHUNK, 4], ids=["whole", "chunks-of-4"])
def chunk(request, monkeypatch):
    """Every test runs with z drawn whole and in chunks of 4 elements (tensors span many chunks)."""
    monkeypatch.setattr(mezo, "Z_CHUNK", request.param)
    return request.param


def test_projected_gradient_is_the_directional_derivative_along_z(chunk):
    run = SmallNetRun()
    params = trainable_parameters(run.model)
    before = copy.deepcopy(run.model.state_dict())
    config = parse_config(MezoConfig, {"eps": 1e-5})
    (g,), _ = mezo.projected_gradients(run.model, params, run.objective_batch(0), config, [1234])
    run.model.zero_grad()
    run.loss(run.model).backward()
    derivative = sum(
        float((p.tensor.grad * z_of(p.tensor, parameter_seed(1234, i))).sum()) for i, p in enumerate(params)
    )
    assert g == pytest.approx(derivative, rel=1e-7, abs=1e-9)
    for name, tensor in run.model.state_dict().items():  # the perturbations were undone
        torch.testing.assert_close(tensor, before[name], rtol=0, atol=1e-15)


def test_a_step_moves_each_parameter_by_lr_times_gz_plus_decay_off_biases_and_norms(chunk):
    run = SmallNetRun()
    theta = {n: p.detach().clone() for n, p in run.model.named_parameters()}
    config = parse_config(MezoConfig, {"lr": 0.05, "eps": 1e-3, "weight_decay": 0.3})
    metrics = MezoRun(run, config, seed=7).train_step(3)
    (seed,) = step_seeds(7, 3, 1)
    names = [n for n, _ in run.model.named_parameters()]
    # g again, from copies of θ moved by ±εz: nothing of the run's own arithmetic is reused
    plus, minus = copy.deepcopy(run.model), copy.deepcopy(run.model)
    for i, name in enumerate(names):
        z = z_of(theta[name], parameter_seed(seed, i))
        plus.get_parameter(name).data = theta[name] + 1e-3 * z
        minus.get_parameter(name).data = theta[name] - 1e-3 * z
    g = float(run.loss(plus).detach() - run.loss(minus).detach()) / 2e-3
    assert metrics["projected_grad"] == pytest.approx(g, rel=1e-9)
    decayed = {"0.weight", "3.weight"}  # the Linear weights; biases and the LayerNorm never decay
    for i, (name, param) in enumerate(run.model.named_parameters()):
        z = z_of(theta[name], parameter_seed(seed, i))
        decay = 0.3 * theta[name] if name in decayed else 0.0
        expected = theta[name] - 0.05 * (g * z + decay)
        torch.testing.assert_close(param.detach(), expected, rtol=0, atol=1e-12)


def test_n_spsa_applies_the_mean_of_its_seeds_estimates():
    run = SmallNetRun()
    theta = {n: p.detach().clone() for n, p in run.model.named_parameters()}
    config = parse_config(MezoConfig, {"lr": 0.05, "eps": 1e-3, "n_spsa": 3})
    MezoRun(run, config, seed=1).train_step(0)
    seeds = step_seeds(1, 0, 3)
    names = list(theta)
    grads = []
    for seed in seeds:
        plus, minus = copy.deepcopy(run.model), copy.deepcopy(run.model)
        for i, name in enumerate(names):
            z = z_of(theta[name], parameter_seed(seed, i))
            plus.get_parameter(name).data = theta[name] + 1e-3 * z
            minus.get_parameter(name).data = theta[name] - 1e-3 * z
        grads.append(float(run.loss(plus).detach() - run.loss(minus).detach()) / 2e-3)
    for i, (name, param) in enumerate(run.model.named_parameters()):
        step = sum(g * z_of(theta[name], parameter_seed(s, i)) for g, s in zip(grads, seeds, strict=True)) / 3
        torch.testing.assert_close(param.detach(), theta[name] - 0.05 * step, rtol=0, atol=1e-12)


def small_recall(**overrides) -> FactualRecallConfig:
    values = {"model": "mlp-am", "num_subjects": 8, "num_relations": 4, "answers_per_relation": 4, "batch_size": 64}
    return parse_config(FactualRecallConfig, {**values, **overrides})


def test_perturbations_leave_no_drift_beyond_rounding():
    """lr = 0: 100 steps of ±εz and back leave float32 weights within a few ulps of where they were."""
    run = FactualRecall().new_run(small_recall(batch_size=8), seed=0, steps=100)
    before = {n: p.detach().clone() for n, p in run.model.named_parameters() if p.requires_grad}
    trainer = MezoRun(run, parse_config(MezoConfig, {"lr": 0.0, "eps": 1e-3}), seed=0)
    for step in range(100):
        trainer.train_step(step)
    for name, tensor in before.items():
        drift = (run.model.get_parameter(name).detach() - tensor).abs().max()
        assert drift <= 1e-6, (name, float(drift))


def test_one_seed_gives_identical_weights_and_another_does_not():
    def trained(seed: int) -> dict[str, torch.Tensor]:
        run = FactualRecall().new_run(small_recall(), seed=0, steps=5)
        trainer = MezoRun(run, parse_config(MezoConfig, {"lr": 0.03}), seed=seed)
        for step in range(5):
            trainer.train_step(step)
        return run.model.state_dict()

    first, again, other = trained(3), trained(3), trained(4)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


class MezoFactualRecall(FactualRecall):
    """factual-recall whose runs train by MeZO, for the shared restore check."""

    def new_run(self, config, seed, steps, device=torch.device("cpu")):
        mezo_config = parse_config(MezoConfig, {"lr": 0.03, "schedule": "linear", "weight_decay": 0.01})
        return MezoRun(super().new_run(config, seed, steps, device), mezo_config, seed)


def test_a_restored_mezo_run_continues_exactly():
    restored_and_whole(MezoFactualRecall(), small_recall(), seed=2, steps=12, stop=5)


def test_frozen_parameters_and_buffers_are_never_perturbed():
    run = SmallNetRun()
    run.model[0].weight.requires_grad_(False)
    frozen = run.model[0].weight.detach().clone()
    recall = FactualRecall().new_run(small_recall(), seed=0, steps=3)
    buffers = {n: b.clone() for n, b in recall.model.named_buffers()}  # the memories' frozen embeddings
    assert buffers
    MezoRun(run, parse_config(MezoConfig, {"lr": 0.1}), seed=0).train_step(0)
    trainer = MezoRun(recall, parse_config(MezoConfig, {"lr": 0.1}), seed=0)
    for step in range(3):
        trainer.train_step(step)
    assert torch.equal(run.model[0].weight, frozen)
    assert all(torch.equal(recall.model.get_buffer(n), b) for n, b in buffers.items())


def test_bad_mezo_configs_are_refused():
    recall = FactualRecall()
    for values, key in (({"eps": 0.0}, "eps"), ({"eps": -1e-3}, "eps"), ({"n_spsa": 0}, "n_spsa")):
        with pytest.raises(ConfigError) as error:
            parse_optimizer(recall, small_recall(), "mezo", values)
        assert error.value.key == key
    with pytest.raises(ConfigError, match="no classification target"):
        parse_optimizer(CausalICL(), parse_config(CausalICLConfig, {}), "mezo", {"objective": "accuracy"})
    with pytest.raises(InvalidInput, match="unknown optimizer"):
        parse_optimizer(recall, small_recall(), "adagrad", {})
    with pytest.raises(InvalidInput, match="needs an optimizer"):
        parse_optimizer(recall, small_recall(), "", {"eps": 1e-3})
    assert parse_optimizer(recall, small_recall(), "mezo", {})["eps"] == 1e-3
