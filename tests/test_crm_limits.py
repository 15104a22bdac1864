"""Tests for crmsync.crm_limits: a value longer than its CRM column is cut, once, with a notice."""

from __future__ import annotations

import datetime as dt

import attrs

from crmsync import Address, Appointment, CrmContact, CrmSnapshot, Domain, OutlookSnapshot, Task
from crmsync.crm_limits import CRM_MAX_LENGTH, fit, utf16_length
from support import NOW, codes, converge, plan, sync

START = NOW + dt.timedelta(days=1)


def test_a_subject_longer_than_200_reaches_the_crm_cut_with_a_warning_naming_both_lengths() -> None:
    long = "x" * 250
    meeting = Appointment(key="m", subject=long, start=START, end=START, tracked=True)
    outlook = OutlookSnapshot(appointments=[meeting])

    planned, synced = sync(CrmSnapshot(), outlook)

    [create] = [op for op in planned.ops if op.side.value == "crm"]
    assert create.record is not None
    assert create.record.subject == "x" * 200  # type: ignore[union-attr]
    [notice] = [n for n in planned.notices if n.code == "value_truncated"]
    assert notice.severity.value == "warning"
    assert "subject is 250 characters" in notice.message
    assert "at most 200" in notice.message
    assert synced.baseline.crm.by_key["appointments"]["m"].subject == "x" * 200
    assert synced.baseline.outlook.by_key["appointments"]["m"].subject == long


def test_the_cut_value_is_no_change_on_the_next_round() -> None:
    """No ping-pong: the CRM holds the cut value, Outlook the full one, and both stay."""
    task = Task(key="t", subject="Call", notes="n" * 2500, tracked=True)
    outlook = OutlookSnapshot(tasks=[task])

    synced = converge(CrmSnapshot(), outlook, rounds=1)

    assert synced.crm.tasks[0].notes == "n" * 2000
    assert synced.outlook.tasks[0].notes == "n" * 2500


def test_an_update_is_cut_too_and_reported_once() -> None:
    contact = CrmContact(key="c", first_name="Ann", emails=("a@x.org",))
    crm = CrmSnapshot(contacts=[contact])
    _, first = sync(crm, OutlookSnapshot())
    outlook = first.outlook
    edited = attrs.evolve(outlook.contacts[0], job_title="j" * 130)
    outlook = OutlookSnapshot(contacts=[edited])

    planned, synced = sync(first.crm, outlook, baseline=first.baseline)

    assert codes(planned) == ["value_truncated"]
    [update] = planned.ops
    assert update.changes[0].new == "j" * 100
    assert plan(synced.crm, synced.outlook, baseline=synced.baseline).is_empty


def test_a_cut_counts_utf16_units_and_never_splits_a_character() -> None:
    task = Task(key="t", subject="a" + "😀" * 100)  # 201 units

    fitted, [cut] = fit(Domain.TASK, task)

    assert fitted.subject == "a" + "😀" * 99
    assert utf16_length(fitted.subject) == 199
    assert cut.length == 201


def test_a_street_is_cut_line_by_line_and_a_city_to_its_column() -> None:
    contact = CrmContact(
        key="c", address1=Address(street="s" * 300 + "\nshort", city="c" * 90, country="NL")
    )

    fitted, cuts = fit(Domain.CONTACT, contact)

    assert fitted.address1.street == "s" * 250 + "\nshort"
    assert fitted.address1.city == "c" * 80
    assert [c.limit.column for c in cuts] == ["address1_line1..3", "address1_city"]


def test_every_domain_lists_its_mapped_text_columns() -> None:
    assert {limit.column for limit in CRM_MAX_LENGTH[Domain.APPOINTMENT]} == {
        "subject",
        "location",
        "description",
    }
    assert {limit.max_length for limit in CRM_MAX_LENGTH[Domain.TASK]} == {200, 2000}
