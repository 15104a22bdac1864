"""Microsoft Graph payloads (the mailbox side) in and out.

`*_from_graph` read what Graph returns (`GET /me/contacts/{id}`, an event with
`$expand=attachments`, a To Do `todoTask` or the older `outlookTask`) into
records; `*_to_graph` write the request body an application sends with
`POST` or `PATCH` (pass `fields=` to write only the properties an update
changes). Read-only properties (`id`, `lastModifiedDateTime`, `changeKey`)
are read, never written.

Conventions:
- A record's key is the CRM id Dynamics writes on an item it links (the MAPI
  property `crmid`), else the payload's `id` (or `key=`, which overrides
  both). So a pair stays linked from one read to the next: a body written
  for a record carries its key as `crmid`, and a `LINK` op is a `PATCH` of
  that property (see `crmsync.adapters.requests`).
- An item is tracked when its categories hold "Tracked to Dynamics 365"
  (`TRACKED_CATEGORY`), unless the caller passes `tracked=`; a body created
  for a tracked record carries that category.
- `dateTimeTimeZone` values take Windows zone names ("Pacific Standard Time")
  or IANA names; the mapping between them is CLDR's, as `tzlocal` ships it.
  Written values use the datetime's own zone when it has a Windows name, and
  UTC otherwise.
- HTML bodies are read as plain text (CRM descriptions are plain text, so both
  sides compare like with like) and written back as text.
- What Graph has no property for, Dynamics keeps in MAPI named properties on
  the item; crmsync reads and writes the same ones through
  `singleValueExtendedProperties`: the regarding record, the CRM activity type
  (a service activity), Outlook's mailing-address choice and a task's percent
  complete. An item without them reads as "no regarding", an appointment, a
  business mailing address and the percent its status implies.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bs4 import BeautifulSoup
from bs4.element import NavigableString
from tzlocal.windows_tz import tz_win, win_tz

from crmsync.adapters._read import (
    Reader,
    build,
    file_attachment,
    normalize_text,
    restrict,
    split_name,
    unique_emails,
)
from crmsync.errors import InvalidInput, shown
from crmsync.records import (
    DAY_NAMES,
    ActivityKind,
    ActivityState,
    Address,
    AddressKind,
    Appointment,
    Attachment,
    OutlookContact,
    Priority,
    Recurrence,
    RecurrencePattern,
    ShowAs,
    Task,
    TaskStatus,
)

__all__ = [
    "TRACKED_CATEGORY",
    "attachment_from_graph",
    "contact_from_graph",
    "contact_to_graph",
    "event_from_graph",
    "event_to_graph",
    "html_to_text",
    "recurrence_from_graph",
    "recurrence_to_graph",
    "task_from_graph",
    "task_links",
    "task_to_graph",
    "todo_links",
]

TRACKED_CATEGORY: Final = "Tracked to Dynamics 365"
"""The category Dynamics puts on Outlook items it tracks."""

LINK_APPLICATION: Final = "Dynamics 365"
"""The `applicationName` of the `linkedResource`s that link a To Do task to the CRM."""
TASK_LINK: Final = "Dynamics 365 task"
"""The `displayName` of the linked resource whose `externalId` is the CRM task's key."""
REGARDING_LINK: Final = "Regarding"
"""The `displayName` of the linked resource whose `externalId` is the task's regarding record."""

JSON = dict[str, Any]

# MAPI named properties, as Graph names them in singleValueExtendedProperties.
_PUBLIC_STRINGS = "{00020329-0000-0000-C000-000000000046}"
CRMID_PROPERTY: Final = f"String {_PUBLIC_STRINGS} Name crmid"
REGARDING_PROPERTY: Final = f"String {_PUBLIC_STRINGS} Name crmregardingobjectid"
OBJECT_TYPE_PROPERTY: Final = f"Integer {_PUBLIC_STRINGS} Name crmobjecttypecode"
MAILING_ADDRESS_PROPERTY: Final = "Integer {00062004-0000-0000-C000-000000000046} Id 0x8022"
PERCENT_PROPERTY: Final = "Double {00062003-0000-0000-C000-000000000046} Id 0x8102"

_SERVICE_ACTIVITY_TYPE = 4214  # Dataverse object type code of serviceappointment
_APPOINTMENT_TYPE = 4201
_MAILING = {"1": AddressKind.HOME, "2": AddressKind.BUSINESS, "3": AddressKind.OTHER}

_PRIORITY = {p.value: p for p in Priority}
_SHOW_AS = {
    "free": ShowAs.FREE,
    "tentative": ShowAs.TENTATIVE,
    "busy": ShowAs.BUSY,
    "oof": ShowAs.OOF,
    "workingElsewhere": ShowAs.WORKING_ELSEWHERE,
    "unknown": ShowAs.UNKNOWN,
}
_TASK_STATUS = {
    "notStarted": TaskStatus.NOT_STARTED,
    "inProgress": TaskStatus.IN_PROGRESS,
    "completed": TaskStatus.COMPLETED,
    "waitingOnOthers": TaskStatus.WAITING_ON_OTHERS,
    "deferred": TaskStatus.DEFERRED,
}
_PATTERN = {
    "daily": RecurrencePattern.DAILY,
    "weekly": RecurrencePattern.WEEKLY,
    "absoluteMonthly": RecurrencePattern.ABSOLUTE_MONTHLY,
    "relativeMonthly": RecurrencePattern.RELATIVE_MONTHLY,
    "absoluteYearly": RecurrencePattern.ABSOLUTE_YEARLY,
    "relativeYearly": RecurrencePattern.RELATIVE_YEARLY,
}
_DAYS = {name: name for name in DAY_NAMES} | {name.title(): name for name in DAY_NAMES}
_INDEX = {name: name for name in ("first", "second", "third", "fourth", "last")}
_RANGE = ("endDate", "noEnd", "numbered")


def _invert(table: Mapping[str, Any]) -> dict[Any, str]:
    return {value: name for name, value in table.items()}


# ---------------------------------------------------------------------------
# shared pieces


def _extended(reader: Reader) -> dict[str, str]:
    """`singleValueExtendedProperties` as {id: value}, ids compared case-insensitively.

    Graph sends every value as a string, whatever the property's MAPI type; any
    other value (true, 12, an object) is a problem, never a key like 'True'.
    """
    return {
        item.text("id").casefold(): item.text("value")
        for item in reader.objects("singleValueExtendedProperties")
    }


def _extended_value(props: Mapping[str, str], prop: str) -> str:
    return props.get(prop.casefold(), "")


def _key(reader: Reader, props: Mapping[str, Any], key: str | None) -> str:
    """`key=`, else the CRM id Dynamics wrote on the item (a linked pair), else Graph's `id`."""
    if key is not None:
        return key
    return _extended_value(props, CRMID_PROPERTY) or reader.text("id", required=True)


def _tracked(reader: Reader, tracked: bool | None) -> bool:
    if tracked is not None:
        return tracked
    return TRACKED_CATEGORY in reader.strings("categories")


def _email(reader: Reader | None) -> str:
    """The address of a Graph `recipient` (`{"emailAddress": {"address": ...}}`)."""
    if reader is None:
        return ""
    inner = reader.child("emailAddress")
    return "" if inner is None else inner.text("address").strip()


def _recipient(address: str) -> JSON:
    return {"emailAddress": {"address": address}}


def _zone(name: str) -> dt.tzinfo | None:
    if name.upper() in ("UTC", "GMT", "COORDINATED UNIVERSAL TIME"):
        return dt.UTC
    iana = win_tz.get(name, name)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America", a folder
        return None


def _when(reader: Reader) -> dt.datetime | None:
    """A `dateTimeTimeZone` (wall-clock `dateTime` plus `timeZone`) as an aware datetime."""
    local = reader.text("dateTime", required=True)
    zone_name = reader.text("timeZone", required=True)
    if not local or not zone_name:
        return None
    zone = _zone(zone_name)
    if zone is None:
        reader.problem("timeZone", f"unknown time zone {zone_name!r}")
        return None
    try:
        moment = dt.datetime.fromisoformat(local)
    except ValueError:
        reader.problem("dateTime", f"expected an ISO 8601 date-time, got {local!r}")
        return None
    try:
        return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
    except OverflowError:  # at the edge of the range: no output path could write it
        reader.problem("dateTime", f"{shown(local)} in {shown(zone_name)} is out of range")
        return None


def _moment_of(reader: Reader, name: str, *, required: bool = False) -> dt.datetime | None:
    child = reader.child(name)
    if child is None:
        if required:
            reader.problem(name, "is required")
        return None
    return _when(child)


def _write_when(moment: dt.datetime) -> JSON:
    zone = moment.tzinfo
    key = getattr(zone, "key", None)
    if isinstance(key, str) and key in tz_win:
        return {"dateTime": moment.replace(tzinfo=None).isoformat(), "timeZone": tz_win[key]}
    utc = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return {"dateTime": utc.isoformat(), "timeZone": "UTC"}


_DAY = dt.timedelta(days=1)
_TIME_FIELDS = frozenset(("start", "end", "all_day"))


def _nearest_midnight(moment: dt.datetime) -> dt.datetime:
    utc = moment.astimezone(dt.UTC)
    floor = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return floor + _DAY if utc - floor > dt.timedelta(hours=12) else floor


def _all_day_zone(start: dt.datetime, hints: tuple[str, ...]) -> tuple[str, dt.tzinfo]:
    """The zone an all-day event's midnights are written in: its name for Graph and the zone.

    Graph: an `isAllDay` event's start and end "must be set to midnight and be
    in the same time zone" (event resource). A record read from Graph keeps
    its zone; one from the CRM holds UTC instants (Dataverse stores a
    user-local all-day appointment as the UTC instant of the user's
    midnight), so the zone is the first that makes the start midnight of:
    the record's own zone, the hints (the event's current zone, the
    mailbox's), and the fixed offset the start itself implies (08:00 UTC is
    midnight at UTC-8, CLDR's `Etc/GMT+8`, Windows "UTC-08").
    """
    names = []
    key = getattr(start.tzinfo, "key", None)
    if isinstance(key, str) and key in tz_win:
        names.append(tz_win[key])
    names.extend(hint for hint in hints if hint)
    offset = _nearest_midnight(start) - start.astimezone(dt.UTC)
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    if not rest and -12 <= hours <= 14:
        names.append(tz_win["Etc/GMT" if not hours else f"Etc/GMT{-hours:+d}"])
    zones = [(name, zone) for name in names if (zone := _zone(name)) is not None]
    for name, zone in zones:
        if start.astimezone(zone).time() == dt.time(0):
            return name, zone
    return zones[0] if zones else ("UTC", dt.UTC)


def _write_all_day(
    start: dt.datetime, end: dt.datetime, hints: tuple[str, ...]
) -> tuple[JSON, JSON]:
    """`start` and `end` of an all-day event: midnights of their days in one zone.

    A start that is not midnight in any zone crmsync can name is moved to
    the midnight that begins its day, and an end to the midnight that ends
    its day (at least one day after the start), so Graph takes the event. An
    end within two hours of a midnight is that midnight: a daylight-saving
    change between the two (in a zone known only by the start's offset)
    moves the end's midnight by an hour, not its day.
    """
    name, zone = _all_day_zone(start, hints)
    first = start.astimezone(zone).date()
    last_moment = end.astimezone(zone)
    nearest = _nearest_midnight(last_moment.replace(tzinfo=dt.UTC))
    if abs(nearest - last_moment.replace(tzinfo=dt.UTC)) <= dt.timedelta(hours=2):
        last = nearest.date()
    else:
        last = last_moment.date() + _DAY
    last = max(last, first + _DAY)
    return (
        {"dateTime": dt.datetime.combine(first, dt.time(0)).isoformat(), "timeZone": name},
        {"dateTime": dt.datetime.combine(last, dt.time(0)).isoformat(), "timeZone": name},
    )


def _in_own_zone(reader: Reader, moment: dt.datetime | None) -> dt.datetime | None:
    """An all-day event's time in the zone it was made in (Graph answers in UTC by default).

    Graph returns `start`/`end` in UTC unless asked otherwise, while an
    all-day event is midnight in `originalStartTimeZone`: the record keeps
    that zone, so writing it back names the same midnight.
    """
    zone = _zone(reader.text("originalStartTimeZone") or "UTC")
    if moment is None or zone is None:
        return moment
    local = moment.astimezone(zone)
    return local if local.time() == dt.time(0) else moment


def _body(reader: Reader) -> str:
    body = reader.child("body")
    if body is None:
        return ""
    content = body.text("content")
    kind = body.text("contentType").lower() or "text"
    if kind == "html":
        return html_to_text(content)
    if kind != "text":
        body.problem("contentType", f"unknown value {kind!r}; expected text or html")
    return normalize_text(content)


# ---------------------------------------------------------------------------
# HTML


_BLOCK_TAGS = (
    "address", "article", "blockquote", "div", "dd", "dl", "dt", "footer", "h1", "h2",
    "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table",
    "tr", "ul",
)  # fmt: skip
_BLOCK, _BREAK = "\x00", "\x01"
_SPACES = re.compile(r"[ \t\r\n\f]+")


def html_to_text(html: str) -> str:
    """The text a reader sees in an HTML body, one line per paragraph or break.

    Source line breaks and indentation are white space, as in a browser;
    `<p>`, `<div>`, list items and table rows start a line, `<br>` breaks
    one, and an empty paragraph (Outlook writes `<p>&nbsp;</p>`) is a blank
    line. `<head>`, `<style>` and `<script>` are not text. The result is
    normalized like any plain text, so the same words give the same value
    whether a side stores HTML or text.
    """
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["head", "style", "script", "title"]):
        tag.decompose()
    for tag in soup.find_all("br"):
        tag.replace_with(NavigableString(_BREAK))
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before(NavigableString(_BLOCK))
        tag.insert_after(NavigableString(_BLOCK))
    lines: list[str] = []
    for block in soup.get_text().split(_BLOCK):
        if not block.strip(" \t\r\n\f"):  # formatting between tags, not content
            continue
        lines.extend(_SPACES.sub(" ", line).strip(" ") for line in block.split(_BREAK))
    return normalize_text("\n".join(lines))


# ---------------------------------------------------------------------------
# contacts


def _address(reader: Reader | None) -> Address:
    if reader is None:
        return Address()
    return Address(
        street=normalize_text(reader.text("street")),
        city=reader.text("city").strip(),
        state=reader.text("state").strip(),
        postal_code=reader.text("postalCode").strip(),
        country=reader.text("countryOrRegion").strip(),
    )


def _write_address(address: Address) -> JSON:
    return {
        "street": address.street,
        "city": address.city,
        "state": address.state,
        "postalCode": address.postal_code,
        "countryOrRegion": address.country,
    }


def contact_from_graph(
    payload: Any,
    *,
    key: str | None = None,
    tracked: bool | None = None,
    mailing_address: AddressKind | None = None,
) -> OutlookContact:
    """An Outlook contact from a Graph `contact`.

    The first business and home phone numbers are read (crmsync holds one of
    each, as the CRM does). An address listed twice is read once. Without
    `givenName` and `surname` the names come from `displayName` ("Last,
    First", else the last word is the surname). Outlook's mailing-address choice is read from its
    MAPI property when the payload carries it, else from `mailing_address`,
    else business.

    Raises:
        InvalidInput: the payload is not a contact, each problem with its path.
    """
    reader = Reader(payload)
    props = _extended(reader)
    emails = [
        e.text("address").strip() for e in reader.objects("emailAddresses") if e.text("address")
    ]
    emails = list(unique_emails(emails))
    if len(emails) > 3:
        reader.problem("emailAddresses", f"holds {len(emails)} addresses; Outlook keeps three")
    choice = _MAILING.get(_extended_value(props, MAILING_ADDRESS_PROPERTY))
    first, last = reader.text("givenName").strip(), reader.text("surname").strip()
    if not first and not last:
        first, last = split_name(reader.text("displayName"))
    values: dict[str, Any] = {
        "key": _key(reader, props, key),
        "first_name": first,
        "last_name": last,
        "emails": tuple(emails),
        "business_phone": next(iter(reader.strings("businessPhones")), "").strip(),
        "home_phone": next(iter(reader.strings("homePhones")), "").strip(),
        "mobile_phone": reader.text("mobilePhone").strip(),
        "job_title": reader.text("jobTitle").strip(),
        "department": reader.text("department").strip(),
        "notes": normalize_text(reader.text("personalNotes")),
        "business_address": _address(reader.child("businessAddress")),
        "home_address": _address(reader.child("homeAddress")),
        "other_address": _address(reader.child("otherAddress")),
        "mailing_address": choice or mailing_address or AddressKind.BUSINESS,
        "tracked": _tracked(reader, tracked),
        "modified": reader.moment("lastModifiedDateTime"),
    }
    return build(reader, lambda: OutlookContact(**values))


_CONTACT_PROPS: dict[str, tuple[str, ...]] = {
    "first_name": ("givenName",),
    "last_name": ("surname",),
    "emails": ("emailAddresses",),
    "business_phone": ("businessPhones",),
    "home_phone": ("homePhones",),
    "mobile_phone": ("mobilePhone",),
    "job_title": ("jobTitle",),
    "department": ("department",),
    "notes": ("personalNotes",),
    "business_address": ("businessAddress",),
    "home_address": ("homeAddress",),
    "other_address": ("otherAddress",),
    "tracked": ("categories",),
}


def contact_to_graph(
    contact: OutlookContact, *, fields: Collection[str] | None = None, current: Any = None
) -> JSON:
    """The Graph request body for a contact (all of it, or only `fields`).

    `current`, the contact as Graph holds it now, keeps what crmsync does not
    model from being overwritten: the second and later business and home
    phone numbers, and categories other than the tracking one.
    """
    now = Reader(current if current is not None else {})
    kept_business = now.strings("businessPhones")[1:]
    kept_home = now.strings("homePhones")[1:]
    other_categories = [c for c in now.strings("categories") if c != TRACKED_CATEGORY]
    mailing = {kind: code for code, kind in _MAILING.items()}[contact.mailing_address]
    body: JSON = {
        "givenName": contact.first_name,
        "surname": contact.last_name,
        "emailAddresses": [{"address": e, "name": e} for e in contact.emails],
        "businessPhones": [p for p in [contact.business_phone] if p] + kept_business,
        "homePhones": [p for p in [contact.home_phone] if p] + kept_home,
        "mobilePhone": contact.mobile_phone,
        "jobTitle": contact.job_title,
        "department": contact.department,
        "personalNotes": contact.notes,
        "businessAddress": _write_address(contact.business_address),
        "homeAddress": _write_address(contact.home_address),
        "otherAddress": _write_address(contact.other_address),
        "categories": other_categories + ([TRACKED_CATEGORY] if contact.tracked else []),
    }
    extended = {
        "key": (CRMID_PROPERTY, contact.key),
        "mailing_address": (MAILING_ADDRESS_PROPERTY, mailing),
    }
    return restrict(body, fields, _CONTACT_PROPS, service="Graph", extended=extended)


# ---------------------------------------------------------------------------
# recurrence


def recurrence_from_graph(payload: Any, *, path: tuple[str | int, ...] = ()) -> Recurrence:
    """A recurrence from a Graph `patternedRecurrence` (`pattern` and `range`).

    Raises:
        InvalidInput: an unknown pattern or range type, a bad date, each with its path.
    """
    reader = Reader(payload, path)
    pattern = reader.child("pattern") or Reader({}, (*path, "pattern"), reader.problems)
    span = reader.child("range") or Reader({}, (*path, "range"), reader.problems)
    if not reader.has("pattern"):
        reader.problem("pattern", "is required")
    if not reader.has("range"):
        reader.problem("range", "is required")
    kind = pattern.choice("type", _PATTERN, RecurrencePattern.DAILY)
    days = []
    for i, day in enumerate(pattern.strings("daysOfWeek")):
        if day in _DAYS:
            days.append(_DAYS[day])
        else:
            pattern.problem(("daysOfWeek", i), f"unknown day {day!r}")
    range_type = span.text("type", required=True)
    if range_type and range_type not in _RANGE:
        span.problem("type", f"unknown value {range_type!r}; expected one of: {', '.join(_RANGE)}")
    day_of_month = pattern.integer("dayOfMonth") or None
    month = pattern.integer("month") or None
    relative = kind in (RecurrencePattern.RELATIVE_MONTHLY, RecurrencePattern.RELATIVE_YEARLY)
    weekly = kind is RecurrencePattern.WEEKLY
    values: dict[str, Any] = {
        "pattern": kind,
        "interval": pattern.integer("interval") or 1,
        "days_of_week": tuple(days),
        "day_of_month": day_of_month,
        "month": month,
        "index": pattern.choice("index", _INDEX, "first") if relative else None,
        "start_date": span.day("startDate", required=True),
        "end_date": span.day("endDate", required=True) if range_type == "endDate" else None,
        "occurrences": span.integer("numberOfOccurrences") if range_type == "numbered" else None,
    }
    if range_type == "numbered" and values["occurrences"] is None:
        span.problem("numberOfOccurrences", "is required for a numbered range")
    if not (relative or weekly):
        values["days_of_week"] = ()
    return build(reader, lambda: Recurrence(**values))


# The pattern properties each type takes, from Graph's recurrencePattern resource ("Values of
# type property", "Required properties"; `index` is "used if type is relativeMonthly or
# relativeYearly"): "Include only the properties that you need ... Any property that you
# include that does not have a supported value would result in an error."
_PATTERN_PROPERTIES: Mapping[RecurrencePattern, tuple[str, ...]] = {
    RecurrencePattern.DAILY: ("type", "interval"),
    RecurrencePattern.WEEKLY: ("type", "interval", "daysOfWeek", "firstDayOfWeek"),
    RecurrencePattern.ABSOLUTE_MONTHLY: ("type", "interval", "dayOfMonth"),
    RecurrencePattern.RELATIVE_MONTHLY: ("type", "interval", "daysOfWeek", "index"),
    RecurrencePattern.ABSOLUTE_YEARLY: ("type", "interval", "dayOfMonth", "month"),
    RecurrencePattern.RELATIVE_YEARLY: ("type", "interval", "daysOfWeek", "month", "index"),
}

# A weekly pattern's `firstDayOfWeek`: Graph's documented default; a record does not hold one.
_FIRST_DAY_OF_WEEK = "sunday"


def recurrence_to_graph(recurrence: Recurrence) -> JSON:
    """A Graph `patternedRecurrence` for a recurrence.

    The pattern holds exactly the properties its type takes
    (`_PATTERN_PROPERTIES`). One a record lacks is taken from the start date,
    as Outlook fills in a new series: its weekday, its day of the month, its
    month; a relative pattern's `index` defaults to `first` and a weekly
    one's `firstDayOfWeek` to `sunday`, Graph's own defaults.
    """
    start = recurrence.start_date
    values: JSON = {
        "type": _invert(_PATTERN)[recurrence.pattern],
        "interval": recurrence.interval,
        "daysOfWeek": list(recurrence.days_of_week) or [DAY_NAMES[start.isoweekday() % 7]],
        "firstDayOfWeek": _FIRST_DAY_OF_WEEK,
        "dayOfMonth": recurrence.day_of_month or start.day,
        "month": recurrence.month or start.month,
        "index": recurrence.index or "first",
    }
    pattern = {name: values[name] for name in _PATTERN_PROPERTIES[recurrence.pattern]}
    span: JSON = {"startDate": recurrence.start_date.isoformat()}
    if recurrence.end_date is not None:
        span |= {"type": "endDate", "endDate": recurrence.end_date.isoformat()}
    elif recurrence.occurrences is not None:
        span |= {"type": "numbered", "numberOfOccurrences": recurrence.occurrences}
    else:
        span["type"] = "noEnd"
    return {"pattern": pattern, "range": span}


# ---------------------------------------------------------------------------
# events and attachments

_FILE_ATTACHMENT = "microsoft.graph.fileattachment"


def attachment_from_graph(payload: Any) -> Attachment | None:
    """An attachment from a Graph `fileAttachment`; None for other kinds.

    An `itemAttachment` (an attached message or event) or a
    `referenceAttachment` (a link) holds no file the CRM could store, so it
    has no attachment record. `content_hash` is "sha256:" and the hex digest
    of the decoded `contentBytes`, and `size` their length (Graph's own
    `size` counts the item's MIME envelope too).

    Raises:
        InvalidInput: a file attachment without valid content or name.
    """
    reader = Reader(payload)
    kind = reader.text("@odata.type").lstrip("#").casefold()
    if kind and kind != _FILE_ATTACHMENT:
        return None
    name = reader.text("name", required=True)
    content = reader.base64("contentBytes")
    reader.moment("lastModifiedDateTime")
    return file_attachment(reader, name, content, reader.text("contentType"))


def event_from_graph(
    payload: Any, *, key: str | None = None, tracked: bool | None = None
) -> Appointment:
    """An Outlook appointment from a Graph `event`.

    A series master (`type` seriesMaster) carries its recurrence; an exception
    carries `seriesMasterId` as its `series_key`. Attachments come from an
    `attachments` list (`$expand=attachments`); only file attachments are
    records. Attendees of type resource (rooms, equipment) are not attendees
    in the CRM and are left out.

    Raises:
        InvalidInput: the payload is not an event (an unmodified occurrence
            of a series is not one: its series master is), each problem with
            its path.
    """
    reader = Reader(payload)
    props = _extended(reader)
    # A request body has no type: its recurrence says whether it is a series.
    kind = reader.text("type") or (
        "seriesMaster" if reader.raw("recurrence") is not None else "singleInstance"
    )
    if kind == "occurrence":
        reader.problem(
            "type",
            "an unmodified occurrence is not a record of its own; read its series master "
            "(list /events, not /calendarView)",
        )
    elif kind not in ("singleInstance", "seriesMaster", "exception"):
        reader.problem("type", f"unknown event type {kind!r}")
    recurrence = None
    if kind == "seriesMaster":
        rec = reader.raw("recurrence")
        if rec is None:
            reader.problem("recurrence", "a series master needs its recurrence")
        else:
            try:
                recurrence = recurrence_from_graph(rec, path=("recurrence",))
            except InvalidInput as exc:
                reader.problems.absorb(exc)
    series_key = reader.text("seriesMasterId", required=True) if kind == "exception" else ""
    attendees: dict[str, list[str]] = {"required": [], "optional": []}
    for person in reader.objects("attendees"):
        # Graph's own request examples write "Required": the type is read case-insensitively.
        role = (person.text("type") or "required").casefold()
        if role in attendees and _email(person):
            attendees[role].append(_email(person))
    attachments = []
    for i, item in enumerate(reader.objects("attachments")):
        try:
            found = attachment_from_graph(item.payload)
        except InvalidInput as exc:
            reader.problems.absorb(exc, "attachments", i)
            continue
        if found is not None:
            attachments.append(found)
    location = reader.child("location")
    object_type = _extended_value(props, OBJECT_TYPE_PROPERTY)
    values: dict[str, Any] = {
        "key": _key(reader, props, key),
        "subject": reader.text("subject").strip(),
        "body": _body(reader),
        "location": "" if location is None else location.text("displayName").strip(),
        "start": _moment_of(reader, "start", required=True),
        "end": _moment_of(reader, "end", required=True),
        "all_day": reader.flag("isAllDay"),
        "priority": reader.choice("importance", _PRIORITY, Priority.NORMAL),
        "show_as": reader.choice("showAs", _SHOW_AS, ShowAs.BUSY),
        "organizer": _email(reader.child("organizer")),
        "required": tuple(attendees["required"]),
        "optional": tuple(attendees["optional"]),
        "regarding": _extended_value(props, REGARDING_PROPERTY),
        "uid": reader.text("iCalUId"),
        "kind": ActivityKind.SERVICE_ACTIVITY
        if object_type == str(_SERVICE_ACTIVITY_TYPE)
        else ActivityKind.APPOINTMENT,
        "recurrence": recurrence,
        "series_key": series_key,
        "attachments": tuple(attachments),
        "state": ActivityState.CANCELED if reader.flag("isCancelled") else ActivityState.OPEN,
        "tracked": _tracked(reader, tracked),
        "modified": reader.moment("lastModifiedDateTime"),
    }
    if values["all_day"]:
        values["start"] = _in_own_zone(reader, values["start"])
        values["end"] = _in_own_zone(reader, values["end"])
    return build(reader, lambda: Appointment(**values))


_EVENT_PROPS: dict[str, tuple[str, ...]] = {
    "subject": ("subject",),
    "body": ("body",),
    "location": ("location",),
    "start": ("start",),
    "end": ("end",),
    "all_day": ("isAllDay",),
    "priority": ("importance",),
    "show_as": ("showAs",),
    "organizer": ("organizer",),
    "required": ("attendees",),
    "optional": ("attendees",),
    "recurrence": ("recurrence",),
    "tracked": ("categories",),
}


def event_to_graph(
    appointment: Appointment,
    *,
    fields: Collection[str] | None = None,
    current: Any = None,
    time_zone: str = "",
) -> JSON:
    """The Graph request body for an event (all of it, or only `fields`).

    Attachments are not part of an event body (each is its own `POST
    .../attachments`); `state` is not writable (cancelling is an action), nor
    is `uid` (Graph's `iCalUId` is read-only).
    `current` keeps categories other than the tracking one.

    An all-day event starts and ends at midnight in one zone, as Graph
    requires of `isAllDay`: the record's own zone, else `current`'s, else
    `time_zone` (the mailbox's, a Windows or IANA name), else the fixed
    offset at which its start is midnight. A change to any of its start, end
    or all-day flag writes all three, so Graph never sees `isAllDay` beside
    times it would refuse.
    """
    now = Reader(current if current is not None else {})
    if appointment.all_day and fields is not None and _TIME_FIELDS & set(fields):
        fields = {*fields, *_TIME_FIELDS}
    start, end = _write_when(appointment.start), _write_when(appointment.end)
    if appointment.all_day:
        held = now.child("start")
        hints = (now.text("originalStartTimeZone"), "" if held is None else held.text("timeZone"))
        start, end = _write_all_day(appointment.start, appointment.end, (*hints, time_zone))
    other_categories = [c for c in now.strings("categories") if c != TRACKED_CATEGORY]
    object_type = (
        _SERVICE_ACTIVITY_TYPE
        if appointment.kind is ActivityKind.SERVICE_ACTIVITY
        else _APPOINTMENT_TYPE
    )
    body: JSON = {
        "subject": appointment.subject,
        "body": {"contentType": "text", "content": appointment.body},
        "location": {"displayName": appointment.location},
        "start": start,
        "end": end,
        "isAllDay": appointment.all_day,
        "importance": appointment.priority.value,
        "showAs": _invert(_SHOW_AS)[appointment.show_as],
        "organizer": _recipient(appointment.organizer),
        "attendees": [
            {"type": role, **_recipient(address)}
            for role, people in (
                ("required", appointment.required),
                ("optional", appointment.optional),
            )
            for address in people
        ],
        "recurrence": None
        if appointment.recurrence is None
        else recurrence_to_graph(appointment.recurrence),
        "categories": other_categories + ([TRACKED_CATEGORY] if appointment.tracked else []),
    }
    if not appointment.organizer or fields is not None:
        # Graph's event update takes no organizer ("Update event": the properties an update
        # can write do not include it): a PATCH holding it would change nothing and read as
        # done. An organizer change is an update no property writes (see requests._cannot).
        del body["organizer"]
    extended = {
        "key": (CRMID_PROPERTY, appointment.key),
        "regarding": (REGARDING_PROPERTY, appointment.regarding),
        "kind": (OBJECT_TYPE_PROPERTY, str(object_type)),
    }
    return restrict(body, fields, _EVENT_PROPS, service="Graph", extended=extended)


# ---------------------------------------------------------------------------
# tasks


def task_from_graph(
    payload: Any,
    *,
    key: str | None = None,
    tracked: bool | None = None,
    previous: Mapping[str, Task] | None = None,
) -> Task:
    """A task from a To Do `todoTask` or an Outlook `outlookTask`.

    The two shapes differ in their title property (`title`, `subject`) and
    in assignment: only an `outlookTask` has `assignedTo` (a task assigned
    in Outlook; its `owner` is the assigner). Percent complete comes from its
    MAPI property when present. A To Do task cannot hold it: its percent is
    the previous record's of the same key (`previous`, the baseline's Outlook
    tasks by key) while its status stays on the same side of completed;
    completed is 100, and back from completed (or with no previous record)
    it is the previous percent below 100, else 0. So a percent To Do cannot
    hold is never read as a change.

    A To Do task cannot hold extended properties: its link to the CRM task is
    a `linkedResource` (`applicationName` "Dynamics 365", `externalId` the
    CRM key), and its regarding record another one named "Regarding" (read
    To Do tasks with `$expand=linkedResources`).

    Raises:
        InvalidInput: the payload is not a task, each problem with its path.
    """
    reader = Reader(payload)
    props = _extended(reader)
    links = _crm_links(reader)
    if key is None and not _extended_value(props, CRMID_PROPERTY) and TASK_LINK in links:
        key = links[TASK_LINK]
    task_key = _key(reader, props, key)
    subject = reader.text("title") if reader.has("title") else reader.text("subject")
    status = reader.choice("status", _TASK_STATUS, TaskStatus.NOT_STARTED)
    percent_text = _extended_value(props, PERCENT_PROPERTY)
    try:
        percent = round(float(percent_text) * 100) if percent_text else None
    except (ValueError, OverflowError):  # not a number, NaN or infinite
        reader.problem(
            "singleValueExtendedProperties", f"percent complete {percent_text!r} is not a number"
        )
        percent = None
    if percent is None:
        percent = _percent_held_elsewhere(status, (previous or {}).get(task_key))
    assigned_to = reader.text("assignedTo").strip()
    recurrence = None
    if reader.raw("recurrence") is not None:
        try:
            recurrence = recurrence_from_graph(reader.raw("recurrence"), path=("recurrence",))
        except InvalidInput as exc:
            reader.problems.absorb(exc)
    values: dict[str, Any] = {
        "key": task_key,
        "subject": subject.strip(),
        "notes": _body(reader),
        "start": _moment_of(reader, "startDateTime"),
        "due": _moment_of(reader, "dueDateTime"),
        "completed": _moment_of(reader, "completedDateTime"),
        "percent_complete": percent,
        "status": status,
        "priority": reader.choice("importance", _PRIORITY, Priority.NORMAL),
        "recurrence": recurrence,
        "assigned_by": reader.text("owner").strip() if assigned_to else "",
        "assigned_to": (assigned_to,) if assigned_to else (),
        "regarding": _extended_value(props, REGARDING_PROPERTY) or links.get(REGARDING_LINK, ""),
        "tracked": _tracked(reader, tracked),
        "modified": reader.moment("lastModifiedDateTime"),
    }
    return build(reader, lambda: Task(**values))


def _percent_held_elsewhere(status: TaskStatus, previous: Task | None) -> int:
    """The percent of a task that cannot hold one, from its status and previous record."""
    if status is TaskStatus.COMPLETED:
        return 100
    if previous is None or previous.percent_complete >= 100:
        return 0
    return previous.percent_complete


def _crm_links(reader: Reader) -> dict[str, str]:
    """The CRM's linked resources of a To Do task: {displayName: externalId}."""
    out: dict[str, str] = {}
    for link in reader.objects("linkedResources"):
        if link.text("applicationName").strip().casefold() != LINK_APPLICATION.casefold():
            continue
        name = link.text("displayName").strip()
        label = REGARDING_LINK if name.casefold() == REGARDING_LINK.casefold() else TASK_LINK
        external = link.text("externalId").strip()
        if external:
            out.setdefault(label, external)
    return out


def task_links(payload: Any) -> tuple[str, ...]:
    """The CRM keys every "Dynamics 365" task link of a To Do task names, in the payload's order.

    One is the rule; more come from another application, or from a relink
    made before crmsync replaced links (`crmsync.adapters.resolve_links`
    chooses between them).
    """
    reader = Reader(payload)
    found: list[str] = []
    for link in reader.objects("linkedResources"):
        if link.text("applicationName").strip().casefold() != LINK_APPLICATION.casefold():
            continue
        if link.text("displayName").strip().casefold() == REGARDING_LINK.casefold():
            continue
        external = link.text("externalId").strip()
        if external and external not in found:
            found.append(external)
    return tuple(found)


def todo_links(task: Task, *, web_url: str = "") -> list[JSON]:
    """The `linkedResources` that link a To Do task to its CRM task (and regarding record).

    Args:
        task: the task.
        web_url: the CRM task's address, when the application knows it.
    """
    link: JSON = {
        "applicationName": LINK_APPLICATION,
        "displayName": TASK_LINK,
        "externalId": task.key,
    }
    if web_url:
        link["webUrl"] = web_url
    out = [link]
    if task.regarding:
        out.append(
            {
                "applicationName": LINK_APPLICATION,
                "displayName": REGARDING_LINK,
                "externalId": task.regarding,
            }
        )
    return out


def task_to_graph(
    task: Task,
    *,
    shape: Literal["todo", "outlook"] = "todo",
    fields: Collection[str] | None = None,
    current: Any = None,
    web_url: str = "",
) -> JSON:
    """The request body for a To Do `todoTask` (default) or an `outlookTask`.

    Graph has no canceled status: a canceled task is written as deferred.
    Percent complete is written (as its MAPI property) to an `outlookTask`
    only; a To Do task cannot hold it. Assignment is not written: a task is
    assigned by sending it, not by a property. A `todoTask` has no
    `singleValueExtendedProperties`: its key and regarding record are
    `linkedResources` (see `todo_links`; `web_url` is the CRM task's address,
    when known), which Graph takes in a `POST` of the task; an update of
    them is a request of its own (`crmsync.adapters.requests`).
    """
    now = Reader(current if current is not None else {})
    other_categories = [c for c in now.strings("categories") if c != TRACKED_CATEGORY]
    statuses = _invert(_TASK_STATUS) | {TaskStatus.CANCELED: "deferred"}
    extended = {}
    if shape == "outlook":
        extended = {
            "key": (CRMID_PROPERTY, task.key),
            "regarding": (REGARDING_PROPERTY, task.regarding),
            "percent_complete": (PERCENT_PROPERTY, str(task.percent_complete / 100)),
        }
    body: JSON = {
        "title" if shape == "todo" else "subject": task.subject,
        "body": {"contentType": "text", "content": task.notes},
        "startDateTime": None if task.start is None else _write_when(task.start),
        "dueDateTime": None if task.due is None else _write_when(task.due),
        "completedDateTime": None if task.completed is None else _write_when(task.completed),
        "status": statuses[task.status],
        "importance": task.priority.value,
        "recurrence": None if task.recurrence is None else recurrence_to_graph(task.recurrence),
        "categories": other_categories + ([TRACKED_CATEGORY] if task.tracked else []),
    }
    if shape == "todo":
        body["linkedResources"] = todo_links(task, web_url=web_url)
    names = {
        "subject": ("title", "subject"),
        "notes": ("body",),
        "start": ("startDateTime",),
        "due": ("dueDateTime",),
        "completed": ("completedDateTime",),
        "status": ("status",),
        "priority": ("importance",),
        "recurrence": ("recurrence",),
        "tracked": ("categories",),
    }
    if shape == "todo":
        names["percent_complete"] = ()  # To Do cannot hold it: nothing to write
        names["key"] = names["regarding"] = ("linkedResources",)
    return restrict(body, fields, names, service="Graph", extended=extended)
