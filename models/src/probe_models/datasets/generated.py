"""Data sets that need no files: scikit-learn's bundled digits and mnist1d made offline."""

from __future__ import annotations

import functools

import numpy as np

MNIST1D_LENGTH = 40  # the published sequence length (final_seq_length)


@functools.lru_cache(maxsize=1)
def digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8×8 digits in [0, 1], [n, 1, 8, 8], with labels 0..9 (shipped inside scikit-learn)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images / 16.0).astype(np.float32)[:, None], data.target.astype(np.int64)


@functools.lru_cache(maxsize=2)
def mnist1d(num_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``num_samples`` mnist1d sequences [n, 1, 40] with labels, from the package's own ``make_dataset``.

    Only the generator is called, never ``get_dataset`` (which downloads).
    ``make_dataset`` seeds numpy's global generator, so its state is saved
    and put back: other code in the process keeps its stream.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed = num_samples, seed
    state = np.random.get_state()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(state)
    x = np.concatenate([data["x"], data["x_test"]]).astype(np.float32)[:, None]
    return x, np.concatenate([data["y"], data["y_test"]]).astype(np.int64)
