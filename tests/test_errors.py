"""Tests for crmsync.errors: one error root, bounded problem lists, safe descriptions."""

from __future__ import annotations

import pickle

import pytest

from crmsync import InvalidInput
from crmsync.errors import MAX_PROBLEMS, Problem, Problems, shown


def test_an_error_keeps_the_first_100_problems_and_counts_the_rest() -> None:
    error = InvalidInput(Problem((i,), "bad") for i in range(250))
    assert len(error.problems) == MAX_PROBLEMS == 100
    assert error.more == 150
    assert error.lines()[-1] == "and 150 more problems"
    assert str(error).startswith("250 problems:\n")
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own value
    assert (again.problems, again.more) == (error.problems, error.more)


def test_a_problem_list_stops_keeping_problems_at_the_cap_and_carries_counts() -> None:
    inner = Problems(Problem(("a", i), "bad") for i in range(150))
    assert (len(inner), inner.more) == (100, 50)
    outer = Problems()
    outer.absorb(InvalidInput(inner), "file")
    outer.append(Problem(("b",), "bad"))
    assert (len(outer), outer.more, outer.total) == (100, 51, 151)
    assert outer[0].path == ("file", "a", 0)


def test_shown_describes_huge_and_deep_values_without_a_crash() -> None:
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    assert shown(deep) == "a list of 1"
    assert shown(10**5000) == "a number of about 5,001 digits"
    assert shown("x" * 1000) == repr("x" * 60) + "…"
    assert shown({"a": 1}) == "an object of 1 names"
    assert (shown(None), shown(True), shown(12)) == ("null", "true", "12")


@pytest.mark.parametrize("name", ["k\ud800", "ok"])
def test_a_rendered_problem_is_always_valid_unicode(name: str) -> None:
    line = Problem(("contacts", name), "unknown field").render()
    assert line.encode("utf-8")
