"""The training loop every family shares; the caller decides what progress means.

Steps are counted as completed steps: progress and checkpoints at step s
describe the model after s updates. A job runs this loop in a worker process;
a notebook can run it directly.
"""

from __future__ import annotations

import math
from typing import Protocol

from probe_models.family import TrainingRun


class TrainingHooks(Protocol):
    def on_progress(self, step: int, metrics: dict[str, float]) -> None: ...

    def on_checkpoint(self, step: int, metrics: dict[str, float]) -> None: ...

    def should_stop(self) -> bool: ...


class NonFiniteLoss(RuntimeError):
    """Training diverged; the job fails with the step at which it happened."""


def advance(run: TrainingRun, step: int) -> dict[str, float]:
    """Take step ``step`` and let the run observe that it is done: what one iteration of :func:`train` does."""
    metrics = run.train_step(step)
    run.after_step(step + 1)
    return metrics


def train(run: TrainingRun, start_step: int, log_every: int, checkpoint_every: int, hooks: TrainingHooks) -> int:
    """Train from ``start_step`` until the run's last step, a stop request, or early finish.

    Returns the number of completed steps.
    """
    step = start_step
    metrics: dict[str, float] = {}
    while step < run.max_steps and not run.finished:
        if hooks.should_stop():
            return step
        metrics = advance(run, step)
        step += 1
        if not math.isfinite(metrics["loss"]):
            raise NonFiniteLoss(f"loss became {metrics['loss']} at step {step}")
        last = step == run.max_steps or run.finished
        if step % log_every == 0 or last or run.progress_due(step):
            metrics = {**metrics, **run.evaluate()}
            hooks.on_progress(step, metrics)
        if checkpoint_every > 0 and step % checkpoint_every == 0 and not last:
            hooks.on_checkpoint(step, metrics)
    hooks.on_checkpoint(step, metrics or {"loss": math.nan, **run.evaluate()})
    return step
