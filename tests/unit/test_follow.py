"""Following a resumable event stream: backoff between attempts, one error at the deadline, no event twice."""

from dataclasses import dataclass

import grpc
import pytest

from probe_client.errors import DeadlineExceeded, InvalidArgument, Unavailable
from probe_client.follow import Backoff, follow, reach


@dataclass(frozen=True)
class Event:
    seq: int


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def down(after_seq: int, left: float | None, connected):
    raise Unavailable("connection refused")
    yield  # a generator, as a real stream is


def test_a_stopped_server_is_retried_with_doubling_waits_and_given_up_after_retry_for():
    time = FakeTime()
    with pytest.raises(Unavailable, match="gave up following job j-1: the server was unreachable for 5 s"):
        list(follow(down, "job j-1", retry_for=5.0, clock=time.clock, sleep=time.sleep))
    # 7 attempts in 5 s, the last at the deadline, where it once made thousands
    assert time.sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 1.9])
    assert time.now == pytest.approx(5.0)


def test_a_stream_that_drops_is_resumed_after_the_last_event_seen_and_repeats_nothing():
    time, opened = FakeTime(), []

    def flaky(after_seq: int, left: float | None, connected):
        opened.append(after_seq)
        if len(opened) == 1:
            yield from (Event(1), Event(2))
            raise Unavailable("socket closed")
        if len(opened) == 2:
            raise Unavailable("connection refused")
        yield from (Event(2), Event(3), Event(4))  # a server that repeats one: dropped here

    events = list(follow(flaky, "job j-2", clock=time.clock, sleep=time.sleep))
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert opened == [0, 2, 2] and time.sleeps == [0.1, 0.2]


def test_a_live_stream_resets_the_backoff_and_the_outage_clock():
    time, opened = FakeTime(), []

    def blinking(after_seq: int, left: float | None, connected):
        opened.append(after_seq)
        if len(opened) in (1, 3):
            time.now += 10.0  # a long healthy stretch, then a drop
            yield Event(len(opened))
            raise Unavailable("socket closed")
        if len(opened) == 2:
            raise Unavailable("connection refused")

    assert [e.seq for e in follow(blinking, "sweep s-1", retry_for=1.0, clock=time.clock, sleep=time.sleep)] == [1, 3]
    assert time.sleeps == [0.1, 0.2, 0.1]


def test_the_whole_follow_has_a_deadline_and_passes_the_time_left_to_the_stream():
    time, lefts = FakeTime(), []

    def slow(after_seq: int, left: float | None, connected):
        lefts.append(left)
        time.now += left
        raise DeadlineExceeded("deadline exceeded")  # what gRPC says when the call's own timeout passes
        yield

    with pytest.raises(DeadlineExceeded, match="stopped following job j-3: it had not ended after 30 s"):
        list(follow(slow, "job j-3", timeout=30.0, clock=time.clock, sleep=time.sleep))
    assert lefts == [30.0]


def test_errors_that_are_not_about_reaching_the_server_are_raised_at_once():
    def refused(after_seq: int, left: float | None, connected):
        raise InvalidArgument("bad job id")
        yield

    with pytest.raises(InvalidArgument):
        list(follow(refused, "job x", sleep=lambda s: pytest.fail("no retry")))
    assert Backoff().most_s == 2.0 and InvalidArgument.code == grpc.StatusCode.INVALID_ARGUMENT


def test_one_call_is_retried_the_same_way_until_it_answers():
    time, answers = FakeTime(), iter([Unavailable("refused"), Unavailable("refused"), "job"])

    def get_job():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert reach(get_job, "job j-4", clock=time.clock, sleep=time.sleep) == "job"
    assert time.sleeps == [0.1, 0.2]


def test_a_quiet_stream_that_was_open_ends_the_outage_though_no_event_came():
    """A queued job's stream may carry nothing for hours; reopened, it counts as reached, so the next drop
    starts a new outage rather than continuing one that began before."""
    time, opened = FakeTime(), []

    def quiet(after_seq: int, left: float | None, connected):
        opened.append(after_seq)
        if len(opened) in (1, 3):
            raise Unavailable("connection refused")
        if len(opened) == 2:
            connected()
            time.now += 120.0  # open and silent for two minutes, then dropped
            raise Unavailable("socket closed")
        yield Event(1)

    assert [e.seq for e in follow(quiet, "job j-5", retry_for=60.0, clock=time.clock, sleep=time.sleep)] == [1]
    assert time.sleeps == [0.1, 0.1, 0.2]  # the backoff started over too, and the 120 s did not count
