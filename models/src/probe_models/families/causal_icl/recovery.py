"""Reading the causal graph off attention (docs/families/causal-icl.md, headlines i and ii).

- Parent recovery: the first layer's attention averaged over sequences; each
  head's argmax key per position is a recovered parent, and the mean over
  heads of the attention on the true parents is the parent mass.
- The paper's statistic: the softmax of the causally masked position-position
  block of A¹, weight on the true parent, averaged over positions with a
  parent (0.837 ± 0.054 over 20 random DAGs with S=3, T=20).
- Induction score: the second layer's attention from the last position onto
  positions j whose previous token equals the last token (the best head).
"""

from __future__ import annotations

import torch

from probe_models.families.causal_icl.graphs import Graph
from probe_models.family import PositionRecovery


def recover_parents(pattern: torch.Tensor, graph: Graph) -> list[PositionRecovery]:
    """Parents read from a layer's attention ``pattern`` [batch, head, T, T], averaged over the batch."""
    mean = pattern.mean(dim=0)  # [head, T, T]
    positions = []
    for i, parents in enumerate(graph.parents[: mean.shape[1]]):
        recovered = tuple(sorted({int(mean[h, i].argmax()) for h in range(mean.shape[0])})) if i else ()
        mass = float(mean[:, i, sorted(set(parents))].sum(dim=-1).mean()) if parents else float("nan")
        positions.append(PositionRecovery(i, parents, recovered, mass))
    return positions


def position_block_parent_mass(first_layer: torch.Tensor, vocab: int, graph: Graph) -> float:
    """The paper's statistic from A¹ = ``first_layer`` [width, width], a disentangled model's first head."""
    T = graph.seq_len
    block = first_layer[vocab : vocab + T, vocab : vocab + T]
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    soft = block.masked_fill(future, float("-inf")).softmax(dim=-1)
    masses = [float(soft[i, sorted(set(p))].sum()) for i, p in enumerate(graph.parents) if p]
    return sum(masses) / len(masses) if masses else float("nan")


def induction_score(pattern: torch.Tensor, tokens: torch.Tensor) -> float:
    """Attention of the best head from the last position onto {j: s_{j-1} = s_{T-1}}, over sequences with one."""
    last = tokens[:, -1:]
    previous_matches = torch.zeros_like(tokens, dtype=torch.bool)
    previous_matches[:, 1:] = tokens[:, :-1] == last
    has_match = previous_matches.any(dim=1)
    if not has_match.any():
        return float("nan")
    mass = (pattern[:, :, -1, :] * previous_matches[:, None, :]).sum(dim=-1)  # [batch, head]
    return float(mass[has_match].mean(dim=0).max())
