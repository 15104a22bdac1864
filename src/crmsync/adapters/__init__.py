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

Pages and delta rounds. Several files are pages of one read, in order: each
collection's `value` arrays are joined. A read is complete (every record of
the side) unless `partial=True`:

- complete: the last page of a collection must not carry `@odata.nextLink`
  (the records on the pages not read would look deleted), a Dataverse
  `@odata.count` must match the records read, and a removed entry (Graph's
  `@removed`, Dataverse's `"reason": "deleted"`) is a mistake — it belongs to
  a delta round;
- partial (a delta round: Graph `.../delta`, Dataverse `Prefer:
  odata.track-changes`): the snapshot is partial (`complete=False`), removed
  entries become its `removed` keys (never records), an item delivered more
  than once counts as its last delivery, and the `@odata.deltaLink` (or the
  `@odata.nextLink` of a round not read to its end) is kept for the caller.

With several files, problem paths start with the file's index (`$[1].contacts`).

Each record's `@odata.etag` is kept beside the snapshot (`GraphRead.etags`,
`DataverseRead.etags`): the requests that update or delete it send it as
`If-Match`, so a record someone changed after the read is never overwritten.
`resolve_links` pairs what only the other side can tell: an Outlook item
whose CRM copy was created but never linked back (the create's answer was
lost), and a To Do task that links to more than one CRM task.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from crmsync._fastread import gc_paused
from crmsync.adapters import _fast, dataverse, graph
from crmsync.adapters._identity import crm_id_for
from crmsync.adapters._read import Reader, collection, etag
from crmsync.errors import InvalidInput, PathPart, Problem, Problems
from crmsync.records import (
    Appointment,
    Attachment,
    Baseline,
    CrmSnapshot,
    Domain,
    OutlookSnapshot,
    current_record,
)

__all__ = [
    "DataverseRead",
    "GraphRead",
    "ReadState",
    "crm_snapshot_from_dataverse",
    "outlook_snapshot_from_graph",
    "read_dataverse",
    "read_graph",
    "resolve_links",
]

T = TypeVar("T")


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


K = TypeVar("K", bound=_Keyed)

_GRAPH_PARTS = ("contacts", "events", "tasks")
_DATAVERSE_PARTS = (
    "contacts",
    "appointments",
    "recurringappointmentmasters",
    "tasks",
    "activitymimeattachments",
)


def _parts(
    data: Any, names: tuple[str, ...], problems: Problems, prefix: tuple[PathPart, ...] = ()
) -> dict[str, Any]:
    reader = Reader(data, prefix, problems)
    for name in reader.payload:
        if name not in names and not str(name).startswith("@"):
            reader.problem(name, f"unknown collection; expected any of: {', '.join(names)}")
    return {name: reader.payload.get(name) for name in names}


def _each(
    payload: Any, name: str, problems: Problems, prefix: tuple[PathPart, ...] = ()
) -> list[tuple[tuple[PathPart, ...], Any]]:
    """The items of one collection with their paths; a malformed collection is a problem."""
    if payload is None:
        return []
    base: tuple[PathPart, ...] = (*prefix, name)
    try:
        items = collection(payload, base)
    except InvalidInput as exc:
        problems.absorb(exc)
        return []
    inner = (*base, "value") if isinstance(payload, dict) and "value" in payload else base
    return [((*inner, i), item) for i, item in items]


Item = tuple[tuple[PathPart, ...], Any]


@attrs.define
class _Round:
    """One collection read across pages: its items, removed entries and links."""

    entries: list[tuple[tuple[PathPart, ...], Any, str | None]] = attrs.field(factory=list)
    """(path, item, None) for a record, (path, None, id) for a removed entry, in order."""
    next_link: str = ""
    delta_link: str = ""

    @property
    def items(self) -> list[Item]:
        """The records' items with their paths."""
        return [(path, item) for path, item, gone in self.entries if gone is None]


def _link(page: Any, name: str, problems: Problems, path: tuple[PathPart, ...]) -> str:
    value = page.get(name) if isinstance(page, Mapping) else None
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(Problem((*path, name), "expected a URL"))
        return ""
    return value


def _rounds(
    files: Sequence[Any],
    names: tuple[str, ...],
    problems: Problems,
    *,
    partial: bool,
    removed_id: Callable[[Any], str | None],
) -> dict[str, _Round]:
    """Each collection's items across the pages of `files`, in order.

    Args:
        files: the pages, each a file of collections.
        names: the collections a file may hold.
        problems: where problems go.
        partial: a delta round (removed entries allowed, links kept).
        removed_id: the id a removed entry names, None for a record.
    """
    rounds = {name: _Round() for name in names}
    counts: dict[str, tuple[tuple[PathPart, ...], int]] = {}
    for index, data in enumerate(files):
        prefix: tuple[PathPart, ...] = (index,) if len(files) > 1 else ()
        for name, page in _parts(data, names, problems, prefix).items():
            if page is None:
                continue
            found = rounds[name]
            where = (*prefix, name)
            count = page.get("@odata.count") if isinstance(page, Mapping) else None
            if isinstance(count, int) and not isinstance(count, bool) and name not in counts:
                limited = page.get("@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded")
                if limited is not True:
                    counts[name] = ((*where, "@odata.count"), count)
            found.next_link = _link(page, "@odata.nextLink", problems, where)
            found.delta_link = _link(page, "@odata.deltaLink", problems, where) or found.delta_link
            context = page.get("@odata.context") if isinstance(page, Mapping) else None
            if not partial and isinstance(context, str) and context.endswith("/$delta"):
                problems.append(
                    Problem(
                        (*where, "@odata.context"),
                        "a delta response (changes since a token) must be read as partial",
                    )
                )
            for path, item in _each(page, name, problems, prefix):
                gone = removed_id(item)
                if gone is None:
                    found.entries.append((path, item, None))
                elif not partial:
                    problems.append(
                        Problem(
                            path,
                            "a removed entry belongs to a delta round; read the round as "
                            "partial (only then is a missing record unchanged, not deleted)",
                        )
                    )
                elif gone:
                    found.entries.append((path, None, gone))
                else:
                    problems.append(Problem((*path, "id"), "a removed entry must name its id"))
    for name, found in rounds.items():
        if not partial and found.next_link:
            problems.append(
                Problem(
                    (*_last_page(files, name), "@odata.nextLink"),
                    "more pages follow this one: pass every page of the collection in order "
                    "(or read a delta round as partial); the records on the pages not read "
                    "would look deleted",
                )
            )
        if not partial and name in counts:
            path, count = counts[name]
            if count != len(found.items):
                problems.append(
                    Problem(path, f"says {count} records, but the pages hold {len(found.items)}")
                )
    return rounds


def _last_page(files: Sequence[Any], name: str) -> tuple[PathPart, ...]:
    for index in range(len(files) - 1, -1, -1):
        data = files[index]
        if isinstance(data, Mapping) and data.get(name) is not None:
            return (index, name) if len(files) > 1 else (name,)
    return (name,)


def _graph_removed(item: Any) -> str | None:
    """The Graph id of a removed entry (`"@removed": {"reason": ...}`), None for an item."""
    # `type(...) is dict` first: most items are, and it spares the Mapping ABC's check.
    if not (type(item) is dict or isinstance(item, Mapping)) or "@removed" not in item:
        return None
    found = item.get("id")
    return found if isinstance(found, str) and found.strip() else ""


def _dataverse_removed(item: Any) -> str | None:
    """The id of a Dataverse deleted entry (`$deletedEntity`, `"reason": "deleted"`)."""
    if not (type(item) is dict or isinstance(item, Mapping)):
        return None
    context = item.get("@odata.context")
    deleted = isinstance(context, str) and context.endswith("/$deletedEntity")
    if not deleted and item.get("reason") != "deleted":
        return None
    found = item.get("id")
    return found if isinstance(found, str) and found.strip() else ""


def _last_wins(entries: Sequence[tuple[str, Any]]) -> tuple[list[Any], set[str]]:
    """A delta round's records and removed keys, each key as its last delivery says.

    Args:
        entries: (key, record) in delivery order; record None for a removed entry.
    """
    last: dict[str, tuple[int, Any]] = {}
    for position, (key, record) in enumerate(entries):
        last[key] = (position, record)
    ordered = sorted(last.values(), key=lambda entry: entry[0])
    kept = [record for _, record in ordered if record is not None]
    return kept, {key for key, (_, record) in last.items() if record is None}


def _read(
    problems: Problems, path: tuple[PathPart, ...], read: Callable[[Any], T], item: Any
) -> T | None:
    try:
        return read(item)
    except InvalidInput as exc:
        problems.absorb(exc, *path)
        return None


Keyed = Mapping[tuple[Domain, str], str]


def _nested(flat: Keyed) -> dict[Domain, dict[str, str]]:
    nested: dict[Domain, dict[str, str]] = {}
    for (domain, key), value in flat.items():
        nested.setdefault(domain, {})[key] = value
    return nested


def _flat(nested: Mapping[Domain, Mapping[str, str]]) -> dict[tuple[Domain, str], str]:
    return {(domain, key): value for domain, keys in nested.items() for key, value in keys.items()}


@attrs.frozen(kw_only=True)
class ReadState:
    """What a round's reads keep for the next round: delta links, Graph ids and etags.

    One value for both sides, serializable with `crmsync.dumps` and read
    back with `crmsync.loads(text, ReadState)`. `Connection.read_dataverse`
    and `Connection.read_outlook` take the previous round's state and return
    the next one (`DataverseRead.state`, `GraphRead.state`), each replacing
    its own side's part and keeping the other's. Save it after the baseline
    it belongs to (`crmsync.files.write_in_order`).

    Attributes:
        graph_links: each Graph collection's `@odata.deltaLink`
            (`"contacts"`, `"tasks"`), where the next round starts.
        dataverse_links: each Dataverse table's `@odata.deltaLink`.
        graph_ids: per domain, key → Graph id, for the records keyed
            otherwise (`GraphRead.ids`).
        graph_etags: per domain, key → `@odata.etag` of every Graph record read.
        dataverse_etags: per domain, key → `@odata.etag` of every row read.
    """

    graph_links: Mapping[str, str] = attrs.field(factory=dict)
    dataverse_links: Mapping[str, str] = attrs.field(factory=dict)
    graph_ids: Mapping[Domain, Mapping[str, str]] = attrs.field(factory=dict)
    graph_etags: Mapping[Domain, Mapping[str, str]] = attrs.field(factory=dict)
    dataverse_etags: Mapping[Domain, Mapping[str, str]] = attrs.field(factory=dict)

    @property
    def ids(self) -> dict[tuple[Domain, str], str]:
        """`graph_ids` as `(domain, key)` → Graph id, as `GraphRead.ids` and `known_ids=` are."""
        return _flat(self.graph_ids)

    def with_graph(self, links: Mapping[str, str], ids: Keyed, etags: Keyed) -> ReadState:
        """This state with its Graph part replaced.

        Args:
            links: the Graph collections' delta links.
            ids: `(domain, key)` → Graph id.
            etags: `(domain, key)` → etag.

        Returns:
            A new state; the Dataverse part is this one's.
        """
        return attrs.evolve(
            self, graph_links=dict(links), graph_ids=_nested(ids), graph_etags=_nested(etags)
        )

    def with_dataverse(self, links: Mapping[str, str], etags: Keyed) -> ReadState:
        """This state with its Dataverse part replaced.

        Args:
            links: the Dataverse tables' delta links.
            etags: `(domain, key)` → etag.

        Returns:
            A new state; the Graph part is this one's.
        """
        return attrs.evolve(self, dataverse_links=dict(links), dataverse_etags=_nested(etags))


@attrs.frozen
class GraphRead:
    """A Graph read: the snapshot, the Graph id of each record keyed otherwise, the links.

    `ids` maps `(domain, key)` to the item's Graph `id` for the records whose
    key is the CRM id Dynamics wrote on them (`crmid`): a request to Graph
    needs the Graph id in its URL, and a removed entry of a later delta round
    names only the Graph id (keep `ids` and pass them back as `known_ids`).
    `delta_links` holds each collection's `@odata.deltaLink` (the next round
    starts there); `next_links` the `@odata.nextLink` of a delta round read
    before its end.

    Attributes:
        snapshot: the mailbox as an `OutlookSnapshot`, for `crmsync.plan()`.
        ids: `(domain, key)` → Graph `id`, only for records whose key is not
            their Graph id; pass it to `requests_for(graph_ids=...)`.
        etags: `(domain, key)` → the item's `@odata.etag` as read; pass it to
            `requests_for(graph_etags=...)` so that an update or delete is
            refused (412) if the item changed since. Plain strings, as
            serializable as `ids`.
        task_links: `(domain.TASK, key)` → every CRM task a To Do task links
            to, for the tasks that link to more than one (`resolve_links`
            keeps the one that names a live row).
        state: the state to pass to the next round's read
            (`Connection.read_outlook`), None from `read_graph`.
    """

    snapshot: OutlookSnapshot
    ids: Mapping[tuple[Domain, str], str]
    delta_links: Mapping[str, str] = attrs.field(factory=dict)
    next_links: Mapping[str, str] = attrs.field(factory=dict)
    etags: Mapping[tuple[Domain, str], str] = attrs.field(factory=dict)
    task_links: Mapping[tuple[Domain, str], tuple[str, ...]] = attrs.field(factory=dict)
    state: ReadState | None = None


@attrs.frozen
class DataverseRead:
    """A Dataverse read: the snapshot and each table's `@odata.deltaLink` (change tracking).

    `etags` maps `(domain, key)` to the row's `@odata.etag` as read; pass it
    to `requests_for(dataverse_etags=...)`. `state` is what
    `Connection.read_dataverse` returns for the next round (None from
    `read_dataverse`).
    """

    snapshot: CrmSnapshot
    delta_links: Mapping[str, str] = attrs.field(factory=dict)
    next_links: Mapping[str, str] = attrs.field(factory=dict)
    etags: Mapping[tuple[Domain, str], str] = attrs.field(factory=dict)
    state: ReadState | None = None


def _links(rounds: Mapping[str, _Round], partial: bool) -> tuple[dict[str, str], dict[str, str]]:
    delta = {name: r.delta_link for name, r in rounds.items() if r.delta_link}
    more = {name: r.next_link for name, r in rounds.items() if r.next_link and partial}
    return delta, more


@gc_paused
def read_graph(
    data: Any,
    *more: Any,
    partial: bool = False,
    known_ids: Mapping[tuple[Domain, str], str] | None = None,
    previous: OutlookSnapshot | None = None,
) -> GraphRead:
    """An Outlook snapshot, the Graph ids and the delta links, from Graph collections.

    Events of type occurrence (unmodified instances of a series, as
    `/calendarView` and `/calendarView/delta` list them) are skipped: their
    series master is the record. Tasks may be To Do `todoTask`s or
    `outlookTask`s.

    Args:
        data: a file of collections (`{"contacts": ..., "events": ...,
            "tasks": ...}`), the first page.
        *more: the following pages, in order.
        partial: a delta round (`contacts/delta`, `calendarView/delta`,
            `tasks/delta`): the snapshot is partial and `@removed` entries
            are its removed keys.
        known_ids: the `ids` of earlier reads, so that a removed entry, which
            names the Graph id, removes the record keyed by its CRM id.
        previous: the baseline's Outlook side (`Baseline.outlook`): a To Do
            task cannot hold a percent complete, so its percent is taken from
            the previous record of the same key unless its status crossed
            completed (see `graph.task_from_graph`).

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
    rounds = _rounds(
        (data, *more), _GRAPH_PARTS, problems, partial=partial, removed_id=_graph_removed
    )
    ids: dict[tuple[Domain, str], str] = {}
    etags: dict[tuple[Domain, str], str] = {}
    task_links: dict[tuple[Domain, str], tuple[str, ...]] = {}
    by_graph_id = {graph_id: key for (_, key), graph_id in (known_ids or {}).items()}
    removed: set[str] = set()

    def each(name: str, domain: Domain, read: Callable[[Any], K]) -> list[K]:
        entries: list[tuple[str, Any]] = []
        # Per key, the Graph id and path of its last delivery: a repeat delivery
        # of one item collapses, two items with one key are a bad page.
        delivered: dict[str, tuple[Any, tuple[PathPart, ...]]] = {}
        for path, item, gone in rounds[name].entries:
            if gone is not None:
                key = by_graph_id.get(gone, gone)
                if key in delivered and delivered[key][0] == gone:
                    del delivered[key]
                entries.append((key, None))
                continue
            if name == "events" and isinstance(item, dict) and item.get("type") == "occurrence":
                continue
            record = _read(problems, path, read, item)
            if record is None:
                continue
            graph_id = item.get("id")
            earlier = delivered.get(record.key)
            if partial and earlier is not None and earlier[0] != graph_id:
                first = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in earlier[1])
                problems.append(
                    Problem(
                        (*path, "key"),
                        f"duplicate key {record.key!r} (also at ${first}, another item)",
                    )
                )
                continue
            delivered[record.key] = (graph_id, path)
            if isinstance(graph_id, str) and graph_id != record.key:
                ids[(domain, record.key)] = graph_id
            found = etag(item)
            if found:
                etags[(domain, record.key)] = found
            if domain is Domain.TASK and len(links := _task_links(item)) > 1:
                task_links[(domain, record.key)] = links
            entries.append((record.key, record))
        if not partial:
            return [record for _, record in entries]
        kept, gone_keys = _last_wins(entries)
        removed.update(gone_keys)
        return kept

    # Each payload through its fast reader first, the detailed one on any doubt (`_fast`).
    contacts = each(
        "contacts",
        Domain.CONTACT,
        _fast.first_fast(_fast.contact_from_graph, graph.contact_from_graph),
    )
    events = each(
        "events",
        Domain.APPOINTMENT,
        _fast.first_fast(_fast.event_from_graph, graph.event_from_graph),
    )
    earlier: Mapping[str, Any] = previous.by_key["tasks"] if previous is not None else {}
    tasks = each(
        "tasks",
        Domain.TASK,
        _fast.first_fast(
            functools.partial(_fast.task_from_graph, previous=earlier),
            functools.partial(graph.task_from_graph, previous=earlier),
        ),
    )
    if problems:
        raise InvalidInput(problems)
    snapshot = OutlookSnapshot(
        contacts=contacts,
        appointments=events,
        tasks=tasks,
        complete=not partial,
        removed=_absent(removed, contacts, events, tasks),
    )
    delta, next_links = _links(rounds, partial)
    return GraphRead(
        snapshot=snapshot,
        ids=ids,
        delta_links=delta,
        next_links=next_links,
        etags=etags,
        task_links=task_links,
    )


def _absent(removed: set[str], *collections: Sequence[Any]) -> frozenset[str]:
    # A key removed in one collection and delivered in another is not removed.
    present = {record.key for records in collections for record in records}
    return frozenset(removed - present)


def outlook_snapshot_from_graph(data: Any, *more: Any, partial: bool = False) -> OutlookSnapshot:
    """An Outlook snapshot from Graph collections of contacts, events and tasks.

    Args:
        data: the first page (see `read_graph`).
        *more: the following pages, in order.
        partial: a delta round.

    Raises:
        InvalidInput: every problem in every item, with its path.
    """
    return read_graph(data, *more, partial=partial).snapshot


def crm_snapshot_from_dataverse(data: Any, *more: Any, partial: bool = False) -> CrmSnapshot:
    """A CRM snapshot from Dataverse collections (see `read_dataverse`).

    Raises:
        InvalidInput: every problem in every item, with its path.
    """
    return read_dataverse(data, *more, partial=partial).snapshot


@gc_paused
def read_dataverse(data: Any, *more: Any, partial: bool = False) -> DataverseRead:
    """A CRM snapshot, and each table's delta link, from Dataverse collections.

    Attachment rows (`activitymimeattachments`) join their appointment by
    `_objectid_value`; one whose appointment is not in the read is a problem
    (in a delta round too: read the attachment rows of the appointments in
    the round, and those appointments with every change to their attachments).

    A recurring series is a `recurringappointmentmasters` row, read as one
    appointment with its recurrence; its unmodified instances are
    `appointments` rows with `instancetypecode` 2, attributed to the series
    (`seriesid`) and not records of their own; its exceptions (3, 4) are
    appointments keyed to the series by `series_key` ("Create a recurring
    appointment series, instance, or exception").

    Args:
        data: a file of collections, the first page.
        *more: the following pages, in order.
        partial: a change-tracking round (`Prefer: odata.track-changes`, then
            the `@odata.deltaLink`): the snapshot is partial and deleted
            entries (`"reason": "deleted"`) are its removed keys.

    Raises:
        InvalidInput: every problem in every item, with its path.
    """
    problems = Problems()
    rounds = _rounds(
        (data, *more), _DATAVERSE_PARTS, problems, partial=partial, removed_id=_dataverse_removed
    )
    attached: dict[str, list[Attachment]] = defaultdict(list)
    owners: dict[str, tuple[PathPart, ...]] = {}
    for path, _, gone in rounds["activitymimeattachments"].entries:
        if gone is not None:
            problems.append(
                Problem(
                    path,
                    "a deleted attachment row names no appointment; read the appointment "
                    "and its attachment rows again instead",
                )
            )
    for path, item in rounds["activitymimeattachments"].items:
        found = _read(problems, path, dataverse.attachment_from_dataverse, item)
        if not isinstance(item, Mapping):
            continue  # reported once, by the attachment's own reader
        owner = Reader(item, path, problems).text("_objectid_value", required=True)
        if found is not None and owner:
            attached[owner].append(found)
            owners.setdefault(owner, path)
    removed: set[str] = set()
    etags: dict[tuple[Domain, str], str] = {}
    domains = {
        "contacts": Domain.CONTACT,
        "appointments": Domain.APPOINTMENT,
        "recurringappointmentmasters": Domain.APPOINTMENT,
        "tasks": Domain.TASK,
    }

    def each(name: str, read: Callable[[Any], K]) -> list[K]:
        entries: list[tuple[str, Any]] = []
        for path, item, gone in rounds[name].entries:
            if gone is not None:
                entries.append((gone, None))
                continue
            if _series_instance(item):
                continue  # its series is the record
            record = _read(problems, path, read, item)
            if record is not None:
                entries.append((record.key, record))
                if found := etag(item):
                    etags[(domains[name], record.key)] = found
        if not partial:
            return [record for _, record in entries]
        kept, gone_keys = _last_wins(entries)
        removed.update(gone_keys)
        return kept

    def appointment(item: Any) -> Appointment:
        key = item.get("activityid") if isinstance(item, dict) else None
        files = tuple(attached.pop(key, ())) if isinstance(key, str) else ()
        return _fast.first_fast(
            functools.partial(_fast.dataverse_appointment, attachments=files),
            functools.partial(dataverse.appointment_from_dataverse, attachments=files),
        )(item)

    # Each row through its fast reader first, the detailed one on any doubt (`_fast`).
    contacts = each(
        "contacts", _fast.first_fast(_fast.contact_from_dataverse, dataverse.contact_from_dataverse)
    )
    appointments = each("recurringappointmentmasters", appointment) + each(
        "appointments", appointment
    )
    for owner in attached:
        problems.append(
            Problem((*owners[owner], "_objectid_value"), f"no appointment {owner!r} in this file")
        )
    tasks = each(
        "tasks", _fast.first_fast(_fast.task_from_dataverse, dataverse.task_from_dataverse)
    )
    if problems:
        raise InvalidInput(problems)
    snapshot = CrmSnapshot(
        contacts=contacts,
        appointments=appointments,
        tasks=tasks,
        complete=not partial,
        removed=_absent(removed, contacts, appointments, tasks),
    )
    delta, next_links = _links(rounds, partial)
    return DataverseRead(snapshot=snapshot, delta_links=delta, next_links=next_links, etags=etags)


_task_links = _fast.first_fast(_fast.task_links, graph.task_links)


def _series_instance(item: Any) -> bool:
    """Whether a row is an unmodified instance of a series (`instancetypecode` 2)."""
    return (type(item) is dict or isinstance(item, Mapping)) and item.get("instancetypecode") == 2


_COLLECTIONS = {
    Domain.CONTACT: "contacts",
    Domain.APPOINTMENT: "appointments",
    Domain.TASK: "tasks",
}


_DERIVED_DEPTH = 4
"""How many creates in a row, each from the key the one before derived, a read follows."""


def _derived_pair(
    domain: Domain, key: str, live: Callable[[Domain, str], bool], paired: Mapping[str, Any]
) -> str | None:
    """The CRM row crmsync created from Outlook record `key`, or None.

    The row's id is derived from the key (`crm_id_for`). A pair found that way
    and re-created in the CRM after a CRM delete gets a row derived from the
    derived key, and so on: the chain is followed to the first row the CRM
    holds. Failing that, a derived key the baseline pairs is kept, so that a
    row deleted since reads as a CRM delete.
    """
    derived, known = key, None
    for _ in range(_DERIVED_DEPTH):
        derived = crm_id_for(domain, derived)
        if live(domain, derived):
            return derived
        if known is None and derived in paired:
            known = derived
    return known


def resolve_links(
    outlook: GraphRead, crm: CrmSnapshot, baseline: Baseline | None = None
) -> GraphRead:
    """The Outlook read with the links only the CRM's read can settle.

    - An Outlook record whose key the CRM does not hold, while the CRM holds
      the row crmsync creates from it (`crmsync.adapters.requests.crm_id_for`),
      is that row's pair: the create was made, its answer lost before the
      new id was written on the item. It is keyed by the row's id (its
      Graph id kept in `ids`), so the next plan pairs the two instead of
      copying each to the other side. Once the baseline holds the pair, the
      record keeps that key when the row is gone, so the plan sees the
      CRM's delete rather than a new Outlook record.
    - A To Do task that links to several CRM tasks is keyed by the one that
      names a row the CRM holds. When none does, the reader's choice (the
      first link) stays: the task then reads like any task whose CRM row
      is gone. When several do, the task is read as not tracked, so the
      plan leaves it alone with a `not_tracked` notice until a person
      removes the extra link.

    Args:
        outlook: the Outlook read.
        crm: the CRM snapshot read in the same round.
        baseline: the baseline of the next plan, through which a partial
            CRM snapshot is read (an unchanged row is still there).

    Returns:
        The read, re-keyed where a link was settled; `outlook` when none was.
    """
    previous = baseline.crm if baseline is not None else None
    paired = {
        name: baseline.outlook.by_key[name] if baseline is not None else {}
        for name in _COLLECTIONS.values()
    }

    def live(domain: Domain, key: str) -> bool:
        return current_record(crm, previous, _COLLECTIONS[domain], key) is not None

    ids, etags = dict(outlook.ids), dict(outlook.etags)
    snapshot = outlook.snapshot
    gone: set[str] = set()
    changed = False
    collections: dict[str, list[Any]] = {}
    for domain, name in _COLLECTIONS.items():
        records = list(snapshot.by_key[name].values())
        taken = {record.key for record in records}
        out = []
        for record in records:
            key = record.key
            candidates = outlook.task_links.get((domain, key), ())
            alive = [c for c in candidates if live(domain, c)]
            if len(alive) > 1:
                out.append(attrs.evolve(record, tracked=False))
                changed = True
                continue
            new = alive[0] if alive else None
            if new is None and not live(domain, key):
                new = _derived_pair(domain, key, live, paired[name])
            if new is None or new == key or new in taken:
                out.append(record)
                continue
            ids[(domain, new)] = ids.pop((domain, key), key)
            if (domain, key) in etags:
                etags[(domain, new)] = etags.pop((domain, key))
            taken.add(new)
            gone.add(key)
            out.append(attrs.evolve(record, key=new))
            changed = True
        collections[name] = out
    if not changed:
        return outlook
    rekeyed = attrs.evolve(
        snapshot,
        contacts=collections["contacts"],
        appointments=collections["appointments"],
        tasks=collections["tasks"],
        # A partial snapshot reads an absent key as unchanged: the old key is gone.
        removed=snapshot.removed | (frozenset() if snapshot.complete else frozenset(gone)),
    )
    return attrs.evolve(outlook, snapshot=rekeyed, ids=ids, etags=etags)
