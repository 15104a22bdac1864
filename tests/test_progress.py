"""Tests for crmsync.progress: the command's progress bar, on terminals only."""

from __future__ import annotations

import io
import time

from crmsync.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_nothing_is_written_when_the_stream_is_not_a_terminal() -> None:
    stream = io.StringIO()
    with Progress(stream, 3) as progress:
        progress.step("reading crm.json")
        progress.step("planning")
    assert not progress.enabled
    assert stream.getvalue() == ""


def test_nothing_is_written_without_a_stream() -> None:
    with Progress(None, 3) as progress:
        progress.step("planning")
    assert not progress.enabled


def test_each_step_redraws_the_bar_with_steps_done_and_time_spent() -> None:
    stream, clock = Terminal(), Clock()
    progress = Progress(stream, 4, clock=clock, tick=0)
    progress.step("reading crm.json")
    assert progress.line() == "[--------------------] 0/4 reading crm.json  0.0 s"
    clock.now = 2.5
    progress.step("planning")
    assert progress.line() == "[#####---------------] 1/4 planning  2.5 s"
    progress.close()
    drawn = stream.getvalue()
    assert drawn.startswith("\r[--------------------] 0/4 reading crm.json")
    assert "\r[#####---------------] 1/4 planning  2.5 s" in drawn
    assert drawn.endswith("\r")


def test_a_shorter_line_overwrites_the_whole_longer_one() -> None:
    stream = Terminal()
    progress = Progress(stream, 2, clock=Clock(), tick=0)
    progress.step("reading a-very-long-file-name.json")
    long_line = progress.line()
    progress.step("x")
    last = stream.getvalue().split("\r")[-1]
    assert last.rstrip() == progress.line()
    assert len(last) == len(long_line)


def test_a_running_step_is_redrawn_while_it_lasts() -> None:
    stream = Terminal()
    progress = Progress(stream, 1, tick=0.01)
    progress.step("planning")
    time.sleep(0.1)
    progress.close()
    assert stream.getvalue().count("planning") > 2
