"""The engine's queue of job ids: first the work asked for first, then in the order its jobs were submitted.

Each job carries a rank: when the request it belongs to began (a plain job: its submission; a sweep's child: the
sweep's start; a reproduction's: the reproduction's). A queue by job alone makes work with sequential steps (a
search's next probe, a reproduction's sweep that starts from another's checkpoint) wait behind everything
submitted since that work began, and the cores idle at its end while it runs its steps one by one; by rank, an
earlier request's next step runs as soon as a slot frees and later requests fill the slots it leaves.
"""

from __future__ import annotations

import bisect
import itertools
import time
from dataclasses import dataclass, field


@dataclass(order=True, frozen=True)
class QueuedJob:
    rank: float
    sequence: int  # submission order among equal ranks
    job_id: str = field(compare=False)
    queued_at: float = field(compare=False, default_factory=time.time)  # for the queue-wait metric


class JobQueue:
    def __init__(self) -> None:
        self._items: list[QueuedJob] = []
        self._sequence = itertools.count()

    def push(self, job_id: str, rank: float) -> None:
        bisect.insort(self._items, QueuedJob(rank, next(self._sequence), job_id))

    def pop(self) -> QueuedJob:
        return self._items.pop(0)

    def restore(self, entry: QueuedJob) -> None:
        """Put a popped entry back where it was (its job could not start yet)."""
        bisect.insort(self._items, entry)

    def remove(self, job_id: str) -> bool:
        for index, entry in enumerate(self._items):
            if entry.job_id == job_id:
                del self._items[index]
                return True
        return False

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, job_id: object) -> bool:
        return any(entry.job_id == job_id for entry in self._items)

    def ids(self) -> list[str]:
        return [entry.job_id for entry in self._items]
