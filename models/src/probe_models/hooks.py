"""Named hook points in a forward pass, named as TransformerLens names them: cache activations, edit them.

A network that has hook points takes ``hooks: HookRun | None`` in its forward and passes every named
activation through ``hooks(name, tensor)``, which returns the tensor (edited if an edit names that hook) and
keeps a detached copy of it when it was asked for. Without a HookRun the forward is unchanged: training
and ONNX export never see a hook.

Each hook point is described by a :class:`HookSpec`: its axes (``batch``, ``pos``, ``head``, ``query_pos``,
``key_pos``, or a feature axis), its size along each for a given sequence length, and whether it computes
what TransformerLens's hook of that name computes.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from probe_models.errors import InvalidInput

POSITION_AXES = ("pos", "query_pos")  # what an edit's positions select: a query's position for attention maps
EDIT_KINDS = ("set", "zero", "mean", "add", "patch")
MAX_EDITS = 1024  # per run: each is applied at its hook with one masked write


@dataclass(frozen=True)
class HookSpec:
    name: str
    axes: tuple[str, ...]  # the first is always "batch"
    sizes: tuple[int, ...]  # along each axis; the batch's is 0 (any)
    transformer_lens: bool  # the same computation as TransformerLens's hook of this name
    meaning: str = ""

    def axis(self, names: Sequence[str]) -> int | None:
        return next((i for i, a in enumerate(self.axes) if a in names), None)


@dataclass(frozen=True)
class Edit:
    """Replace part of one hook's activation: at ``positions`` and ``heads`` (empty: all of them).

    ``set``: to ``value`` (broadcast over the selected part); ``zero``; ``mean``: the mean over the batch;
    ``add``: ``value`` added; ``patch``: the source run's activation at the same hook. ``where``, when given,
    is the mask itself (a patching sweep's: one cell per copy of the batch) instead of positions and heads.
    """

    hook: str
    kind: str
    positions: tuple[int, ...] = ()
    heads: tuple[int, ...] = ()
    value: torch.Tensor | None = None
    where: torch.Tensor | None = None


def _suggest(name: str, names: Sequence[str]) -> str:
    """ " (did you mean 'x'?)" for the closest hook name, where one is close."""
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def select(specs: Sequence[HookSpec], patterns: Iterable[str]) -> list[str]:
    """The hook names matching any of ``patterns`` (exact names or globs such as ``blocks.*.attn.hook_pattern``),
    in the network's order; a pattern matching nothing is refused, listing what there is."""
    names = [s.name for s in specs]
    chosen: set[str] = set()
    for pattern in patterns:
        matched = fnmatch.filter(names, pattern)
        if not matched:
            raise InvalidInput(
                f"no hook matches {pattern!r}{_suggest(pattern, names)}; this model has {', '.join(names)}"
            )
        chosen.update(matched)
    return [n for n in names if n in chosen]


def check_edits(specs: Mapping[str, HookSpec], edits: Sequence[Edit], batch: int, has_source: bool) -> None:
    """Refuse edits of unknown hooks, of kinds that do not exist, at positions or heads out of range, with
    values of the wrong shape or not finite, or patches without a source batch: before anything runs."""
    if len(edits) > MAX_EDITS:
        raise InvalidInput(f"{len(edits)} edits; a run takes at most {MAX_EDITS}")
    for edit in edits:
        spec = specs.get(edit.hook)
        if spec is None and any(c in edit.hook for c in "*?["):
            raise InvalidInput(f"an edit names one hook exactly, not a pattern ({edit.hook!r}): globs select what "
                               "a run returns, not what it edits")  # fmt: skip
        if spec is None:
            raise InvalidInput(
                f"no hook {edit.hook!r}{_suggest(edit.hook, list(specs))}; this model has {', '.join(specs)}"
            )
        if edit.kind == "mean" and batch < 2:
            raise InvalidInput(f"a mean edit of {edit.hook} averages over the batch: it needs at least 2 sequences")
        if edit.kind not in EDIT_KINDS:
            raise InvalidInput(f"unknown edit {edit.kind!r}; edits are {', '.join(EDIT_KINDS)}")
        for what, chosen, names in (("position", edit.positions, POSITION_AXES), ("head", edit.heads, ("head",))):
            axis = spec.axis(names)
            if not chosen:
                continue
            if axis is None:
                raise InvalidInput(f"{edit.hook} has no {what} axis (its axes are {', '.join(spec.axes)})")
            if len(chosen) > spec.sizes[axis]:
                raise InvalidInput(f"{len(chosen)} {what}s chosen for {edit.hook}, which has {spec.sizes[axis]}")
            bad = [i for i in chosen if not 0 <= i < spec.sizes[axis]]
            if bad:
                raise InvalidInput(f"{what} {bad[0]} is out of range for {edit.hook}: it has {spec.sizes[axis]}")
        if edit.kind not in ("set", "add") and edit.value is not None:
            raise InvalidInput(f"a {edit.kind} edit of {edit.hook} takes no value (set and add do)")
        if edit.kind in ("set", "add"):
            if edit.value is None:
                raise InvalidInput(f"a {edit.kind} edit of {edit.hook} needs a value")
            if not bool(torch.isfinite(edit.value).all()):
                raise InvalidInput(f"the value of the {edit.kind} edit of {edit.hook} is not finite (as float32)")
            shape = (batch, *spec.sizes[1:])
            try:
                fits = torch.broadcast_shapes(tuple(edit.value.shape), shape) == shape  # to it, not only with it
            except RuntimeError:
                fits = False
            if not fits:
                raise InvalidInput(
                    f"a value of shape {list(edit.value.shape)} does not broadcast to {edit.hook}'s {list(shape)} "
                    f"({', '.join(spec.axes)})"
                )
        if edit.kind == "patch" and not has_source:
            raise InvalidInput(f"patching {edit.hook} needs a source batch")


@dataclass
class HookRun:
    """One forward pass's hook points: what to keep, what to edit, and the source run's activations."""

    specs: Mapping[str, HookSpec]
    keep: frozenset[str] = frozenset()
    edits: Sequence[Edit] = ()
    source: Mapping[str, torch.Tensor] = field(default_factory=dict)
    cache: dict[str, torch.Tensor] = field(default_factory=dict)

    def __call__(self, name: str, x: torch.Tensor) -> torch.Tensor:
        for edit in self.edits:
            if edit.hook == name:
                x = self._apply(edit, x)
        if name in self.keep:
            self.cache[name] = x.detach()
        return x

    def _apply(self, edit: Edit, x: torch.Tensor) -> torch.Tensor:
        if edit.kind == "zero":
            new = torch.zeros_like(x)
        elif edit.kind == "mean":
            new = x.mean(dim=0, keepdim=True).expand_as(x)
        elif edit.kind == "add":
            assert edit.value is not None
            new = x + edit.value.to(x)
        elif edit.kind == "set":
            assert edit.value is not None
            new = edit.value.to(x).expand_as(x)
        else:
            new = self.source[edit.hook].to(x)
        return torch.where(self._mask(edit, x) if edit.where is None else edit.where, new, x)

    def _mask(self, edit: Edit, x: torch.Tensor) -> torch.Tensor:
        """True where the edit applies: the chosen positions times the chosen heads (all, where none chosen)."""
        spec = self.specs[edit.hook]
        mask = torch.ones((1,) * x.ndim, dtype=torch.bool, device=x.device)
        for chosen, names in ((edit.positions, POSITION_AXES), (edit.heads, ("head",))):
            axis = spec.axis(names)
            if chosen and axis is not None:
                along = torch.zeros(x.shape[axis], dtype=torch.bool, device=x.device)
                along[list(chosen)] = True
                shape = [1] * x.ndim
                shape[axis] = x.shape[axis]
                mask = mask & along.view(shape)
        return mask
