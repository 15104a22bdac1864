"""Tests for crmsync.adapters.requests against Microsoft's own metadata.

Every request crmsync builds, from generated and hand-made worlds, is checked
against extracts the project keeps in tests/metadata/, built by
scripts/metadata_extract.py from Microsoft's sources (each names its
repository, path and commit):

- Graph: the v1.0 CSDL (microsoftgraph/msgraph-metadata). The URL walks the
  documented navigation properties (`/me/events/{id}/attachments`), a bound
  action is one the CSDL binds there (`createUploadSession`), and each body
  member is a property of its type, recursively, with values of the property's
  type and enumeration members as the CSDL spells them.
- Dataverse: the table reference (MicrosoftDocs/powerapps-docs). The entity
  set is a table's; each column exists, a create writes only columns valid for
  create, an update only columns valid for update, text fits the column's
  MaxLength, a lookup is bound through a lookup column, and a create sends
  every column the page marks SystemRequired and valid for create.

A few rules are in Graph's REST documentation rather than in the CSDL; they
are spelled out below with the page and commit they come from.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

import crmsync
from crmsync import (
    ActivityState,
    Appointment,
    Attachment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    OutlookContact,
    OutlookSnapshot,
    Plan,
    Recurrence,
    Settings,
    Task,
    TaskStatus,
)
from crmsync.adapters.requests import Request, Unknown, requests_by_op
from crmsync.strategies import World, worlds
from support import NOW, USER

HERE = Path(__file__).parent / "metadata"
GRAPH = json.loads((HERE / "graph-v1.0.json").read_text(encoding="utf-8"))
DATAVERSE = json.loads((HERE / "dataverse-tables.json").read_text(encoding="utf-8"))
TABLES = {table["entity_set"]: name for name, table in DATAVERSE["tables"].items()}

# -- rules from Graph's REST documentation (microsoftgraph/microsoft-graph-docs-contrib) -----

# api-reference/v1.0/api/event-update.md at 0713c450496046d1f357f9afae7a914ac6ab4277, "Request
# body": the properties an event update writes (its extended properties too: "you can use the
# PATCH operation to add, update, or delete ... custom properties").
EVENT_UPDATABLE = frozenset(
    {
        "attendees",
        "body",
        "categories",
        "end",
        "hideAttendees",
        "importance",
        "isAllDay",
        "isOnlineMeeting",
        "isReminderOn",
        "location",
        "locations",
        "onlineMeetingProvider",
        "recurrence",
        "reminderMinutesBeforeStart",
        "responseRequested",
        "sensitivity",
        "showAs",
        "start",
        "subject",
        "singleValueExtendedProperties",
    }
)
# api-reference/v1.0/resources/recurrencepattern.md at 09455a65abde17103c17fc70605c4c8553f01978,
# "Values of type property", "Required properties"; `index` is "used if type is relativeMonthly
# or relativeYearly", and "Include only the properties that you need".
PATTERN_REQUIRED = {
    "daily": {"type", "interval"},
    "weekly": {"type", "interval", "daysOfWeek", "firstDayOfWeek"},
    "absoluteMonthly": {"type", "interval", "dayOfMonth"},
    "relativeMonthly": {"type", "interval", "daysOfWeek"},
    "absoluteYearly": {"type", "interval", "dayOfMonth", "month"},
    "relativeYearly": {"type", "interval", "daysOfWeek", "month"},
}
PATTERN_USED = {"relativeMonthly": {"index"}, "relativeYearly": {"index"}}
# concepts/outlook-large-attachments.md: "If the file size is under 3 MB, do a single POST";
# attachment-createuploadsession.md: ranges "up to 4 MB each time"; ranges in multiples of 320 KiB.
SINGLE_POST_UNDER = 3 * 1024 * 1024
RANGE_UNIT, RANGE_MAX = 320 * 1024, 4 * 1024 * 1024

_EDM_JSON: dict[str, tuple[type, ...]] = {
    "Edm.String": (str,),
    "Edm.Boolean": (bool,),
    "Edm.Int32": (int,),
    "Edm.Int64": (int,),
    "Edm.Double": (int, float),
    "Edm.DateTimeOffset": (str,),
    "Edm.Date": (str,),
    "Edm.TimeOfDay": (str,),
    "Edm.Duration": (str,),
    "Edm.Guid": (str,),
    "Edm.Binary": (str,),
}


# -- Graph --------------------------------------------------------------------------------------


def _derived(name: str) -> set[str]:
    """`name` and every extracted type derived from it."""
    found = {name}
    grew = True
    while grew:
        more = {t for t, spec in GRAPH["types"].items() if spec["base"] in found} - found
        found |= more
        grew = bool(more)
    return found


def _graph_value(value: Any, type_name: str, where: str) -> Iterable[str]:
    if type_name.startswith("Edm."):
        accepted = _EDM_JSON.get(type_name, (str,))
        # A JSON true is no Edm.Int32, though Python's bool is an int.
        if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted):
            yield f"{where}: {value!r} is not {type_name}"
        return
    if type_name in GRAPH["enums"]:
        if value not in GRAPH["enums"][type_name]:
            yield f"{where}: {value!r} is not a member of {type_name} {GRAPH['enums'][type_name]}"
        return
    yield from _graph_object(value, type_name, where)


def _graph_object(body: Any, type_name: str, where: str) -> Iterable[str]:
    if type_name not in GRAPH["types"]:
        yield f"{where}: {type_name} is not among the extracted types"
        return
    if not isinstance(body, dict):
        yield f"{where}: expected a {type_name} object, got {body!r}"
        return
    declared = body.get("@odata.type")
    if declared is not None:
        named = str(declared).lstrip("#").removeprefix("microsoft.graph.")
        if named not in _derived(type_name):
            yield f"{where}/@odata.type: {declared} is not {type_name} or derived from it"
            return
        type_name = named
    spec = GRAPH["types"][type_name]
    for name, value in body.items():
        if name == "@odata.type":
            continue
        member = spec["properties"].get(name) or spec["navigation"].get(name)
        if member is None:
            yield f"{where}/{name}: not a property of {type_name}"
            continue
        if value is None:
            continue
        if member["collection"]:
            if not isinstance(value, list):
                yield f"{where}/{name}: expected a collection of {member['type']}"
                continue
            for i, item in enumerate(value):
                yield from _graph_value(item, member["type"], f"{where}/{name}/{i}")
        else:
            yield from _graph_value(value, member["type"], f"{where}/{name}")


def _graph_target(url: str) -> tuple[str, bool, str | None]:
    """The type a Graph URL names, whether it is a collection, and a bound action if any."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    assert segments[0] == "me", url
    current, collection, expect_id = "user", False, False
    for segment in segments[1:]:
        action = GRAPH["actions"].get(segment)
        if action is not None:  # bound to the collection just named
            assert collection, url
            assert current in _derived(action["bound_to"]), url
            return current, collection, segment
        if expect_id:
            collection, expect_id = False, False
            continue
        navigation = GRAPH["paths"].get(current) or GRAPH["types"][current]["navigation"]
        member = navigation.get(segment)
        assert member is not None, f"{url}: {segment} is not a navigation property of {current}"
        current, collection = member["type"], member["collection"]
        expect_id = collection
    return current, collection, None


def graph_problems(request: Request) -> list[str]:
    """What in a Graph request the CSDL and Graph's documented rules do not allow."""
    where = f"{request.method} {request.url}"
    if getattr(request, "upload", None) is not None:  # (getattr: requests before uploads)
        return _upload_problems(request)
    target, collection, action = _graph_target(request.url)
    body = request.body
    problems: list[str] = []
    if action is not None:
        spec = GRAPH["actions"][action]
        for name, value in (body or {}).items():
            if name not in spec["parameters"]:
                problems.append(f"{where}: {name} is not a parameter of {action}")
            else:
                problems += _graph_object(value, spec["parameters"][name], f"{where} {name}")
        return problems
    if request.method == "DELETE" or body is None:
        return problems
    assert request.method == "POST" if collection else request.method == "PATCH", where
    problems += _graph_object(body, target, where)
    if target == "event":
        problems += _event_rules(request, body)
    if target == "attachment" and request.method == "POST":
        size = _attachment_size(request)
        if size >= SINGLE_POST_UNDER:
            problems.append(f"{where}: {size} bytes in one POST; Graph takes under 3 MB")
    return problems


def _attachment_size(request: Request) -> int:
    # The bytes are a fill; the plan's attachment says how many there are.
    op = request.op
    assert op is not None
    return _SIZES.get(op.attachment or ("", ""), 0)


_SIZES: dict[tuple[str, str], int] = {}


def _upload_problems(request: Request) -> list[str]:
    upload = request.upload
    assert upload is not None
    problems = []
    if upload.session not in request.depends_on:
        problems.append(f"PUT {request.url}: does not wait for its upload session")
    chunk = upload.to_json()["chunk"]
    if chunk % RANGE_UNIT or chunk > RANGE_MAX:
        problems.append(f"PUT {request.url}: ranges of {chunk} bytes")
    if upload.size < SINGLE_POST_UNDER:
        problems.append(f"PUT {request.url}: an upload session for {upload.size} bytes")
    return problems


def _midnight(when: dict[str, Any]) -> bool:
    return dt.datetime.fromisoformat(when["dateTime"]).time() == dt.time(0)


def _event_rules(request: Request, body: dict[str, Any]) -> list[str]:
    where = f"{request.method} {request.url}"
    problems = []
    if request.method == "PATCH":
        problems += [
            f"{where}: {name} is not a property an event update writes"
            for name in sorted(set(body) - EVENT_UPDATABLE)
        ]
    if body.get("isAllDay"):
        start, end = body.get("start"), body.get("end")
        if start is None or end is None:
            problems.append(f"{where}: isAllDay without its start and end")
        elif not (_midnight(start) and _midnight(end) and start["timeZone"] == end["timeZone"]):
            problems.append(f"{where}: an all-day event from {start} to {end}")
    recurrence = body.get("recurrence")
    if recurrence:
        pattern = recurrence["pattern"]
        kind = pattern["type"]
        extra = set(pattern) - PATTERN_REQUIRED[kind] - PATTERN_USED.get(kind, set())
        missing = PATTERN_REQUIRED[kind] - set(pattern)
        if extra or missing:
            problems.append(f"{where}: a {kind} pattern with {sorted(extra)} without {missing}")
    return problems


# -- Dataverse ----------------------------------------------------------------------------------

_ROW_URL = re.compile(r"^/api/data/v9\.2/(\w+)(?:\(([^)]*)\))?(/.*)?$")


@attrs.frozen
class Finding:
    """A Dataverse problem and the issue-25 finding it belongs to ("" for none known)."""

    finding: str
    text: str


def _finding(table: str, column: str, kind: str) -> str:
    """Which known finding of issue 25 a problem is, being fixed in the Dataverse builders."""
    if table == "recurringappointmentmaster" and kind == "read-only":
        return "1: series time in read-only columns"
    if table == "appointment" and kind == "unknown":
        return "2: series columns on an appointment"
    if column in ("statecode", "statuscode"):
        return "4: closed activities created closed"
    if kind == "max-length":
        return "8: text over MaxLength"
    if table == "activitymimeattachment":
        return "9: attachment columns"
    return ""


def dataverse_problems(request: Request) -> list[Finding]:
    """What in a Dataverse request the table reference does not allow."""
    found = _ROW_URL.match(request.url)
    assert found is not None, request.url
    entity_set, key, rest = found.groups()
    where = f"{request.method} {request.url}"
    table = TABLES.get(entity_set)
    if table is None:
        return [Finding("", f"{where}: {entity_set} is not a table's entity set")]
    if rest or request.body is None or request.method == "DELETE":
        return []  # a `$ref` bind (its body names a row, not columns) or no body
    creating = request.method == "POST" and key is None
    return _row_problems(table, request.body, creating=creating, where=where)


def _row_problems(table: str, body: dict[str, Any], *, creating: bool, where: str) -> list[Finding]:
    columns = DATAVERSE["tables"][table]["columns"]
    problems: list[Finding] = []

    def problem(column: str, kind: str, text: str) -> None:
        problems.append(Finding(_finding(table, column, kind), f"{where}: {table}.{text}"))

    written = set()
    for name, value in body.items():
        if name.endswith("@odata.bind"):
            lookup = name.removesuffix("@odata.bind").split("_", 1)[0]
            column = columns.get(lookup)
            if column is None or column["type"] not in ("Lookup", "Customer", "Owner", ""):
                problem(lookup, "unknown", f"{name}: {lookup} is not a lookup column")
            written.add(lookup)
            continue
        if name.endswith("_activity_parties") and isinstance(value, list):
            for i, party in enumerate(value):
                problems += [
                    attrs.evolve(p, finding=p.finding or _finding(table, "", "party"))
                    for p in _row_problems(
                        "activityparty", party, creating=True, where=f"{where} {name}[{i}]"
                    )
                ]
            continue
        column = columns.get(name)
        written.add(name)
        if column is None:
            problem(name, "unknown", f"{name}: not a column of {table}")
            continue
        if creating and not column["create"]:
            problem(name, "read-only", f"{name}: not valid for create")
        if not creating and not column["update"]:
            problem(name, "read-only", f"{name}: not valid for update")
        limit = column["max_length"]
        if isinstance(value, str) and limit is not None and len(value) > limit:
            problem(name, "max-length", f"{name}: {len(value)} > MaxLength {limit}")
    if creating:
        for name, column in columns.items():
            required = column["required"] == "SystemRequired" and column["create"]
            if required and name not in written:
                problem(name, "required", f"{name}: SystemRequired and not sent")
    return problems


# -- worlds -------------------------------------------------------------------------------------

START = NOW + dt.timedelta(days=3)
LARGE = Attachment(name="slides.pdf", size=4 * 1024 * 1024, content_hash="sha256:0b")
SMALL = Attachment(name="agenda.txt", size=100, content_hash="sha256:0a")
ATTACHMENTS = Settings(sync_appointment_attachments=True)
PATTERNS: dict[str, dict[str, Any]] = {
    "daily": {},
    "weekly": {"days_of_week": ("monday", "thursday")},
    "absolute_monthly": {"day_of_month": 15},
    "relative_monthly": {"days_of_week": ("friday",), "index": "last"},
    "absolute_yearly": {"day_of_month": 15, "month": 3},
    "relative_yearly": {"days_of_week": ("tuesday",), "month": 11, "index": "second"},
}
LONG = "x" * 2500


def _appointment(key: str, **values: Any) -> Appointment:
    values.setdefault("start", START)
    values.setdefault("end", START + dt.timedelta(hours=1))
    values.setdefault("subject", f"Meeting {key}")
    values.setdefault("organizer", USER)
    return Appointment(key=key, **values)


def _series(pattern: str) -> Recurrence:
    return Recurrence(pattern=pattern, start_date=START.date(), **PATTERNS[pattern])


def _all_day() -> dict[str, Any]:
    start = dt.datetime(2026, 12, 8, 8, tzinfo=dt.UTC)  # a Pacific user's midnight, in UTC
    return {"start": start, "end": start + dt.timedelta(days=1), "all_day": True}


def _pair(crm: Any, outlook: Any, domain: str) -> tuple[CrmSnapshot, OutlookSnapshot, Baseline]:
    crm_side = CrmSnapshot(**{domain: [crm]})
    outlook_side = OutlookSnapshot(**{domain: [outlook]})
    return (
        crm_side,
        outlook_side,
        Baseline(crm=crm_side, outlook=outlook_side, settings=ATTACHMENTS),
    )


def _edited(
    before: Any, after: Any, domain: str, *, in_crm: bool
) -> tuple[CrmSnapshot, OutlookSnapshot, Baseline]:
    crm, outlook, baseline = _pair(before, before, domain)
    if in_crm:
        return CrmSnapshot(**{domain: [after]}), outlook, baseline
    return crm, OutlookSnapshot(**{domain: [after]}), baseline


def _new(record: Any, domain: str, *, in_crm: bool) -> tuple[CrmSnapshot, OutlookSnapshot, None]:
    if in_crm:
        return CrmSnapshot(**{domain: [record]}), OutlookSnapshot(), None
    return CrmSnapshot(), OutlookSnapshot(**{domain: [record]}), None


def hand_made_worlds() -> dict[str, tuple[CrmSnapshot, OutlookSnapshot, Baseline | None]]:
    """Worlds that reach every builder: each domain, action, pattern, status and limit."""
    found: dict[str, tuple[CrmSnapshot, OutlookSnapshot, Baseline | None]] = {}
    for in_crm, side in ((True, "crm"), (False, "outlook")):
        for pattern in PATTERNS:
            series = _appointment(f"s-{pattern}", recurrence=_series(pattern))
            found[f"{pattern} series new in {side}"] = _new(series, "appointments", in_crm=in_crm)
        found[f"all-day appointment new in {side}"] = _new(
            _appointment("a-day", **_all_day()), "appointments", in_crm=in_crm
        )
        plain = _appointment("a-plain")
        found[f"appointment moved to all day in {side}"] = _edited(
            plain, attrs.evolve(plain, **_all_day()), "appointments", in_crm=in_crm
        )
        found[f"appointment made weekly in {side}"] = _edited(
            plain,
            attrs.evolve(plain, recurrence=_series("weekly")),
            "appointments",
            in_crm=in_crm,
        )
        found[f"long text new in {side}"] = _new(
            _appointment("a-long", body=LONG, location="y" * 300, subject="z" * 300),
            "appointments",
            in_crm=in_crm,
        )
        found[f"appointment with attachments new in {side}"] = _new(
            _appointment("a-files", attachments=(SMALL, LARGE)), "appointments", in_crm=in_crm
        )
        found[f"attachments added in {side}"] = _edited(
            plain, attrs.evolve(plain, attachments=(SMALL, LARGE)), "appointments", in_crm=in_crm
        )
        found[f"canceled appointment new in {side}"] = _new(
            _appointment("a-canceled", state=ActivityState.CANCELED), "appointments", in_crm=in_crm
        )
        for status in TaskStatus:
            task = Task(key=f"t-{status.value}", subject="Call back", status=status, due=START)
            found[f"{status.value} task new in {side}"] = _new(task, "tasks", in_crm=in_crm)
        open_task = Task(key="t-edit", subject="Call back", due=START)
        found[f"task completed in {side}"] = _edited(
            open_task,
            attrs.evolve(open_task, status=TaskStatus.COMPLETED, percent_complete=100),
            "tasks",
            in_crm=in_crm,
        )
        found[f"task notes made long in {side}"] = _edited(
            open_task, attrs.evolve(open_task, notes=LONG), "tasks", in_crm=in_crm
        )
    found["organizer changed in crm"] = _edited(
        _appointment("a-org"),
        _appointment("a-org", organizer="bob@contoso.com", location="Room 2"),
        "appointments",
        in_crm=True,
    )
    full = crmsync.Address(
        street="1 Main St\nFloor 2\nSuite 3", city="Springfield", state="IL", postal_code="62701"
    )
    found["contact new in outlook"] = _new(
        OutlookContact(
            key="c-1",
            first_name="Ann",
            last_name="Lee",
            emails=("ann@x.org", "ann@y.org", "ann@z.org"),
            business_phone="1",
            home_phone="2",
            mobile_phone="3",
            job_title="Buyer",
            department="Sales",
            notes=LONG,
            business_address=full,
            home_address=full,
            other_address=full,
        ),
        "contacts",
        in_crm=False,
    )
    found["contact new in crm"] = _new(
        CrmContact(
            key="c-2", first_name="Bob", last_name="Ray", notes="n", address1=full, address2=full
        ),
        "contacts",
        in_crm=True,
    )
    contact = CrmContact(key="c-3", last_name="Ray", emails=("r@x.org",))
    found["contact edited in outlook"] = (
        CrmSnapshot(contacts=[contact]),
        OutlookSnapshot(
            contacts=[OutlookContact(key="c-3", last_name="Ray", emails=("r@x.org",), notes="n")]
        ),
        Baseline(
            crm=CrmSnapshot(contacts=[contact]),
            outlook=OutlookSnapshot(
                contacts=[OutlookContact(key="c-3", last_name="Ray", emails=("r@x.org",))]
            ),
            settings=ATTACHMENTS,
        ),
    )
    return found


WORLDS = hand_made_worlds()


def _requests(
    crm: CrmSnapshot, outlook: OutlookSnapshot, baseline: Baseline | None, *, all_three: bool
) -> tuple[Plan, list[Request]]:
    chosen = ATTACHMENTS
    if all_three:
        chosen = attrs.evolve(ATTACHMENTS, address_sync=crmsync.AddressSync.ALL_THREE)
    planned = crmsync.plan(crm, outlook, chosen, baseline, user=USER, now=NOW)
    for op in planned.ops:
        if isinstance(op.record, Attachment):
            _SIZES[op.record.identity] = op.record.size
    found = [
        request
        for requests in requests_by_op(planned, crm, outlook, baseline=baseline).values()
        for request in requests
        # A request with a value no one can fill is never sent (crmsync.http fails it).
        if not any(isinstance(fill.value, Unknown) for fill in request.fills)
    ]
    return planned, found


def _of(name: str, service: str) -> list[Request]:
    crm, outlook, baseline = WORLDS[name]
    _planned, found = _requests(crm, outlook, baseline, all_three=name.startswith("contact"))
    return [r for r in found if r.service == service]


# -- Graph: every check passes ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_every_graph_request_of_a_hand_made_world_is_what_graph_documents(name: str) -> None:
    """Each URL, method and body matches the Graph CSDL and Graph's documented rules."""
    problems = [p for r in _of(name, "graph") for p in graph_problems(r)]

    assert problems == []


def test_the_hand_made_worlds_reach_every_graph_builder() -> None:
    reached = [r for name in WORLDS for r in _of(name, "graph")]

    assert any(r.url.endswith("/createUploadSession") for r in reached)
    assert any(getattr(r, "upload", None) is not None for r in reached)
    assert {r.method for r in reached} >= {"POST", "PATCH", "PUT"}
    assert any((r.body or {}).get("isAllDay") for r in reached)
    patterns = {
        r.body["recurrence"]["pattern"]["type"]
        for r in reached
        if r.body and r.body.get("recurrence")
    }
    assert patterns >= set(PATTERN_REQUIRED)


@settings(max_examples=150, suppress_health_check=list(HealthCheck), deadline=None)
@given(worlds())
def test_every_graph_request_of_a_generated_world_is_what_graph_documents(world: World) -> None:
    _planned, found = _requests(world.crm, world.outlook, world.baseline, all_three=False)

    assert [p for r in found if r.service == "graph" for p in graph_problems(r)] == []


def test_the_graph_checks_catch_what_graph_refuses() -> None:
    """The checks are not vacuous: each rule refuses a body that breaks it."""
    patch = Request(
        "graph", "PATCH", "/me/events/A", {"organizer": {"emailAddress": {"address": "x"}}}
    )
    all_day = Request(
        "graph",
        "POST",
        "/me/events",
        {
            "isAllDay": True,
            "start": {"dateTime": "2026-12-08T08:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-12-09T08:00:00", "timeZone": "UTC"},
        },
    )
    weekly = Request(
        "graph",
        "POST",
        "/me/events",
        {"recurrence": {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]}}},
    )
    unknown = Request("graph", "POST", "/me/contacts", {"nickName": 1, "colour": "red"})
    enum = Request("graph", "PATCH", "/me/events/A", {"showAs": "away"})

    for request in (patch, all_day, weekly, unknown, enum):
        assert graph_problems(request), request


# -- Dataverse: known findings are being fixed in the Dataverse builders (issue 25) -------------


@settings(max_examples=150, suppress_health_check=list(HealthCheck), deadline=None)
@given(worlds())
def test_a_generated_worlds_dataverse_requests_break_no_rule_beyond_the_known_findings(
    world: World,
) -> None:
    """Any Dataverse problem outside issue 25's findings fails here at once."""
    _planned, found = _requests(world.crm, world.outlook, world.baseline, all_three=False)

    unknown = [
        p.text
        for r in found
        if r.service == "dataverse"
        for p in dataverse_problems(r)
        if not p.finding
    ]
    assert unknown == []


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_a_hand_made_worlds_dataverse_requests_break_no_rule_beyond_the_known_findings(
    name: str,
) -> None:
    unknown = [
        p.text for r in _of(name, "dataverse") for p in dataverse_problems(r) if not p.finding
    ]

    assert unknown == []


def _dataverse_findings(names: Iterable[str], finding: str) -> list[str]:
    return [
        p.text
        for name in names
        for r in _of(name, "dataverse")
        for p in dataverse_problems(r)
        if p.finding.startswith(finding)
    ]


def test_a_series_created_in_the_crm_writes_only_columns_a_series_takes() -> None:
    """recurringappointmentmaster: scheduledstart/scheduledend are read-only."""
    names = [n for n in WORLDS if n.endswith("series new in outlook")]

    assert _dataverse_findings(names, "1:") == []


def test_an_appointment_made_recurring_is_not_patched_with_series_columns() -> None:
    """appointment has no recurrencepatterntype, interval, ... columns."""
    assert _dataverse_findings(["appointment made weekly in outlook"], "2:") == []


def test_a_closed_activity_is_not_created_closed() -> None:
    """appointment.statecode is not valid for create; a new row is open."""
    names = ["canceled appointment new in outlook", "completed task new in outlook"]

    assert _dataverse_findings(names, "4:") == []


def test_text_sent_to_the_crm_fits_each_columns_max_length() -> None:
    """appointment subject and location 200, task and contact description 2000."""
    names = [
        "long text new in outlook",
        "task notes made long in outlook",
        "contact new in outlook",
    ]

    assert _dataverse_findings(names, "8:") == []


def test_an_attachment_row_writes_no_read_only_column_and_names_its_objects_type() -> None:
    """activitymimeattachment: filesize is read-only; objecttypecode is SystemRequired."""
    assert _dataverse_findings(["appointment with attachments new in outlook"], "9:") == []


def test_the_dataverse_checks_catch_what_dataverse_refuses() -> None:
    """The checks are not vacuous: each rule refuses a body that breaks it."""
    for request in (
        Request("dataverse", "POST", "/api/data/v9.2/contacts", {"fullname": "A"}),
        Request("dataverse", "PATCH", "/api/data/v9.2/contacts(1)", {"contactid": "1"}),
        Request("dataverse", "POST", "/api/data/v9.2/tasks", {"subject": "s" * 201}),
        Request("dataverse", "POST", "/api/data/v9.2/notes", {"subject": "s"}),
        Request("dataverse", "PATCH", "/api/data/v9.2/appointments(1)", {"interval": 2}),
    ):
        assert dataverse_problems(request), request


def test_the_extracts_name_their_sources() -> None:
    assert GRAPH["source"]["repository"] == "microsoftgraph/msgraph-metadata"
    assert re.fullmatch(r"[0-9a-f]{40}", GRAPH["source"]["commit"])
    for table in DATAVERSE["tables"].values():
        assert table["source"]["repository"] == "MicrosoftDocs/powerapps-docs"
        assert re.fullmatch(r"[0-9a-f]{40}", table["source"]["commit"])
