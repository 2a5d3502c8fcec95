"""The causal-icl family: training with the paper's recipe or a CPU default, and its probes.

Training (docs/families/causal-icl.md): soft cross-entropy against π(·|parents of the
predicted token) on fresh batches; SGD lr 1 with cosine decay is the paper's
recipe, Adam lr 0.03 with cosine decay the CPU default (measured: SGD barely
moves in 4,000 CPU steps, Adam recovers the chain in them).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch

from probe_models.capabilities import ExposesAttention, MeasuresSharpness, RecoversGraph, RunsWithHooks, ServesOnnx
from probe_models.errors import InvalidInput, UnsupportedProbe
from probe_models.families.causal_icl.config import CausalICLConfig
from probe_models.families.causal_icl.networks import (
    DisentangledTransformer,
    ReadsLastPosition,
    build_network,
    parameter_count,
    pattern_hook,
    scores_hook,
)
from probe_models.families.causal_icl.recovery import induction_score, position_block_parent_mass, recover_parents
from probe_models.families.causal_icl.task import CausalTask, numpy_rng, soft_cross_entropy
from probe_models.family import (
    Evaluation,
    Family,
    GraphRecovery,
    LoadedModel,
    ObjectiveBatch,
    SharpnessData,
    TrainingRun,
)
from probe_models.hooks import HookRun, HookSpec
from probe_models.optim_state import flatten_optimizer_state, load_optimizer_state
from probe_models.seeding import derive_seed

EVAL_SEQUENCES = 1024
CHUNK = 4096


@functools.lru_cache(maxsize=64)
def causal_task(config: CausalICLConfig, seed: int) -> CausalTask:
    return CausalTask(config, seed)


def _make_optimizer(config: CausalICLConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    params = list(model.parameters())
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def learning_rate(config: CausalICLConfig, step: int, steps: int) -> float:
    if config.schedule == "constant":
        return config.lr
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))


@torch.no_grad()
def measure(
    module: torch.nn.Module, config: CausalICLConfig, task: CausalTask, n: int, rng: np.random.Generator
) -> GraphRecovery:
    """Loss, Bayes loss, next-token accuracy and the graph read off attention, on n fresh sequences."""
    assert isinstance(module, ReadsLastPosition)
    batch = task.sample(n, rng)
    device = next(module.parameters()).device
    loss_sum, correct = 0.0, 0
    patterns: dict[str, list[torch.Tensor]] = {}
    for start in range(0, n, CHUNK):
        tokens = batch.tokens[start : start + CHUNK].to(device)
        logits, hooks = module.logits_and_attention(tokens)  # one pass for the loss and the graph
        log_probs = logits.log_softmax(dim=-1).cpu()
        targets = batch.targets[start : start + CHUNK]
        loss_sum += float(-(targets * log_probs).sum())
        correct += int((log_probs.argmax(dim=-1) == batch.next_tokens[start : start + CHUNK]).sum())
        for name, tensor in hooks.items():
            if name.endswith("hook_pattern"):
                patterns.setdefault(name, []).append(tensor.cpu())
    attention = {name: torch.cat(parts) for name, parts in patterns.items()}
    bayes = torch.from_numpy(task.bayes(batch.tokens.numpy())).float()
    bayes_loss = float(-(batch.targets * bayes.log()).sum(dim=-1).mean())
    induction = None
    if len(attention) > 1 and task.graph.name == "chain":
        induction = induction_score(attention[pattern_hook(1)], batch.tokens)
    metrics = {
        "test_accuracy": correct / n,
        "bayes_accuracy": float((bayes.argmax(dim=-1) == batch.next_tokens).float().mean()),
    }
    if isinstance(module, DisentangledTransformer):
        metrics["a1_parent_mass"] = position_block_parent_mass(module.A[0][0].cpu(), config.vocab_size, task.graph)
    return GraphRecovery(
        graph=task.graph.name,
        layer=0,
        positions=recover_parents(attention[pattern_hook(0)], task.graph),
        induction_score=induction,
        test_loss=loss_sum / n,
        bayes_loss=bayes_loss,
        metrics=metrics,
    )


def recovery_metrics(recovery: GraphRecovery) -> dict[str, float]:
    """A recovery as flat metrics, for progress events and evaluation."""
    metrics = {
        "test_loss": recovery.test_loss,
        "bayes_loss": recovery.bayes_loss,
        "loss_over_bayes": recovery.test_loss / recovery.bayes_loss,
        "parent_accuracy": recovery.accuracy,
        "parent_mass": recovery.parent_mass,
        **recovery.metrics,
    }
    if recovery.induction_score is not None:
        metrics["induction_score"] = recovery.induction_score
    return metrics


class CausalICLRun(TrainingRun):
    def __init__(self, config: CausalICLConfig, seed: int, steps: int, device: torch.device) -> None:
        self.config, self.seed, self.steps, self.device = config, seed, steps, device
        self.task = CausalTask(config, seed)
        self.model = build_network(config, derive_seed(seed, "init")).to(device)
        self.optimizer = _make_optimizer(config, self.model)

    def objective_batch(self, step: int) -> ObjectiveBatch:
        batch = self.task.sample(self.config.batch_size, numpy_rng(self.seed, "train", step))
        tokens, targets = batch.tokens.to(self.device), batch.targets.to(self.device)

        def score(module: torch.nn.Module) -> tuple[torch.Tensor, None]:
            return soft_cross_entropy(module(tokens).log_softmax(dim=-1), targets), None

        return ObjectiveBatch(score, len(targets))

    def train_step(self, step: int) -> dict[str, float]:
        lr = learning_rate(self.config, step, self.steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = self.task.sample(self.config.batch_size, numpy_rng(self.seed, "train", step))
        self.model.train()
        log_probs = self.model(batch.tokens.to(self.device)).log_softmax(dim=-1)
        loss = soft_cross_entropy(log_probs, batch.targets.to(self.device))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": float(loss.detach()), "lr": lr}

    def evaluate(self) -> dict[str, float]:
        self.model.eval()
        rng = numpy_rng(self.seed, "eval")
        return recovery_metrics(measure(self.model, self.config, self.task, EVAL_SEQUENCES, rng))

    def optimizer_state(self) -> dict[str, torch.Tensor]:
        return flatten_optimizer_state(self.optimizer)

    def restore(self, step: int, weights: dict[str, torch.Tensor], optimizer: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict({k: v.to(self.device) for k, v in weights.items()})
        load_optimizer_state(self.optimizer, optimizer)


class CausalICL(Family, ExposesAttention, RecoversGraph, MeasuresSharpness, ServesOnnx, RunsWithHooks):
    name = "causal-icl"
    description = "Transformers learning the latent causal graph of in-context Markov sequences"
    paper = "Nichani, Damian, Lee (2024). How Transformers Learn Causal Structure with Gradient Descent"
    config_cls = CausalICLConfig
    default_steps = 4000

    def has_classes(self, config: CausalICLConfig) -> bool:
        return False  # the target is the next token's distribution, π(·|parents): there is nothing to be right about

    run_cls = CausalICLRun

    def architecture(self, config: CausalICLConfig, seed: int) -> torch.nn.Module:
        return build_network(config, derive_seed(seed, "init"))

    def parameter_count(self, config: CausalICLConfig) -> int:
        return parameter_count(config)

    def evaluate(self, model: LoadedModel, num_sequences: int, eval_seed: int) -> Evaluation:
        task = causal_task(model.config, model.seed)
        recovery = measure(model.module, model.config, task, num_sequences, numpy_rng(eval_seed, "evaluate"))
        metrics = recovery_metrics(recovery)
        return Evaluation(accuracy=metrics["test_accuracy"], loss=recovery.test_loss, metrics=metrics)

    def recover_graph(self, model: LoadedModel, num_sequences: int, seed: int) -> GraphRecovery:
        task = causal_task(model.config, model.seed)
        return measure(model.module, model.config, task, num_sequences, numpy_rng(seed, "recover-graph"))

    def true_parents(self, model: LoadedModel) -> list[tuple[int, ...]]:
        return list(causal_task(model.config, model.seed).graph.parents)

    def serving_module(self, model: LoadedModel) -> tuple[torch.nn.Module, torch.Tensor]:
        example = causal_task(model.config, model.seed).sample(2, numpy_rng(0, "example")).tokens
        return model.module, example

    def attention_hooks(self, model: LoadedModel) -> dict[str, int]:
        counts = model.config.head_counts
        return {hook(layer): counts[layer] for layer in range(len(counts)) for hook in (pattern_hook, scores_hook)}

    def sample_sequences(self, model: LoadedModel, num_sequences: int, seed: int) -> torch.Tensor:
        return causal_task(model.config, model.seed).sample(num_sequences, numpy_rng(seed, "attention")).tokens

    def check_tokens(self, model: LoadedModel, tokens: torch.Tensor) -> None:
        S, T = model.config.vocab_size, model.config.seq_len
        if tokens.ndim != 2 or not 1 <= tokens.shape[1] <= T:
            raise InvalidInput(
                f"tokens must be shaped [batch, seq_len] with 1 <= seq_len <= {T}, got {list(tokens.shape)}"
            )
        if int(tokens.min()) < 0 or int(tokens.max()) >= S:
            raise InvalidInput(f"token ids must lie in [0, {S - 1}] (vocab size {S})")

    @torch.no_grad()
    def run_with_attention(self, model: LoadedModel, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        module = model.module
        assert isinstance(module, ReadsLastPosition)
        return {name: a.cpu() for name, a in module.attention(tokens.to(model.device)).items()}

    def query_positions(self, model: LoadedModel, seq_len: int) -> list[int]:
        return list(range(seq_len))

    def sharpness_data(
        self, model: LoadedModel, num_examples: int, seed: int, whole_training_set: bool = False
    ) -> SharpnessData:
        if whole_training_set:
            raise UnsupportedProbe("causal-icl trains on fresh sequences every step: it has no finite training set")
        batch = causal_task(model.config, model.seed).sample(num_examples, numpy_rng(seed, "sharpness"))

        def loss(module: torch.nn.Module, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return soft_cross_entropy(module(tokens).log_softmax(dim=-1), targets)

        return SharpnessData(
            batch.tokens, batch.targets, loss, f"{num_examples} training sequences drawn with seed {seed}"
        )

    # RunWithCache, Intervene and PatchSweep: every activation of either network (networks.py lists them)

    def hook_specs(self, model: LoadedModel, seq_len: int) -> list[HookSpec]:
        assert isinstance(model.module, ReadsLastPosition)
        return model.module.hook_specs(seq_len)

    def token_limits(self, model: LoadedModel) -> tuple[int, int, int]:
        return model.config.vocab_size, model.config.seq_len, model.config.seq_len  # the graph spans all T

    def logits_shape(self, model: LoadedModel, seq_len: int) -> tuple[int, ...]:
        return (model.config.vocab_size,)  # the last position's prediction only

    def sample_tokens(self, model: LoadedModel, num_sequences: int, seed: int) -> torch.Tensor:
        return causal_task(model.config, model.seed).sample(num_sequences, numpy_rng(seed, "activations")).tokens

    def transformer_lens_export(self, model: LoadedModel) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        if model.config.model == "disentangled":
            raise UnsupportedProbe("causal-icl's disentangled transformer does not map onto TransformerLens: its "
                                   "residual concatenates every layer's heads instead of adding them")  # fmt: skip
        raise UnsupportedProbe("causal-icl's standard transformer does not map exactly onto TransformerLens: its "
                               "block computes h + MLP(attn_out), with attn_out itself never added to the residual; "
                               "only the first block's attention hooks match (ListHooks flags them)")  # fmt: skip

    def run_hooked(
        self, model: LoadedModel, tokens: torch.Tensor, hooks: HookRun, targets_of: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The last position's logits [b, S], and the cross-entropy against the Bayes predictor's distribution
        for ``targets_of``: the expected training loss given the sequence, since π is not known from tokens."""
        module = model.module
        assert isinstance(module, ReadsLastPosition)
        task = causal_task(model.config, model.seed)
        bayes = torch.from_numpy(task.bayes((tokens if targets_of is None else targets_of).numpy())).float()
        with torch.no_grad():
            logits = module.hooked(tokens.to(model.device), hooks)
        return logits, -(bayes.to(logits.device) * logits.log_softmax(dim=-1)).sum(dim=-1)
