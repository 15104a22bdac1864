"""Tests for crmsync.apply: the reference applier, stale plans and altered plans."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given

import crmsync
from crmsync import (
    Action,
    AlteredPlan,
    Appointment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    Domain,
    Op,
    OutlookContact,
    OutlookSnapshot,
    Plan,
    Side,
    StalePlan,
)
from crmsync.apply import advance_baseline
from crmsync.strategies import World, worlds
from support import NOW, plan


def pair() -> tuple[CrmSnapshot, OutlookSnapshot, Baseline]:
    crm = CrmSnapshot(contacts=[CrmContact(key="k", job_title="A")])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key="k", job_title="A")])
    return crm, outlook, Baseline(crm=crm, outlook=outlook)


def test_apply_writes_the_ops_and_stamps_written_records_with_now() -> None:
    _, outlook, baseline = pair()
    edited = CrmSnapshot(contacts=[CrmContact(key="k", job_title="B")])
    synced = crmsync.apply(plan(edited, outlook, None, baseline), edited, outlook, baseline)
    [written] = synced.outlook.contacts
    assert (written.job_title, written.modified) == ("B", NOW)
    assert synced.baseline.crm.contacts[0].job_title == "B"


def test_a_plan_applied_to_other_snapshots_is_stale() -> None:
    _, outlook, baseline = pair()
    edited = CrmSnapshot(contacts=[CrmContact(key="k", job_title="B")])
    planned = plan(edited, outlook, None, baseline)
    moved_on = OutlookSnapshot(contacts=[OutlookContact(key="k", job_title="C")])
    with pytest.raises(StalePlan) as exc:
        crmsync.apply(planned, edited, moved_on, baseline)
    assert any("job_title is no longer what the plan saw" in r for r in exc.value.reasons)


def test_an_unlink_of_a_record_that_is_gone_is_stale_and_says_so() -> None:
    """An UNLINK keeps the record on its side: when that record is gone, the plan is stale,
    and the reasons name the op as well as the changed records."""
    soon = NOW + dt.timedelta(days=2)
    service = Appointment(key="a", kind="service_activity", start=soon, end=soon)
    linked = CrmSnapshot(appointments=[service]), OutlookSnapshot(appointments=[service])
    baseline = Baseline(crm=linked[0], outlook=linked[1])
    planned = plan(linked[0], OutlookSnapshot(), None, baseline)  # deleted in Outlook
    assert [(op.action, op.side) for op in planned.ops] == [(Action.UNLINK, Side.CRM)]
    for crm in (CrmSnapshot(), CrmSnapshot(complete=False, removed=["a"])):
        with pytest.raises(StalePlan) as exc:
            crmsync.apply(planned, crm, OutlookSnapshot(), baseline)
        assert "unlink appointment 'a' in crm: the record is gone" in exc.value.reasons


def test_a_change_to_a_record_the_plan_only_reads_makes_it_stale() -> None:
    _, outlook, baseline = pair()
    edited = CrmSnapshot(contacts=[CrmContact(key="k", job_title="B")])
    planned = plan(edited, outlook, None, baseline)
    other = CrmSnapshot(contacts=[CrmContact(key="k", job_title="B", notes="later")])
    with pytest.raises(StalePlan, match="have changed since it was made"):
        crmsync.apply(planned, other, outlook, baseline)


def test_a_create_over_an_existing_key_is_stale() -> None:
    crm = CrmSnapshot(contacts=[CrmContact(key="n")])
    planned = plan(crm, OutlookSnapshot())
    with pytest.raises(StalePlan, match="exists already"):
        crmsync.apply(planned, crm, OutlookSnapshot(contacts=[OutlookContact(key="n")]))


def test_advance_baseline_applies_only_the_updates_of_the_ops_carried_out() -> None:
    """An executor that carried out some ops advances the baseline for those records only;
    the others stay as the previous baseline holds them, for the next plan."""
    crm, outlook, baseline = pair()
    crm = CrmSnapshot(contacts=[CrmContact(key="k", job_title="B"), CrmContact(key="n")])
    planned = plan(crm, outlook, None, baseline)
    assert sorted(u.key for u in planned.baseline_updates) == ["k", "n"]
    done = [u for u in planned.baseline_updates if u.key == "n"]
    advanced = advance_baseline(planned, baseline, done)
    for side in (advanced.crm, advanced.outlook):
        contacts = side.by_key["contacts"]
        assert sorted(contacts) == ["k", "n"]
        assert contacts["k"].job_title == "A"  # not carried out: still pending


def test_a_plan_made_with_a_baseline_refuses_to_be_applied_without_it() -> None:
    crm, outlook, baseline = pair()
    planned = plan(crm, outlook, None, baseline)
    with pytest.raises(StalePlan, match="made with a baseline"):
        crmsync.apply(planned, crm, outlook)


def test_records_the_plan_did_not_touch_keep_their_previous_baseline_entry() -> None:
    crm, outlook, baseline = pair()
    extra_c, extra_o = CrmContact(key="z", notes="old"), OutlookContact(key="z", notes="old")
    baseline = Baseline(
        crm=CrmSnapshot(contacts=[*crm.contacts, extra_c]),
        outlook=OutlookSnapshot(contacts=[*outlook.contacts, extra_o]),
    )
    now_crm = CrmSnapshot(contacts=[CrmContact(key="k", job_title="B"), extra_c])
    now_out = OutlookSnapshot(contacts=[*outlook.contacts, extra_o])
    planned = plan(now_crm, now_out, None, baseline)
    assert [u.key for u in planned.baseline_updates] == ["k"]
    synced = crmsync.apply(planned, now_crm, now_out, baseline)
    assert attrs.evolve(synced.baseline.crm.contacts[1]) == extra_c


def _edited(planned: Plan, edit: Callable[[dict[str, Any]], None]) -> Plan:
    """The plan after someone edited its JSON (the fingerprint left as it was)."""
    data = json.loads(crmsync.dumps(planned))
    edit(data)
    return crmsync.loads(json.dumps(data), Plan)


def _update_plan() -> tuple[Plan, CrmSnapshot, OutlookSnapshot, Baseline]:
    _, outlook, baseline = pair()
    edited = CrmSnapshot(contacts=[CrmContact(key="k", job_title="B")])
    planned = plan(edited, outlook, None, baseline)
    assert [(op.action, op.side) for op in planned.ops] == [(Action.UPDATE, Side.OUTLOOK)]
    return planned, edited, outlook, baseline


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        target: Any = data
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return edit


def _drop_op(data: dict[str, Any]) -> None:
    data["ops"].pop()


ALTERATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "update edited into a delete": _set(("ops", 0, "action"), "delete"),
    "a change's new value edited": _set(("ops", 0, "changes", 0, "new"), "Chief Executive"),
    "a change's old value edited": _set(("ops", 0, "changes", 0, "old"), "Z"),
    "an op dropped": _drop_op,
    "a baseline update edited": _set(("baseline_updates", 0, "outlook", "job_title"), "Z"),
    "a baseline update dropped": _set(("baseline_updates",), []),
    "the settings edited": _set(("settings", "conflict"), "outlook_wins"),
    "now edited": _set(("now",), "2030-01-01T00:00:00+00:00"),
    "has_baseline cleared": _set(("has_baseline",), False),
    "the fingerprint edited": _set(("fingerprint",), "sha256:" + "0" * 64),
}


@pytest.mark.parametrize("edit", ALTERATIONS.values(), ids=ALTERATIONS.keys())
def test_an_altered_plan_is_refused_as_altered(edit: Callable[[dict[str, Any]], None]) -> None:
    planned, crm, outlook, baseline = _update_plan()
    altered = _edited(planned, edit)
    with pytest.raises(AlteredPlan, match="the plan was altered after it was made"):
        crmsync.apply(altered, crm, outlook, baseline)


def test_an_unaltered_plan_applies_after_a_json_round_trip_with_named_zones() -> None:
    paris = ZoneInfo("Europe/Paris")
    start = dt.datetime(2026, 12, 1, 10, tzinfo=paris)
    crm = CrmSnapshot(appointments=[Appointment(key="a", start=start, end=start, modified=start)])
    planned = plan(crm, OutlookSnapshot())
    again = crmsync.loads(crmsync.dumps(planned), Plan)
    assert again.ops[0].record.start.tzinfo is not paris  # a fixed offset now
    synced = crmsync.apply(again, crm, OutlookSnapshot())
    assert synced.outlook.appointments[0].start == start


def test_a_stale_plan_is_stale_not_altered() -> None:
    planned, crm, _, baseline = _update_plan()
    moved_on = OutlookSnapshot(contacts=[OutlookContact(key="k", job_title="C")])
    with pytest.raises(StalePlan) as exc:
        crmsync.apply(planned, crm, moved_on, baseline)
    assert not isinstance(exc.value, AlteredPlan)
    assert "made from other snapshots" in str(exc.value)


def test_a_plan_built_by_hand_without_a_fingerprint_is_refused() -> None:
    op = Op(action=Action.DELETE, side=Side.OUTLOOK, domain=Domain.CONTACT, key="k", reason="x")
    crm, outlook, baseline = pair()
    with pytest.raises(AlteredPlan, match="no fingerprint"):
        crmsync.apply(Plan(ops=(op,), now=NOW, has_baseline=True), crm, outlook, baseline)


@given(worlds())
def test_every_plan_applies_after_a_json_round_trip(world: World) -> None:
    """Integrity: the fingerprint is the same before and after JSON, for any world."""
    planned = crmsync.plan(
        world.crm, world.outlook, world.settings, world.baseline, user=world.user, now=world.now
    )
    again = crmsync.loads(crmsync.dumps(planned), Plan)
    assert again.fingerprint == planned.fingerprint
    synced = crmsync.apply(again, world.crm, world.outlook, world.baseline)
    assert synced == crmsync.apply(planned, world.crm, world.outlook, world.baseline)
