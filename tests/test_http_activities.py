"""Tests for crmsync.http against a Dataverse that keeps the activity model Microsoft documents.

Series in `recurringappointmentmasters` with their instances, closed activities
that refuse edits, `statecode` refused on create, MaxLength refused, read-only
and required columns: crmsync.testing enforces each as the Dataverse
table reference documents it, so a round that sends anything else fails here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

import crmsync
from crmsync import Baseline, Plan, Settings
from crmsync.adapters.graph import TRACKED_CATEGORY
from crmsync.http import Connection, Executed
from crmsync.testing import API, FakeMicrosoft, organizer_party
from support import fake_connection

USER = "ann@contoso.com"
NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=2)
SETTINGS = Settings(sync_appointment_attachments=True)
WEEKLY = {
    "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["thursday"]},
    "range": {"type": "numbered", "startDate": "2026-11-26", "numberOfOccurrences": 4},
}


@pytest.fixture
def fake() -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft() as server:
        yield server


@pytest.fixture
def connection(fake: FakeMicrosoft) -> Iterator[Connection]:
    with fake_connection(fake) as made:
        yield made


def _when(moment: dt.datetime) -> dict[str, str]:
    return {"dateTime": moment.replace(tzinfo=None).isoformat(), "timeZone": "UTC"}


def _round(connection: Connection, baseline: Baseline | None) -> tuple[Plan, Executed, Baseline]:
    outlook = connection.read_outlook(baseline)
    crm = connection.read_crm()
    plan = crmsync.plan(crm, outlook.snapshot, SETTINGS, baseline, user=USER, now=NOW)
    executed = connection.execute(plan, crm, outlook.snapshot, graph_ids=outlook.ids)
    return plan, executed, executed.baseline(baseline)


def _converged(connection: Connection, baseline: Baseline | None) -> Baseline:
    """One round that does everything it plans, then a round with nothing to do."""
    _, executed, baseline = _round(connection, baseline)
    assert executed.complete, [(o.url, o.message) for o in executed.not_done]
    again, _, baseline = _round(connection, baseline)
    assert again.is_empty, again.render()
    return baseline


def _event(fake: FakeMicrosoft, **values: Any) -> str:
    body = {
        "subject": "Standup",
        "start": _when(LATER),
        "end": _when(LATER + dt.timedelta(minutes=15)),
        "organizer": {"emailAddress": {"address": USER}},
        "categories": [TRACKED_CATEGORY],
    } | values
    return fake.add("graph", "events", body)


def test_a_series_from_outlook_is_a_recurringappointmentmaster_with_its_time(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    _event(fake, recurrence=WEEKLY)

    _converged(connection, None)

    [series] = fake.dataverse["recurringappointmentmasters"].values()
    assert series["starttime"].startswith("2026-11-26T09:00")
    assert series["recurrencepatterntype"] == 1
    assert not {"scheduledstart", "scheduledend"} & set(series)


def test_a_crm_series_with_instances_reads_and_syncs(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    fake.add(
        "dataverse",
        "recurringappointmentmasters",
        {
            "subject": "Weekly review",
            "starttime": LATER.isoformat(),
            "endtime": (LATER + dt.timedelta(hours=1)).isoformat(),
            "recurrencepatterntype": 1,
            "interval": 1,
            "daysofweekmask": 16,
            "patternstartdate": "2026-11-26T00:00:00Z",
            "patternendtype": 1,
            "recurringappointmentmaster_activity_parties": [organizer_party(USER)],
        },
    )
    assert len(fake.dataverse["appointments"]) == 2  # its instances, instancetypecode 2

    crm = connection.read_crm()
    [series] = crm.appointments
    assert series.recurrence is not None

    _converged(connection, None)
    [event] = fake.graph["events"].values()
    assert event["subject"] == "Weekly review"
    assert event["recurrence"]["pattern"]["type"] == "weekly"


def test_an_appointment_made_recurring_in_outlook_becomes_a_series_through_add_recurrence(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    event_id = _event(fake)
    baseline = _converged(connection, None)
    [single] = fake.dataverse["appointments"]

    fake.edit("graph", "events", event_id, recurrence=WEEKLY, type="seriesMaster")
    _, executed, baseline = _round(connection, baseline)

    assert executed.complete, [(o.url, o.message) for o in executed.not_done]
    assert (
        "POST",
        f"{API}/appointments({single})/Microsoft.Dynamics.CRM.AddRecurrence",
    ) in fake.log
    assert single not in fake.dataverse["appointments"]  # converted: copied, then deleted
    [series_id] = fake.dataverse["recurringappointmentmasters"]
    again, _, _ = _round(connection, baseline)
    assert again.is_empty, again.render()
    crmid = [
        p["value"]
        for p in fake.graph["events"][event_id]["singleValueExtendedProperties"]
        if p["id"].endswith("crmid")
    ]
    assert crmid == [series_id]


def test_a_completed_task_from_outlook_is_created_open_then_completed(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    fake.add(
        "graph",
        "tasks",
        {"title": "Send the deck", "status": "completed", "categories": [TRACKED_CATEGORY]},
    )

    _converged(connection, None)

    [task] = fake.dataverse["tasks"].values()
    assert (task["statecode"], task["statuscode"]) == (1, 5)


def test_a_completed_crm_task_edited_in_outlook_is_reopened_written_and_closed_again(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    key = fake.add("dataverse", "tasks", {"subject": "Call back"})
    fake.edit("dataverse", "tasks", key, statecode=1, statuscode=5, percentcomplete=100)
    baseline = _converged(connection, None)

    [todo] = fake.graph["tasks"].values()
    todo["title"] = "Call back about the quote"
    _, executed, baseline = _round(connection, baseline)

    assert executed.complete, [(o.url, o.message) for o in executed.not_done]
    task = fake.dataverse["tasks"][key]
    assert task["subject"] == "Call back about the quote"
    assert (task["statecode"], task["statuscode"]) == (1, 5)
    again, _, _ = _round(connection, baseline)
    assert again.is_empty, again.render()


def test_text_longer_than_its_column_is_cut_with_a_warning_and_does_not_come_back(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    long = "Quarterly review " * 20  # 340 characters; the CRM's subject holds 200
    event_id = _event(fake, subject=long, location={"displayName": "Room " * 50})

    plan, executed, baseline = _round(connection, None)

    assert executed.complete, [(o.url, o.message) for o in executed.not_done]
    assert sorted(n.code for n in plan.notices) == ["value_truncated", "value_truncated"]
    [row] = fake.dataverse["appointments"].values()
    assert row["subject"] == long[:200].rstrip()
    assert len(row["location"]) <= 200
    assert fake.graph["events"][event_id]["subject"] == long  # Outlook keeps the full text
    for _ in range(2):
        again, _, baseline = _round(connection, baseline)
        assert again.is_empty, again.render()


def test_an_attachment_row_is_written_with_the_columns_the_table_accepts(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    event_id = _event(fake, subject="Lunch")
    fake.attach(event_id, "menu.txt", "c291cA==")

    _converged(connection, None)

    [row] = fake.dataverse["activitymimeattachments"].values()
    assert row["objecttypecode"] == "appointment"
    assert row["filesize"] == 4  # counted by the service


def test_an_organizer_the_crm_cannot_resolve_is_not_sent_and_not_a_change_next_round(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    _event(fake, organizer={"emailAddress": {"address": "someone@elsewhere.org"}})

    _converged(connection, None)

    [row] = fake.dataverse["appointments"].values()
    assert all(p["participationtypemask"] != 7 for p in row["appointment_activity_parties"])


def test_a_series_whose_add_recurrence_answer_was_lost_is_paired_not_made_twice(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    event_id = _event(fake)
    baseline = _converged(connection, None)
    fake.edit("graph", "events", event_id, recurrence=WEEKLY, type="seriesMaster")
    fake.lose(lambda method, path: method == "POST" and path.endswith("AddRecurrence"))

    _, executed, baseline = _round(connection, baseline)
    assert not executed.complete  # converted, but the answer never came
    for _ in range(3):
        _, executed, baseline = _round(connection, baseline)

    assert len(fake.dataverse["recurringappointmentmasters"]) == 1
    assert not [
        a for a in fake.dataverse["appointments"].values() if a.get("instancetypecode") != 2
    ]
    assert len(fake.graph["events"]) == 1
    # Paired again without its baseline, the pair is merged as on a first sync: the
    # organizer is written on create only (the CRM takes system users, Graph never
    # updates it), so nothing is left to write.
    again, executed, _ = _round(connection, baseline)
    assert again.ops == ()
    assert executed.complete


def test_a_series_made_single_in_outlook_replaces_the_crm_series(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    event_id = _event(fake, recurrence=WEEKLY)
    baseline = _converged(connection, None)
    [series_id] = fake.dataverse["recurringappointmentmasters"]

    fake.edit("graph", "events", event_id, recurrence=None, type="singleInstance")
    plan, executed, baseline = _round(connection, baseline)

    assert executed.complete, [(o.url, o.message) for o in executed.not_done]
    assert [n.code for n in plan.notices] == ["series_replaced"]
    assert not fake.dataverse["recurringappointmentmasters"]
    [single] = fake.dataverse["appointments"].values()  # its instances went with the series
    assert single["activityid"] != series_id
    again, _, _ = _round(connection, baseline)
    assert again.is_empty, again.render()
