"""The records crmsync plans over: frozen, validated, hashable values.

Every record validates itself when it is constructed, so a record built by hand
and a record read by `crmsync.loads` are refused for the same reasons, with an
`InvalidInput` that names the record and every bad field.

`modified` is metadata: it never travels, it is never a change, and it takes no
part in equality (two records that differ only in `modified` are equal).
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

import attrs

from crmsync.errors import InvalidInput, PathPart, Problem, Problems, shown
from crmsync.settings import Settings

__all__ = [
    "ActivityKind",
    "ActivityState",
    "Address",
    "AddressKind",
    "Appointment",
    "Attachment",
    "Baseline",
    "CrmContact",
    "CrmSnapshot",
    "Domain",
    "OutlookContact",
    "OutlookSnapshot",
    "Priority",
    "Recurrence",
    "ShowAs",
    "Side",
    "Task",
    "TaskStatus",
]

MAX_EMAILS = 3

MAX_INT = 2**31 - 1
"""The largest whole number a record holds: Edm.Int32, what Graph and Dataverse write."""

_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(text: str) -> bool:
    """True when `text` holds a lone surrogate: no output path (UTF-8) can write it."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def utc_problem(moment: dt.datetime) -> str:
    """Why an aware datetime cannot be written in UTC (at the edge of the range), or ''."""
    try:
        moment.astimezone(dt.UTC)
    except OverflowError:
        return f"{moment.isoformat()} is out of range: it cannot be written in UTC"
    return ""


class Priority(StrEnum):
    """Importance of an appointment or a task (Outlook Importance, CRM prioritycode)."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class ShowAs(StrEnum):
    """Outlook's "Show time as" (Graph `showAs`)."""

    FREE = "free"
    TENTATIVE = "tentative"
    BUSY = "busy"
    OOF = "oof"
    WORKING_ELSEWHERE = "working_elsewhere"
    UNKNOWN = "unknown"


class ActivityState(StrEnum):
    """The CRM state of an activity (Dataverse `statecode`)."""

    OPEN = "open"
    COMPLETED = "completed"
    CANCELED = "canceled"
    SCHEDULED = "scheduled"


class ActivityKind(StrEnum):
    """What kind of CRM activity an appointment is."""

    APPOINTMENT = "appointment"
    SERVICE_ACTIVITY = "service_activity"


class TaskStatus(StrEnum):
    """A task's status, in Outlook's vocabulary."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    WAITING_ON_OTHERS = "waiting_on_others"
    DEFERRED = "deferred"
    COMPLETED = "completed"
    CANCELED = "canceled"


class Side(StrEnum):
    """The two sides of a sync."""

    CRM = "crm"
    OUTLOOK = "outlook"

    @property
    def other(self) -> Side:
        """The opposite side."""
        return Side.OUTLOOK if self is Side.CRM else Side.CRM


class Domain(StrEnum):
    """What a record, an op or a notice is about."""

    CONTACT = "contact"
    APPOINTMENT = "appointment"
    ATTACHMENT = "attachment"
    TASK = "task"


class AddressKind(StrEnum):
    """The three addresses of an Outlook contact."""

    BUSINESS = "business"
    HOME = "home"
    OTHER = "other"


E = TypeVar("E", bound=StrEnum)


def _member(enum: type[E], value: E | str) -> E:
    """An enum member from a member or its plain value; a bad value is left for validation."""
    if isinstance(value, enum) or not isinstance(value, str):
        return value  # a non-string (even an unhashable one) is reported by _Checks.enum
    try:
        return enum(value)
    except ValueError:
        return value  # type: ignore[return-value]  # reported by _Checks.enum


def _priority(value: Priority | str) -> Priority:
    return _member(Priority, value)


def _show_as(value: ShowAs | str) -> ShowAs:
    return _member(ShowAs, value)


def _activity_kind(value: ActivityKind | str) -> ActivityKind:
    return _member(ActivityKind, value)


def _activity_state(value: ActivityState | str) -> ActivityState:
    return _member(ActivityState, value)


def _task_status(value: TaskStatus | str) -> TaskStatus:
    return _member(TaskStatus, value)


def _address_kind(value: AddressKind | str) -> AddressKind:
    return _member(AddressKind, value)


def _recurrence_pattern(value: RecurrencePattern | str) -> RecurrencePattern:
    return _member(RecurrencePattern, value)


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    if type(value) is tuple:
        return value
    # A str is iterable too; keep it whole so validation can report it.
    if isinstance(value, str | bytes):
        return value  # type: ignore[return-value]  # reported by _Checks
    return tuple(value)


class _Checks:
    """Collects every problem of one record before raising."""

    def __init__(self, record: object) -> None:
        self.record = record
        self.problems = Problems()

    def add(self, path: PathPart | tuple[PathPart, ...], message: str) -> None:
        parts = path if isinstance(path, tuple) else (path,)
        self.problems.append(Problem(parts, message))

    def text(self, *names: str) -> None:
        for name in names:
            value = getattr(self.record, name)
            if not isinstance(value, str):
                self.add(name, f"expected str, got {type(value).__name__}")
            elif has_lone_surrogate(value):
                self.add(name, "is not valid Unicode (it holds a lone surrogate)")

    def key(self) -> None:
        value = getattr(self.record, "key")  # noqa: B009 - every caller has a key
        if not isinstance(value, str):
            self.add("key", f"expected str, got {type(value).__name__}")
        elif not value.strip():
            self.add("key", "must not be empty")
        elif has_lone_surrogate(value):
            self.add("key", "is not valid Unicode (it holds a lone surrogate)")

    def flag(self, *names: str) -> None:
        for name in names:
            if not isinstance(getattr(self.record, name), bool):
                self.add(name, "expected true or false")

    def enum(self, name: str, enum: type[StrEnum]) -> None:
        value = getattr(self.record, name)
        if not isinstance(value, enum):
            allowed = ", ".join(m.value for m in enum)
            self.add(name, f"unknown value {shown(value)}; expected one of: {allowed}")

    def moment(self, name: str, *, optional: bool = False) -> None:
        value = getattr(self.record, name)
        if value is None and optional:
            return
        if not isinstance(value, dt.datetime):
            self.add(name, f"expected a datetime, got {type(value).__name__}")
        elif value.tzinfo is None or value.utcoffset() is None:
            self.add(name, "datetime must be timezone-aware (it has no UTC offset)")
        elif problem := utc_problem(value):
            self.add(name, problem)

    def strings(self, name: str) -> None:
        value = getattr(self.record, name)
        if not isinstance(value, tuple):
            self.add(name, f"expected a list of str, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.add((name, i), f"expected str, got {type(item).__name__}")
            elif not item.strip():
                self.add((name, i), "must not be empty")
            elif has_lone_surrogate(item):
                self.add((name, i), "is not valid Unicode (it holds a lone surrogate)")

    def nested(self, name: str, cls: type, *, optional: bool = False) -> None:
        value = getattr(self.record, name)
        if value is None and optional:
            return
        if not isinstance(value, cls):
            self.add(name, f"expected {cls.__name__}, got {type(value).__name__}")

    def integer(self, name: str, *, low: int | None = None, high: int = MAX_INT) -> bool:
        value = getattr(self.record, name)
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(name, f"expected an integer, got {type(value).__name__}")
            return False
        if low is not None and value < low:
            self.add(name, f"must be at least {low} (got {shown(value)})")
            return False
        if value > high:
            self.add(name, f"must be at most {high:,} (got {shown(value)})")
            return False
        return True

    def done(self) -> None:
        if self.problems:
            cls = type(self.record).__name__
            key = getattr(self.record, "key", None)
            root = f"{cls}(key={key!r})" if isinstance(key, str) else cls
            raise InvalidInput(self.problems, root=root)


class _Screen:
    """A quick proof that a record is valid, in a few C-level steps.

    Validating a record field by field costs a Python call per field, and the
    planner builds a validated record for every one it changes. Most records
    are plainly valid (strings, UTC datetimes, enum members), which a screen
    shows with one `join` and a few tuple comparisons. When the screen cannot
    show it, the record's full checks run and name every problem, so the
    screen only decides how fast a valid record is accepted, never whether a
    record is accepted: it must pass nothing the full checks would refuse
    (tests/test_records.py checks that over arbitrary field values).

    Args:
        texts: the str fields, `key` first when the record has one.
        lists: the tuple-of-str fields (items non-empty).
        typed: fields that must hold exactly these types (`None` included).
        moments: datetime fields; `None` is allowed when optional.
        extra: a last check of what the above cannot say (ranges, order).
    """

    def __init__(
        self,
        *,
        texts: tuple[str, ...],
        keyed: bool = True,
        lists: tuple[str, ...] = (),
        typed: Mapping[str, type] = MappingProxyType({}),
        moments: tuple[str, ...] = (),
        optional_moments: tuple[str, ...] = (),
        extra: Callable[[Any], bool] | None = None,
    ) -> None:
        self._texts = operator.attrgetter(*texts)
        self._keyed = keyed
        self._lists = [operator.attrgetter(name) for name in lists]
        self._typed = operator.attrgetter(*typed) if typed else None
        self._types = tuple(typed.values())
        self._moments = [operator.attrgetter(name) for name in moments]
        self._optional = [operator.attrgetter(name) for name in optional_moments]
        self._extra = extra

    def passes(self, record: Any) -> bool:
        """True when `record` is certainly valid; False when the full checks must say."""
        texts = self._texts(record)
        try:
            joined = "".join(texts)
            for get in self._lists:
                items = get(record)
                if type(items) is not tuple or not all(map(str.strip, items)):
                    return False
                joined += "".join(items)
        except TypeError:
            return False  # a value that is not a str
        if not joined.isascii() and _SURROGATE.search(joined):
            return False
        if self._keyed and not texts[0].strip():
            return False
        if self._typed is not None:
            found = self._typed(record)
            if type(found) is not tuple:
                found = (found,)
            if tuple(map(type, found)) != self._types:
                return False
        for get in self._moments:
            moment = get(record)
            if type(moment) is not dt.datetime or moment.tzinfo is not dt.UTC:
                return False
        for get in self._optional:
            moment = get(record)
            if moment is not None and (
                type(moment) is not dt.datetime or moment.tzinfo is not dt.UTC
            ):
                return False
        return self._extra is None or self._extra(record)


_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


_ADDRESS_SCREEN = _Screen(
    texts=("street", "city", "state", "postal_code", "country"),
    keyed=False,
    extra=lambda address: address.street.count("\n") <= 2,
)


@attrs.frozen(kw_only=True)
class Address:
    r"""A postal address.

    `street` holds up to three lines joined by "\\n" (CRM line1–3, Graph
    `street`). Two addresses are the same for sync purposes when `same_as`
    says so: after stripping, collapsing white space and casefolding.

    Attributes:
        street: up to three lines, joined by "\\n".
        city: the city.
        state: the state or province.
        postal_code: the postal code.
        country: the country or region.
    """

    street: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""

    def __attrs_post_init__(self) -> None:
        if not _ADDRESS_SCREEN.passes(self):
            self._check()

    def _check(self) -> None:
        """Every check of the record; raises `InvalidInput` naming each problem."""
        checks = _Checks(self)
        checks.text("street", "city", "state", "postal_code", "country")
        if isinstance(self.street, str) and self.street.count("\n") > 2:
            checks.add("street", "holds more than three lines")
        checks.done()

    @property
    def normalized(self) -> tuple[str, ...]:
        """The address as sync compares it (lines, white space and case folded)."""
        lines = tuple(_norm(line) for line in self.street.split("\n"))
        return (
            *lines,
            _norm(self.city),
            _norm(self.state),
            _norm(self.postal_code),
            _norm(self.country),
        )

    @property
    def is_empty(self) -> bool:
        """True when every part is blank: "no address"."""
        return not any(self.normalized)

    def same_as(self, other: Address) -> bool:
        """Equality for sync purposes."""
        return self.normalized == other.normalized

    def one_line(self) -> str:
        """The address on one line, for messages."""
        parts = [*self.street.split("\n"), self.city, self.state, self.postal_code, self.country]
        return ", ".join(p.strip() for p in parts if p.strip()) or "(empty)"


NO_ADDRESS = Address()

_CONTACT_TEXTS = (
    "key",
    "first_name",
    "last_name",
    "business_phone",
    "home_phone",
    "mobile_phone",
    "job_title",
    "department",
    "notes",
)


def _few_emails(record: Any) -> bool:
    return len(record.emails) <= MAX_EMAILS


def _contact_checks(checks: _Checks, record: CrmContact | OutlookContact) -> None:
    checks.key()
    checks.text(
        "first_name",
        "last_name",
        "business_phone",
        "home_phone",
        "mobile_phone",
        "job_title",
        "department",
        "notes",
    )
    checks.strings("emails")
    if isinstance(record.emails, tuple) and len(record.emails) > MAX_EMAILS:
        checks.add("emails", f"more than three e-mail addresses ({len(record.emails)})")
    checks.moment("modified", optional=True)


@attrs.frozen(kw_only=True)
class CrmContact:
    """A Dynamics 365 contact, as far as synchronization is concerned.

    Attributes:
        key: the record's key, shared by both sides of a linked pair.
        first_name: the given name.
        last_name: the surname.
        emails: up to three e-mail addresses; the first is the natural key
            that matches a contact new on both sides.
        business_phone: the business telephone.
        home_phone: the home telephone.
        mobile_phone: the mobile telephone.
        job_title: the job title.
        department: the department.
        notes: free text (CRM description, Outlook notes).
        address1: address 1 (under `MAILING_ONLY`, the one that syncs with
            Outlook's mailing address).
        address2: address 2 (Outlook's home address under `ALL_THREE`).
        address3: address 3 (Outlook's other address under `ALL_THREE`).
        owner: the owning user's e-mail address.
        modified: when the record last changed; metadata, never a change.
    """

    key: str
    first_name: str = ""
    last_name: str = ""
    emails: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    business_phone: str = ""
    home_phone: str = ""
    mobile_phone: str = ""
    job_title: str = ""
    department: str = ""
    notes: str = ""
    address1: Address = NO_ADDRESS
    address2: Address = NO_ADDRESS
    address3: Address = NO_ADDRESS
    owner: str = ""
    modified: dt.datetime | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if not _CRM_CONTACT_SCREEN.passes(self):
            self._check()

    def _check(self) -> None:
        """Every check of the record; raises `InvalidInput` naming each problem."""
        checks = _Checks(self)
        _contact_checks(checks, self)
        checks.text("owner")
        for name in ("address1", "address2", "address3"):
            checks.nested(name, Address)
        checks.done()


@attrs.frozen(kw_only=True)
class OutlookContact:
    """An Outlook/Exchange contact.

    `mailing_address` is Outlook's "This is the mailing address" choice (EWS
    PostalAddressIndex). Only `tracked` contacts sync to the CRM.

    Attributes:
        key: the record's key, shared by both sides of a linked pair.
        first_name: the given name.
        last_name: the surname.
        emails: up to three e-mail addresses; the first is the natural key
            that matches a contact new on both sides.
        business_phone: the business telephone.
        home_phone: the home telephone.
        mobile_phone: the mobile telephone.
        job_title: the job title.
        department: the department.
        notes: free text (CRM description, Outlook notes).
        business_address: the business address.
        home_address: the home address.
        other_address: the other address.
        mailing_address: which of the three is the mailing address.
        tracked: whether the contact is tracked in the CRM (only tracked
            contacts sync).
        modified: when the record last changed; metadata, never a change.
    """

    key: str
    first_name: str = ""
    last_name: str = ""
    emails: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    business_phone: str = ""
    home_phone: str = ""
    mobile_phone: str = ""
    job_title: str = ""
    department: str = ""
    notes: str = ""
    business_address: Address = NO_ADDRESS
    home_address: Address = NO_ADDRESS
    other_address: Address = NO_ADDRESS
    mailing_address: AddressKind = attrs.field(
        default=AddressKind.BUSINESS, converter=_address_kind
    )
    tracked: bool = True
    modified: dt.datetime | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if not _OUTLOOK_CONTACT_SCREEN.passes(self):
            self._check()

    def _check(self) -> None:
        """Every check of the record; raises `InvalidInput` naming each problem."""
        checks = _Checks(self)
        _contact_checks(checks, self)
        for name in ("business_address", "home_address", "other_address"):
            checks.nested(name, Address)
        checks.enum("mailing_address", AddressKind)
        checks.flag("tracked")
        checks.done()

    def address(self, kind: AddressKind) -> Address:
        """The address of the given kind."""
        return getattr(self, OUTLOOK_ADDRESS_FIELDS[kind])  # type: ignore[no-any-return]


_CRM_CONTACT_SCREEN = _Screen(
    texts=(*_CONTACT_TEXTS, "owner"),
    lists=("emails",),
    typed={"address1": Address, "address2": Address, "address3": Address},
    optional_moments=("modified",),
    extra=_few_emails,
)
_OUTLOOK_CONTACT_SCREEN = _Screen(
    texts=_CONTACT_TEXTS,
    lists=("emails",),
    typed={
        "business_address": Address,
        "home_address": Address,
        "other_address": Address,
        "mailing_address": AddressKind,
        "tracked": bool,
    },
    optional_moments=("modified",),
    extra=_few_emails,
)

OUTLOOK_ADDRESS_FIELDS: dict[AddressKind, str] = {
    AddressKind.BUSINESS: "business_address",
    AddressKind.HOME: "home_address",
    AddressKind.OTHER: "other_address",
}


@attrs.frozen(kw_only=True)
class Attachment:
    """A file attached to an appointment; the library never holds its bytes.

    Its identity across sides is `(content_hash, name)`.

    Attributes:
        name: the file name.
        size: the size in bytes (compared with `max_attachment_bytes`).
        content_hash: a digest of the content, such as `"sha256:..."`.
        mime_type: the content type.
    """

    name: str
    size: int
    content_hash: str
    mime_type: str = "application/octet-stream"

    def __attrs_post_init__(self) -> None:
        checks = _Checks(self)
        checks.text("name", "content_hash", "mime_type")
        if isinstance(self.name, str) and not self.name.strip():
            checks.add("name", "must not be empty")
        if isinstance(self.content_hash, str) and not self.content_hash.strip():
            checks.add("content_hash", "must not be empty")
        checks.integer("size", low=0)
        checks.done()

    @property
    def identity(self) -> tuple[str, str]:
        """`(content_hash, name)`: the same file on both sides."""
        return (self.content_hash, self.name)


class RecurrencePattern(StrEnum):
    """Recurrence patterns, in the Microsoft Graph vocabulary."""

    DAILY = "daily"
    WEEKLY = "weekly"
    ABSOLUTE_MONTHLY = "absolute_monthly"
    RELATIVE_MONTHLY = "relative_monthly"
    ABSOLUTE_YEARLY = "absolute_yearly"
    RELATIVE_YEARLY = "relative_yearly"


DAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
WEEK_INDEXES = ("first", "second", "third", "fourth", "last")


@attrs.frozen(kw_only=True)
class Recurrence:
    """A recurrence pattern and range (Graph `patternedRecurrence`).

    `days_of_week` are lower-case day names; `index` is first, second, third,
    fourth or last (relative patterns); `start_date`/`end_date` are dates.

    Attributes:
        pattern: daily, weekly, absolute_monthly, relative_monthly,
            absolute_yearly or relative_yearly.
        start_date: the first day of the range.
        interval: every how many days, weeks, months or years.
        days_of_week: the days it falls on (weekly and relative patterns).
        day_of_month: the day of the month (absolute patterns).
        month: the month, 1 to 12 (yearly patterns).
        index: which week of the month (relative patterns).
        end_date: the last day of the range, or None.
        occurrences: how many times it occurs, or None.
    """

    pattern: RecurrencePattern = attrs.field(converter=_recurrence_pattern)
    start_date: dt.date
    interval: int = 1
    days_of_week: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    day_of_month: int | None = None
    month: int | None = None
    index: str | None = None
    end_date: dt.date | None = None
    occurrences: int | None = None

    def __attrs_post_init__(self) -> None:
        checks = _Checks(self)
        checks.enum("pattern", RecurrencePattern)
        checks.integer("interval", low=1)
        checks.strings("days_of_week")
        if isinstance(self.days_of_week, tuple):
            for i, day in enumerate(self.days_of_week):
                if isinstance(day, str) and day not in DAY_NAMES:
                    checks.add(("days_of_week", i), f"unknown day {shown(day)}")
        if self.day_of_month is not None:
            checks.integer("day_of_month", low=1, high=31)
        if self.month is not None:
            checks.integer("month", low=1, high=12)
        if self.index is not None and self.index not in WEEK_INDEXES:
            checks.add(
                "index", f"unknown value {shown(self.index)}; expected {', '.join(WEEK_INDEXES)}"
            )
        if self.occurrences is not None:
            checks.integer("occurrences", low=1)
        start_ok = isinstance(self.start_date, dt.date) and not isinstance(
            self.start_date, dt.datetime
        )
        if not start_ok:
            checks.add("start_date", "expected a date")
        if self.end_date is not None:
            if not isinstance(self.end_date, dt.date) or isinstance(self.end_date, dt.datetime):
                checks.add("end_date", "expected a date")
            elif start_ok and self.end_date < self.start_date:
                checks.add("end_date", "is before start_date")
        checks.done()


@attrs.frozen(kw_only=True)
class Appointment:
    """An appointment (or a CRM service activity) on either side.

    `recurrence` set means a series master; `series_key` set means a modified
    occurrence (an exception) of that series. `uid` is the iCalendar UID, used
    to match records that are new on both sides, never to link them otherwise.

    Attributes:
        key: the record's key, shared by both sides of a linked pair.
        start: when it starts (timezone-aware).
        end: when it ends (timezone-aware, not before `start`).
        subject: the subject.
        body: the description, as text.
        location: the location.
        all_day: whether it is an all-day event.
        priority: low, normal or high.
        show_as: free, tentative, busy, oof, working_elsewhere or unknown.
        organizer: the organizer's e-mail address.
        required: the required attendees' e-mail addresses.
        optional: the optional attendees' e-mail addresses.
        regarding: the CRM record it is regarding.
        uid: the iCalendar UID (Dataverse `globalobjectid`, Graph `iCalUId`).
        kind: appointment or service_activity.
        recurrence: the series' pattern, for a series master.
        series_key: the master's key, for a modified occurrence.
        attachments: the attached files (each travels as its own op).
        state: open, completed, canceled or scheduled.
        owner: the owning user's e-mail address.
        tracked: whether an Outlook item is tracked in the CRM.
        modified: when the record last changed; metadata, never a change.
    """

    key: str
    start: dt.datetime
    end: dt.datetime
    subject: str = ""
    body: str = ""
    location: str = ""
    all_day: bool = False
    priority: Priority = attrs.field(default=Priority.NORMAL, converter=_priority)
    show_as: ShowAs = attrs.field(default=ShowAs.BUSY, converter=_show_as)
    organizer: str = ""
    required: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    optional: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    regarding: str = ""
    uid: str = ""
    kind: ActivityKind = attrs.field(default=ActivityKind.APPOINTMENT, converter=_activity_kind)
    recurrence: Recurrence | None = None
    series_key: str = ""
    attachments: tuple[Attachment, ...] = attrs.field(default=(), converter=_tuple)
    state: ActivityState = attrs.field(default=ActivityState.OPEN, converter=_activity_state)
    owner: str = ""
    tracked: bool = True
    modified: dt.datetime | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if not _APPOINTMENT_SCREEN.passes(self):
            self._check()

    def _check(self) -> None:
        """Every check of the record; raises `InvalidInput` naming each problem."""
        checks = _Checks(self)
        checks.key()
        checks.text(
            "subject", "body", "location", "organizer", "regarding", "uid", "series_key", "owner"
        )
        checks.moment("start")
        checks.moment("end")
        if not checks.problems and self.end < self.start:
            checks.add("end", "is before start")
        checks.flag("all_day", "tracked")
        checks.enum("priority", Priority)
        checks.enum("show_as", ShowAs)
        checks.enum("kind", ActivityKind)
        checks.enum("state", ActivityState)
        checks.strings("required")
        checks.strings("optional")
        checks.nested("recurrence", Recurrence, optional=True)
        if self.recurrence is not None and self.series_key:
            checks.add("series_key", "a series master cannot also be an occurrence of a series")
        if isinstance(self.attachments, tuple):
            seen: set[tuple[str, str]] = set()
            for i, item in enumerate(self.attachments):
                if not isinstance(item, Attachment):
                    checks.add(("attachments", i), "expected Attachment")
                elif item.identity in seen:
                    checks.add(("attachments", i), f"duplicate attachment {item.name!r}")
                else:
                    seen.add(item.identity)
        else:
            checks.add("attachments", "expected a list of Attachment")
        checks.moment("modified", optional=True)
        checks.done()

    @property
    def is_recurring(self) -> bool:
        """True for a series master and for an exception of a series."""
        return self.recurrence is not None or bool(self.series_key)


def _appointment_extra(record: Appointment) -> bool:
    attachments = record.attachments
    if type(attachments) is not tuple or record.end < record.start:
        return False
    if not attachments:
        return True
    if not all(type(a) is Attachment for a in attachments):
        return False
    return len({a.identity for a in attachments}) == len(attachments)


_APPOINTMENT_SCREEN = _Screen(
    texts=(
        "key",
        "subject",
        "body",
        "location",
        "organizer",
        "regarding",
        "uid",
        "series_key",
        "owner",
    ),
    lists=("required", "optional"),
    typed={
        "all_day": bool,
        "priority": Priority,
        "show_as": ShowAs,
        "kind": ActivityKind,
        "recurrence": type(None),
        "state": ActivityState,
        "tracked": bool,
    },
    moments=("start", "end"),
    optional_moments=("modified",),
    extra=_appointment_extra,
)


@attrs.frozen(kw_only=True)
class Task:
    """A task on either side.

    `assigned_to` non-empty means the task was assigned in Outlook ("Assign
    Task"); `assigned_by` is then the assigner's e-mail address.

    Attributes:
        key: the record's key, shared by both sides of a linked pair.
        subject: the subject.
        notes: the description, as text.
        start: the start date (timezone-aware), or None.
        due: the due date, or None (then the start date stands in for it).
        completed: when it was completed, or None.
        percent_complete: 0 to 100.
        status: not_started, in_progress, waiting_on_others, deferred,
            completed or canceled.
        priority: low, normal or high.
        recurrence: a recurrence (recurring tasks never sync), or None.
        assigned_by: the assigner's e-mail address (tasks assigned in Outlook).
        assigned_to: the assignees' e-mail addresses.
        regarding: the CRM record it is regarding.
        owner: the owning user's e-mail address.
        tracked: whether an Outlook item is tracked in the CRM.
        modified: when the record last changed; metadata, never a change.
    """

    key: str
    subject: str = ""
    notes: str = ""
    start: dt.datetime | None = None
    due: dt.datetime | None = None
    completed: dt.datetime | None = None
    percent_complete: int = 0
    status: TaskStatus = attrs.field(default=TaskStatus.NOT_STARTED, converter=_task_status)
    priority: Priority = attrs.field(default=Priority.NORMAL, converter=_priority)
    recurrence: Recurrence | None = None
    assigned_by: str = ""
    assigned_to: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    regarding: str = ""
    owner: str = ""
    tracked: bool = True
    modified: dt.datetime | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if not _TASK_SCREEN.passes(self):
            self._check()

    def _check(self) -> None:
        """Every check of the record; raises `InvalidInput` naming each problem."""
        checks = _Checks(self)
        checks.key()
        checks.text("subject", "notes", "assigned_by", "regarding", "owner")
        for name in ("start", "due", "completed", "modified"):
            checks.moment(name, optional=True)
        checks.integer("percent_complete", low=0, high=100)
        checks.enum("status", TaskStatus)
        checks.enum("priority", Priority)
        checks.nested("recurrence", Recurrence, optional=True)
        checks.strings("assigned_to")
        checks.flag("tracked")
        checks.done()


def _percent(record: Task) -> bool:
    percent = record.percent_complete
    return type(percent) is int and 0 <= percent <= 100


_TASK_SCREEN = _Screen(
    texts=("key", "subject", "notes", "assigned_by", "regarding", "owner"),
    lists=("assigned_to",),
    typed={"status": TaskStatus, "priority": Priority, "recurrence": type(None), "tracked": bool},
    optional_moments=("start", "due", "completed", "modified"),
    extra=_percent,
)


def _check_collection(
    checks: _Checks, name: str, cls: type[Any], *, keyed: Callable[[Any], str]
) -> dict[str, Any]:
    """Checks one collection of a snapshot; returns its records by key."""
    items = getattr(checks.record, name)
    if not isinstance(items, tuple):
        checks.add(name, f"expected a list of {cls.__name__}")
        return {}
    found: dict[str, Any] = {}
    for i, item in enumerate(items):
        if not isinstance(item, cls):
            checks.add((name, i), f"expected {cls.__name__}, got {type(item).__name__}")
            continue
        key = keyed(item)
        if key in found:
            first = next(j for j, other in enumerate(items) if other is found[key])
            checks.add((name, i, "key"), f"duplicate key {key!r} (also at {name}[{first}])")
        else:
            found[key] = item
    return found


def _key(record: Any) -> str:
    return record.key  # type: ignore[no-any-return]


def _keys(value: Iterable[str]) -> frozenset[str]:
    # A str is iterable too; keep it whole so validation can report it.
    if isinstance(value, str | bytes):
        return value  # type: ignore[return-value]  # reported by _check_snapshot
    return frozenset(value)


def _check_snapshot(checks: _Checks, classes: Mapping[str, type[Any]]) -> dict[str, dict[str, Any]]:
    """Checks a snapshot's collections and its `complete`/`removed` pair."""
    snapshot = checks.record
    index = {
        name: _check_collection(checks, name, cls, keyed=_key) for name, cls in classes.items()
    }
    checks.flag("complete")
    removed = getattr(snapshot, "removed")  # noqa: B009 - both snapshot classes have it
    if not isinstance(removed, frozenset):
        checks.add("removed", f"expected a list of keys, got {type(removed).__name__}")
        return index
    for key in sorted(removed, key=str):
        if not isinstance(key, str) or not key.strip():
            checks.add("removed", f"expected a non-empty key, got {key!r}")
        elif any(key in records for records in index.values()):
            checks.add("removed", f"{key!r} is both removed and present")
    if removed and getattr(snapshot, "complete") is True:  # noqa: B009
        # In a complete snapshot every absent key is a delete already; a
        # removed list there is a caller's mix-up, not a second way to say it.
        checks.add("removed", "only a partial snapshot (complete: false) lists removed keys")
    return index


def _by_key(snapshot: Any) -> dict[str, dict[str, Any]]:
    return {
        name: {record.key: record for record in getattr(snapshot, name)}
        for name in ("contacts", "appointments", "tasks")
    }


@attrs.frozen(kw_only=True)
class CrmSnapshot:
    """What the CRM holds now (or held at the last sync) for one user.

    A partial snapshot (`complete=False`, a delta round) holds only the
    records that changed since the baseline: a key it does not hold is
    unchanged (its record is the baseline's), and only the keys in `removed`
    (of any domain) were deleted. `removed` is empty in a complete snapshot.
    """

    contacts: tuple[CrmContact, ...] = attrs.field(default=(), converter=_tuple)
    appointments: tuple[Appointment, ...] = attrs.field(default=(), converter=_tuple)
    tasks: tuple[Task, ...] = attrs.field(default=(), converter=_tuple)
    complete: bool = True
    removed: frozenset[str] = attrs.field(default=frozenset(), converter=_keys)

    def __attrs_post_init__(self) -> None:
        checks = _Checks(self)
        index = _check_snapshot(
            checks, {"contacts": CrmContact, "appointments": Appointment, "tasks": Task}
        )
        checks.done()
        object.__setattr__(self, "by_key", index)

    @functools.cached_property
    def by_key(self) -> Mapping[str, Mapping[str, Any]]:
        """Records by collection name ("contacts") and key.

        Built at construction; a copy made without construction (unpickled
        on a Dask worker, say) builds it on first use.
        """
        return _by_key(self)


@attrs.frozen(kw_only=True)
class OutlookSnapshot:
    """What the mailbox holds now (or held at the last sync).

    A partial snapshot (`complete=False`, a delta round) holds only the
    records that changed since the baseline: a key it does not hold is
    unchanged (its record is the baseline's), and only the keys in `removed`
    (of any domain) were deleted. `removed` is empty in a complete snapshot.
    """

    contacts: tuple[OutlookContact, ...] = attrs.field(default=(), converter=_tuple)
    appointments: tuple[Appointment, ...] = attrs.field(default=(), converter=_tuple)
    tasks: tuple[Task, ...] = attrs.field(default=(), converter=_tuple)
    complete: bool = True
    removed: frozenset[str] = attrs.field(default=frozenset(), converter=_keys)

    def __attrs_post_init__(self) -> None:
        checks = _Checks(self)
        index = _check_snapshot(
            checks, {"contacts": OutlookContact, "appointments": Appointment, "tasks": Task}
        )
        checks.done()
        object.__setattr__(self, "by_key", index)

    @functools.cached_property
    def by_key(self) -> Mapping[str, Mapping[str, Any]]:
        """Records by collection name ("contacts") and key.

        Built at construction; a copy made without construction (unpickled
        on a Dask worker, say) builds it on first use.
        """
        return _by_key(self)


SNAPSHOT_FIELD: dict[Domain, str] = {
    Domain.CONTACT: "contacts",
    Domain.APPOINTMENT: "appointments",
    Domain.TASK: "tasks",
}

Snapshot = TypeVar("Snapshot", CrmSnapshot, OutlookSnapshot)


def current_record(
    snapshot: CrmSnapshot | OutlookSnapshot,
    previous: CrmSnapshot | OutlookSnapshot | None,
    name: str,
    key: str,
) -> Any:
    """The record a side holds now under `key`, reading a partial snapshot through.

    Args:
        snapshot: the side now, complete or partial.
        previous: the same side in the baseline (None without one).
        name: the collection ("contacts").
        key: the record's key.

    Returns:
        The snapshot's record; for a key a partial snapshot does not hold and
        does not list as removed, the baseline's; else None.
    """
    found = snapshot.by_key[name].get(key)
    if found is not None or snapshot.complete or previous is None or key in snapshot.removed:
        return found
    return previous.by_key[name].get(key)


def as_complete(snapshot: Snapshot, previous: Snapshot | None) -> Snapshot:
    """The complete snapshot a partial one stands for (a complete one as it is).

    Args:
        snapshot: the side now.
        previous: the same side in the baseline (None without one).

    Returns:
        The baseline's records, minus the removed keys, with the snapshot's
        records over them; in the baseline's order, new records last.
    """
    if snapshot.complete:
        return snapshot
    collections: dict[str, Any] = {}
    for name in SNAPSHOT_FIELD.values():
        records = dict(previous.by_key[name]) if previous is not None else {}
        for key in snapshot.removed:
            records.pop(key, None)
        records.update(snapshot.by_key[name])
        collections[name] = tuple(records.values())
    return type(snapshot)(**collections)


def _unlinked(value: Iterable[tuple[Domain | str, str]]) -> frozenset[tuple[Domain, str]]:
    out: set[tuple[Domain, str]] = set()
    for item in value:
        domain, key = item
        out.add((_member(Domain, domain), key))
    return frozenset(out)


@attrs.frozen(kw_only=True)
class Baseline:
    """Both sides as they were right after the last successful sync.

    A key present on both sides is a linked pair. `settings` are the settings
    in force then. `unlinked` holds `(domain, key)` of records whose link a
    delete rule broke: they no longer sync until the application links them
    again. `pending_remap` holds the keys of contacts whose address remap is
    still waiting for a person.
    """

    crm: CrmSnapshot = attrs.field(factory=CrmSnapshot)
    outlook: OutlookSnapshot = attrs.field(factory=OutlookSnapshot)
    settings: Settings = attrs.field(factory=Settings)
    unlinked: frozenset[tuple[Domain, str]] = attrs.field(default=frozenset(), converter=_unlinked)
    pending_remap: frozenset[str] = attrs.field(default=frozenset(), converter=_keys)

    def __attrs_post_init__(self) -> None:
        checks = _Checks(self)
        checks.nested("crm", CrmSnapshot)
        checks.nested("outlook", OutlookSnapshot)
        checks.nested("settings", Settings)
        for side in ("crm", "outlook"):
            if getattr(getattr(self, side), "complete", True) is not True:
                checks.add((side, "complete"), "a baseline holds both sides whole")
        for domain, key in sorted(self.unlinked, key=str):
            if not isinstance(domain, Domain) or not isinstance(key, str):
                checks.add(
                    "unlinked", f"expected [domain, key], got [{shown(domain)}, {shown(key)}]"
                )
        for key in sorted(self.pending_remap, key=str):
            if not isinstance(key, str):
                checks.add("pending_remap", f"expected a contact key, got {shown(key)}")
        checks.done()

    @functools.cached_property
    def _pairs(self) -> dict[str, tuple[int, frozenset[str]]]:
        # Computed once per baseline, when a partial snapshot is first planned against it.
        out = {}
        for name in SNAPSHOT_FIELD.values():
            crm, outlook = self.crm.by_key[name].keys(), self.outlook.by_key[name].keys()
            crm_only, outlook_only = crm - outlook, outlook - crm
            out[name] = (len(crm) - len(crm_only), frozenset(crm_only | outlook_only))
        return out

    def linked_count(self, name: str) -> int:
        """How many linked pairs (keys on both sides) the collection `name` holds."""
        return self._pairs[name][0]

    def one_sided(self, name: str) -> frozenset[str]:
        """The keys of collection `name` that only one side holds (no link)."""
        return self._pairs[name][1]


_R = TypeVar("_R")
_REBUILDERS: dict[type, Callable[[Any, Mapping[str, Any]], Any]] = {}


def rebuild(record: _R, changes: Mapping[str, Any]) -> _R:
    """`attrs.evolve(record, **changes)`: a new record, validated, with `changes` applied.

    The same record `attrs.evolve` gives, through one function generated per
    record class (as attrs generates its own methods): `attrs.evolve` walks
    the class's fields in Python and passes them all by keyword, which costs
    a merge of a changed pair more than the record's own validation. For a
    class whose `__init__` only sets fields, the function sets them on a new
    object itself (a changed value through the field's converter) and runs
    the record's checks; any other class is called. A key that is not a
    field raises `TypeError`, as `attrs.evolve` does.
    """
    cls = type(record)
    write = _REBUILDERS.get(cls)
    if write is None:
        write = _REBUILDERS[cls] = _rebuilder(cls)
    rebuilt: _R = write(record, changes)
    return rebuilt


def _rebuilder(cls: type[Any]) -> Callable[[Any, Mapping[str, Any]], Any]:
    fields = [a for a in attrs.fields(cls) if a.init]
    names = frozenset(a.alias for a in fields)
    namespace: dict[str, Any] = {"cls": cls, "names": names}
    check = (
        "def rebuild(r, c):\n"
        "    if not c.keys() <= names:\n"
        "        unknown = sorted(set(c) - names)[0]\n"
        "        raise TypeError(f'{cls.__name__} has no field {unknown!r}')\n"
    )
    if _plain_init(cls):
        # What attrs' own __init__ does, without passing every field by
        # keyword: each field is set on a new object, a changed value through
        # its converter, an unchanged one as the record holds it (a converter
        # gave it already); then the class's checks run on the whole record.
        lines = ["    new = new_object(cls)", "    s = setter(new)"]
        for a in fields:
            value = f"c[{a.alias!r}]"
            if a.converter is not None:
                namespace[f"convert_{a.name}"] = a.converter
                value = f"convert_{a.name}({value})"
            lines.append(f"    s({a.name!r}, {value} if {a.alias!r} in c else r.{a.name})")
        if hasattr(cls, "__attrs_post_init__"):
            lines.append("    new.__attrs_post_init__()")
        lines.append("    return new")
        source = check + "\n".join(lines) + "\n"
        namespace.update(new_object=object.__new__, setter=object.__setattr__.__get__)
    else:
        arguments = ", ".join(
            f"{a.alias}=c[{a.alias!r}] if {a.alias!r} in c else r.{a.name}" for a in fields
        )
        source = check + f"    return cls({arguments})\n"
    exec(compile(source, f"<crmsync.records rebuild {cls.__qualname__}>", "exec"), namespace)  # noqa: S102 - source built from attrs field names only
    write: Callable[[Any, Mapping[str, Any]], Any] = namespace["rebuild"]
    return write


_CONVERTER: type | tuple[type, ...] = getattr(
    attrs, "Converter", ()
)  # attrs >= 24.1; before it, plain callables
"""attrs' converter objects (which may take the instance): never a plain converter."""


def _plain_init(cls: type[Any]) -> bool:
    """True when `cls.__init__` is attrs' own and only sets fields (through plain converters).

    Then setting the fields on a new object and running `__attrs_post_init__`
    is exactly what it does. Anything else (a hand-written `__init__`, a field
    validator or `on_setattr` hook, a pre-init, a converter that takes the
    instance, a field left out of `__init__`) keeps the call to the class.
    """
    init = cls.__dict__.get("__init__")
    code = getattr(init, "__code__", None)
    if code is None or not code.co_filename.startswith("<attrs generated"):
        return False
    if hasattr(cls, "__attrs_pre_init__") or not getattr(cls, "__slots__", None):
        return False
    return all(
        a.init
        and a.validator is None
        and a.on_setattr in (None, attrs.setters.NO_OP)
        and (a.converter is None or not isinstance(a.converter, _CONVERTER))
        for a in attrs.fields(cls)
    )
