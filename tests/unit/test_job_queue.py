"""The engine's queue: by the rank of the request a job belongs to, then by submission."""

from probe_server.job_queue import JobQueue


def test_an_earlier_requests_later_step_runs_before_work_asked_for_after_it():
    queue = JobQueue()
    queue.push("search-probe-1", rank=10.0)  # a search sweep began at t = 10
    for k in range(3):
        queue.push(f"grid-{k}", rank=20.0)  # a grid sweep began at t = 20
    queue.push("search-probe-2", rank=10.0)  # the search's next probe, submitted last
    assert queue.ids() == ["search-probe-1", "search-probe-2", "grid-0", "grid-1", "grid-2"]
    first = queue.pop()
    assert first.job_id == "search-probe-1"
    queue.restore(first)  # a job that could not start goes back where it was
    assert queue.ids()[0] == "search-probe-1"
    assert queue.remove("grid-1") and not queue.remove("grid-1")
    assert "grid-1" not in queue and "grid-2" in queue and len(queue) == 4
