"""What a job is asked to do, and the one place it is checked.

SubmitJob, SubmitSweep (for every child) and the reproductions build a
:class:`JobSpec` and call :meth:`JobSpec.validate`; the result, with the
server's defaults filled in, is what the store keeps and the worker runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from probe_models.config import server_paths
from probe_models.errors import InvalidInput, TooLarge
from probe_models.family import Family
from probe_models.optimizers import parse_optimizer
from probe_server.errors import Conflict, NotFoundError
from probe_server.ids import check_id
from probe_server.server_paths import check_server_path
from probe_server.settings import Limits

if TYPE_CHECKING:
    from probe_server.store import Store

MAX_SEED = 2**63 - 1
EVENTS_PER_JOB = 100  # progress events a job gets when log_every is left at 0


@dataclass(frozen=True)
class JobSpec:
    """Steps, seed, cadences and training options: everything about a job beside its family and config.

    0 and "" mean "the server's default" until :meth:`validate` fills them in.
    """

    steps: int = 0
    seed: int = 0
    checkpoint_every: int = 0
    log_every: int = 0
    optimizer: str = ""  # "" for the family's own
    optimizer_config: Mapping[str, Any] = field(default_factory=dict)
    init_checkpoint: str = ""  # a checkpoint id whose weights a fresh start begins from
    trainable: tuple[str, ...] = ()  # the parameter groups that train; empty: all

    def validate(self, family: Family, config: Any, limits: Limits, store: Store) -> JobSpec:
        """Refuse what this server will not run; return the spec with its defaults filled in."""
        check_config(family, config, limits)
        if self.steps < 0:
            raise InvalidInput(f"steps must be >= 0, got {self.steps}")
        steps = self.steps or family.default_steps
        if steps > limits.max_steps:
            raise TooLarge(f"steps {steps} exceeds this server's limit of {limits.max_steps}")
        if not 0 <= self.seed <= MAX_SEED:
            raise InvalidInput(f"seed must lie in [0, 2**63), got {self.seed}")
        for name in ("checkpoint_every", "log_every"):
            if getattr(self, name) < 0:
                raise InvalidInput(f"{name} must be >= 0, got {getattr(self, name)}")
        optimizer_config = parse_optimizer(family, config, self.optimizer, dict(self.optimizer_config))
        if self.init_checkpoint:
            checkpoint_id = check_id("checkpoint", self.init_checkpoint)
            checkpoint = store.get_checkpoint(checkpoint_id)
            if checkpoint is None:
                raise NotFoundError(f"no checkpoint {checkpoint_id} to start from")
            if checkpoint.family != family.name:
                raise Conflict(
                    f"init_checkpoint {checkpoint_id} is a {checkpoint.family} model; this job trains {family.name}"
                )
        if self.trainable and not family.builds_from_server_files(config):  # else the worker checks them
            family.check_trainable(config, list(self.trainable))
        return replace(
            self,
            steps=steps,
            log_every=self.log_every or max(1, steps // EVENTS_PER_JOB),
            optimizer_config=optimizer_config,
        )

    def with_seed(self, seed: int) -> JobSpec:
        return replace(self, seed=seed)

    def training(self) -> dict[str, Any]:
        """The training options as the store keeps them (one JSON column)."""
        training: dict[str, Any] = {"optimizer": self.optimizer, "optimizer_config": dict(self.optimizer_config)}
        if self.init_checkpoint:
            training["init_checkpoint"] = self.init_checkpoint
        if self.trainable:
            training["trainable"] = list(self.trainable)
        return training

    @classmethod
    def stored(cls, steps: int, seed: int, checkpoint_every: int, log_every: int, training: dict[str, Any]) -> JobSpec:
        """A spec from the store's columns (the inverse of the columns and :meth:`training`)."""
        return cls(
            steps=steps,
            seed=seed,
            checkpoint_every=checkpoint_every,
            log_every=log_every,
            optimizer=training.get("optimizer", ""),
            optimizer_config=training.get("optimizer_config", {}),
            init_checkpoint=training.get("init_checkpoint", ""),
            trainable=tuple(training.get("trainable", ())),
        )


def check_config(family: Family, config: Any, limits: Limits) -> None:
    """Refuse a config whose server paths this server may not read, or whose model or step is too large.

    A model built from server files (a Hugging Face directory) is sized by the job's worker, which reads them.
    """
    for key, path in server_paths(config).items():
        check_server_path(key, path, limits.data_roots, limits.max_data_bytes)
    if not family.builds_from_server_files(config):
        check_parameters(family.parameter_count(config), limits.max_parameters)
    working = family.working_floats(config)
    if working > limits.max_working_floats:
        raise TooLarge(
            f"a training step would hold about {working:,} floats of data and activations; "
            f"this server's limit is {limits.max_working_floats:,}"
        )


def check_parameters(parameters: int, max_parameters: int) -> None:
    if parameters > max_parameters:
        raise TooLarge(f"the model would have {parameters:,} parameters; this server's limit is {max_parameters:,}")
