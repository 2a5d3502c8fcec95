"""Latent causal graphs over sequence positions (docs/families/causal-icl.md).

A graph says, for every input position, which earlier positions its token
depends on, and which positions the predicted token s_{T+1} depends on. Graphs
of order 1 (every non-root node has one parent) follow the paper's
``InContextTree`` convention: positions 0..T-2 follow the graph, the query
s_{T-1} is uniform and the target is π(·|s_{T-1}). Graphs of order 2 list all
T+1 nodes explicitly, as the paper's two-parent DAG does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from probe_models.errors import ConfigError


@dataclass(frozen=True)
class Graph:
    name: str
    parents: tuple[tuple[int, ...], ...]  # per input position 0..T-1
    target: tuple[int, ...]  # parents of the predicted token
    uniform: frozenset[int]  # positions drawn uniformly whatever π is (the query of an order-1 graph)

    @property
    def order(self) -> int:
        """Parents per non-root node: 1 or 2."""
        return len(self.target)

    @property
    def seq_len(self) -> int:
        return len(self.parents)

    def child_positions(self) -> list[int]:
        """Input positions that have parents: where graph recovery is scored."""
        return [i for i, p in enumerate(self.parents) if p]

    def as_text(self) -> str:
        """The graph as a ``parents`` config value (all T+1 nodes)."""
        return ",".join("+".join(map(str, p)) if p else "-" for p in (*self.parents, self.target))


def _tree(name: str, body: list[tuple[int, ...]]) -> Graph:
    """An order-1 graph from the parents of positions 0..T-2: the query s_{T-1} is uniform."""
    query = len(body)
    return Graph(name, (*body, ()), (query,), frozenset({query}))


def parse_parents(text: str, seq_len: int) -> Graph:
    """A user's parent list; every mistake is a ConfigError on ``parents``."""
    entries = [e.strip() for e in text.split(",")]
    if len(entries) not in (seq_len - 1, seq_len + 1):
        raise ConfigError(
            "parents",
            f"needs {seq_len - 1} entries (positions 0..T-2) or {seq_len + 1} (nodes 0..T) for T={seq_len}, "
            f"got {len(entries)}",
        )
    nodes: list[tuple[int, ...]] = []
    for i, entry in enumerate(entries):
        if entry in ("-", ""):
            nodes.append(())
            continue
        try:
            parents = tuple(int(p) for p in entry.split("+"))
        except ValueError:
            raise ConfigError("parents", f"entry {i} ({entry!r}) must be '-' or indices joined by '+'") from None
        if not all(0 <= p < i for p in parents):
            raise ConfigError("parents", f"node {i}'s parents {list(parents)} must be earlier nodes (0..{i - 1})")
        nodes.append(parents)
    orders = {len(p) for p in nodes if p}
    if len(entries) == seq_len - 1:
        if orders - {1}:
            raise ConfigError("parents", "a list of T-1 entries gives at most one parent per position")
        return _tree("custom", nodes)
    if not nodes[-1]:
        raise ConfigError("parents", "the predicted token (the last entry) needs parents")
    if len(orders) != 1 or orders.pop() > 2:
        raise ConfigError("parents", "every node with parents needs the same number of them, 1 or 2")
    return Graph("custom", tuple(nodes[:-1]), nodes[-1], frozenset())


def build_graph(name: str, seq_len: int, rng: np.random.Generator, no_parent_prob: float, parents: str) -> Graph:
    """The named graph for sequences of ``seq_len`` tokens; random graphs come from ``rng``."""
    body_len = seq_len - 1
    if name == "chain":
        return _tree(name, [()] + [(i - 1,) for i in range(1, body_len)])
    if name == "icl-pairs":
        return _tree(name, [(i - 1,) if i % 2 else () for i in range(body_len)])
    if name == "random-tree":
        body: list[tuple[int, ...]] = []
        for i in range(body_len):
            parent = int(rng.integers(-1, i)) if i else -1
            body.append((parent,) if parent >= 0 else ())
        return _tree(name, body)
    if name == "random-dag":
        body = [()]
        for i in range(1, body_len):
            orphan = rng.random() < no_parent_prob
            body.append(() if orphan else (int(rng.integers(0, i)),))
        return _tree(name, body)
    if name == "two-parent":
        # the authors' multi_parent.ipynb: [[], []] + [[(i - 1) // 2, i - 1] for i in range(2, seq_len + 1)]
        nodes = [(), ()] + [((i - 1) // 2, i - 1) for i in range(2, seq_len + 1)]
        return Graph(name, tuple(nodes[:-1]), nodes[-1], frozenset())
    if name == "custom":
        return parse_parents(parents, seq_len)
    raise ConfigError("graph", f"unknown graph {name!r}")
