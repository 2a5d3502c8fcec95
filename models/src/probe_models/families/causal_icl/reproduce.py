"""Reproduction of Nichani, Damian, Lee (2024), docs/families/causal-icl.md: causal structure in attention.

- Chain (S=10, T=20): the first layer attends to the previous position
  (argmax parent >= 95% of positions), the second layer is an induction head,
  and the test loss approaches the Bayes-optimal loss (within 10%); heatmaps
  of the A¹ and A² blocks and the loss curve beside the Bayes loss.
- Random DAGs (S=3, T=20, one graph per seed): the paper's statistic, the
  weight that the softmax of A¹'s position-position block puts on the true
  parent, averaged over positions with a parent and then over graphs
  (paper: 0.837 ± 0.054 over 20 graphs); goal >= 0.75.

The paper trains by gradient descent: SGD with lr 1 and cosine decay, the
recipe its theorem analyzes; "paper" runs it on the chain. "small" fits a few
minutes on 2 CPU cores: the chain at S=10, T=20 by Adam with cosine decay
(the paper's SGD barely moves there in the CPU budget), and beside it the
paper's SGD recipe on a smaller chain (SMALL_SGD_CHAIN) where it converges in
budget, both judged by the same checks; and SGD at a larger constant
learning rate for the DAGs (the paper's optimizer, with lr 5 standing in for
its 16x more steps at 4x the batch).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from probe_models.reproduction import Check, Report, Reproduction, SweepPlan, SweepResult, png, pyplot, summary_of

PAPER = "Nichani, Damian, Lee (2024). How Transformers Learn Causal Structure with Gradient Descent"
PAPER_DAG_MASS = (0.837, 0.054)
DAG_MASS_GOAL = 0.75
CHAIN = {"graph": "chain", "vocab_size": 10, "seq_len": 20, "heads": "1,1", "model": "disentangled"}
DAG = {"graph": "random-dag", "vocab_size": 3, "seq_len": 20, "heads": "1,1", "model": "disentangled"}
PAPER_SGD = {"optimizer": "sgd", "lr": 1.0, "schedule": "cosine"}
SMALL_SGD_CHAIN = {"vocab_size": 5, "seq_len": 10}
SETTINGS: dict[str, dict[str, Any]] = {
    "small": {
        "chains": {  # plan name -> (the chain's size, the optimizer, steps)
            "chain": ({}, {"optimizer": "adam", "lr": 0.03, "schedule": "cosine", "batch_size": 256}, 2000),
            "chain-sgd": (SMALL_SGD_CHAIN, {**PAPER_SGD, "batch_size": 256}, 3000),
        },
        "dag": {"optimizer": "sgd", "lr": 5.0, "schedule": "constant", "batch_size": 256},
        "dag_steps": 5000,
        "graphs": 5,
    },
    "paper": {
        "chains": {"chain": ({}, {**PAPER_SGD, "batch_size": 1024}, 2**17)},
        "dag": {"optimizer": "sgd", "lr": 1.0, "schedule": "constant", "batch_size": 1024},
        "dag_steps": 2**14,
        "graphs": 20,
    },
}


class CausalICLReproduction(Reproduction):
    paper = PAPER

    def plan(self, scale: str) -> list[SweepPlan]:
        s = SETTINGS[scale]
        chains = [  # a sweep needs an axis: each names its graph in a one-point grid
            SweepPlan(name, {**CHAIN, **size, **optimizer}, grid={"graph": ["chain"]}, steps=steps, history=True,
                      weights=True)
            for name, (size, optimizer, steps) in s["chains"].items()
        ]  # fmt: skip
        return [
            *chains,
            SweepPlan(
                "random-dags", {**DAG, **s["dag"]}, grid={"graph": ["random-dag"]}, seeds=s["graphs"],
                steps=s["dag_steps"],
            ),
        ]  # fmt: skip

    def analyze(self, scale: str, results: dict[str, SweepResult]) -> Report:
        checks: list[Check] = []
        figures: dict[str, bytes] = {}
        measurements: dict[str, Any] = {}
        for name in SETTINGS[scale]["chains"]:
            chain = [c for c in results[name].children if c.succeeded]
            if not chain:
                checks.append(Check(name, None, "", False, f"the {name} run did not succeed"))
                continue
            child, config = chain[0], {**results[name].plan.base_config, **chain[0].overrides}
            measurements[name] = {**{k: child.metrics.get(k) for k in _CHAIN_METRICS}, "config": config}
            checks += _chain_checks(name, child.metrics, config)
            if child.weights:
                figures[f"{name}_A1.png"], figures[f"{name}_A2.png"] = _heatmaps(child.weights, config)
            if child.history:
                figures[f"{name}_loss.png"] = _loss_curve(child.history, name)
        dags = [c for c in results["random-dags"].children if c.succeeded]
        masses = [c.metrics["a1_parent_mass"] for c in dags if "a1_parent_mass" in c.metrics]
        if masses:
            mean, std = float(np.mean(masses)), float(np.std(masses))
            attention = [c.metrics.get("parent_mass", math.nan) for c in dags]
            measurements["random_dags"] = {
                "graphs": len(masses),
                "a1_parent_mass": masses,
                "mean": mean,
                "std": std,
                "attention_parent_mass": attention,
                "paper": {"mean": PAPER_DAG_MASS[0], "std": PAPER_DAG_MASS[1], "graphs": 20},
            }
            checks.append(
                Check(
                    "random DAGs: first-layer attention on the true parent",
                    mean,
                    f"paper: {PAPER_DAG_MASS[0]} ± {PAPER_DAG_MASS[1]} over 20 graphs (S=3, T=20)",
                    mean >= DAG_MASS_GOAL and len(masses) >= 5,
                    f"{mean:.3f} ± {std:.3f} over {len(masses)} graphs (goal >= {DAG_MASS_GOAL} over >= 5); "
                    f"per graph {', '.join(f'{x:.2f}' for x in masses)}",
                )
            )
            figures["random_dags.png"] = _dag_bars(masses)
        else:
            checks.append(Check("random DAGs", None, "", False, "no random-DAG run succeeded"))
        summary = summary_of(checks, measurements, scale, PAPER)
        return Report(summary, figures, _readme(checks, scale, figures))


def _chain_checks(name: str, m: dict[str, float], config: dict[str, Any]) -> list[Check]:
    trained = (f"{config['optimizer']} lr {config['lr']:g} ({config['schedule']}), S={config['vocab_size']}, "
               f"T={config['seq_len']}")  # fmt: skip
    return [
        Check(
            f"{name}: first layer attends to the previous position",
            m.get("parent_accuracy"),
            "the paper: A¹ encodes the chain (argmax parent = i-1)",
            m.get("parent_accuracy", 0.0) >= 0.95,
            f"{trained}: argmax parent correct at {m.get('parent_accuracy', 0.0):.0%} of positions (goal >= 95%); "
            f"mean attention on the parent {m.get('parent_mass', math.nan):.3f}",
        ),
        Check(
            f"{name}: test loss near the Bayes-optimal loss",
            m.get("loss_over_bayes"),
            "the paper: the test loss approaches the Bayes loss",
            m.get("loss_over_bayes", math.inf) <= 1.10,
            f"{trained}: test loss {m.get('test_loss', math.nan):.4f} vs Bayes {m.get('bayes_loss', math.nan):.4f} "
            f"(ratio {m.get('loss_over_bayes', math.nan):.3f}; goal <= 1.10)",
        ),
        Check(
            f"{name}: the second layer is an induction head",
            m.get("induction_score"),
            "the paper: layer 2 attends where the previous token equals the current one",
            m.get("induction_score", 0.0) >= 0.5,
            f"{trained}: attention on matching positions {m.get('induction_score', math.nan):.3f} (goal >= 0.5)",
        ),
    ]


_CHAIN_METRICS = (
    "parent_accuracy", "parent_mass", "a1_parent_mass", "induction_score", "test_loss", "bayes_loss", "loss_over_bayes",
)  # fmt: skip


def _heatmaps(weights: dict[str, Any], config: dict[str, Any]) -> tuple[bytes, bytes]:
    """A¹ (token and position blocks) and A², the way the paper draws them."""
    plt = pyplot()
    S, T = config["vocab_size"], config["seq_len"]
    first = weights["A.0"][0].float().numpy()
    second = weights["A.1"][0].float().numpy()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    image = axes[0].imshow(first, cmap="RdBu_r", vmin=-abs(first).max(), vmax=abs(first).max())
    axes[0].set_title("A¹: S token coordinates, then T position coordinates", fontsize=9)
    for ax in (axes[0],):
        ax.axhline(S - 0.5, color="k", lw=0.8)
        ax.axvline(S - 0.5, color="k", lw=0.8)
    fig.colorbar(image, ax=axes[0])
    block = first[S:, S:]
    masked = np.where(np.tril(np.ones((T, T), bool)), block, -np.inf)
    soft = np.exp(masked - masked.max(axis=1, keepdims=True))
    soft /= soft.sum(axis=1, keepdims=True)
    image = axes[1].imshow(soft, cmap="viridis", vmin=0, vmax=1)
    axes[1].set_title("softmax of A¹'s position block: the chain's parent i-1", fontsize=9)
    axes[1].set_xlabel("key position")
    axes[1].set_ylabel("query position")
    fig.colorbar(image, ax=axes[1])
    a1 = png(fig)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(second, cmap="RdBu_r", vmin=-abs(second).max(), vmax=abs(second).max())
    width = S + T
    ax.axhline(width - 0.5, color="k", lw=0.8)
    ax.axvline(width - 0.5, color="k", lw=0.8)
    ax.set_title("A²: rows [token, position, layer-1 output]; the induction head pairs\n"
                 "the query's token block with the layer-1 output's token block", fontsize=9)  # fmt: skip
    fig.colorbar(image, ax=ax)
    return a1, png(fig)


def _loss_curve(history: list[tuple[int, dict[str, float]]], name: str) -> bytes:
    plt = pyplot()
    steps = [s for s, m in history if "test_loss" in m]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, [m["test_loss"] for _, m in history if "test_loss" in m], label="test loss")
    ax.plot(steps, [m["bayes_loss"] for _, m in history if "test_loss" in m], "--", label="Bayes-optimal loss")
    ax.set_xlabel("step")
    ax.set_ylabel("soft cross-entropy")
    ax.set_title(f"{name}: test loss against the Bayes loss")
    ax.legend()
    return png(fig)


def _dag_bars(masses: list[float]) -> bytes:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(range(len(masses)), masses, color="tab:blue", label="measured, per graph")
    mean, std = PAPER_DAG_MASS
    ax.axhspan(mean - std, mean + std, color="tab:orange", alpha=0.3, label=f"paper {mean} ± {std}")
    ax.axhline(DAG_MASS_GOAL, color="k", ls=":", label=f"goal {DAG_MASS_GOAL}")
    ax.set_ylim(0, 1)
    ax.set_xlabel("random DAG (seed)")
    ax.set_ylabel("A¹ position-block weight on the true parent")
    ax.legend(fontsize=8)
    return png(fig)


def _readme(checks: list[Check], scale: str, figures: dict[str, bytes]) -> str:
    lines = [
        f"# causal-icl reproduction ({scale})",
        "",
        PAPER,
        "",
        "| check | measured | paper | verdict |",
        "|---|---|---|---|",
    ]
    for c in checks:
        measured = "—" if c.measured is None else f"{c.measured:.3f}"
        lines.append(f"| {c.name} | {measured} | {c.reference} | {'pass' if c.passed else 'FAIL'} |")
    lines += ["", *(f"- {c.name}: {c.detail}" for c in checks), ""]
    lines += [f"![{name}]({name})" for name in sorted(figures)]
    return "\n".join(lines) + "\n"
