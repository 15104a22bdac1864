"""A small stateful stand-in for Microsoft Graph and the Dataverse Web API, over real HTTP.

Test your sync service the way `moto` or `respx` let you test AWS or HTTP
code: start `FakeMicrosoft`, seed records with `add()`, point a
`crmsync.http.Connection` at `url` and `graph_url` (with
`allow_loopback_http=True` and the tokens `GRAPH_TOKEN` and
`DATAVERSE_TOKEN`), run your rounds and look at `graph` and `dataverse`.
It needs only the standard library; crmsync's own executor tests use it.

It serves the subset crmsync reads and writes: Graph contacts, events (with
file attachments), To Do lists and tasks and JSON `$batch`; Dataverse
contacts, appointments (with activity parties), tasks and
activitymimeattachments. The server assigns ids; collections are paged
(`@odata.nextLink`); `throttle()` answers the next matching requests with 429
and `Retry-After`, also inside a batch; `fail()` answers them with an error;
`lose()` carries them out and then drops the connection without an answer
(a write that commits but whose response is lost). Every request is logged.
Bearer tokens are checked per service.

What crmsync relies on behaves as Microsoft documents it: every item and row
has an `@odata.etag` that changes on every write (`edit()` is a user's write);
`If-Match` with another etag is refused with 412 (Graph
`ErrorIrresolvableConflict`, Dataverse `0x80060882`); a Dataverse `POST` may
choose the row's primary key, and one that exists is refused with 412
(`0x80040237`); a file bound to an appointment that is gone is refused
(404, `0x80040217`); Dataverse sets `_ownerid_value` and `createdon` on create; a
Graph event `POST` whose `transactionId` was seen before creates nothing and
answers with the event it created then. An event attachment of 3 MB or more
sent as one `POST` is refused (413): it goes through an upload session
(`.../attachments/createUploadSession` with an `AttachmentItem`, answered with
an `uploadUrl` on another path), whose ranged `PUT`s must come in order, with
`Content-Range`, in multiples of 320 KiB of at most 4 MB, and without an
Authorization header (the URL is pre-authenticated); the last is answered 201
with the attachment's URL in `Location` ("Attach large files to Outlook
messages or events"). An `isAllDay` event whose start or end is not midnight,
or whose start and end are in different zones, is refused (400), as the event
resource documents; an event `PATCH` holding `organizer` changes nothing there
(Graph's update does not take it).

Hostile answers, for the executor's transport guarantees: `answer()` sends
any status, headers and body (raw bytes: an HTML page, truncated JSON) or a
page with any `@odata.nextLink`; `reset()` closes the connection without an
answer, before the request is carried out or after (`commit=True`: the write
takes effect and its response is lost, also for a whole `$batch`);
`rewrite_batch` changes a `$batch` answer before it is sent (ids twice or
missing, bad statuses, string bodies, list headers). `authorizations` keeps
every Authorization header received, so a test can see where a token went.
`chaos` answers random requests with faults that lose no committed write
(429, 503, 504, resets before the request is carried out), counted by kind
in `faults`; with `chaos_lose`, a random write also commits and then loses
its answer (`lost`; a write inside a `$batch`, or the `$batch` itself, loses
the whole batch's answer: `lost_in_batch`), as a connection dropped after
the service carried the request out would. `remove()` is a user's delete.

Delta rounds, as Graph's delta query and Dataverse change tracking document
them: `GET /me/contacts/delta` (or `/me/contactFolders/{id}/contacts/delta`),
`/me/calendarView/delta?startDateTime=...&endDateTime=...` (the window is
required on the first request) and `/me/todo/lists/{id}/tasks/delta`; a
Dataverse collection `GET` with `Prefer: odata.track-changes`. The first
round lists everything; its pages are linked by `@odata.nextLink` and the
last carries an `@odata.deltaLink` whose `$deltatoken` starts the next round,
which lists what was created or changed since (by a request, `add()` or
`edit()`) and what was deleted: Graph's `{"@odata.type", "id", "@removed":
{"reason": "deleted"}}`, Dataverse's `{"@odata.context":
".../$metadata#TABLE/$deletedEntity", "id", "reason": "deleted"}`. A round is
read as it was when its first page was asked for; an unknown token is 410.

    with FakeMicrosoft() as fake:
        fake.url                    # http://127.0.0.1:PORT
        fake.graph_url              # .../v1.0
        fake.add("dataverse", "contacts", {"firstname": "Ann"})  # -> the new contactid

What it does not cover: Graph and Dataverse beyond those collections (mail,
other calendars, shared mailboxes, `$select` and `$filter` beyond one
`column eq 'value'`, which it ignores or answers from the whole row), the
Dataverse multipart `$batch`, OAuth (any request with the right bearer token
is the user), server-side validation of field values, time passing
(`Retry-After` is only a header; upload sessions and delta tokens never
expire), and Microsoft's exact error messages. A calendar view's delta
lists events (series masters included) whose start and end, read as UTC
whatever their `timeZone`, overlap the window; it neither expands a series
into occurrences nor reports an event that moved out of the window.
Changes made by writing the dicts directly are not seen by delta rounds.
Use `FakeMicrosoft` as a fake of the protocol, not of a tenant's data rules.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import random
import re
import socket
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from crmsync.errors import CrmsyncError

__all__ = [
    "API",
    "DATAVERSE_TOKEN",
    "GRAPH_TOKEN",
    "LARGE",
    "OWNER",
    "RESET",
    "Answer",
    "FakeMicrosoft",
    "NotRunning",
    "SeedRefused",
    "organizer_party",
]

GRAPH_TOKEN = "graph-token"  # noqa: S105 - the fake services' own tokens
"""The bearer token the fake Graph accepts (`Authorization: Bearer graph-token`)."""
DATAVERSE_TOKEN = "dataverse-token"  # noqa: S105
"""The bearer token the fake Dataverse accepts."""
API = "/api/data/v9.2"
"""The Dataverse Web API's path under `FakeMicrosoft.url`."""

_DATAVERSE_KEYS = {
    "contacts": "contactid",
    "appointments": "activityid",
    "recurringappointmentmasters": "activityid",
    "tasks": "activityid",
    "activitymimeattachments": "activitymimeattachmentid",
}
LARGE = 3 * 1024 * 1024  # Graph: a single POST only under 3 MB; an upload session from 3 MB
"""An event attachment this size or larger must go through an upload session."""
_RANGE_UNIT = 320 * 1024
_RANGE_MAX = 4 * 1024 * 1024
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_ACTIVITIES = {"appointments", "recurringappointmentmasters", "tasks"}
_OPEN_STATUS = {
    "tasks": {2, 3, 4, 7},
    "appointments": {1, 2},
    "recurringappointmentmasters": {1, 2},
}
_STATUS_STATE = {  # the status reasons of each state (table reference: StatusCode options)
    "tasks": {2: 0, 3: 0, 4: 0, 7: 0, 5: 1, 6: 2},
    "appointments": {1: 0, 2: 0, 3: 1, 4: 2, 5: 3, 6: 3},
    "recurringappointmentmasters": {1: 0, 2: 0, 3: 1, 4: 2, 5: 3, 6: 3},
}
_MAX_LENGTH = {  # MaxLength of the columns crmsync writes (Dataverse table reference)
    "appointments": {"subject": 200, "location": 200, "category": 250},
    "recurringappointmentmasters": {"subject": 200, "location": 200},
    "tasks": {"subject": 200, "description": 2000},
    "contacts": {
        "firstname": 50, "lastname": 50, "jobtitle": 100, "department": 100,
        "description": 2000, "telephone1": 50, "telephone2": 50, "mobilephone": 50,
        "emailaddress1": 100, "emailaddress2": 100, "emailaddress3": 100,
    },
}  # fmt: skip
_READ_ONLY = {  # columns not valid for create or update
    "recurringappointmentmasters": {"scheduledstart", "scheduledend", "instancetypecode"},
    "appointments": {"instancetypecode", "seriesid"},
    "activitymimeattachments": {"filesize"},
}
_SERIES_ONLY = {  # recurringappointmentmaster columns the appointment table does not have
    "recurrencepatterntype", "interval", "patternstartdate", "daysofweekmask", "dayofmonth",
    "monthofyear", "instance", "patternendtype", "patternenddate", "occurrences", "starttime",
    "endtime", "recurringappointmentmaster_activity_parties",
}  # fmt: skip
_ADD_RECURRENCE = re.compile(r"^/appointments\(([^)]*)\)/Microsoft\.Dynamics\.CRM\.AddRecurrence$")
_BIND = re.compile(r"^objectid_(\w+)@odata\.bind$")
_ROW = re.compile(r"^/(\w+)\(([^)]*)\)$")
_EQ = re.compile(r"^\s*(\w+) eq '?([^']*)'?\s*$")
OWNER = "6b2a1c3d-0000-4000-8000-00000000aaaa"  # the systemuser Dataverse makes the owner
"""The `_ownerid_value` the fake Dataverse sets on every row it creates."""
LOST = 0  # the status `handle` answers for a response to drop

Answer = tuple[int, dict[str, str], Any]
"""An answer: status, headers, and a JSON body (None for none, `bytes` sent as they are)."""
RESET = object()
"""As an answer's body: close the connection without answering."""
_COMMIT_THEN_LOSE = object()  # a chaos fault: carry the request out, then drop the answer


class SeedRefused(CrmsyncError, ValueError):
    """`FakeMicrosoft.add` or `attach` was refused, as the service would refuse the request."""


class NotRunning(CrmsyncError, RuntimeError):
    """The server is not running: use `FakeMicrosoft` as a context manager."""


class _Rule:
    """The next `times` requests `match(method, path)` accepts get this answer."""

    def __init__(
        self,
        match: Callable[[str, str], bool],
        times: int,
        answer: Answer,
        *,
        commit: bool = False,
    ) -> None:
        self.match, self.times, self.answer, self.commit = match, times, answer, commit


class FakeMicrosoft:
    """Graph and Dataverse in one in-memory server; use as a context manager.

    The server listens on 127.0.0.1 on a free port from `__enter__` to
    `__exit__`, and answers from several threads; every request is carried
    out under one lock. Its state is plain dicts a test may read (and seed
    with `add()`, `attach()` and `edit()`): `graph` maps "contacts",
    "events" and "tasks" to items by id, `attachments` maps an event id to
    its attachments by id, `dataverse` maps a table to rows by primary key.
    `log` holds (method, path) of every request, each request of a
    `$batch` too; `authorizations` every Authorization header received.

    Args:
        page_size: items per page of a collection; the rest follow by
            `@odata.nextLink`. A small size makes every read page.
        todo_list: the id of the user's default To Do list.

    Example:
        ```py
        with FakeMicrosoft(page_size=2) as fake:
            fake.add("graph", "contacts", {"givenName": "Ann"})
            fake.throttle(lambda method, path: method == "POST", times=2)
        ```
    """

    def __init__(self, *, page_size: int = 50, todo_list: str = "AQMkTasks") -> None:
        self.page_size = page_size
        self.representation = True  # False: ignore `Prefer: return=representation` (204 only)
        self.todo_list = todo_list
        self.graph: dict[str, dict[str, dict[str, Any]]] = {
            "contacts": {},
            "events": {},
            "tasks": {},
        }
        self.attachments: dict[str, dict[str, dict[str, Any]]] = {}  # event id -> id -> item
        self.dataverse: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in _DATAVERSE_KEYS}
        self.log: list[tuple[str, str]] = []  # (method, path) of every request, batched too
        self.authorizations: list[str] = []  # the Authorization header of every HTTP request
        self.rewrite_batch: Callable[[list[dict[str, Any]]], Any] | None = None
        self.chaos: random.Random | None = None  # set with a seeded Random to inject faults
        self.chaos_rate = 0.1
        self.chaos_lose = False  # True: chaos also commits writes and loses their answer
        self.faults: dict[str, int] = {}
        self._rules: list[_Rule] = []
        self._losses: list[tuple[Callable[[str, str], bool], int]] = []
        self._transactions: dict[str, str] = {}  # Graph event transactionId -> event id
        self.sessions: dict[str, dict[str, Any]] = {}  # upload session id -> its state
        self._removed: dict[tuple[str, str], dict[str, int]] = {}  # deletes for delta rounds
        self._deltas: dict[str, tuple[str, str, int, dict[str, str]]] = {}  # token -> its round
        self._rounds: dict[str, tuple[list[dict[str, Any]], str]] = {}  # delta pages as read
        self._counter = 0
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # -- life ------------------------------------------------------------------

    def __enter__(self) -> FakeMicrosoft:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                octets = self.headers.get("Content-Type", "").startswith("application/octet")
                body = raw if octets else json.loads(raw) if raw else None
                status, headers, payload = fake.handle(
                    self.command, self.path, dict(self.headers.items()), body
                )
                if payload is RESET:  # the client sees the connection closed, no answer
                    self.close_connection = True
                    return
                if status == LOST:  # committed; the answer never reaches the client
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                blob = isinstance(payload, bytes)
                data = payload if blob else b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if data and not blob:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        """The server's root, `http://127.0.0.1:PORT`: the Dataverse organization URL.

        Raises:
            NotRunning: outside the `with` block.
        """
        if self._server is None:
            raise NotRunning("FakeMicrosoft is not running: use it in a `with` block")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def graph_url(self) -> str:
        """Graph's root on this server, `url` + `/v1.0`, for `Connection(graph_url=...)`."""
        return f"{self.url}/v1.0"

    # -- test controls -----------------------------------------------------------

    def throttle(
        self, match: Callable[[str, str], bool], *, times: int = 1, retry_after: str = "1"
    ) -> None:
        """The next `times` requests `match(method, path)` accepts get 429 and `Retry-After`.

        Requests inside a Graph `$batch` are matched one by one: a throttled one
        gets its 429 as its own response in the batch, as Graph answers.

        Args:
            match: takes the method and the decoded path (`/v1.0/me/contacts`,
                `/api/data/v9.2/contacts(...)`), without the query.
            times: how many matching requests are throttled.
            retry_after: the `Retry-After` header, seconds or an HTTP date.
        """
        self._rules.append(_Rule(match, times, _error(429, {"Retry-After": retry_after})))

    def fail(self, match: Callable[[str, str], bool], *, times: int = 1, status: int = 500) -> None:
        """The next `times` requests `match(method, path)` accepts get `status`.

        The answer is an error in Microsoft's shape, `{"error": {"code", "message"}}`;
        the request is not carried out.

        Args:
            match: as for `throttle`.
            times: how many matching requests fail.
            status: the HTTP status to answer.
        """
        self._rules.append(_Rule(match, times, _error(status, {})))

    def answer(
        self,
        match: Callable[[str, str], bool],
        *,
        times: int = 1,
        status: int = 200,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """The next `times` matching requests get this answer; `bytes` bodies are sent as they are.

        A JSON body is not checked against anything: a test may answer a page whose
        `@odata.nextLink` names another host, or a collection without `value`.

        Args:
            match: as for `throttle`.
            times: how many matching requests get it.
            status: the HTTP status.
            headers: the response headers.
            body: JSON-able data, `bytes` sent as they are, or `RESET`.
        """
        self._rules.append(_Rule(match, times, (status, dict(headers or {}), body)))

    def reset(
        self, match: Callable[[str, str], bool], *, times: int = 1, commit: bool = False
    ) -> None:
        """The next `times` matching requests get no answer: the connection is closed.

        With `commit`, the request is carried out first (a write takes effect, every
        request of a `$batch` too) and only its response is lost.

        Args:
            match: as for `throttle`.
            times: how many matching requests are reset.
            commit: carry the request out before closing the connection.
        """
        self._rules.append(_Rule(match, times, (0, {}, RESET), commit=commit))

    def lose(self, match: Callable[[str, str], bool], *, times: int = 1) -> None:
        """The next `times` requests `match` accepts are carried out, then their answer is lost.

        Inside a `$batch`, the whole batch's answer is lost (its connection drops).

        Args:
            match: as for `throttle`.
            times: how many matching requests are lost.
        """
        self._losses.append((match, times))

    def _lost(self, method: str, path: str) -> bool:
        for i, (match, times) in enumerate(self._losses):
            if match(method, path):
                if times <= 1:
                    del self._losses[i]
                else:
                    self._losses[i] = (match, times - 1)
                return True
        return False

    def edit(self, service: str, collection: str, item_id: str, **changes: Any) -> None:
        """A user's write between crmsync's read and its write: the values, and a new etag.

        Args:
            service: "graph" or "dataverse".
            collection: "contacts", "events" or "tasks" in Graph; a table in Dataverse.
            item_id: the item's Graph id or the row's primary key.
            **changes: the properties or columns to set, as the service names them.

        Raises:
            KeyError: no such item.
        """
        with self._lock:
            store = self.graph if service == "graph" else self.dataverse
            item = store[collection][item_id]
            item.update(changes)
            item["@odata.etag"] = self._etag()
            # Both services stamp every write (NEWEST_WINS compares these).
            item["lastModifiedDateTime" if service == "graph" else "modifiedon"] = self._now()

    def remove(self, service: str, collection: str, item_id: str) -> None:
        """A user's delete, as the service carries it out (an event's attachments go too)."""
        with self._lock:
            if service == "graph":
                del self.graph[collection][item_id]
                self.attachments.pop(item_id, None)
                # A delta round reports it, as it reports a DELETE request's.
                self._removed.setdefault(("graph", collection), {})[item_id] = self._tick()
            else:
                self._dataverse_call("DELETE", f"{API}/{collection}({item_id})", {}, {}, None)

    def add(self, service: str, collection: str, body: dict[str, Any]) -> str:
        """Creates an item as a client would; returns the id the server gave it.

        The item gets what the service sets on a create: an id, an etag, the
        modification time; a Dataverse row its owner (`OWNER`) and `createdon`.

        Args:
            service: "graph" or "dataverse".
            collection: "contacts", "events" or "tasks" (the default To Do list)
                in Graph; "contacts", "appointments", "tasks" or
                "activitymimeattachments" in Dataverse.
            body: the item as a client would send it in a `POST`.

        Returns:
            The Graph id, or the row's primary key.

        Raises:
            SeedRefused: the service would refuse the `POST` (an all-day event
                not at midnight, a row whose chosen key exists, ...).
        """
        with self._lock:
            if service == "graph":
                if collection == "tasks":
                    path = f"/me/todo/lists/{self.todo_list}/tasks"
                else:
                    path = f"/me/{collection}"
                status, _headers, item = self._graph("POST", path, {}, copy.deepcopy(body))
                if status != 201:
                    raise SeedRefused(f"{service} {collection}: {status} {item}")
                return str(item["id"])
            status, _headers, item = self._dataverse_call(
                "POST", f"{API}/{collection}", {}, {"prefer": "return=representation"}, body
            )
            if status != 201:
                raise SeedRefused(f"{service} {collection}: {status} {item}")
            return str(item[_DATAVERSE_KEYS[collection]])

    def attach(self, event_id: str, name: str, content: str) -> str:
        """Attaches a file (base64 `content`) to a Graph event; returns the attachment's id.

        Args:
            event_id: the Graph event's id.
            name: the file's name.
            content: the file's bytes, base64-encoded (under `LARGE` once decoded).

        Raises:
            SeedRefused: no such event, no bytes, or `LARGE` or more.
        """
        body = {"@odata.type": "#microsoft.graph.fileAttachment", "name": name}
        body |= {"contentType": "text/plain", "contentBytes": content}
        with self._lock:
            status, _headers, item = self._attachment(event_id, [], "POST", "", {}, body)
        if status != 201:
            raise SeedRefused(f"attachment {name}: {status} {item}")
        return str(item["id"])

    # -- dispatch -----------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        if prefix == "guid":
            return str(uuid.UUID(int=self._counter))
        return f"{prefix}{self._counter:04d}="

    def _etag(self) -> str:
        self._counter += 1
        return f'W/"{self._counter}"'

    def _now(self) -> str:
        return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")

    def _ruled(self, method: str, path: str, *, top: bool = False) -> _Rule | None:
        """The rule for this request, counted down; only top-level requests can be reset."""
        for i, rule in enumerate(self._rules):
            if rule.match(method, path) and (top or rule.answer[2] is not RESET):
                rule.times -= 1
                if rule.times <= 0:
                    del self._rules[i]
                return rule
        return None

    def handle(self, method: str, target: str, headers: dict[str, str], body: Any) -> Answer:
        """Answers one HTTP request: (status, headers, JSON body or None).

        The HTTP server calls it for every request; a test may call it directly
        to ask the fake without a socket.

        Args:
            method: the HTTP method.
            target: the request target, path and query.
            headers: the request's headers.
            body: the parsed JSON body, `bytes` for `application/octet-stream`, or None.

        Returns:
            The answer; a body of `RESET`, or a status of 0, means no answer.
        """
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        lowered = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            self.log.append((method, path))
            self.authorizations.append(lowered.get("authorization", ""))
            rule = self._ruled(method, path, top=True)
            if rule is not None and not rule.commit:
                return rule.answer
            batch = path == "/v1.0/$batch"
            fault = self._fault(top=True, write=method != "GET", batch=batch)
            if fault is not None and fault is not _COMMIT_THEN_LOSE:
                return cast(Answer, fault)
            lost = self._lost(method, path) or fault is _COMMIT_THEN_LOSE
            answer = self._serve(method, path, query, lowered, body)
            if lost or answer[0] == LOST:
                return LOST, {}, None
            return rule.answer if rule is not None else answer

    def _fault(self, *, top: bool, write: bool = False, batch: bool = False) -> Any:
        """A random fault from `chaos`, or None; only a top-level request can be reset.

        `_COMMIT_THEN_LOSE` (with `chaos_lose`, for a write) means: carry the
        request out, then drop the answer.
        """
        if self.chaos is None or self.chaos.random() >= self.chaos_rate:
            return None
        kinds = ["429", "503", "504", "reset"] if top else ["429", "503"]
        if write and self.chaos_lose:
            kinds.append("lost")
        kind = self.chaos.choice(kinds)
        if kind == "lost" and (batch or not top):
            kind = "lost_in_batch"
        self.faults[kind] = self.faults.get(kind, 0) + 1
        if kind.startswith("lost"):
            return _COMMIT_THEN_LOSE
        if kind == "reset":
            return 0, {}, RESET
        retry_after = {"Retry-After": str(self.chaos.randint(0, 3))} if kind == "429" else {}
        return _error(int(kind), retry_after)

    def _serve(
        self, method: str, path: str, query: dict[str, str], lowered: dict[str, str], body: Any
    ) -> Answer:
        """Answers a request no rule took, as the service would."""
        if path.startswith("/upload/") and method == "PUT":
            return self._upload(path.removeprefix("/upload/"), lowered, body)
        if path.startswith("/v1.0"):
            if lowered.get("authorization") != f"Bearer {GRAPH_TOKEN}":
                return 401, {}, {"error": {"code": "InvalidAuthenticationToken"}}
            if path == "/v1.0/$batch" and method == "POST":
                return self._batch(body)
            return self._graph(method, path.removeprefix("/v1.0"), query, body, lowered)
        if path.startswith(API):
            if lowered.get("authorization") != f"Bearer {DATAVERSE_TOKEN}":
                return 401, {}, {"error": {"code": "0x80040220"}}
            return self._dataverse_call(method, path, query, lowered, body)
        return 404, {}, {"error": {"code": "NotFound"}}

    def _page(self, items: list[dict[str, Any]], path: str, query: dict[str, str]) -> Answer:
        skip = int(query.get("$skiptoken", "0"))
        page = items[skip : skip + self.page_size]
        out: dict[str, Any] = {"value": copy.deepcopy(page)}
        if skip + self.page_size < len(items):
            rest = "&".join(f"{k}={v}" for k, v in query.items() if k != "$skiptoken")
            sep = "&" if rest else ""
            prefix = "/v1.0" if not path.startswith(API) else ""
            out["@odata.nextLink"] = (
                f"{self.url}{prefix}{path}?{rest}{sep}$skiptoken={skip + self.page_size}"
            )
        return 200, {}, out

    # -- Graph ------------------------------------------------------------------------

    def _batch(self, body: Any) -> Answer:
        requests = body.get("requests", []) if isinstance(body, dict) else []
        if len(requests) > 20:
            return 400, {}, {"error": {"code": "BadRequest", "message": "more than 20"}}
        responses = []
        lost = False
        for item in requests:
            url = str(item["url"])
            parts = urlsplit(url)
            path = unquote(parts.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            method = str(item["method"]).upper()
            self.log.append((method, "/v1.0" + path))
            lowered = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
            lost = lost or self._lost(method, "/v1.0" + path)
            rule = self._ruled(method, "/v1.0" + path)
            answer = (
                rule.answer if rule is not None else self._fault(top=False, write=method != "GET")
            )
            if answer is _COMMIT_THEN_LOSE:
                lost, answer = True, None
            if answer is None or isinstance(answer[2], bytes):
                answer = self._graph(method, path, query, copy.deepcopy(item.get("body")), lowered)
            status, headers, payload = answer
            responses.append(
                {"id": item["id"], "status": status, "headers": headers, "body": payload}
            )
        if lost:
            return LOST, {}, None
        responses.reverse()  # Graph answers in any order
        if self.rewrite_batch is not None:
            return 200, {}, self.rewrite_batch(responses)
        return 200, {}, {"responses": responses}

    def _graph(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        headers = headers or {}
        segments = [s for s in path.split("/") if s]
        if segments[:1] != ["me"]:
            return 404, {}, {"error": {"code": "NotFound"}}
        rest = segments[1:]
        if method == "GET" and rest[-1:] == ["delta"]:
            return self._graph_delta(rest[:-1], path, query)
        if rest[:2] == ["todo", "lists"]:
            if len(rest) == 2:
                lists = [{"id": self.todo_list, "wellknownListName": "defaultList"}]
                return 200, {}, {"value": lists}
            if len(rest) < 4 or rest[2] != self.todo_list or rest[3] != "tasks":
                return 404, {}, {"error": {"code": "NotFound"}}
            if len(rest) >= 6 and rest[5] == "linkedResources":
                return self._linked(rest[4], rest[6:], method, path, query, body)
            return self._items("tasks", rest[4:], method, path, query, body, headers)
        if rest[:1] in (["contacts"], ["events"]):
            if rest[0] == "events" and len(rest) >= 3 and rest[2] == "attachments":
                return self._attachment(rest[1], rest[3:], method, path, query, body)
            return self._items(rest[0], rest[1:], method, path, query, body, headers)
        return 404, {}, {"error": {"code": "NotFound"}}

    def _graph_view(self, name: str, item: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        out = copy.deepcopy(item)
        if name == "events" and "attachments" in query.get("$expand", ""):
            out["attachments"] = list(copy.deepcopy(self.attachments.get(item["id"], {})).values())
        return out

    def _items(
        self,
        name: str,
        rest: list[str],
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        headers: dict[str, str],
    ) -> Answer:
        store = self.graph[name]
        if not rest:
            if method == "GET":
                items = [self._graph_view(name, i, query) for i in store.values()]
                return self._page(items, path, query)
            if method == "POST":
                item = dict(body or {})
                if name == "events" and not _all_day_ok(item):
                    return 400, {}, {"error": {"code": "ErrorInvalidRequest", "message": _ALL_DAY}}
                transaction = item.get("transactionId") if name == "events" else None
                made = self._transactions.get(transaction) if transaction else None
                if made is not None and made in store:  # a retry: the event made the first time
                    return 201, {}, copy.deepcopy(store[made])
                # Graph documents no answer for an id whose event is gone: make a new one.
                prefix = {"contacts": "AAMkC", "events": "AAMkE"}.get(name, "AAkT")
                item["id"] = self._next_id(prefix)
                if transaction:
                    self._transactions[transaction] = item["id"]
                item["lastModifiedDateTime"] = self._now()
                item["@odata.etag"] = self._etag()
                for link in item.get("linkedResources", []):  # created inline, with ids
                    link["id"] = self._next_id("AAkL")
                if name == "events":
                    item["iCalUId"] = f"040000008200E00074C5B7101A82E008{self._counter:08d}"
                    item["type"] = "seriesMaster" if item.get("recurrence") else "singleInstance"
                    self.attachments[item["id"]] = {}
                store[item["id"]] = item
                return 201, {}, copy.deepcopy(item)
            return 405, {}, None
        item_id = rest[0]
        if item_id not in store:
            return 404, {}, {"error": {"code": "ErrorItemNotFound"}}
        if method == "GET":
            return 200, {}, self._graph_view(name, store[item_id], query)
        if not _matches(headers, store[item_id]):
            message = "The change key passed in the request does not match the item's."
            return 412, {}, {"error": {"code": "ErrorIrresolvableConflict", "message": message}}
        if method == "PATCH":
            item = store[item_id]
            if name == "events" and not _all_day_ok({**item, **(body or {})}):
                return 400, {}, {"error": {"code": "ErrorInvalidRequest", "message": _ALL_DAY}}
            for key, value in (body or {}).items():
                if name == "events" and key == "organizer":
                    continue  # accepted and not changed: Graph's event update does not take it
                if key == "singleValueExtendedProperties":
                    held = {p["id"]: p for p in item.get(key, [])}
                    held.update({p["id"]: p for p in value})
                    item[key] = list(held.values())
                else:
                    item[key] = value
            item["lastModifiedDateTime"] = self._now()
            item["@odata.etag"] = self._etag()
            return 200, {}, copy.deepcopy(item)
        if method == "DELETE":
            del store[item_id]
            self.attachments.pop(item_id, None)
            self._removed.setdefault(("graph", name), {})[item_id] = self._tick()
            return 204, {}, None
        return 405, {}, None

    def _linked(
        self,
        task_id: str,
        rest: list[str],
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
    ) -> Answer:
        """A To Do task's linkedResources: list, create, update and delete."""
        task = self.graph["tasks"].get(task_id)
        if task is None:
            return 404, {}, {"error": {"code": "ErrorItemNotFound"}}
        links: list[dict[str, Any]] = task.setdefault("linkedResources", [])
        if not rest and method == "GET":
            return self._page(copy.deepcopy(links), path, query)
        if not rest and method == "POST":
            link = dict(body or {})
            link["id"] = self._next_id("AAkL")
            links.append(link)
            task["lastModifiedDateTime"] = self._now()
            task["@odata.etag"] = self._etag()
            return 201, {}, copy.deepcopy(link)
        found = [link for link in links if rest and link.get("id") == rest[0]]
        if not found:
            return 404, {}, {"error": {"code": "ErrorItemNotFound"}}
        if method == "PATCH":
            found[0].update(body or {})
        elif method == "DELETE":
            links.remove(found[0])
        else:
            return 405, {}, None
        task["lastModifiedDateTime"] = self._now()
        task["@odata.etag"] = self._etag()
        return (200, {}, copy.deepcopy(found[0])) if method == "PATCH" else (204, {}, None)

    def _attachment(
        self,
        event_id: str,
        rest: list[str],
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
    ) -> Answer:
        if event_id not in self.graph["events"]:
            return 404, {}, {"error": {"code": "ErrorItemNotFound"}}
        held = self.attachments.setdefault(event_id, {})
        if not rest and method == "GET":
            return self._page(list(held.values()), path, query)
        if rest == ["createUploadSession"] and method == "POST":
            spec = (body or {}).get("AttachmentItem") or {}
            if spec.get("attachmentType") != "file" or not spec.get("name"):
                return 400, {}, {"error": {"code": "ErrorInvalidRequest", "message": "item"}}
            session = self._next_id("session")
            self.sessions[session] = {"event": event_id, "item": spec, "bytes": b""}
            answer = {
                "uploadUrl": f"{self.url}/upload/{session}",
                "expirationDateTime": self._now(),
                "nextExpectedRanges": ["0-"],
            }
            return 201, {}, answer
        if not rest and method == "POST":
            item = dict(body or {})
            if not item.get("contentBytes"):
                return 400, {}, {"error": {"code": "ErrorInvalidRequest", "message": "no bytes"}}
            if len(base64.b64decode(item["contentBytes"])) >= LARGE:
                error = {"code": "ErrorRequestEntityTooLarge", "message": "use an upload session"}
                return 413, {}, {"error": error}
            item["id"] = self._next_id("AAMkA")
            held[item["id"]] = item
            self.graph["events"][event_id]["lastModifiedDateTime"] = self._now()
            self.graph["events"][event_id]["@odata.etag"] = self._etag()
            return 201, {}, copy.deepcopy(item)
        if rest and method == "DELETE":
            if held.pop(rest[0], None) is None:
                return 404, {}, {"error": {"code": "ErrorItemNotFound"}}
            return 204, {}, None
        return 405, {}, None

    def _upload(self, session_id: str, headers: dict[str, str], body: Any) -> Answer:
        """One ranged `PUT` of an upload session, checked as Graph documents the ranges."""
        session = self.sessions.get(session_id)
        if session is None:
            return 404, {}, {"error": {"code": "ErrorItemNotFound"}}
        if headers.get("authorization"):  # the uploadUrl is pre-authenticated
            return 401, {}, {"error": {"code": "InvalidAuthenticationToken"}}
        found = _CONTENT_RANGE.match(headers.get("content-range", ""))
        data = body if isinstance(body, bytes) else b""
        size = int(session["item"].get("size") or 0)
        held = session["bytes"]
        if found is None:
            return 400, {}, {"error": {"code": "InvalidContentRange"}}
        first, last, total = map(int, found.groups())
        last_range = last + 1 == total
        if (
            first != len(held)
            or total != size
            or last - first + 1 != len(data)
            or len(data) > _RANGE_MAX
            or (not last_range and len(data) % _RANGE_UNIT)
        ):
            return 416, {}, {"error": {"code": "InvalidRange", "message": "bad range"}}
        session["bytes"] = held = held + data
        if not last_range:
            return 200, {}, {"nextExpectedRanges": [f"{len(held)}-"]}
        del self.sessions[session_id]
        event_id = session["event"]
        item = {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "id": self._next_id("AAMkA"),
            "name": session["item"]["name"],
            "contentType": session["item"].get("contentType", "application/octet-stream"),
            "size": size,
            "contentBytes": base64.b64encode(held).decode(),
        }
        self.attachments.setdefault(event_id, {})[item["id"]] = item
        self.graph["events"][event_id]["@odata.etag"] = self._etag()
        where = f"https://outlook.office.com/api/v2.0/Users('me')/Events('{event_id}')"
        return 201, {"Location": f"{where}/Attachments('{item['id']}')"}, None

    # -- Dataverse ----------------------------------------------------------------------

    def _dataverse_call(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> Answer:
        rest = path.removeprefix(API)
        converted = _ADD_RECURRENCE.match(rest)
        if converted and method == "POST":
            return self._add_recurrence(converted.group(1), body or {})
        row = _ROW.match(rest)
        table, row_id = (row.group(1), row.group(2)) if row else (rest.strip("/"), None)
        if table not in self.dataverse:
            return 404, {}, {"error": {"code": "0x80060888", "message": f"no table {table}"}}
        store = self.dataverse[table]
        key = _DATAVERSE_KEYS[table]
        if row_id is None:
            if method == "GET" and (
                "odata.track-changes" in headers.get("prefer", "")
                or "$deltatoken" in query
                or query.get("$skiptoken", "").partition(".")[0] in self._rounds
            ):
                return self._dataverse_delta(table, path, query)
            if method == "GET":
                items = list(store.values())
                terms = [_EQ.match(t) for t in query.get("$filter", "").split(" or ")]
                if all(terms):  # `a eq 'x'` or `a eq 'x' or a eq 'y'`
                    wanted = {(t.group(1), t.group(2)) for t in terms if t}
                    items = [i for i in items if any(str(i.get(c)) == v for c, v in wanted)]
                return self._page([self._dataverse_view(table, i) for i in items], path, query)
            if method == "POST":
                chosen = (body or {}).get(key)
                if chosen is not None and str(chosen) in store:
                    message = "A record with matching key values already exists."
                    return 412, {}, {"error": {"code": "0x80040237", "message": message}}
                refused = _refusal(table, {}, body or {}, create=True)
                if refused:
                    return 400, {}, {"error": {"code": "0x80040203", "message": refused}}
                item = self._dataverse_write({}, body or {})
                item[key] = str(chosen) if chosen is not None else self._next_id("guid")
                item["modifiedon"] = item["createdon"] = self._now()
                item["@odata.etag"] = self._etag()
                if table != "activitymimeattachments":
                    item["_ownerid_value"] = OWNER
                if table == "activitymimeattachments":
                    item["filesize"] = len(base64.b64decode(str(item.get("body") or "")))
                    if not item.get("body"):
                        return 400, {}, {"error": {"code": "0x80040203", "message": "no body"}}
                    activities = {**self.dataverse["appointments"]}
                    activities.update(self.dataverse.get("recurringappointmentmasters", {}))
                    if item.get("_objectid_value") not in activities:
                        # A lookup bound to a row that is gone: Dataverse refuses the create.
                        message = "appointment With Id = {} Does Not Exist"
                        message = message.format(item.get("_objectid_value"))
                        return 404, {}, {"error": {"code": "0x80040217", "message": message}}
                if table in _ACTIVITIES:
                    item.setdefault("statecode", 0)
                    default = 2 if table == "tasks" else 1
                    item.setdefault("statuscode", default)
                store[item[key]] = item
                if table == "recurringappointmentmasters":
                    self._expand(item)
                entity = {"OData-EntityId": f"{self.url}{API}/{table}({item[key]})"}
                if self.representation and headers.get("prefer") == "return=representation":
                    return 201, entity, self._dataverse_view(table, item)
                return 204, entity, None
            return 405, {}, None
        if row_id not in store:
            return 404, {}, {"error": {"code": "0x80040217", "message": "does not exist"}}
        if method == "GET":
            return 200, {}, self._dataverse_view(table, store[row_id])
        if not _matches(headers, store[row_id]):
            message = "The version of the existing record doesn't match the one provided."
            return 412, {}, {"error": {"code": "0x80060882", "message": message}}
        if method == "PATCH":
            refused = _refusal(table, store[row_id], body or {}, create=False)
            if refused:
                return 400, {}, {"error": {"code": "0x80040203", "message": refused}}
            store[row_id] = self._dataverse_write(store[row_id], body or {})
            store[row_id]["modifiedon"] = self._now()
            store[row_id]["@odata.etag"] = self._etag()
            return 204, {}, None
        if method == "DELETE":
            del store[row_id]
            self._removed.setdefault(("dataverse", table), {})[row_id] = self._tick()
            if table == "recurringappointmentmasters":  # its instances go with it
                appointments = self.dataverse["appointments"]
                for instance_id, instance in list(appointments.items()):
                    if instance.get("seriesid") == row_id:
                        del appointments[instance_id]
            if table in ("appointments", "recurringappointmentmasters"):
                files = self.dataverse["activitymimeattachments"]
                for attachment_id, attachment in list(files.items()):
                    if attachment.get("_objectid_value") == row_id:
                        del files[attachment_id]
                        gone = self._removed.setdefault(
                            ("dataverse", "activitymimeattachments"), {}
                        )
                        gone[attachment_id] = self._tick()
            return 204, {}, None
        return 405, {}, None

    def _expand(self, master: dict[str, Any]) -> None:
        """A series' first instances, as `appointment` rows with `instancetypecode` 2.

        "Individual recurring appointment instances are created ... and stored
        as Appointment rows ... associated with the parent recurring appointment
        series using the Appointment.SeriesId" (two here, for the reader to skip).
        """
        for n in range(2):
            instance_id = self._next_id("guid")
            self.dataverse["appointments"][instance_id] = {
                "activityid": instance_id,
                "subject": master.get("subject"),
                "scheduledstart": master.get("starttime"),
                "scheduledend": master.get("endtime"),
                "instancetypecode": 2,
                "seriesid": master["activityid"],
                "statecode": 0,
                "statuscode": 1,
                "appointment_activity_parties": [],
                "@odata.etag": self._etag(),
                "modifiedon": self._now(),
                "_ownerid_value": OWNER,
                "originalstartdate": f"instance {n}",
            }

    def _add_recurrence(self, appointment_id: str, body: dict[str, Any]) -> Answer:
        """AddRecurrence: the appointment copied into a new series, and deleted."""
        appointments = self.dataverse["appointments"]
        if appointment_id not in appointments:
            return 404, {}, {"error": {"code": "0x80040217", "message": "does not exist"}}
        target = dict(body.get("Target") or {})
        target.pop("@odata.type", None)
        old = appointments.pop(appointment_id)
        copied = {
            name: value
            for name, value in old.items()
            if name not in ("activityid", "scheduledstart", "scheduledend", "@odata.etag")
            and not name.endswith("_activity_parties")
        }
        copied["recurringappointmentmaster_activity_parties"] = old.get(
            "appointment_activity_parties", []
        )
        refused = _refusal("recurringappointmentmasters", {}, target, create=True)
        if refused:
            appointments[appointment_id] = old
            return 400, {}, {"error": {"code": "0x80040203", "message": refused}}
        master = copied | target
        master["activityid"] = str(target.get("activityid") or self._next_id("guid"))
        master["instancetypecode"] = 1
        master["modifiedon"] = self._now()
        master["@odata.etag"] = self._etag()
        self.dataverse["recurringappointmentmasters"][master["activityid"]] = master
        self._expand(master)
        return 200, {}, self._dataverse_view("recurringappointmentmasters", master)

    def _dataverse_write(self, item: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        out = dict(item)
        for name, value in body.items():
            bound = _BIND.match(name)
            if bound:
                target = _ROW.match(str(value))
                out["_objectid_value"] = target.group(2) if target else None
            else:
                out[name] = copy.deepcopy(value)
        return out

    def _dataverse_view(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(item)

    # -- delta rounds -------------------------------------------------------------------

    def _tick(self) -> int:
        """The next number of the change sequence, which etags and deletes share."""
        self._counter += 1
        return self._counter

    def _changes(
        self, service: str, collection: str, since: int
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """The items changed after `since` (by their etag's number), and the keys deleted."""
        store = (self.graph if service == "graph" else self.dataverse)[collection]
        changed = [item for item in store.values() if _sequence(item) > since]
        gone = self._removed.get((service, collection), {})
        removed = [key for key, when in gone.items() if when > since and key not in store]
        return changed, removed

    def _delta_round(
        self, service: str, collection: str, query: dict[str, str]
    ) -> tuple[int, dict[str, str]] | None:
        """A new round's start (changes after it) and query, or None for an unknown token."""
        token = query.get("$deltatoken")
        if token is None:
            return 0, {k: v for k, v in query.items() if not k.startswith("$skip")}
        held = self._deltas.get(token)
        if held is None or held[:2] != (service, collection):
            return None
        return held[2], held[3]

    def _delta_page(
        self,
        service: str,
        collection: str,
        path: str,
        query: dict[str, str],
        entries: Callable[[int, dict[str, str]], list[dict[str, Any]]],
    ) -> Answer:
        """One page of a delta round; the first request freezes the round's entries.

        A round is read as it was when it began: changes made while its pages
        are read come in the next round, whose token the last page's
        `@odata.deltaLink` carries.
        """
        prefix = "/v1.0" if service == "graph" else ""
        skip = query.get("$skiptoken", "")
        round_id, _, offset = skip.partition(".")
        if skip and round_id not in self._rounds:  # a page of a round already read to its end
            return 410, {}, {"error": {"code": "SyncStateNotFound", "message": "unknown page"}}
        if round_id not in self._rounds:
            started = self._delta_round(service, collection, query)
            if started is None:
                return 410, {}, {"error": {"code": "SyncStateNotFound", "message": "unknown token"}}
            since, kept = started
            upto = self._counter
            token = f"d{self._tick()}"
            self._deltas[token] = (service, collection, upto, dict(kept))
            round_id, offset = f"r{self._tick()}", "0"
            self._rounds[round_id] = (entries(since, kept), token)
        held, token = self._rounds[round_id]
        start = int(offset or 0)
        out: dict[str, Any] = {"value": copy.deepcopy(held[start : start + self.page_size])}
        if start + self.page_size < len(held):
            link = f"$skiptoken={round_id}.{start + self.page_size}"
            out["@odata.nextLink"] = f"{self.url}{prefix}{path}?{link}"
        else:
            out["@odata.deltaLink"] = f"{self.url}{prefix}{path}?$deltatoken={token}"
            del self._rounds[round_id]
        return 200, {}, out

    def _graph_delta(self, rest: list[str], path: str, query: dict[str, str]) -> Answer:
        """Graph's delta functions: `contacts/delta`, `calendarView/delta`, To Do `tasks/delta`.

        The first request of the first round lists every item; each later
        round lists what was created or changed since the round its token
        came from, and each item deleted since as `{"id", "@removed": {"reason":
        "deleted"}}` ("Use delta query to track changes in Microsoft Graph data").
        """
        if rest in (["contacts"], ["contactFolders", *rest[1:2], "contacts"]):
            name, kind = "contacts", "contact"
        elif rest == ["calendarView"]:
            name, kind = "events", "event"
            fresh = "$deltatoken" not in query and "$skiptoken" not in query
            if fresh and not (query.get("startDateTime") and query.get("endDateTime")):
                message = "This request requires a time window specified by the query string"
                return 400, {}, {"error": {"code": "ErrorInvalidParameter", "message": message}}
        elif rest == ["todo", "lists", self.todo_list, "tasks"]:
            name, kind = "tasks", "todoTask"
        else:
            return 404, {}, {"error": {"code": "NotFound"}}

        def entries(since: int, kept: dict[str, str]) -> list[dict[str, Any]]:
            changed, removed = self._changes("graph", name, since)
            if name == "events":
                window = (kept.get("startDateTime", ""), kept.get("endDateTime", ""))
                changed = [i for i in changed if _in_window(i, *window)]
            gone = {"@odata.type": f"#microsoft.graph.{kind}", "@removed": {"reason": "deleted"}}
            return [
                *(self._graph_view(name, item, kept) for item in changed),
                *({**gone, "id": key} for key in removed),
            ]

        return self._delta_page("graph", name, path, query, entries)

    def _dataverse_delta(self, table: str, path: str, query: dict[str, str]) -> Answer:
        """Dataverse change tracking: `Prefer: odata.track-changes`, then the `@odata.deltaLink`.

        Deleted rows come as `{"@odata.context": ".../$metadata#TABLE/$deletedEntity",
        "id": KEY, "reason": "deleted"}` ("Use change tracking to synchronize data
        with external systems").
        """

        def entries(since: int, kept: dict[str, str]) -> list[dict[str, Any]]:
            changed, removed = self._changes("dataverse", table, since)
            context = f"{self.url}{API}/$metadata#{table}/$deletedEntity"
            return [
                *(self._dataverse_view(table, item) for item in changed),
                *({"@odata.context": context, "id": key, "reason": "deleted"} for key in removed),
            ]

        status, headers, body = self._delta_page("dataverse", table, path, query, entries)
        if status == 200:
            headers = {**headers, "Preference-Applied": "odata.track-changes"}
            body = {"@odata.context": f"{self.url}{API}/$metadata#{table}/$delta", **body}
        return status, headers, body


def _sequence(item: dict[str, Any]) -> int:
    """Where an item's last write falls in the change sequence: its etag's number."""
    digits = str(item.get("@odata.etag", "")).removeprefix('W/"').removesuffix('"')
    return int(digits) if digits.isdigit() else 0


def _in_window(event: dict[str, Any], start: str, end: str) -> bool:
    """Whether an event overlaps the calendar view's window (times compared as UTC text)."""
    first = str((event.get("start") or {}).get("dateTime", ""))[:19]
    last = str((event.get("end") or {}).get("dateTime", ""))[:19]
    return first < end[:19] and last > start[:19]


def organizer_party(address: str, user: str = OWNER) -> dict[str, Any]:
    """An appointment's organizer party as Dataverse takes it: bound to a system user."""
    return {
        "participationtypemask": 7,
        "addressused": address,
        "partyid_systemuser@odata.bind": f"/systemusers({user})",
    }


def _refusal(table: str, row: dict[str, Any], body: dict[str, Any], *, create: bool) -> str:
    """Why Dataverse refuses a write of `body` on `row` ('' when it takes it).

    As the table reference documents: statecode is not valid for create, a
    status reason belongs to one state, closed (completed, canceled) activities
    are read-only, read-only columns and columns of another table are refused,
    a string longer than its column's MaxLength is refused, the organizer is
    a system user, and an attachment names its owner's table.
    """
    if create and table in _ACTIVITIES and "statecode" in body:
        return "statecode is not valid for create"
    if table in _ACTIVITIES and "statuscode" in body:
        state = body.get("statecode", 0 if create else row.get("statecode", 0))
        if _STATUS_STATE[table].get(body["statuscode"]) != state:
            return f"{body['statuscode']} is not a valid status code for state code {state}"
    if not create and row.get("statecode") in (1, 2):
        edited = set(body) - {"statecode", "statuscode"}
        if edited or body.get("statecode", row["statecode"]) == row["statecode"]:
            return "This activity is closed: a closed activity is read-only and cannot be edited"
    for name in set(body) & _READ_ONLY.get(table, set()):
        return f"'{name}' is not valid for create or update"
    if table == "appointments":
        for name in set(body) & _SERIES_ONLY:
            return (
                f"The property '{name}' does not exist on type 'Microsoft.Dynamics.CRM.appointment'"
            )
    if table == "activitymimeattachments" and create and not body.get("objecttypecode"):
        return "objecttypecode is required"
    for name, limit in _MAX_LENGTH.get(table, {}).items():
        value = body.get(name)
        if isinstance(value, str) and len(value) > limit:
            return (
                f"The length of the '{name}' attribute of the '{table.removesuffix('s')}' entity "
                f"exceeded the maximum allowed length of '{limit}'"
            )
    for party in body.get(f"{table.removesuffix('s')}_activity_parties") or []:
        if party.get("participationtypemask") == 7 and not any(
            k.startswith("partyid_systemuser") for k in party
        ):
            return "the organizer must be a systemuser (the party list targets systemuser only)"
    return ""


def _error(status: int, headers: dict[str, str]) -> Answer:
    """An error answer in Graph's and Dataverse's shared shape."""
    code = "TooManyRequests" if status == 429 else "Failed"
    return status, headers, {"error": {"code": code, "message": f"fake {status}"}}


_ALL_DAY = "An all-day event's start and end must be midnight in the same time zone."


def _all_day_ok(event: dict[str, Any]) -> bool:
    """Graph's rule for `isAllDay`: start and end at midnight, in one time zone (event resource)."""
    if not event.get("isAllDay"):
        return True
    start, end = event.get("start") or {}, event.get("end") or {}
    times = [str(when.get("dateTime", "")).partition("T")[2] for when in (start, end)]
    midnight = all(not t.strip("0:.") for t in times)
    return midnight and start.get("timeZone") == end.get("timeZone")


def _matches(headers: dict[str, str], item: dict[str, Any]) -> bool:
    """Whether a write's `If-Match` (absent, `*` or an etag) admits the item as it is now."""
    wanted = headers.get("if-match")
    return wanted in (None, "*") or wanted == item.get("@odata.etag")
