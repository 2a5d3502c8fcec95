"""The request limits have one definition: each integer limit is a server flag, checked at start."""

from __future__ import annotations

import pytest

from probe_server.cli import main
from probe_server.settings import Limits, Settings, integer_limits


def test_every_integer_limit_is_listed_with_its_meaning() -> None:
    limits = integer_limits()
    assert {"max_batch", "max_hvp_iterations", "max_probe_floats", "max_reproductions", "max_data_bytes"} <= set(limits)
    assert "data_roots" not in limits
    assert all(meaning for meaning in limits.values())


@pytest.mark.parametrize("name", sorted(integer_limits()))
def test_a_limit_below_one_is_refused_at_start(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    flag = "--" + name.replace("_", "-")
    with pytest.raises(SystemExit) as stopped:
        main(["serve", flag, "0"])
    assert stopped.value.code == 2
    assert f"{flag} must be at least 1" in capsys.readouterr().err


def test_limits_refuse_values_the_server_cannot_work_with() -> None:
    with pytest.raises(ValueError, match="max_batch must be at least 1"):
        Limits(max_batch=0)
    with pytest.raises(ValueError, match="max_message_bytes must be at least 1024"):
        Limits(max_message_bytes=100)


def test_job_threads_leave_a_core_to_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert Settings(slots=1).threads_per_job == 15
    assert Settings(slots=4).threads_per_job == 3
    assert Settings(slots=32).threads_per_job == 1
    assert Settings(slots=1, job_threads=16).threads_per_job == 16  # --threads-per-job: the operator's choice
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert Settings(slots=1).threads_per_job == 1


@pytest.mark.parametrize("flag", ["--probe-threads", "--probe-torch-threads"])
def test_probe_lanes_need_a_thread_each(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["serve", flag, "0"])
    assert stopped.value.code == 2
    assert "--probe-threads and --probe-torch-threads must be at least 1" in capsys.readouterr().err
