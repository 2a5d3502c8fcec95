"""The baselines MeZO is compared with that need no fine-tuning: in-context learning and linear probing.

Malladi et al. (2023), Tables 1 and 18: zero-shot (the prompt alone), ICL
(demonstrations "<review> it was <label> ." before the test prompt, as many
as fit the context) and linear probing (a logistic regression on the frozen
model's features at the prompt's last token, fitted on the k-shot set; the
authors use scikit-learn's LogisticRegression). Both run on the pretrained
GPT, on the same k-shot set and test set as the fine-tuning jobs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from probe_models.families.lm_finetune.family import build_model, encoder, prompts, rng
from probe_models.families.lm_finetune.language import LABELS

ICL_CHUNK = 256


def _sequence(tokens: list[int], length: int, pad: int) -> list[int]:
    return tokens + [pad] * (length - len(tokens))


@torch.no_grad()
def icl_accuracy(
    module: torch.nn.Module,
    demonstrations: list[list[int]],
    demo_labels: list[int],
    prompts: list[list[int]],
    labels: list[int],
    label_ids: tuple[int, ...],
    context: int,
    pad_id: int,
    seed: int,
) -> tuple[float, float]:
    """(accuracy, mean demonstrations per prompt) of ICL with balanced demonstrations drawn per prompt.

    Each demonstration's tokens already end with "it was <label> ."; per test prompt, demonstrations are
    drawn alternately from each class in a seeded random order and prepended while the whole fits ``context``.
    """
    rng = np.random.default_rng(seed)
    by_class = [[i for i, y in enumerate(demo_labels) if y == c] for c in range(len(LABELS))]
    rows, lasts, used = [], [], []
    for prompt in prompts:
        pools = [list(rng.permutation(pool)) for pool in by_class]
        tokens, count, turn = list(prompt), 0, int(rng.integers(len(pools)))
        while pools[turn % len(pools)]:
            candidate = demonstrations[pools[turn % len(pools)].pop()]
            if len(candidate) + len(tokens) > context:
                break
            tokens, count, turn = candidate + tokens, count + 1, turn + 1
        rows.append(tokens)
        lasts.append(len(tokens) - 1)
        used.append(count)
    length = max(len(r) for r in rows)
    ids = torch.tensor([_sequence(r, length, pad_id) for r in rows])
    correct = 0
    for start in range(0, len(rows), ICL_CHUNK):
        logits = module(ids[start : start + ICL_CHUNK])
        at_last = logits[torch.arange(len(logits)), torch.tensor(lasts[start : start + ICL_CHUNK])]
        predicted = at_last[:, list(label_ids)].argmax(dim=-1)
        correct += int((predicted == torch.tensor(labels[start : start + ICL_CHUNK])).sum())
    return correct / len(rows), float(np.mean(used))


@torch.no_grad()
def last_token_features(module: torch.nn.Module, ids: torch.Tensor, last: torch.Tensor) -> np.ndarray:
    """The final LayerNorm's output at each prompt's last token: the features the LM head reads."""
    captured: list[torch.Tensor] = []
    final_norm = module.ln_f
    assert isinstance(final_norm, torch.nn.LayerNorm)
    handle = final_norm.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        module(ids)
    finally:
        handle.remove()
    return captured[0][torch.arange(len(ids)), last].double().numpy()


def linear_probe_accuracy(
    train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray
) -> float:
    """Test accuracy of an L2-regularized logistic regression fitted on the k-shot features."""
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(max_iter=5000).fit(train, train_labels)
    return float((classifier.predict(test) == test_labels).mean())


def no_training_baselines(weights: dict[str, torch.Tensor], config: Any, seed: int) -> dict[str, float]:
    """ICL and linear-probing accuracy of the pretrained GPT ``weights`` on the task of a fine-tuning job.

    ``config`` and ``seed`` are the fine-tuning job's: its k-shot set and test set are the ones used here.
    """
    if config.model != "gpt":
        raise ValueError("the baselines read the built-in GPT's ln_f features and its one-token-per-word vocabulary")
    module = build_model(config, seed)
    module.load_state_dict(weights)
    module.eval()
    coder = encoder(config)
    train = prompts(config, config.k_shot, rng(seed, "k-shot"), per_class=True)
    test = prompts(config, config.test_examples, rng(seed, "test"))

    def tokens(batch: Any) -> list[list[int]]:
        return [batch.ids[i, : int(batch.last[i]) + 1].tolist() for i in range(len(batch))]

    demos = [t + coder.encode((LABELS[int(y)], ".")) for t, y in zip(tokens(train), train.labels, strict=True)]
    icl, shots = icl_accuracy(
        module, demos, train.labels.tolist(), tokens(test), test.labels.tolist(), coder.label_ids,
        config.context, coder.pad_id, seed,
    )  # fmt: skip
    probe = linear_probe_accuracy(
        last_token_features(module, train.ids, train.last), train.labels.numpy(),
        last_token_features(module, test.ids, test.last), test.labels.numpy(),
    )  # fmt: skip
    return {"icl_accuracy": icl, "icl_demonstrations": shots, "icl_context": float(config.context),
            "linear_probe_accuracy": probe}  # fmt: skip
