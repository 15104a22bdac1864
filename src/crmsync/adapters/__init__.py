"""Adapters between crmsync's records and the payloads of real services.

`crmsync.adapters.graph` reads and writes Microsoft Graph (the mailbox);
`crmsync.adapters.dataverse` the Dataverse Web API (the CRM);
`crmsync.adapters.requests` turns a plan into the HTTP requests an
application would send. This module reads whole files of collections into
snapshots, as the `crmsync` command does:

- a Graph file: `{"contacts": C, "events": C, "tasks": C}`;
- a Dataverse file: `{"contacts": C, "appointments": C, "tasks": C,
  "activitymimeattachments": C}`,

where each `C` is what a list request returns (`{"value": [...]}`) or a plain
list. Every problem in every item is reported at once, with its path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Protocol, TypeVar

import attrs

from crmsync.adapters import dataverse, graph
from crmsync.adapters._read import Reader, collection
from crmsync.errors import InvalidInput, PathPart, Problem, Problems
from crmsync.records import Attachment, CrmSnapshot, Domain, OutlookSnapshot

__all__ = [
    "GraphRead",
    "crm_snapshot_from_dataverse",
    "outlook_snapshot_from_graph",
    "read_graph",
]

T = TypeVar("T")


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


K = TypeVar("K", bound=_Keyed)

_GRAPH_PARTS = ("contacts", "events", "tasks")
_DATAVERSE_PARTS = ("contacts", "appointments", "tasks", "activitymimeattachments")


def _parts(data: Any, names: tuple[str, ...], problems: Problems) -> dict[str, Any]:
    reader = Reader(data, (), problems)
    for name in reader.payload:
        if name not in names and not str(name).startswith("@"):
            reader.problem(name, f"unknown collection; expected any of: {', '.join(names)}")
    return {name: reader.payload.get(name) for name in names}


def _each(payload: Any, name: str, problems: Problems) -> list[tuple[tuple[PathPart, ...], Any]]:
    """The items of one collection with their paths; a malformed collection is a problem."""
    if payload is None:
        return []
    base: tuple[PathPart, ...] = (name,)
    try:
        items = collection(payload, base)
    except InvalidInput as exc:
        problems.absorb(exc)
        return []
    inner = (*base, "value") if isinstance(payload, dict) and "value" in payload else base
    return [((*inner, i), item) for i, item in items]


def _read(problems: Problems, path: tuple[PathPart, ...], read: Callable[[], T]) -> T | None:
    try:
        return read()
    except InvalidInput as exc:
        problems.absorb(exc, *path)
        return None


@attrs.frozen
class GraphRead:
    """A Graph file read: the snapshot, and the Graph id of each record keyed otherwise.

    `ids` maps `(domain, key)` to the item's Graph `id` for the records whose
    key is the CRM id Dynamics wrote on them (`crmid`): a request to Graph
    needs the Graph id in its URL.

    Attributes:
        snapshot: the mailbox as an `OutlookSnapshot`, for `crmsync.plan()`.
        ids: `(domain, key)` → Graph `id`, only for records whose key is not
            their Graph id; pass it to `requests_for(graph_ids=...)`.
    """

    snapshot: OutlookSnapshot
    ids: Mapping[tuple[Domain, str], str]


def read_graph(data: Any) -> GraphRead:
    """An Outlook snapshot, and the Graph ids, from Graph collections.

    Events of type occurrence (unmodified instances of a series, as
    `/calendarView` lists them) are skipped: their series master is the
    record. Tasks may be To Do `todoTask`s or `outlookTask`s.

    Args:
        data: parsed JSON `{"contacts": C, "events": C, "tasks": C}`, each `C`
            a Graph list response (`{"value": [...]}`) or a plain list; a
            missing collection is empty.

    Returns:
        A `GraphRead`: the snapshot, and the Graph ids of the records keyed
        otherwise.

    Raises:
        InvalidInput: every problem in every item, with its path.
    """
    problems = Problems()
    parts = _parts(data, _GRAPH_PARTS, problems)
    ids: dict[tuple[Domain, str], str] = {}

    def each(name: str, domain: Domain, read: Callable[[Any], K]) -> list[K]:
        out = []
        for path, item in _each(parts[name], name, problems):
            if name == "events" and isinstance(item, dict) and item.get("type") == "occurrence":
                continue
            record = _read(problems, path, partial(read, item))
            if record is None:
                continue
            graph_id = item.get("id")
            if isinstance(graph_id, str) and graph_id != record.key:
                ids[(domain, record.key)] = graph_id
            out.append(record)
        return out

    contacts = each("contacts", Domain.CONTACT, graph.contact_from_graph)
    events = each("events", Domain.APPOINTMENT, graph.event_from_graph)
    tasks = each("tasks", Domain.TASK, graph.task_from_graph)
    if problems:
        raise InvalidInput(problems)
    snapshot = OutlookSnapshot(contacts=contacts, appointments=events, tasks=tasks)
    return GraphRead(snapshot=snapshot, ids=ids)


def outlook_snapshot_from_graph(data: Any) -> OutlookSnapshot:
    """An Outlook snapshot from Graph collections of contacts, events and tasks.

    Raises:
        InvalidInput: every problem in every item, with its path.
    """
    return read_graph(data).snapshot


def crm_snapshot_from_dataverse(data: Any) -> CrmSnapshot:
    """A CRM snapshot from Dataverse collections.

    Attachment rows (`activitymimeattachments`) join their appointment by
    `_objectid_value`; one whose appointment is not in the file is a problem.

    Raises:
        InvalidInput: every problem in every item, with its path.
    """
    problems = Problems()
    parts = _parts(data, _DATAVERSE_PARTS, problems)
    attached: dict[str, list[Attachment]] = defaultdict(list)
    owners: dict[str, tuple[PathPart, ...]] = {}
    for path, item in _each(parts["activitymimeattachments"], "activitymimeattachments", problems):
        found = _read(problems, path, partial(dataverse.attachment_from_dataverse, item))
        if not isinstance(item, Mapping):
            continue  # reported once, by the attachment's own reader
        owner = Reader(item, path, problems).text("_objectid_value", required=True)
        if found is not None and owner:
            attached[owner].append(found)
            owners.setdefault(owner, path)
    contacts = [
        _read(problems, path, partial(dataverse.contact_from_dataverse, item))
        for path, item in _each(parts["contacts"], "contacts", problems)
    ]
    appointments = []
    for path, item in _each(parts["appointments"], "appointments", problems):
        key = item.get("activityid") if isinstance(item, dict) else None
        files = attached.pop(key, []) if isinstance(key, str) else []
        appointments.append(
            _read(
                problems,
                path,
                partial(dataverse.appointment_from_dataverse, item, attachments=files),
            )
        )
    for owner in attached:
        problems.append(
            Problem((*owners[owner], "_objectid_value"), f"no appointment {owner!r} in this file")
        )
    tasks = [
        _read(problems, path, partial(dataverse.task_from_dataverse, item))
        for path, item in _each(parts["tasks"], "tasks", problems)
    ]
    if problems:
        raise InvalidInput(problems)
    return CrmSnapshot(
        contacts=[c for c in contacts if c is not None],
        appointments=[a for a in appointments if a is not None],
        tasks=[t for t in tasks if t is not None],
    )
