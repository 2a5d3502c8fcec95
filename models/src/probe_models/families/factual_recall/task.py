"""The factual-recall task: a fact table and sequences that ask for one fact each.

Token layout (as in the official code): subjects ``0..S-1``, relations
``S..S+R-1``, noise ``S+R..S+R+n_noise-1``, then EOS. A sequence puts its
subject and its relation at two distinct uniform positions in ``0..T-2``,
noise everywhere else, and EOS at ``T-1``; the target is ``a*(s, r)``, an
answer in relation r's block ``{rD, ..., rD+D-1}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from probe_models.families.factual_recall.config import FactualRecallConfig
from probe_models.seeding import derive_seed, generator


@dataclass
class Batch:
    inputs: torch.Tensor  # (B, T) token ids, or (B, 1) item ids for the memories
    targets: torch.Tensor  # (B,) answer ids
    subjects: torch.Tensor  # (B,)
    relations: torch.Tensor  # (B,)


def _zipf_weights(n: int, exponent: float) -> torch.Tensor:
    return torch.arange(1, n + 1, dtype=torch.float64) ** -exponent


class FactTask:
    """The facts of one seed, and samplers of the sequences that query them."""

    def __init__(self, config: FactualRecallConfig, seed: int) -> None:
        self.config = config
        self.seed = seed
        S, R, D = config.num_subjects, config.num_relations, config.answers_per_relation
        self.eos = config.vocab_size - 1
        self.noise_start = S + R
        subjects = torch.arange(S).unsqueeze(1)
        relations = torch.arange(R).unsqueeze(0)
        if config.fact_table == "structured":
            self.fact_table = relations * D + (subjects * D) // S
        else:
            offsets = torch.randint(0, D, (S, R), generator=generator(seed, "facts"))
            self.fact_table = relations * D + offsets  # (S, R)
        self._fact_table_np = self.fact_table.numpy()
        self._subject_weights = _zipf_weights(S, config.subject_zipf)
        self._relation_weights = _zipf_weights(R, config.relation_zipf)

    @property
    def uses_items(self) -> bool:
        """Associative memories read one item per fact instead of a sequence."""
        return self.config.model in ("linear-am", "mlp-am")

    def answers(self, subjects: torch.Tensor, relations: torch.Tensor) -> torch.Tensor:
        if self.uses_items and self.config.am_target == "identity":
            return subjects * self.config.num_relations + relations
        return self.fact_table[subjects, relations]

    def _draw_pairs(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if self.config.subject_zipf == 0:
            subjects = torch.randint(0, self.config.num_subjects, (n,), generator=gen)
        else:
            subjects = torch.multinomial(self._subject_weights, n, replacement=True, generator=gen)
        if self.config.relation_zipf == 0:
            relations = torch.randint(0, self.config.num_relations, (n,), generator=gen)
        else:
            relations = torch.multinomial(self._relation_weights, n, replacement=True, generator=gen)
        return subjects, relations

    def inputs_for(self, subjects: torch.Tensor, relations: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Inputs that ask for the given facts; noise and positions come from ``gen``."""
        if self.uses_items:
            return (subjects * self.config.num_relations + relations).unsqueeze(1)
        n, T = subjects.shape[0], self.config.seq_len
        tokens = self.noise_start + torch.randint(0, self.config.noise_tokens, (n, T), generator=gen)
        subject_pos = torch.randint(0, T - 1, (n,), generator=gen)
        relation_pos = torch.randint(0, T - 2, (n,), generator=gen)
        relation_pos = relation_pos + (relation_pos >= subject_pos).long()  # distinct from the subject's
        rows = torch.arange(n)
        tokens[rows, subject_pos] = subjects
        tokens[rows, relation_pos] = self.config.num_subjects + relations
        tokens[:, T - 1] = self.eos
        return tokens

    def stored(self, subjects: np.ndarray, relations: np.ndarray) -> np.ndarray:
        """``answers`` in numpy, for serving."""
        if self.uses_items and self.config.am_target == "identity":
            return subjects * self.config.num_relations + relations
        return self._fact_table_np[subjects, relations]

    def query_inputs(self, subjects: np.ndarray, relations: np.ndarray, noise_seed: int) -> np.ndarray:
        """``inputs_for`` in numpy (int64), for serving: the same layout, noise and positions drawn from
        ``noise_seed``'s numpy stream. A query costs no torch op, so a single fact is answered in microseconds."""
        if self.uses_items:
            return (subjects * self.config.num_relations + relations)[:, None]
        n, T = len(subjects), self.config.seq_len
        rng = np.random.Generator(np.random.PCG64(derive_seed(noise_seed, "query")))
        tokens = self.noise_start + rng.integers(0, self.config.noise_tokens, (n, T), dtype=np.int64)
        subject_pos = rng.integers(0, T - 1, n)
        relation_pos = rng.integers(0, T - 2, n)
        relation_pos += relation_pos >= subject_pos  # distinct from the subject's
        rows = np.arange(n)
        tokens[rows, subject_pos] = subjects
        tokens[rows, relation_pos] = self.config.num_subjects + relations
        tokens[:, T - 1] = self.eos
        return tokens

    def sample(self, n: int, gen: torch.Generator) -> Batch:
        subjects, relations = self._draw_pairs(n, gen)
        inputs = self.inputs_for(subjects, relations, gen)
        return Batch(inputs, self.answers(subjects, relations), subjects, relations)

    def all_facts(self, gen: torch.Generator) -> Batch:
        """One query per fact, in (subject, relation) order."""
        S, R = self.config.num_subjects, self.config.num_relations
        subjects = torch.arange(S).repeat_interleave(R)
        relations = torch.arange(R).repeat(S)
        inputs = self.inputs_for(subjects, relations, gen)
        return Batch(inputs, self.answers(subjects, relations), subjects, relations)

    def without(self, inputs: torch.Tensor, part: str) -> torch.Tensor:
        """The sequences with their subject (or relation) token replaced by a noise token."""
        S, R = self.config.num_subjects, self.config.num_relations
        low, high = (0, S) if part == "subject" else (S, S + R)
        hidden = inputs.clone()
        hidden[(inputs >= low) & (inputs < high)] = self.noise_start
        return hidden

    def training_batch(self, step: int) -> Batch:
        return self.sample(self.config.batch_size, generator(self.seed, "train", step))
