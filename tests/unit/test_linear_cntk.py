"""depth-ushape's linear-CNTK recursion against the rebuilt linear conv net itself, and the predictor."""

import itertools

import pytest
import torch

from probe_models.families.depth_ushape.linear_cntk import kernel_predictor, kernels_by_depth, shift_sum
from probe_models.families.depth_ushape.networks import LinearConvNet


def explicit_shift_sum(b: torch.Tensor, side: int) -> torch.Tensor:
    """The authors' precompute_B.py: S[i + side·j, (i+k1) + side·(j+k2)] = 1 inside the image, B ← Σ_s S B Sᵀ."""
    out = torch.zeros_like(b)
    for k1, k2 in itertools.product((-1, 0, 1), repeat=2):
        shift = torch.zeros_like(b)
        for i, j in itertools.product(range(side), repeat=2):
            if 0 <= i + k1 < side and 0 <= j + k2 < side:
                shift[i + side * j, (i + k1) + side * (j + k2)] = 1.0
        out += shift @ b @ shift.T
    return out


def test_the_shift_sum_is_the_authors_matrix_recursion():
    b = torch.randn(25, 25, dtype=torch.float64)
    b = b @ b.T
    torch.testing.assert_close(shift_sum(b, (5, 5)), explicit_shift_sum(b, 5), rtol=1e-12, atol=1e-12)


def expected_ntk(net: LinearConvNet, x: torch.Tensor) -> torch.Tensor:
    """E over the filters of the network's tangent kernel on x, computed exactly from the network by autograd.

    With one channel per layer, f is linear in each layer's 9 filter taps, so Θ(x, x') = Σ_l ∇_{w_l}f(x)·∇_{w_l}f(x')
    has degree two in every other layer's taps: its mean under N(0, I) taps equals its mean under taps drawn
    uniformly from {3·e_s}, which have the same second moments. That mean is an exact finite average.
    """
    convs = list(net.convs)
    total = torch.zeros(len(x), len(x), dtype=x.dtype)
    for taps in itertools.product(range(9), repeat=len(convs)):
        with torch.no_grad():
            for conv, tap in zip(convs, taps, strict=True):
                conv.weight.zero_()
                conv.weight.view(-1)[tap] = 3.0
        rows = []
        for sample in x:
            grads = torch.autograd.grad(net(sample[None]).sum(), list(net.parameters()))
            rows.append(torch.cat([g.reshape(-1) for g in grads]))
        jacobian = torch.stack(rows)
        total += jacobian @ jacobian.T
    return total / 9 ** len(convs)


def test_the_recursion_is_the_tangent_kernel_of_the_rebuilt_linear_conv_net():
    side, depth = 5, 3
    net = LinearConvNet(2, 1, 1, depth, 1, init_scale=1.0).double()
    x = torch.randn(6, 1, side, side, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    measured = expected_ntk(net, x)
    b = kernels_by_depth((side, side), [depth])[depth]
    flat = x.reshape(len(x), -1)
    predicted = flat @ b @ flat.T
    scale = float((measured * predicted).sum() / (predicted * predicted).sum())
    torch.testing.assert_close(measured, scale * predicted, rtol=1e-9, atol=1e-12)
    unnormalized = torch.ones(25, 25, dtype=torch.float64)
    for _ in range(depth):
        unnormalized = explicit_shift_sum(unnormalized, side)
    assert scale * float(b.norm()) == pytest.approx(depth * float(unnormalized.norm()) / 25**2, rel=1e-9), (
        "Θ = L · xᵀB_Lx′ / P², each of the L layers contributing the same kernel"
    )


def test_zero_padding_makes_the_kernel_depend_on_depth_and_circular_padding_does_not():
    kernels = kernels_by_depth((8, 8), [1, 4, 16])
    assert float((kernels[1] - kernels[16]).norm()) > 0.3
    circular = kernels_by_depth((8, 8), [1, 4, 16], padding="circular")
    for depth in (4, 16):
        torch.testing.assert_close(circular[depth], circular[1], rtol=1e-12, atol=1e-12)


def test_the_predictor_interpolates_and_the_identity_gives_the_minimum_norm_solution():
    gen = torch.Generator().manual_seed(1)
    x, test_x = torch.randn(6, 1, 4, 4, generator=gen), torch.randn(20, 1, 4, 4, generator=gen)
    y = torch.nn.functional.one_hot(torch.arange(6) % 2, 2).double()
    flat = x.reshape(6, -1).double()
    fit = kernel_predictor(kernels_by_depth((4, 4), [3])[3], x, y, test_x, torch.zeros(20, dtype=torch.long))
    torch.testing.assert_close(flat @ fit.beta, y, rtol=1e-8, atol=1e-8)
    minimum = kernel_predictor(torch.eye(16, dtype=torch.float64), x, y, test_x, torch.zeros(20, dtype=torch.long))
    torch.testing.assert_close(minimum.beta, torch.linalg.pinv(flat) @ y, rtol=1e-8, atol=1e-8)
    assert float(fit.beta.norm()) > float(minimum.beta.norm())


def test_the_reproduction_s_kernel_checks_pass_on_digits_and_fail_for_a_depth_independent_kernel():
    """On the 2-class task's data (3 vs 8, 5 each) the checks pass; with circular padding the guard fails."""
    from probe_models.families.depth_ushape import linear_report

    base = {"classes": "3,8", "train_per_class": 5, "image_size": 16}
    found = linear_report.kernel_analysis(base, seeds=2, depths=[2, 8, 32])
    checks = linear_report.kernel_checks(found)
    assert all(c.passed for c in checks), [(c.name, c.detail) for c in checks if not c.passed]
    assert found["mean"]["norm"][2] > 5 * found["mean"]["norm"][32] >= 5 * found["min_norm"]
    circular = linear_report.kernel_analysis(base, seeds=2, depths=[2, 8, 32], padding="circular")
    flat = linear_report.kernel_checks(circular)
    failed = {c.name for c in flat if not c.passed}
    assert (
        "linear CNTK: the kernel depends on depth" in failed
        and "linear CNTK: the interpolant approaches the minimum-norm one" in failed
    )
