"""The factual-recall family: training with the paper's recipe, and its probes.

Training (docs/families/factual-recall.md): cross-entropy on fresh online batches; AdamW (wd 0)
with the learning-rate ladder 1e-3, 3e-3, 1e-2 tried in turn until the fact
accuracy reaches 99%; plain GD for the sequential-learning model.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from probe_models.capabilities import AnswersFacts, ExposesAttention, MeasuresSharpness, RunsWithHooks
from probe_models.errors import InvalidInput, UnsupportedProbe
from probe_models.families.factual_recall.config import LADDER_LRS, FactualRecallConfig
from probe_models.families.factual_recall.networks import (
    PATTERN,
    SCORES,
    FactTransformer,
    LinearAttentionRecall,
    build_network,
    paper_parameter_count,
)
from probe_models.families.factual_recall.task import FactTask
from probe_models.family import Evaluation, Family, LoadedModel, ObjectiveBatch, SharpnessData, TrainingRun
from probe_models.hooks import HookRun, HookSpec
from probe_models.optim_state import flatten_optimizer_state, load_optimizer_state
from probe_models.seeding import derive_seed, generator

EVAL_CHUNK = 8192
FRESH_SAMPLES = "factual-recall trains on fresh sequences every step: it has no finite training set; give num_examples"


@functools.lru_cache(maxsize=64)
def fact_task(config: FactualRecallConfig, seed: int) -> FactTask:
    """The task of a checkpoint, made once: serving asks for its fact table on every query."""
    return FactTask(config, seed)


def _make_optimizer(config: FactualRecallConfig, model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "gd":
        return torch.optim.SGD(params, lr=lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=config.weight_decay)


@torch.no_grad()
def fact_accuracy(
    model: torch.nn.Module, task: FactTask, gen: torch.Generator, device: torch.device, hide: str = ""
) -> tuple[float, float]:
    """Accuracy and mean loss over every fact, one query sequence each.

    ``hide="subject"`` (or ``"relation"``) replaces that token by noise: the
    loss then says what the model predicts from the other token alone.
    """
    batch = task.all_facts(gen)
    inputs = task.without(batch.inputs, hide) if hide else batch.inputs
    correct, loss_sum = 0, 0.0
    for start in range(0, batch.targets.shape[0], EVAL_CHUNK):
        logits = model(inputs[start : start + EVAL_CHUNK].to(device))
        targets = batch.targets[start : start + EVAL_CHUNK].to(device)
        correct += int((logits.argmax(dim=-1) == targets).sum())
        loss_sum += float(F.cross_entropy(logits, targets, reduction="sum"))
    n = batch.targets.shape[0]
    return correct / n, loss_sum / n


class FactualRecallRun(TrainingRun):
    def __init__(self, config: FactualRecallConfig, seed: int, steps: int, device: torch.device) -> None:
        self.config, self.seed, self.steps, self.device = config, seed, steps, device
        self.task = FactTask(config, seed)
        self._done = False
        self._start_attempt(0)

    def _start_attempt(self, attempt: int) -> None:
        self.attempt = attempt
        self.lr = LADDER_LRS[attempt] if self.config.lr_ladder else self.config.lr
        self.model = build_network(self.config, self.seed, derive_seed(self.seed, "init", attempt)).to(self.device)
        self.optimizer = _make_optimizer(self.config, self.model, self.lr)

    @property
    def max_steps(self) -> int:
        return self.steps * len(LADDER_LRS) if self.config.lr_ladder else self.steps

    @property
    def finished(self) -> bool:
        return self._done

    def objective_batch(self, step: int) -> ObjectiveBatch:
        batch = self.task.training_batch(step)
        inputs, targets = batch.inputs.to(self.device), batch.targets.to(self.device)

        def score(module: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
            logits = module(inputs)
            return F.cross_entropy(logits, targets), logits.argmax(dim=-1) == targets

        return ObjectiveBatch(score, len(targets))

    def train_step(self, step: int) -> dict[str, float]:
        batch = self.task.training_batch(step)  # drawn on the CPU, so every device sees the same data
        self.model.train()
        loss = F.cross_entropy(self.model(batch.inputs.to(self.device)), batch.targets.to(self.device))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        metrics = {"loss": float(loss.detach()), "lr": self.lr, "attempt": float(self.attempt)}
        if self.config.lr_ladder and (step + 1) % self.steps == 0:
            accuracy = self.evaluate()["fact_accuracy"]
            if accuracy >= self.config.target_accuracy or self.attempt + 1 == len(LADDER_LRS):
                self._done = True
            else:
                self._start_attempt(self.attempt + 1)
        return metrics

    def evaluate(self) -> dict[str, float]:
        self.model.eval()
        accuracy, loss = fact_accuracy(self.model, self.task, generator(self.seed, "eval"), self.device)
        metrics = {"fact_accuracy": accuracy, "fact_loss": loss}
        if not self.task.uses_items:  # the sequential-learning picture: what each token alone explains
            for hide, name in (("subject", "relation_only_loss"), ("relation", "subject_only_loss")):
                metrics[name] = fact_accuracy(self.model, self.task, generator(self.seed, "eval"), self.device, hide)[1]
        return metrics

    def optimizer_state(self) -> dict[str, torch.Tensor]:
        return flatten_optimizer_state(self.optimizer)

    def restore(self, step: int, weights: dict[str, torch.Tensor], optimizer: dict[str, torch.Tensor]) -> None:
        attempt = min(step // self.steps, len(LADDER_LRS) - 1) if self.config.lr_ladder else 0
        self._start_attempt(attempt)
        self.model.load_state_dict({k: v.to(self.device) for k, v in weights.items()})
        load_optimizer_state(self.optimizer, optimizer)


class FactualRecall(Family, AnswersFacts, ExposesAttention, MeasuresSharpness, RunsWithHooks):
    name = "factual-recall"
    description = "Factual recall with associative memories and a one-layer transformer"
    paper = "Nichani, Lee, Bietti (2024). Understanding Factual Recall in Transformers via Associative Memories"
    config_cls = FactualRecallConfig
    default_steps = 1000

    run_cls = FactualRecallRun

    def architecture(self, config: FactualRecallConfig, seed: int) -> torch.nn.Module:
        return build_network(config, seed, derive_seed(seed, "init", 0))

    def parameter_count(self, config: FactualRecallConfig) -> int:
        d, m, answers = config.d_model, config.mlp_width, config.num_answers
        if config.model == "linear-attention":
            return config.vocab_size * (config.vocab_size + answers)
        frozen_inputs = config.num_facts if config.model in ("linear-am", "mlp-am") else config.vocab_size
        frozen = (frozen_inputs + answers) * d
        mlp = 2 * m * d + m if m > 0 else 0
        if config.model == "linear-am":
            return frozen + d * d
        if config.model == "mlp-am":
            return frozen + mlp
        return frozen + 4 * config.num_heads * config.head_dim * d + mlp

    @torch.no_grad()
    def evaluate(self, model: LoadedModel, num_sequences: int, eval_seed: int) -> Evaluation:
        task = fact_task(model.config, model.seed)
        accuracy, fact_loss = fact_accuracy(model.module, task, generator(eval_seed, "eval-facts"), model.device)
        gen = generator(eval_seed, "eval-test")
        loss_sum, correct = 0.0, 0
        for start in range(0, num_sequences, EVAL_CHUNK):
            batch = task.sample(min(EVAL_CHUNK, num_sequences - start), gen)
            logits = model.module(batch.inputs.to(model.device))
            targets = batch.targets.to(model.device)
            loss_sum += float(F.cross_entropy(logits, targets, reduction="sum"))
            correct += int((logits.argmax(-1) == targets).sum())
        metrics = {
            "fact_accuracy": accuracy,
            "fact_loss": fact_loss,
            "test_accuracy": correct / num_sequences,
            "num_facts": float(model.config.num_facts),
            "log_answers_per_relation": float(np.log(model.config.answers_per_relation)),
            "paper_parameters": float(paper_parameter_count(model.config)),
            "trainable_parameters": float(sum(p.numel() for p in model.module.parameters() if p.requires_grad)),
        }
        return Evaluation(accuracy=accuracy, loss=loss_sum / num_sequences, metrics=metrics)

    def serving_module(self, model: LoadedModel) -> tuple[torch.nn.Module, torch.Tensor]:
        task = fact_task(model.config, model.seed)
        example = task.sample(2, generator(0, "example")).inputs
        return model.module, example

    def fact_count(self, config: FactualRecallConfig) -> tuple[int, int, int]:
        return config.num_subjects, config.num_relations, config.num_answers

    def fact_inputs(
        self, config: FactualRecallConfig, seed: int, subjects: np.ndarray, relations: np.ndarray, noise_seed: int
    ) -> np.ndarray:
        return fact_task(config, seed).query_inputs(subjects, relations, noise_seed)

    def stored_answers(
        self, config: FactualRecallConfig, seed: int, subjects: np.ndarray, relations: np.ndarray
    ) -> np.ndarray:
        return fact_task(config, seed).stored(subjects, relations)

    def _require_attention(self, model: LoadedModel) -> None:
        if not hasattr(model.module, "attention"):
            raise UnsupportedProbe(
                f"model {model.config.model!r} has no attention; use transformer or linear-attention"
            )

    def attention_hooks(self, model: LoadedModel) -> dict[str, int]:
        self._require_attention(model)
        heads = model.config.num_heads if model.config.model == "transformer" else 1
        return {PATTERN: heads, SCORES: heads}

    def sample_sequences(self, model: LoadedModel, num_sequences: int, seed: int) -> torch.Tensor:
        self._require_attention(model)
        return fact_task(model.config, model.seed).sample(num_sequences, generator(seed, "attention")).inputs

    def check_tokens(self, model: LoadedModel, tokens: torch.Tensor) -> None:
        self._require_attention(model)
        vocab = model.config.vocab_size
        if tokens.ndim != 2 or tokens.shape[1] < 2:
            raise InvalidInput(f"tokens must be shaped [batch, seq_len >= 2], got {list(tokens.shape)}")
        if int(tokens.min()) < 0 or int(tokens.max()) >= vocab:
            raise InvalidInput(f"token ids must lie in [0, {vocab - 1}] (vocab size {vocab})")

    @torch.no_grad()
    def run_with_attention(self, model: LoadedModel, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        self._require_attention(model)
        module = model.module
        assert isinstance(module, (FactTransformer, LinearAttentionRecall))
        return {name: a.cpu() for name, a in module.attention(tokens.to(model.device)).items()}

    def query_positions(self, model: LoadedModel, seq_len: int) -> list[int]:
        return [seq_len - 1]  # only the last token (EOS) queries

    def sharpness_data(
        self, model: LoadedModel, num_examples: int, seed: int, whole_training_set: bool = False
    ) -> SharpnessData:
        if whole_training_set:
            raise UnsupportedProbe(FRESH_SAMPLES)
        batch = fact_task(model.config, model.seed).sample(num_examples, generator(seed, "sharpness"))

        def loss(module: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(module(inputs), targets)

        return SharpnessData(
            batch.inputs, batch.targets, loss, f"{num_examples} training sequences drawn with seed {seed}"
        )

    # RunWithCache, Intervene and PatchSweep: the transformer's hook points (the memories have none)

    @staticmethod
    def _transformer(model: LoadedModel) -> FactTransformer:
        if not isinstance(model.module, FactTransformer):
            raise UnsupportedProbe(f"model {model.config.model!r} has no hook points; the transformer has")
        return model.module

    def hook_specs(self, model: LoadedModel, seq_len: int) -> list[HookSpec]:
        return self._transformer(model).hook_specs(seq_len)

    def token_limits(self, model: LoadedModel) -> tuple[int, int, int]:
        self._transformer(model)
        return model.config.vocab_size, 2, model.config.seq_len  # no positional embedding: any length up to T

    def logits_shape(self, model: LoadedModel, seq_len: int) -> tuple[int, ...]:
        return (model.config.num_answers,)

    def sample_tokens(self, model: LoadedModel, num_sequences: int, seed: int) -> torch.Tensor:
        self._transformer(model)
        return fact_task(model.config, model.seed).sample(num_sequences, generator(seed, "activations")).inputs

    def transformer_lens_export(self, model: LoadedModel) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        self._transformer(model)  # the memories have no hook points at all, and say so
        raise UnsupportedProbe("factual-recall's transformer does not map onto TransformerLens: only EOS "
                               "queries, and there is no residual from the embedding")  # fmt: skip

    def run_hooked(
        self, model: LoadedModel, tokens: torch.Tensor, hooks: HookRun, targets_of: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The answer logits [b, answers], and the cross-entropy against the stored answer of the fact each
        sequence of ``targets_of`` asks (its first subject and first relation token); NaN where it asks none."""
        config = model.config
        asking = (tokens if targets_of is None else targets_of).cpu()
        S, R = config.num_subjects, config.num_relations
        is_subject, is_relation = asking < S, (asking >= S) & (asking < S + R)
        asks = is_subject.any(dim=1) & is_relation.any(dim=1)
        subjects = torch.where(asks, asking.gather(1, is_subject.int().argmax(1, keepdim=True))[:, 0], 0)
        relations = torch.where(asks, asking.gather(1, is_relation.int().argmax(1, keepdim=True))[:, 0] - S, 0)
        answers = fact_task(config, model.seed).answers(subjects, relations)
        with torch.no_grad():
            logits = self._transformer(model).hooked(tokens.to(model.device), hooks)
            loss = F.cross_entropy(logits, answers.to(logits.device), reduction="none")
        return logits, torch.where(asks.to(loss.device), loss, torch.nan)
