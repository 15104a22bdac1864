"""Tests for crmsync.appointments: attachments, recurring series, service activities, deletes."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

import crmsync
from crmsync import (
    Action,
    Appointment,
    Attachment,
    Baseline,
    CrmSnapshot,
    Domain,
    OutlookSnapshot,
    Recurrence,
    Settings,
    SettingsError,
    Severity,
    Side,
)
from support import NOW, USER, codes, converge, ops, plan, sync

SOON = NOW + dt.timedelta(days=2)
LATER = NOW + dt.timedelta(days=5)
PAST = NOW - dt.timedelta(days=2)
ON = Settings(sync_appointment_attachments=True)
WEEKLY = Recurrence(pattern="weekly", days_of_week=["monday"], start_date=dt.date(2026, 11, 2))


def appointment(key: str = "a", start: dt.datetime = SOON, **fields: object) -> Appointment:
    values: dict[str, object] = {"subject": "Review", "organizer": USER}
    values.update(fields)
    return Appointment(key=key, start=start, end=start + dt.timedelta(hours=1), **values)


def file(name: str, size: int = 1000) -> Attachment:
    return Attachment(name=name, size=size, content_hash=f"sha256:{name}")


def snapshots(
    crm: list[Appointment], outlook: list[Appointment]
) -> tuple[CrmSnapshot, OutlookSnapshot]:
    return CrmSnapshot(appointments=crm), OutlookSnapshot(appointments=outlook)


def linked(*records: Appointment, settings: Settings | None = None) -> Baseline:
    crm, outlook = snapshots(list(records), list(records))
    return Baseline(crm=crm, outlook=outlook, settings=settings or Settings())


# --- fields -----------------------------------------------------------------------------


def test_priority_attendees_organizer_regarding_and_show_as_have_a_fixed_direction() -> None:
    for field in ("priority", "required", "optional", "organizer", "regarding", "show_as"):
        with pytest.raises(SettingsError, match="fixed direction"):
            Settings(field_directions={f"appointment.{field}": "to_crm"})


def test_subject_body_and_location_are_settable_per_field() -> None:
    settings = Settings(field_directions={"appointment.location": "to_outlook"})
    a = appointment(location="Room 1")
    baseline = linked(a, settings=settings)
    planned = plan(*snapshots([a], [attrs.evolve(a, location="Room 2")]), settings, baseline)
    assert planned.is_empty
    assert codes(planned) == ["field_not_synced"]


def test_appointment_time_travels_as_start_end_and_all_day_changes() -> None:
    a = appointment()
    moved = attrs.evolve(a, start=LATER, end=LATER + dt.timedelta(days=1), all_day=True)
    [op] = plan(*snapshots([moved], [a]), None, linked(a)).ops
    assert [c.field for c in op.changes] == ["start", "end", "all_day"]


# --- recurring series ---------------------------------------------------------------------


def test_a_series_pattern_change_is_an_update_of_the_master() -> None:
    master = appointment(recurrence=WEEKLY)
    changed = attrs.evolve(master, recurrence=attrs.evolve(WEEKLY, interval=2))
    [op] = plan(*snapshots([changed], [master]), None, linked(master)).ops
    assert (op.action, op.side) == (Action.UPDATE, Side.OUTLOOK)
    assert [c.field for c in op.changes] == ["recurrence"]


def test_a_modified_occurrence_syncs_as_its_own_record() -> None:
    exception = appointment("a-exc", series_key="a", subject="Moved occurrence")
    [op] = plan(*snapshots([exception], [])).ops
    assert (op.action, op.key, op.record.series_key) == (Action.CREATE, "a-exc", "a")


# --- service activities and closed appointments --------------------------------------------


def test_service_activities_sync_from_the_crm_to_outlook_only() -> None:
    service = appointment(kind="service_activity")
    baseline = linked(service)
    planned = plan(*snapshots([service], [attrs.evolve(service, subject="Edited")]), None, baseline)
    assert planned.is_empty
    [notice] = planned.notices
    assert (notice.code, notice.side) == ("field_not_synced", Side.OUTLOOK)
    crm_edit = plan(*snapshots([attrs.evolve(service, subject="New")], [service]), None, baseline)
    assert ops(crm_edit) == [("appointment", "outlook", "a", "update")]


def test_an_outlook_delete_of_a_service_activity_unlinks_it_never_deletes_it_in_the_crm() -> None:
    """Service activities sync CRM → Outlook only, deletes included."""
    service = appointment(kind="service_activity")
    planned, synced = sync(*snapshots([service], []), None, linked(service))
    assert ops(planned) == [("appointment", "crm", "a", "unlink")]
    [notice] = planned.notices
    assert (notice.code, notice.side) == ("delete_not_propagated", Side.CRM)
    assert synced.crm.appointments == (service,)
    assert synced.baseline.unlinked == {(Domain.APPOINTMENT, "a")}
    converge(synced.crm, synced.outlook, None, synced.baseline)


def test_a_crm_delete_of_a_service_activity_removes_it_from_outlook() -> None:
    service = appointment(kind="service_activity")
    assert ops(plan(*snapshots([], [service]), None, linked(service))) == [
        ("appointment", "outlook", "a", "delete")
    ]


def test_a_crm_delete_of_a_service_activity_edited_in_outlook_removes_it_and_reports_the_edit() -> (
    None
):
    """Its Outlook edits cannot travel (CRM → Outlook only), so they cannot keep it alive: the
    delete is applied, and the edit it destroys is reported as data loss."""
    service = appointment(kind="service_activity")
    edited = attrs.evolve(service, subject="Edited in Outlook")
    planned, synced = sync(*snapshots([], [edited]), None, linked(service))
    assert ops(planned) == [("appointment", "outlook", "a", "delete")]
    [notice] = planned.notices
    assert (notice.code, notice.side, notice.severity) == (
        "field_not_synced",
        Side.OUTLOOK,
        Severity.DATA_LOSS,
    )
    assert "'Edited in Outlook'" in notice.message
    assert planned.has_data_loss
    assert synced.outlook.appointments == ()
    assert synced.baseline.crm.appointments == ()
    converge(synced.crm, synced.outlook, None, synced.baseline)


def test_the_delete_rules_still_apply_to_a_service_activity_edited_in_outlook() -> None:
    """Not the organizer: the CRM delete is not applied, and the edit stays in Outlook."""
    service = appointment(kind="service_activity", organizer="lee@contoso.com")
    edited = attrs.evolve(service, subject="Edited in Outlook")
    planned, synced = sync(*snapshots([], [edited]), None, linked(service))
    assert ops(planned) == [("appointment", "outlook", "a", "unlink")]
    assert codes(planned) == ["delete_not_propagated"]
    assert synced.outlook.appointments == (edited,)
    converge(synced.crm, synced.outlook, None, synced.baseline)


def test_a_completed_or_canceled_crm_appointment_takes_no_outlook_changes() -> None:
    for state in ("completed", "canceled"):
        closed = appointment(state=state)
        planned = plan(
            *snapshots([closed], [attrs.evolve(closed, location="X")]), None, linked(closed)
        )
        assert planned.is_empty
        assert codes(planned) == ["field_not_synced"]


# --- attachments ---------------------------------------------------------------------------


def test_attachments_do_not_sync_when_attachment_sync_is_off() -> None:
    a = appointment()
    planned = plan(
        *snapshots([attrs.evolve(a, attachments=[file("x.pdf"), file("y.pdf")])], [a]),
        None,
        linked(a),
    )
    assert planned.is_empty
    assert codes(planned) == ["attachment_sync_disabled"]  # one per appointment


def test_an_attachment_added_in_the_crm_is_created_in_outlook() -> None:
    a = appointment()
    crm = attrs.evolve(a, attachments=[file("agenda.pdf")])
    planned = plan(*snapshots([crm], [a]), ON, linked(a, settings=ON))
    [op] = planned.ops
    assert (op.domain, op.action, op.side, op.key) == (
        Domain.ATTACHMENT,
        Action.CREATE,
        Side.OUTLOOK,
        "a",
    )
    assert op.record == file("agenda.pdf")
    converge(*snapshots([crm], [a]), ON, linked(a, settings=ON))


def test_an_attachment_removed_on_one_side_is_removed_on_the_other() -> None:
    a = appointment(attachments=[file("old.pdf")])
    planned = plan(*snapshots([a], [attrs.evolve(a, attachments=())]), ON, linked(a, settings=ON))
    assert ops(planned) == [("attachment", "crm", "a", "delete")]


def test_a_created_appointment_carries_no_attachments_each_travels_as_its_own_op() -> None:
    a = appointment(attachments=[file("a.pdf")])
    planned = plan(*snapshots([a], []), ON)
    create = next(op for op in planned.ops if op.domain is Domain.APPOINTMENT)
    assert create.record.attachments == ()
    assert ops(planned) == [
        ("appointment", "outlook", "a", "create"),
        ("attachment", "outlook", "a", "create"),
    ]
    converge(*snapshots([a], []), ON)


def test_attachments_never_sync_for_recurring_appointments() -> None:
    master = appointment(recurrence=WEEKLY)
    planned = plan(
        *snapshots([attrs.evolve(master, attachments=[file("n.docx")])], [master]),
        ON,
        linked(master, settings=ON),
    )
    assert planned.is_empty
    assert codes(planned) == ["recurring_appointment_attachment_unsupported"]


def test_attachments_never_sync_for_exceptions_of_a_series() -> None:
    exc = appointment(series_key="series-1")
    planned = plan(
        *snapshots([attrs.evolve(exc, attachments=[file("n.docx")])], [exc]),
        ON,
        linked(exc, settings=ON),
    )
    assert codes(planned) == ["recurring_appointment_attachment_unsupported"]


def test_attachments_never_sync_for_service_activities() -> None:
    service = appointment(kind="service_activity")
    planned = plan(
        *snapshots([attrs.evolve(service, attachments=[file("n.docx")])], [service]),
        ON,
        linked(service, settings=ON),
    )
    assert planned.is_empty
    assert codes(planned) == ["service_activity_attachment_unsupported"]


def test_eligibility_is_judged_on_the_appointment_as_the_plan_leaves_it() -> None:
    """Clearing a recurrence and moving its attachments happen in one plan."""
    master = appointment(recurrence=WEEKLY)
    single = attrs.evolve(master, recurrence=None, attachments=[file("n.docx")])
    planned = plan(*snapshots([single], [master]), ON, linked(master, settings=ON))
    assert sorted(ops(planned)) == [
        ("appointment", "outlook", "a", "update"),
        ("attachment", "outlook", "a", "create"),
    ]


def test_attachments_above_the_maximum_file_size_do_not_sync() -> None:
    a = appointment()
    big = file("photos.zip", size=ON.max_attachment_bytes + 1)
    planned = plan(
        *snapshots([a], [attrs.evolve(a, attachments=[big, file("ok.txt")])]),
        ON,
        linked(a, settings=ON),
    )
    assert ops(planned) == [("attachment", "crm", "a", "create")]
    [notice] = planned.notices
    assert (notice.code, notice.severity) == ("attachment_too_large", Severity.WARNING)


def test_turning_attachment_sync_off_never_deletes_an_attachment() -> None:
    a = appointment(attachments=[file("keep.pdf")])
    baseline = linked(a, settings=ON)
    planned = plan(*snapshots([a], [attrs.evolve(a, attachments=())]), Settings(), baseline)
    assert planned.is_empty
    assert codes(planned) == ["attachment_sync_disabled"]


def test_the_budget_goes_to_the_nearest_upcoming_appointment_then_smaller_attachments() -> None:
    near, far, past = (
        appointment("near", SOON),
        appointment("far", LATER),
        appointment("past", PAST),
    )
    settings = Settings(sync_appointment_attachments=True, attachment_budget_bytes=600)
    crm = [
        attrs.evolve(far, attachments=[file("f", 100)]),
        attrs.evolve(near, attachments=[file("n-big", 500), file("n-small", 200)]),
        attrs.evolve(past, attachments=[file("p", 50)]),
    ]
    baseline = linked(near, far, past, settings=settings)
    planned = plan(*snapshots(crm, [near, far, past]), settings, baseline)
    moved = sorted((op.key, op.record.name) for op in planned.ops)
    # near: n-small (200) fits, n-big (500) does not; far's 100 still fits; past comes last: 50.
    assert moved == [("far", "f"), ("near", "n-small"), ("past", "p")]
    [deferred] = planned.notices
    assert (deferred.code, deferred.key) == ("attachment_deferred", "near")
    assert sum(op.record.size for op in planned.ops) <= 600


def test_a_deferred_attachment_is_moved_by_a_later_plan() -> None:
    a = appointment()
    settings = Settings(sync_appointment_attachments=True, attachment_budget_bytes=300)
    crm = attrs.evolve(a, attachments=[file("x", 200), file("y", 250)])
    baseline = linked(a, settings=settings)
    first, synced = sync(*snapshots([crm], [a]), settings, baseline)
    assert len(first.ops) == 1
    assert codes(first) == ["attachment_deferred"]
    second, synced = sync(synced.crm, synced.outlook, settings, synced.baseline)
    assert len(second.ops) == 1
    assert plan(synced.crm, synced.outlook, settings, synced.baseline).is_empty


def test_a_delta_round_moves_a_deferred_attachment_when_it_delivers_the_plans_reread_keys() -> None:
    """A delta query reports changes since the last read; pending work needs a re-read."""
    a = appointment()
    settings = Settings(sync_appointment_attachments=True, attachment_budget_bytes=300)
    crm = attrs.evolve(a, attachments=[file("x", 200), file("y", 250)])
    first, synced = sync(*snapshots([crm], [a]), settings, linked(a, settings=settings))
    assert first.reread == {(Domain.APPOINTMENT, "a")}
    assert first.reread_domains == frozenset()
    # Nothing changed since the last read: the delta round is empty, and the
    # pending attachment is not seen.
    quiet = (CrmSnapshot(complete=False), OutlookSnapshot(complete=False))
    assert plan(*quiet, settings, synced.baseline).is_empty
    # The application re-reads the keys the plan named: the attachment moves.
    [crm_now], [outlook_now] = synced.crm.appointments, synced.outlook.appointments
    reread = (
        CrmSnapshot(appointments=[crm_now], complete=False),
        OutlookSnapshot(appointments=[outlook_now], complete=False),
    )
    second = plan(*reread, settings, synced.baseline)
    assert [(op.domain, op.record.name) for op in second.ops] == [(Domain.ATTACHMENT, "y")]
    assert second.reread == frozenset()


# --- deletes -------------------------------------------------------------------------------


def test_a_crm_delete_removes_a_future_outlook_appointment_the_user_organizes() -> None:
    a = appointment()
    assert ops(plan(*snapshots([], [a]), None, linked(a))) == [
        ("appointment", "outlook", "a", "delete")
    ]


@pytest.mark.parametrize(
    "record",
    [appointment(start=PAST), appointment(organizer="boss@contoso.com")],
    ids=["past", "not_organizer"],
)
def test_a_crm_delete_keeps_a_past_appointment_or_one_the_user_does_not_organize(
    record: Appointment,
) -> None:
    planned = plan(*snapshots([], [record]), None, linked(record))
    assert ops(planned) == [("appointment", "outlook", "a", "unlink")]
    assert codes(planned) == ["delete_not_propagated"]


def test_an_outlook_delete_removes_an_open_future_crm_appointment_the_user_organizes() -> None:
    a = appointment()
    assert ops(plan(*snapshots([a], []), None, linked(a))) == [
        ("appointment", "crm", "a", "delete")
    ]


@pytest.mark.parametrize(
    "record",
    [
        appointment(state="completed"),
        appointment(state="canceled"),
        appointment(start=PAST),
        appointment(organizer="boss@contoso.com"),
    ],
    ids=["completed", "canceled", "past", "not_organizer"],
)
def test_an_outlook_delete_is_not_applied_to_a_closed_past_or_foreign_appointment(
    record: Appointment,
) -> None:
    planned = plan(*snapshots([record], []), None, linked(record))
    assert ops(planned) == [("appointment", "crm", "a", "unlink")]
    [notice] = planned.notices
    assert (notice.code, notice.severity) == ("delete_not_propagated", Severity.WARNING)
    synced = crmsync.apply(planned, *snapshots([record], []), linked(record))
    assert (Domain.APPOINTMENT, "a") in synced.baseline.unlinked


def test_an_outlook_delete_of_a_crm_row_without_an_organizer_goes_by_outlooks_organizer() -> None:
    """The CRM keeps an organizer only when it is a system user: without one, the organizer
    Outlook held at the last sync decides whether the user may delete it."""
    row = appointment(organizer="")
    mine, theirs = appointment(), appointment(organizer="boss@contoso.com")
    for held, expected in ((mine, "delete"), (theirs, "unlink")):
        before = Baseline(
            crm=CrmSnapshot(appointments=[row]), outlook=OutlookSnapshot(appointments=[held])
        )
        planned = plan(*snapshots([row], []), None, before)
        assert ops(planned) == [("appointment", "crm", "a", expected)]


def test_an_outlook_delete_of_a_crm_row_with_the_users_organizer_goes_by_the_crm() -> None:
    """A CRM row's organizer (a system user) is the one that counts, whatever Outlook held."""
    row = appointment()
    held = appointment(organizer="boss@contoso.com")
    before = Baseline(
        crm=CrmSnapshot(appointments=[row]), outlook=OutlookSnapshot(appointments=[held])
    )
    planned = plan(*snapshots([row], []), None, before)
    assert ops(planned) == [("appointment", "crm", "a", "delete")]


def test_a_crm_delete_of_a_service_activity_edited_in_outlook_strands_the_edit() -> None:
    """Directions come from the CRM's last synced record: a service activity syncs CRM to
    Outlook only, so an Outlook edit cannot bring it back and the delete reports the loss."""
    service = appointment(kind="service_activity")
    edited = attrs.evolve(service, subject="Review, moved", kind="appointment")
    planned = plan(*snapshots([], [edited]), None, linked(service))
    assert ops(planned) == [("appointment", "outlook", "a", "delete")]
    assert [(n.code, n.severity) for n in planned.notices] == [
        ("field_not_synced", Severity.DATA_LOSS)
    ]


def test_a_series_made_single_in_outlook_warns_that_the_crm_series_is_replaced() -> None:
    series = appointment(recurrence=WEEKLY)
    single = attrs.evolve(series, recurrence=None)
    planned = plan(*snapshots([series], [single]), None, linked(series))
    assert ops(planned) == [("appointment", "crm", "a", "update")]
    # With another notice on the pair (a conflict over the subject), both are kept.
    crm_edit = attrs.evolve(series, subject="Review (CRM)")
    outlook_edit = attrs.evolve(single, subject="Review (Outlook)")
    both = plan(*snapshots([crm_edit], [outlook_edit]), None, linked(series))
    assert sorted(codes(both)) == ["conflict_resolved", "series_replaced"]
    [notice] = planned.notices
    assert (notice.code, notice.severity, notice.key, notice.side) == (
        "series_replaced",
        Severity.WARNING,
        "a",
        Side.CRM,
    )
    assert "Dataverse cannot turn a series into an appointment" in notice.message


# --- duplicates ----------------------------------------------------------------------------


def test_an_appointment_new_on_both_sides_with_the_same_uid_is_linked_not_created_twice() -> None:
    crm = appointment("crm-1", uid="040000008200E00074C5B7101A82E008")
    outlook = appointment("AAMkAG", uid="040000008200E00074C5B7101A82E008")
    planned = plan(*snapshots([crm], [outlook]))
    assert ops(planned) == [("appointment", "outlook", "AAMkAG", "link")]
    synced = converge(*snapshots([crm], [outlook]), rounds=2)
    assert [r.key for r in synced.outlook.appointments] == ["crm-1"]
