"""A page of jobs is one query, with each job's last event; every insert names its columns."""

import math
import re
from pathlib import Path

from probe_server.engine import JobEngine
from probe_server.job_spec import JobSpec
from probe_server.store import Store

STORE_DIR = Path(__file__).parents[2] / "server" / "src" / "probe_server" / "store"


def test_a_page_of_jobs_is_one_query_with_each_jobs_last_event(tmp_path):
    store = Store(tmp_path / "probe.db")
    try:
        jobs = [JobEngine.new_job("eos", {}, JobSpec(steps=10, seed=s, log_every=1)) for s in range(3)]
        assert store.create_jobs(jobs, "submitted")
        store.append_event(jobs[1].job_id, "STATE", state="RUNNING")
        store.append_event(jobs[1].job_id, "PROGRESS", step=4, loss=0.5, metrics={"sharpness": math.inf})
        store.append_event(jobs[1].job_id, "STATE", state="CANCELLED", message="asked")
        statements: list[str] = []
        store._db.set_trace_callback(statements.append)
        page = store.list_jobs([], "", 10, None)
        store._db.set_trace_callback(None)
        assert len(statements) == 1, statements
        assert [j.job_id for j in page] == [j.job_id for j in reversed(jobs)]
        assert [j.spec.seed for j in page] == [2, 1, 0]
        middle = page[1]
        assert middle.state == "CANCELLED"
        event = middle.last_event
        assert event is not None and event.kind == "PROGRESS" and event.seq == 3 and event.step == 4
        assert event.loss == 0.5 and event.metrics == {"sharpness": math.inf}
        assert page[0].last_event is None  # only a state change so far
        assert store.get_job(jobs[1].job_id).last_event == event
    finally:
        store.close()


def test_every_insert_names_its_columns():
    for path in STORE_DIR.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"INSERT\s+(OR\s+\w+\s+)?INTO\s+\w+\s+VALUES", text, re.I), path.name
