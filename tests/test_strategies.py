"""Tests for crmsync.strategies: worlds that hold the kinds of change asked for."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from crmsync.strategies import CHANGES, World, worlds

PLURAL = {"contact": "contacts", "appointment": "appointments", "task": "tasks"}


def _by_key(snapshot: Any, domain: str) -> dict[str, Any]:
    return {record.key: record for record in getattr(snapshot, PLURAL[domain])}


def holds(world: World, kind: str) -> bool:
    """Whether the world holds a change of that kind, read from its records alone."""
    domain, change = kind.split(".")
    assert world.baseline is not None
    was = {side: _by_key(getattr(world.baseline, side), domain) for side in ("crm", "outlook")}
    now = {side: _by_key(getattr(world, side), domain) for side in ("crm", "outlook")}
    linked = was["crm"].keys() & was["outlook"].keys()

    def differs(one: Any, other: Any) -> bool:
        return bool(attrs.evolve(one, modified=None) != attrs.evolve(other, modified=None))

    return any(
        (change == "edited" and any(k in now[s] and differs(now[s][k], was[s][k]) for k in linked))
        or (change == "deleted" and any(k not in now[s] for k in linked))
        or (change == "added" and any(k not in was[s] for k in now[s]))
        for s in ("crm", "outlook")
    )


def _worlds_holding(size: int) -> st.SearchStrategy[tuple[set[str], World]]:
    kinds = st.sets(st.sampled_from(sorted(CHANGES)), min_size=size, max_size=size + 2)
    return kinds.flatmap(lambda k: st.tuples(st.just(k), worlds(must_include=k, max_records=2)))


@given(_worlds_holding(1))
def test_every_world_drawn_with_must_include_holds_each_kind_of_change_asked_for(
    drawn: tuple[set[str], World],
) -> None:
    kinds, world = drawn
    assert [kind for kind in sorted(kinds) if not holds(world, kind)] == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"must_include": {"task.updated"}}, "not in"),
        ({"must_include": {"task.edited"}, "first_sync": True}, "needs a baseline"),
    ],
)
def test_a_kind_of_change_that_cannot_be_drawn_is_refused(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        worlds(**options)
