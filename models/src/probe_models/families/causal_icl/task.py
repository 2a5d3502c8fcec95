"""The in-context causal-structure task (docs/families/causal-icl.md) and its Bayes-optimal predictor.

Each sequence draws its own transition tensor π, one Dirichlet(α·1) row per
context of ``order`` parent tokens; a position with parents draws from π's row
for its parents' tokens, a root from π's stationary distribution (order 1) or
uniformly (order 2, where no single-token stationary law exists), the query of
an order-1 graph uniformly. The soft target is π's row for the predicted
token's parents, and a next token is drawn from it.

Sampling runs in numpy from a seeded ``np.random.Generator`` so that the batch
of step t depends only on (seed, t).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from probe_models.families.causal_icl.config import CausalICLConfig
from probe_models.families.causal_icl.graphs import Graph, build_graph
from probe_models.seeding import derive_seed


@dataclass
class Batch:
    tokens: torch.Tensor  # int64 [n, T]
    targets: torch.Tensor  # float32 [n, S]: π(·|parents of the predicted token)
    next_tokens: torch.Tensor  # int64 [n]: a draw from targets
    transitions: np.ndarray  # float64 [n, S^order, S]: each sequence's π


def numpy_rng(seed: int, *stream: int | str) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, *stream))


def stationary(pi: np.ndarray) -> np.ndarray:
    """Stationary distributions of a batch of row-stochastic matrices [n, S, S]."""
    size = pi.shape[-1]
    _, _, vh = np.linalg.svd(np.swapaxes(pi, -1, -2) - np.eye(size))
    mu = np.abs(vh[..., -1, :])
    return mu / mu.sum(axis=-1, keepdims=True)


def _draw(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` by inverting the CDF at ``u``."""
    cdf = np.cumsum(probs, axis=-1)
    return np.minimum((cdf < u[:, None] * cdf[:, -1:]).sum(axis=-1), probs.shape[-1] - 1)


def contexts(tokens: np.ndarray, nodes: tuple[tuple[int, ...], ...], vocab: int, order: int) -> np.ndarray:
    """Context index of each node's parents' tokens [n, len(nodes)]; -1 where a node has no full context."""
    out = np.full((tokens.shape[0], len(nodes)), -1, dtype=np.int64)
    for i, parents in enumerate(nodes):
        if len(parents) == order:
            index = np.zeros(tokens.shape[0], dtype=np.int64)
            for p in parents:
                index = index * vocab + tokens[:, p]
            out[:, i] = index
    return out


class CausalTask:
    def __init__(self, config: CausalICLConfig, seed: int) -> None:
        self.config = config
        graph_seed = config.graph_seed if config.graph_seed >= 0 else derive_seed(seed, "graph")
        self.graph: Graph = build_graph(
            config.graph, config.seq_len, np.random.default_rng(graph_seed), config.no_parent_prob, config.parents
        )
        self.vocab = config.vocab_size
        self.order = self.graph.order

    def sample(self, n: int, rng: np.random.Generator) -> Batch:
        S, order, graph = self.vocab, self.order, self.graph
        pi = rng.dirichlet(np.full(S, self.config.alpha), size=(n, S**order))
        roots = stationary(pi) if order == 1 else np.full((n, S), 1.0 / S)
        uniform = np.full((n, S), 1.0 / S)
        rows = np.arange(n)
        tokens = np.zeros((n, graph.seq_len), dtype=np.int64)
        u = rng.random((n, graph.seq_len + 1))
        for i, parents in enumerate(graph.parents):
            if i in graph.uniform:
                probs = uniform
            elif not parents:
                probs = roots
            else:
                probs = pi[rows, contexts(tokens, (parents,), S, order)[:, 0]]
            tokens[:, i] = _draw(probs, u[:, i])
        targets = pi[rows, contexts(tokens, (graph.target,), S, order)[:, 0]]
        next_tokens = _draw(targets, u[:, -1])
        return Batch(
            torch.from_numpy(tokens),
            torch.from_numpy(targets.astype(np.float32)),
            torch.from_numpy(next_tokens),
            pi,
        )

    def bayes(self, tokens: np.ndarray) -> np.ndarray:
        """The paper's Bayes predictor: (α + #{i: context(i) = target context, s_i = k}) normalized."""
        S, graph = self.vocab, self.graph
        node_contexts = contexts(tokens, graph.parents, S, self.order)
        target_context = contexts(tokens, (graph.target,), S, self.order)
        match = node_contexts == target_context
        counts = np.full((tokens.shape[0], S), self.config.alpha)
        np.add.at(counts, (np.nonzero(match)[0], tokens[match]), 1.0)
        return counts / counts.sum(axis=1, keepdims=True)


def soft_cross_entropy(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -Σ_k target_k log p_k."""
    return -(targets * log_probs).sum(dim=-1).mean()
