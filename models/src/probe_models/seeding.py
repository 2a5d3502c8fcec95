"""Named, reproducible random streams derived from one job seed.

Every random draw in a family comes from ``generator(seed, stream, ...)`` so
that, e.g., the batch of step 1234 is the same whether or not the job was
interrupted before it.
"""

from __future__ import annotations

import functools
import zlib

import numpy as np
import torch


def _stream_key(part: int | str) -> int:
    return zlib.crc32(part.encode()) if isinstance(part, str) else int(part)


@functools.lru_cache(maxsize=4096)  # a pure function, asked again for every served query of the same noise seed
def derive_seed(seed: int, *stream: int | str) -> int:
    """A 63-bit seed for the named sub-stream of ``seed``."""
    sequence = np.random.SeedSequence([int(seed), *(_stream_key(p) for p in stream)])
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def generator(seed: int, *stream: int | str) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(seed, *stream))
