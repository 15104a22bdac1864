"""Tests for the mutants issue 12 lists: code changes that survived the whole suite.

Each test states, in the documentation's words, the rule a surviving mutant broke, and is
written so that the mutant (reproduced by hand, see docs/testing.md) fails it. They live
together so that the list in docs/testing.md maps one to one onto this file.
"""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

import crmsync
from crmsync import (
    Action,
    Address,
    AddressKind,
    AddressSync,
    Appointment,
    Attachment,
    Baseline,
    ConflictPolicy,
    CrmContact,
    CrmSnapshot,
    Direction,
    Domain,
    OutlookContact,
    OutlookSnapshot,
    Plan,
    Settings,
    Side,
    SyncInput,
    Task,
)
from support import NOW, USER, codes, plan, sync

HOME = Address(street="1 Home Rd", city="Lyon")
WORK = Address(street="2 Work St", city="Paris")
OTHER = Address(street="3 Other Ave", city="Nice")
SOON = NOW + dt.timedelta(days=1)
LATER = NOW + dt.timedelta(days=30)
ATTACHMENTS = Settings(sync_appointment_attachments=True)


def contacts_baseline(
    crm: CrmContact, outlook: OutlookContact, settings: Settings | None = None
) -> Baseline:
    return Baseline(
        crm=CrmSnapshot(contacts=[crm]),
        outlook=OutlookSnapshot(contacts=[outlook]),
        settings=settings or Settings(),
    )


def meeting(key: str = "a", start: dt.datetime = SOON, **fields: object) -> Appointment:
    values: dict[str, object] = {"subject": "Review", "organizer": USER}
    values.update(fields)
    return Appointment(key=key, start=start, end=start + dt.timedelta(hours=1), **values)


def file(name: str, size: int = 1000) -> Attachment:
    return Attachment(name=name, size=size, content_hash=f"sha256:{name}")


def appointments_baseline(*records: Appointment, settings: Settings = ATTACHMENTS) -> Baseline:
    return Baseline(
        crm=CrmSnapshot(appointments=records),
        outlook=OutlookSnapshot(appointments=records),
        settings=settings,
    )


# --- contacts --------------------------------------------------------------------------


@pytest.mark.parametrize("side", list(Side))
def test_an_email_address_edited_on_one_side_travels_to_the_other(side: Side) -> None:
    """Mutant: the e-mail compare key returns `()`, so no e-mail edit is ever seen."""
    crm = CrmContact(key="k", emails=["ann@contoso.com"])
    outlook = OutlookContact(key="k", emails=["ann@contoso.com"])
    baseline = contacts_baseline(crm, outlook)
    if side is Side.CRM:
        crm = attrs.evolve(crm, emails=["ann@fabrikam.com"])
    else:
        outlook = attrs.evolve(outlook, emails=["ann@fabrikam.com"])
    planned, synced = sync(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), None, baseline
    )
    [op] = planned.ops
    assert (op.side, op.action, op.changes[0].field) == (side.other, Action.UPDATE, "emails")
    assert (
        synced.crm.contacts[0].emails == synced.outlook.contacts[0].emails == ("ann@fabrikam.com",)
    )


def test_an_email_address_differing_only_in_case_is_not_a_change() -> None:
    """The other half of the compare key: normalization, not identity (strip + casefold)."""
    crm = CrmContact(key="k", emails=["ann@contoso.com"])
    outlook = OutlookContact(key="k", emails=["ann@contoso.com"])
    baseline = contacts_baseline(crm, outlook)
    edited = attrs.evolve(outlook, emails=[" Ann@Contoso.COM "])
    assert plan(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[edited]), None, baseline
    ).is_empty


def test_a_preserve_remap_to_mailing_only_never_overwrites_a_filled_slot() -> None:
    """Mutant: the PRESERVE free-slot test inverted, so a filled CRM slot is overwritten.

    All three addresses were synced; Outlook's mailing address is Home. Under MAILING_ONLY
    the CRM's address1 must hold Home, so Work moves into a free CRM slot, never onto one
    that holds an address.
    """
    all_three = Settings(address_sync=AddressSync.ALL_THREE)
    crm = CrmContact(key="k", address1=WORK, address2=HOME)
    outlook = OutlookContact(
        key="k", business_address=WORK, home_address=HOME, mailing_address=AddressKind.HOME
    )
    baseline = contacts_baseline(crm, outlook, all_three)
    planned, synced = sync(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), Settings(), baseline
    )
    [after] = synced.crm.contacts
    assert after.address1 == HOME
    assert {after.address2, after.address3} == {WORK, Address()}
    [out] = synced.outlook.contacts
    assert {out.business_address, out.home_address} == {WORK, HOME}
    assert not planned.has_data_loss


def test_a_pending_preserve_remap_moves_addresses_into_free_slots_only() -> None:
    """Mutant: the PRESERVE free-slot test inverted (`_place`), reached when the sides differ.

    The remap waited for a person (pending), so the sides' addresses were never merged: the
    CRM holds Work and Home, Outlook's mailing address is Other. Every address must end on
    both sides: Other as address1, Work and Home in the CRM's other slots.
    """
    crm = CrmContact(key="k", address1=WORK, address2=HOME)
    outlook = OutlookContact(key="k", business_address=OTHER)
    baseline = attrs.evolve(contacts_baseline(crm, outlook), pending_remap={"k"})
    planned, synced = sync(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), Settings(), baseline
    )
    [c], [o] = synced.crm.contacts, synced.outlook.contacts
    assert c.address1 == OTHER
    assert {c.address2, c.address3} == {WORK, HOME}
    assert {o.business_address, o.home_address, o.other_address} == {OTHER, WORK, HOME}
    assert codes(planned) == []
    assert "k" not in synced.baseline.pending_remap


# --- merge -----------------------------------------------------------------------------


def test_an_empty_address_on_a_first_sync_does_not_erase_the_other_sides_address() -> None:
    """Mutant: an empty `Address` not blank on a first sync, so the CRM's empty address wins."""
    crm = CrmContact(key="k", first_name="Ann")
    outlook = OutlookContact(key="k", first_name="Ann", business_address=WORK)
    planned, synced = sync(CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]))
    assert synced.crm.contacts[0].address1 == WORK
    assert synced.outlook.contacts[0].business_address == WORK
    assert "conflict_resolved" not in codes(planned)


def test_a_one_way_fields_standing_difference_does_not_make_a_new_edit_a_conflict() -> None:
    """Mutant: a one-way field's Outlook baseline read from the CRM side.

    job_title syncs Outlook → CRM only. The CRM's earlier edit stayed in the CRM (the
    baselines differ); a new CRM edit must stay there too, not be overwritten by Outlook's
    stale value as a "conflict".
    """
    to_crm = Settings(field_directions={"contact.job_title": Direction.TO_CRM})
    crm = CrmContact(key="k", job_title="Director")
    outlook = OutlookContact(key="k", job_title="Manager")
    baseline = contacts_baseline(crm, outlook, to_crm)
    edited = attrs.evolve(crm, job_title="CEO")
    planned = plan(
        CrmSnapshot(contacts=[edited]), OutlookSnapshot(contacts=[outlook]), to_crm, baseline
    )
    assert planned.ops == ()
    assert codes(planned) == ["field_not_synced"]


def test_a_one_way_fields_edit_travels_without_a_conflict_over_a_standing_difference() -> None:
    """The same mutant seen from the sending side: Outlook → CRM, Outlook edits again."""
    to_crm = Settings(field_directions={"contact.job_title": Direction.TO_CRM})
    crm = CrmContact(key="k", job_title="Director")
    outlook = OutlookContact(key="k", job_title="Manager")
    baseline = contacts_baseline(crm, outlook, to_crm)
    edited = attrs.evolve(outlook, job_title="CEO")
    planned = plan(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[edited]), to_crm, baseline
    )
    [op] = planned.ops
    assert (op.side, op.changes[0].new, op.reason) == (Side.CRM, "CEO", "changed_in_outlook")
    assert codes(planned) == []


@pytest.mark.parametrize("policy", [ConflictPolicy.CRM_WINS, ConflictPolicy.OUTLOOK_WINS])
def test_the_winners_own_change_to_a_coupled_field_travels(policy: ConflictPolicy) -> None:
    """Mutant: coupled fields, the winner's own coupled change never sent.

    Status and percent changed on both sides; the completed date changed only on the CRM
    side (it completed the task). When the CRM wins, its completed date must reach Outlook.
    """
    settings = Settings(conflict=policy)
    base = Task(key="t", subject="Call")
    crm = attrs.evolve(base, status="completed", percent_complete=100, completed=NOW)
    outlook = attrs.evolve(base, status="in_progress", percent_complete=50)
    baseline = Baseline(
        crm=CrmSnapshot(tasks=[base]), outlook=OutlookSnapshot(tasks=[base]), settings=settings
    )
    _, synced = sync(CrmSnapshot(tasks=[crm]), OutlookSnapshot(tasks=[outlook]), settings, baseline)
    [c], [o] = synced.crm.tasks, synced.outlook.tasks
    winner = crm if policy is ConflictPolicy.CRM_WINS else outlook
    for task in (c, o):
        assert (task.status, task.percent_complete, task.completed) == (
            winner.status,
            winner.percent_complete,
            winner.completed,
        )


def test_a_pair_deleted_on_both_sides_stays_in_the_baseline_while_the_guard_blocks() -> None:
    """Mutant: mass-delete guard, a pair deleted on both sides leaves the baseline anyway.

    Outlook lost all twelve linked contacts (blocked); the CRM deleted one of them too. The
    guard writes nothing the missing records would cause, so that pair stays pending.
    """
    crm = [CrmContact(key=f"k{i:02}") for i in range(12)]
    outlook = [OutlookContact(key=f"k{i:02}") for i in range(12)]
    baseline = Baseline(crm=CrmSnapshot(contacts=crm), outlook=OutlookSnapshot(contacts=outlook))
    planned = plan(CrmSnapshot(contacts=crm[1:]), OutlookSnapshot(), None, baseline)
    assert "mass_delete_blocked" in codes(planned)
    assert planned.ops == ()
    assert planned.baseline_updates == ()


# --- appointments ------------------------------------------------------------------------


def test_an_attachment_held_back_by_the_budget_is_not_deleted_by_the_next_plan() -> None:
    """Mutant: the baseline of a deferred attachment advanced anyway."""
    settings = Settings(sync_appointment_attachments=True, attachment_budget_bytes=1500)
    a = meeting()
    crm = attrs.evolve(a, attachments=[file("x", 1000), file("y", 1000)])
    baseline = appointments_baseline(a, settings=settings)
    first, synced = sync(
        CrmSnapshot(appointments=[crm]), OutlookSnapshot(appointments=[a]), settings, baseline
    )
    assert codes(first) == ["attachment_deferred"]
    second = plan(synced.crm, synced.outlook, settings, synced.baseline)
    [op] = second.ops
    assert (op.action, op.side, op.domain) == (Action.CREATE, Side.OUTLOOK, Domain.ATTACHMENT)


def test_an_attachment_removed_in_outlook_right_after_it_synced_is_removed_from_the_crm() -> None:
    """Mutant: an attachment created by the last plan missing from that side's baseline."""
    a = meeting()
    crm = attrs.evolve(a, attachments=[file("x")])
    _, synced = sync(
        CrmSnapshot(appointments=[crm]),
        OutlookSnapshot(appointments=[a]),
        ATTACHMENTS,
        appointments_baseline(a),
    )
    assert synced.outlook.appointments[0].attachments == (file("x"),)
    removed = OutlookSnapshot(
        appointments=[attrs.evolve(synced.outlook.appointments[0], attachments=())]
    )
    planned = plan(synced.crm, removed, ATTACHMENTS, synced.baseline)
    [op] = planned.ops
    assert (op.action, op.side, op.domain, op.reason) == (
        Action.DELETE,
        Side.CRM,
        Domain.ATTACHMENT,
        "attachment_removed_in_outlook",
    )


def test_the_attachment_budget_serves_the_nearest_upcoming_appointment_first() -> None:
    """Mutant: the budget served farthest-first; past appointments must come last too."""
    settings = Settings(sync_appointment_attachments=True, attachment_budget_bytes=1000)
    past, near, far = (
        meeting("past", NOW - dt.timedelta(hours=2)),
        meeting("near"),
        meeting("far", LATER),
    )
    crm = [attrs.evolve(r, attachments=[file(r.key)]) for r in (past, near, far)]
    baseline = appointments_baseline(past, near, far, settings=settings)
    planned = plan(
        CrmSnapshot(appointments=crm),
        OutlookSnapshot(appointments=[past, near, far]),
        settings,
        baseline,
    )
    assert [op.key for op in planned.ops] == ["near"]
    assert sorted(n.key for n in planned.notices) == ["far", "past"]


def test_the_budget_serves_an_upcoming_appointment_before_a_nearer_past_one() -> None:
    settings = Settings(sync_appointment_attachments=True, attachment_budget_bytes=1000)
    past, later = meeting("past", NOW - dt.timedelta(hours=1)), meeting("later", LATER)
    crm = [attrs.evolve(r, attachments=[file(r.key)]) for r in (past, later)]
    baseline = appointments_baseline(past, later, settings=settings)
    planned = plan(
        CrmSnapshot(appointments=crm),
        OutlookSnapshot(appointments=[past, later]),
        settings,
        baseline,
    )
    assert [op.key for op in planned.ops] == ["later"]


def test_the_budget_serves_smaller_attachments_first_within_an_appointment() -> None:
    settings = Settings(sync_appointment_attachments=True, attachment_budget_bytes=1000)
    a = meeting()
    crm = attrs.evolve(a, attachments=[file("big", 900), file("small", 200)])
    planned = plan(
        CrmSnapshot(appointments=[crm]),
        OutlookSnapshot(appointments=[a]),
        settings,
        appointments_baseline(a, settings=settings),
    )
    assert [op.record.name for op in planned.ops] == ["small"]


@pytest.mark.parametrize(
    "fields",
    [{"kind": "service_activity"}, {"state": "completed"}, {"state": "canceled"}],
    ids=["service_activity", "completed", "canceled"],
)
def test_service_activities_and_closed_appointments_sync_crm_to_outlook_only(
    fields: dict[str, str],
) -> None:
    """Mutant: their field directions widened to two-way."""
    a = meeting(**fields)
    baseline = appointments_baseline(a, settings=Settings())
    edited = attrs.evolve(a, location="Room 4")
    planned = plan(
        CrmSnapshot(appointments=[a]), OutlookSnapshot(appointments=[edited]), None, baseline
    )
    assert planned.ops == ()
    assert codes(planned) == ["field_not_synced"]
    # The CRM's own edit still travels.
    planned = plan(
        CrmSnapshot(appointments=[edited]), OutlookSnapshot(appointments=[a]), None, baseline
    )
    [op] = planned.ops
    assert (op.side, op.changes[0].field) == (Side.OUTLOOK, "location")


# --- policy ------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [crmsync.contacts, crmsync.appointments, crmsync.tasks])
def test_a_domain_policy_called_directly_returns_its_domains_plan(module: object) -> None:
    """Mutant: `DomainPolicy.__call__` returning None went unnoticed."""
    crm = CrmSnapshot(
        contacts=[CrmContact(key="c")], appointments=[meeting("a")], tasks=[Task(key="t")]
    )
    inp = SyncInput(crm=crm, outlook=OutlookSnapshot(), user=USER, now=NOW)
    domain_plan = module.policy(inp)  # type: ignore[attr-defined]
    assert isinstance(domain_plan, Plan)
    [op] = domain_plan.ops
    assert (op.action, op.side) == (Action.CREATE, Side.OUTLOOK)
    assert op.domain is module.RULES.domain  # type: ignore[attr-defined]
    everything = crmsync.plan(crm, OutlookSnapshot(), user=USER, now=NOW)
    assert op in everything.ops
