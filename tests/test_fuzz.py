"""Fuzzing crmsync.loads and every adapter reader with mutated valid documents.

Each example takes a valid document (the bundled example, Microsoft's samples,
payloads the writers produce), breaks it in one to three places with values
that crashed crmsync before (huge integers, lone surrogates, datetimes at the
edge of the range, deep lists, NaN, wrong types, missing or unknown names), and
reads it. Only `InvalidInput` or `SettingsError` may escape, with a message
that is valid Unicode. Whatever is accepted must then go through every output
path (JSON, the Graph and Dataverse writers, a plan and its requests) without
an error: input is refused up front, never half-way through a write.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import reprlib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

import crmsync
from crmsync import (
    Appointment,
    Attachment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    InvalidInput,
    OutlookContact,
    OutlookSnapshot,
    Plan,
    Recurrence,
    Settings,
    SettingsError,
    Task,
)
from crmsync.adapters import (
    crm_snapshot_from_dataverse,
    dataverse,
    graph,
    outlook_snapshot_from_graph,
    read_graph,
)
from crmsync.adapters.requests import requests_for
from samples import sample

NOW = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "examples"

Path_ = tuple[str | int, ...]


def _deep(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


DEEP = _deep(5000)

# Values that crashed crmsync once, as Python values (for readers called from Python) ...
NASTY: list[Any] = [
    None, True, False, 0, -1, 2**31, -(2**31) - 1, 2**63, 10**5000, 1.5, 1e308, float("nan"),
    "", " ", "\ud800", "k\udfff", "x" * 300, "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00", "2026-11-24T10:00:00", "2026-02-30T00:00:00Z", "9999-12-31",
    [], {}, [1], {"a": None}, DEEP,
]  # fmt: skip
# ... and as JSON text (for crmsync.loads).
NASTY_JSON: list[str] = [
    "null", "true", "0", "-1", "2147483648", "9" * 5000, "-" + "9" * 5000, "1e400", "NaN",
    "-Infinity", '""', '"\\ud800"', '"k\\udfff"', '"9999-12-31T23:59:59-14:00"',
    '"0001-01-01T00:00:00+14:00"', '"2026-11-24T10:00:00"', '"9999-12-31"', "[]", "{}",
    "[1]", '{"a": null}', "[" * 3000 + "]" * 3000,
]  # fmt: skip


def _paths(doc: Any, path: Path_ = ()) -> list[Path_]:
    out = [path]
    if doc is DEEP:  # shared by every example: never changed
        return out
    if isinstance(doc, dict):
        for name, value in doc.items():
            out += _paths(value, (*path, name))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*path, i))
    return out


def _at(doc: Any, path: Path_) -> Any:
    for part in path:
        doc = doc[part]
    return doc


@st.composite
def _mutated(draw: st.DrawFn, seed: Any, *, raw: bool) -> _Shown:
    """The seed broken in one to three places (a fresh copy each time)."""
    nasty = RAW if raw else NASTY  # not an argument: the strategy's repr would print a deep list
    doc = {"root": copy.deepcopy(seed)}

    def pick(values: list[Any]) -> Any:
        value = values[draw(st.integers(0, len(values) - 1))]  # an index prints; a deep list not
        # A fresh copy, as later mutations change what they find; the deep list is never changed.
        return copy.deepcopy(value) if isinstance(value, list | dict) and value != DEEP else value

    for _ in range(draw(st.integers(1, 3))):
        path = ("root", *draw(st.sampled_from(_paths(doc["root"]))))
        parent, last = _at(doc, path[:-1]), path[-1]
        current = parent[last]
        action = draw(st.sampled_from(["replace", "replace", "drop", "add", "twice", "text"]))
        if action == "drop" and isinstance(parent, dict) and last != "root":
            del parent[last]
        elif action == "add" and isinstance(current, dict):
            current[draw(st.sampled_from(["zzz", "\ud800", "id", "key"]))] = pick(nasty)
        elif action == "twice" and isinstance(current, list) and current and current is not DEEP:
            # The deep list is shared, never copied (copying it would overflow the stack).
            current.append(copy.deepcopy(current[0], {id(DEEP): DEEP}))
        elif action == "text" and isinstance(current, str):
            parent[last] = current + draw(st.sampled_from(["\ud800", "\x00", "Z", "+14:00"]))
        else:
            parent[last] = pick(nasty)
        if "root" not in doc:  # the whole document was dropped: nothing to read
            break
    return _Shown(doc.get("root"))


class _Shown:
    """A drawn document, printed briefly: Hypothesis cannot print a 5,000-deep list."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        brief = reprlib.Repr()
        brief.maxlevel, brief.maxstring, brief.maxother = 8, 80, 80
        return brief.repr(self.value)


def _text(doc: Any) -> str:
    """JSON text of a mutated document, with NASTY_JSON fragments spliced in raw."""
    fragments: list[str] = []

    def mark(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        if isinstance(value, _Raw):
            fragments.append(value.text)
            return f"\x00RAW{len(fragments) - 1}\x00"
        return value

    text = json.dumps(mark(doc))
    for i, fragment in enumerate(fragments):
        text = text.replace(f'"\\u0000RAW{i}\\u0000"', fragment)
    return text


class _Raw:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:20]!r})"


RAW = [_Raw(t) for t in NASTY_JSON]


# ---------------------------------------------------------------------------
# every output path


def _json(value: Any) -> None:
    json.dumps(value, ensure_ascii=False).encode("utf-8")


def _write(value: Any) -> None:
    """Sends an accepted value through every output path that takes it."""
    if isinstance(value, list | tuple):
        for item in value:
            _write(item)
        return
    if value is None:
        return
    if not isinstance(value, dict):
        crmsync.dumps(value).encode("utf-8")
    if isinstance(value, OutlookContact):
        _json(graph.contact_to_graph(value))
    elif isinstance(value, CrmContact):
        _json(dataverse.contact_to_dataverse(value))
    elif isinstance(value, Appointment):
        _json(graph.event_to_graph(value))
        _json(dataverse.appointment_to_dataverse(value))
    elif isinstance(value, Task):
        _json(graph.task_to_graph(value))
        _json(graph.task_to_graph(value, shape="outlook"))
        _json(dataverse.task_to_dataverse(value))
    elif isinstance(value, Recurrence):
        _json(graph.recurrence_to_graph(value))
        _json(dataverse.recurrence_to_dataverse(value))
    elif isinstance(value, CrmSnapshot | OutlookSnapshot):
        crm = value if isinstance(value, CrmSnapshot) else CrmSnapshot()
        outlook = value if isinstance(value, OutlookSnapshot) else OutlookSnapshot()
        planned = crmsync.plan(crm, outlook, now=NOW)
        crmsync.dumps(planned).encode("utf-8")
        planned.render().encode("utf-8")
        for request in requests_for(planned, crm, outlook):
            _json(request.body)
            request.url.encode("utf-8")
    elif isinstance(value, Baseline):
        _write([value.crm, value.outlook])
    elif isinstance(value, Plan):
        planned.render().encode("utf-8") if (planned := value) else None
    elif isinstance(value, Attachment | Settings):
        pass
    elif hasattr(value, "snapshot"):  # GraphRead
        _write(value.snapshot)


def _read(read: Callable[[Any], Any], payload: Any) -> None:
    try:
        value = read(payload)
    except (InvalidInput, SettingsError) as exc:
        str(exc).encode("utf-8")  # the message is printable
        event("refused")
        return
    event("accepted")
    _write(value)


# ---------------------------------------------------------------------------
# crmsync.loads


def _example(name: str) -> Any:
    return json.loads((resources.files("crmsync") / "examples" / f"{name}.json").read_text())


def _loads_seeds() -> list[tuple[type, Any]]:
    crm = crmsync.loads(json.dumps(_example("crm")), CrmSnapshot)
    outlook = crmsync.loads(json.dumps(_example("outlook")), OutlookSnapshot)
    baseline = crmsync.loads(json.dumps(_example("baseline")), Baseline)
    settings = crmsync.loads(json.dumps(_example("settings")), Settings)
    planned = crmsync.plan(crm, outlook, settings, baseline, now=NOW)
    return [
        (CrmSnapshot, _example("crm")),
        (OutlookSnapshot, _example("outlook")),
        (Baseline, _example("baseline")),
        (Settings, _example("settings")),
        (Plan, json.loads(crmsync.dumps(planned))),
    ]


LOADS_SEEDS = _loads_seeds()


# Cheap examples: five times the profile's count (dev 200, ci 750).
FUZZ = settings(max_examples=5 * settings().max_examples)


@FUZZ
@given(st.data())
def test_loads_lets_only_invalid_input_escape_and_what_it_accepts_can_be_written(
    data: st.DataObject,
) -> None:
    cls, seed = data.draw(st.sampled_from(LOADS_SEEDS), label="seed")
    doc = data.draw(_mutated(seed, raw=True), label="document")
    _read(lambda text: crmsync.loads(text, cls), _text(doc.value))


# ---------------------------------------------------------------------------
# the adapters' readers


def _reader_seeds() -> list[tuple[Callable[[Any], Any], Any]]:
    crm = crmsync.loads(json.dumps(_example("crm")), CrmSnapshot)
    outlook = crmsync.loads(json.dumps(_example("outlook")), OutlookSnapshot)
    graph_file = json.loads((DOCS / "graph.json").read_text(encoding="utf-8"))
    dataverse_file = json.loads((DOCS / "dataverse.json").read_text(encoding="utf-8"))
    seeds: list[tuple[Callable[[Any], Any], Any]] = [
        (read_graph, graph_file),
        (outlook_snapshot_from_graph, graph_file),
        (crm_snapshot_from_dataverse, dataverse_file),
        (graph.contact_from_graph, sample("graph_contact_get.json")),
        (graph.event_from_graph, sample("graph_event_get.json")),
        (graph.task_from_graph, sample("graph_todotask_get.json")),
        (graph.attachment_from_graph, sample("graph_event_file_attachment_response.json")),
        (dataverse.contact_from_dataverse, sample("dataverse_contact_get.json")),
    ]
    seeds += [
        (graph.recurrence_from_graph, item["recurrence"])
        for item in sample("graph_recurrence_examples.json")
    ]
    seeds += [(graph.event_from_graph, e) for e in sample("graph_event_instances.json")["value"]]
    for contact in outlook.contacts[:2]:
        seeds.append((graph.contact_from_graph, graph.contact_to_graph(contact)))
    for contact in crm.contacts[:2]:
        body = {"contactid": contact.key, **dataverse.contact_to_dataverse(contact)}
        seeds.append((dataverse.contact_from_dataverse, body))
    for appointment in (*crm.appointments, *outlook.appointments):
        seeds.append((graph.event_from_graph, graph.event_to_graph(appointment)))
        body = {"activityid": appointment.key, **dataverse.appointment_to_dataverse(appointment)}
        seeds.append((dataverse.appointment_from_dataverse, body))
        if appointment.recurrence is not None:
            seeds.append(
                (
                    dataverse.recurrence_from_dataverse,
                    dataverse.recurrence_to_dataverse(appointment.recurrence),
                )
            )
    for task in (*crm.tasks, *outlook.tasks):
        seeds.append((graph.task_from_graph, graph.task_to_graph(task, shape="outlook")))
        body = {"activityid": task.key, **dataverse.task_to_dataverse(task)}
        seeds.append((dataverse.task_from_dataverse, body))
    row = {
        "filename": "agenda.pdf",
        "body": base64.b64encode(b"agenda").decode(),
        "filesize": 6,
        "mimetype": "application/pdf",
        "_objectid_value": "a-1",
    }
    meeting = {
        "activityid": "a-1",
        "subject": "Review",
        "scheduledstart": "2026-12-01T09:00:00Z",
        "scheduledend": "2026-12-01T10:00:00Z",
    }
    seeds.append((dataverse.attachment_from_dataverse, row))
    with_files = {"appointments": [meeting], "activitymimeattachments": {"value": [row]}}
    seeds.append((crm_snapshot_from_dataverse, {**dataverse_file, **with_files}))
    return seeds


READER_SEEDS = _reader_seeds()


@FUZZ
@given(st.data())
def test_every_reader_lets_only_invalid_input_escape_and_what_it_accepts_can_be_written(
    data: st.DataObject,
) -> None:
    read, seed = data.draw(st.sampled_from(READER_SEEDS), label="seed")
    payload = data.draw(_mutated(seed, raw=False), label="payload")
    _read(read, payload.value)


def test_the_seeds_cover_every_reader() -> None:
    readers = {read for read, _ in READER_SEEDS}
    names = {f"{read.__module__}.{read.__name__}" for read in readers}
    expected = {
        f"crmsync.adapters.{module}.{name}"
        for module, names_ in (
            ("graph", ("contact", "event", "task", "attachment", "recurrence")),
            ("dataverse", ("contact", "appointment", "task", "attachment", "recurrence")),
        )
        for name in (f"{n}_from_{module}" for n in names_)
    } | {
        "crmsync.adapters.read_graph",
        "crmsync.adapters.outlook_snapshot_from_graph",
        "crmsync.adapters.crm_snapshot_from_dataverse",
    }
    assert names == expected
