"""Tests for crmsync.apply: the reference applier and stale plans."""

from __future__ import annotations

import attrs
import pytest

import crmsync
from crmsync import Baseline, CrmContact, CrmSnapshot, OutlookContact, OutlookSnapshot, StalePlan
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
