"""Reproductions: run a family's planned sweeps, then its analysis, and keep the report's files.

The plan and the analysis live in probe_models; this module only submits the
sweeps, waits for them, hands their results over, and writes the files
atomically under ``<data-dir>/reproductions/<id>/``. Sweep ids are recorded as
each sweep is submitted, so a restarted server picks up where it stopped: it
submits the sweeps still missing and waits for the others.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from probe_models.config import parse_config
from probe_models.errors import InvalidInput, UnsupportedProbe
from probe_models.registry import get_family, reproduction_of
from probe_models.reproduction import SCALES, ChildResult, Reproduction, SearchOutcome, SweepPlan, SweepResult
from probe_models.states import JobState, RunState
from probe_server.checkpoint_files import read_weights, write_atomic
from probe_server.errors import Busy, Conflict, NotFoundError
from probe_server.ids import new_id
from probe_server.job_spec import JobSpec
from probe_server.store import ReproductionRecord
from probe_server.sweeps import SweepManager

log = logging.getLogger("probe.reproductions")

HISTORY_LIMIT = 100_000  # progress events read per child for an analysis


class ReproductionManager:
    def __init__(self, sweeps: SweepManager, root: Path, max_running: int = 4) -> None:
        self.sweeps = sweeps
        self.max_running = max_running
        self.store = sweeps.store
        self.root = root
        self._analysis_lock = threading.Lock()  # matplotlib's pyplot state is global
        self.changed = threading.Condition()  # notified after every change of a reproduction's record
        self._lock = threading.Lock()  # between submitting a sweep and cancelling
        self._stopped = threading.Event()

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for path in self.root.glob(".tmp-*"):
            shutil.rmtree(path, ignore_errors=True)
        for record in self.store.reproductions_in_state(RunState.RUNNING):
            self._spawn(record.reproduction_id)

    def stop(self) -> None:
        self._stopped.set()

    @staticmethod
    def reproduction_of(family_name: str) -> Reproduction:
        family, reproduction = reproduction_of(family_name)
        if reproduction is None:
            raise UnsupportedProbe(f"family {family.name} has no reproduction yet")
        return reproduction

    def begin(self, family_name: str, scale: str) -> ReproductionRecord:
        reproduction = self.reproduction_of(family_name)
        if scale not in SCALES:
            raise InvalidInput(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
        with self._lock:
            running = len(self.store.reproductions_in_state(RunState.RUNNING))
            if running >= self.max_running:
                raise Busy(
                    f"{running} reproductions are running, this server's limit (--max-reproductions); "
                    "wait for one to end or cancel one"
                )
            return self._begin(reproduction, family_name, scale)

    def _begin(self, reproduction: Reproduction, family_name: str, scale: str) -> ReproductionRecord:
        record = ReproductionRecord(
            new_id("reproduction"),
            reproduction_of(family_name)[0].name,
            scale,
            RunState.RUNNING,
            [],
            [],
            False,
            "",
            time.time(),
            None,
        )
        self.store.create_reproduction(record)
        log.info("reproduction=%s family=%s scale=%s plans=%d", record.reproduction_id, record.family, scale,
                 len(reproduction.plan(scale)))  # fmt: skip
        self._spawn(record.reproduction_id)
        return record

    def get(self, reproduction_id: str) -> ReproductionRecord:
        record = self.store.get_reproduction(reproduction_id)
        if record is None:
            raise NotFoundError(f"no reproduction {reproduction_id}")
        return record

    def planned_children(self, record: ReproductionRecord) -> int:
        plans = self.reproduction_of(record.family).plan(record.scale)
        submitted = sum(self.sweeps.get(s).spec["planned_children"] for s in record.sweep_ids)
        return submitted + sum(self._estimate(p) for p in plans[len(record.sweep_ids) :])

    @staticmethod
    def _estimate(plan: SweepPlan) -> int:
        return plan.children if plan.search is None else plan.children * 6

    def cancel(self, reproduction_id: str) -> ReproductionRecord:
        with self._lock:
            record = self.get(reproduction_id)
            if record.state != RunState.RUNNING:
                raise Conflict(f"reproduction {reproduction_id} is {record.state}; only a RUNNING one can be cancelled")
            self._update(reproduction_id, state=RunState.CANCELLED, message="cancelled", finished_at=time.time())
        for sweep_id in record.sweep_ids:
            if self.sweeps.get(sweep_id).state == RunState.RUNNING:
                with contextlib.suppress(Conflict):  # it may have ended meanwhile
                    self.sweeps.cancel(sweep_id)
        with self.changed:
            self.changed.notify_all()
        return self.get(reproduction_id)

    def settled(self, record: ReproductionRecord) -> bool:
        """Ended, and nothing of it changes any more: a cancelled one once every child job has stopped too
        (its sweeps read CANCELLED before their running children have)."""
        if record.state == RunState.RUNNING:
            return False
        if record.state != RunState.CANCELLED:
            return True
        children = (child for sweep_id in record.sweep_ids for child in self.store.sweep_children(sweep_id))
        return not any(JobState(child.state).is_active for child in children)

    def version(self, record: ReproductionRecord, settled: bool) -> int:
        """A number that grows with every change a watcher can see: its sweeps' events, then (settled) its end."""
        events = sum(sweep.last_seq for sweep in map(self.store.get_sweep, record.sweep_ids) if sweep is not None)
        return events + settled

    def wait_for_change(self, timeout: float) -> None:
        """Until the reproduction's record changes, or ``timeout`` seconds (sweep progress is seen by then)."""
        with self.changed:
            self.changed.wait(timeout)

    def _update(self, reproduction_id: str, **changes: Any) -> None:
        self.store.update_reproduction(reproduction_id, **changes)
        with self.changed:
            self.changed.notify_all()

    def files(self, reproduction_id: str) -> dict[str, Path]:
        record = self.get(reproduction_id)
        if record.state != RunState.SUCCEEDED:
            raise Conflict(f"reproduction {reproduction_id} is {record.state}; its report exists once it SUCCEEDED")
        directory = self.root / reproduction_id
        return {name: directory / name for name in record.files}

    # the run

    def _spawn(self, reproduction_id: str) -> None:
        threading.Thread(
            target=self._run, args=(reproduction_id,), name=f"repro-{reproduction_id}", daemon=True
        ).start()

    def _run(self, reproduction_id: str) -> None:
        try:
            self._drive(reproduction_id)
        except Exception as error:
            if self._stopped.is_set():
                return  # the server is stopping; a restart continues this reproduction
            log.exception("reproduction=%s failed", reproduction_id)
            message = f"{type(error).__name__}: {error}"
            self._update(reproduction_id, state=RunState.FAILED, message=message, finished_at=time.time())

    def _drive(self, reproduction_id: str) -> None:
        record = self.get(reproduction_id)
        reproduction = self.reproduction_of(record.family)
        plans = reproduction.plan(record.scale)
        sweep_ids = list(record.sweep_ids)
        names = [plan.name for plan in plans]
        for plan in plans[len(sweep_ids) :]:
            init_checkpoint = ""
            if plan.init_from:
                source = sweep_ids[names.index(plan.init_from)]
                if not self._wait(reproduction_id, [source]):
                    return
                init_checkpoint = self._final_checkpoint(source, plan)
            with self._lock:  # a cancel sees every sweep submitted before it, and stops every one after
                if self._stopped.is_set() or self.get(reproduction_id).state != RunState.RUNNING:
                    return
                sweep_ids.append(self._submit(record.family, plan, reproduction_id, init_checkpoint))
                self._update(reproduction_id, sweep_ids=sweep_ids)
        if not self._wait(reproduction_id, sweep_ids):
            return
        results = {plan.name: self._result(plan, sweep_id) for plan, sweep_id in zip(plans, sweep_ids, strict=True)}
        with self._analysis_lock:
            report = reproduction.analyze(record.scale, results)
        files = {"summary.json": json.dumps(report.summary, indent=2).encode(), "README.md": report.readme.encode()}
        files.update(report.figures)
        self._write(reproduction_id, files)
        failed = [plan.name for plan in plans if results[plan.name].state != RunState.SUCCEEDED]
        message = f"sweeps that did not succeed: {', '.join(failed)}" if failed else "report written"
        self._update(
            reproduction_id, state=RunState.SUCCEEDED, files=sorted(files), passed=bool(report.summary.get("passed")),
            message=message, finished_at=time.time(),
        )  # fmt: skip
        log.info("reproduction=%s SUCCEEDED passed=%s", reproduction_id, report.summary.get("passed"))

    def _wait(self, reproduction_id: str, sweep_ids: list[str]) -> bool:
        """Wait for the sweeps to end; False when the server stops or the reproduction is no longer RUNNING."""
        while any(self.sweeps.get(s).state == RunState.RUNNING for s in sweep_ids):
            if self._stopped.is_set():
                return False
            with self.sweeps.changed:
                self.sweeps.changed.wait(timeout=1.0)
        return self.get(reproduction_id).state == RunState.RUNNING

    def _final_checkpoint(self, sweep_id: str, plan: SweepPlan) -> str:
        """The final checkpoint of the first child of ``sweep_id`` that succeeded: where ``plan`` starts."""
        for child in self.store.sweep_children(sweep_id):
            job = self.store.get_job(child.job_id)
            if job is not None and job.state == JobState.SUCCEEDED and job.checkpoint_id:
                return job.checkpoint_id
        raise RuntimeError(f"sweep {plan.init_from} has no child that succeeded, so {plan.name} cannot start from it")

    def _submit(self, family: str, plan: SweepPlan, reproduction_id: str, init_checkpoint: str = "") -> str:
        """Submit one planned sweep, its spec validated as a client's would be."""
        search = {**plan.search.__dict__} if plan.search is not None else None
        family_obj = get_family(family)
        spec = JobSpec(
            steps=plan.steps, seed=plan.seed, log_every=plan.log_every, optimizer=plan.optimizer,
            optimizer_config=plan.optimizer_config, init_checkpoint=init_checkpoint, trainable=tuple(plan.trainable),
        )  # fmt: skip
        config = parse_config(family_obj.config_cls, plan.base_config)
        spec = spec.validate(family_obj, config, self.sweeps.limits, self.store)
        sweep = self.sweeps.submit(
            family,
            plan.base_config,
            list(plan.grid.items()),
            search,
            plan.seeds,
            spec,
            f"{reproduction_id}/{plan.name}",
            rank=self.get(reproduction_id).created_at,  # a later plan's jobs do not wait behind later reproductions
        )
        return sweep.sweep_id

    def _result(self, plan: SweepPlan, sweep_id: str) -> SweepResult:
        sweep = self.sweeps.get(sweep_id)
        children = []
        for child in self.store.sweep_children(sweep_id):
            history = []
            if plan.history:
                events = self.store.events(child.job_id, 0, 0, limit=HISTORY_LIMIT)
                history = [(e.step, e.metrics) for e in events if e.kind == "PROGRESS"]
            weights = {}
            job = self.store.get_job(child.job_id) if plan.weights else None
            if job is not None and job.checkpoint_id:
                weights = read_weights(self.sweeps.engine.checkpoint_root / job.checkpoint_id)
            children.append(ChildResult(child.overrides, child.seed, child.state, child.metrics, history, weights))
        points = sweep.spec["points"]
        searches = [
            SearchOutcome(points[i], status.best, status.first_failure)
            for i, status in enumerate(self.sweeps.search_statuses(sweep))
        ]
        return SweepResult(plan, sweep.state, children, searches)

    def _write(self, reproduction_id: str, files: dict[str, bytes]) -> None:
        tmp = self.root / f".tmp-{reproduction_id}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, data in files.items():
            write_atomic(tmp / name, data)
        final = self.root / reproduction_id
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
