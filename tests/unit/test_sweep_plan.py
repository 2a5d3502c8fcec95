"""Grid expansion and the replayed bisection of a search sweep."""

import pytest

from probe_server.sweep_plan import ChildView, SearchSpec, estimated_probes, grid_points, search_status


def test_grid_is_the_row_major_product():
    points = grid_points([("a", [1, 2]), ("b", ["x", "y", "z"])])
    assert points[:4] == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"}, {"a": 2, "b": "x"}]
    assert len(points) == 6
    assert grid_points([]) == [{}]


def run_search(spec: SearchSpec, boundary: float, seeds: int = 1) -> tuple:
    """Drive the search against a known boundary: success iff value <= boundary."""
    children: list[ChildView] = []
    while True:
        status = search_status(spec, children)
        if status.done:
            return status, len({c.probe for c in children})
        assert status.next_probe is not None
        assert spec.low - 1e-9 <= status.next_probe <= spec.high + 1e-9
        ok = 1.0 if status.next_probe <= boundary else 0.0
        children += [ChildView(status.next_probe, "SUCCEEDED", {"accuracy": ok}) for _ in range(seeds)]


@pytest.mark.parametrize("log_scale", [False, True])
@pytest.mark.parametrize("boundary", [1, 7, 50, 99, 100])
def test_integer_search_finds_the_exact_boundary(boundary, log_scale):
    spec = SearchSpec("n", 1, 100, "accuracy", 0.99, log_scale, 0.0, True)
    status, probes = run_search(spec, boundary)
    assert status.best == boundary
    assert status.first_failure == (None if boundary == 100 else boundary + 1)
    assert probes <= estimated_probes(spec)


def test_integer_search_when_even_low_fails():
    spec = SearchSpec("n", 5, 40, "accuracy", 0.99, False, 0.0, True)
    status, _ = run_search(spec, boundary=2)
    assert status.best is None and status.first_failure == 5


def test_float_search_brackets_the_boundary_within_the_resolution():
    spec = SearchSpec("lr", 0.001, 1.0, "accuracy", 0.5, True, 0.05, False)
    status, probes = run_search(spec, boundary=0.0314, seeds=2)
    assert status.best <= 0.0314 < status.first_failure
    assert status.first_failure / status.best <= 1.05
    assert probes <= estimated_probes(spec)


def test_search_waits_for_running_children_and_stops_on_failures():
    spec = SearchSpec("n", 1, 10, "accuracy", 0.99, False, 0.0, True)
    first = search_status(spec, []).next_probe
    running = [ChildView(first, "RUNNING", {})]
    assert search_status(spec, running).next_probe is None and not search_status(spec, running).done
    failed = search_status(spec, [ChildView(first, "FAILED", {})])
    assert failed.done and "FAILED" in failed.error
    missing = search_status(spec, [ChildView(first, "SUCCEEDED", {"loss": 1.0})])
    assert missing.done and "no metric 'accuracy'" in missing.error


def test_mean_over_seeds_decides_success():
    spec = SearchSpec("n", 1, 3, "accuracy", 0.75, False, 0.0, True)
    probe = search_status(spec, []).next_probe
    mixed = [ChildView(probe, "SUCCEEDED", {"accuracy": a}) for a in (1.0, 0.4)]  # mean 0.7 < 0.75
    assert search_status(spec, mixed).first_failure == probe


@pytest.mark.parametrize("boundary", [3, 37, 500, 4000])
def test_an_integer_log_search_with_a_resolution_stops_within_that_ratio_in_fewer_probes(boundary):
    exact = SearchSpec("n", 1, 8192, "accuracy", 0.99, True, 0.0, True)
    coarse = SearchSpec("n", 1, 8192, "accuracy", 0.99, True, 0.1, True)
    (exact_status, exact_probes), (status, probes) = run_search(exact, boundary), run_search(coarse, boundary)
    assert exact_status.best == boundary
    assert status.best <= boundary < status.first_failure
    assert status.first_failure - status.best <= 1 or status.first_failure / status.best <= 1.1 + 1e-9
    assert probes <= exact_probes <= estimated_probes(coarse)
    assert probes < exact_probes or boundary < 10, (probes, exact_probes)


@pytest.mark.parametrize(("low", "high", "boundary"), [(100, 1000, 105), (100, 1000, 99), (2, 64, 64), (5, 9, 6)])
def test_an_integer_search_with_a_resolution_tests_both_ends_before_it_stops(low, high, boundary):
    for log_scale, resolution in ((True, 0.1), (False, 3.0)):
        spec = SearchSpec("n", low, high, "accuracy", 0.99, log_scale, resolution, True)
        status, _ = run_search(spec, boundary)
        if boundary < low:
            assert status.best is None and status.first_failure == low
        elif boundary >= high:
            assert status.best == high and status.first_failure is None
        else:
            assert low <= status.best <= boundary < status.first_failure <= high
