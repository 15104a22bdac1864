"""Tests for partial snapshots: crmsync.records (validation), crmsync.merge (scope), crmsync.apply.

A partial snapshot (a delta round) holds what changed since the baseline; an
absent key is unchanged and only `removed` keys are deletes. The general law
(the same plan as the complete snapshots) is property-tested in
tests/properties/test_partial_oracle.py; these are the rules by example.
"""

from __future__ import annotations

import json

import attrs
import pytest

import crmsync
from crmsync import (
    Address,
    Baseline,
    CrmContact,
    CrmSnapshot,
    InvalidInput,
    OutlookContact,
    OutlookSnapshot,
    Settings,
    StalePlan,
)
from crmsync.planning import default_policies
from crmsync.records import as_complete
from crmsync.settings import AddressSync
from support import NOW, codes, ops, plan, sync


def people(n: int) -> tuple[CrmSnapshot, OutlookSnapshot, Baseline]:
    crm = CrmSnapshot(contacts=[CrmContact(key=f"k{i}", job_title="A") for i in range(n)])
    outlook = OutlookSnapshot(
        contacts=[OutlookContact(key=f"k{i}", job_title="A") for i in range(n)]
    )
    return crm, outlook, Baseline(crm=crm, outlook=outlook)


NOTHING_CHANGED = OutlookSnapshot(complete=False)


def test_a_key_absent_from_a_partial_snapshot_is_unchanged_since_the_baseline() -> None:
    _, _, baseline = people(3)
    delta = CrmSnapshot(contacts=[CrmContact(key="k1", job_title="B")], complete=False)
    planned = plan(delta, NOTHING_CHANGED, None, baseline)
    assert ops(planned) == [("contact", "outlook", "k1", "update")]
    [op] = planned.ops
    assert [(c.field, c.old, c.new) for c in op.changes] == [("job_title", "A", "B")]


def test_only_removed_keys_are_deletes() -> None:
    _, _, baseline = people(3)
    planned = plan(CrmSnapshot(complete=False, removed=["k2"]), NOTHING_CHANGED, None, baseline)
    assert ops(planned) == [("contact", "outlook", "k2", "delete")]


def test_partial_and_complete_snapshots_give_the_same_plan() -> None:
    crm, outlook, baseline = people(4)
    complete_crm = CrmSnapshot(
        contacts=[CrmContact(key="k0", job_title="B"), *crm.contacts[1:3], CrmContact(key="n")]
    )
    delta = CrmSnapshot(
        contacts=[CrmContact(key="k0", job_title="B"), CrmContact(key="n")],
        complete=False,
        removed=["k3"],
    )
    assert as_complete(delta, baseline.crm).by_key == complete_crm.by_key
    partial = plan(delta, NOTHING_CHANGED, None, baseline)
    assert crmsync.dumps(partial) == crmsync.dumps(plan(complete_crm, outlook, None, baseline))


def test_the_mass_delete_guard_counts_removed_keys() -> None:
    _, _, baseline = people(12)
    removed = [f"k{i}" for i in range(10)]
    planned = plan(CrmSnapshot(complete=False, removed=removed), NOTHING_CHANGED, None, baseline)
    assert codes(planned) == ["mass_delete_blocked"]
    assert not planned.ops
    assert "lost 10 of 12 linked contacts" in planned.notices[0].message


def test_a_pending_remap_is_reported_again_when_its_contact_is_not_in_the_delta() -> None:
    x, y, z = (Address(city=city) for city in ("Oslo", "Bergen", "Tromsø"))
    w, v = Address(city="Paris"), Address(city="Lyon")
    crm = CrmSnapshot(contacts=[CrmContact(key="k", address1=x, address2=y, address3=z)])
    outlook = OutlookSnapshot(
        contacts=[OutlookContact(key="k", business_address=x, home_address=w, other_address=v)]
    )
    all_three = Settings(address_sync=AddressSync.ALL_THREE)
    _, synced = sync(crm, outlook, all_three, Baseline(crm=crm, outlook=outlook))
    assert synced.baseline.pending_remap == {"k"}
    again = plan(CrmSnapshot(complete=False), NOTHING_CHANGED, all_three, synced.baseline)
    assert codes(again) == ["address_remap_conflict"]


def test_apply_to_partial_snapshots_gives_the_baseline_a_complete_apply_gives() -> None:
    crm, outlook, baseline = people(3)
    delta = CrmSnapshot(contacts=[CrmContact(key="k1", job_title="B")], complete=False)
    outlook_delta = OutlookSnapshot(complete=False, removed=["k2"])
    partial = plan(delta, outlook_delta, None, baseline)
    synced = crmsync.apply(partial, delta, outlook_delta, baseline)
    complete_crm = CrmSnapshot(contacts=[crm.contacts[0], delta.contacts[0], crm.contacts[2]])
    complete_outlook = OutlookSnapshot(contacts=outlook.contacts[:2])
    whole = crmsync.apply(
        plan(complete_crm, complete_outlook, None, baseline),
        complete_crm,
        complete_outlook,
        baseline,
    )
    assert synced.baseline == whole.baseline
    # The snapshots come back partial: what the plan touched, and what is gone
    # (an Outlook delete of a contact unlinks it; the CRM contact stays).
    assert not synced.crm.complete
    assert (synced.crm.removed, synced.outlook.removed) == (set(), {"k2"})
    assert sorted(c.key for c in synced.crm.contacts) == ["k1", "k2"]
    assert [c.key for c in synced.outlook.contacts] == ["k1"]
    assert as_complete(synced.outlook, synced.baseline.outlook).by_key == whole.outlook.by_key
    assert plan(synced.crm, synced.outlook, None, synced.baseline).is_empty


@pytest.mark.parametrize("partial_side", ["crm", "outlook"])
def test_apply_reads_one_partial_snapshot_through_beside_a_complete_one(
    partial_side: str,
) -> None:
    """Only one side read as a delta: the op on the record it does not hold still applies
    (read through to the baseline), as with two complete snapshots."""
    crm, outlook, baseline = people(2)
    if partial_side == "outlook":
        crm = CrmSnapshot(contacts=[CrmContact(key="k0", job_title="B"), crm.contacts[1]])
        outlook = NOTHING_CHANGED
    else:
        outlook = OutlookSnapshot(
            contacts=[OutlookContact(key="k0", job_title="B"), outlook.contacts[1]]
        )
        crm = CrmSnapshot(complete=False)
    planned = plan(crm, outlook, None, baseline)
    assert ops(planned) == [
        ("contact", "crm" if partial_side == "crm" else "outlook", "k0", "update")
    ]
    synced = crmsync.apply(planned, crm, outlook, baseline)
    written = synced.crm if partial_side == "crm" else synced.outlook
    assert [(c.key, c.job_title) for c in written.contacts] == [("k0", "B")]
    assert plan(synced.crm, synced.outlook, None, synced.baseline).is_empty


def test_keys_removed_in_a_delta_that_the_guard_blocks_stay_removed_after_apply() -> None:
    """The guard writes nothing for the missing records: apply returns the delta still saying
    they are gone, so the next round (read completely) sees them missing again."""
    _, _, baseline = people(12)
    removed = [f"k{i}" for i in range(10)]
    delta = CrmSnapshot(complete=False, removed=removed)
    planned = plan(delta, NOTHING_CHANGED, None, baseline)
    assert codes(planned) == ["mass_delete_blocked"]
    synced = crmsync.apply(planned, delta, NOTHING_CHANGED, baseline)
    assert synced.crm.removed == set(removed)
    assert sorted(as_complete(synced.crm, synced.baseline.crm).by_key["contacts"]) == [
        "k10",
        "k11",
    ]


def test_a_plan_from_a_partial_snapshot_is_stale_against_a_changed_baseline_record() -> None:
    _, _, baseline = people(2)
    delta = CrmSnapshot(contacts=[CrmContact(key="k1", job_title="B")], complete=False)
    planned = plan(delta, NOTHING_CHANGED, None, baseline)
    # The Outlook record the update reads is the baseline's; another baseline is another record.
    other = attrs.evolve(
        baseline,
        outlook=OutlookSnapshot(contacts=[OutlookContact(key="k1", job_title="C")]),
    )
    with pytest.raises(StalePlan):
        crmsync.apply(planned, delta, NOTHING_CHANGED, other)


def test_a_removed_key_that_is_also_present_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as raised:
        CrmSnapshot(contacts=[CrmContact(key="k")], complete=False, removed=["k", ""])
    assert "CrmSnapshot.removed: 'k' is both removed and present" in str(raised.value)
    assert "expected a non-empty key" in str(raised.value)


def test_a_complete_snapshot_lists_no_removed_keys() -> None:
    with pytest.raises(InvalidInput, match="only a partial snapshot"):
        OutlookSnapshot(removed=["k"])


def test_a_baseline_holds_complete_snapshots_only() -> None:
    with pytest.raises(InvalidInput, match=r"crm\.complete"):
        Baseline(crm=CrmSnapshot(complete=False))


def test_json_of_a_snapshot_without_complete_or_removed_still_loads() -> None:
    text = json.dumps({"contacts": [], "appointments": [], "tasks": []})
    assert crmsync.loads(text, CrmSnapshot) == CrmSnapshot()
    delta = OutlookSnapshot(complete=False, removed=["b", "a"])
    data = json.loads(crmsync.dumps(delta))
    assert (data["complete"], data["removed"]) == (False, ["a", "b"])
    assert crmsync.loads(crmsync.dumps(delta), OutlookSnapshot) == delta


def test_an_application_rule_sees_the_unchanged_record_beside_a_changed_one() -> None:
    """exclude() reads a partial snapshot through: the rule skips the pair as with complete ones."""
    crm, outlook, baseline = people(3)
    vip = crmsync.exclude(
        crmsync.compose(*default_policies()),
        lambda record: getattr(record, "key", "") == "k1" and isinstance(record, OutlookContact),
        "vip",
    )
    edited = CrmSnapshot(
        contacts=[crm.contacts[0], CrmContact(key="k1", job_title="B"), crm.contacts[2]]
    )
    delta = CrmSnapshot(contacts=[CrmContact(key="k1", job_title="B")], complete=False)

    complete = crmsync.plan(edited, outlook, Settings(), baseline, now=NOW, policy=vip)
    partial = crmsync.plan(delta, NOTHING_CHANGED, Settings(), baseline, now=NOW, policy=vip)

    assert complete.ops == partial.ops == ()
    assert partial.baseline_updates == complete.baseline_updates
    assert codes(partial) == ["vip"]


def test_a_key_the_baseline_holds_on_one_side_only_is_planned_as_from_complete_snapshots() -> None:
    crm, outlook, _ = people(2)
    solo = CrmContact(key="solo", last_name="Alone")
    lopsided = Baseline(crm=CrmSnapshot(contacts=[*crm.contacts, solo]), outlook=outlook)
    whole = CrmSnapshot(contacts=[*crm.contacts, solo])

    complete = plan(whole, outlook, None, lopsided)
    partial = plan(CrmSnapshot(complete=False), NOTHING_CHANGED, None, lopsided)

    assert ops(complete) == [("contact", "outlook", "solo", "create")]
    assert crmsync.dumps(partial) == crmsync.dumps(complete)
