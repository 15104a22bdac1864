"""Tests for crmsync.adapters._fast: the fast readers read what the detailed readers read.

The law is agreement: on any payload, `read_graph` and `read_dataverse` give
the same records (every field, `modified` included), or the same problems
with the same paths, whether the fast readers start or the detailed ones
read alone. Payloads are records from `crmsync.strategies` written by the
adapters' own writers, as Graph and Dataverse list them, then broken or
made odd at a random place.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmsync import InvalidInput
from crmsync import strategies as cst
from crmsync.adapters import _fast, dataverse, graph, read_dataverse, read_graph
from support import places, replaced

STAMP = "2026-11-20T08:30:00Z"

# Values the detailed readers refuse somewhere: wrong JSON types, blank and
# lone-surrogate texts, out-of-range numbers, bad dates, zones and choices.
BAD_VALUES: list[Any] = [
    None,
    True,
    0,
    5,
    -1,
    1.5,
    2.0,
    2**40,
    "",
    " ",
    "\ud800",
    "not a date",
    "2026-01-01T00:00:00",
    "2026-01-01T00:00:00+07:00",
    "9999-12-31T23:59:59-01:00",
    "Nowhere Standard Time",
    "unknown",
    "html",
    "occurrence",
    [],
    ["\ud800"],
    [""],
    [1],
    [{}],
    ["a", "b", "c", "d"],
    {},
    {"x": ""},
    {"dateTime": "2026-01-01T00:00:00", "timeZone": "Pacific Standard Time"},
]

# Valid values a reader must still read alike: blanks to normalize, line
# breaks, non-ASCII text, a "Last, First" name, HTML.
ODD_VALUES: list[Any] = [
    "  two  spaces ",
    "tab\there",
    "line\r\nbreak\rs\n\n",
    "\u00a0non-breaking\u00a0",
    "Zoë Ämter",
    "Doe, Jane",
    "x\x1c",
    "<p>Hello&nbsp;<b>world</b></p><p>&nbsp;</p>",
    "2026-11-20T08:30:00.0000000",
    "2026-11-20T08:30:00+00:00",
    "W. Europe Standard Time",
    "Europe/Paris",
    "TEXT",
]


def _graph_item(body: dict[str, Any], key: str, **more: Any) -> dict[str, Any]:
    return {"id": f"AAMk{key}", **body, **more, "lastModifiedDateTime": STAMP}


def _row(body: dict[str, Any], column: str, key: str) -> dict[str, Any]:
    return {column: key, **body, "modifiedon": STAMP}


def _event(appointment: Any) -> dict[str, Any]:
    kind = "seriesMaster" if appointment.recurrence is not None else "singleInstance"
    body = graph.event_to_graph(appointment)
    return _graph_item(body, appointment.key, type=kind, iCalUId=appointment.uid)


GRAPH_FILES = st.one_of(
    st.lists(cst.outlook_contacts(), max_size=3, unique_by=lambda r: r.key).map(
        lambda cs: {
            "contacts": {"value": [_graph_item(graph.contact_to_graph(c), c.key) for c in cs]}
        }
    ),
    st.lists(cst.appointments(), max_size=3, unique_by=lambda r: r.key).map(
        lambda apps: {"events": {"value": [_event(a) for a in apps]}}
    ),
    st.tuples(
        st.lists(cst.tasks(), max_size=3, unique_by=lambda r: r.key),
        st.sampled_from(("todo", "outlook")),
    ).map(
        lambda case: {
            "tasks": {
                "value": [
                    _graph_item(graph.task_to_graph(t, shape=case[1]), t.key) for t in case[0]
                ]
            }
        }
    ),
)

DATAVERSE_FILES = st.one_of(
    st.lists(cst.crm_contacts(), max_size=3, unique_by=lambda r: r.key).map(
        lambda cs: {
            "contacts": {
                "value": [
                    _row(
                        {**dataverse.contact_to_dataverse(c), "_ownerid_value": c.owner or None},
                        "contactid",
                        c.key,
                    )
                    for c in cs
                ]
            }
        }
    ),
    st.lists(cst.appointments(), max_size=3, unique_by=lambda r: r.key).map(
        lambda apps: {
            "appointments": {
                "value": [
                    _row(dataverse.appointment_to_dataverse(a), "activityid", a.key)
                    for a in apps
                    if a.recurrence is None
                ]
            },
            "recurringappointmentmasters": {
                "value": [
                    _row(dataverse.appointment_to_dataverse(a), "activityid", a.key)
                    for a in apps
                    if a.recurrence is not None
                ]
            },
        }
    ),
    st.lists(cst.tasks(), max_size=3, unique_by=lambda r: r.key).map(
        lambda ts: {
            "tasks": {
                "value": [_row(dataverse.task_to_dataverse(t), "activityid", t.key) for t in ts]
            }
        }
    ),
)


def _records(snapshot: Any) -> list[Any]:
    # `modified` takes no part in equality: compared apart, with every field's repr.
    return [
        (repr(record), record.modified)
        for name in ("contacts", "appointments", "tasks")
        for record in getattr(snapshot, name)
    ]


def outcome(read: Any, data: Any, *, fast: bool) -> tuple[str, Any]:
    saved = _fast.enabled
    _fast.enabled = fast
    try:
        result = read(data)
    except InvalidInput as exc:
        return "refused", exc.lines()
    finally:
        _fast.enabled = saved
    return "read", (_records(result.snapshot), dict(result.etags), getattr(result, "ids", None))


CASES = st.one_of(
    st.tuples(GRAPH_FILES, st.just(read_graph)), st.tuples(DATAVERSE_FILES, st.just(read_dataverse))
)


@settings(max_examples=150, deadline=None)
@given(CASES)
def test_a_valid_payload_reads_alike_whichever_path_starts(case: tuple[Any, Any]) -> None:
    data, read = case
    assert outcome(read, data, fast=True) == outcome(read, data, fast=False)


@settings(max_examples=400, deadline=None)
@given(CASES, st.data())
def test_a_broken_or_odd_payload_gives_the_same_records_or_the_same_problems(
    case: tuple[Any, Any], data: st.DataObject
) -> None:
    payload, read = case
    spots = [p for p in places(payload) if len(p) > 3]  # inside an item: name, "value", index
    if not spots:
        return
    path = data.draw(st.sampled_from(spots))
    value = data.draw(st.sampled_from(BAD_VALUES + ODD_VALUES))
    broken = replaced(payload, path, value)
    assert outcome(read, broken, fast=True) == outcome(read, broken, fast=False)


def _count_fast(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The records the fast readers built, so a test can tell they were used."""
    built: list[Any] = []
    original = _fast.first_fast

    def counting(fast: Any, detailed: Any) -> Any:
        def read(item: Any) -> Any:
            try:
                record = fast(item)
            except Exception:
                return detailed(item)
            built.append(record)
            return record

        return read

    monkeypatch.setattr(_fast, "first_fast", counting)
    assert original is not counting
    return built


@settings(max_examples=40, deadline=None)
@given(CASES)
def test_the_writers_payloads_take_the_fast_path(case: tuple[Any, Any]) -> None:
    data, read = case
    with pytest.MonkeyPatch.context() as monkeypatch:
        built = _count_fast(monkeypatch)
        result = read(data)
    snapshot = result.snapshot
    total = len(snapshot.contacts) + len(snapshot.appointments) + len(snapshot.tasks)
    assert len(built) == total


def test_an_exact_utc_stamp_and_a_graph_zone_are_read_as_the_detailed_path_reads_them() -> None:
    event = {
        "id": "e1",
        "subject": "Review",
        "start": {"dateTime": "2026-11-24T09:00:00.0000000", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2026-11-24T10:00:00.0000000", "timeZone": "Pacific Standard Time"},
        "lastModifiedDateTime": "2026-11-20T08:30:00Z",
    }
    fast = _fast.event_from_graph(event)
    assert (repr(fast), fast.modified) == (
        repr(detailed := graph.event_from_graph(event)),
        detailed.modified,
    )
    assert fast.start == dt.datetime(2026, 11, 24, 17, tzinfo=dt.UTC)


def test_a_payload_the_fast_path_doubts_is_reported_by_the_detailed_reader() -> None:
    row = {"activityid": "t1", "subject": 3, "scheduledstart": "tomorrow", "modifiedon": STAMP}
    with pytest.raises(_fast.Fallback):
        _fast.task_from_dataverse(row)
    with pytest.raises(InvalidInput) as caught:
        read_dataverse({"tasks": {"value": [row]}})
    assert caught.value.lines() == [
        "$.tasks.value[0].subject: expected a string, got a number",
        "$.tasks.value[0].scheduledstart: expected an ISO 8601 date-time, got 'tomorrow'",
    ]
