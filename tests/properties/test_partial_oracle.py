"""Property tests for partial snapshots (crmsync.records, crmsync.merge, crmsync.apply).

Law (the oracle): planning from the partial snapshots of a delta round gives
the plan the equivalent complete snapshots give — the same ops, baseline
updates and fingerprint — and applying it gives the same baseline. The only
notices a partial plan may lack are those about records that did not change
on either side (a `not_tracked` item nobody touched says so only when read).
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import event, given, note
from hypothesis import strategies as st

import crmsync
from crmsync import Baseline, CrmSnapshot, OutlookSnapshot, Plan
from crmsync.records import SNAPSHOT_FIELD, as_complete
from crmsync.strategies import World, worlds


def _differs(record: Any, before: Any) -> bool:
    # `modified` takes no part in equality, but a delta reports a new stamp.
    return before is None or record != before or record.modified != before.modified


@st.composite
def _delta(draw: st.DrawFn, snapshot: Any, previous: Any) -> Any:
    """The partial snapshot a delta round would deliver for `snapshot`."""
    if previous is None:
        # Without a baseline a partial snapshot stands for what it holds.
        return attrs.evolve(snapshot, complete=False) if draw(st.booleans()) else snapshot
    if draw(st.integers(0, 9)) == 0:
        return snapshot  # one side read whole (the mixed case)
    collections: dict[str, Any] = {}
    removed: set[str] = set()
    for name in SNAPSHOT_FIELD.values():
        before = previous.by_key[name]
        now = snapshot.by_key[name]
        # A delta may repeat records that did not change; it must hold those that did.
        collections[name] = tuple(
            record
            for key, record in now.items()
            if _differs(record, before.get(key)) or draw(st.integers(0, 4)) == 0
        )
        removed.update(before.keys() - now.keys())
    return type(snapshot)(**collections, complete=False, removed=frozenset(removed))


@st.composite
def delta_rounds(draw: st.DrawFn) -> tuple[World, CrmSnapshot, OutlookSnapshot]:
    """A world and the partial snapshots that stand for its two sides."""
    first_sync = None if draw(st.integers(0, 4)) == 0 else False
    world = draw(worlds(max_records=5, first_sync=first_sync))
    base = world.baseline
    if base is not None and draw(st.integers(0, 5)) > 0:
        # Mostly the settings of the last sync: the case a delta round is read in scope.
        world = attrs.evolve(world, settings=base.settings)
    crm = draw(_delta(world.crm, base.crm if base else None))
    outlook = draw(_delta(world.outlook, base.outlook if base else None))
    return world, crm, outlook


def _plan(crm: Any, outlook: Any, baseline: Baseline | None, world: World) -> Plan:
    return crmsync.plan(crm, outlook, world.settings, baseline, user=world.user, now=world.now)


def _scope(crm: Any, outlook: Any) -> set[str]:
    """The keys a delta round names (held or removed) on either side."""
    keys: set[str] = set()
    for snapshot in (crm, outlook):
        if snapshot.complete:
            return {"*"}  # a side read whole names every key
        keys |= snapshot.removed
        for records in snapshot.by_key.values():
            keys |= records.keys()
    return keys


def _by_key(snapshot: Any) -> dict[tuple[str, str], tuple[Any, Any]]:
    return {
        (name, record.key): (record, record.modified)
        for name in SNAPSHOT_FIELD.values()
        for record in getattr(snapshot, name)
    }


def _same_plan(partial: Plan, complete: Plan, scope: set[str]) -> None:
    assert partial.ops == complete.ops
    assert partial.baseline_updates == complete.baseline_updates
    assert partial.fingerprint == complete.fingerprint
    remaining = list(complete.notices)
    for notice in partial.notices:
        assert notice in remaining, notice
        remaining.remove(notice)
    for notice in remaining:
        # Only notices about records that changed on neither side may be missing.
        assert "*" not in scope, notice
        assert notice.key, notice
        assert notice.key not in scope, notice
    if not remaining:
        assert crmsync.dumps(partial) == crmsync.dumps(complete)


@given(delta_rounds())
def test_planning_from_a_delta_round_gives_the_plan_of_the_complete_snapshots(
    round_: tuple[World, CrmSnapshot, OutlookSnapshot],
) -> None:
    """Oracle: the partial snapshots plan as the complete ones, and apply to the same baseline."""
    world, crm, outlook = round_
    complete = _plan(world.crm, world.outlook, world.baseline, world)
    partial = _plan(crm, outlook, world.baseline, world)
    note(complete.render())
    _same_plan(partial, complete, _scope(crm, outlook))
    scoped = world.baseline is not None and world.baseline.settings == world.settings
    event(f"in scope: {scoped and not crm.complete and not outlook.complete}")
    event(f"ops: {min(len(complete.ops), 3)}")

    whole = crmsync.apply(complete, world.crm, world.outlook, world.baseline)
    synced = crmsync.apply(partial, crm, outlook, world.baseline)
    assert synced.baseline == whole.baseline
    # What apply returns for a partial input stands for what it returns for a complete one.
    assert _by_key(as_complete(synced.crm, synced.baseline.crm)) == _by_key(whole.crm)
    assert _by_key(as_complete(synced.outlook, synced.baseline.outlook)) == _by_key(whole.outlook)

    # And the next round plans alike too.
    again = _plan(synced.crm, synced.outlook, synced.baseline, world)
    again_whole = _plan(whole.crm, whole.outlook, whole.baseline, world)
    _same_plan(again, again_whole, _scope(synced.crm, synced.outlook))


@given(delta_rounds())
def test_partial_snapshots_round_trip_through_json(
    round_: tuple[World, CrmSnapshot, OutlookSnapshot],
) -> None:
    """Round trip: `complete` and `removed` survive `dumps`/`loads`."""
    _, crm, outlook = round_
    assert crmsync.loads(crmsync.dumps(crm), CrmSnapshot) == crm
    assert crmsync.loads(crmsync.dumps(outlook), OutlookSnapshot) == outlook
