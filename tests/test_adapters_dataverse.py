"""Tests for crmsync.adapters.dataverse: Microsoft's Dataverse samples, field by field, and back."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json

import pytest

from crmsync import (
    ActivityKind,
    ActivityState,
    Address,
    Appointment,
    Attachment,
    CrmContact,
    InvalidInput,
    Priority,
    Recurrence,
    ShowAs,
    Task,
    TaskStatus,
)
from crmsync.adapters.dataverse import (
    appointment_from_dataverse,
    appointment_to_dataverse,
    attachment_from_dataverse,
    contact_from_dataverse,
    contact_to_dataverse,
    entity_set,
    recurrence_from_dataverse,
    task_from_dataverse,
    task_to_dataverse,
)
from samples import sample

PLUS7 = dt.timezone(dt.timedelta(hours=7))
MEETING = {
    "activityid": "a-1",
    "subject": "Review",
    "scheduledstart": "2026-12-01T09:00:00Z",
    "scheduledend": "2026-12-01T10:00:00Z",
}


# --- Microsoft's samples, as they are -------------------------------------------------------


def test_the_contact_get_sample_reads_its_selected_columns_and_ignores_annotations() -> None:
    contact = contact_from_dataverse(sample("dataverse_contact_get.json"))

    # $select'ed fullname, annualincome, jobtitle, description: jobtitle maps, and
    # without firstname and lastname the names come from fullname.
    assert contact == CrmContact(
        key="0928bcb4-bb27-ed11-9db1-002248274ada",
        first_name="Rafel",
        last_name="Shillo",
        job_title="Junior Developer",
    )


def test_the_deep_insert_sample_reads_its_contact_and_tasks() -> None:
    request = sample("dataverse_account_deep_insert_contact_tasks_request.json")
    payload = request["primarycontactid"]

    contact = contact_from_dataverse(payload, key="susie")
    tasks = [
        task_from_dataverse(item, key=f"t{i}") for i, item in enumerate(payload["Contact_Tasks"])
    ]

    assert contact == CrmContact(
        key="susie", first_name="Susie", last_name="Curtis", job_title="Coffee Master"
    )
    assert [t.subject for t in tasks] == ["Sign invoice", "Setup new display", "Conduct training"]
    assert tasks[0] == Task(
        key="t0",
        subject="Sign invoice",
        notes="Invoice #12321",
        start=dt.datetime(2023, 4, 19, 3, 0, tzinfo=PLUS7),
        due=dt.datetime(2023, 4, 19, 4, 0, tzinfo=PLUS7),
    )
    assert tasks[2].notes == "Train team on making our new blended coffee"


def test_a_payload_without_its_id_needs_a_key() -> None:
    payload = sample("dataverse_account_deep_insert_contact_tasks_request.json")["primarycontactid"]

    with pytest.raises(InvalidInput, match=r"\$\.contactid: is required"):
        contact_from_dataverse(payload)


# --- the column map ----------------------------------------------------------------------------


def test_address_lines_join_into_street_and_split_back() -> None:
    payload = {
        "contactid": "c",
        "address2_line1": "Building 4",
        "address2_line2": "1 Main Street",
        "address2_line3": None,
        "address2_city": "Lyon",
        "address2_stateorprovince": "ARA",
        "address2_postalcode": "69001",
        "address2_country": "France",
        "emailaddress1": "ann@contoso.com",
        "emailaddress3": "ann@home.example",
        "telephone1": "+33 1",
        "telephone2": "+33 2",
        "mobilephone": "+33 6",
        "description": "Line one\r\nLine two",
    }

    contact = contact_from_dataverse(payload)

    assert contact.address2 == Address(
        street="Building 4\n1 Main Street",
        city="Lyon",
        state="ARA",
        postal_code="69001",
        country="France",
    )
    assert contact.emails == ("ann@contoso.com", "ann@home.example")
    assert (contact.business_phone, contact.home_phone, contact.mobile_phone) == (
        "+33 1",
        "+33 2",
        "+33 6",
    )
    assert contact.notes == "Line one\nLine two"
    body = contact_to_dataverse(contact, fields={"address2"})
    assert body["address2_line1"] == "Building 4"
    assert body["address2_line2"] == "1 Main Street"
    assert body["address2_line3"] is None


def test_an_appointment_reads_parties_priority_status_and_uid() -> None:
    payload = MEETING | {
        "prioritycode": 2,
        "statecode": 0,
        "statuscode": 2,
        "isalldayevent": False,
        "globalobjectid": "uid-9",
        "_regardingobjectid_value": "acc-1",
        "_ownerid_value": "user-1",
        "appointment_activity_parties": [
            {"participationtypemask": 7, "addressused": "ann@contoso.com"},
            {"participationtypemask": 5, "addressused": "ben@fabrikam.com"},
            {"participationtypemask": 6, "addressused": "lee@x.org"},
            {"participationtypemask": 9, "addressused": "owner@contoso.com"},
        ],
    }

    appointment = appointment_from_dataverse(payload)

    assert appointment.organizer == "ann@contoso.com"
    assert (appointment.required, appointment.optional) == (("ben@fabrikam.com",), ("lee@x.org",))
    assert (appointment.priority, appointment.show_as) == (Priority.HIGH, ShowAs.TENTATIVE)
    assert (appointment.uid, appointment.regarding, appointment.owner) == (
        "uid-9",
        "acc-1",
        "user-1",
    )
    assert appointment.start == dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("state", "show_as", "codes"),
    [
        (ActivityState.OPEN, ShowAs.FREE, (0, 1)),
        (ActivityState.OPEN, ShowAs.TENTATIVE, (0, 2)),
        (ActivityState.SCHEDULED, ShowAs.BUSY, (3, 5)),
        (ActivityState.SCHEDULED, ShowAs.OOF, (3, 6)),
        (ActivityState.COMPLETED, ShowAs.BUSY, (1, 3)),
        (ActivityState.CANCELED, ShowAs.BUSY, (2, 4)),
    ],
)
def test_show_as_lives_in_the_status_reason(
    state: ActivityState, show_as: ShowAs, codes: tuple[int, int]
) -> None:
    appointment = appointment_from_dataverse(
        MEETING | {"statecode": codes[0], "statuscode": codes[1]}
    )

    assert (appointment.state, appointment.show_as) == (state, show_as)
    body = appointment_to_dataverse(appointment, fields={"show_as"})
    assert (body["statecode"], body["statuscode"]) == codes


def test_a_series_master_reads_its_pattern_and_an_exception_its_series() -> None:
    master = appointment_from_dataverse(
        MEETING
        | {
            "instancetypecode": 1,
            "recurrencepatterntype": 1,
            "interval": 2,
            "daysofweekmask": 2 | 8,  # Monday, Wednesday
            "patternstartdate": "2026-12-01T00:00:00Z",
            "patternendtype": 2,
            "occurrences": 10,
        }
    )
    exception = appointment_from_dataverse(
        MEETING | {"activityid": "a-2", "instancetypecode": 3, "_seriesid_value": "a-1"}
    )

    assert master.recurrence == Recurrence(
        pattern="weekly",
        interval=2,
        days_of_week=("monday", "wednesday"),
        start_date=dt.date(2026, 12, 1),
        occurrences=10,
    )
    assert entity_set(master) == "recurringappointmentmasters"
    assert exception.series_key == "a-1"


def test_an_unmodified_instance_is_not_a_record() -> None:
    with pytest.raises(InvalidInput, match=r"\$\.instancetypecode: an unmodified instance"):
        appointment_from_dataverse(MEETING | {"instancetypecode": 2})


def test_monthly_patterns_are_relative_with_an_instance_and_absolute_without() -> None:
    relative = recurrence_from_dataverse(
        {
            "recurrencepatterntype": 2,
            "instance": 5,
            "daysofweekmask": 64,
            "patternstartdate": "2026-12-01",
            "patternendtype": 3,
            "patternenddate": "2027-06-30T00:00:00Z",
        }
    )
    absolute = recurrence_from_dataverse(
        {"recurrencepatterntype": 2, "dayofmonth": 15, "patternstartdate": "2026-12-01"}
    )
    weekdays = recurrence_from_dataverse(
        {"recurrencepatterntype": 0, "isweekdaypattern": True, "patternstartdate": "2026-12-01"}
    )

    assert (relative.pattern, relative.index, relative.days_of_week) == (
        "relative_monthly",
        "last",
        ("saturday",),
    )
    assert relative.end_date == dt.date(2027, 6, 30)
    assert (absolute.pattern, absolute.day_of_month) == ("absolute_monthly", 15)
    assert (weekdays.pattern, weekdays.days_of_week) == (
        "weekly",
        ("monday", "tuesday", "wednesday", "thursday", "friday"),
    )


def test_a_service_appointment_is_a_service_activity() -> None:
    appointment = appointment_from_dataverse(MEETING | {"_serviceid_value": "svc-1"})

    assert appointment.kind is ActivityKind.SERVICE_ACTIVITY
    assert entity_set(appointment) == "serviceappointments"
    body = appointment_to_dataverse(appointment, fields={"required"})
    assert body == {"serviceappointment_activity_parties": []}


def test_an_attachment_row_hashes_its_decoded_body() -> None:
    content = b"%PDF-1.7 agenda"
    payload = {
        "filename": "agenda.pdf",
        "mimetype": "application/pdf",
        "filesize": len(content),
        "body": base64.b64encode(content).decode(),
        "_objectid_value": "a-1",
    }

    assert attachment_from_dataverse(payload) == Attachment(
        name="agenda.pdf",
        size=len(content),
        content_hash="sha256:" + hashlib.sha256(content).hexdigest(),
        mime_type="application/pdf",
    )
    with pytest.raises(InvalidInput, match=r"\$\.filesize: says 3 bytes, but body holds 15"):
        attachment_from_dataverse(payload | {"filesize": 3})


@pytest.mark.parametrize(
    ("statecode", "statuscode", "status"),
    [
        (0, 2, TaskStatus.NOT_STARTED),
        (0, 3, TaskStatus.IN_PROGRESS),
        (0, 4, TaskStatus.WAITING_ON_OTHERS),
        (0, 7, TaskStatus.DEFERRED),
        (1, 5, TaskStatus.COMPLETED),
        (2, 6, TaskStatus.CANCELED),
    ],
)
def test_a_task_status_is_its_state_and_status_reason(
    statecode: int, statuscode: int, status: TaskStatus
) -> None:
    task = task_from_dataverse(
        {"activityid": "t", "statecode": statecode, "statuscode": statuscode}
    )

    assert task.status is status
    body = task_to_dataverse(task, fields={"status"})
    assert (body["statecode"], body["statuscode"]) == (statecode, statuscode)


def test_a_task_reads_due_completed_and_percent() -> None:
    task = task_from_dataverse(
        {
            "activityid": "t",
            "scheduledend": "2026-12-01T17:00:00Z",
            "actualend": "2026-11-30T08:00:00Z",
            "percentcomplete": 100,
            "statecode": 1,
            "statuscode": 5,
            "prioritycode": 0,
        }
    )

    assert task.due == dt.datetime(2026, 12, 1, 17, 0, tzinfo=dt.UTC)
    assert task.completed == dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    assert (task.percent_complete, task.priority) == (100, Priority.LOW)
    body = task_to_dataverse(task, fields={"due", "completed"})
    assert body == {"scheduledend": "2026-12-01T17:00:00Z", "actualend": "2026-11-30T08:00:00Z"}


def test_every_problem_is_reported_with_its_path() -> None:
    with pytest.raises(InvalidInput) as caught:
        appointment_from_dataverse(
            {
                "activityid": "a",
                "scheduledstart": "2026-12-01T09:00:00",
                "prioritycode": 9,
                "statuscode": 42,
                "appointment_activity_parties": [{"participationtypemask": "five"}],
            }
        )

    assert caught.value.lines() == [
        "$.statuscode: unknown appointment status 42",
        "$.appointment_activity_parties[0].participationtypemask: "
        "expected an integer, got a string",
        "$.scheduledstart: date-time '2026-12-01T09:00:00' has no UTC offset",
        "$.scheduledend: is required",
        "$.prioritycode: unknown value 9; expected one of: 0, 1, 2",
    ]


def test_lookups_are_read_but_never_written() -> None:
    appointment = Appointment(
        key="a",
        start=dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC),
        end=dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC),
        regarding="acc-1",
        owner="user-1",
    )

    body = appointment_to_dataverse(appointment)

    assert not any("regarding" in column or "owner" in column for column in body)
    with pytest.raises(ValueError, match="fields Dataverse cannot write: regarding"):
        appointment_to_dataverse(appointment, fields={"regarding"})


@pytest.mark.parametrize("number", ["Infinity", "NaN", "1e400", "2.5"])
def test_a_number_that_is_not_an_integer_is_invalid_input(number: str) -> None:
    row = json.loads(f'{{"activityid": "t", "percentcomplete": {number}}}')

    with pytest.raises(InvalidInput, match=r"\$\.percentcomplete: expected an integer"):
        task_from_dataverse(row)


def test_a_contact_with_the_same_email_twice_reads_it_once() -> None:
    row = {"contactid": "c-1", "emailaddress1": "a@contoso.com", "emailaddress2": "A@contoso.com"}

    assert contact_from_dataverse(row).emails == ("a@contoso.com",)


def test_given_names_win_over_fullname() -> None:
    row = {"contactid": "c-1", "fullname": "Shillo, Rafel", "lastname": "Shillo"}

    read = contact_from_dataverse(row)

    assert (read.first_name, read.last_name) == ("", "Shillo")
    assert (
        contact_from_dataverse({"contactid": "c-2", "fullname": "Shillo, Rafel"}).first_name
        == "Rafel"
    )


# --- the activity model as Microsoft documents it (issue 25) ---------------------------------

SERIES_ROW = {  # a recurringappointmentmasters row: its time is starttime/endtime
    "activityid": "s-1",
    "subject": "Standup",
    "starttime": "2026-12-01T09:00:00Z",
    "endtime": "2026-12-01T09:15:00Z",
    "recurrencepatterntype": 0,
    "interval": 1,
    "patternstartdate": "2026-12-01T00:00:00Z",
    "patternendtype": 1,
    "recurringappointmentmaster_activity_parties": [
        {"participationtypemask": 5, "addressused": "bob@x.org"}
    ],
}


def test_a_series_row_reads_its_time_from_starttime_and_endtime() -> None:
    series = appointment_from_dataverse(SERIES_ROW)

    assert series.start == dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    assert series.end == dt.datetime(2026, 12, 1, 9, 15, tzinfo=dt.UTC)
    assert series.required == ("bob@x.org",)
    assert series.recurrence is not None


def test_a_series_is_written_with_starttime_and_endtime_not_its_read_only_scheduled_columns() -> (
    None
):
    series = appointment_from_dataverse(SERIES_ROW)

    body = appointment_to_dataverse(series)
    moved = appointment_to_dataverse(series, fields={"start", "end"})

    assert (body["starttime"], body["endtime"]) == ("2026-12-01T09:00:00Z", "2026-12-01T09:15:00Z")
    assert not {"scheduledstart", "scheduledend"} & set(body)
    assert moved == {"starttime": "2026-12-01T09:00:00Z", "endtime": "2026-12-01T09:15:00Z"}
    assert "recurringappointmentmaster_activity_parties" in body


def test_an_exception_is_keyed_to_its_series_by_the_seriesid_column() -> None:
    exception = appointment_from_dataverse(
        MEETING | {"activityid": "a-2", "instancetypecode": 3, "seriesid": "s-1"}
    )

    assert exception.series_key == "s-1"


def test_the_organizer_is_bound_to_its_system_user_only_when_resolved() -> None:
    meeting = Appointment(
        key="m",
        start=dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC),
        end=dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC),
        organizer="Ann@X.org",
        optional=("carl@y.org",),
    )

    resolved = appointment_to_dataverse(meeting, system_users={"ann@x.org": "u-1"})
    unresolved = appointment_to_dataverse(meeting)

    assert resolved["appointment_activity_parties"][0] == {
        "participationtypemask": 7,
        "addressused": "Ann@X.org",
        "partyid_systemuser@odata.bind": "/systemusers(u-1)",
    }
    assert unresolved["appointment_activity_parties"] == [
        {"participationtypemask": 6, "addressused": "carl@y.org"}
    ]
    assert appointment_to_dataverse(meeting, fields={"organizer"}) == {}
