"""Tests for crmsync.planning.hold: a data-loss notice holds its records, not the mailbox."""

from __future__ import annotations

import attrs
import pytest

import crmsync
from crmsync import (
    Address,
    AddressRemap,
    AddressSync,
    AlteredPlan,
    Baseline,
    CrmContact,
    CrmSnapshot,
    Direction,
    Domain,
    OutlookContact,
    OutlookSnapshot,
    Plan,
    Settings,
    StalePlan,
)
from support import NOW, USER

ONE_WAY = Settings(field_directions={"contact.job_title": Direction.TO_OUTLOOK})


def _plan(
    crm: CrmSnapshot, outlook: OutlookSnapshot, settings: Settings, baseline: Baseline
) -> Plan:
    return crmsync.plan(crm, outlook, settings, baseline, user=USER, now=NOW)


def _world() -> tuple[CrmSnapshot, OutlookSnapshot, Baseline]:
    """k1 deleted in the CRM over an Outlook edit that cannot travel (data loss); k2 edited."""
    keys = ("k1", "k2")
    crm = CrmSnapshot(contacts=[CrmContact(key=k, job_title="A") for k in keys])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key=k, job_title="A") for k in keys])
    baseline = Baseline(crm=crm, outlook=outlook, settings=ONE_WAY)
    crm = CrmSnapshot(contacts=[CrmContact(key="k2", job_title="B")])
    outlook = OutlookSnapshot(
        contacts=[OutlookContact(key="k1", job_title="O"), OutlookContact(key="k2", job_title="A")]
    )
    return crm, outlook, baseline


def test_data_loss_records_are_the_records_data_loss_notices_name() -> None:
    crm, outlook, baseline = _world()
    planned = _plan(crm, outlook, ONE_WAY, baseline)
    assert planned.data_loss_records == {(Domain.CONTACT, "k1")}


def test_hold_executes_the_rest_and_the_held_record_stays_pending() -> None:
    """Hold records, not mailboxes: k2 syncs, k1 keeps its baseline and its notice comes back."""
    crm, outlook, baseline = _world()
    planned = _plan(crm, outlook, ONE_WAY, baseline)

    held = crmsync.hold(planned, crm, outlook, baseline)

    assert [(op.key, op.action.value) for op in held.ops] == [("k2", "update")]
    assert held.notices == planned.notices  # still reported, still has_data_loss
    synced = crmsync.apply(held, crm, outlook, baseline)  # fingerprinted anew: it applies
    assert [(c.key, c.job_title) for c in synced.outlook.contacts] == [("k1", "O"), ("k2", "B")]
    assert synced.baseline.crm.by_key["contacts"]["k1"] == baseline.crm.by_key["contacts"]["k1"]
    again = _plan(synced.crm, synced.outlook, ONE_WAY, synced.baseline)
    assert again.data_loss_records == {(Domain.CONTACT, "k1")}
    assert [(op.key, op.action.value) for op in again.ops] == [("k1", "delete")]


def test_a_person_who_runs_the_held_work_unheld_settles_it() -> None:
    crm, outlook, baseline = _world()
    planned = _plan(crm, outlook, ONE_WAY, baseline)
    synced = crmsync.apply(crmsync.hold(planned, crm, outlook, baseline), crm, outlook, baseline)
    decided = _plan(synced.crm, synced.outlook, ONE_WAY, synced.baseline)
    settled = crmsync.apply(decided, synced.crm, synced.outlook, synced.baseline)
    assert _plan(settled.crm, settled.outlook, ONE_WAY, settled.baseline).is_empty


def test_hold_without_data_loss_is_the_plan_itself() -> None:
    crm, outlook, baseline = _world()
    planned = _plan(crm, outlook, ONE_WAY, baseline)
    assert crmsync.hold(planned, crm, outlook, baseline, records=()) is planned


def test_hold_of_a_domain_holds_every_record_of_it() -> None:
    """A notice about a whole domain (an empty key) holds the domain: no op, no update."""
    crm, outlook, baseline = _world()
    planned = _plan(crm, outlook, ONE_WAY, baseline)
    held = crmsync.hold(planned, crm, outlook, baseline, records=[(Domain.CONTACT, "")])
    assert held.ops == ()
    assert held.baseline_updates == ()
    synced = crmsync.apply(held, crm, outlook, baseline)
    assert synced.baseline.crm == baseline.crm
    assert synced.baseline.outlook == baseline.outlook


def test_hold_refuses_a_plan_made_from_other_snapshots() -> None:
    """A new fingerprint over other snapshots would pass a stale plan off as fresh."""
    crm, outlook, baseline = _world()
    planned = _plan(crm, outlook, ONE_WAY, baseline)
    edited = CrmSnapshot(contacts=[CrmContact(key="k2", job_title="C")])
    with pytest.raises(StalePlan, match="changed since it was made"):
        crmsync.hold(planned, edited, outlook, baseline)
    with pytest.raises(StalePlan, match="pass it to hold"):
        crmsync.hold(planned, crm, outlook)


def test_hold_refuses_an_altered_plan() -> None:
    crm, outlook, baseline = _world()
    planned = _plan(crm, outlook, ONE_WAY, baseline)
    with pytest.raises(AlteredPlan):
        crmsync.hold(attrs.evolve(planned, ops=planned.ops[:1]), crm, outlook, baseline)


def test_a_held_contact_keeps_its_address_remap_pending() -> None:
    """A held remap is proposed again under the new mode, not forgotten as in sync."""
    work, home, other = (Address(street=s) for s in ("1 Main", "2 Home", "9 Other"))
    crm = CrmSnapshot(contacts=[CrmContact(key="k", address1=work, address2=other)])
    outlook = OutlookSnapshot(
        contacts=[OutlookContact(key="k", business_address=work, home_address=home)]
    )
    baseline = Baseline(crm=crm, outlook=outlook, settings=Settings())
    switched = Settings(address_sync=AddressSync.ALL_THREE, address_remap=AddressRemap.CRM_WINS)
    planned = _plan(crm, outlook, switched, baseline)
    assert planned.data_loss_records == {(Domain.CONTACT, "k")}

    held = crmsync.hold(planned, crm, outlook, baseline)

    synced = crmsync.apply(held, crm, outlook, baseline)
    assert held.ops == ()
    assert synced.baseline.pending_remap == {"k"}
    again = _plan(synced.crm, synced.outlook, switched, synced.baseline)
    assert [n.code for n in again.notices] == ["address_remap_data_loss"]
    assert [c.new for op in again.ops for c in op.changes] == [other]
