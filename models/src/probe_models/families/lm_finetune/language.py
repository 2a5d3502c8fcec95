"""A small synthetic language with reviews in it, so that a prompt-based sentiment task exists.

Reviews are one or two clauses, "the food was very good but the service was
not great"-like, with a sentiment score: each adjective has a polarity, an
adverb scales it, "not" flips and softens it, and "but" weighs the second
clause more than the first. A review's label is the sign of its score.

The pretraining corpus mixes reviews with neutral sentences. After some
reviews a writer adds "it was great ." or "it was terrible .", choosing
"great" with probability σ(a·score + b): the label words follow the sentiment
but with noise and a positive bias b, as people's ratings do. An LM that
learns this corpus therefore classifies by prompt ("<review> it was" → great
or terrible) above chance but with its threshold at score −b/a instead of 0:
the miscalibration fine-tuning corrects (docs/families/lm-finetune.md).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

NOUNS = (
    "food", "service", "movie", "plot", "acting", "music", "room", "staff",
    "price", "view", "story", "ending", "sound", "bed", "menu", "show",
)  # fmt: skip
POLARITY = {
    "good": 1.0, "nice": 1.0, "fine": 0.5, "pleasant": 1.0, "superb": 2.0, "excellent": 2.0, "lovely": 1.5,
    "decent": 0.5, "bad": -1.0, "poor": -1.0, "dull": -1.0, "awful": -2.0, "horrible": -2.0, "mediocre": -0.5,
    "bland": -0.5, "weak": -1.0,
}  # fmt: skip
INTENSITY = {"very": 1.5, "really": 1.5, "quite": 1.0, "slightly": 0.5}
NEGATION = -0.7  # "not good" is less bad than "bad"
CONJUNCTIONS = {"and": (1.0, 1.0), "but": (0.5, 1.5)}
VERBS = ("saw", "visited", "ordered", "watched", "described", "found", "checked", "shared")
NEUTRAL = ("old", "new", "long", "short", "loud", "quiet", "small", "large")
LABELS = ("terrible", "great")  # class 0: negative, class 1: positive
PROMPT = ("it", "was")
PAD = "<pad>"
MARGIN = 0.25  # task reviews have |score| >= MARGIN, so every label is well defined

VOCABULARY = (
    PAD, ".", "the", "not", "we", *PROMPT, *CONJUNCTIONS, *NOUNS, *POLARITY, *INTENSITY, *VERBS, *NEUTRAL,
    *LABELS,
)  # fmt: skip


@dataclass(frozen=True)
class Review:
    words: tuple[str, ...]
    score: float

    @property
    def label(self) -> int:
        return int(self.score > 0)


def _clause(rng: np.random.Generator) -> tuple[list[str], float]:
    words = ["the", NOUNS[rng.integers(len(NOUNS))], "was"]
    value = 1.0
    if rng.random() < 0.5:
        adverb = list(INTENSITY)[rng.integers(len(INTENSITY))]
        words.append(adverb)
        value *= INTENSITY[adverb]
    if rng.random() < 0.25:
        words.append("not")
        value *= NEGATION
    adjective = list(POLARITY)[rng.integers(len(POLARITY))]
    words.append(adjective)
    return words, value * POLARITY[adjective]


def review(rng: np.random.Generator) -> Review:
    """One review, ending with "."."""
    words, score = _clause(rng)
    if rng.random() < 0.6:
        conjunction = list(CONJUNCTIONS)[rng.integers(len(CONJUNCTIONS))]
        first, second = CONJUNCTIONS[conjunction]
        more, value = _clause(rng)
        words, score = [*words, conjunction, *more], first * score + second * value
    return Review((*words, "."), score)


def task_review(rng: np.random.Generator) -> Review:
    """A review whose label is clear: |score| >= MARGIN."""
    while True:
        item = review(rng)
        if abs(item.score) >= MARGIN:
            return item


def neutral_sentence(rng: np.random.Generator) -> tuple[str, ...]:
    if rng.random() < 0.5:
        return ("we", VERBS[rng.integers(len(VERBS))], "the", NOUNS[rng.integers(len(NOUNS))], ".")
    return ("the", NOUNS[rng.integers(len(NOUNS))], "was", NEUTRAL[rng.integers(len(NEUTRAL))], ".")


@dataclass(frozen=True)
class CorpusStyle:
    """How writers of the pretraining corpus behave."""

    review_fraction: float  # documents that are reviews (the rest are neutral sentences)
    label_rate: float  # reviews followed by "it was <label> ."
    label_sharpness: float  # a in P(great) = σ(a·score + b)
    label_bias: float  # b

    def p_great(self, score: float) -> float:
        return 1.0 / (1.0 + math.exp(-(self.label_sharpness * score + self.label_bias)))


def document(rng: np.random.Generator, style: CorpusStyle) -> tuple[str, ...]:
    """One document of the pretraining corpus."""
    if rng.random() >= style.review_fraction:
        return neutral_sentence(rng)
    item = review(rng)
    if rng.random() >= style.label_rate:
        return item.words
    label = LABELS[int(rng.random() < style.p_great(item.score))]
    return (*item.words, *PROMPT, label, ".")


@functools.lru_cache(maxsize=16)
def corpus_rule_accuracy(style: CorpusStyle, samples: int = 20_000, seed: int = 0) -> float:
    """Task accuracy of the corpus writers' most likely label word: the best zero-shot prompting can do.

    A calibrated classifier (threshold 0) scores 1.0 by construction.
    """
    rng = np.random.default_rng(seed)
    scores = np.array([task_review(rng).score for _ in range(samples)])
    return float(np.mean((style.label_sharpness * scores + style.label_bias > 0) == (scores > 0)))
