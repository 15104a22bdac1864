"""Dataverse Web API payloads (the CRM side) in and out.

`*_from_dataverse` read what the Web API returns for a `contact`, an
`appointment` (with its `appointment_activity_parties` expanded, and its
`recurringappointmentmaster` columns for a series), a `task` and an
`activitymimeattachment`; `*_to_dataverse` write the body of a `POST` or
`PATCH` (pass `fields=` to write only the columns an update changes).
OData annotations (`@odata.etag`, `...@OData.Community.Display.V1.FormattedValue`)
are ignored, never errors. A record's key is its `contactid` or `activityid`
(or `key=` for a payload without one, such as a deep-insert request).

Lookups (`_regardingobjectid_value`, `_ownerid_value`) are read as their ids
and never written: binding a lookup needs the target table, which the
application knows and crmsync does not. Dataverse sets a new row's owner
itself (the caller), so after a create the record is taken from the row the
service returns (`stored_record`, `with_server_values`), never from what
crmsync sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

import attrs

from crmsync.adapters._read import (
    Reader,
    build,
    file_attachment,
    normalize_text,
    restrict,
    split_name,
    unique_emails,
)
from crmsync.errors import InvalidInput
from crmsync.records import (
    DAY_NAMES,
    ActivityKind,
    ActivityState,
    Address,
    Appointment,
    Attachment,
    CrmContact,
    Domain,
    Priority,
    Recurrence,
    RecurrencePattern,
    ShowAs,
    Task,
    TaskStatus,
)

__all__ = [
    "API_ROOT",
    "appointment_from_dataverse",
    "appointment_to_dataverse",
    "attachment_from_dataverse",
    "contact_from_dataverse",
    "contact_to_dataverse",
    "entity_set",
    "recurrence_from_dataverse",
    "recurrence_to_dataverse",
    "stored_record",
    "task_from_dataverse",
    "task_to_dataverse",
    "with_server_values",
]

API_ROOT = "/api/data/v9.2"

SERVER_SET: Final = ("owner", "organizer")
"""Record fields the row Dataverse stores decides, not crmsync: taken from the created row.

The owner is the caller; the organizer is only what crmsync could bind to a
system user (`appointment_to_dataverse`), so an address it could not resolve
is not on the row, and the baseline says so.
"""

JSON = dict[str, Any]

_PRIORITY = {0: Priority.LOW, 1: Priority.NORMAL, 2: Priority.HIGH}
_APPOINTMENT_STATE = {
    0: ActivityState.OPEN,
    1: ActivityState.COMPLETED,
    2: ActivityState.CANCELED,
    3: ActivityState.SCHEDULED,
}
# Appointment status reasons; Dynamics maps Outlook's "Show time as" onto them.
_SHOW_AS = {1: ShowAs.FREE, 2: ShowAs.TENTATIVE, 5: ShowAs.BUSY, 6: ShowAs.OOF}
_APPOINTMENT_STATUS = {3, 4} | set(_SHOW_AS)
_TASK_STATUS = {
    2: TaskStatus.NOT_STARTED,
    3: TaskStatus.IN_PROGRESS,
    4: TaskStatus.WAITING_ON_OTHERS,
    5: TaskStatus.COMPLETED,
    6: TaskStatus.CANCELED,
    7: TaskStatus.DEFERRED,
}
_TASK_STATE = {0: "open", 1: "completed", 2: "canceled"}
_REQUIRED, _OPTIONAL, _ORGANIZER = 5, 6, 7
_INSTANCE = {0: "single", 1: "master", 2: "instance", 3: "exception", 4: "exception"}
_PATTERN_TYPE = {0: "daily", 1: "weekly", 2: "monthly", 3: "yearly"}
_INDEXES = ("first", "second", "third", "fourth", "last")
_END_TYPE = {1: "noEnd", 2: "numbered", 3: "endDate"}


def _utc(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _key(reader: Reader, column: str, key: str | None) -> str:
    return key if key is not None else reader.text(column, required=True)


# ---------------------------------------------------------------------------
# contacts


def _address(reader: Reader, n: int) -> Address:
    lines = [reader.text(f"address{n}_line{i}").strip() for i in (1, 2, 3)]
    return Address(
        street="\n".join(line for line in lines if line),
        city=reader.text(f"address{n}_city").strip(),
        state=reader.text(f"address{n}_stateorprovince").strip(),
        postal_code=reader.text(f"address{n}_postalcode").strip(),
        country=reader.text(f"address{n}_country").strip(),
    )


def _write_address(address: Address, n: int) -> JSON:
    lines = address.street.split("\n") if address.street else []
    lines += [""] * (3 - len(lines))
    body: JSON = {f"address{n}_line{i}": line or None for i, line in enumerate(lines, 1)}
    return body | {
        f"address{n}_city": address.city or None,
        f"address{n}_stateorprovince": address.state or None,
        f"address{n}_postalcode": address.postal_code or None,
        f"address{n}_country": address.country or None,
    }


def contact_from_dataverse(payload: Any, *, key: str | None = None) -> CrmContact:
    """A CRM contact from a Dataverse `contact` row.

    Without `firstname` and `lastname` (a `$select=fullname` query) the names
    come from `fullname` ("Last, First", else the last word is the last name).
    An address given twice among `emailaddress1`-`3` is read once.

    Raises:
        InvalidInput: the payload is not a contact, each problem with its path.
    """
    reader = Reader(payload)
    emails = [reader.text(f"emailaddress{i}").strip() for i in (1, 2, 3)]
    first, last = reader.text("firstname").strip(), reader.text("lastname").strip()
    if not first and not last:
        first, last = split_name(reader.text("fullname"))
    values: dict[str, Any] = {
        "key": _key(reader, "contactid", key),
        "first_name": first,
        "last_name": last,
        "emails": unique_emails(emails),
        "business_phone": reader.text("telephone1").strip(),
        "home_phone": reader.text("telephone2").strip(),
        "mobile_phone": reader.text("mobilephone").strip(),
        "job_title": reader.text("jobtitle").strip(),
        "department": reader.text("department").strip(),
        "notes": normalize_text(reader.text("description")),
        "address1": _address(reader, 1),
        "address2": _address(reader, 2),
        "address3": _address(reader, 3),
        "owner": reader.text("_ownerid_value"),
        "modified": reader.moment("modifiedon"),
    }
    return build(reader, lambda: CrmContact(**values))


_CONTACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "first_name": ("firstname",),
    "last_name": ("lastname",),
    "emails": ("emailaddress1", "emailaddress2", "emailaddress3"),
    "business_phone": ("telephone1",),
    "home_phone": ("telephone2",),
    "mobile_phone": ("mobilephone",),
    "job_title": ("jobtitle",),
    "department": ("department",),
    "notes": ("description",),
    **{
        f"address{n}": tuple(
            f"address{n}_{part}"
            for part in (
                "line1",
                "line2",
                "line3",
                "city",
                "stateorprovince",
                "postalcode",
                "country",
            )
        )
        for n in (1, 2, 3)
    },
}


def contact_to_dataverse(contact: CrmContact, *, fields: Collection[str] | None = None) -> JSON:
    """The Dataverse body for a contact (all of it, or only `fields`).

    Empty values are written as null, Dataverse's "no value"; a street's
    lines (at most three, as `Address` holds them) go to `line1` to `line3`.
    """
    emails = [*contact.emails, None, None, None][:3]
    body: JSON = {
        "firstname": contact.first_name or None,
        "lastname": contact.last_name or None,
        **{f"emailaddress{i}": email for i, email in enumerate(emails, 1)},
        "telephone1": contact.business_phone or None,
        "telephone2": contact.home_phone or None,
        "mobilephone": contact.mobile_phone or None,
        "jobtitle": contact.job_title or None,
        "department": contact.department or None,
        "description": contact.notes or None,
        **_write_address(contact.address1, 1),
        **_write_address(contact.address2, 2),
        **_write_address(contact.address3, 3),
    }
    return restrict(body, fields, _CONTACT_COLUMNS, service="Dataverse")


# ---------------------------------------------------------------------------
# recurrence


def _days(mask: int) -> tuple[str, ...]:
    return tuple(name for bit, name in enumerate(DAY_NAMES) if mask & (1 << bit))


def _mask(days: Collection[str]) -> int:
    return sum(1 << DAY_NAMES.index(day) for day in days)


def _date(reader: Reader, name: str, *, required: bool = False) -> dt.date | None:
    """A date column, given as a date or as midnight of that date (`...T00:00:00Z`)."""
    text = reader.text(name, required=required)
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        reader.problem(name, f"expected a date like 2017-09-04, got {text!r}")
        return None


def recurrence_from_dataverse(payload: Any) -> Recurrence:
    """A recurrence from the pattern columns of a `recurringappointmentmaster`.

    Monthly and yearly patterns with an `instance` (first ... last) and days
    are relative; otherwise absolute. A daily pattern on weekdays
    (`isweekdaypattern`) is a weekly pattern Monday to Friday, as Graph
    expresses it.

    Raises:
        InvalidInput: an unknown pattern or end type, each problem with its path.
    """
    reader = Reader(payload)
    kind = reader.choice("recurrencepatterntype", _PATTERN_TYPE, "daily")
    if not reader.has("recurrencepatterntype"):
        reader.problem("recurrencepatterntype", "is required")
    days = _days(reader.integer("daysofweekmask") or 0)
    instance = reader.integer("instance")
    index = _INDEXES[instance - 1] if instance in (1, 2, 3, 4, 5) else None
    if instance is not None and index is None:
        reader.problem("instance", f"expected 1 to 5, got {instance}")
    end_type = reader.choice("patternendtype", _END_TYPE, "noEnd")
    relative = index is not None and bool(days)
    pattern = {
        "daily": RecurrencePattern.DAILY,
        "weekly": RecurrencePattern.WEEKLY,
        "monthly": RecurrencePattern.RELATIVE_MONTHLY
        if relative
        else RecurrencePattern.ABSOLUTE_MONTHLY,
        "yearly": RecurrencePattern.RELATIVE_YEARLY
        if relative
        else RecurrencePattern.ABSOLUTE_YEARLY,
    }[kind]
    if kind == "daily" and reader.flag("isweekdaypattern"):
        pattern, days = RecurrencePattern.WEEKLY, DAY_NAMES[1:6]
    absolute = pattern in (RecurrencePattern.ABSOLUTE_MONTHLY, RecurrencePattern.ABSOLUTE_YEARLY)
    yearly = pattern in (RecurrencePattern.ABSOLUTE_YEARLY, RecurrencePattern.RELATIVE_YEARLY)
    start = _date(reader, "patternstartdate", required=True)
    end = _date(reader, "patternenddate") if end_type == "endDate" else None
    values: dict[str, Any] = {
        "pattern": pattern,
        "interval": reader.integer("interval") or 1,
        "days_of_week": days if pattern in (RecurrencePattern.WEEKLY,) or relative else (),
        "day_of_month": reader.integer("dayofmonth") if absolute else None,
        "month": reader.integer("monthofyear") if yearly else None,
        "index": index if relative else None,
        "start_date": start,
        "end_date": end,
        "occurrences": reader.integer("occurrences") if end_type == "numbered" else None,
    }
    if end_type == "endDate" and end is None:
        reader.problem("patternenddate", "is required when patternendtype is 3 (end date)")
    if end_type == "numbered" and values["occurrences"] is None:
        reader.problem("occurrences", "is required when patternendtype is 2 (occurrences)")
    return build(reader, lambda: Recurrence(**values))


def recurrence_to_dataverse(recurrence: Recurrence) -> JSON:
    """The pattern columns of a `recurringappointmentmaster`."""
    kind = {
        RecurrencePattern.DAILY: 0,
        RecurrencePattern.WEEKLY: 1,
        RecurrencePattern.ABSOLUTE_MONTHLY: 2,
        RecurrencePattern.RELATIVE_MONTHLY: 2,
        RecurrencePattern.ABSOLUTE_YEARLY: 3,
        RecurrencePattern.RELATIVE_YEARLY: 3,
    }[recurrence.pattern]
    body: JSON = {
        "recurrencepatterntype": kind,
        "interval": recurrence.interval,
        "patternstartdate": f"{recurrence.start_date.isoformat()}T00:00:00Z",
    }
    if recurrence.days_of_week:
        body["daysofweekmask"] = _mask(recurrence.days_of_week)
    if recurrence.day_of_month is not None:
        body["dayofmonth"] = recurrence.day_of_month
    if recurrence.month is not None:
        body["monthofyear"] = recurrence.month
    if recurrence.index is not None:
        body["instance"] = _INDEXES.index(recurrence.index) + 1
    if recurrence.end_date is not None:
        end = f"{recurrence.end_date.isoformat()}T00:00:00Z"
        body |= {"patternendtype": 3, "patternenddate": end}
    elif recurrence.occurrences is not None:
        body |= {"patternendtype": 2, "occurrences": recurrence.occurrences}
    else:
        body["patternendtype"] = 1
    return body


# ---------------------------------------------------------------------------
# appointments and attachments


def attachment_from_dataverse(payload: Any) -> Attachment:
    """An attachment from an `activitymimeattachment` row.

    `content_hash` is "sha256:" and the hex digest of the decoded `body`;
    `size` is the decoded length (what `filesize` holds).

    Raises:
        InvalidInput: no file name or no valid base64 body.
    """
    reader = Reader(payload)
    name = reader.text("filename", required=True)
    content = reader.base64("body")
    size = reader.integer("filesize")
    if content is not None and size is not None and size != len(content):
        reader.problem("filesize", f"says {size} bytes, but body holds {len(content)}")
    return file_attachment(reader, name, content, reader.text("mimetype"))


def appointment_from_dataverse(
    payload: Any,
    *,
    key: str | None = None,
    attachments: Collection[Attachment] = (),
    recurrence: Recurrence | None = None,
) -> Appointment:
    """A CRM appointment from an `appointment` row (or a `serviceappointment`).

    Attendees come from the expanded `appointment_activity_parties` by
    `participationtypemask` (5 required, 6 optional, 7 organizer) and their
    `addressused`. A series master (a `recurringappointmentmaster` row, or
    `instancetypecode` 1) reads its pattern from the row's pattern columns
    or takes `recurrence=`, and its time from `starttime`/`endtime` (the
    table's own columns; its `scheduledstart`/`scheduledend` are read-only);
    an exception (3, 4) is keyed to its series by `seriesid`. An unmodified
    instance (2) is no record of its own: `crmsync.adapters.read_dataverse`
    attributes it to its series. Attachments are separate rows: pass them as
    `attachments=`.

    Raises:
        InvalidInput: the payload is not an appointment, each problem with its path.
    """
    reader = Reader(payload)
    state = reader.choice("statecode", _APPOINTMENT_STATE, ActivityState.OPEN)
    status = reader.integer("statuscode")
    if status is not None and status not in _APPOINTMENT_STATUS:
        reader.problem("statuscode", f"unknown appointment status {status}")
    # A request body has no instance type: its pattern columns say it is a series.
    instance = reader.choice(
        "instancetypecode",
        _INSTANCE,
        "master" if reader.has("recurrencepatterntype") else "single",
    )
    if instance == "instance":
        reader.problem(
            "instancetypecode",
            "an unmodified instance of a series is not a record of its own; read its series master",
        )
    if instance == "master" and recurrence is None:
        if reader.has("recurrencepatterntype"):
            try:
                recurrence = recurrence_from_dataverse(payload)
            except InvalidInput as exc:
                reader.problems.absorb(exc)
        else:
            reader.problem("recurrencepatterntype", "a series master needs its pattern")
    # A series' time is `starttime`/`endtime` (recurringappointmentmaster table reference).
    series_time = instance == "master" and (reader.has("starttime") or reader.has("endtime"))
    start_column, end_column = (
        ("starttime", "endtime") if series_time else ("scheduledstart", "scheduledend")
    )
    parties: dict[int, list[str]] = {_REQUIRED: [], _OPTIONAL: [], _ORGANIZER: []}
    tables = ("appointment", "recurringappointmentmaster", "serviceappointment")
    for party in (p for t in tables for p in reader.objects(f"{t}_activity_parties")):
        role = party.integer("participationtypemask")
        address = party.text("addressused").strip()
        if role in parties and address:
            parties[role].append(address)
    service = reader.text("activitytypecode") == "serviceappointment" or reader.has(
        "_serviceid_value"
    )
    values: dict[str, Any] = {
        "key": _key(reader, "activityid", key),
        "subject": reader.text("subject").strip(),
        "body": normalize_text(reader.text("description")),
        "location": reader.text("location").strip(),
        "start": reader.moment(start_column, required=True),
        "end": reader.moment(end_column, required=True),
        "all_day": reader.flag("isalldayevent"),
        "priority": reader.choice("prioritycode", _PRIORITY, Priority.NORMAL),
        "show_as": _SHOW_AS.get(status or 5, ShowAs.BUSY),
        "organizer": next(iter(parties[_ORGANIZER]), ""),
        "required": tuple(parties[_REQUIRED]),
        "optional": tuple(parties[_OPTIONAL]),
        "regarding": reader.text("_regardingobjectid_value"),
        "uid": reader.text("globalobjectid"),
        "kind": ActivityKind.SERVICE_ACTIVITY if service else ActivityKind.APPOINTMENT,
        "recurrence": recurrence if instance == "master" else None,
        # SeriesId is a plain uniqueidentifier column (appointment table reference).
        "series_key": reader.text(
            "seriesid" if reader.has("seriesid") else "_seriesid_value", required=True
        )
        if instance == "exception"
        else "",
        "attachments": tuple(attachments),
        "state": state,
        "owner": reader.text("_ownerid_value"),
        "modified": reader.moment("modifiedon"),
    }
    return build(reader, lambda: Appointment(**values))


def _appointment_status(appointment: Appointment) -> tuple[int, int]:
    """`(statecode, statuscode)`: the state, and "show time as" for an open one."""
    if appointment.state is ActivityState.COMPLETED:
        return 1, 3
    if appointment.state is ActivityState.CANCELED:
        return 2, 4
    return {
        ShowAs.FREE: (0, 1),
        ShowAs.TENTATIVE: (0, 2),
        ShowAs.OOF: (3, 6),
    }.get(appointment.show_as, (3, 5))


_APPOINTMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "subject": ("subject",),
    "body": ("description",),
    "location": ("location",),
    "start": ("scheduledstart",),
    "end": ("scheduledend",),
    "all_day": ("isalldayevent",),
    "priority": ("prioritycode",),
    "show_as": ("statecode", "statuscode"),
    "state": ("statecode", "statuscode"),
    "organizer": ("activity_parties",),
    "required": ("activity_parties",),
    "optional": ("activity_parties",),
    "uid": ("globalobjectid",),
    "recurrence": (
        "recurrencepatterntype", "interval", "patternstartdate", "daysofweekmask", "dayofmonth",
        "monthofyear", "instance", "patternendtype", "patternenddate", "occurrences",
    ),
}  # fmt: skip


def entity_set(appointment: Appointment) -> str:
    """The table an appointment lives in: a series, a service activity or an appointment."""
    if appointment.recurrence is not None:
        return "recurringappointmentmasters"
    if appointment.kind is ActivityKind.SERVICE_ACTIVITY:
        return "serviceappointments"
    return "appointments"


def _parties_property(table: str) -> str:
    return f"{table.removesuffix('s')}_activity_parties"


def appointment_to_dataverse(
    appointment: Appointment,
    *,
    fields: Collection[str] | None = None,
    system_users: Mapping[str, str] | None = None,
) -> JSON:
    """The Dataverse body for an appointment (all of it, or only `fields`).

    Show-as has no column of its own: Dynamics keeps it in the status reason
    (free and tentative are open, busy and out of office scheduled), so
    working elsewhere and unknown are written as busy. A series master is a
    `recurringappointmentmaster` row: its pattern columns are in the body too,
    and its time is `starttime`/`endtime` (`entity_set` names the table).

    The organizer is a party the table lets target only a `systemuser`: it
    is written (bound to `/systemusers(id)`) only when `system_users` maps
    its address to the user's id, and left out otherwise. Attendees may be
    unresolved addresses (`addressused`).

    Args:
        appointment: the record.
        fields: the record fields to write (all when None).
        system_users: e-mail address (lower case) -> `systemuserid`.
    """
    state, status = _appointment_status(appointment)
    organizer = _organizer_party(appointment.organizer, system_users or {})
    if fields is not None and set(fields) == {"organizer"} and organizer is None:
        return {}  # nothing the table accepts writes this change
    parties = [
        *([organizer] if organizer is not None else []),
        *(
            {"participationtypemask": role, "addressused": address}
            for role, people in (
                (_REQUIRED, appointment.required),
                (_OPTIONAL, appointment.optional),
            )
            for address in people
        ),
    ]
    body: JSON = {
        "subject": appointment.subject,
        "description": appointment.body or None,
        "location": appointment.location or None,
        "scheduledstart": _utc(appointment.start),
        "scheduledend": _utc(appointment.end),
        "isalldayevent": appointment.all_day,
        "prioritycode": {v: k for k, v in _PRIORITY.items()}[appointment.priority],
        "statecode": state,
        "statuscode": status,
        "activity_parties": parties,
        "globalobjectid": appointment.uid or None,
    }
    if appointment.recurrence is not None:
        body |= recurrence_to_dataverse(appointment.recurrence)
    body = restrict(body, fields, _APPOINTMENT_COLUMNS, service="Dataverse")
    if "activity_parties" in body:  # named after the table the row lives in
        body[_parties_property(entity_set(appointment))] = body.pop("activity_parties")
    if appointment.recurrence is not None:
        # A series' scheduledstart/scheduledend are read-only; its time is starttime/endtime
        # (recurringappointmentmaster table reference).
        body = {_SERIES_COLUMN.get(name, name): value for name, value in body.items()}
    return body


_SERIES_COLUMN = {"scheduledstart": "starttime", "scheduledend": "endtime"}


def _organizer_party(address: str, system_users: Mapping[str, str]) -> JSON | None:
    """The organizer's activity party, bound to its system user; None when unresolved.

    The appointment table's `organizer` targets `systemuser` only (no
    `unresolvedaddress`, unlike the attendees), so an address crmsync cannot
    resolve to a user is not sent.
    """
    user = system_users.get(address.strip().lower()) if address else None
    if not user:
        return None
    return {
        "participationtypemask": _ORGANIZER,
        "addressused": address,
        "partyid_systemuser@odata.bind": f"/systemusers({user})",
    }


# ---------------------------------------------------------------------------
# tasks


def task_from_dataverse(payload: Any, *, key: str | None = None) -> Task:
    """A CRM task from a `task` row (Due Date is `scheduledend`).

    Raises:
        InvalidInput: the payload is not a task, each problem with its path.
    """
    reader = Reader(payload)
    state = reader.choice("statecode", _TASK_STATE, "open")
    status = reader.choice(
        "statuscode",
        _TASK_STATUS,
        {"completed": TaskStatus.COMPLETED, "canceled": TaskStatus.CANCELED}.get(
            state, TaskStatus.NOT_STARTED
        ),
    )
    percent = reader.integer("percentcomplete")
    values: dict[str, Any] = {
        "key": _key(reader, "activityid", key),
        "subject": reader.text("subject").strip(),
        "notes": normalize_text(reader.text("description")),
        "start": reader.moment("scheduledstart"),
        "due": reader.moment("scheduledend"),
        "completed": reader.moment("actualend"),
        "percent_complete": percent if percent is not None else 0,
        "status": status,
        "priority": reader.choice("prioritycode", _PRIORITY, Priority.NORMAL),
        "regarding": reader.text("_regardingobjectid_value"),
        "owner": reader.text("_ownerid_value"),
        "modified": reader.moment("modifiedon"),
    }
    return build(reader, lambda: Task(**values))


def task_to_dataverse(task: Task, *, fields: Collection[str] | None = None) -> JSON:
    """The Dataverse body for a task (all of it, or only `fields`)."""
    state = {TaskStatus.COMPLETED: 1, TaskStatus.CANCELED: 2}.get(task.status, 0)
    body: JSON = {
        "subject": task.subject,
        "description": task.notes or None,
        "scheduledstart": _utc(task.start),
        "scheduledend": _utc(task.due),
        "actualend": _utc(task.completed),
        "percentcomplete": task.percent_complete,
        "statecode": state,
        "statuscode": {v: k for k, v in _TASK_STATUS.items()}[task.status],
        "prioritycode": {v: k for k, v in _PRIORITY.items()}[task.priority],
    }
    names = {
        "subject": ("subject",),
        "notes": ("description",),
        "start": ("scheduledstart",),
        "due": ("scheduledend",),
        "completed": ("actualend",),
        "percent_complete": ("percentcomplete",),
        "status": ("statecode", "statuscode"),
        "priority": ("prioritycode",),
    }
    return restrict(body, fields, names, service="Dataverse")


# ---------------------------------------------------------------------------
# rows as the service stored them


def stored_record(domain: Domain, row: Any, *, key: str) -> CrmContact | Appointment | Task | None:
    """A row the service returned for a create (`Prefer: return=representation`) as a record.

    Args:
        domain: contact, appointment or task.
        row: the row as JSON.
        key: the row's id.

    Returns:
        The record, or None when the row does not read as one (an answer
        crmsync cannot use is no reason to fail a create that was made).
    """
    read: dict[Domain, Callable[..., CrmContact | Appointment | Task]] = {
        Domain.CONTACT: contact_from_dataverse,
        Domain.APPOINTMENT: appointment_from_dataverse,
        Domain.TASK: task_from_dataverse,
    }
    try:
        return read[domain](row, key=key)
    except (InvalidInput, KeyError):
        return None


def with_server_values(record: Any, stored: Any) -> Any:
    """`record` (what crmsync wrote) with the values the service set on it (`SERVER_SET`).

    Only those: a row's representation may leave out what crmsync did write
    (an appointment's parties are not in it unless expanded), so the rest
    of the record stays as written.
    """
    values = {
        name: getattr(stored, name)
        for name in SERVER_SET
        if hasattr(record, name) and hasattr(stored, name)
    }
    return attrs.evolve(record, **values) if values else record
