"""The lm-finetune family: a causal LM pretrained on a synthetic corpus, then fine-tuned by prompt.

docs/families/lm-finetune.md. ``mode=pretrain`` trains the GPT by backprop on next-token
prediction over the corpus of :mod:`language`; ``mode=finetune`` starts from
a pretrain checkpoint (the job's init_checkpoint) or a local Hugging Face
model and learns the sentiment task from ``k_shot`` examples per class, with
the prompt "<review> it was" and the label words terrible / great: the loss
is the cross-entropy of the two label words' logits at the prompt's last
token (LM-BFF / MeZO's prompt-based fine-tuning). Zero-shot accuracy is the
same readout before any fine-tuning.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from probe_models.capabilities import MeasuresSharpness, RunsWithHooks
from probe_models.errors import UnsupportedProbe
from probe_models.families.lm_finetune.config import LMFinetuneConfig
from probe_models.families.lm_finetune.hf import HFEncoder, hf_parameter_count, load_hf_model
from probe_models.families.lm_finetune.language import (
    LABELS,
    PAD,
    PROMPT,
    VOCABULARY,
    CorpusStyle,
    corpus_rule_accuracy,
    document,
    task_review,
)
from probe_models.families.lm_finetune.networks import GPT, gpt_parameter_count
from probe_models.families.lm_finetune.transformer_lens import transformer_lens_config, transformer_lens_state
from probe_models.family import Evaluation, Family, LoadedModel, ObjectiveBatch, SharpnessData, TrainingRun
from probe_models.hooks import HookRun, HookSpec
from probe_models.optim_state import flatten_optimizer_state, load_optimizer_state
from probe_models.seeding import derive_seed

EVAL_SEQUENCES = 256  # held-out corpus sequences for the LM loss
EVAL_CHUNK = 512
WARMUP = 0.05  # pretraining: linear warmup over this share of steps, then cosine to 10%


class VocabEncoder:
    """The GPT's own vocabulary: one token per word."""

    pad_id = VOCABULARY.index(PAD)
    label_ids = tuple(VOCABULARY.index(w) for w in LABELS)
    _index = {w: i for i, w in enumerate(VOCABULARY)}

    def encode(self, words: tuple[str, ...]) -> list[int]:
        return [self._index[w] for w in words]


Encoder = VocabEncoder | HFEncoder


@functools.lru_cache(maxsize=8)
def encoder(config: LMFinetuneConfig) -> Encoder:
    return HFEncoder(config.hf_path) if config.model == "hf" else VocabEncoder()


def style(config: LMFinetuneConfig) -> CorpusStyle:
    return CorpusStyle(config.review_fraction, config.label_rate, config.label_sharpness, config.label_bias)


def rng(seed: int, *stream: int | str) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, *stream))


def build_model(config: LMFinetuneConfig, seed: int) -> torch.nn.Module:
    if config.model == "hf":
        return load_hf_model(config.hf_path)
    with torch.random.fork_rng(devices=[]):  # the initialization leaves the caller's global RNG alone
        torch.manual_seed(derive_seed(seed, "init"))
        return GPT(len(VOCABULARY), config.context, config.n_layers, config.d_model, config.n_heads)


@dataclass
class Prompts:
    """Task reviews as prompts: right-padded ids, where each prompt ends, and the labels."""

    ids: torch.Tensor  # int64 [n, length]
    last: torch.Tensor  # int64 [n]
    labels: torch.Tensor  # int64 [n]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> Prompts:
        return Prompts(self.ids[index], self.last[index], self.labels[index])

    def to(self, device: torch.device) -> Prompts:
        return Prompts(self.ids.to(device), self.last.to(device), self.labels.to(device))


def prompts(config: LMFinetuneConfig, n: int, generator: np.random.Generator, per_class: bool = False) -> Prompts:
    """``n`` task reviews (``n`` per class when ``per_class``) followed by "it was"."""
    reviews = []
    if per_class:
        wanted = {0: n, 1: n}
        while wanted[0] or wanted[1]:
            item = task_review(generator)
            if wanted[item.label]:
                reviews.append(item)
                wanted[item.label] -= 1
    else:
        reviews = [task_review(generator) for _ in range(n)]
    coder = encoder(config)
    encoded = [coder.encode((*r.words, *PROMPT)) for r in reviews]
    length = max(len(e) for e in encoded)
    ids = torch.full((len(encoded), length), coder.pad_id, dtype=torch.int64)
    for row, tokens in enumerate(encoded):
        ids[row, : len(tokens)] = torch.tensor(tokens)
    last = torch.tensor([len(e) - 1 for e in encoded])
    return Prompts(ids, last, torch.tensor([r.label for r in reviews]))


def label_logits(module: torch.nn.Module, batch: Prompts, label_ids: tuple[int, ...]) -> torch.Tensor:
    """[n, 2]: the logits of terrible and great after each prompt."""
    logits = module(batch.ids)
    at_last = logits[torch.arange(len(batch), device=logits.device), batch.last]
    return at_last[:, list(label_ids)]


def corpus_sequences(config: LMFinetuneConfig, n: int, generator: np.random.Generator) -> torch.Tensor:
    """[n, context + 1] token ids, each a window of the corpus starting at a document."""
    coder, writers, rows = encoder(config), style(config), []
    for _ in range(n):
        tokens: list[int] = []
        while len(tokens) < config.context + 1:
            tokens += coder.encode(document(generator, writers))
        rows.append(tokens[: config.context + 1])
    return torch.tensor(rows, dtype=torch.int64)


def next_token_loss(module: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = module(inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


@torch.no_grad()
def prompt_metrics(module: torch.nn.Module, batch: Prompts, label_ids: tuple[int, ...]) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of the label-word readout."""
    correct, loss = 0, 0.0
    for start in range(0, len(batch), EVAL_CHUNK):
        part = batch.subset(torch.arange(start, min(start + EVAL_CHUNK, len(batch))))
        logits = label_logits(module, part, label_ids)
        correct += int((logits.argmax(dim=-1) == part.labels).sum())
        loss += float(F.cross_entropy(logits, part.labels, reduction="sum"))
    return correct / len(batch), loss / len(batch)


@torch.no_grad()
def corpus_loss(module: torch.nn.Module, sequences: torch.Tensor) -> float:
    total = 0.0
    for start in range(0, len(sequences), EVAL_CHUNK):
        part = sequences[start : start + EVAL_CHUNK]
        total += float(next_token_loss(module, part[:, :-1], part[:, 1:])) * len(part)
    return total / len(sequences)


class LMFinetuneRun(TrainingRun):
    def __init__(self, config: LMFinetuneConfig, seed: int, steps: int, device: torch.device) -> None:
        self.config, self.seed, self.steps, self.device = config, seed, steps, device
        self.label_ids = encoder(config).label_ids
        self.model = build_model(config, seed).to(device)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if config.optimizer == "sgd":
            self.optimizer: torch.optim.Optimizer = torch.optim.SGD(params, lr=config.lr)
        else:
            self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.test = prompts(config, config.test_examples, rng(seed, "test")).to(device)
        if config.mode == "pretrain":
            self.held_out = corpus_sequences(config, EVAL_SEQUENCES, rng(seed, "held-out")).to(device)
        else:
            self.train_set = prompts(config, config.k_shot, rng(seed, "k-shot"), per_class=True).to(device)

    def learning_rate(self, step: int) -> float:
        if self.config.mode != "pretrain":
            return self.config.lr
        warmup = max(1, int(WARMUP * self.steps))
        if step < warmup:
            return self.config.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, self.steps - warmup)
        return self.config.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))

    def objective_batch(self, step: int) -> ObjectiveBatch:
        if self.config.mode == "pretrain":
            sequences = corpus_sequences(self.config, self.config.batch_size, rng(self.seed, "corpus", step))
            sequences = sequences.to(self.device)

            def lm_score(module: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
                logits = module(sequences[:, :-1])
                targets = sequences[:, 1:]
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
                return loss, (logits.argmax(dim=-1) == targets).reshape(-1)

            return ObjectiveBatch(lm_score, len(sequences))
        n = len(self.train_set)
        if self.config.batch_size >= n:
            batch = self.train_set
        else:
            order = rng(self.seed, "batch", step).permutation(n)[: self.config.batch_size]
            batch = self.train_set.subset(torch.from_numpy(order).to(self.device))

        def prompt_score(module: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
            logits = label_logits(module, batch, self.label_ids)
            return F.cross_entropy(logits, batch.labels), logits.argmax(dim=-1) == batch.labels

        return ObjectiveBatch(prompt_score, len(batch))

    def train_step(self, step: int) -> dict[str, float]:
        lr = self.learning_rate(step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        loss, _ = self.objective_batch(step).score(self.model)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": float(loss.detach()), "lr": lr}

    def evaluate(self) -> dict[str, float]:
        self.model.eval()
        accuracy, loss = prompt_metrics(self.model, self.test, self.label_ids)
        metrics = {"prompt_accuracy": accuracy, "prompt_loss": loss}
        if self.config.mode == "pretrain":
            metrics["lm_loss"] = corpus_loss(self.model, self.held_out)
        else:
            metrics["train_accuracy"] = prompt_metrics(self.model, self.train_set, self.label_ids)[0]
        return metrics

    def optimizer_state(self) -> dict[str, torch.Tensor]:
        return flatten_optimizer_state(self.optimizer)

    def restore(self, step: int, weights: dict[str, torch.Tensor], optimizer: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict({k: v.to(self.device) for k, v in weights.items()})
        load_optimizer_state(self.optimizer, optimizer)


class LMFinetune(Family, MeasuresSharpness, RunsWithHooks):
    name = "lm-finetune"
    description = "A small causal LM pretrained on a synthetic language, fine-tuned by prompt (MeZO or backprop)"
    paper = (
        "Malladi, Gao, Nichani, Damian, Lee, Chen, Arora (2023). Fine-Tuning Language Models with Just Forward Passes"
    )
    config_cls = LMFinetuneConfig
    default_steps = 1000

    run_cls = LMFinetuneRun

    def builds_from_server_files(self, config: LMFinetuneConfig) -> bool:
        return config.model == "hf"

    def parameter_count(self, config: LMFinetuneConfig) -> int:
        if config.model == "hf":
            return hf_parameter_count(config.hf_path)
        return gpt_parameter_count(len(VOCABULARY), config.context, config.n_layers, config.d_model)

    def architecture(self, config: LMFinetuneConfig, seed: int) -> torch.nn.Module:
        return build_model(config, seed)

    @torch.no_grad()
    def evaluate(self, model: LoadedModel, num_sequences: int, eval_seed: int) -> Evaluation:
        config = model.config
        test = prompts(config, num_sequences, rng(eval_seed, "eval-prompts")).to(model.device)
        label_ids = encoder(config).label_ids
        accuracy, loss = prompt_metrics(model.module, test, label_ids)
        held_out = corpus_sequences(config, min(num_sequences, EVAL_SEQUENCES), rng(eval_seed, "eval-corpus"))
        metrics = {
            "prompt_accuracy": accuracy,
            "prompt_loss": loss,
            "lm_loss": corpus_loss(model.module, held_out.to(model.device)),
            "corpus_rule_accuracy": corpus_rule_accuracy(style(config)),
            "parameters": float(sum(p.numel() for p in model.module.parameters())),
        }
        return Evaluation(accuracy=accuracy, loss=loss, metrics=metrics)

    def sharpness_data(
        self, model: LoadedModel, num_examples: int, seed: int, whole_training_set: bool = False
    ) -> SharpnessData:
        config = model.config
        label_ids = encoder(config).label_ids

        def loss(module: torch.nn.Module, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            last, labels = targets[:, 0], targets[:, 1]
            return F.cross_entropy(label_logits(module, Prompts(ids, last, labels), label_ids), labels)

        if config.mode == "pretrain":
            if whole_training_set:
                raise UnsupportedProbe("pretraining draws fresh corpus sequences: there is no finite training set")
            sequences = corpus_sequences(config, num_examples, rng(seed, "sharpness"))
            return SharpnessData(sequences[:, :-1], sequences[:, 1:], next_token_loss, f"{num_examples} corpus "
                                 f"sequences drawn with seed {seed}")  # fmt: skip
        if whole_training_set:
            data = prompts(config, config.k_shot, rng(model.seed, "k-shot"), per_class=True)
            described = f"the {len(data)} fine-tuning examples"
        else:
            data = prompts(config, num_examples, rng(seed, "sharpness"))
            described = f"{num_examples} task prompts drawn with seed {seed}"
        return SharpnessData(data.ids, torch.stack([data.last, data.labels], dim=1), loss, described)

    # RunWithCache: the GPT's hook points (a Hugging Face model has none here)

    @staticmethod
    def _gpt(model: LoadedModel) -> GPT:
        if not isinstance(model.module, GPT):
            raise UnsupportedProbe("a Hugging Face model (model=hf) has no hook points here; the GPT (model=gpt) has")
        return model.module

    def hook_specs(self, model: LoadedModel, seq_len: int) -> list[HookSpec]:
        return self._gpt(model).hook_specs(seq_len)

    def token_limits(self, model: LoadedModel) -> tuple[int, int, int]:
        gpt = self._gpt(model)
        return gpt.tokens.num_embeddings, 1, gpt.context

    def logits_shape(self, model: LoadedModel, seq_len: int) -> tuple[int, ...]:
        return seq_len, self._gpt(model).tokens.num_embeddings

    def sample_tokens(self, model: LoadedModel, num_sequences: int, seed: int) -> torch.Tensor:
        self._gpt(model)
        return corpus_sequences(model.config, num_sequences, rng(seed, "activations"))[:, :-1]

    def transformer_lens_export(self, model: LoadedModel) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        gpt = self._gpt(model)
        return transformer_lens_config(gpt), transformer_lens_state(gpt)

    def run_hooked(
        self, model: LoadedModel, tokens: torch.Tensor, hooks: HookRun, targets_of: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Next-token logits at every position, and each sequence's mean next-token loss over its positions."""
        targets = (tokens if targets_of is None else targets_of)[:, 1:].to(model.device)
        with torch.no_grad():
            logits = self._gpt(model)(tokens.to(model.device), hooks)
            losses = F.cross_entropy(logits[:, :-1].transpose(1, 2), targets, reduction="none")
        return logits, losses.mean(dim=1)
