"""Runs a plan against Microsoft Graph and the Dataverse Web API (extra `crmsync[http]`).

This is shell, not core: it does I/O with httpx, and nothing else in crmsync
imports it. A `Connection` holds the service roots and a token callable per
service (the caller's credentials; crmsync has no auth code). It reads both
sides into snapshots, and `Connection.execute` runs the requests of
`crmsync.adapters.requests.requests_by_op` in dependency order:

- Graph requests that are ready together go in JSON `$batch` requests of up
  to 20 (each ready request's dependencies have already succeeded, so no
  `dependsOn` is needed; a value a request takes from another's response is
  filled before it is batched). Dataverse requests go one by one.
- A 429 or 503 (of a request, or of one request inside a batch) is retried
  after its `Retry-After` (seconds or an HTTP date; exponential when absent),
  at most `max_retries` times; `sleep` is injectable.
- A request that fails fails its op; the requests that depend on it do not
  run and their ops are reported as not done; everything else runs. A
  `DELETE` of something already gone (404, or a linked resource that is
  not there) is done. An update or delete
  refused with 412 (its `If-Match` etag is not the record's any more) is not
  done and says so (`OpOutcome.changed_since_read`).
- A create whose id crmsync chose (`Request.read_back`) and that the
  service refuses because the record exists (an earlier attempt whose
  answer was lost made it), or answers without the record, is read back:
  it is done, and the record read is its answer.

`Executed.baseline()` is the baseline for the ops that were done, built on
the plan's `baseline_updates` with `crmsync.apply.advance_baseline`: a
record whose op was not done keeps its previous baseline entry, so the next
plan picks it up again.
"""

from __future__ import annotations

import base64
import copy
import email.utils
import hashlib
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

import attrs
import httpx

from crmsync.adapters import DataverseRead, GraphRead, read_dataverse, read_graph, resolve_links
from crmsync.adapters import dataverse as dataverse_adapter
from crmsync.adapters import graph as graph_adapter
from crmsync.adapters.dataverse import API_ROOT
from crmsync.adapters.requests import (
    AttachmentBytes,
    AttachmentId,
    Fill,
    FromResponse,
    LinkedResourceId,
    OpRef,
    Param,
    Request,
    Unknown,
    requests_by_op,
)
from crmsync.apply import advance_baseline
from crmsync.plan import Action, BaselineUpdate, Op, Plan
from crmsync.records import (
    Appointment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    Domain,
    OutlookSnapshot,
    Side,
    Task,
)

__all__ = ["GRAPH_URL", "Connection", "Executed", "OpOutcome"]

GRAPH_URL: Final = "https://graph.microsoft.com/v1.0"
"""The Graph service root the request URLs are relative to."""

_RETRY_STATUSES = (429, 503)
_GRAPH_PROPERTIES = (
    graph_adapter.CRMID_PROPERTY,
    graph_adapter.REGARDING_PROPERTY,
    graph_adapter.OBJECT_TYPE_PROPERTY,
    graph_adapter.MAILING_ADDRESS_PROPERTY,
)
_DATAVERSE_HEADERS = {
    "Accept": "application/json",
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
}


class _Failed(Exception):
    """A request that did not succeed, and why."""


class _Absent(_Failed):
    """A linked resource a request names is not there (for a `DELETE`: done, as a 404 is)."""


@attrs.frozen(kw_only=True)
class OpOutcome:
    """What happened to one op.

    Args:
        op: the op.
        done: whether every request of the op succeeded (an op without
            requests, an `UNLINK`, is done).
        requests: the ids of the op's requests that succeeded.
        error: why the op was not done ('' when it was).
        new_key: for a create in the CRM, the id the service gave the row.
        linked_back: for a create in the CRM, whether the new row's id was
            written on the Outlook item it came from.
        changed_since_read: the service refused a write because the record
            is no longer the one read (412 on its `If-Match` etag): nothing
            was overwritten, and the next plan starts from what is there now.
        created: for a create in the CRM, the row as the service holds it
            (the create's answer, or a read-back), as a record; None when
            the answer held no row crmsync could read.
    """

    op: Op
    done: bool
    requests: tuple[str, ...] = ()
    error: str = ""
    new_key: str | None = None
    linked_back: bool = False
    changed_since_read: bool = False
    created: CrmContact | Appointment | Task | None = None


@attrs.frozen(kw_only=True)
class Executed:
    """The outcome of running a plan: one `OpOutcome` per op, in the plan's order."""

    plan: Plan
    outcomes: tuple[OpOutcome, ...]

    @property
    def done(self) -> tuple[Op, ...]:
        """The ops that were carried out."""
        return tuple(o.op for o in self.outcomes if o.done)

    @property
    def not_done(self) -> tuple[OpOutcome, ...]:
        """The ops that were not carried out, with why: the next plan picks them up."""
        return tuple(o for o in self.outcomes if not o.done)

    @property
    def complete(self) -> bool:
        """True when every op was carried out."""
        return all(o.done for o in self.outcomes)

    def baseline(self, previous: Baseline | None) -> Baseline:
        """The baseline after this run: it advances only for the records whose ops were done.

        A record created in the CRM is keyed in the baseline by the id the
        service gave it, as the next read keys both sides of the pair. When
        the CRM create succeeded but writing its id on the Outlook item (the
        link-back) failed, both records are marked `unlinked` (the CRM row
        under its new id, the Outlook item under its own key): the next plan
        never creates either again. Read with the CRM snapshot
        (`read_outlook(crm=...)`), the item is paired with the row by the id
        derived from it; otherwise the plan links them by natural key where
        the domain has one (contacts, appointments) and reports each with an
        `unlinked` notice until the application links them.

        Args:
            previous: the baseline the plan was made with (None on a first sync).
        """
        held: set[tuple[Domain, str]] = set()
        for outcome in self.not_done:
            op = outcome.op
            domain = Domain.APPOINTMENT if op.domain is Domain.ATTACHMENT else op.domain
            held.add((domain, op.key))
            # A LINK re-keys the Outlook record: its pair's entry would be under the CRM key.
            held.update((domain, str(c.new)) for c in op.changes if c.field == "key")
        new_keys = {
            (o.op.domain, o.op.key): o.new_key
            for o in self.outcomes
            if o.done and o.new_key is not None and o.new_key != o.op.key
        }
        stored = {
            (o.op.domain, o.op.key): o.created
            for o in self.outcomes
            if o.done and o.created is not None and o.op.action is Action.CREATE
        }
        updates = [
            _as_stored(
                _rekeyed(update, new_keys.get((update.domain, update.key))),
                stored.get((update.domain, update.key)),
            )
            for update in self.plan.baseline_updates
            if (update.domain, update.key) not in held
        ]
        for outcome in self.not_done:
            op = outcome.op
            if op.action is not Action.CREATE or op.side is not Side.CRM or not outcome.new_key:
                continue
            if not outcome.linked_back:
                # Created in the CRM, not linked back: neither side may be created again.
                updates.extend(
                    BaselineUpdate(domain=op.domain, key=key, unlinked=True)
                    for key in sorted({op.key, outcome.new_key})
                )
                continue
            # Created and linked, but its regarding record could not be bound: the pair
            # is kept without it, so the next plan sees Outlook's regarding as a change.
            updates.extend(
                _without_regarding(_as_stored(_rekeyed(update, outcome.new_key), outcome.created))
                for update in self.plan.baseline_updates
                if (update.domain, update.key) == (op.domain, op.key)
            )
        return advance_baseline(self.plan, previous, updates)


def _as_stored(
    update: BaselineUpdate, created: CrmContact | Appointment | Task | None
) -> BaselineUpdate:
    """The update with the values the service set on the row it created (its owner).

    Without them the next read would show the service's values as a CRM
    user's edit of the pair.
    """
    if created is None or update.crm is None:
        return update
    return attrs.evolve(update, crm=dataverse_adapter.with_server_values(update.crm, created))


def _without_regarding(update: BaselineUpdate) -> BaselineUpdate:
    def cleared(record: Any) -> Any:
        return attrs.evolve(record, regarding="") if hasattr(record, "regarding") else record

    return attrs.evolve(
        update,
        crm=None if update.crm is None else cleared(update.crm),
        outlook=None if update.outlook is None else cleared(update.outlook),
    )


def _rekeyed(update: BaselineUpdate, key: str | None) -> BaselineUpdate:
    if key is None:
        return update
    return attrs.evolve(
        update,
        key=key,
        crm=None if update.crm is None else attrs.evolve(update.crm, key=key),
        outlook=None if update.outlook is None else attrs.evolve(update.outlook, key=key),
    )


# ---------------------------------------------------------------------------
# JSON pointers (RFC 6901)


def _parts(pointer: str) -> list[str]:
    if not pointer:
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def _get(document: Any, pointer: str) -> Any:
    for part in _parts(pointer):
        document = document[int(part)] if isinstance(document, list) else document[part]
    return document


def _set(document: Any, pointer: str, value: Any) -> None:
    *path, last = _parts(pointer)
    parent = _get(document, "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in path))
    if isinstance(parent, list):
        parent[int(last)] = value
    else:
        parent[last] = value


# ---------------------------------------------------------------------------
# HTTP with retries


def _delay(response: httpx.Response | Mapping[str, Any], attempt: int) -> float:
    """How long to wait before retrying: `Retry-After` (seconds or an HTTP date), else backoff."""
    headers = response.headers if isinstance(response, httpx.Response) else response
    lowered = {str(k).lower(): str(v) for k, v in dict(headers).items()}
    value = lowered.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            return max(0.0, moment.timestamp() - time.time())
    return float(min(2**attempt, 60))


def _error(response: httpx.Response) -> str:
    try:
        detail = response.json().get("error", {})
        message = f" {detail.get('code', '')}: {detail.get('message', '')}".rstrip(": ")
    except (ValueError, AttributeError):
        message = ""
    return f"{response.request.method} {response.request.url}: {response.status_code}{message}"


def _json(response: httpx.Response) -> Any:
    if not response.content:
        entity = response.headers.get("OData-EntityId")
        return {"@odata.id": entity} if entity else {}
    try:
        return response.json()
    except ValueError:
        return {}


@attrs.define(kw_only=True)
class Connection:
    """The user's mailbox (Graph) and the CRM (Dataverse Web API), with the caller's credentials.

    Args:
        graph_token: returns a bearer token for Graph (called for each HTTP
            request: cache and refresh it as your auth library does).
        dataverse_url: the organization URL (`https://contoso.crm.dynamics.com`).
        dataverse_token: returns a bearer token for Dataverse.
        graph_url: the Graph service root.
        client: the httpx client to send with (a default one when None).
        sleep: how to wait before a retry (`time.sleep`; tests pass a recorder).
        max_retries: retries of one request on 429 and 503.
        batch_size: Graph requests per `$batch` (Graph takes at most 20).
        todo_list: the To Do list of the user's tasks (the default list when None).
    """

    graph_token: Callable[[], str]
    dataverse_url: str
    dataverse_token: Callable[[], str]
    graph_url: str = GRAPH_URL
    client: httpx.Client = attrs.field(factory=lambda: httpx.Client(timeout=60))
    sleep: Callable[[float], None] = time.sleep
    max_retries: int = 5
    batch_size: int = 20
    todo_list: str | None = None
    _attachments: dict[tuple[Side, str], list[tuple[str, str, str, str]]] = attrs.field(
        factory=dict, init=False
    )
    _refused: set[str] = attrs.field(factory=set, init=False)  # request ids answered 412

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the httpx client (a `with Connection(...)` block does it on leaving)."""
        self.client.close()

    # -- sending -------------------------------------------------------------

    def _root(self, service: str) -> str:
        return (self.graph_url if service == "graph" else self.dataverse_url).rstrip("/")

    def _headers(self, service: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        token = self.graph_token() if service == "graph" else self.dataverse_token()
        headers = {"Authorization": f"Bearer {token}"}
        if service == "dataverse":
            headers |= _DATAVERSE_HEADERS
        return headers | dict(extra or {})

    def _send(
        self,
        service: str,
        method: str,
        url: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request, retried on 429 and 503; the last response."""
        target = url if url.startswith("http") else self._root(service) + url
        attempt = 0
        while True:
            response = self.client.request(
                method, target, json=body, headers=self._headers(service, headers)
            )
            if response.status_code not in _RETRY_STATUSES or attempt >= self.max_retries:
                return response
            self.sleep(_delay(response, attempt))
            attempt += 1

    def _get(self, service: str, url: str) -> Any:
        response = self._send(service, "GET", url)
        if not response.is_success:
            raise _Failed(_error(response))
        return _json(response)

    def _collection(self, service: str, url: str) -> list[Any]:
        """Every item of a collection, following `@odata.nextLink`."""
        items: list[Any] = []
        next_url: str | None = url
        while next_url:
            page = self._get(service, next_url)
            items.extend(page.get("value", []))
            next_url = page.get("@odata.nextLink")
        return items

    # -- reading -------------------------------------------------------------

    def read_outlook(
        self, baseline: Baseline | None = None, *, crm: CrmSnapshot | None = None
    ) -> GraphRead:
        """The mailbox's contacts, events (with attachments) and To Do tasks, read from Graph.

        Args:
            baseline: the baseline of the next plan: a To Do task's percent
                complete, which To Do cannot hold, is read from its Outlook
                side (`read_graph(previous=...)`).
            crm: the CRM snapshot of the same round: links only the CRM can
                settle are settled (`crmsync.adapters.resolve_links`: a row
                created from an item whose answer was lost, a To Do task
                that links to several CRM tasks). Read the CRM first.

        Raises:
            InvalidInput: a payload crmsync cannot read, with its path.
            httpx.HTTPError: the service could not be reached; a failed read
                raises too (a partial read would look like deletes).
        """
        props = " or ".join(f"id eq '{p}'" for p in _GRAPH_PROPERTIES)
        extended = f"singleValueExtendedProperties($filter={props})"
        try:
            data = {
                "contacts": self._collection("graph", f"/me/contacts?$expand={extended}"),
                "events": self._collection("graph", f"/me/events?$expand=attachments,{extended}"),
                "tasks": self._collection(
                    "graph",
                    f"/me/todo/lists/{quote(self._todo_list(), safe='=-_')}/tasks"
                    "?$expand=linkedResources",
                ),
            }
        except _Failed as exc:
            raise httpx.HTTPError(str(exc)) from None
        read = read_graph(data, previous=baseline.outlook if baseline is not None else None)
        return read if crm is None else resolve_links(read, crm, baseline)

    def read_crm(self) -> CrmSnapshot:
        """The CRM's contacts, appointments (with attendees and attachments) and tasks.

        `read_dataverse().snapshot`; `read_dataverse()` keeps the rows' etags too.

        Raises:
            InvalidInput: a payload crmsync cannot read, with its path.
            httpx.HTTPError: the service could not be reached or refused a read.
        """
        return self.read_dataverse().snapshot

    def read_dataverse(self) -> DataverseRead:
        """The CRM as `read_crm` reads it, with each row's etag (`DataverseRead.etags`).

        Raises:
            InvalidInput: a payload crmsync cannot read, with its path.
            httpx.HTTPError: the service could not be reached or refused a read.
        """
        parties = "appointment_activity_parties($select=participationtypemask,addressused)"
        try:
            data = {
                "contacts": self._collection("dataverse", f"{API_ROOT}/contacts"),
                "appointments": self._collection(
                    "dataverse", f"{API_ROOT}/appointments?$expand={parties}"
                ),
                "tasks": self._collection("dataverse", f"{API_ROOT}/tasks"),
                "activitymimeattachments": self._collection(
                    "dataverse",
                    f"{API_ROOT}/activitymimeattachments?$filter=objecttypecode eq 'appointment'",
                ),
            }
        except _Failed as exc:
            raise httpx.HTTPError(str(exc)) from None
        return read_dataverse(data)

    def _todo_list(self) -> str:
        if self.todo_list is None:
            lists = self._collection("graph", "/me/todo/lists")
            default = [x for x in lists if x.get("wellknownListName") == "defaultList"]
            if not default:
                raise _Failed("the mailbox has no default To Do list; pass todo_list=")
            self.todo_list = str(default[0]["id"])
        return self.todo_list

    # -- filling in ----------------------------------------------------------

    def _held(
        self, side: Side, key: str, graph_ids: Mapping[tuple[Domain, str], str]
    ) -> list[tuple[str, str, str, str]]:
        """`(content_hash, name, id, base64)` of every file attached to appointment `key`."""
        if (side, key) not in self._attachments:
            if side is Side.OUTLOOK:
                item = quote(graph_ids.get((Domain.APPOINTMENT, key), key), safe="=-_")
                url, names = f"/me/events/{item}/attachments", ("name", "id", "contentBytes")
                items = self._collection("graph", url)
            else:
                url = f"{API_ROOT}/activitymimeattachments?$filter=_objectid_value eq {key}"
                names = ("filename", "activitymimeattachmentid", "body")
                items = self._collection("dataverse", url)
            held = []
            for item in items:
                name, id_, data = (str(item.get(n) or "") for n in names)
                try:
                    digest = hashlib.sha256(base64.b64decode(data, validate=True)).hexdigest()
                except ValueError:  # not a file attachment, or no valid content
                    continue
                if data and id_:
                    held.append(("sha256:" + digest, name, id_, data))
            self._attachments[(side, key)] = held
        return self._attachments[(side, key)]

    def _value(
        self,
        fill: Fill,
        responses: Mapping[str, Any],
        graph_ids: Mapping[tuple[Domain, str], str],
    ) -> str:
        ref = fill.value
        if isinstance(ref, FromResponse):
            response = responses[ref.request]
            try:
                value = _get(response, ref.pointer)
            except (KeyError, IndexError, TypeError, ValueError):
                entity = response.get("@odata.id", "") if isinstance(response, dict) else ""
                if not entity.endswith(")"):  # 204 with OData-EntityId: the id in parentheses
                    raise _Failed(f"no {ref.pointer} in the response to {ref.request}") from None
                value = entity.rsplit("(", 1)[1][:-1]
            return str(value)
        if isinstance(ref, Unknown):
            raise _Failed(f"cannot be carried out: {ref.what}")
        if isinstance(ref, Param):
            if ref.name == "todo_list":
                return self._todo_list()
            raise _Failed(f"no value for the parameter {ref.name!r}")
        if isinstance(ref, LinkedResourceId):
            task = quote(graph_ids.get((Domain.TASK, ref.key), ref.key), safe="=-_")
            url = f"/me/todo/lists/{self._todo_list()}/tasks/{task}/linkedResources"
            for link in self._collection("graph", url):
                if (
                    isinstance(link, dict)
                    and link.get("displayName") == ref.name
                    and link.get("id")
                    and (not ref.external_id or link.get("externalId") == ref.external_id)
                ):
                    return str(link["id"])
            raise _Absent(f"To Do task {ref.key!r} has no linked resource {ref.name!r}")
        assert isinstance(ref, AttachmentBytes | AttachmentId)  # noqa: S101 - the Ref union
        for content_hash, name, id_, data in self._held(ref.side, ref.key, graph_ids):
            if (content_hash, name) == (ref.content_hash, ref.name):
                return data if isinstance(ref, AttachmentBytes) else id_
        raise _Failed(f"{ref.side} holds no attachment {ref.name!r} ({ref.content_hash})")

    def _filled(
        self,
        request: Request,
        responses: Mapping[str, Any],
        graph_ids: Mapping[tuple[Domain, str], str],
    ) -> tuple[str, Any]:
        url, body = request.url, copy.deepcopy(request.body)
        for fill in request.fills:
            value = fill.template.replace("{}", self._value(fill, responses, graph_ids))
            if fill.where == "url":
                safe = "=-_" if request.service == "graph" else "-"
                url = url.replace(f"{{{fill.at}}}", quote(value, safe=safe))
            else:
                _set(body, fill.at, value)
        return url, body

    # -- executing -----------------------------------------------------------

    def execute(
        self,
        plan: Plan,
        crm: CrmSnapshot,
        outlook: OutlookSnapshot,
        *,
        graph_ids: Mapping[tuple[Domain, str], str] | None = None,
        baseline: Baseline | None = None,
        graph_etags: Mapping[tuple[Domain, str], str] | None = None,
        dataverse_etags: Mapping[tuple[Domain, str], str] | None = None,
    ) -> Executed:
        """Runs a plan's requests in dependency order and says what was done per op.

        Args:
            plan: the plan, made from `crm` and `outlook`.
            crm: the CRM snapshot the plan was made from.
            outlook: the Outlook snapshot the plan was made from.
            graph_ids: the Graph ids of Outlook records keyed otherwise
                (`read_outlook().ids`).
            baseline: the baseline the plan was made from; needed when the
                snapshots are partial (delta rounds), where an op's record may
                be only in the baseline.
            graph_etags: the etags of the Outlook records as read
                (`read_outlook().etags`): updates and deletes send `If-Match`.
            dataverse_etags: the etags of the CRM rows as read
                (`read_dataverse().etags`).

        Returns:
            One outcome per op; `Executed.baseline()` advances the baseline
            for the ops that were done.

        Raises:
            StalePlan: an op names a record the snapshots do not hold.
        """
        ids = graph_ids or {}
        self._attachments.clear()
        self._refused.clear()
        by_op = requests_by_op(
            plan,
            crm,
            outlook,
            todo_list="{todoTaskListId}",
            graph_ids=ids,
            baseline=baseline,
            graph_etags=graph_etags,
            dataverse_etags=dataverse_etags,
        )
        waiting = [r for requests in by_op.values() for r in requests]
        responses: dict[str, Any] = {}
        failures: dict[str, str] = {}
        while waiting:
            ready, blocked = [], []
            for request in waiting:
                failed = [d for d in request.depends_on if d in failures]
                if failed:
                    failures[request.id] = f"not run: it waits for {failed[0]}, which failed"
                elif all(d in responses for d in request.depends_on):
                    ready.append(request)
                else:
                    blocked.append(request)
            if not ready:
                for request in blocked:  # cannot happen with requests_by_op's order
                    failures[request.id] = "not run: its dependencies never ran"
                break
            self._run(ready, responses, failures, ids)
            waiting = blocked
        return Executed(
            plan=plan,
            outcomes=tuple(
                _outcome(op, by_op, responses, failures, self._refused) for op in plan.ops
            ),
        )

    def _run(
        self,
        ready: Sequence[Request],
        responses: dict[str, Any],
        failures: dict[str, str],
        graph_ids: Mapping[tuple[Domain, str], str],
    ) -> None:
        """Runs requests whose dependencies have succeeded: Graph's in batches."""
        prepared: list[tuple[Request, str, Any]] = []
        for request in ready:
            try:
                url, body = self._filled(request, responses, graph_ids)
            except _Absent as exc:
                if request.method == "DELETE":  # nothing to delete: done, as a 404 is
                    responses[request.id] = {}
                else:
                    failures[request.id] = str(exc)
                continue
            except (_Failed, httpx.HTTPError) as exc:
                failures[request.id] = str(exc)
                continue
            prepared.append((request, url, body))
        graph = [p for p in prepared if p[0].service == "graph"]
        for start in range(0, len(graph), self.batch_size):
            chunk = graph[start : start + self.batch_size]
            if len(chunk) == 1:
                self._one(*chunk[0], responses, failures)
            else:
                self._batch(chunk, responses, failures)
        for request, url, body in prepared:
            if request.service == "dataverse":
                self._one(request, url, body, responses, failures)

    def _one(
        self,
        request: Request,
        url: str,
        body: Any,
        responses: dict[str, Any],
        failures: dict[str, str],
    ) -> None:
        headers = dict(request.headers)
        try:
            response = self._send(request.service, request.method, url, body, headers)
            if request.read_back and _read_back(request, response):
                response = self._send(request.service, "GET", request.read_back)
        except httpx.HTTPError as exc:
            failures[request.id] = f"{request.method} {url}: {exc}"
            return
        if response.is_success or (request.method == "DELETE" and response.status_code == 404):
            responses[request.id] = _json(response)
        else:
            if response.status_code == 412:
                self._refused.add(request.id)
            failures[request.id] = _error(response)

    def _batch(
        self,
        chunk: Sequence[tuple[Request, str, Any]],
        responses: dict[str, Any],
        failures: dict[str, str],
    ) -> None:
        """One Graph JSON `$batch`; requests throttled inside it are retried in a smaller one."""
        todo = {str(i): item for i, item in enumerate(chunk, 1)}
        attempts = 0
        while todo:
            entries = []
            for batch_id, (request, url, body) in todo.items():
                entry: dict[str, Any] = {"id": batch_id, "method": request.method, "url": url}
                if body is not None:
                    entry["body"] = body
                    entry["headers"] = {"Content-Type": "application/json", **request.headers}
                elif request.headers:  # If-Match on a DELETE
                    entry["headers"] = dict(request.headers)
                entries.append(entry)
            try:
                response = self._send("graph", "POST", "/$batch", {"requests": entries})
            except httpx.HTTPError as exc:
                for request, _url, _body in todo.values():
                    failures[request.id] = f"POST /$batch: {exc}"
                return
            if not response.is_success:
                for request, _url, _body in todo.values():
                    failures[request.id] = _error(response)
                return
            retry: dict[str, tuple[Request, str, Any]] = {}
            wait = 0.0
            for answer in _json(response).get("responses", []):
                batch_id = str(answer.get("id"))
                if batch_id not in todo:
                    continue
                request, url, body = todo[batch_id]
                status = int(answer.get("status", 500))
                if status in _RETRY_STATUSES and attempts < self.max_retries:
                    retry[batch_id] = todo[batch_id]
                    wait = max(wait, _delay(answer.get("headers") or {}, attempts))
                elif 200 <= status < 300 or (request.method == "DELETE" and status == 404):
                    responses[request.id] = answer.get("body") or {}
                else:
                    if status == 412:
                        self._refused.add(request.id)
                    error = (answer.get("body") or {}).get("error", {})
                    failures[request.id] = (
                        f"{request.method} {url}: {status} "
                        f"{error.get('code', '')}: {error.get('message', '')}"
                    ).rstrip(": ")
            for batch_id, (request, _url, _body) in todo.items():
                if batch_id not in retry and request.id not in responses | failures:
                    failures[request.id] = f"{request.method} {_url}: no response in the batch"
            if retry:
                self.sleep(wait)
                attempts += 1
            todo = retry


def _read_back(request: Request, response: httpx.Response) -> bool:
    """Whether a create whose id crmsync chose must read its record instead of its answer.

    Dataverse refuses a primary key that exists with 412 and `0x80040237`
    ("A record with matching key values already exists"): the id is derived
    from the record copied, so only an earlier attempt of this create made
    it. A service that ignored `Prefer: return=representation` answers 204.
    """
    if response.status_code == 412:
        try:
            code = response.json().get("error", {}).get("code", "")
        except (ValueError, AttributeError):
            return False
        return str(code).lower() == "0x80040237"
    asked = "return=representation" in request.headers.get("Prefer", "")
    return response.is_success and asked and not response.content


def _outcome(
    op: Op,
    by_op: Mapping[OpRef, Iterable[Request]],
    responses: Mapping[str, Any],
    failures: Mapping[str, str],
    refused: Collection[str] = (),
) -> OpOutcome:
    requests = list(by_op[OpRef.of(op)])
    succeeded = tuple(r.id for r in requests if r.id in responses)
    errors = [failures[r.id] for r in requests if r.id in failures]
    new_key = None
    created = None
    if op.side is Side.CRM and op.action is Action.CREATE and op.domain is not Domain.ATTACHMENT:
        first = responses.get(requests[0].id) if requests else None
        column = "contactid" if op.domain is Domain.CONTACT else "activityid"
        if isinstance(first, dict):
            entity = str(first.get("@odata.id", ""))
            found = first.get(column) or (entity.rsplit("(", 1)[1][:-1] if "(" in entity else None)
            new_key = None if found is None else str(found)
            if new_key is not None and column in first:
                created = dataverse_adapter.stored_record(op.domain, first, key=new_key)
    return OpOutcome(
        op=op,
        done=len(succeeded) == len(requests),
        requests=succeeded,
        error=errors[0] if errors else "",
        new_key=new_key,
        linked_back=new_key is not None
        and all(r.id in responses for r in requests if r.service == "graph"),
        changed_since_read=any(r.id in refused for r in requests),
        created=created,
    )
