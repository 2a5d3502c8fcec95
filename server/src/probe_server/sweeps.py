"""Sweeps: many child jobs of one family, created atomically and followed as their states change.

A grid sweep creates every child at submission, in the same transaction as
the sweep. A search creates one probe (a child per seed) at a time, when the
previous probe's children have finished; the next probe is replayed from the
children (see :mod:`probe_server.sweep_plan`) and a unique index refuses a
second child for the same probe, so no child is lost or run twice across
restarts. Children a dead server left INTERRUPTED are resumed at start.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
from collections import Counter
from dataclasses import asdict
from typing import Any

from probe_models.config import coerce_overrides, config_to_dict, parse_config, schema
from probe_models.errors import InvalidInput
from probe_models.family import Family
from probe_models.registry import get_family
from probe_models.states import JobState, RunState
from probe_server.engine import JobEngine
from probe_server.errors import Conflict, NotFoundError
from probe_server.ids import new_id
from probe_server.job_spec import MAX_SEED, JobSpec, check_config
from probe_server.settings import Limits
from probe_server.store import JobRecord, SweepChildRecord, SweepRecord
from probe_server.sweep_plan import (
    ChildView,
    SearchSpec,
    SearchStatus,
    estimated_probes,
    grid_points,
    search_status,
)

log = logging.getLogger("probe.sweeps")


def search_spec(spec: dict[str, Any]) -> SearchSpec | None:
    return SearchSpec(**spec["search"]) if spec.get("search") else None


class SweepManager:
    def __init__(self, engine: JobEngine, limits: Limits) -> None:
        self.engine = engine
        self.store = engine.store
        self.limits = limits
        self.changed = threading.Condition()  # notified after every sweep event
        self._lock = threading.RLock()  # one refresh or cancel at a time
        self._pending: queue.SimpleQueue[tuple[str, str, str] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="sweeps", daemon=True)
        self._stopped = False
        engine.on_state_change(self._job_changed)

    def start(self) -> None:
        for sweep in self.store.sweeps_in_state(RunState.RUNNING):
            for child in self.store.sweep_children(sweep.sweep_id):
                if child.state == JobState.INTERRUPTED:
                    self.engine.resume(child.job_id)
            self._pending.put((sweep.sweep_id, "", ""))
        self._thread.start()

    def stop(self) -> None:
        self._stopped = True
        self._pending.put(None)

    # requests

    def submit(
        self,
        family_name: str,
        base: dict[str, Any],
        grid: list[tuple[str, list[Any]]],
        search: dict[str, Any] | None,
        seeds: int,
        job_spec: JobSpec,
        name: str,
        rank: float | None = None,
    ) -> SweepRecord:
        """Create a sweep whose children train with ``job_spec`` (validated), child k of a point with seed + k.

        Its children, a search's later probes included, queue with ``rank`` (default: the sweep's start), so
        a sweep's next step does not wait behind work asked for after it began (:mod:`job_queue`).
        """
        created = time.time()
        family = get_family(family_name)
        fields = {f.name: f for f in schema(family.config_cls)}
        parse_config(family.config_cls, base)
        if not grid and not search:
            raise InvalidInput("the grid is empty and there is no search: a sweep needs at least one axis or a search")
        keys = [key for key, _ in grid]
        for key, values in grid:
            if key not in fields:
                raise InvalidInput(f"grid key {key!r} is not a config key of {family.name}")
            if not values:
                raise InvalidInput(f"grid axis {key!r} has no values")
        if len(set(keys)) != len(keys):
            raise InvalidInput("a grid key appears twice")
        # values as their fields' types (a command line sends strings), so the sweep, its children's overrides
        # and the analyses read numbers
        base = coerce_overrides(family.config_cls, base)
        grid = [(key, [coerce_overrides(family.config_cls, {key: v})[key] for v in values]) for key, values in grid]
        if job_spec.seed + seeds - 1 > MAX_SEED:
            raise InvalidInput(f"the children's seeds {job_spec.seed} + k, k < {seeds}, must be < 2**63")
        spec = self._check_search(search, fields, keys) if search else None
        points = grid_points(grid)
        planned = len(points) * seeds * (estimated_probes(spec) if spec else 1)
        limit = self.limits.max_sweep_children
        if planned > limit:
            raise InvalidInput(f"the sweep would create {planned} children; this server's limit is {limit}")
        configs = [self._config(family, base, point) for point in points]
        if spec:
            for point in points:  # both ends of the range must be valid configs
                for end in (spec.low, spec.high):
                    self._config(family, base, {**point, spec.key: self._probe_value(spec, end)})
        sweep = SweepRecord(
            sweep_id=new_id("sweep"),
            name=name,
            family=family.name,
            spec={
                "base_config": base,
                "grid": [[key, values] for key, values in grid],
                "search": asdict(spec) if spec else None,
                "seeds": seeds,
                "seed": job_spec.seed,
                "steps": job_spec.steps,
                "checkpoint_every": job_spec.checkpoint_every,
                "log_every": job_spec.log_every,
                "points": points,
                "planned_children": planned,
                "training": job_spec.training(),
                "rank": created if rank is None else rank,
            },
            state=RunState.RUNNING,
            message="",
            created_at=created,
            finished_at=None,
        )
        jobs: list[JobRecord] = []
        children: list[SweepChildRecord] = []
        if not spec:
            for index, (point, config) in enumerate(zip(points, configs, strict=True)):
                for k in range(seeds):
                    child_spec = job_spec.with_seed(job_spec.seed + k)
                    job = self.engine.new_job(family.name, config, child_spec)
                    jobs.append(job)
                    children.append(
                        SweepChildRecord(job.job_id, sweep.sweep_id, len(children), index, child_spec.seed, point, None)
                    )
        self.engine.submit_jobs(jobs, sweep, children, rank=sweep.spec["rank"])
        log.info("sweep=%s family=%s children=%d search=%s", sweep.sweep_id, family.name, planned, bool(spec))
        self._pending.put((sweep.sweep_id, "", ""))
        return self.get(sweep.sweep_id)

    def _check_search(self, search: dict[str, Any], fields: dict[str, Any], grid_keys: list[str]) -> SearchSpec:
        key = search["key"]
        if key not in fields:
            raise InvalidInput(f"search key {key!r} is not a config key")
        if fields[key].type not in ("int", "float"):
            raise InvalidInput(f"search key {key!r} is a {fields[key].type}; a search needs a number")
        if key in grid_keys:
            raise InvalidInput(f"search key {key!r} is also a grid key")
        low, high = search["low"], search["high"]
        if not (math.isfinite(low) and math.isfinite(high)):
            raise InvalidInput("search low and high must be finite")
        if low > high:
            raise InvalidInput(f"search range is empty: low {low:g} > high {high:g}")
        if not search["metric"]:
            raise InvalidInput("search metric is required (e.g. fact_accuracy)")
        if not math.isfinite(search["threshold"]):
            raise InvalidInput("search threshold must be finite")
        integer = fields[key].type == "int"
        if integer and (low != int(low) or high != int(high)):
            raise InvalidInput(f"search key {key!r} is an integer; low and high must be integers")
        if search["log_scale"] and low <= 0:
            raise InvalidInput("a log-scale search needs low > 0")
        resolution = search["resolution"]
        if not integer and not (math.isfinite(resolution) and resolution > 0):
            raise InvalidInput(f"search key {key!r} is a float: give a resolution > 0")
        if integer and not (math.isfinite(resolution) and resolution >= 0):
            raise InvalidInput(f"search key {key!r}: resolution must be >= 0 (0: the exact integer)")
        return SearchSpec(
            key, low, high, search["metric"], search["threshold"], search["log_scale"], resolution, integer
        )

    @staticmethod
    def _probe_value(spec: SearchSpec, value: float) -> int | float:
        return int(value) if spec.integer else value

    def _config(self, family: Family, base: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
        config = parse_config(family.config_cls, {**base, **point})
        check_config(family, config, self.limits)
        return config_to_dict(config)

    def get(self, sweep_id: str) -> SweepRecord:
        sweep = self.store.get_sweep(sweep_id)
        if sweep is None:
            raise NotFoundError(f"no sweep {sweep_id}")
        return sweep

    def search_statuses(self, sweep: SweepRecord) -> list[SearchStatus]:
        spec = search_spec(sweep.spec)
        if spec is None:
            return []
        views = [(c.point, ChildView(c.probe, c.state, c.metrics)) for c in self.store.sweep_children(sweep.sweep_id)
                 if c.probe is not None]  # fmt: skip
        return [search_status(spec, [v for p, v in views if p == point]) for point in range(len(sweep.spec["points"]))]

    def cancel(self, sweep_id: str) -> SweepRecord:
        with self._lock:
            sweep = self.get(sweep_id)
            if sweep.state != RunState.RUNNING:
                raise Conflict(f"sweep {sweep_id} is {sweep.state}; only a RUNNING sweep can be cancelled")
            children = self.store.sweep_children(sweep_id)
            self._record(sweep_id, RunState.CANCELLED, "", "", Counter(c.state for c in children), "cancelled")
        for child in children:
            if JobState(child.state).is_active:
                with contextlib.suppress(Conflict):  # it may have finished meanwhile
                    self.engine.cancel(child.job_id)
        return self.get(sweep_id)

    # following the children

    def _job_changed(self, job_id: str, state: str) -> None:
        if self._stopped:
            return
        sweep_id = self.store.sweep_of_job(job_id)
        if sweep_id is not None:
            self._pending.put((sweep_id, job_id, state))

    def _loop(self) -> None:
        while (item := self._pending.get()) is not None:
            try:
                self._refresh(*item)
            except Exception:  # a sweep's bookkeeping must not stop the others
                log.exception("sweep=%s refresh failed", item[0])

    def _refresh(self, sweep_id: str, job_id: str, job_state: str) -> None:
        with self._lock:
            sweep = self.store.get_sweep(sweep_id)
            if sweep is None or sweep.state != RunState.RUNNING or self._stopped:
                return
            statuses = self.search_statuses(sweep)
            for point, status in enumerate(statuses):
                if status.next_probe is not None:
                    self._submit_probe(sweep, point, status.next_probe)
            if any(s.next_probe is not None for s in statuses):
                statuses = self.search_statuses(sweep)
            children = self.store.sweep_children(sweep_id)
            counts = Counter(c.state for c in children)
            state, message = self._state(children, statuses)
            self._record(sweep_id, state, job_id, job_state, counts, message)

    def _submit_probe(self, sweep: SweepRecord, point: int, probe: float) -> None:
        spec = search_spec(sweep.spec)
        assert spec is not None
        family = get_family(sweep.family)
        s = sweep.spec
        overrides = {**s["points"][point], spec.key: self._probe_value(spec, probe)}
        config = self._config(family, s["base_config"], overrides)
        ordinal = len(self.store.sweep_children(sweep.sweep_id))
        jobs, children = [], []
        for k in range(s["seeds"]):
            child_spec = sweep.job_spec.with_seed(sweep.job_spec.seed + k)
            job = self.engine.new_job(family.name, config, child_spec)
            jobs.append(job)
            children.append(
                SweepChildRecord(job.job_id, sweep.sweep_id, ordinal + k, point, child_spec.seed, overrides, probe)
            )
        if self.engine.submit_jobs(jobs, None, children, rank=sweep.spec.get("rank", sweep.created_at)):
            log.info("sweep=%s point=%d probes %s=%g", sweep.sweep_id, point, spec.key, probe)

    @staticmethod
    def _state(children: list[SweepChildRecord], statuses: list[SearchStatus]) -> tuple[str, str]:
        if any(not JobState(c.state).is_outcome for c in children) or any(not s.done for s in statuses):
            return RunState.RUNNING, ""
        errors = [s.error for s in statuses if s.error]
        bad = [c for c in children if c.state in (JobState.FAILED, JobState.CANCELLED)]
        if bad or errors:
            what = errors[0] if errors else f"child {bad[0].job_id} ended {bad[0].state}"
            return RunState.FAILED, f"{len(bad)} of {len(children)} children did not succeed; {what}"
        return RunState.SUCCEEDED, f"all {len(children)} children succeeded"

    def _record(
        self, sweep_id: str, state: str, job_id: str, job_state: str, counts: dict[str, int], message: str
    ) -> None:
        self.store.record_sweep_event(sweep_id, state, job_id, job_state, dict(counts), message)
        if state != RunState.RUNNING:
            log.info("sweep=%s state=%s %s", sweep_id, state, message)
        with self.changed:
            self.changed.notify_all()
