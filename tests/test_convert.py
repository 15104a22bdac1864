"""Tests for crmsync.convert: JSON round trips and errors with paths."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import crmsync
from crmsync import (
    Action,
    Address,
    Appointment,
    Attachment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    Domain,
    InvalidInput,
    OutlookContact,
    OutlookSnapshot,
    Plan,
    Recurrence,
    Settings,
    Severity,
    Side,
    Task,
)
from support import NOW, plan


def test_a_plan_round_trips_with_field_changes_in_their_own_types() -> None:
    base_c = CrmContact(key="k", address1=Address(city="Paris"))
    base_o = OutlookContact(key="k", business_address=Address(city="Paris"))
    baseline = Baseline(
        crm=CrmSnapshot(contacts=[base_c]), outlook=OutlookSnapshot(contacts=[base_o])
    )
    crm = CrmSnapshot(contacts=[CrmContact(key="k", address1=Address(city="Lyon"))])
    planned = plan(crm, OutlookSnapshot(contacts=[base_o]), None, baseline)
    back = crmsync.loads(crmsync.dumps(planned), Plan)
    assert back == planned
    [change] = back.ops[0].changes
    assert isinstance(change.new, Address)
    op = back.ops[0]
    assert (type(op.action), type(op.side), type(op.domain)) == (Action, Side, Domain)
    assert type(back.notices[0].severity) is Severity if back.notices else True


def test_snapshots_baselines_and_settings_round_trip() -> None:
    appointment = Appointment(
        key="a",
        start=NOW,
        end=NOW,
        recurrence=Recurrence(
            pattern="weekly", start_date=dt.date(2026, 1, 5), days_of_week=["monday"]
        ),
        attachments=[Attachment(name="x.pdf", size=3, content_hash="sha256:ab")],
    )
    snapshot = CrmSnapshot(
        contacts=[CrmContact(key="c", emails=["a@x"])],
        appointments=[appointment],
        tasks=[Task(key="t", due=NOW)],
    )
    settings = Settings(
        field_directions={"contact.notes": "none"}, organization_domains=frozenset({"x.com"})
    )
    baseline = Baseline(
        crm=snapshot,
        settings=settings,
        unlinked=frozenset({(Domain.TASK, "t9")}),
        pending_remap=frozenset({"c"}),
    )
    for value, cls in ((snapshot, CrmSnapshot), (settings, Settings), (baseline, Baseline)):
        assert crmsync.loads(crmsync.dumps(value), cls) == value


def test_datetimes_serialize_as_iso_8601_with_offset_and_enums_as_values() -> None:
    data = json.loads(crmsync.dumps(Task(key="t", due=NOW, status="in_progress")))
    assert data["due"] == "2026-11-24T09:00:00+00:00"
    assert data["status"] == "in_progress"


def test_every_problem_is_listed_with_its_json_path() -> None:
    bad = {
        "contacts": [
            {"key": "a"},
            {"key": "b", "emails": ["1@x", "2@x", "3@x", "4@x"]},
            {"key": "c", "address1": {"city": 5}},
            {"key": "a", "nickname": "dup"},
        ]
    }
    with pytest.raises(InvalidInput) as exc:
        crmsync.loads(json.dumps(bad), CrmSnapshot)
    lines = exc.value.lines()
    assert "$.contacts[1].emails: more than three e-mail addresses (4)" in lines
    assert "$.contacts[2].address1.city: expected a string, got a number" in lines
    assert "$.contacts[3].nickname: unknown field" in lines


def test_a_duplicate_key_is_reported_with_its_path() -> None:
    with pytest.raises(InvalidInput) as exc:
        crmsync.loads('{"tasks": [{"key": "t"}, {"key": "t"}]}', CrmSnapshot)
    assert exc.value.lines() == ["$.tasks[1].key: duplicate key 't' (also at tasks[0])"]


def test_a_naive_datetime_is_invalid_input_with_its_path() -> None:
    with pytest.raises(InvalidInput) as exc:
        crmsync.loads('{"tasks": [{"key": "t", "due": "2026-01-01T10:00:00"}]}', CrmSnapshot)
    assert exc.value.lines()[0].startswith("$.tasks[0].due: datetime must be timezone-aware")


def test_a_missing_key_is_reported() -> None:
    with pytest.raises(InvalidInput) as exc:
        crmsync.loads('{"contacts": [{"first_name": "x"}]}', CrmSnapshot)
    assert exc.value.lines() == ["$.contacts[0].key: required field missing"]


def test_an_unknown_major_format_version_is_rejected() -> None:
    text = crmsync.dumps(Plan(now=NOW)).replace('"1.0"', '"2.0"')
    with pytest.raises(InvalidInput, match=r"format_version: unsupported plan format '2.0'"):
        crmsync.loads(text, Plan)


def test_bad_json_and_bad_utf8_are_invalid_input() -> None:
    with pytest.raises(InvalidInput, match=r"not valid JSON"):
        crmsync.loads("{", CrmSnapshot)
    with pytest.raises(InvalidInput, match=r"not valid UTF-8"):
        crmsync.loads(b'{"contacts": ["\xff"]}', CrmSnapshot)


def test_settings_errors_inside_a_document_become_invalid_input_with_paths() -> None:
    with pytest.raises(InvalidInput) as exc:
        crmsync.loads('{"field_directions": {"appointment.priority": "none"}}', Settings)
    [line] = exc.value.lines()
    assert line.startswith("$.field_directions.appointment.priority: this field has a fixed")


def test_an_unknown_field_in_json_suggests_the_field_meant() -> None:
    with pytest.raises(InvalidInput) as caught:
        crmsync.loads('{"adress_sync": "all_three"}', Settings)
    assert caught.value.lines() == ["$.adress_sync: unknown field; did you mean 'address_sync'?"]
