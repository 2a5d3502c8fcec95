"""Reproduction of learning h = g∘p with a three-layer bottleneck network (Wang, Nichani, Lee 2023).

See docs/families/hier-poly.md.

For several d, a sweep over n of the layer-wise network and of the kernel
baseline (ridge on random features over the same n samples), p = xᵀAx on
the sphere and g = 0.6·h₁ + 0.8·h₂: the network's feature z correlates with
p once n is a few d², and its test error falls where the kernel, which must
fit g∘p as a degree-4 polynomial in x, stays near the share of g that is not
linear. Transfer: from the network trained at the largest d and n, only the
outer layer is refitted on a few samples of a new link g' = 0.6·h₁ + 0.8·h₃;
a network trained from scratch on the same few samples is the reference.
Span (Fu, Wang, Nichani, Lee 2024): r = 2 quadratic features at d = 16, the
largest principal angle between the learned span and span{A₁, A₂} against n.

Rates: for a degree-3 feature p = d^{-1/2} Σ_i h3(x_i), a bisection over n
at five d finds where the test error falls below 1/2; the fitted exponent
(95% t-interval) is checked within 1 of the theory's k = 3 and below the
kernel's 2k = 6. The same search for the quadratic feature under Gaussian
inputs, the paper's own distribution: there its exponent is checked below
the kernel's 4 only, the theory's 2 reported beside it. At d ≤ 32 the
Gaussian thresholds are shaped by finite-d terms the theory lets vanish
(y's degree-2 part holds an isotropic √2·0.8(‖x‖² − d)/d of variance
2.56/d beside 0.36 from p; p's excess kurtosis is 12/d), which the sphere
removes or bounds (docs/families/hier-poly.md).

Checks at small scale: feature correlation ≥ 0.9 at the largest n for each
d; the transferred network's test error is below the scratch network's; for
r = 2 the largest principal angle at the largest n is below 20°; the two
rates above.
"""

from __future__ import annotations

import math
from typing import Any

from probe_models.families.hier_poly.config import PAPER, HierPolyConfig
from probe_models.families.three_layer.reproduce import curves, points
from probe_models.families.three_layer.thresholds import (
    THRESHOLD_LEVEL,
    fit_thresholds,
    interval_text,
    rate_check,
    threshold_plans,
)
from probe_models.reproduction import (
    Check,
    Report,
    Reproduction,
    SweepPlan,
    SweepResult,
    number,
    png,
    pyplot,
    summary_of,
)

SETTINGS: dict[str, dict[str, Any]] = {
    "small": {"dims": [8, 12, 16], "per_d2": [1, 2, 4, 8, 16, 32], "seeds": 2, "transfer_samples": 256,
              "span_dim": 16, "span_per_d2": [4, 16],
              "cubic_dims": [8, 10, 12, 14, 16], "cubic_seeds": 2, "cubic_samples": (128, 16384),
              "gaussian_dims": [12, 16, 24, 32], "gaussian_seeds": 2, "gaussian_samples": (256, 32768)},
    "paper": {"dims": [16, 24, 32], "per_d2": [1, 2, 4, 8, 16, 32, 64], "seeds": 4, "transfer_samples": 512,
              "span_dim": 32, "span_per_d2": [4, 16, 64],
              "cubic_dims": [8, 12, 16, 20, 24], "cubic_seeds": 4, "cubic_samples": (128, 65536),
              "gaussian_dims": [16, 24, 32, 48], "gaussian_seeds": 4, "gaussian_samples": (256, 131072)},
}  # fmt: skip
# r = 2 features: g(z) = 0.6 (z₁ + z₂)/√2 + 0.8 z₁z₂, random features h₂(Vx) with m1 = 2d² (the quadratics, twice over)
SPAN = {"features": 2, "interaction": 0.8, "coefficients": "0,0.6"}
SPAN_ANGLE = 20.0
LEARNERS = ("three-layer", "random-features")
WIDTH1_PER_D2 = 8  # m1 = 8d² random features: the ridge fit whitens them, so twice the d²/2 quadratics suffice
NEW_LINK = "0,0.6,0,0.8"
FEATURE_CORRELATION = 0.9
# A degree-3 feature p = d^{-1/2} Σ_i h3(x_i): the network's threshold ≈ d^3 (d^k), the kernel's d^6 (g∘p has
# degree 2k for the default g of degree 2); m1 = d³/2 random features h3(Vx), enough to span the cubics.
CUBIC = {"feature": "hermite-sum", "degree": 3}
CUBIC_THEORY, CUBIC_KERNEL, CUBIC_BAND = 3.0, 6.0, 1.0
# The quadratic feature under the paper's Gaussian inputs: threshold ≈ d² (d^k), the kernel's d⁴. m1 = 2d² random
# features h2(Vx): at d = 24 the same test error as 8d² (0.525 / 0.405 at n = 8d² / 16d², against 0.533 / 0.410)
# in a 25th of the time.
GAUSSIAN = {"inputs": "gaussian", "feature": "quadratic"}
GAUSSIAN_WIDTH1_PER_D2 = 2
GAUSSIAN_THEORY, GAUSSIAN_KERNEL = 2.0, 4.0


def plan_name(learner: str, dim: int) -> str:
    return f"{learner}-d{dim}"


def final_metrics(result: SweepResult) -> dict[str, float] | None:
    done = [c.metrics for c in result.children if c.succeeded]
    return done[0] if done else None


class HierPolyReproduction(Reproduction):
    paper = PAPER

    def plan(self, scale: str) -> list[SweepPlan]:
        s = SETTINGS[scale]
        plans = []
        for dim in s["dims"]:
            for learner in LEARNERS:
                base = {"learner": learner, "dim": dim, "num_seeds": s["seeds"], "width1": WIDTH1_PER_D2 * dim * dim}
                grid = {"samples": [f * dim * dim for f in s["per_d2"]]}
                plans.append(SweepPlan(plan_name(learner, dim), base, grid=grid, steps=2, log_every=2))
        top = max(s["dims"])
        source = {"dim": top, "num_seeds": s["seeds"], "width1": WIDTH1_PER_D2 * top * top}
        many, few = {"samples": [max(s["per_d2"]) * top * top]}, {"samples": [s["transfer_samples"]]}
        new_link = {**source, "coefficients": NEW_LINK}
        plans += [
            SweepPlan("transfer-source", source, grid=many, steps=2, log_every=2),
            SweepPlan("transfer", new_link, grid=few, steps=2, log_every=2, init_from="transfer-source",
                      trainable=("c", "c0")),
            SweepPlan("scratch", new_link, grid=few, steps=2, log_every=2),
        ]  # fmt: skip
        dim = s["span_dim"]
        span = {**SPAN, "dim": dim, "num_seeds": s["seeds"], "width1": 2 * dim * dim}
        steps = HierPolyConfig.stage1_steps + 1
        plans.append(SweepPlan("span-r2", span, grid={"samples": [f * dim * dim for f in s["span_per_d2"]]},
                               steps=steps, log_every=steps))  # fmt: skip
        cubic = {d: {**CUBIC, "dim": d, "num_seeds": s["cubic_seeds"], "width1": d**3 // 2} for d in s["cubic_dims"]}
        width = GAUSSIAN_WIDTH1_PER_D2
        gaussian = {d: {**GAUSSIAN, "dim": d, "num_seeds": s["gaussian_seeds"], "width1": width * d * d}
                    for d in s["gaussian_dims"]}  # fmt: skip
        return (plans + threshold_plans(cubic, s["cubic_samples"])
                + threshold_plans(gaussian, s["gaussian_samples"], prefix="gaussian-threshold"))  # fmt: skip

    def analyze(self, scale: str, results: dict[str, SweepResult]) -> Report:
        s = SETTINGS[scale]
        checks: list[Check] = []
        errors: dict[int, dict[str, dict[int, float]]] = {}
        correlations: dict[int, dict[int, float]] = {}
        for dim in s["dims"]:
            errors[dim], correlations[dim] = curves(results, {lr: plan_name(lr, dim) for lr in LEARNERS})
            network = correlations[dim]
            if not network:
                checks.append(Check(f"d={dim}: the network trained", None, "a point", False, "no point succeeded"))
                continue
            top = max(network)
            corr = correlations[dim][top]
            checks.append(Check(f"d={dim}, n={top}: feature correlation with p", corr, f">= {FEATURE_CORRELATION}",
                                corr >= FEATURE_CORRELATION, f"{corr:.3f}"))  # fmt: skip
        transfer, scratch = final_metrics(results["transfer"]), final_metrics(results["scratch"])
        transfer_errors = {}
        if transfer is None or scratch is None:
            checks.append(Check("transfer beats training from scratch", None, "both ran", False, "a job failed"))
        else:
            transfer_errors = {"transfer": transfer["test_error"], "scratch": scratch["test_error"]}
            checks.append(Check(
                f"transfer to g' with n={s['transfer_samples']} beats training from scratch",
                transfer["test_error"], f"< {scratch['test_error']:.3f}",
                transfer["test_error"] < scratch["test_error"],
                f"refit c only: {transfer['test_error']:.3f}; from scratch: {scratch['test_error']:.3f}",
            ))  # fmt: skip
        span = points(results["span-r2"])
        angles = {n: m["span_angle_max"] for n, m in span.items() if "span_angle_max" in m}
        if angles:
            top = max(angles)
            checks.append(Check(
                f"r=2, d={s['span_dim']}, n={top}: largest principal angle to span{{A1, A2}}", angles[top],
                f"< {SPAN_ANGLE}°", angles[top] < SPAN_ANGLE,
                f"{angles[top]:.1f}° (worst replica); test error {span[top]['test_error']:.3f}",
            ))  # fmt: skip
        else:
            checks.append(Check("r=2: the span was learned", None, "a point", False, "no point succeeded"))
        cubic = fit_thresholds(s["cubic_dims"], s["cubic_samples"], results, CUBIC_THEORY, CUBIC_KERNEL)
        checks.append(rate_check(f"degree-3 p: sample threshold (test error < {THRESHOLD_LEVEL}) grows as d^k, "
                                 "k = 3, below the kernel's d^6", cubic, band=CUBIC_BAND))  # fmt: skip
        gaussian = fit_thresholds(s["gaussian_dims"], s["gaussian_samples"], results, GAUSSIAN_THEORY,
                                  GAUSSIAN_KERNEL, prefix="gaussian-threshold")  # fmt: skip
        checks.append(rate_check(f"Gaussian inputs, quadratic p: sample threshold (test error < {THRESHOLD_LEVEL}) "
                                 "grows with d at a rate below the kernel's d^4", gaussian))  # fmt: skip
        measurements = {"test_error": {str(d): e for d, e in errors.items()},
                        "feature_correlation": {str(d): c for d, c in correlations.items()},
                        "transfer": transfer_errors, "span_angle_max": angles, "cubic_thresholds": cubic,
                        "gaussian_thresholds": gaussian}  # fmt: skip
        summary = summary_of(checks, measurements, scale, PAPER)
        figures = {"hier_poly.png": _figure(errors, correlations)}
        return Report(summary, figures, _readme(checks, errors, correlations, transfer_errors, angles, cubic, gaussian))


def _figure(errors: dict[int, dict[str, dict[int, float]]], correlations: dict[int, dict[int, float]]) -> bytes:
    plt = pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for dim, by_learner in errors.items():
        for learner, curve in by_learner.items():
            ns = sorted(curve)
            style = "-" if learner == "three-layer" else "--"
            left.plot([n / dim**2 for n in ns], [curve[n] for n in ns], style, marker="o", label=f"{learner}, d={dim}")
        ns = sorted(correlations[dim])
        right.plot([n / dim**2 for n in ns], [correlations[dim][n] for n in ns], marker="o", label=f"d={dim}")
    left.set(xscale="log", xlabel="n / d²", ylabel="test error (MSE / Var y)", title="test error")
    right.set(xscale="log", xlabel="n / d²", ylabel="|corr(z, p)|", title="learned feature against p")
    left.legend(fontsize=7)
    right.legend()
    return png(figure)


def _readme(
    checks: list[Check],
    errors: dict[int, dict[str, dict[int, float]]],
    correlations: dict[int, dict[int, float]],
    transfer: dict[str, float],
    angles: dict[int, float],
    cubic: dict[str, Any],
    gaussian: dict[str, Any],
) -> str:
    lines = [f"# hier-poly: learning g∘p with a three-layer bottleneck network\n\n{PAPER}\n",
             "| d | n | three-layer error | kernel error | feature correlation |", "|---|---|---|---|---|"]  # fmt: skip
    for dim, by_learner in errors.items():
        for n in sorted(set().union(*by_learner.values())):
            cells = [f"{by_learner[lr][n]:.3f}" if n in by_learner[lr] else "-" for lr in LEARNERS]
            lines.append(f"| {dim} | {n} | {cells[0]} | {cells[1]} | {correlations[dim].get(n, math.nan):.3f} |")
    if transfer:
        lines += ["", f"Transfer to g' = {NEW_LINK} (Hermite coefficients): refitting c only "
                  f"{transfer['transfer']:.3f}, training from scratch {transfer['scratch']:.3f}."]  # fmt: skip
    if angles:
        lines += ["", "r = 2 quadratic features, largest principal angle between the learned span and span{A1, A2}: "
                  + ", ".join(f"n={n}: {a:.1f}°" for n, a in sorted(angles.items())) + "."]  # fmt: skip
    for title, fit in (("Degree-3 p = d^(-1/2) Σ h3(x_i), sphere", cubic), ("Quadratic p, Gaussian inputs", gaussian)):
        if fit["by_dim"]:
            brackets = ", ".join(f"d={d}: {t['estimate']:.0f}" for d, t in fit["by_dim"].items())
            lines += ["", f"{title}, samples until the test error falls below {THRESHOLD_LEVEL}: {brackets}; "
                      f"exponent {number(fit.get('slope'), '.2f')} (95% interval {interval_text(fit)}; "
                      f"theory {fit['theory_exponent']:g}, kernel {fit['kernel_exponent']:g})."]  # fmt: skip
    lines += ["", "![test error and feature correlation](hier_poly.png)", "", "## Checks", ""]
    lines += [f"- {'PASS' if c.passed else 'FAIL'} {c.name}: {c.detail} (want {c.reference})" for c in checks]
    return "\n".join(lines) + "\n"
