"""Sweeps through a real server: grids, cancellation, a crash mid-sweep, and a search."""

import grpc
import pytest

from probe_client import ProbeError
from tests.conftest import start_server

MEMORY = {"model": "linear-am", "am_target": "identity", "num_relations": 1, "d_model": 4, "batch_size": 256}


def test_grid_sweep_runs_one_child_per_point_and_seed(client):
    sweep = client.submit_sweep(
        "factual-recall", {"num_relations": 2, "batch_size": 64}, {"d_model": [8, 16], "num_heads": [1, 2]},
        seeds=2, seed=10, steps=5, name="grid",
    )  # fmt: skip
    assert sweep.planned_children == 8 and len(sweep.children) == 8
    done = client.wait_sweep(sweep.sweep_id)
    assert done.state == "SUCCEEDED" and done.counts == {"SUCCEEDED": 8}
    combos = {(c.overrides["d_model"], c.overrides["num_heads"], c.seed) for c in done.children}
    assert combos == {(d, h, s) for d in (8, 16) for h in (1, 2) for s in (10, 11)}
    for child in done.children:
        job = client.get_job(child.job_id)
        assert job.config["d_model"] == child.overrides["d_model"] and job.seed == child.seed
        assert "fact_accuracy" in child.metrics
    events = list(client.watch_sweep(sweep.sweep_id))
    assert [e.seq for e in events] == list(range(1, len(events) + 1)) and events[-1].state == "SUCCEEDED"
    listed, _ = client.list_sweeps(states=["SUCCEEDED"], family="factual-recall")
    assert sweep.sweep_id in [s.sweep_id for s in listed]


def test_cancelling_a_sweep_cancels_every_child(client):
    sweep = client.submit_sweep("factual-recall", {"num_relations": 2}, {"d_model": [8, 16, 24]}, steps=1_000_000)
    for event in client.watch_sweep(sweep.sweep_id):
        if event.counts.get("RUNNING"):
            break
    cancelled = client.cancel_sweep(sweep.sweep_id)
    assert cancelled.state == "CANCELLED"
    assert [client.get_job(c.job_id).state for c in cancelled.children] == ["CANCELLED"] * 3
    with pytest.raises(ProbeError) as error:
        client.cancel_sweep(sweep.sweep_id)
    assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION


def test_search_finds_the_boundary_that_a_full_grid_shows(client):
    values = list(range(1, 17))
    grid = client.wait_sweep(
        client.submit_sweep("factual-recall", MEMORY, {"num_subjects": values}, steps=300, seed=3).sweep_id
    )
    passed = {c.overrides["num_subjects"]: c.metrics["fact_accuracy"] >= 0.99 for c in grid.children}
    search = client.wait_sweep(
        client.submit_sweep(
            "factual-recall", MEMORY, steps=300, seed=3,
            search={"key": "num_subjects", "low": 1, "high": 16, "metric": "fact_accuracy", "threshold": 0.99},
        ).sweep_id
    )  # fmt: skip
    assert search.state == "SUCCEEDED"
    result = search.search_results[0]
    assert result.done and result.best is not None and result.probes <= 5 < len(values)
    best = int(result.best)
    assert passed[best] and (best == 16 or not passed[best + 1])  # a true boundary of the same runs
    if all(passed[v] >= passed[v + 1] for v in values[:-1]):  # success is monotone here: the boundary is unique
        assert best == max(v for v in values if passed[v])
    probes = [c.overrides["num_subjects"] for c in search.children]
    assert len(probes) == len(set(probes))


def test_killing_the_server_mid_sweep_loses_no_child_and_runs_none_twice(tmp_path):
    data_dir = tmp_path / "data"
    server = start_server(data_dir, metrics=False)
    search = {"key": "num_subjects", "low": 1, "high": 40, "metric": "fact_accuracy", "threshold": 0.99}
    try:
        with server.client() as client:
            grid = client.submit_sweep("factual-recall", MEMORY, {"num_subjects": [4, 8, 12]}, steps=400,
                                       checkpoint_every=100, log_every=10)  # fmt: skip
            searching = client.submit_sweep("factual-recall", MEMORY, search=search, steps=100)
            for event in client.watch_sweep(grid.sweep_id):
                if event.counts.get("SUCCEEDED") == 1 and event.counts.get("RUNNING") == 1:
                    break
            before = {c.job_id for c in client.get_sweep(grid.sweep_id).children}
        server.kill()
    finally:
        server.stop()

    restarted = start_server(data_dir, metrics=False)
    try:
        with restarted.client() as client:
            done = client.wait_sweep(grid.sweep_id)
            assert done.state == "SUCCEEDED" and done.counts == {"SUCCEEDED": 3}
            assert {c.job_id for c in done.children} == before
            runs = sorted(client.get_job(c.job_id).runs for c in done.children)
            assert runs == [1, 1, 2]  # the interrupted child was resumed, not run again from a new job
            found = client.wait_sweep(searching.sweep_id)
            assert found.state == "SUCCEEDED" and found.search_results[0].done
            probes = [c.overrides["num_subjects"] for c in found.children]
            assert len(probes) == len(set(probes)), probes
            jobs, _ = client.list_jobs(page_size=1000)
            assert len(jobs) == 3 + len(found.children)
    finally:
        restarted.stop()


@pytest.mark.parametrize(
    ("grid", "search", "fragment"),
    [
        ({"num_subjects": list(range(1, 1002))}, None, "limit"),
        ({"num_subjectz": [1, 2]}, None, "num_subjectz"),
        ({}, None, "empty"),
        ({"num_subjects": []}, None, "no values"),
        ({"num_subjects": [1, 0]}, None, "num_subjects"),
        (
            {},
            {"key": "num_subjects", "low": 9, "high": 3, "metric": "fact_accuracy", "threshold": 0.99},
            "low 9 > high 3",
        ),
        ({}, {"key": "model", "low": 1, "high": 3, "metric": "fact_accuracy", "threshold": 0.99}, "needs a number"),
        ({}, {"key": "lr", "low": 0.1, "high": 0.3, "metric": "fact_accuracy", "threshold": 0.9}, "resolution"),
        (
            {},
            {"key": "num_subjects", "low": 1, "high": 9, "metric": "m", "threshold": 1, "resolution": -0.5},
            "resolution must be >= 0",
        ),
        ({"d_model": [8]}, {"key": "d_model", "low": 1, "high": 3, "metric": "m", "threshold": 1}, "also a grid key"),
    ],
)
def test_bad_sweeps_are_invalid_argument_and_create_nothing(client, grid, search, fragment):
    sweeps_before = len(client.list_sweeps(page_size=1000)[0])
    jobs_before = len(client.list_jobs(page_size=1000)[0])
    with pytest.raises(ProbeError) as error:
        client.submit_sweep("factual-recall", {}, grid, search=search, steps=5)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in error.value.message
    assert len(client.list_sweeps(page_size=1000)[0]) == sweeps_before
    assert len(client.list_jobs(page_size=1000)[0]) == jobs_before
    assert client.health() == "SERVING"


def test_reproduction_requests_are_checked_and_a_cancelled_one_has_no_report(client, tmp_path):
    for call, code, fragment in [
        (lambda: client.start_reproduction("gpt-5"), grpc.StatusCode.INVALID_ARGUMENT, "unknown family"),
        (lambda: client.start_reproduction("factual-recall", "huge"), grpc.StatusCode.INVALID_ARGUMENT, "scale"),
        (lambda: client.get_reproduction("repro-../../x"), grpc.StatusCode.INVALID_ARGUMENT, "malformed"),
        (lambda: client.get_reproduction("repro-0123456789abcdef"), grpc.StatusCode.NOT_FOUND, "no reproduction"),
    ]:
        with pytest.raises(ProbeError) as error:
            call()
        assert error.value.code == code and fragment in error.value.message
    started = client.start_reproduction("factual-recall", "small")
    assert started.state == "RUNNING" and started.planned_children > 20
    cancelled = client.cancel_reproduction(started.reproduction_id)
    assert cancelled.state == "CANCELLED"
    with pytest.raises(ProbeError) as error:
        client.download_reproduction(started.reproduction_id, tmp_path)
    assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION
    for sweep_id in client.get_reproduction(started.reproduction_id).sweep_ids:
        assert client.get_sweep(sweep_id).state in ("CANCELLED", "SUCCEEDED", "FAILED")


def test_watch_reproduction_streams_each_change_once_and_ends_with_its_final_state(client):
    started = client.start_reproduction("factual-recall", "small")
    seen, cancelled = [], False
    for update in client.watch_reproduction(started.reproduction_id, timeout=300):
        seen.append(update)
        if not cancelled and update.reproduction.counts.get("RUNNING"):
            client.cancel_reproduction(started.reproduction_id)  # once a child is training
            cancelled = True
    assert len(seen) >= 2  # the start (and its children's changes), then the end
    assert seen[0].reproduction.state == "RUNNING"  # after_seq 0: the reproduction as it was then
    assert [u.seq for u in seen] == sorted({u.seq for u in seen})  # each version once, growing
    final = seen[-1].reproduction
    states = [u.reproduction.state for u in seen]
    assert states == sorted(states, key=["RUNNING", "CANCELLED"].index)  # RUNNING, then CANCELLED as children stop
    assert final.state == "CANCELLED" and "RUNNING" not in final.counts and "QUEUED" not in final.counts
    assert final == client.get_reproduction(started.reproduction_id)
    # reconnecting after the last version seen yields nothing more, and the stream ends
    assert list(client.watch_reproduction(started.reproduction_id, after_seq=seen[-1].seq, timeout=30)) == []
    assert [r.state for r in client.follow_reproduction(started.reproduction_id)] == ["CANCELLED"]
