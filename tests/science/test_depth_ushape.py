"""Depth against test accuracy at CPU scale: too shallow and too deep both lose to a middle depth.

See docs/families/depth-ushape.md.
"""

import numpy as np

from probe_models.config import parse_config
from probe_models.families.depth_ushape import DepthUShape, DepthUShapeConfig
from probe_models.training import advance

TASK = {"classes": "3,8", "train_per_class": 5, "width": 32, "image_size": 16}


def test_accuracy_at_full_training_accuracy_rises_then_falls_with_depth():
    accuracy: dict[int, list[float]] = {}
    for seed in range(3):
        for depth in (1, 8, 24):
            config = parse_config(DepthUShapeConfig, {**TASK, "depth": depth})
            run = DepthUShape().new_run(config, seed=seed, steps=2000)
            step = 0
            while step < run.max_steps and not run.finished:
                advance(run, step)
                step += 1
            metrics = run.evaluate()
            assert metrics["train_accuracy"] == 1.0, (depth, seed, metrics)
            accuracy.setdefault(depth, []).append(metrics["test_accuracy"])
    mean = {depth: float(np.mean(values)) for depth, values in accuracy.items()}
    assert mean[8] > mean[1] + 0.02 and mean[8] > mean[24] + 0.02, mean
