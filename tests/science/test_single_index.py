"""single-index at small scale: smoothing finds w* with fewer samples; the run is exact to resume.

See docs/families/single-index.md.
"""

import numpy as np
import pytest
import torch

from probe_models.config import parse_config
from probe_models.errors import InvalidInput
from probe_models.families.single_index import SingleIndex, SingleIndexConfig
from probe_models.families.single_index.family import population_loss
from probe_models.gaussian.hermite import hermite
from probe_models.training import advance
from tests.science.resume import restored_and_whole


def median_recovery(method: str, lr: float, dim: int = 64) -> float:
    config = parse_config(
        SingleIndexConfig, {"dim": dim, "method": method, "lr": lr, "num_seeds": 8, "stop_fraction": 0.75}
    )
    run = SingleIndex().new_run(config, seed=0, steps=20_000)
    step = 0
    while step < run.steps and not run.finished:
        advance(run, step)
        step += 1
    return run.evaluate()["recovery_step_median"]


def test_smoothing_recovers_the_direction_with_far_fewer_samples_at_d_64():
    """k* = 3, each at its best step size of a small grid: vanilla ~1,000 samples, smoothed ~300."""
    vanilla, smoothed = median_recovery("vanilla", 0.01), median_recovery("smoothed", 0.3)
    print(f"median steps to weak recovery at d=64: vanilla {vanilla}, smoothed {smoothed}")
    assert np.isfinite(vanilla) and np.isfinite(smoothed)
    assert smoothed * 2 <= vanilla


def test_the_population_loss_is_one_minus_the_sum_of_c_k_squared_m_to_the_k():
    config = parse_config(SingleIndexConfig, {"link": "custom", "coefficients": "0,0.6,0,0.8", "dim": 8})
    gen = torch.Generator().manual_seed(0)
    w_star = torch.tensor([1.0] + [0.0] * 7, dtype=torch.float64)
    w = torch.tensor([0.6, 0.8] + [0.0] * 6, dtype=torch.float64)
    x = torch.randn(400_000, 8, generator=gen, dtype=torch.float64)

    def sigma(u: torch.Tensor) -> torch.Tensor:
        return 0.6 * u + 0.8 * torch.from_numpy(hermite(3, u.numpy()))

    samples = 1 - sigma(x @ w_star) * sigma(x @ w)
    expected = population_loss(config, torch.tensor(0.6, dtype=torch.float64))
    assert float(samples.mean()) == pytest.approx(float(expected), abs=4 * float(samples.std()) / 400_000**0.5)


def test_step_size_groups_are_paired_replicas_each_at_its_own_step_size():
    """lr_factors = "1,4": group 1 repeats group 0's teachers, starts and samples; only η differs."""
    values = {"dim": 16, "num_seeds": 3, "lr": 0.02, "method": "vanilla", "stop_fraction": 0.0}
    single = SingleIndex().new_run(parse_config(SingleIndexConfig, values), seed=5, steps=50)
    paired = SingleIndex().new_run(parse_config(SingleIndexConfig, {**values, "lr_factors": "1,4"}), seed=5, steps=50)
    faster = SingleIndex().new_run(parse_config(SingleIndexConfig, {**values, "lr": 0.08}), seed=5, steps=50)
    for step in range(50):
        for run in (single, paired, faster):
            advance(run, step)
    w = paired.model.w.detach()
    assert w.shape == (6, 16)
    torch.testing.assert_close(w[:3], single.model.w.detach())
    torch.testing.assert_close(w[3:], faster.model.w.detach())
    metrics = paired.evaluate()
    assert {"recovery_step_median_lr0", "recovery_step_median_lr1", "overlap_5"} <= set(metrics)


def test_a_restored_run_continues_exactly():
    config = parse_config(SingleIndexConfig, {"dim": 16, "num_seeds": 4, "lr": 0.1, "stop_fraction": 0.0})
    restored_and_whole(SingleIndex(), config, seed=3, steps=300, stop=120)


@pytest.mark.parametrize(
    "values, key",
    [
        ({"link": "custom", "coefficients": "2.5"}, "information exponent 0"),
        ({"link": "custom", "coefficients": "1,0,0"}, "information exponent 0"),
        ({"k_star": 0}, "k_star"),
        ({"k_star": 9}, "k_star"),
        ({"lam_scale": -0.5}, "lam_scale"),
        ({"link": "custom", "coefficients": "a,b"}, "coefficients"),
        ({"lr_factors": "1,x"}, "lr_factors"),
        ({"lr_factors": "1,0"}, "lr_factors"),
        ({"lr_factors": "1,nan"}, "lr_factors"),
        ({"lr_factors": ",".join(["1"] * 17)}, "lr_factors"),
        ({"lr_factors": "1,2", "num_seeds": 4096}, "lr_factors"),
    ],
)
def test_bad_configs_are_refused(values, key):
    with pytest.raises(InvalidInput, match=key):
        parse_config(SingleIndexConfig, values)
