"""Interventions and activation patching over a family's hook points (:mod:`probe_models.hooks`).

An intervention runs a batch twice, clean and with typed edits, and returns both. A patching sweep runs the
corrupt batch once per cell (a position or a head of one hook per layer), with that cell's activation
patched in from the clean batch, and returns the loss against the clean batch's targets for every cell: the
matrix activation-patching plots draw. The sweep replicates the batch once per cell and patches each copy at
its own cell through one mask, so a forward pass covers as many cells as the row budget allows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import torch

from probe_models.capabilities import RunsWithHooks
from probe_models.errors import InvalidInput, TooLarge
from probe_models.family import LoadedModel
from probe_models.hooks import POSITION_AXES, Edit, HookRun, HookSpec, check_edits, select

SWEEP_AXES = {"position": POSITION_AXES, "head": ("head",)}


@dataclass
class HookedRun:
    logits: torch.Tensor
    loss: torch.Tensor  # per sequence, against the targets of the tokens the loss was asked on
    cache: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class PatchSweep:
    hooks: list[str]  # the matrix's rows, one hook each
    axis: str  # "position" or "head": what its columns index
    loss: torch.Tensor  # [rows, cells]: the corrupt batch's mean loss with that cell patched from the clean batch
    clean_loss: float  # the clean batch's mean loss
    corrupt_loss: float  # the corrupt batch's, against the clean batch's targets
    # Means skip sequences whose loss is NaN (a factual-recall sequence that asks no fact). A position sweep has a
    # column per position; a row with fewer positions (factual-recall's EOS-only hooks) holds the last ones and
    # NaN before them. A head row with fewer heads than the widest is NaN on the right.


def hooked_run(
    family: RunsWithHooks,
    model: LoadedModel,
    tokens: torch.Tensor,
    keep: Collection[str] = (),
    edits: Sequence[Edit] = (),
    source: dict[str, torch.Tensor] | None = None,
    targets_of: torch.Tensor | None = None,
) -> HookedRun:
    """One forward pass through the hook points: the logits, the loss per sequence and the kept activations."""
    specs = {s.name: s for s in family.hook_specs(model, tokens.shape[1])}
    hooks = HookRun(specs, keep=frozenset(keep), edits=edits, source=source or {})
    logits, loss = family.run_hooked(model, tokens, hooks, targets_of)
    return HookedRun(logits, loss, hooks.cache)


def intervene(
    family: RunsWithHooks,
    model: LoadedModel,
    tokens: torch.Tensor,
    edits: Sequence[Edit],
    keep: Collection[str] = (),
    source_tokens: torch.Tensor | None = None,
    loss_on_source: bool = False,
) -> tuple[HookedRun, HookedRun]:
    """The clean run of ``tokens`` and the run with ``edits``; patches take the source batch's activations, and
    the loss is against the source batch's targets when ``loss_on_source``."""
    specs = {s.name: s for s in family.hook_specs(model, tokens.shape[1])}
    check_edits(specs, edits, tokens.shape[0], source_tokens is not None)
    if source_tokens is not None and source_tokens.shape != tokens.shape:
        raise InvalidInput(f"the source batch {list(source_tokens.shape)} must have the shape of the tokens "
                           f"{list(tokens.shape)}")  # fmt: skip
    if loss_on_source and source_tokens is None:
        raise InvalidInput("a loss on the source batch's targets needs a source batch")
    patched = {e.hook for e in edits if e.kind == "patch"}
    source = hooked_run(family, model, source_tokens, keep=patched).cache if source_tokens is not None else {}
    targets_of = source_tokens if loss_on_source else tokens
    clean = hooked_run(family, model, tokens, targets_of=targets_of)  # only the edited run's activations are asked
    edited = hooked_run(family, model, tokens, keep, edits, source, targets_of)
    return clean, edited


def sweep_hooks(specs: Sequence[HookSpec], patterns: Sequence[str], axis: str) -> list[tuple[str, int, int]]:
    """(hook, its axis index, cells) for each row of a sweep over ``axis``, one per hook matching ``patterns``
    (names or globs), in the network's order; refused when a hook lacks the axis."""
    if axis not in SWEEP_AXES:
        raise InvalidInput(f"a sweep patches each {' or each '.join(SWEEP_AXES)}, not each {axis!r}")
    by_name = {s.name: s for s in specs}
    rows = []
    for name in select(specs, patterns):
        spec = by_name[name]
        index = spec.axis(SWEEP_AXES[axis])
        if index is None:
            raise InvalidInput(f"{name} has no {axis} axis (its axes are {', '.join(spec.axes)}): a {axis} sweep "
                               f"needs hooks such as blocks.*.attn.hook_z")  # fmt: skip
        rows.append((name, index, spec.sizes[index]))
    return rows


def patch_sweep(
    family: RunsWithHooks,
    model: LoadedModel,
    clean: torch.Tensor,
    corrupt: torch.Tensor,
    hooks: Sequence[str],
    axis: str,
    max_rows: int,
) -> PatchSweep:
    """Patch every cell of every hook matching ``hooks`` from ``clean`` into ``corrupt`` in turn, ``max_rows``
    sequences (copies of the batch, one cell each) per forward pass."""
    if clean.shape != corrupt.shape:
        raise InvalidInput(f"the clean {list(clean.shape)} and corrupt {list(corrupt.shape)} batches must have "
                           f"one shape")  # fmt: skip
    batch = clean.shape[0]
    if max_rows < batch:
        raise TooLarge(f"a batch of {batch} sequences exceeds the {max_rows} a sweep's forward pass may hold")
    rows = sweep_hooks(family.hook_specs(model, clean.shape[1]), hooks, axis)
    names = [name for name, _, _ in rows]
    clean_run = hooked_run(family, model, clean, keep=names)
    corrupt_run = hooked_run(family, model, corrupt, targets_of=clean)
    per_pass = max_rows // batch
    width = max(cells for _, _, cells in rows)
    if axis == "position":  # columns are positions 0..T-1, whatever hooks a row holds
        width = max(width, clean.shape[1])
    matrix = torch.full((len(rows), width), float("nan"))
    for row, (name, index, cells) in enumerate(rows):
        activation = clean_run.cache[name]
        for start in range(0, cells, per_pass):
            chosen = range(start, min(cells, start + per_pass))
            copies = len(chosen)
            where = torch.zeros(
                (copies * batch, *(cells if i == index else 1 for i in range(1, activation.ndim))), dtype=torch.bool
            )
            for copy, cell in enumerate(chosen):
                at: list[slice | int] = [slice(copy * batch, (copy + 1) * batch)]
                at += [cell if i == index else slice(None) for i in range(1, activation.ndim)]
                where[tuple(at)] = True
            repeat = (copies,) + (1,) * (activation.ndim - 1)
            run = hooked_run(
                family, model, corrupt.repeat(copies, 1),
                edits=[Edit(name, "patch", where=where.to(activation.device))],
                source={name: activation.repeat(repeat)}, targets_of=clean.repeat(copies, 1),
            )  # fmt: skip
            column = start + (width - cells if axis == "position" else 0)
            matrix[row, column : column + copies] = run.loss.view(copies, batch).nanmean(dim=1).float().cpu()
    return PatchSweep(
        hooks=names,
        axis=axis,
        loss=matrix,
        clean_loss=float(clean_run.loss.nanmean()),
        corrupt_loss=float(corrupt_run.loss.nanmean()),
    )
