"""Reading against `json.loads`: crmsync's own format and the Graph and Dataverse readers.

    python -m benchmarks --reads [--sizes 20000] [--smoke]

Each row reads one document of `size` records, of one kind, from the same
bytes twice in one process: `json.loads` alone (the floor), and crmsync's
reader (`crmsync.loads`, or `parse_json` then `read_graph` / `read_dataverse`).
The ratio of the two is the figure; absolute times are not compared across
runs. With orjson installed (the `fast` extra) each row is measured with it
and with the standard library's parser (`crmsync.convert` told not to use it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import crmsync
from benchmarks.worlds import USER, build
from crmsync import CrmSnapshot, OutlookSnapshot
from crmsync import convert as _convert
from crmsync.adapters import dataverse, graph, read_dataverse, read_graph

TARGET = 2.5
"""Every reader within this many times `json.loads` of the same bytes."""

_MODIFIED = "2026-11-20T08:30:00Z"


def _graph_item(body: dict[str, Any], key: str) -> dict[str, Any]:
    # As Graph lists an item: its id and change stamp besides the writable properties.
    return {"id": f"AAMk{key}", **body, "lastModifiedDateTime": _MODIFIED}


def _dataverse_row(body: dict[str, Any], column: str, key: str) -> dict[str, Any]:
    return {column: key, **body, "modifiedon": _MODIFIED}


def documents(size: int) -> list[tuple[str, str, bytes, Callable[[Any], Any]]]:
    """(format, kind, bytes, read) for each row: `size` records of one kind each."""
    world = build(size * 10 // 4)  # 40 % contacts: `size` of them; 30 % each of the others
    crm, outlook = world.crm, world.outlook
    appointments = crm.appointments[:size]
    tasks = crm.tasks[:size]
    # The Graph and Dataverse payloads hold no attachments: a record keeps a
    # file's digest, never its bytes, so the same records cannot be written
    # as attachment payloads.
    plain = [a.__class__(**{**_fields(a), "attachments": ()}) for a in appointments]

    def dumps(value: Any) -> bytes:
        return crmsync.dumps(value, indent=None).encode("utf-8")

    def payload(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def loads(cls: type[Any]) -> Callable[[bytes], Any]:
        return lambda data: crmsync.loads(data, cls)

    def via(read: Callable[[Any], Any]) -> Callable[[bytes], Any]:
        return lambda data: read(_convert.parse_json(data))

    graph_contacts = [
        _graph_item(graph.contact_to_graph(c), c.key) for c in outlook.contacts[:size]
    ]
    graph_events = [
        _graph_item({**graph.event_to_graph(a), "type": "singleInstance", "iCalUId": a.uid}, a.key)
        for a in plain
    ]
    graph_tasks = [_graph_item(graph.task_to_graph(t), t.key) for t in tasks]
    dv_contacts = [
        _dataverse_row(
            {**dataverse.contact_to_dataverse(c), "_ownerid_value": USER}, "contactid", c.key
        )
        for c in crm.contacts[:size]
    ]
    dv_appointments = [
        _dataverse_row(dataverse.appointment_to_dataverse(a), "activityid", a.key) for a in plain
    ]
    dv_tasks = [_dataverse_row(dataverse.task_to_dataverse(t), "activityid", t.key) for t in tasks]
    return [
        (
            "crmsync",
            "contacts",
            dumps(CrmSnapshot(contacts=crm.contacts[:size])),
            loads(CrmSnapshot),
        ),
        (
            "crmsync",
            "outlook contacts",
            dumps(OutlookSnapshot(contacts=outlook.contacts[:size])),
            loads(OutlookSnapshot),
        ),
        (
            "crmsync",
            "appointments",
            dumps(CrmSnapshot(appointments=appointments)),
            loads(CrmSnapshot),
        ),
        ("crmsync", "tasks", dumps(CrmSnapshot(tasks=tasks)), loads(CrmSnapshot)),
        ("graph", "contacts", payload({"contacts": {"value": graph_contacts}}), via(read_graph)),
        ("graph", "events", payload({"events": {"value": graph_events}}), via(read_graph)),
        ("graph", "tasks", payload({"tasks": {"value": graph_tasks}}), via(read_graph)),
        (
            "dataverse",
            "contacts",
            payload({"contacts": {"value": dv_contacts}}),
            via(read_dataverse),
        ),
        (
            "dataverse",
            "appointments",
            payload({"appointments": {"value": dv_appointments}}),
            via(read_dataverse),
        ),
        ("dataverse", "tasks", payload({"tasks": {"value": dv_tasks}}), via(read_dataverse)),
    ]


def _fields(record: Any) -> dict[str, Any]:
    return {a.alias: getattr(record, a.name) for a in record.__attrs_attrs__ if a.init}


@contextmanager
def pure_json() -> Iterator[None]:
    """crmsync parses with the standard library's `json` inside the block."""
    saved = getattr(_convert, "_ORJSON", None)
    _convert._ORJSON = None  # type: ignore[attr-defined]
    try:
        yield
    finally:
        _convert._ORJSON = saved  # type: ignore[attr-defined]


def measure(
    size: int, repeats: int, best_of: Callable[..., tuple[float, Any]]
) -> list[dict[str, Any]]:
    """One row per document: `json.loads` and crmsync on the same bytes.

    `read_s` is crmsync as installed (with orjson when the `fast` extra is);
    `pure_read_s`, measured only when orjson is installed, is crmsync on the
    standard library's parser.
    """
    rows = []
    fast = getattr(_convert, "_ORJSON", None) is not None
    for fmt, kind, data, read in documents(size):
        json_s, _ = best_of(repeats, lambda data=data: json.loads(data))
        read_s, _ = best_of(repeats, lambda data=data, read=read: read(data))
        row: dict[str, Any] = {
            "format": fmt,
            "kind": kind,
            "records": size,
            "bytes": len(data),
            "orjson": fast,
            "json_s": json_s,
            "read_s": read_s,
            "read_vs_json": read_s / json_s,
        }
        if fast:
            with pure_json():
                pure_s, _ = best_of(repeats, lambda data=data, read=read: read(data))
            row.update(pure_read_s=pure_s, pure_read_vs_json=pure_s / json_s)
        rows.append(row)
    return rows
