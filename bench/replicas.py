"""K replicas in one vectorized single-index run against K single-replica runs, on the same points.

Both train the same configuration (d = 64, smoothed SGD, k* = 3) for the same
number of steps; the sequential side runs K jobs' worth of one-replica runs
one after another, as K separate jobs would. Goal: vectorized ≥ 8× faster.
"""

from __future__ import annotations

import time

import torch

from probe_models.config import parse_config
from probe_models.families.single_index import SingleIndex, SingleIndexConfig
from probe_models.training import advance

REPLICAS, STEPS, GOAL = 16, 2000, 8.0
POINT = {"dim": 64, "method": "smoothed", "lr": 0.3, "stop_fraction": 0.0}


def train(num_seeds: int, seed: int) -> float:
    config = parse_config(SingleIndexConfig, {**POINT, "num_seeds": num_seeds})
    run = SingleIndex().new_run(config, seed, STEPS)
    start = time.perf_counter()
    for step in range(STEPS):
        advance(run, step)
    return time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(1)
    train(1, 0)  # warm up
    vectorized = train(REPLICAS, 0)
    sequential = sum(train(1, seed) for seed in range(REPLICAS))
    ratio = sequential / vectorized
    print(f"\n## single-index: {REPLICAS} replicas x {STEPS} steps, d = {POINT['dim']}")
    print(f"vectorized (one run, K = {REPLICAS})   {vectorized:8.2f} s")
    print(f"sequential ({REPLICAS} runs, K = 1)     {sequential:8.2f} s")
    print(f"speed-up                         {ratio:8.1f}x   goal >= {GOAL:g}  {'PASS' if ratio >= GOAL else 'FAIL'}")


if __name__ == "__main__":
    main()
