"""Reproduction of escaping the NTK (PAPERS.md §8; Nichani, Bai, Lee 2022): test error against n.

One sweep per learner over the sample size n at fixed d; the learners of a
point see the same samples (the same seeds). The NTK fits the dense linear
part from O(d) samples but needs about d³ for x_1x_2x_3; the QuadNTK fits
the sparse part from far fewer but not the dense part; the combined model
fits both. The paper is theory only; the choices of this experiment are in
SETTINGS and the family module.

Check at small scale: at the largest n, the combined model's test error
(averaged over seeds) is below both the NTK's and the QuadNTK's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from probe_models.reproduction import Check, Report, Reproduction, SweepPlan, SweepResult, png, pyplot, summary_of

PAPER = (
    "Nichani, Bai, Lee (2022). Identifying Good Directions to Escape the NTK Regime and Efficiently Learn "
    "Low-Degree Plus Sparse Polynomials"
)
LEARNERS = ("ntk", "quad-ntk", "combined")
SETTINGS: dict[str, dict[str, Any]] = {
    "small": {"dim": 24, "width": 512, "samples": [256, 1024, 4096], "seeds": 2, "steps": 1500},
    "paper": {"dim": 48, "width": 4096, "samples": [512, 2048, 8192, 32768], "seeds": 4, "steps": 5000},
}
LEARNER_CONFIG: dict[str, dict[str, Any]] = {
    "ntk": {"solver": "closed-form"},
    "quad-ntk": {},
    "combined": {},
}


def errors_by_n(result: SweepResult, metric: str = "test_error") -> dict[int, float]:
    """The seed-average of ``metric`` at each n, over children that finished."""
    values: dict[int, list[float]] = {}
    for child in result.children:
        if child.state == "SUCCEEDED" and metric in child.metrics:
            values.setdefault(int(child.overrides["samples"]), []).append(child.metrics[metric])
    return {n: float(np.mean(v)) for n, v in sorted(values.items())}


class NTKEscapeReproduction(Reproduction):
    paper = PAPER

    def plan(self, scale: str) -> list[SweepPlan]:
        s = SETTINGS[scale]
        return [
            SweepPlan(learner, {"learner": learner, "dim": s["dim"], "width": s["width"], **LEARNER_CONFIG[learner]},
                      grid={"samples": s["samples"]}, seeds=s["seeds"], steps=s["steps"], log_every=s["steps"])
            for learner in LEARNERS
        ]  # fmt: skip

    def analyze(self, scale: str, results: dict[str, SweepResult]) -> Report:
        errors = {learner: errors_by_n(results[learner]) for learner in LEARNERS}
        parts = {learner: {part: errors_by_n(results[learner], f"{part}_captured") for part in ("dense", "sparse")}
                 for learner in LEARNERS}  # fmt: skip
        checks: list[Check] = []
        common = set.intersection(*(set(e) for e in errors.values()))
        if not common:
            checks.append(Check("every learner finished a point", None, "all", False, "no common n"))
        else:
            top = max(common)
            combined = errors["combined"][top]
            for other in ("ntk", "quad-ntk"):
                checks.append(Check(
                    f"n={top}: combined test error below {other}'s", combined / errors[other][top], "< 1",
                    combined < errors[other][top], f"{combined:.3f} against {errors[other][top]:.3f}",
                ))  # fmt: skip
        measurements = {"test_error": errors, "captured": parts, "dim": SETTINGS[scale]["dim"]}
        summary = summary_of(checks, measurements, scale, PAPER)
        return Report(summary, {"test_error.png": _figure(errors, SETTINGS[scale]["dim"])},
                      _readme(checks, errors, parts))  # fmt: skip


def _figure(errors: dict[str, dict[int, float]], dim: int) -> bytes:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(6, 4.2))
    for learner, curve in errors.items():
        axis.plot(list(curve), list(curve.values()), marker="o", label=learner)
    axis.set(xscale="log", yscale="log", xlabel="training samples n", ylabel="test error (MSE / E f*²)",
             title=f"ntk-escape: βᵀx/√d + x₁x₂x₃, d = {dim}")  # fmt: skip
    axis.legend()
    return png(figure)


def _readme(checks: list[Check], errors: dict[str, dict[int, float]], parts: dict[str, Any]) -> str:
    ns = sorted(set().union(*errors.values()))
    lines = [f"# ntk-escape: test error against n\n\n{PAPER}\n", "| n | " + " | ".join(errors) + " |",
             "|---|" + "---|" * len(errors)]  # fmt: skip
    for n in ns:
        lines.append(f"| {n} | " + " | ".join(f"{errors[lr].get(n, float('nan')):.3f}" for lr in errors) + " |")
    lines += ["", "Share of each part in the prediction (1: fitted, 0: missed), dense / sparse:", ""]
    for learner, by_part in parts.items():
        cells = [f"n={n}: {by_part['dense'].get(n, float('nan')):.2f} / {by_part['sparse'].get(n, float('nan')):.2f}"
                 for n in ns]  # fmt: skip
        lines.append(f"- {learner}: " + ", ".join(cells))
    lines += ["", "![test error](test_error.png)", "", "## Checks", ""]
    lines += [f"- {'PASS' if c.passed else 'FAIL'} {c.name}: {c.detail} (want {c.reference})" for c in checks]
    return "\n".join(lines) + "\n"
