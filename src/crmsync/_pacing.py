"""How fast `crmsync.http` sends to one service: slots in flight, a shared pause, a rate window.

One `Pace` per service and `execute`/read call. Every request takes a slot
(`enter`, then `leave`): at most `concurrency` are in flight. A `Retry-After`
one request is given pauses the whole service (`pause`): no request of the
pool starts before it ends, so a throttled service is not hit again by the
other threads meanwhile. With a `rate` of (requests, seconds), no more than
that many operations start within any window of that length (a Graph
`$batch` counts each request it carries, as Graph's throttling does).
Dataverse's `x-ms-ratelimit-*` answer headers (`observe`) narrow the pool
to one request at a time, spaced at the documented rate, while either says
the user's allowance is nearly spent; plenty again restores it.

Time is the injected `clock` and `sleep` (`time.monotonic` and `time.sleep`
in production): a start is reserved under the lock and slept outside it,
and the reservation, not the clock after the sleep, is what the window
counts, so a test's recording `sleep` that lets no time pass gets the same
decisions.
"""

from __future__ import annotations

import math
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import attrs

__all__ = ["Pace", "remaining_seconds"]

_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)")


def remaining_seconds(value: str) -> float | None:
    """Seconds from a `x-ms-ratelimit-time-remaining-xrm-requests` value, None if unreadable.

    Microsoft documents the header ("the remaining combined duration for all
    connections using the same user account") but not its format: a .NET
    TimeSpan (`00:19:58.1234`, `1.00:00:00`) and a number of seconds, with
    thousands separators as answers captured from the service show them
    (`1,199.98`), are both read.
    """
    value = value.strip()
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", value):
        value = value.replace(",", "")
    found = _TIMESPAN.fullmatch(value)
    if found:
        days, hours, minutes, seconds = found.groups()
        return ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60 + float(seconds)
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


@attrs.define
class Pace:
    """The pacing of one service's requests (see the module's docstring)."""

    concurrency: int
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    rate: tuple[int, float] | None = None
    _lock: threading.Condition = attrs.field(factory=threading.Condition, init=False)
    _in_flight: int = attrs.field(default=0, init=False)
    _allowed: int = attrs.field(default=0, init=False)
    _until: float = attrs.field(default=-math.inf, init=False)
    # [time, weight, done, slots] of each request counted in the rate window
    _window: deque[list[Any]] = attrs.field(factory=deque, init=False)
    _spacing: float = attrs.field(default=0.0, init=False)
    _last: float = attrs.field(default=-math.inf, init=False)
    peak: int = attrs.field(default=0, init=False)
    narrowed: int = attrs.field(default=0, init=False)  # times the headers narrowed the pool

    def __attrs_post_init__(self) -> None:
        self._allowed = self.concurrency

    def enter(self, weight: int = 1, *, slots: int = 1) -> list[Any]:
        """Takes slots and waits until this request may start.

        Args:
            weight: the operations the request carries (its share of `rate`).
            slots: the slots it holds while in flight (an unordered Graph
                `$batch` holds up to four: Graph runs four of its requests
                at a time); at most the pool's size.

        Returns:
            The request's entry in the rate window, for `leave`.
        """
        with self._lock:
            slots = max(1, min(slots, self.concurrency))
            while self._in_flight + min(slots, self._allowed) > self._allowed:
                self._lock.wait()
            slots = min(slots, self._allowed)
            self._in_flight += slots
            self.peak = max(self.peak, self._in_flight)
            now = self.clock()
            start = max(now, self._until, self._last + self._spacing)
            entry: list[Any] = [start, weight, False, slots]
            if self.rate is not None:
                fits = self._fits(start, weight, now)
                while fits is None:  # it waits for a request in flight to be answered
                    self._lock.wait()
                    now = self.clock()
                    fits = self._fits(max(start, now), weight, now)
                start = entry[0] = fits
                self._window.append(entry)
            self._last = start
        while start > now:
            self.sleep(start - now)
            with self._lock:
                # A Retry-After that came in meanwhile holds this request too. The wait is
                # reckoned from the start it slept to, not the clock, so a `sleep` that lets
                # no time pass (a test's recorder) cannot loop.
                now, start = start, max(start, self._until)
        return entry

    def _fits(self, start: float, weight: int, now: float) -> float | None:
        """The earliest start from `start` at which `weight` more stays within the rate.

        None when that depends on a request still in flight: the service
        counts a request somewhere between its sending and its answer, so a
        request counts from its answer until a window later, and one not yet
        answered must be answered before anything can be reckoned from it.
        Never too early, whatever the network's delays.
        """
        assert self.rate is not None  # noqa: S101 - only called with a rate
        limit, window = self.rate
        counted = sorted(
            (time if done else max(time, now), spent, done) for time, spent, done, _ in self._window
        )
        used = sum(spent for time, spent, _ in counted if time > start - window)
        for time, spent, done in counted:
            if used + weight <= limit:
                break
            if time > start - window:
                if not done:
                    return None
                used -= spent
                start = max(start, time + window)
        # Requests answered more than a window before any later start count no more.
        self._window = deque(e for e in self._window if not (e[2] and e[0] <= start - window))
        return start

    def leave(self, entry: list[Any]) -> None:
        """Gives the slots back; the request counts in the window from now."""
        with self._lock:
            entry[0] = max(entry[0], self.clock())
            entry[2] = True
            self._in_flight -= entry[3]
            self._lock.notify_all()

    def extension(self, seconds: float) -> float:
        """How much later the service's pause would end if it were paused `seconds` from now."""
        with self._lock:
            return max(0.0, self.clock() + seconds - max(self._until, self.clock()))

    def pause(self, seconds: float) -> None:
        """No request starts within `seconds` from now (a `Retry-After`)."""
        with self._lock:
            self._until = max(self._until, self.clock() + seconds)

    def observe(self, headers: Iterable[tuple[str, str]]) -> None:
        """Narrows or restores the pool from Dataverse's `x-ms-ratelimit-*` answer headers.

        Fewer requests left in the window than two pools' worth, or less
        than a minute of execution time per slot, and requests go one at a
        time, spaced at `rate`; over twice those, the whole pool again.
        Microsoft says the values are per web server and not to rely on
        them: crmsync only ever slows down on them, and `Retry-After`
        still decides every retry.
        """
        burst: int | None = None
        left: float | None = None
        for name, value in headers:
            lowered = name.lower()
            if lowered == "x-ms-ratelimit-burst-remaining-xrm-requests":
                digits = value.strip()
                burst = int(digits) if digits.isascii() and digits.isdigit() else None
            elif lowered == "x-ms-ratelimit-time-remaining-xrm-requests":
                left = remaining_seconds(value)
        if burst is None and left is None:
            return
        low = (burst is not None and burst < 2 * self.concurrency) or (
            left is not None and left < 60.0 * self.concurrency
        )
        plenty = (burst is None or burst >= 4 * self.concurrency) and (
            left is None or left >= 120.0 * self.concurrency
        )
        with self._lock:
            if low and self._allowed != 1:
                self._allowed = 1
                self.narrowed += 1
                self._spacing = self.rate[1] / self.rate[0] if self.rate else 0.0
            elif plenty and self._allowed != self.concurrency:
                self._allowed = self.concurrency
                self._spacing = 0.0
                self._lock.notify_all()
