"""Round trips through the adapters: x_from(x_to(r)) == r for every record the service can express.

The strategies here draw what each service can hold: text as both sides
compare it (normalized), time in any zone, every recurrence pattern, and for
Dataverse only the show-as values its status reasons keep.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from crmsync import (
    ActivityKind,
    ActivityState,
    Address,
    AddressKind,
    Appointment,
    CrmContact,
    OutlookContact,
    Priority,
    Recurrence,
    ShowAs,
    Task,
    TaskStatus,
)
from crmsync.adapters._read import normalize_text
from crmsync.adapters.dataverse import (
    appointment_from_dataverse,
    appointment_to_dataverse,
    contact_from_dataverse,
    contact_to_dataverse,
    recurrence_from_dataverse,
    recurrence_to_dataverse,
    task_from_dataverse,
    task_to_dataverse,
)
from crmsync.adapters.graph import (
    contact_from_graph,
    contact_to_graph,
    event_from_graph,
    event_to_graph,
    recurrence_from_graph,
    recurrence_to_graph,
    task_from_graph,
    task_to_graph,
)
from crmsync.records import DAY_NAMES

_WORD = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), min_size=1, max_size=8
)
LINE = _WORD.map(lambda s: " ".join(s.split())).filter(bool)
TEXT = st.one_of(st.just(""), LINE)
NOTES = st.lists(st.one_of(LINE, st.just("")), max_size=4).map(
    lambda lines: normalize_text("\n".join(lines))
)
EMAIL = st.sampled_from(("ann@contoso.com", "Ben@Fabrikam.com", "lee@x.org"))
ZONES = st.sampled_from(
    (
        dt.UTC,
        dt.timezone(dt.timedelta(hours=7)),
        dt.timezone(dt.timedelta(hours=-3, minutes=-30)),
        ZoneInfo("America/Los_Angeles"),
        ZoneInfo("Europe/Paris"),
        ZoneInfo("Asia/Kolkata"),
    )
)
MOMENT = st.builds(
    lambda minutes, zone: (
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)
    ).astimezone(zone),
    st.integers(0, 2 * 365 * 24 * 60),
    ZONES,
)
STREET = st.lists(LINE, max_size=3).map("\n".join)
ADDRESS = st.builds(Address, street=STREET, city=TEXT, state=TEXT, postal_code=TEXT, country=TEXT)
EMAILS = st.lists(EMAIL, max_size=3, unique=True).map(tuple)


@st.composite
def recurrences(draw: st.DrawFn) -> Recurrence:
    pattern = draw(
        st.sampled_from(
            (
                "daily",
                "weekly",
                "absolute_monthly",
                "relative_monthly",
                "absolute_yearly",
                "relative_yearly",
            )
        )
    )
    relative = pattern.startswith("relative")
    days = draw(st.lists(st.sampled_from(DAY_NAMES), min_size=1, unique=True))
    start = dt.date(2026, 1, 1) + dt.timedelta(days=draw(st.integers(0, 700)))
    end_kind = draw(st.sampled_from(("none", "date", "count")))
    return Recurrence(
        pattern=pattern,
        interval=draw(st.integers(1, 4)),
        days_of_week=tuple(d for d in DAY_NAMES if d in days)
        if pattern == "weekly" or relative
        else (),
        day_of_month=draw(st.integers(1, 28)) if pattern.startswith("absolute") else None,
        month=draw(st.integers(1, 12)) if pattern.endswith("yearly") else None,
        index=draw(st.sampled_from(("first", "second", "third", "fourth", "last")))
        if relative
        else None,
        start_date=start,
        end_date=start + dt.timedelta(days=draw(st.integers(0, 400)))
        if end_kind == "date"
        else None,
        occurrences=draw(st.integers(1, 50)) if end_kind == "count" else None,
    )


@st.composite
def timed(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(MOMENT)
    return {"start": start, "end": start + dt.timedelta(minutes=draw(st.integers(0, 600)))}


@given(
    st.builds(
        OutlookContact,
        key=st.just("c-1"),
        first_name=TEXT,
        last_name=TEXT,
        emails=EMAILS,
        business_phone=TEXT,
        home_phone=TEXT,
        mobile_phone=TEXT,
        job_title=TEXT,
        department=TEXT,
        notes=NOTES,
        business_address=ADDRESS,
        home_address=ADDRESS,
        other_address=ADDRESS,
        mailing_address=st.sampled_from(list(AddressKind)),
        tracked=st.booleans(),
    )
)
def test_a_graph_contact_round_trips(contact: OutlookContact) -> None:
    assert contact_from_graph(contact_to_graph(contact)) == contact


@given(recurrences())
def test_a_graph_recurrence_round_trips(recurrence: Recurrence) -> None:
    assert recurrence_from_graph(recurrence_to_graph(recurrence)) == recurrence


@given(recurrences())
def test_a_dataverse_recurrence_round_trips(recurrence: Recurrence) -> None:
    assert recurrence_from_dataverse(recurrence_to_dataverse(recurrence)) == recurrence


# Graph holds an all-day event only as midnight to midnight in one zone (event.isAllDay), so
# the all-day events it can express are whole days: midnights in the record's own named zone
# (an event read from Graph), or UTC instants of midnights at a fixed whole-hour offset (a CRM
# appointment; crmsync names that zone by its offset, so across a daylight-saving change only
# the mailbox's zone, passed as `time_zone`, gives the CRM's exact instants back).
NAMED_ZONES = st.sampled_from((ZoneInfo("America/Los_Angeles"), ZoneInfo("Europe/Paris")))
FIXED_ZONES = st.sampled_from((dt.UTC, dt.timezone(dt.timedelta(hours=7))))


@st.composite
def whole_days(draw: st.DrawFn) -> dict[str, Any]:
    first = dt.date(2026, 1, 1) + dt.timedelta(days=draw(st.integers(0, 700)))
    last = first + dt.timedelta(days=draw(st.integers(1, 5)))
    if draw(st.booleans()):
        zone = draw(NAMED_ZONES)
        start = dt.datetime.combine(first, dt.time(0), zone)
        end = dt.datetime.combine(last, dt.time(0), zone)
    else:
        zone = draw(FIXED_ZONES)
        start = dt.datetime.combine(first, dt.time(0), zone).astimezone(dt.UTC)
        end = dt.datetime.combine(last, dt.time(0), zone).astimezone(dt.UTC)
    return {"start": start, "end": end, "all_day": True}


@given(timed() | whole_days(), st.data())
def test_a_graph_event_round_trips(time: dict[str, Any], data: st.DataObject) -> None:
    event = Appointment(
        key="e-1",
        subject=data.draw(TEXT),
        body=data.draw(NOTES),
        location=data.draw(TEXT),
        priority=data.draw(st.sampled_from(list(Priority))),
        show_as=data.draw(st.sampled_from(list(ShowAs))),
        organizer=data.draw(st.one_of(st.just(""), EMAIL)),
        required=data.draw(EMAILS),
        optional=data.draw(EMAILS),
        regarding=data.draw(st.sampled_from(("", "account-1"))),
        kind=data.draw(st.sampled_from(list(ActivityKind))),
        recurrence=data.draw(st.none() | recurrences()),
        tracked=data.draw(st.booleans()),
        **time,
    )

    assert event_from_graph(event_to_graph(event)) == event


@given(timed())
def test_an_all_day_event_is_written_midnight_to_midnight_in_one_zone_around_its_time(
    time: dict[str, Any],
) -> None:
    """Graph: an isAllDay event's start and end "must be set to midnight and be in the same time
    zone"; whatever the record holds, the event written covers it."""
    body = event_to_graph(Appointment(key="e-1", all_day=True, **time))

    start, end = body["start"], body["end"]
    assert start["timeZone"] == end["timeZone"]
    first = dt.datetime.fromisoformat(start["dateTime"])
    last = dt.datetime.fromisoformat(end["dateTime"])
    assert first.time() == last.time() == dt.time(0)
    assert last > first
    back = event_from_graph({**body, "id": "e-1"})
    assert back.start <= time["start"]
    # An end up to two hours past a midnight is that midnight (a daylight-saving change).
    assert back.end >= time["end"] - dt.timedelta(hours=2)


def test_a_pacific_all_day_appointment_across_a_daylight_saving_change_keeps_its_days() -> None:
    """A CRM appointment from Saturday to Monday over the March change, as UTC instants."""
    pacific = ZoneInfo("America/Los_Angeles")
    start = dt.datetime(2026, 3, 7, tzinfo=pacific).astimezone(dt.UTC)
    end = dt.datetime(2026, 3, 9, tzinfo=pacific).astimezone(dt.UTC)

    body = event_to_graph(Appointment(key="e-1", start=start, end=end, all_day=True))
    named = event_to_graph(
        Appointment(key="e-1", start=start, end=end, all_day=True),
        time_zone="Pacific Standard Time",
    )

    assert (body["start"]["dateTime"], body["end"]["dateTime"]) == (
        "2026-03-07T00:00:00",
        "2026-03-09T00:00:00",
    )
    back = event_from_graph({**named, "id": "e-1"})
    assert (back.start, back.end) == (start, end)


@given(timed(), st.data())
def test_a_dataverse_appointment_round_trips(time: dict[str, Any], data: st.DataObject) -> None:
    state, show_as = data.draw(
        st.sampled_from(
            (
                (ActivityState.OPEN, ShowAs.FREE),
                (ActivityState.OPEN, ShowAs.TENTATIVE),
                (ActivityState.SCHEDULED, ShowAs.BUSY),
                (ActivityState.SCHEDULED, ShowAs.OOF),
                (ActivityState.COMPLETED, ShowAs.BUSY),
                (ActivityState.CANCELED, ShowAs.BUSY),
            )
        )
    )
    appointment = Appointment(
        key="a-1",
        subject=data.draw(TEXT),
        body=data.draw(NOTES),
        location=data.draw(TEXT),
        all_day=data.draw(st.booleans()),
        priority=data.draw(st.sampled_from(list(Priority))),
        show_as=show_as,
        state=state,
        organizer=data.draw(st.one_of(st.just(""), EMAIL)),
        required=data.draw(EMAILS),
        optional=data.draw(EMAILS),
        uid=data.draw(st.sampled_from(("", "040000008200E00074C5B7101A82E008"))),
        recurrence=data.draw(st.none() | recurrences()),
        **time,
    )
    # The organizer is written only bound to its system user (the table's organizer
    # targets systemuser only): here it resolves.
    users = {appointment.organizer.lower(): "u-1"} if appointment.organizer else None
    body = appointment_to_dataverse(appointment, system_users=users) | {
        "activityid": appointment.key
    }

    assert appointment_from_dataverse(body) == appointment


@given(
    st.builds(
        CrmContact,
        key=st.just("c-1"),
        first_name=TEXT,
        last_name=TEXT,
        emails=EMAILS,
        business_phone=TEXT,
        home_phone=TEXT,
        mobile_phone=TEXT,
        job_title=TEXT,
        department=TEXT,
        notes=NOTES,
        address1=ADDRESS,
        address2=ADDRESS,
        address3=ADDRESS,
    )
)
def test_a_dataverse_contact_round_trips(contact: CrmContact) -> None:
    body = contact_to_dataverse(contact) | {"contactid": contact.key}

    assert contact_from_dataverse(body) == contact


def _moment_or_none() -> st.SearchStrategy[dt.datetime | None]:
    return st.none() | MOMENT


@given(st.data())
def test_a_dataverse_task_round_trips(data: st.DataObject) -> None:
    task = Task(
        key="t-1",
        subject=data.draw(TEXT),
        notes=data.draw(NOTES),
        start=data.draw(_moment_or_none()),
        due=data.draw(_moment_or_none()),
        completed=data.draw(_moment_or_none()),
        percent_complete=data.draw(st.integers(0, 100)),
        status=data.draw(st.sampled_from(list(TaskStatus))),
        priority=data.draw(st.sampled_from(list(Priority))),
    )
    body = task_to_dataverse(task) | {"activityid": task.key}

    assert task_from_dataverse(body) == task


@given(st.data(), st.sampled_from(("todo", "outlook")))
def test_a_graph_task_round_trips(data: st.DataObject, shape: str) -> None:
    status = data.draw(st.sampled_from([s for s in TaskStatus if s is not TaskStatus.CANCELED]))
    completed = status is TaskStatus.COMPLETED
    percent = data.draw(st.integers(0, 100)) if shape == "outlook" else 100 * completed
    task = Task(
        key="t-1",
        subject=data.draw(TEXT),
        notes=data.draw(NOTES),
        start=data.draw(_moment_or_none()),
        due=data.draw(_moment_or_none()),
        completed=data.draw(_moment_or_none()),
        percent_complete=percent,
        status=status,
        priority=data.draw(st.sampled_from(list(Priority))),
        recurrence=data.draw(st.none() | recurrences()),
        regarding=data.draw(st.sampled_from(("", "account-1"))),
        tracked=data.draw(st.booleans()),
    )
    body = task_to_graph(task, shape="outlook" if shape == "outlook" else "todo")

    assert task_from_graph(body) == task
