"""`crmsync._pacing.Pace`: slots in flight, one pause for the pool, the rate window, the headers."""

from __future__ import annotations

import threading
import time

import pytest

from crmsync._pacing import Pace, remaining_seconds


class Clock:
    """Virtual time: `sleep` records the wait and moves the clock on by it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(round(seconds, 6))
            self.now += seconds


def test_the_rate_window_holds_back_the_request_that_would_pass_it_until_the_oldest_leave() -> None:
    clock = Clock()
    pace = Pace(4, clock, clock.sleep, rate=(10, 60.0))
    for weight in (4, 4):
        pace.leave(pace.enter(weight))
    assert clock.sleeps == []  # 8 of 10 in the window
    pace.leave(pace.enter(4))  # 12 > 10: waits until the first 4 leave the window
    assert clock.sleeps == [60.0]
    pace.leave(pace.enter(2))  # 4 + 4 + 2 = 10 in the window that ends now: fits
    assert clock.sleeps == [60.0]


def test_a_request_counts_from_its_answer_and_one_in_flight_is_waited_for() -> None:
    """The service may count a request as late as its answer: a request that would need an
    unanswered one to have left the window waits for that answer, then a window from it."""
    clock = Clock()
    pace = Pace(4, clock, clock.sleep, rate=(10, 60.0))
    first = pace.enter(10)
    clock.now += 5.0  # the first is answered 5 s after it started
    started = threading.Event()

    def second() -> None:
        pace.leave(pace.enter(1))
        started.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not started.wait(0.1)  # it cannot reckon from a request still in flight
    pace.leave(first)
    thread.join(5)
    assert started.is_set()
    assert clock.sleeps == [60.0]  # a window from the first's answer, not from its start


def test_without_a_rate_nothing_waits() -> None:
    clock = Clock()
    pace = Pace(2, clock, clock.sleep)
    for _ in range(50):
        pace.leave(pace.enter(20))
    assert clock.sleeps == []


def test_a_pause_holds_every_other_request_but_not_the_one_that_waited_it_out() -> None:
    clock = Clock()
    pace = Pace(4, clock, clock.sleep)
    pace.pause(7.0)
    pace.leave(pace.enter())  # every request waits for the pause to end
    assert clock.sleeps == [7.0]
    clock.sleep(0.0)  # the throttled request, having slept its own wait, is not held again
    pace.leave(pace.enter())
    assert clock.sleeps == [7.0, 0.0]
    assert pace.extension(3.0) == 3.0  # the pause is over: a new one extends it fully


def test_overlapping_pauses_extend_by_the_difference_only() -> None:
    clock = Clock()
    pace = Pace(4, clock, clock.sleep)
    pace.pause(10.0)
    assert pace.extension(4.0) == 0.0
    assert pace.extension(12.0) == 2.0


def test_no_more_requests_are_in_flight_than_the_concurrency() -> None:
    pace = Pace(3, time.monotonic, time.sleep)
    in_flight, peak, lock = [0], [0], threading.Lock()

    def request() -> None:
        entry = pace.enter()
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.02)
        with lock:
            in_flight[0] -= 1
        pace.leave(entry)

    threads = [threading.Thread(target=request) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 3 == pace.peak


def test_dataverse_headers_narrow_the_pool_to_one_spaced_request_and_plenty_restores_it() -> None:
    clock = Clock()
    pace = Pace(4, clock, clock.sleep, rate=(6000, 300.0))
    pace.observe([("x-ms-ratelimit-burst-remaining-xrm-requests", "5")])  # < 2 x 4
    assert pace.narrowed == 1
    pace.leave(pace.enter())
    pace.leave(pace.enter())  # spaced at the documented rate: 300 s / 6000
    assert clock.sleeps == [0.05]
    # One at a time: a second request waits for the first to leave.
    first = pace.enter()
    entered = threading.Event()
    second = threading.Thread(target=lambda: (pace.leave(pace.enter()), entered.set()))
    second.start()
    assert not entered.wait(0.1)
    pace.leave(first)
    second.join(5)
    assert entered.is_set()
    pace.observe([("X-MS-RateLimit-Burst-Remaining-XRM-Requests", "5000")])
    clock.sleeps.clear()
    both = [pace.enter(), pace.enter()]  # two in flight again, and no spacing
    for entry in both:
        pace.leave(entry)
    assert clock.sleeps == []
    pace.observe([("x-ms-ratelimit-burst-remaining-xrm-requests", "²")])  # not a number
    assert pace.narrowed == 1


def test_a_batch_holds_as_many_slots_as_it_runs_requests_at_once() -> None:
    """An unordered Graph $batch is run four requests at a time: it holds the four slots of
    Outlook's mailbox, so a second batch waits, and a single request too."""
    pace = Pace(4, time.monotonic, time.sleep)
    batch = pace.enter(20, slots=20)
    assert pace.peak == 4
    entered = threading.Event()
    other = threading.Thread(target=lambda: (pace.leave(pace.enter()), entered.set()))
    other.start()
    assert not entered.wait(0.1)
    pace.leave(batch)
    other.join(5)
    assert entered.is_set()
    small = [pace.enter(2, slots=2), pace.enter(2, slots=2)]  # two batches of two fit
    assert pace.peak == 4
    for entry in small:
        pace.leave(entry)


def test_a_request_sleeping_to_its_start_is_held_by_a_pause_that_comes_meanwhile() -> None:
    clock = Clock()
    pace = Pace(4, clock, lambda s: (clock.sleep(s), pace.pause(10.0) if s == 60.0 else None))
    pace.rate = (1, 60.0)
    pace.leave(pace.enter())
    pace.leave(pace.enter())  # waits 60 s for the window; a 10 s pause begins as it wakes
    assert clock.sleeps == [60.0, 10.0]


def test_little_execution_time_left_narrows_the_pool_too() -> None:
    clock = Clock()
    pace = Pace(4, clock, clock.sleep, rate=(6000, 300.0))
    pace.observe([("x-ms-ratelimit-time-remaining-xrm-requests", "00:03:00")])  # < 4 min
    assert pace.narrowed == 1
    pace.observe([("x-ms-ratelimit-time-remaining-xrm-requests", "00:19:00")])
    pace.observe([("x-ms-ratelimit-time-remaining-xrm-requests", "00:02:00")])
    assert pace.narrowed == 2
    pace.observe([("x-ms-ratelimit-burst-remaining-xrm-requests", "junk")])
    assert pace.narrowed == 2


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("00:19:58.5", 1198.5),
        ("1.02:00:00", 93600.0),
        ("1200", 1200.0),
        ("17.25", 17.25),
        ("1,199.98", 1199.98),
        ("12,000,000", 12_000_000.0),
        ("1,2", None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_the_time_remaining_header_reads_as_a_timespan_or_seconds(
    value: str, seconds: float | None
) -> None:
    assert remaining_seconds(value) == seconds
