"""Tests for crmsync.adapters.graph: Microsoft's Graph samples read field by field, and back."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from crmsync import (
    ActivityKind,
    ActivityState,
    Address,
    AddressKind,
    Appointment,
    Attachment,
    InvalidInput,
    OutlookContact,
    OutlookSnapshot,
    Priority,
    Recurrence,
    ShowAs,
    Task,
    TaskStatus,
)
from crmsync.adapters import graph, read_graph
from crmsync.adapters.graph import (
    MAILING_ADDRESS_PROPERTY,
    PERCENT_PROPERTY,
    REGARDING_PROPERTY,
    TRACKED_CATEGORY,
    attachment_from_graph,
    contact_from_graph,
    contact_to_graph,
    event_from_graph,
    event_to_graph,
    html_to_text,
    recurrence_from_graph,
    task_from_graph,
    task_to_graph,
    todo_links,
)
from samples import delta_sample, sample

PACIFIC = ZoneInfo("America/Los_Angeles")


# --- Microsoft's samples, as they are -------------------------------------------------------


def test_the_contact_get_sample_reads_field_by_field() -> None:
    contact = contact_from_graph(sample("graph_contact_get.json"))

    assert contact == OutlookContact(
        key="AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OABGAAAAAAAiQ8W967B7TKBjgx9rVEURBwAiIsqMbYjsT5e-T7KzowPTAAAAAAEOAAAiIsqMbYjsT5e-T7KzowPTAAAYbuK-AAA=",
        first_name="Alex",
        last_name="Wilber",
        emails=("Alex@FineArtSchool.net",),
        tracked=False,
    )
    assert contact.modified == dt.datetime(2017, 9, 4, 15, 54, 2, tzinfo=dt.UTC)
    assert contact.mailing_address is AddressKind.BUSINESS


def test_the_contact_update_sample_reads_phones_jobs_and_both_addresses() -> None:
    contact = contact_from_graph(sample("graph_contact_update_response.json"))

    assert contact.key == "AAMkAGI2THk0AAA="
    assert (contact.first_name, contact.last_name) == ("Garth", "Fort")
    assert contact.emails == ("garth@a830edad9050849NDA1.onmicrosoft.com",)
    assert contact.business_phone == "+1 918 555 0101"
    assert (contact.home_phone, contact.mobile_phone) == ("", "")
    assert contact.job_title == "Web Marketing Manager"
    assert contact.department == "Sales & Marketing"
    assert contact.notes == ""  # personalNotes is null
    assert contact.business_address == Address(
        street="10 Contoso Way", city="Redmond", state="WA", postal_code="98075", country="USA"
    )
    # The sample's homeAddress has no countryOrRegion: read as an empty country.
    assert contact.home_address == Address(
        street="123 Some street", city="Seattle", state="WA", postal_code="98121"
    )
    assert contact.other_address == Address()
    assert contact.modified == dt.datetime(2014, 10, 19, 23, 8, 24, tzinfo=dt.UTC)


def test_the_event_sample_reads_a_windows_time_zone_an_html_body_and_attendees() -> None:
    event = event_from_graph(sample("graph_event_get.json"))

    assert event.key == "AAMkAGIAAAoZDOFAAA="
    assert event.subject == "Orientation"
    assert event.body == (
        "Dana, this is the time you selected for our orientation. "
        "Please bring the notes I sent you."
    )
    assert event.location == "Assembly Hall"
    # "Pacific Standard Time" is America/Los_Angeles: 10:00 PDT is 17:00 UTC.
    assert event.start == dt.datetime(2017, 4, 21, 10, 0, tzinfo=PACIFIC)
    assert event.start.astimezone(dt.UTC) == dt.datetime(2017, 4, 21, 17, 0, tzinfo=dt.UTC)
    assert event.end == dt.datetime(2017, 4, 21, 12, 0, tzinfo=PACIFIC)
    assert event.all_day is False
    assert event.organizer == "samanthab@a830edad905084922E17020313.onmicrosoft.com"
    assert event.required == (
        "samanthab@a830edad905084922E17020313.onmicrosoft.com",
        "danas@a830edad905084922E17020313.onmicrosoft.com",
    )
    assert event.optional == ()
    assert (event.priority, event.show_as) == (Priority.NORMAL, ShowAs.BUSY)  # not $select'ed
    assert (event.kind, event.state) == (ActivityKind.APPOINTMENT, ActivityState.OPEN)
    assert (event.recurrence, event.series_key, event.attachments) == (None, "", ())
    assert event.tracked is False


def test_the_instances_sample_reads_the_exception_and_refuses_plain_occurrences() -> None:
    items = sample("graph_event_instances.json")["value"]
    exception, *occurrences = items

    moved = event_from_graph(exception)
    assert moved.key == "AAMkAGUzYAgI1sE1TatAAEYAAAAAlNFb2CNPe0ucP9you"
    assert moved.series_key == "AAMkAGUzYRgWAAA="
    assert moved.recurrence is None
    assert moved.subject == "Review strategy for Q3"
    assert moved.start == dt.datetime(2019, 4, 16, 20, 30, tzinfo=dt.UTC)
    assert moved.end == dt.datetime(2019, 4, 16, 21, 0, tzinfo=dt.UTC)
    for occurrence in occurrences:
        with pytest.raises(InvalidInput, match=r"\$\.type: an unmodified occurrence"):
            event_from_graph(occurrence)


def test_the_file_attachment_sample_hashes_the_decoded_bytes() -> None:
    attachment = attachment_from_graph(sample("graph_event_file_attachment_response.json"))

    content = b"mac and cheese today"
    assert attachment == Attachment(
        name="menu.txt",
        size=len(content),  # Graph's size (178) counts the MIME envelope too
        content_hash="sha256:" + hashlib.sha256(content).hexdigest(),
        mime_type="text/plain",
    )


def test_the_item_attachment_sample_is_not_a_file_so_no_attachment_record() -> None:
    assert attachment_from_graph(sample("graph_event_item_attachment_response.json")) is None


def test_the_placeholder_attachment_sample_is_refused_with_every_path() -> None:
    # Its @odata.type lacks the leading '#' (still a file attachment); its values are
    # placeholders: the content is not base64 and the date is not a date.
    item = sample("graph_event_list_attachments_placeholder.json")["value"][0]

    with pytest.raises(InvalidInput) as caught:
        attachment_from_graph(item)

    assert caught.value.lines() == [
        "$.contentBytes: is not valid base64",
        "$.lastModifiedDateTime: expected an ISO 8601 date-time, got 'datetime-value'",
    ]


def test_the_todo_task_sample_reads_field_by_field() -> None:
    task = task_from_graph(sample("graph_todotask_get.json"))

    assert task == Task(
        key="721a35e2-35e2-721a-e235-1a72e2351a72",
        subject="Shop for dinner",
        due=dt.datetime(2020, 8, 25, 4, 0, tzinfo=dt.UTC),
        status=TaskStatus.NOT_STARTED,
        percent_complete=0,
        priority=Priority.LOW,
        tracked=False,  # categories Important and Urgent, not the tracking one
    )
    assert task.modified == dt.datetime(2020, 7, 22, 12, 2, 10, 883542, tzinfo=dt.UTC)


def test_the_recurrence_samples_read_weekly_with_an_end_and_relative_monthly_without() -> None:
    weekly, monthly = (item["recurrence"] for item in sample("graph_recurrence_examples.json"))

    assert recurrence_from_graph(weekly) == Recurrence(
        pattern="weekly",
        interval=1,
        days_of_week=("monday",),
        start_date=dt.date(2017, 9, 4),
        end_date=dt.date(2017, 12, 31),
    )
    assert recurrence_from_graph(monthly) == Recurrence(
        pattern="relative_monthly",
        interval=2,
        days_of_week=("thursday",),
        index="first",
        start_date=dt.date(2017, 8, 29),
    )


# --- conventions -----------------------------------------------------------------------------


def test_an_item_is_tracked_by_the_dynamics_category_unless_the_caller_says() -> None:
    payload = {"id": "x", "categories": ["Red", TRACKED_CATEGORY]}

    assert contact_from_graph(payload).tracked is True
    assert contact_from_graph(payload, tracked=False).tracked is False
    assert contact_from_graph({"id": "x"}, tracked=True).tracked is True


def test_the_mailing_address_choice_is_read_from_its_mapi_property() -> None:
    payload = {
        "id": "x",
        "singleValueExtendedProperties": [{"id": MAILING_ADDRESS_PROPERTY.lower(), "value": "1"}],
    }

    assert contact_from_graph(payload).mailing_address is AddressKind.HOME
    assert contact_from_graph({"id": "x"}, mailing_address=AddressKind.OTHER).mailing_address == (
        AddressKind.OTHER
    )


def test_iana_and_utc_zones_read_like_windows_ones() -> None:
    def at(zone: str) -> dt.datetime:
        event = event_from_graph(
            {
                "id": "e",
                "start": {"dateTime": "2026-06-01T09:00:00.0000000", "timeZone": zone},
                "end": {"dateTime": "2026-06-01T10:00:00", "timeZone": zone},
            }
        )
        return event.start

    assert at("W. Europe Standard Time") == at("Europe/Berlin")
    assert at("UTC") == dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "zone", ["America", "Etc", "x" * 300, "../../etc/passwd", "", "tzone://Microsoft/Custom"]
)
def test_a_time_zone_that_is_not_one_is_invalid_input(zone: str) -> None:
    when = {"dateTime": "2026-06-01T09:00:00", "timeZone": zone}

    with pytest.raises(InvalidInput, match=r"\$\.start\.timeZone: "):
        event_from_graph({"id": "e", "start": when, "end": when})


def test_a_payload_missing_what_a_record_needs_names_every_path() -> None:
    with pytest.raises(InvalidInput) as caught:
        event_from_graph(
            {
                "subject": 7,
                "start": {"dateTime": "2026-06-01T09:00:00", "timeZone": "Mars Standard Time"},
                "importance": "urgent",
                "attendees": "everyone",
            }
        )

    assert caught.value.lines() == [
        "$.attendees: expected a list, got a string",
        "$.id: is required",
        "$.subject: expected a string, got a number",
        "$.start.timeZone: unknown time zone 'Mars Standard Time'",
        "$.end: is required",
        "$.importance: unknown value 'urgent'; expected one of: 'low', 'normal', 'high'",
    ]


def test_an_event_ending_before_it_starts_is_reported_at_the_payload() -> None:
    with pytest.raises(
        InvalidInput, match=r"\$: the record it describes is invalid: .*end: is before start"
    ):
        event_from_graph(
            {
                "id": "e",
                "start": {"dateTime": "2026-06-01T10:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2026-06-01T09:00:00", "timeZone": "UTC"},
            }
        )


def test_odata_annotations_are_ignored() -> None:
    payload = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#me/contacts/$entity",
        "@odata.etag": 'W/"x"',
        "id": "x",
        "givenName": "Ann",
        "givenName@odata.type": "#String",
    }

    assert contact_from_graph(payload).first_name == "Ann"


def test_html_bodies_become_the_text_a_reader_sees() -> None:
    html = (
        "<html><head><style>p {margin: 0}</style></head><body>\n"
        "<p>Hello&nbsp;team,</p>\n<p>&nbsp;</p>\n"
        "<p>Agenda:<br>one <b>bold</b> item</p><ul><li>a</li><li>b</li></ul></body></html>"
    )

    assert html_to_text(html) == "Hello team,\n\nAgenda:\none bold item\na\nb"


def test_an_html_body_and_the_same_text_are_the_same_value() -> None:
    as_html = {"contentType": "html", "content": "<p>Line one</p><p>Line two</p>"}
    as_text = {"contentType": "text", "content": "Line one\r\nLine two  \n"}
    base = {"id": "e", "start": {"dateTime": "2026-06-01T09:00:00", "timeZone": "UTC"}}
    base["end"] = base["start"]

    assert event_from_graph(base | {"body": as_html}).body == "Line one\nLine two"
    assert event_from_graph(base | {"body": as_text}).body == "Line one\nLine two"


def test_an_outlook_task_assigned_in_outlook_reads_assignee_assigner_and_percent() -> None:
    task = task_from_graph(
        {
            "id": "t",
            "subject": "Prepare the offer",
            "assignedTo": "lee@contoso.com",
            "owner": "ann@contoso.com",
            "status": "inProgress",
            "singleValueExtendedProperties": [{"id": PERCENT_PROPERTY, "value": "0.25"}],
        }
    )

    assert task.subject == "Prepare the offer"
    assert task.assigned_to == ("lee@contoso.com",)
    assert task.assigned_by == "ann@contoso.com"
    assert (task.status, task.percent_complete) == (TaskStatus.IN_PROGRESS, 25)


# --- writing ---------------------------------------------------------------------------------


def test_a_patch_body_holds_only_the_changed_properties() -> None:
    contact = OutlookContact(key="x", job_title="Buyer", home_address=Address(city="Lyon"))

    assert contact_to_graph(contact, fields={"job_title"}) == {"jobTitle": "Buyer"}
    assert contact_to_graph(contact, fields={"home_address"}) == {
        "homeAddress": {
            "street": "",
            "city": "Lyon",
            "state": "",
            "postalCode": "",
            "countryOrRegion": "",
        }
    }


def test_read_only_properties_are_never_written() -> None:
    event = event_from_graph(sample("graph_event_get.json"))
    body = event_to_graph(event)

    assert not {"id", "lastModifiedDateTime", "changeKey", "iCalUId", "createdDateTime"} & set(body)


def test_writing_keeps_what_crmsync_does_not_model_when_given_the_current_payload() -> None:
    current = {"businessPhones": ["+1 1", "+1 2"], "categories": ["Red"]}
    contact = OutlookContact(key="x", business_phone="+1 9", tracked=True)

    body = contact_to_graph(contact, current=current)

    assert body["businessPhones"] == ["+1 9", "+1 2"]
    assert body["categories"] == ["Red", TRACKED_CATEGORY]


def test_times_are_written_in_their_windows_zone_or_in_utc() -> None:
    start = dt.datetime(2026, 6, 1, 9, 0, tzinfo=PACIFIC)
    offset = dt.datetime(2026, 6, 1, 19, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    event = Appointment(key="e", start=start, end=offset)

    body = event_to_graph(event, fields={"start", "end"})

    assert body["start"] == {"dateTime": "2026-06-01T09:00:00", "timeZone": "Pacific Standard Time"}
    assert body["end"] == {"dateTime": "2026-06-01T17:00:00", "timeZone": "UTC"}


def test_regarding_and_service_activity_travel_in_the_dynamics_mapi_properties() -> None:
    event = Appointment(
        key="e",
        start=dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC),
        end=dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC),
        regarding="account-1",
        kind=ActivityKind.SERVICE_ACTIVITY,
    )

    body = event_to_graph(event)
    props = {p["id"]: p["value"] for p in body["singleValueExtendedProperties"]}

    assert props[REGARDING_PROPERTY] == "account-1"
    again = event_from_graph(body | {"id": "e"})
    assert (again.regarding, again.kind) == ("account-1", ActivityKind.SERVICE_ACTIVITY)


def test_a_canceled_task_is_written_as_deferred_and_to_do_gets_no_percent() -> None:
    task = Task(key="t", status=TaskStatus.CANCELED, percent_complete=40)

    todo = task_to_graph(task)
    outlook = task_to_graph(task, shape="outlook")

    assert todo["status"] == "deferred"
    # A todoTask has no singleValueExtendedProperties at all: Graph refuses a body with them.
    assert "singleValueExtendedProperties" not in todo
    assert "title" in todo
    assert "subject" in outlook
    assert {"id": PERCENT_PROPERTY, "value": "0.4"} in outlook["singleValueExtendedProperties"]


def test_asking_for_a_field_graph_cannot_write_is_an_error() -> None:
    with pytest.raises(ValueError, match="fields Graph cannot write: owner"):
        task_to_graph(Task(key="t"), fields={"owner"})


def test_module_exports_exist() -> None:
    for name in graph.__all__:
        assert hasattr(graph, name), name


@pytest.mark.parametrize("value", ["inf", "nan", "x", "1.5"])
def test_a_percent_property_that_is_not_a_percentage_is_invalid_input(value: str) -> None:
    payload = {
        "id": "t",
        "singleValueExtendedProperties": [{"id": PERCENT_PROPERTY, "value": value}],
    }

    with pytest.raises(InvalidInput, match=r"^\$"):
        task_from_graph(payload)


def test_an_attendee_type_is_read_whatever_its_case() -> None:
    event = sample("graph_event_get.json") | {
        "attendees": [
            {"type": "Required", "emailAddress": {"address": "ann@contoso.com"}},
            {"type": "OPTIONAL", "emailAddress": {"address": "ben@contoso.com"}},
        ]
    }

    read = event_from_graph(event)

    assert (read.required, read.optional) == (("ann@contoso.com",), ("ben@contoso.com",))


def test_a_contact_with_the_same_email_twice_reads_it_once() -> None:
    contact = sample("graph_contact_get.json") | {
        "emailAddresses": [{"address": "a@contoso.com"}, {"address": "A@Contoso.com"}]
    }

    assert contact_from_graph(contact).emails == ("a@contoso.com",)


@pytest.mark.parametrize(
    ("display", "names"),
    [
        ("Ann Marie Smith", ("Ann Marie", "Smith")),
        ("Smith, Ann", ("Ann", "Smith")),
        ("Cher", ("", "Cher")),
    ],
)
def test_names_fall_back_to_the_display_name(display: str, names: tuple[str, str]) -> None:
    contact = {"id": "AAMk1", "displayName": display}

    read = contact_from_graph(contact)

    assert (read.first_name, read.last_name) == names


def test_a_todo_task_is_linked_to_its_crm_task_by_a_linked_resource() -> None:
    task = Task(key="crm-task-1", subject="Call", regarding="account-9")

    body = task_to_graph(task, web_url="https://contoso.crm.dynamics.com/main.aspx?id=crm-task-1")

    assert body["linkedResources"] == [
        {
            "applicationName": "Dynamics 365",
            "displayName": "Dynamics 365 task",
            "externalId": "crm-task-1",
            "webUrl": "https://contoso.crm.dynamics.com/main.aspx?id=crm-task-1",
        },
        {"applicationName": "Dynamics 365", "displayName": "Regarding", "externalId": "account-9"},
    ]
    assert "singleValueExtendedProperties" not in body
    assert task_to_graph(task, fields={"subject"}) == {"title": "Call"}


def test_the_link_is_read_back_from_linked_resources() -> None:
    # Graph's todoTask with linkedResources, as the documentation returns it, and
    # the same task once Dynamics 365 links it.
    created = delta_sample("graph_todotask_linkedresources.json")
    assert task_from_graph(created).key == "AlMKXwbQAAAJws6wcAAAA="  # another app's link
    task = Task(key="crm-task-1", subject="A new task", regarding="account-9")
    linked = created | {"linkedResources": [*created["linkedResources"], *todo_links(task)]}

    read = task_from_graph(linked)

    assert (read.key, read.regarding, read.subject) == ("crm-task-1", "account-9", "A new task")
    # An outlookTask keeps its extended properties.
    outlook = task_to_graph(task, shape="outlook")
    assert "linkedResources" not in outlook
    assert task_from_graph(outlook | {"id": "AAMk9"}).key == "crm-task-1"


def test_a_to_do_task_s_percent_comes_from_its_previous_record() -> None:
    def read(status: str, before: Task | None) -> int:
        todo = {"id": "g1", "title": "Call back", "status": status}
        previous = {"g1": before} if before is not None else None
        return graph.task_from_graph(todo, previous=previous).percent_complete

    half = Task(key="g1", status=TaskStatus.IN_PROGRESS, percent_complete=50)
    done = Task(key="g1", status=TaskStatus.COMPLETED, percent_complete=100)
    assert read("inProgress", half) == 50  # unchanged status: the percent it held
    assert read("notStarted", half) == 50
    assert read("completed", half) == 100  # completed in To Do
    assert read("inProgress", done) == 0  # back from completed
    assert read("inProgress", None) == 0  # no previous record
    # read_graph takes the previous records from the baseline's Outlook side.
    tasks = {"tasks": [{"id": "g1", "title": "Call back", "status": "inProgress"}]}
    read_back = read_graph(tasks, previous=OutlookSnapshot(tasks=[half]))
    assert [t.percent_complete for t in read_back.snapshot.tasks] == [50]


# --- all-day events: midnight to midnight in one zone -----------------------------------------

# Dataverse keeps a Pacific user's all-day appointment as the UTC instants of her midnights.
_CRM_ALL_DAY = Appointment(
    key="a",
    subject="Offsite",
    start=dt.datetime(2026, 12, 8, 8, tzinfo=dt.UTC),
    end=dt.datetime(2026, 12, 10, 8, tzinfo=dt.UTC),
    all_day=True,
)


def _is_midnight_in_one_zone(body: dict[str, Any]) -> bool:
    start, end = body["start"], body["end"]
    times = {dt.datetime.fromisoformat(when["dateTime"]).time() for when in (start, end)}
    return times == {dt.time(0)} and start["timeZone"] == end["timeZone"]


def test_an_all_day_crm_appointment_reaches_graph_at_midnight_in_one_zone() -> None:
    """Graph, event.isAllDay: "start and end time must be set to midnight and be in the same time
    zone"; a Pacific user's all-day appointment is not sent at 08:00 UTC."""
    body = event_to_graph(_CRM_ALL_DAY)

    assert body["isAllDay"] is True
    assert _is_midnight_in_one_zone(body)
    assert body["start"]["dateTime"].startswith("2026-12-08T00:00")
    assert body["end"]["dateTime"].startswith("2026-12-10T00:00")
    # The same instants: read back, the event is the CRM's appointment.
    back = event_from_graph({**body, "id": "AAMk"})
    assert (back.start, back.end) == (_CRM_ALL_DAY.start, _CRM_ALL_DAY.end)


def test_an_all_day_event_is_written_in_the_mailbox_zone_when_given() -> None:
    body = event_to_graph(_CRM_ALL_DAY, time_zone="Pacific Standard Time")

    assert body["start"] == {"dateTime": "2026-12-08T00:00:00", "timeZone": "Pacific Standard Time"}
    assert body["end"] == {"dateTime": "2026-12-10T00:00:00", "timeZone": "Pacific Standard Time"}


def test_an_all_day_event_read_in_utc_keeps_the_zone_it_was_made_in() -> None:
    """Graph answers in UTC by default; the record keeps `originalStartTimeZone`, so the event is
    written back at the same midnight."""
    payload = {
        "id": "AAMk",
        "isAllDay": True,
        "originalStartTimeZone": "Pacific Standard Time",
        "start": {"dateTime": "2026-07-08T07:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-07-09T07:00:00.0000000", "timeZone": "UTC"},
    }

    event = event_from_graph(payload)
    body = event_to_graph(event)

    assert event.start == dt.datetime(2026, 7, 8, tzinfo=PACIFIC)
    assert body["start"] == {"dateTime": "2026-07-08T00:00:00", "timeZone": "Pacific Standard Time"}
    assert body["end"] == {"dateTime": "2026-07-09T00:00:00", "timeZone": "Pacific Standard Time"}


def test_a_change_to_an_all_day_events_time_writes_start_end_and_the_flag_together() -> None:
    moved = event_to_graph(_CRM_ALL_DAY, fields={"start"})

    assert set(moved) == {"start", "end", "isAllDay"}
    assert _is_midnight_in_one_zone(moved)


# --- recurrence patterns: exactly the properties each type takes ------------------------------

# Graph's recurrencePattern resource, "Values of type property", column "Required properties"
# (microsoftgraph/microsoft-graph-docs-contrib, api-reference/v1.0/resources/recurrencepattern.md);
# `index` is "used if type is relativeMonthly or relativeYearly".
_REQUIRED = {
    "daily": {"type", "interval"},
    "weekly": {"type", "interval", "daysOfWeek", "firstDayOfWeek"},
    "absolute_monthly": {"type", "interval", "dayOfMonth"},
    "relative_monthly": {"type", "interval", "daysOfWeek"},
    "absolute_yearly": {"type", "interval", "dayOfMonth", "month"},
    "relative_yearly": {"type", "interval", "daysOfWeek", "month"},
}
_USED = {"relative_monthly": {"index"}, "relative_yearly": {"index"}}


@pytest.mark.parametrize("pattern", sorted(_REQUIRED))
@pytest.mark.parametrize("full", [True, False], ids=["every-value", "no-values"])
def test_a_recurrence_pattern_holds_exactly_the_properties_its_type_requires(
    pattern: str, *, full: bool
) -> None:
    """Graph: "Include only the properties that you need for a recurrence pattern"."""
    values: dict[str, Any] = (
        {"days_of_week": ("monday", "friday"), "day_of_month": 15, "month": 3, "index": "second"}
        if full
        else {}
    )
    recurrence = Recurrence(pattern=pattern, start_date=dt.date(2026, 12, 8), **values)

    written = graph.recurrence_to_graph(recurrence)["pattern"]

    assert set(written) - _USED.get(pattern, set()) == _REQUIRED[pattern]
    assert all(value not in (None, []) for value in written.values())
    assert recurrence_from_graph(graph.recurrence_to_graph(recurrence)).pattern == pattern


def test_a_weekly_pattern_without_days_falls_on_its_start_dates_weekday() -> None:
    weekly = Recurrence(pattern="weekly", start_date=dt.date(2026, 12, 8))  # a Tuesday

    written = graph.recurrence_to_graph(weekly)["pattern"]

    assert written["daysOfWeek"] == ["tuesday"]
    assert written["firstDayOfWeek"] == "sunday"


# --- organizer: Graph's event update does not take it ----------------------------------------


def test_an_event_patch_never_holds_the_organizer() -> None:
    """Graph's "Update event" lists the properties an update writes; organizer is not one."""
    event = attrs.evolve(_CRM_ALL_DAY, organizer="bob@contoso.com")

    assert event_to_graph(event, fields={"organizer"}) == {}
    assert "organizer" not in event_to_graph(event, fields={"organizer", "subject"})
    assert event_to_graph(event)["organizer"] == {"emailAddress": {"address": "bob@contoso.com"}}
