"""A small progress bar for the `crmsync` command, on a terminal only.

The command reads and plans large inputs in a few long steps (read a file,
check it, plan, write); the bar shows which step is running, how many are done
and the time spent, and redraws a few times a second so a long step does not
look like a hang. When the stream is not a terminal (a pipe, a file, CI) it
writes nothing at all. Hand-written, so the command needs no dependency for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

__all__ = ["Progress"]

_WIDTH = 20
_TICK = 0.2


class Progress:
    """Step progress on a terminal: `[########------------] 2/5 planning  3.1 s`.

    Args:
        stream: where to draw (standard error), or None for no progress.
        total: how many steps the command will take.
        clock: a monotonic clock in seconds (tests pass their own).
        tick: seconds between redraws of a running step; 0 draws only when
            a step starts or ends.
    """

    def __init__(
        self,
        stream: TextIO | None,
        total: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        tick: float = _TICK,
    ) -> None:
        self.stream = stream if stream is not None and _is_terminal(stream) else None
        self.total = max(total, 1)
        self.done = 0
        self.label = ""
        self._clock = clock
        self._start = clock()
        self._width = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if self.stream is not None and tick > 0:
            self._ticker = threading.Thread(target=self._tick, args=(tick,), daemon=True)
            self._ticker.start()

    @property
    def enabled(self) -> bool:
        """True when the bar is drawn (the stream is a terminal)."""
        return self.stream is not None

    def step(self, label: str) -> None:
        """Marks the previous step done and starts the step named `label`."""
        with self._lock:
            if self.label:
                self.done = min(self.done + 1, self.total)
            self.label = label
            self._draw()

    def close(self) -> None:
        """Stops redrawing and clears the bar's line."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        with self._lock:
            if self.stream is not None and self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
                self._width = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def line(self) -> str:
        """The bar as it is drawn now (without the carriage return)."""
        filled = _WIDTH * self.done // self.total
        elapsed = self._clock() - self._start
        bar = "#" * filled + "-" * (_WIDTH - filled)
        return f"[{bar}] {self.done}/{self.total} {self.label}  {elapsed:.1f} s"

    def _draw(self) -> None:
        if self.stream is None:
            return
        text = self.line()
        pad = max(self._width - len(text), 0)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    def _tick(self, every: float) -> None:
        while not self._stop.wait(every):
            with self._lock:
                if self.label:
                    self._draw()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-less stream
        return False
