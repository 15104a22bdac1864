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


def test_exclude_leaves_a_linked_record_and_its_baseline_alone_and_names_the_rule() -> None:
    """Mutants of `exclude` with a baseline: the skipped pair's baseline entry must stay, the
    other pairs merge as linked pairs (not a first sync), and the notice says which rule."""
    base_crm = CrmSnapshot(contacts=[CrmContact(key=k, job_title="A") for k in ("k1", "k2")])
    base_out = OutlookSnapshot(
        contacts=[OutlookContact(key=k, job_title="A") for k in ("k1", "k2")]
    )
    baseline = Baseline(crm=base_crm, outlook=base_out)
    crm = CrmSnapshot(contacts=[CrmContact(key=k, job_title="B") for k in ("k1", "k2")])
    policy = crmsync.exclude(
        crmsync.compose(*crmsync.default_policies()),
        lambda r: isinstance(r, CrmContact) and r.key == "k1",
        "private_contact",
        severity=crmsync.Severity.WARNING,
    )
    planned = crmsync.plan(crm, base_out, None, baseline, user=USER, now=NOW, policy=policy)
    [op] = planned.ops
    assert (op.key, op.side, op.reason) == ("k2", Side.OUTLOOK, "changed_in_crm")
    [notice] = planned.notices
    assert (notice.code, notice.key, notice.severity) == (
        "private_contact",
        "k1",
        crmsync.Severity.WARNING,
    )
    assert notice.message == "Left alone by the application's rule 'private_contact'."
    assert {u.key for u in planned.baseline_updates} == {"k2"}
    synced = crmsync.apply(planned, crm, base_out, baseline)
    assert [c.job_title for c in synced.baseline.crm.contacts if c.key == "k1"] == ["A"]
    # Nothing matches: the wrapped policy's own plan.
    nothing = crmsync.exclude(policy, lambda r: False, "never")
    plain = crmsync.plan(base_crm, base_out, None, baseline, user=USER, now=NOW, policy=nothing)
    assert plain.ops == ()


@pytest.mark.parametrize("code", ["bad code", "BadCode", "_", ""])
def test_exclude_requires_a_lower_case_snake_case_code(code: str) -> None:
    with pytest.raises(ValueError, match="snake_case"):
        crmsync.exclude(crmsync.compose(), lambda r: True, code)


# --- survivors of the mutmut run of 2026-11-25 ---------------------------------------------


def test_a_created_appointment_keeps_its_identity_time_and_owner_and_no_attachments() -> None:
    """Survivors in `AppointmentRules.create`, `_new`, `to_crm`: uid, kind, all-day, owner."""
    a = meeting("a", uid="uid-7", all_day=True, attachments=[file("x")])
    planned = plan(CrmSnapshot(), OutlookSnapshot(appointments=[a]))
    [op] = planned.ops
    assert (op.action, op.side, op.reason) == (Action.CREATE, Side.CRM, "new_in_outlook")
    assert (op.record.uid, op.record.all_day, op.record.owner) == ("uid-7", True, USER)
    assert op.record.attachments == ()
    service = meeting("s", kind="service_activity")
    [op] = plan(CrmSnapshot(appointments=[service]), OutlookSnapshot()).ops
    assert (op.action, op.side, op.record.kind) == (Action.CREATE, Side.OUTLOOK, service.kind)


def test_a_service_activity_only_in_outlook_is_not_created_and_leaves_no_baseline() -> None:
    """Survivors in `AppointmentRules.create`: the refused service activity's result."""
    service = meeting("s", kind="service_activity")
    planned = plan(CrmSnapshot(), OutlookSnapshot(appointments=[service]))
    assert planned.ops == ()
    [notice] = planned.notices
    assert (notice.code, notice.key, notice.side) == ("field_not_synced", "s", Side.OUTLOOK)
    assert planned.baseline_updates == ()


def test_appointments_new_on_both_sides_link_only_by_an_equal_uid() -> None:
    """Survivor: the natural key read from nothing (`str(None)`) links everything."""
    crm, outlook = meeting("c", uid="uid-1"), meeting("o", uid="uid-2")
    planned = plan(CrmSnapshot(appointments=[crm]), OutlookSnapshot(appointments=[outlook]))
    assert sorted((op.action, op.side) for op in planned.ops) == [
        (Action.CREATE, Side.CRM),
        (Action.CREATE, Side.OUTLOOK),
    ]


def test_a_field_turned_off_stays_off_for_a_service_activity() -> None:
    """Survivor: a service activity's NONE field widened to CRM → Outlook."""
    settings = Settings(field_directions={"appointment.location": Direction.NONE})
    a = meeting(kind="service_activity")
    edited = attrs.evolve(a, location="Room 4")
    baseline = appointments_baseline(a, settings=settings)
    planned = plan(
        CrmSnapshot(appointments=[edited]), OutlookSnapshot(appointments=[a]), settings, baseline
    )
    assert planned.ops == ()


def test_an_appointment_starting_or_ending_right_now_is_not_future() -> None:
    """Survivors: `<=` weakened to `<` in the delete rules (start and end at `now`)."""
    started = meeting(start=NOW)
    planned = plan(
        CrmSnapshot(),
        OutlookSnapshot(appointments=[started]),
        None,
        appointments_baseline(started, settings=Settings()),
    )
    assert [(op.action, op.side) for op in planned.ops] == [(Action.UNLINK, Side.OUTLOOK)]
    ended = Appointment(key="a", start=NOW - dt.timedelta(hours=1), end=NOW, organizer=USER)
    planned = plan(
        CrmSnapshot(appointments=[ended]),
        OutlookSnapshot(),
        None,
        appointments_baseline(ended, settings=Settings()),
    )
    assert [(op.action, op.side) for op in planned.ops] == [(Action.UNLINK, Side.CRM)]


def test_an_attachment_of_exactly_the_maximum_size_syncs_and_a_larger_one_is_named() -> None:
    """Survivors in `_attachments`: `>` → `>=`, the notice's key and side, `continue` → `break`."""
    settings = Settings(sync_appointment_attachments=True, max_attachment_bytes=1000)
    a = meeting()
    crm = attrs.evolve(a, attachments=[file("a-big", 1001), file("b-max", 1000)])
    planned = plan(
        CrmSnapshot(appointments=[crm]),
        OutlookSnapshot(appointments=[a]),
        settings,
        appointments_baseline(a, settings=settings),
    )
    assert [op.record.name for op in planned.ops] == ["b-max"]
    [notice] = planned.notices
    # The notice sits on the side that holds the attachment.
    assert (notice.code, notice.key, notice.side) == ("attachment_too_large", "a", Side.CRM)


def test_an_occurrence_of_a_series_on_one_side_refuses_attachments() -> None:
    """Survivor: `or` → `and` in the recurring-attachment refusal."""
    a = meeting()
    crm = attrs.evolve(a, series_key="series-1", attachments=[file("x")])
    planned = plan(
        CrmSnapshot(appointments=[crm]),
        OutlookSnapshot(appointments=[a]),
        ATTACHMENTS,
        appointments_baseline(a),
    )
    assert not any(op.domain is Domain.ATTACHMENT for op in planned.ops)
    assert "recurring_appointment_attachment_unsupported" in codes(planned)


def test_an_attachment_removed_then_added_again_travels_again() -> None:
    """Survivor: a removed attachment kept in the baseline, so adding it back deletes it."""
    a = attrs.evolve(meeting(), attachments=[file("x")])
    _, synced = sync(
        CrmSnapshot(appointments=[a]),
        OutlookSnapshot(appointments=[attrs.evolve(a, attachments=())]),
        ATTACHMENTS,
        appointments_baseline(a),
    )
    assert synced.crm.appointments[0].attachments == ()
    back = OutlookSnapshot(appointments=[attrs.evolve(a, attachments=[file("x")])])
    [op] = plan(synced.crm, back, ATTACHMENTS, synced.baseline).ops
    assert (op.action, op.side, op.domain) == (Action.CREATE, Side.CRM, Domain.ATTACHMENT)


def test_a_tasks_due_date_edit_travels() -> None:
    """Survivor: the view's due date always read from the start date."""
    start, due = NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=3)
    task = Task(key="t", subject="Call", start=start, due=due)
    edited = attrs.evolve(task, due=due + dt.timedelta(days=1))
    baseline = Baseline(crm=CrmSnapshot(tasks=[task]), outlook=OutlookSnapshot(tasks=[task]))
    [op] = plan(CrmSnapshot(tasks=[task]), OutlookSnapshot(tasks=[edited]), None, baseline).ops
    assert (op.side, op.changes[0].field, op.changes[0].new) == (Side.CRM, "due", edited.due)


def test_a_task_created_in_outlook_is_tracked() -> None:
    [op] = plan(CrmSnapshot(tasks=[Task(key="t", subject="Call")]), OutlookSnapshot()).ops
    assert (op.side, op.record.tracked) == (Side.OUTLOOK, True)


def test_a_crm_delete_spares_an_outlook_task_at_100_percent_whatever_its_status() -> None:
    """Survivors: `or` → `and`, and 100 → 101, in the completed-task delete rule."""
    task = Task(key="t", subject="Call", percent_complete=100, status="in_progress")
    baseline = Baseline(crm=CrmSnapshot(tasks=[task]), outlook=OutlookSnapshot(tasks=[task]))
    planned = plan(CrmSnapshot(), OutlookSnapshot(tasks=[task]), None, baseline)
    assert [(op.action, op.side) for op in planned.ops] == [(Action.UNLINK, Side.OUTLOOK)]


@pytest.mark.parametrize(
    ("task", "settings", "code"),
    [
        (
            Task(key="t", assigned_by=USER, assigned_to=["lee@contoso.com"]),
            Settings(),
            "assigned_task_sync_disabled",
        ),
        (
            Task(key="t", assigned_by=USER, assigned_to=["a@contoso.com", "b@contoso.com"]),
            Settings(sync_assigned_tasks=True, organization_domains={"contoso.com"}),
            "task_multiple_recipients",
        ),
        (
            Task(key="t", assigned_by=USER, assigned_to=["x@fabrikam.com"]),
            Settings(sync_assigned_tasks=True, organization_domains={"contoso.com"}),
            "task_assignee_outside_organization",
        ),
        (
            Task(key="t", assigned_by=USER, assigned_to=["lee"]),
            Settings(sync_assigned_tasks=True, organization_domains={"contoso.com", "lee"}),
            "task_assignee_outside_organization",
        ),
        (Task(key="t", tracked=False), Settings(), "not_tracked"),
        (
            Task(
                key="t",
                recurrence=crmsync.Recurrence(pattern="daily", start_date=dt.date(2026, 11, 2)),
            ),
            Settings(),
            "recurring_task_unsupported",
        ),
    ],
)
def test_a_refused_task_is_named_on_its_own_side(task: Task, settings: Settings, code: str) -> None:
    """Survivors in `TaskRules.refusals` and `_assignment`: each notice's side; an address
    without "@" has no domain, so it is never inside the organization."""
    planned = plan(CrmSnapshot(), OutlookSnapshot(tasks=[task]), settings)
    assert [(n.code, n.key, n.side) for n in planned.notices] == [(code, "t", Side.OUTLOOK)]


def test_a_remap_to_all_three_keeps_an_address_both_sides_agree_on_in_its_slot() -> None:
    """Survivors in `_preserve_all_three`: the slots both sides agree on are placed first."""
    # Waiting remap (pending): the sides' addresses were never merged.
    crm = CrmContact(key="k", address1=WORK, address2=WORK)
    outlook = OutlookContact(key="k", business_address=HOME, home_address=WORK)
    all_three = Settings(address_sync=AddressSync.ALL_THREE)
    baseline = attrs.evolve(contacts_baseline(crm, outlook, all_three), pending_remap={"k"})
    planned, synced = sync(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), all_three, baseline
    )
    [c], [o] = synced.crm.contacts, synced.outlook.contacts
    assert (c.address1, c.address2) == (o.business_address, o.home_address) == (HOME, WORK)
    assert codes(planned) == []


def test_a_remap_to_mailing_only_without_a_mailing_address_picks_one_of_three() -> None:
    """Survivors in `_preserve_mailing`: no mailing address and three addresses to keep."""
    crm = CrmContact(key="k", address2=WORK, address3=HOME)
    outlook = OutlookContact(key="k", home_address=OTHER)  # mailing: business, empty
    baseline = attrs.evolve(contacts_baseline(crm, outlook), pending_remap={"k"})
    planned, synced = sync(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), Settings(), baseline
    )
    [c], [o] = synced.crm.contacts, synced.outlook.contacts
    assert codes(planned) == []
    assert {c.address1, c.address2, c.address3} == {WORK, HOME, OTHER}
    assert {o.business_address, o.home_address, o.other_address} == {WORK, HOME, OTHER}
    assert c.address1 == o.business_address != Address()


def test_a_crm_wins_remap_never_writes_where_a_direction_forbids_it() -> None:
    """Survivors (`_not_synced`, never called by a test): the remap's one-way guard."""
    # To all three addresses; address2 syncs to the CRM only, so CRM_WINS may not write
    # Outlook's home address.
    all_three = Settings(
        address_sync=AddressSync.ALL_THREE,
        address_remap="crm_wins",
        field_directions={"contact.address2": Direction.TO_CRM},
    )
    crm = CrmContact(key="k", address1=WORK, address2=OTHER)
    outlook = OutlookContact(key="k", business_address=WORK, home_address=HOME)
    baseline = contacts_baseline(crm, outlook, Settings())
    planned, synced = sync(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), all_three, baseline
    )
    assert synced.outlook.contacts[0].home_address == HOME
    [notice] = [n for n in planned.notices if n.code == "field_not_synced"]
    assert (notice.key, notice.side) == ("k", Side.OUTLOOK)
    assert "address2" in notice.message


def test_a_manual_conflict_stays_the_only_pending_work_in_the_next_plan() -> None:
    """Survivor in `DomainRules.build`: the pending baseline rebuilt without its template."""
    # notes sync to Outlook only, and Outlook's own notes stayed there: a standing difference
    # the next plan sees as new only if the baseline lost Outlook's record around the conflict.
    manual = Settings(
        conflict=ConflictPolicy.MANUAL, field_directions={"contact.notes": Direction.TO_OUTLOOK}
    )
    base = CrmContact(key="k", first_name="Ann", job_title="A", notes="mine")
    out = OutlookContact(key="k", first_name="Ann", job_title="A", notes="theirs")
    baseline = contacts_baseline(base, out, manual)
    crm, outlook = attrs.evolve(base, job_title="B"), attrs.evolve(out, job_title="C")
    first, synced = sync(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), manual, baseline
    )
    assert (first.ops, codes(first)) == ((), ["conflict"])
    again = plan(synced.crm, synced.outlook, manual, synced.baseline)
    assert (again.ops, codes(again)) == ((), ["conflict"])


def test_no_baseline_over_linked_records_is_data_loss_only_when_the_plan_creates() -> None:
    """Survivor in `_no_baseline`: any op, not only a create, counted as a create."""
    crm = CrmSnapshot(contacts=[CrmContact(key="k", job_title="A")])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key="k")])
    planned = plan(crm, outlook)
    assert [op.action for op in planned.ops] == [Action.UPDATE]
    [notice] = [n for n in planned.notices if n.code == "no_baseline"]
    assert notice.severity is crmsync.Severity.WARNING


def test_a_remap_keeps_each_sides_spelling_of_one_address() -> None:
    """Survivors in `_remap_addresses`: an address the same for sync purposes is not
    rewritten in the other side's spelling."""
    all_three = Settings(address_sync=AddressSync.ALL_THREE)
    crm = CrmContact(key="k", address1=Address(street="1 Main St", city="Paris"))
    outlook = OutlookContact(key="k", business_address=Address(street="1  main st", city="PARIS "))
    baseline = contacts_baseline(crm, outlook, all_three)
    assert (
        plan(
            CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), Settings(), baseline
        ).ops
        == ()
    )


def test_a_remap_conflict_stays_pending_with_the_contact_linked() -> None:
    """Survivors in `ContactRules._remap`: the baseline keeps the previous addresses (and the
    mailing choice) of a contact whose remap waits for a person."""
    manual = Settings(conflict=ConflictPolicy.MANUAL)
    all_three = attrs.evolve(manual, address_sync=AddressSync.ALL_THREE)
    crm = CrmContact(key="k", address1=WORK, address2=HOME)
    outlook = OutlookContact(key="k", business_address=WORK, home_address=HOME)
    baseline = contacts_baseline(crm, outlook, all_three)
    # Both sides set address 3, differently (left for a person), and Outlook makes home the
    # mailing address: four addresses for three slots.
    crm_now = attrs.evolve(crm, address3=OTHER)
    four = Address(street="4 Far Rd", city="Nice")
    outlook_now = attrs.evolve(outlook, other_address=four, mailing_address=AddressKind.HOME)
    first, synced = sync(
        CrmSnapshot(contacts=[crm_now]), OutlookSnapshot(contacts=[outlook_now]), manual, baseline
    )
    assert sorted(codes(first)) == ["address_remap_conflict", "conflict"]
    assert "k" in synced.baseline.pending_remap
    # The pending part keeps its previous values on both sides, mailing choice included.
    [base_crm], [base_outlook] = synced.baseline.crm.contacts, synced.baseline.outlook.contacts
    assert (base_crm.address3, base_outlook.other_address) == (Address(), Address())
    assert base_outlook.mailing_address is AddressKind.BUSINESS
    again = plan(synced.crm, synced.outlook, manual, synced.baseline)
    assert again.ops == ()
    assert sorted(codes(again)) == ["address_remap_conflict"]


def test_apply_stamps_every_record_it_writes_with_the_plans_now() -> None:
    """Survivors in `apply._run`: the `modified` stamp dropped from creates and attachments."""
    a = meeting()
    crm = CrmSnapshot(
        appointments=[attrs.evolve(a, attachments=[file("x")])],
        tasks=[Task(key="t", subject="Call")],
    )
    outlook = OutlookSnapshot(appointments=[a])
    planned, synced = sync(crm, outlook, ATTACHMENTS, appointments_baseline(a))
    assert {op.domain for op in planned.ops} == {Domain.ATTACHMENT, Domain.TASK}
    assert synced.outlook.appointments[0].modified == NOW
    assert synced.outlook.tasks[0].modified == NOW
    removed = plan(
        synced.crm,
        OutlookSnapshot(appointments=[a], tasks=synced.outlook.tasks),
        ATTACHMENTS,
        synced.baseline,
    )
    after = crmsync.apply(
        removed,
        synced.crm,
        OutlookSnapshot(appointments=[a], tasks=synced.outlook.tasks),
        synced.baseline,
    )
    assert after.crm.appointments[0].attachments == ()
    assert after.crm.appointments[0].modified == NOW


def test_apply_refuses_a_link_or_unlink_whose_record_is_gone() -> None:
    """Survivors in `apply._run`: `or` → `and` for LINK, the UNLINK check inverted."""
    crm = CrmSnapshot(contacts=[CrmContact(key="c", emails=["ann@contoso.com"])])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key="o", emails=["ann@contoso.com"])])
    linking = plan(crm, outlook)
    assert [op.action for op in linking.ops] == [Action.LINK]
    with pytest.raises(crmsync.StalePlan):
        crmsync.apply(linking, crm, OutlookSnapshot())
    c = CrmContact(key="k")
    baseline = contacts_baseline(c, OutlookContact(key="k"))
    unlinking = plan(CrmSnapshot(contacts=[c]), OutlookSnapshot(), None, baseline)
    assert [op.action for op in unlinking.ops] == [Action.UNLINK]
    with pytest.raises(crmsync.StalePlan):
        crmsync.apply(unlinking, CrmSnapshot(), OutlookSnapshot(), baseline)


def test_an_updates_reason_names_the_strongest_rule_that_fired() -> None:
    """Survivors in `fieldmerge._stronger`: a conflict's reason is not replaced by a later field's
    plain change."""
    base_c = CrmContact(key="k", job_title="A", notes="n")
    base_o = OutlookContact(key="k", job_title="A", notes="n")
    baseline = contacts_baseline(base_c, base_o)
    crm = attrs.evolve(base_c, job_title="B", notes="m")  # notes come after job title
    outlook = attrs.evolve(base_o, job_title="C")
    [op] = plan(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), None, baseline
    ).ops
    assert (op.side, op.reason) == (Side.OUTLOOK, "conflict_crm_wins")


def test_an_outlook_wins_remap_never_writes_a_crm_slot_a_direction_forbids() -> None:
    """Survivors in `_remap_addresses`: the CRM half of the one-way guard, and its notice."""
    all_three = Settings(
        address_sync=AddressSync.ALL_THREE,
        address_remap="outlook_wins",
        field_directions={"contact.address2": Direction.TO_OUTLOOK},
    )
    crm = CrmContact(key="k", address1=WORK, address2=OTHER)
    outlook = OutlookContact(key="k", business_address=WORK, home_address=HOME)
    baseline = contacts_baseline(crm, outlook, Settings())
    planned, synced = sync(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), all_three, baseline
    )
    assert synced.crm.contacts[0].address2 == OTHER
    [notice] = [n for n in planned.notices if n.code == "field_not_synced"]
    assert (notice.key, notice.side, notice.severity) == ("k", Side.CRM, crmsync.Severity.INFO)


def test_a_remap_to_all_three_keeps_outlooks_spelling_and_each_sides_own_slots() -> None:
    """Survivors in `_remap_addresses` (Outlook's spelling) and `_preserve_all_three` (an
    address only one side holds keeps its slot)."""
    crm = CrmContact(key="k", address1=Address(street="1 Main St", city="Paris"), address2=HOME)
    outlook = OutlookContact(
        key="k", business_address=Address(street="1  main st", city="PARIS "), other_address=OTHER
    )
    baseline = contacts_baseline(crm, outlook)
    all_three = Settings(address_sync=AddressSync.ALL_THREE)
    _, synced = sync(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), all_three, baseline
    )
    [c], [o] = synced.crm.contacts, synced.outlook.contacts
    assert (c.address1, o.business_address) == (crm.address1, outlook.business_address)
    assert (c.address2, c.address3) == (o.home_address, o.other_address) == (HOME, OTHER)


def test_a_remap_to_mailing_only_without_an_outlook_mailing_address_keeps_address1() -> None:
    """Survivors in `_preserve_mailing`: with no mailing address in Outlook, the CRM's
    address1 becomes it."""
    crm = CrmContact(key="k", address1=WORK)
    outlook = OutlookContact(key="k", home_address=HOME)  # mailing: business, empty
    baseline = attrs.evolve(contacts_baseline(crm, outlook), pending_remap={"k"})
    _, synced = sync(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), Settings(), baseline
    )
    [c], [o] = synced.crm.contacts, synced.outlook.contacts
    assert c.address1 == o.business_address == WORK
    assert HOME in (c.address2, c.address3)
    assert o.home_address == HOME


def test_a_pending_remap_to_all_three_leaves_each_address_in_the_slot_that_holds_it() -> None:
    """Survivor in `_preserve_all_three`: slots one side fills keep their address."""
    all_three = Settings(address_sync=AddressSync.ALL_THREE)
    crm = CrmContact(key="k", address2=HOME)
    outlook = OutlookContact(key="k", business_address=WORK)
    baseline = attrs.evolve(contacts_baseline(crm, outlook, all_three), pending_remap={"k"})
    _, synced = sync(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), all_three, baseline
    )
    [c], [o] = synced.crm.contacts, synced.outlook.contacts
    assert (c.address1, c.address2) == (o.business_address, o.home_address) == (WORK, HOME)


def test_a_preserve_remap_that_writes_nothing_is_not_blocked_by_a_direction() -> None:
    """Survivor in `_forbidden_writes`: an unchanged slot taken for a forbidden write."""
    to_outlook = {"contact.address2": Direction.TO_OUTLOOK}
    all_three = Settings(address_sync=AddressSync.ALL_THREE, field_directions=to_outlook)
    crm = CrmContact(key="k", address1=WORK, address2=HOME)
    outlook = OutlookContact(key="k", business_address=WORK, home_address=HOME)
    baseline = contacts_baseline(crm, outlook, all_three)
    planned = plan(
        CrmSnapshot(contacts=[crm]),
        OutlookSnapshot(contacts=[outlook]),
        Settings(field_directions=to_outlook),
        baseline,
    )
    assert (planned.ops, codes(planned)) == ((), [])


def test_a_contact_whose_remap_waits_leaves_pending_remap_when_it_leaves_the_baseline() -> None:
    """Survivors in `apply._record_update`: a removed contact stays in `pending_remap`."""
    crm, outlook = CrmContact(key="k"), OutlookContact(key="k")
    baseline = attrs.evolve(contacts_baseline(crm, outlook), pending_remap={"k"})
    for crm_now in ([], [crm]):  # deleted on both sides; deleted in Outlook (unlinked)
        _, synced = sync(CrmSnapshot(contacts=crm_now), OutlookSnapshot(), None, baseline)
        assert synced.baseline.pending_remap == frozenset()


@pytest.mark.parametrize(
    ("crm_time", "outlook_time", "winner"),
    [(NOW, LATER, Side.OUTLOOK), (LATER, NOW, Side.CRM)],
)
def test_newest_wins_reads_each_sides_modified_time(
    crm_time: dt.datetime, outlook_time: dt.datetime, winner: Side
) -> None:
    """Survivors in `DomainRules.merge_pair`: the `modified` times not passed to the merge;
    the losing side's reason and the notice's severity."""
    newest = Settings(conflict=ConflictPolicy.NEWEST_WINS)
    base_c, base_o = CrmContact(key="k", job_title="A"), OutlookContact(key="k", job_title="A")
    baseline = contacts_baseline(base_c, base_o, newest)
    crm = attrs.evolve(base_c, job_title="B", modified=crm_time)
    outlook = attrs.evolve(base_o, job_title="C", modified=outlook_time)
    planned = plan(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), newest, baseline
    )
    [op] = planned.ops
    assert (op.side, op.reason) == (winner.other, "conflict_newest_wins")
    [notice] = planned.notices
    assert (notice.code, notice.severity, notice.side) == (
        "conflict_resolved",
        crmsync.Severity.WARNING,
        winner.other,
    )


def test_a_first_sync_reason_and_a_manual_first_sync_conflict_that_stays() -> None:
    """Survivors in `DomainRules.merge_pair`: a first sync's reason on the CRM side, and a
    first-sync conflict left for a person writes no baseline."""
    crm = CrmContact(key="k", job_title="")
    outlook = OutlookContact(key="k", job_title="Boss")
    [op] = plan(CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook])).ops
    assert (op.side, op.reason) == (Side.CRM, "first_sync")
    manual = Settings(conflict=ConflictPolicy.MANUAL)
    crm = attrs.evolve(crm, job_title="CEO")
    first, synced = sync(CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), manual)
    assert first.ops == ()
    assert "conflict" in codes(first)
    again = plan(synced.crm, synced.outlook, manual, synced.baseline)
    assert "conflict" in codes(again)
