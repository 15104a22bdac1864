"""The fast path of `read_graph` and `read_dataverse`: one valid payload to one record, quickly.

The detailed readers (`graph.*_from_graph`, `dataverse.*_from_dataverse`)
walk a payload with a `Reader`: a Python call per property, a problem with
its path for anything wrong. Most payloads are valid, and for them that
detail only costs time. Each function here reads the common valid shape of
one payload kind into the very same record, and gives up on anything it is
not sure of by raising (`Fallback`, or whatever a lookup raises); the
caller then reads the payload the detailed way, which finds and reports
every problem exactly as before (`first_fast`). So this path decides how
fast a valid payload is read, never what is read or what is refused.

Rule 1: a function here accepts only what the detailed reader accepts, and
builds the same record from it (tests/test_adapters_fast.py checks both over
generated payloads, valid and broken). It reads every property the
detailed reader reads; it may refuse more (an all-day event's odd zone, an
attachment), never less.
Rule 2: checks are exact-type and conservative (`type(v) is str`, never
`isinstance`); the texts a payload gives are tested for lone surrogates in
one C-level pass per record.
Rule 3: records are built through their own constructors with the same
arguments, so a record's own validation runs on both paths alike (a record
that refuses its values falls back, and the detailed path reports it).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

# By module path, not `from crmsync.adapters import ...`: the package imports this module.
import crmsync.adapters.dataverse as dataverse  # noqa: PLR0402 - see above
import crmsync.adapters.graph as graph  # noqa: PLR0402 - see above
from crmsync._fastread import Fallback, _texts_clean
from crmsync.adapters._read import normalize_text, split_name, unique_emails
from crmsync.records import (
    MAX_INT,
    NO_ADDRESS,
    ActivityKind,
    ActivityState,
    Address,
    AddressKind,
    Appointment,
    Attachment,
    CrmContact,
    OutlookContact,
    Priority,
    ShowAs,
    Task,
    TaskStatus,
    has_lone_surrogate,
)

__all__ = [
    "Fallback",
    "contact_from_dataverse",
    "contact_from_graph",
    "dataverse_appointment",
    "event_from_graph",
    "first_fast",
    "task_from_dataverse",
    "task_from_graph",
    "task_links",
]

T = TypeVar("T")

enabled = True
"""False runs the detailed readers only (the tests compare both paths with it)."""


def first_fast(fast: Callable[[Any], T], detailed: Callable[[Any], T]) -> Callable[[Any], T]:
    """A reader that tries `fast` and, on any doubt it raises, reads with `detailed`."""

    def read(item: Any) -> T:
        if enabled:
            try:
                return fast(item)
            except Exception:  # noqa: S110 - any doubt: the detailed read decides and reports
                pass
        return detailed(item)

    return read


# ---------------------------------------------------------------------------
# values


_STR = {str}
_TEXTS = {str, type(None)}


def _text(value: Any) -> str:
    """A string property as `Reader.text` reads it (null is ""); anything else falls back."""
    if value is None:
        return ""
    if type(value) is not str:
        raise Fallback
    return value


def _required_text(value: Any) -> str:
    """A string property that must not be blank, as `Reader.text(required=True)` reads it."""
    if type(value) is not str or not value.strip():
        raise Fallback
    return value


def _strings(value: Any) -> list[str]:
    """A list of strings as `Reader.strings` reads it (null is empty)."""
    if value is None:
        return []
    # `{*map(type, value)} <= {str}` replaces a loop testing each item: one C pass.
    if type(value) is not list or not {*map(type, value)} <= _STR:
        raise Fallback
    return value


_PLAIN = re.compile("[\t\n\r]|  ")


def _normalized(text: str) -> str:
    """`normalize_text(text)`, without its work for one ASCII line of single spaces.

    For such a line, splitting at line breaks and collapsing runs of blanks
    change nothing, so the result is the line stripped.
    """
    if text.isascii() and _PLAIN.search(text) is None:
        return text.strip()
    return normalize_text(text)


@functools.lru_cache(maxsize=4096)
def _utc(text: str) -> dt.datetime:
    """A `...Z` date-time as `Reader.moment` reads it; anything but UTC falls back."""
    moment = dt.datetime.fromisoformat(text)  # ValueError: falls back
    if moment.tzinfo is not dt.UTC:  # an offset, or none: the detailed path decides
        raise Fallback
    return moment


def _moment(value: Any, texts: list[str]) -> dt.datetime | None:
    """An optional ISO 8601 date-time property (null or "" is None)."""
    if value is None or value == "":
        return None
    if type(value) is not str:
        raise Fallback
    texts.append(value)
    return _utc(value)


def _required_moment(value: Any, texts: list[str]) -> dt.datetime:
    texts.append(_required_text(value))
    return _utc(value)


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> dt.tzinfo:
    """`graph._zone`, remembered: a zone name Graph sends is looked up once."""
    zone = graph._zone(name)
    if zone is None:
        raise Fallback
    return zone


@functools.lru_cache(maxsize=4096)
def _when_of(local: str, zone_name: str) -> dt.datetime:
    """A Graph `dateTimeTimeZone` as `graph._when` reads it, remembered."""
    if not local.strip() or not zone_name.strip():
        raise Fallback
    if has_lone_surrogate(local) or has_lone_surrogate(zone_name):
        raise Fallback
    zone = _zone(zone_name)
    moment = dt.datetime.fromisoformat(local)  # ValueError: falls back
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone)
    return moment.astimezone(zone)  # OverflowError: falls back


def _when(value: Any) -> dt.datetime:
    """A required `dateTimeTimeZone` property."""
    if type(value) is not dict:
        raise Fallback
    return _when_of(value["dateTime"], value["timeZone"])  # KeyError, TypeError: fall back


def _optional_when(value: Any) -> dt.datetime | None:
    return None if value is None else _when(value)


def _flag(value: Any) -> bool:
    if value is None:
        return False
    if type(value) is not bool:
        raise Fallback
    return value


def _choice(table: Mapping[Any, T], value: Any, default: T) -> T:
    # KeyError, TypeError (an unhashable value): fall back, as `Reader.choice` reports them.
    return default if value is None else table[value]


def _integer(value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not -MAX_INT <= value <= MAX_INT:
        raise Fallback
    return value


def _clean(texts: list[str]) -> None:
    # One C-level surrogate test for all of a record's texts instead of one per property.
    if not _texts_clean(texts):
        raise Fallback


# ---------------------------------------------------------------------------
# Graph


def _objects(value: Any) -> list[dict[str, Any]]:
    """A JSON list of objects (none for null), or `Fallback` for anything else."""
    if value is None:
        return []
    if type(value) is not list or any(type(item) is not dict for item in value):
        raise Fallback
    return value


def _extended(value: Any, texts: list[str]) -> dict[str, str]:
    """`singleValueExtendedProperties` as {id casefolded: value}, as `graph._extended` reads it."""
    props: dict[str, str] = {}
    for item in _objects(value):
        name, found = _text(item.get("id")), _text(item.get("value"))
        texts += (name, found)
        props[name.casefold()] = found
    return props


_CRMID = graph.CRMID_PROPERTY.casefold()
_REGARDING = graph.REGARDING_PROPERTY.casefold()
_OBJECT_TYPE = graph.OBJECT_TYPE_PROPERTY.casefold()
_MAILING_PROPERTY = graph.MAILING_ADDRESS_PROPERTY.casefold()
_PERCENT = graph.PERCENT_PROPERTY.casefold()
_SERVICE_TYPE = str(graph._SERVICE_ACTIVITY_TYPE)


def _graph_key(item: Mapping[str, Any], props: Mapping[str, str], texts: list[str]) -> str:
    found = props.get(_CRMID, "")
    if found:
        return found
    key = _required_text(item.get("id"))
    texts.append(key)
    return key


def _email(value: Any, texts: list[str]) -> str:
    """The address of a Graph `recipient`, as `graph._email` reads it."""
    if value is None:
        return ""
    if type(value) is not dict:
        raise Fallback
    inner = value.get("emailAddress")
    if inner is None:
        return ""
    if type(inner) is not dict:
        raise Fallback
    address = _text(inner.get("address"))
    texts.append(address)
    return address.strip()


def _body(value: Any, texts: list[str]) -> str:
    if value is None:
        return ""
    if type(value) is not dict:
        raise Fallback
    content = _text(value.get("content"))
    kind = _text(value.get("contentType"))
    texts += (content, kind)
    kind = kind.lower() or "text"
    if kind == "html":
        return graph.html_to_text(content)
    if kind != "text":
        raise Fallback
    return _normalized(content)


def _graph_address(value: Any, texts: list[str]) -> Address:
    if value is None:
        return Address()
    if type(value) is not dict:
        raise Fallback
    street, city, state, postal, country = (
        _text(value.get(name))
        for name in ("street", "city", "state", "postalCode", "countryOrRegion")
    )
    if not (street or city or state or postal or country):
        return NO_ADDRESS  # the one empty address, as equal to a new one as a frozen value can be
    texts += (street, city, state, postal, country)
    return Address(
        street=_normalized(street),
        city=city.strip(),
        state=state.strip(),
        postal_code=postal.strip(),
        country=country.strip(),
    )


def _tracked(item: Mapping[str, Any], texts: list[str]) -> bool:
    categories = _strings(item.get("categories"))
    texts += categories
    return graph.TRACKED_CATEGORY in categories


def contact_from_graph(item: Any) -> OutlookContact:
    """`graph.contact_from_graph(item)` for a plainly valid contact; raises on any doubt."""
    if type(item) is not dict:
        raise Fallback
    get = item.get
    texts: list[str] = []
    props = _extended(get("singleValueExtendedProperties"), texts)
    emails: list[str] = []
    for entry in _objects(get("emailAddresses")):
        address = _text(entry.get("address"))
        if address:
            texts.append(address)
            emails.append(address.strip())
    unique = unique_emails(emails)
    if len(unique) > 3:
        raise Fallback
    first, last = _text(get("givenName")), _text(get("surname"))
    texts += (first, last)
    first, last = first.strip(), last.strip()
    if not first and not last:
        whole = _text(get("displayName"))
        texts.append(whole)
        first, last = split_name(whole)
    business = _strings(get("businessPhones"))
    home = _strings(get("homePhones"))
    texts += business
    texts += home
    mobile, job, department, notes = (
        _text(get(name)) for name in ("mobilePhone", "jobTitle", "department", "personalNotes")
    )
    texts += (mobile, job, department, notes)
    key = _graph_key(item, props, texts)
    choice = graph._MAILING.get(props.get(_MAILING_PROPERTY, ""))
    contact = OutlookContact(
        key=key,
        first_name=first,
        last_name=last,
        emails=unique,
        business_phone=business[0].strip() if business else "",
        home_phone=home[0].strip() if home else "",
        mobile_phone=mobile.strip(),
        job_title=job.strip(),
        department=department.strip(),
        notes=_normalized(notes),
        business_address=_graph_address(get("businessAddress"), texts),
        home_address=_graph_address(get("homeAddress"), texts),
        other_address=_graph_address(get("otherAddress"), texts),
        mailing_address=choice or AddressKind.BUSINESS,
        tracked=_tracked(item, texts),
        modified=_moment(get("lastModifiedDateTime"), texts),
    )
    _clean(texts)
    return contact


def _all_day_time(item: Mapping[str, Any], moment: dt.datetime, texts: list[str]) -> dt.datetime:
    """`graph._in_own_zone`: an all-day event's time in the zone it was made in."""
    name = _text(item.get("originalStartTimeZone"))
    texts.append(name)
    zone = graph._zone(name or "UTC")
    if zone is None:
        return moment
    local = moment.astimezone(zone)
    return local if local.time() == dt.time(0) else moment


def event_from_graph(item: Any) -> Appointment:
    """`graph.event_from_graph(item)` for a plainly valid event; raises on any doubt."""
    if type(item) is not dict:
        raise Fallback
    get = item.get
    texts: list[str] = []
    props = _extended(get("singleValueExtendedProperties"), texts)
    kind = _text(get("type"))
    texts.append(kind)
    recurrence = get("recurrence")
    kind = kind or ("seriesMaster" if recurrence is not None else "singleInstance")
    series_key = ""
    if kind == "singleInstance":
        recurrence = None
    elif kind == "seriesMaster" and recurrence is not None:
        recurrence = graph.recurrence_from_graph(recurrence, path=("recurrence",))
    elif kind == "exception":
        recurrence = None
        series_key = _required_text(get("seriesMasterId"))
        texts.append(series_key)
    else:
        raise Fallback
    required: list[str] = []
    optional: list[str] = []
    for person in _objects(get("attendees")):
        role = _text(person.get("type"))
        texts.append(role)
        role = (role or "required").casefold()
        address = _email(person, texts)
        if address:
            if role == "required":
                required.append(address)
            elif role == "optional":
                optional.append(address)
    attachments = get("attachments")
    if attachments is not None and (type(attachments) is not list or attachments):
        raise Fallback  # a file's bytes to digest: the detailed path reads them
    location = get("location")
    if location is None:
        place = ""
    elif type(location) is dict:
        place = _text(location.get("displayName"))
        texts.append(place)
    else:
        raise Fallback
    all_day = _flag(get("isAllDay"))
    start, end = _when(get("start")), _when(get("end"))
    if all_day:
        start, end = _all_day_time(item, start, texts), _all_day_time(item, end, texts)
    subject, uid = _text(get("subject")), _text(get("iCalUId"))
    texts += (subject, uid)
    appointment = Appointment(
        key=_graph_key(item, props, texts),
        subject=subject.strip(),
        body=_body(get("body"), texts),
        location=place.strip(),
        start=start,
        end=end,
        all_day=all_day,
        priority=_choice(graph._PRIORITY, get("importance"), Priority.NORMAL),
        show_as=_choice(graph._SHOW_AS, get("showAs"), ShowAs.BUSY),
        organizer=_email(get("organizer"), texts),
        required=tuple(required),
        optional=tuple(optional),
        regarding=props.get(_REGARDING, ""),
        uid=uid,
        kind=ActivityKind.SERVICE_ACTIVITY
        if props.get(_OBJECT_TYPE, "") == _SERVICE_TYPE
        else ActivityKind.APPOINTMENT,
        recurrence=recurrence,
        series_key=series_key,
        attachments=(),
        state=ActivityState.CANCELED if _flag(get("isCancelled")) else ActivityState.OPEN,
        tracked=_tracked(item, texts),
        modified=_moment(get("lastModifiedDateTime"), texts),
    )
    _clean(texts)
    return appointment


_LINK_APPLICATION = graph.LINK_APPLICATION.casefold()
_REGARDING_LINK = graph.REGARDING_LINK.casefold()


def _links(value: Any, texts: list[str]) -> tuple[dict[str, str], list[str]]:
    """`graph._crm_links` and `graph.task_links` of a task's `linkedResources`, in one pass."""
    out: dict[str, str] = {}
    tasks: list[str] = []
    for link in _objects(value):
        application = _text(link.get("applicationName"))
        texts.append(application)
        if application.strip().casefold() != _LINK_APPLICATION:
            continue
        name, external = _text(link.get("displayName")), _text(link.get("externalId"))
        texts += (name, external)
        regarding = name.strip().casefold() == _REGARDING_LINK
        external = external.strip()
        if external:
            out.setdefault(graph.REGARDING_LINK if regarding else graph.TASK_LINK, external)
            if not regarding and external not in tasks:
                tasks.append(external)
    return out, tasks


def task_links(item: Any) -> tuple[str, ...]:
    """`graph.task_links(item)` of a task the fast path read."""
    texts: list[str] = []
    found = _links(item.get("linkedResources"), texts)[1]
    _clean(texts)
    return tuple(found)


def task_from_graph(item: Any, previous: Mapping[str, Task]) -> Task:
    """`graph.task_from_graph(item, previous=previous)` for a plainly valid task."""
    if type(item) is not dict:
        raise Fallback
    get = item.get
    texts: list[str] = []
    props = _extended(get("singleValueExtendedProperties"), texts)
    links = _links(get("linkedResources"), texts)[0]
    if not props.get(_CRMID, "") and graph.TASK_LINK in links:
        key = links[graph.TASK_LINK]
    else:
        key = _graph_key(item, props, texts)
    subject = _text(get("title")) if "title" in item else _text(get("subject"))
    texts.append(subject)
    status = _choice(graph._TASK_STATUS, get("status"), TaskStatus.NOT_STARTED)
    percent_text = props.get(_PERCENT, "")
    if percent_text:
        percent = round(float(percent_text) * 100)  # ValueError, OverflowError: fall back
    else:
        percent = graph._percent_held_elsewhere(status, previous.get(key))
    assigned_to = _text(get("assignedTo"))
    texts.append(assigned_to)
    assigned_to = assigned_to.strip()
    assigned_by = ""
    if assigned_to:
        assigned_by = _text(get("owner"))
        texts.append(assigned_by)
        assigned_by = assigned_by.strip()
    recurrence = get("recurrence")
    if recurrence is not None:
        recurrence = graph.recurrence_from_graph(recurrence, path=("recurrence",))
    task = Task(
        key=key,
        subject=subject.strip(),
        notes=_body(get("body"), texts),
        start=_optional_when(get("startDateTime")),
        due=_optional_when(get("dueDateTime")),
        completed=_optional_when(get("completedDateTime")),
        percent_complete=percent,
        status=status,
        priority=_choice(graph._PRIORITY, get("importance"), Priority.NORMAL),
        recurrence=recurrence,
        assigned_by=assigned_by,
        assigned_to=(assigned_to,) if assigned_to else (),
        regarding=props.get(_REGARDING, "") or links.get(graph.REGARDING_LINK, ""),
        tracked=_tracked(item, texts),
        modified=_moment(get("lastModifiedDateTime"), texts),
    )
    _clean(texts)
    return task


# ---------------------------------------------------------------------------
# Dataverse

_CONTACT_COLUMNS = (
    "firstname", "lastname", "emailaddress1", "emailaddress2", "emailaddress3",
    "telephone1", "telephone2", "mobilephone", "jobtitle", "department", "description",
    "_ownerid_value",
)  # fmt: skip
_ADDRESS_COLUMNS = tuple(
    tuple(
        f"address{n}_{part}"
        for part in ("line1", "line2", "line3", "city", "stateorprovince", "postalcode", "country")
    )
    for n in (1, 2, 3)
)


def _texts_of(item: Mapping[str, Any], columns: tuple[str, ...]) -> list[str]:
    """The text columns of a row, null and absent as "", in one C-level pass each step."""
    # `map(item.get, ...)` and the type test replace a loop calling `_text` per column.
    values = list(map(item.get, columns))
    if not {*map(type, values)} <= _TEXTS:
        raise Fallback
    return [value or "" for value in values]


def _dataverse_address(item: Mapping[str, Any], columns: tuple[str, ...]) -> Address:
    parts = _texts_of(item, columns)
    if not any(parts):
        return NO_ADDRESS  # the one empty address, as equal to a new one as a frozen value can be
    line1, line2, line3, city, state, postal, country = map(str.strip, parts)
    return Address(
        street="\n".join(line for line in (line1, line2, line3) if line),
        city=city,
        state=state,
        postal_code=postal,
        country=country,
    )


def contact_from_dataverse(item: Any) -> CrmContact:
    """`dataverse.contact_from_dataverse(item)` for a plainly valid row; raises on any doubt."""
    if type(item) is not dict:
        raise Fallback
    texts = _texts_of(item, _CONTACT_COLUMNS)
    first, last, email1, email2, email3, phone1, phone2, mobile, job, department = map(
        str.strip, texts[:10]
    )
    notes, owner = texts[10], texts[11]
    key = _required_text(item.get("contactid"))
    texts.append(key)
    if not first and not last:
        whole = _text(item.get("fullname"))
        texts.append(whole)
        first, last = split_name(whole)
    addresses = [_dataverse_address(item, columns) for columns in _ADDRESS_COLUMNS]
    for address in addresses:
        if address is not NO_ADDRESS:
            texts += (address.street, address.city, address.state)
            texts += (address.postal_code, address.country)
    contact = CrmContact(
        key=key,
        first_name=first,
        last_name=last,
        emails=unique_emails([email1, email2, email3]),
        business_phone=phone1,
        home_phone=phone2,
        mobile_phone=mobile,
        job_title=job,
        department=department,
        notes=_normalized(notes),
        address1=addresses[0],
        address2=addresses[1],
        address3=addresses[2],
        owner=owner,
        modified=_moment(item.get("modifiedon"), texts),
    )
    _clean(texts)
    return contact


_APPOINTMENT_COLUMNS = (
    "subject", "description", "location", "_regardingobjectid_value", "globalobjectid",
    "_ownerid_value", "activitytypecode",
)  # fmt: skip
_PARTY_TABLES = tuple(
    f"{t}_activity_parties"
    for t in ("appointment", "recurringappointmentmaster", "serviceappointment")
)
_REQUIRED, _OPTIONAL, _ORGANIZER = dataverse._REQUIRED, dataverse._OPTIONAL, dataverse._ORGANIZER


def dataverse_appointment(item: Any, attachments: tuple[Attachment, ...]) -> Appointment:
    """`dataverse.appointment_from_dataverse(item, attachments=...)` for a plainly valid row."""
    if type(item) is not dict:
        raise Fallback
    get = item.get
    texts = _texts_of(item, _APPOINTMENT_COLUMNS)
    subject, description, location, regarding, uid, owner, activity_type = texts
    state = _choice(dataverse._APPOINTMENT_STATE, get("statecode"), ActivityState.OPEN)
    status = _integer(get("statuscode"))
    if status is not None and status not in dataverse._APPOINTMENT_STATUS:
        raise Fallback
    instance = _choice(
        dataverse._INSTANCE,
        get("instancetypecode"),
        "master" if "recurrencepatterntype" in item else "single",
    )
    recurrence = None
    series_key = ""
    start_column, end_column = "scheduledstart", "scheduledend"
    if instance == "master":
        if "recurrencepatterntype" not in item:
            raise Fallback
        recurrence = dataverse.recurrence_from_dataverse(item)
        if "starttime" in item or "endtime" in item:
            start_column, end_column = "starttime", "endtime"
    elif instance == "exception":
        series_key = _required_text(get("seriesid" if "seriesid" in item else "_seriesid_value"))
        texts.append(series_key)
    elif instance != "single":
        raise Fallback
    required: list[str] = []
    optional: list[str] = []
    organizers: list[str] = []
    roles = {_REQUIRED: required, _OPTIONAL: optional, _ORGANIZER: organizers}
    for table in _PARTY_TABLES:
        for party in _objects(get(table)):
            role = _integer(party.get("participationtypemask"))
            address = _text(party.get("addressused"))
            texts.append(address)
            address = address.strip()
            if role in roles and address:
                roles[role].append(address)
    key = _required_text(item.get("activityid"))
    texts.append(key)
    service = activity_type == "serviceappointment" or "_serviceid_value" in item
    appointment = Appointment(
        key=key,
        subject=subject.strip(),
        body=_normalized(description),
        location=location.strip(),
        start=_required_moment(get(start_column), texts),
        end=_required_moment(get(end_column), texts),
        all_day=_flag(get("isalldayevent")),
        priority=_choice(dataverse._PRIORITY, get("prioritycode"), Priority.NORMAL),
        show_as=dataverse._SHOW_AS.get(status or 5, ShowAs.BUSY),
        organizer=organizers[0] if organizers else "",
        required=tuple(required),
        optional=tuple(optional),
        regarding=regarding,
        uid=uid,
        kind=ActivityKind.SERVICE_ACTIVITY if service else ActivityKind.APPOINTMENT,
        recurrence=recurrence,
        series_key=series_key,
        attachments=attachments,
        state=state,
        owner=owner,
        modified=_moment(get("modifiedon"), texts),
    )
    _clean(texts)
    return appointment


_TASK_COLUMNS = ("subject", "description", "_regardingobjectid_value", "_ownerid_value")
_STATUS_OF_STATE = {"completed": TaskStatus.COMPLETED, "canceled": TaskStatus.CANCELED}


def task_from_dataverse(item: Any) -> Task:
    """`dataverse.task_from_dataverse(item)` for a plainly valid row; raises on any doubt."""
    if type(item) is not dict:
        raise Fallback
    get = item.get
    texts = _texts_of(item, _TASK_COLUMNS)
    subject, description, regarding, owner = texts
    state = _choice(dataverse._TASK_STATE, get("statecode"), "open")
    status = _choice(
        dataverse._TASK_STATUS,
        get("statuscode"),
        _STATUS_OF_STATE.get(state, TaskStatus.NOT_STARTED),
    )
    percent = _integer(get("percentcomplete"))
    key = _required_text(item.get("activityid"))
    texts.append(key)
    task = Task(
        key=key,
        subject=subject.strip(),
        notes=_normalized(description),
        start=_moment(get("scheduledstart"), texts),
        due=_moment(get("scheduledend"), texts),
        completed=_moment(get("actualend"), texts),
        percent_complete=percent if percent is not None else 0,
        status=status,
        priority=_choice(dataverse._PRIORITY, get("prioritycode"), Priority.NORMAL),
        regarding=regarding,
        owner=owner,
        modified=_moment(get("modifiedon"), texts),
    )
    _clean(texts)
    return task
