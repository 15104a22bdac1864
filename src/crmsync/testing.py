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

The Dataverse multipart `$batch` (`POST {url}/api/data/v9.2/$batch`) is served
as "Execute batch operations using the Web API" and OData 4.0 §11.7 document
it: `multipart/mixed` parts holding whole requests (relative or absolute
URLs; CRLF lines, LF taken too), change sets whose parts carry a
`Content-ID`, at most 1000 requests (more: 400), no batch inside a batch, no
`GET` in a change set (400). The requests run in order through the same code
as requests sent alone. A change set is atomic: when one of its requests
fails, every write it made is undone (rows, etags, change tracking) and that
failure is the change set's one response. `$1` in a URL or a body names the
URI an earlier request of the change set created; a Content-ID not declared
before is 400. Without `Prefer: odata.continue-on-error` the batch stops at
the first failure and answers with its status and that response alone; with
it, 200 and every response. The answer is `multipart/mixed; boundary=
batchresponse_<guid>`, change sets nested in `changesetresponse_<guid>`, each
part `HTTP/1.1 <status> <reason>` with `OData-Version`, `Location` and
`OData-EntityId` for what it made, as in the documentation's examples.
Faults reach the requests inside as inside a Graph `$batch` (a throttled
request gets its 429 as its own response; one in a change set fails the
change set); `rewrite_dataverse_batch` changes the answer's bytes before they
are sent (truncated multipart, missing or doubled parts, bad status lines).

Time and Microsoft's limits, opt-in: `latency` seconds are added to every
HTTP answer and `execution` seconds per operation carried out (each request
of a `$batch`), slept outside the lock so concurrent requests overlap.
`limits=Limits()` enforces the documented service protection limits: Graph's
Outlook limits per mailbox (10,000 operations in 10 minutes, counted one by
one inside a `$batch`; 4 requests in flight) and Dataverse's per user (6,000
HTTP requests, a `$batch` being one, and 1,200 s of execution in a 5-minute
sliding window; 52 in flight), answered with 429, `Retry-After` and the
documented codes (`ApplicationThrottled`; `0x80072322`, `0x80072321`,
`0x80072326`); every Dataverse answer then carries
`x-ms-ratelimit-burst-remaining-xrm-requests` and
`x-ms-ratelimit-time-remaining-xrm-requests`. `Limits(scale=...)` runs the
windows faster for a benchmark. `stats` counts, per service, HTTP requests,
operations, 429s from the limits and 429s injected, and the peak concurrency.

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
`column eq 'value'`, which it ignores or answers from the whole row), binary
bodies inside a Dataverse `$batch` (its parts are read as UTF-8 JSON), OAuth
(any request with the right bearer token is the user), server-side
validation of field values, time passing beyond the opt-in `limits` (an
injected `Retry-After` is only a header; upload sessions and delta tokens
never expire), and Microsoft's exact error messages. A calendar view's delta
lists events (series masters included) whose start and end, read as UTC
whatever their `timeZone`, overlap the window; it neither expands a series
into occurrences nor reports an event that moved out of the window.
Changes made by writing the dicts directly are not seen by delta rounds.
Use `FakeMicrosoft` as a fake of the protocol, not of a tenant's data rules.
"""

from __future__ import annotations

import base64
import collections
import copy
import dataclasses
import datetime as dt
import http
import json
import math
import random
import re
import socket
import threading
import time
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
    "Limits",
    "NotRunning",
    "SeedRefused",
    "ServiceStats",
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
_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_REFERENCE = re.compile(r"^\$(\w+)(?=/|$)")  # `$1`, `$1/lastname`: a Content-ID reference
_BATCH_MAX = 1000  # "Batch requests can contain up to 1000 individual requests"
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


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """Microsoft's documented service protection limits, for `FakeMicrosoft(limits=...)`.

    The defaults are the documented ones. Graph's are the Outlook service's,
    per app per mailbox (the fake has one mailbox): 10,000 API requests in a
    10-minute period and 4 concurrent requests ("Microsoft Graph
    service-specific throttling limits", Outlook service limits); each request
    of a JSON `$batch` is evaluated individually ("Combine multiple requests in
    one HTTP call using JSON batching"). Dataverse's are per user per web
    server: 6,000 requests and 20 minutes (1,200 s) of combined execution time
    in a 5-minute (300 s) sliding window, and 52 concurrent requests ("Service
    protection API limits"); a `$batch` is one request there ("A batch ... will
    avoid the number of requests limit") whose operations all add execution time.

    Attributes:
        graph_requests: Graph operations allowed in `graph_window`.
        graph_window: Graph's sliding window, in seconds.
        graph_concurrency: Outlook requests in flight at once (MailboxConcurrency); an
            unordered JSON `$batch` holds up to four of them while it runs.
        dataverse_requests: Dataverse HTTP requests allowed in `dataverse_window`.
        dataverse_window: Dataverse's sliding window, in seconds.
        dataverse_execution: seconds of combined execution allowed in `dataverse_window`.
        dataverse_concurrency: Dataverse HTTP requests in flight at once.
        scale: multiplies every window and the execution budget, so a benchmark
            runs Microsoft's limits faster (0.01: a 6 s Graph window, a 3 s
            Dataverse window holding 12 s of execution). `latency` and
            `execution` are slept as given and charged as they are against the
            scaled budget. `Retry-After` and the Dataverse headers stay in
            Microsoft's unscaled seconds, the wait the real service would ask:
            a scaled client multiplies its sleep by `scale`.
    """

    graph_requests: int = 10_000
    graph_window: float = 600.0
    graph_concurrency: int = 4
    dataverse_requests: int = 6_000
    dataverse_window: float = 300.0
    dataverse_execution: float = 1200.0
    dataverse_concurrency: int = 52
    scale: float = 1.0


@dataclasses.dataclass(slots=True)
class ServiceStats:
    """What one service of `FakeMicrosoft` saw (`FakeMicrosoft.stats["graph"]`, `["dataverse"]`).

    Attributes:
        requests: HTTP requests received (a `$batch` is one).
        operations: operations received: each request on its own, and each
            request inside a `$batch` (the `$batch` itself is none).
        limited: 429s answered because a `Limits` limit was reached.
        injected: 429s answered by `throttle()`, `answer()` or `chaos`.
        peak_concurrency: the most requests in flight at once (a Graph `$batch` counts
            the requests Graph runs of it at a time, up to four).
    """

    requests: int = 0
    operations: int = 0
    limited: int = 0
    injected: int = 0
    peak_concurrency: int = 0


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
    `$batch` too; `authorizations` every Authorization header received;
    `stats` maps "graph" and "dataverse" to their `ServiceStats`.

    Args:
        page_size: items per page of a collection; the rest follow by
            `@odata.nextLink`. A small size makes every read page.
        todo_list: the id of the user's default To Do list.
        latency: seconds added to every HTTP answer (a `$batch` once).
        execution: seconds of execution per operation carried out (each
            request of a `$batch` adds it; they run one after another).
        limits: Microsoft's service protection limits to enforce; None (the
            default) enforces none and sends no `x-ms-ratelimit-*` header.
        clock: the monotonic clock the limits' windows read (a test may
            pass its own); `latency` and `execution` are slept in real time.

    Example:
        ```py
        with FakeMicrosoft(page_size=2) as fake:
            fake.add("graph", "contacts", {"givenName": "Ann"})
            fake.throttle(lambda method, path: method == "POST", times=2)
        ```
    """

    def __init__(
        self,
        *,
        page_size: int = 50,
        todo_list: str = "AQMkTasks",
        latency: float = 0.0,
        execution: float = 0.0,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.page_size = page_size
        self.latency = latency
        self.execution = execution
        self.limits = limits
        self.stats = {"graph": ServiceStats(), "dataverse": ServiceStats()}
        self._clock = clock
        self._in_flight = {"graph": 0, "dataverse": 0}
        self._graph_operations: collections.deque[float] = collections.deque()
        self._dataverse_requests: collections.deque[float] = collections.deque()
        self._executions: collections.deque[tuple[float, float]] = collections.deque()
        self._local = threading.local()  # per request: the operations it carried out
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
        self.rewrite_dataverse_batch: Callable[[bytes], bytes] | None = None
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
                kind = self.headers.get("Content-Type", "")
                octets = kind.startswith(("application/octet", "multipart/"))  # a $batch: bytes
                body = raw if octets else json.loads(raw) if raw else None
                status, headers, payload = fake._exchange(
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

    def _exchange(self, method: str, target: str, headers: dict[str, str], body: Any) -> Answer:
        """`handle` for one HTTP request, which stays in flight until its pauses have passed.

        `latency` and `execution` are slept outside the lock, so requests overlap.
        """
        path = unquote(urlsplit(target).path)
        service = _service(path)
        # Graph sends Outlook up to four requests of an unordered JSON $batch at a time
        # ("Outlook service limits for JSON batching"): such a batch holds up to four of
        # the mailbox's four concurrent requests while it runs, and runs four at a time.
        parallel = 1
        if path == "/v1.0/$batch" and isinstance(body, dict):
            requests = body.get("requests")
            parallel = max(1, min(4, len(requests) if isinstance(requests, list) else 1))
        if service is not None:
            with self._lock:
                self._in_flight[service] += parallel
                stats = self.stats[service]
                stats.peak_concurrency = max(stats.peak_concurrency, self._in_flight[service])
        try:
            answer = self.handle(method, target, headers, body)
            pause = self.latency + self.execution * math.ceil(self._local.executed / parallel)
            if pause > 0:
                time.sleep(pause)
            return answer
        finally:
            if service is not None:
                with self._lock:
                    self._in_flight[service] -= parallel

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
            self._local.executed = 0
            service = _service(path)
            answer = self._handle(method, path, query, lowered, body, service)
            if service == "dataverse" and self.limits is not None:
                if self._local.executed:
                    self._executions.append((self._clock(), self._local.executed * self.execution))
                answer = (answer[0], {**answer[1], **self._ratelimit_headers()}, answer[2])
            return answer

    def _handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        lowered: dict[str, str],
        body: Any,
        service: str | None,
    ) -> Answer:
        self.log.append((method, path))
        self.authorizations.append(lowered.get("authorization", ""))
        batch = path in ("/v1.0/$batch", f"{API}/$batch")
        if service is not None:
            self.stats[service].requests += 1
            if not batch:
                self.stats[service].operations += 1
        rule = self._ruled(method, path, top=True)
        if rule is not None and not rule.commit:
            self._injected(service, rule.answer)
            return rule.answer
        refused = self._refused(service, batch=batch)
        if refused is not None:
            return refused
        fault = self._fault(top=True, write=method != "GET", batch=batch)
        if fault is not None and fault is not _COMMIT_THEN_LOSE:
            self._injected(service, cast(Answer, fault))
            return cast(Answer, fault)
        lost = self._lost(method, path) or fault is _COMMIT_THEN_LOSE
        self._local.executed += 0 if batch else 1
        answer = self._serve(method, path, query, lowered, body)
        if lost or answer[0] == LOST:
            return LOST, {}, None
        return rule.answer if rule is not None else answer

    # -- limits -------------------------------------------------------------------------

    def _operation(self, service: str) -> None:
        """One operation of a `$batch` received."""
        self.stats[service].operations += 1

    def _injected(self, service: str | None, answer: Answer) -> None:
        if service is not None and answer[0] == 429:
            self.stats[service].injected += 1

    def _limited(self, service: str, wait: float, code: str, message: str) -> Answer:
        """A 429 for a limit reached; `wait` in unscaled seconds, rounded up."""
        self.stats[service].limited += 1
        retry = max(1, math.ceil(round(wait, 6)))
        return 429, {"Retry-After": str(retry)}, {"error": {"code": code, "message": message}}

    def _refused(self, service: str | None, *, batch: bool) -> Answer | None:
        """The 429 a top-level request gets from the `limits`, or None (then it counts)."""
        limits = self.limits
        if limits is None or service is None:
            return None
        if service == "graph":
            if self._in_flight["graph"] > limits.graph_concurrency:
                message = "Application is over its MailboxConcurrency limit."
                return self._limited("graph", 1, "ApplicationThrottled", message)
            return None if batch else self._graph_quota()  # a batch's requests count one by one
        if self._in_flight["dataverse"] > limits.dataverse_concurrency:
            limit = limits.dataverse_concurrency
            message = f"Number of concurrent requests exceeded the limit of {limit}."
            return self._limited("dataverse", 1, "0x80072326", message)
        now = self._clock()
        window = limits.dataverse_window * limits.scale
        requests = _pruned(self._dataverse_requests, now - window)
        seconds = f"{limits.dataverse_window:g}"
        if len(requests) >= limits.dataverse_requests:
            wait = (requests[0] + window - now) / limits.scale
            message = (
                f"Number of requests exceeded the limit of {limits.dataverse_requests} "
                f"over time window of {seconds} seconds."
            )
            return self._limited("dataverse", wait, "0x80072322", message)
        executions = _pruned(self._executions, now - window)
        budget = limits.dataverse_execution * limits.scale
        used = sum(spent for _, spent in executions)
        if used >= budget:
            leaves = executions[0][0]
            for leaves, spent in executions:  # noqa: B007 - until enough execution leaves
                used -= spent
                if used < budget:
                    break
            wait = (leaves + window - now) / limits.scale
            message = (
                "Combined execution time of incoming requests exceeded limit of "
                f"{limits.dataverse_execution * 1000:,.0f} milliseconds over time window of "
                f"{seconds} seconds. Decrease number of concurrent requests or reduce the "
                "duration of requests and try again later."
            )
            return self._limited("dataverse", wait, "0x80072321", message)
        requests.append(now)
        return None

    def _graph_quota(self) -> Answer | None:
        """The 429 one Graph operation gets in a full window, or None (then it counts)."""
        limits = self.limits
        if limits is None:
            return None
        now = self._clock()
        window = limits.graph_window * limits.scale
        held = _pruned(self._graph_operations, now - window)
        if len(held) >= limits.graph_requests:
            wait = (held[0] + window - now) / limits.scale
            return self._limited(
                "graph", wait, "ApplicationThrottled", "Application is over its request limit."
            )
        held.append(now)
        return None

    def _ratelimit_headers(self) -> dict[str, str]:
        """Dataverse's `x-ms-ratelimit-*` headers: requests and execution left in the window.

        "Service protection API limits" names them; it documents no format. The
        time is seconds with a thousands separator and two decimals, as live
        answers carry it (`1,200.00` for an unused 20 minutes).
        """
        limits = self.limits
        if limits is None:
            return {}
        now = self._clock()
        window = limits.dataverse_window * limits.scale
        requests = _pruned(self._dataverse_requests, now - window)
        used = sum(spent for _, spent in _pruned(self._executions, now - window))
        left = max(0.0, limits.dataverse_execution * limits.scale - used) / limits.scale
        return {
            "x-ms-ratelimit-burst-remaining-xrm-requests": str(
                max(0, limits.dataverse_requests - len(requests))
            ),
            "x-ms-ratelimit-time-remaining-xrm-requests": f"{left:,.2f}",
        }

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
            if path == f"{API}/$batch" and method == "POST":
                return self._dataverse_batch(lowered, body)
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
            self._operation("graph")
            lowered = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
            lost = lost or self._lost(method, "/v1.0" + path)
            rule = self._ruled(method, "/v1.0" + path)
            answer = rule.answer if rule is not None else self._graph_quota()
            if answer is None:
                answer = self._fault(top=False, write=method != "GET")
                if answer is not None and answer is not _COMMIT_THEN_LOSE:
                    self._injected("graph", answer)
            elif rule is not None:
                self._injected("graph", answer)
            if answer is _COMMIT_THEN_LOSE:
                lost, answer = True, None
            if answer is None or isinstance(answer[2], bytes):
                self._local.executed += 1
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
                target = _ROW.match("/" + str(value).rpartition("/")[2])  # relative or absolute
                out["_objectid_value"] = target.group(2) if target else None
            else:
                out[name] = copy.deepcopy(value)
        return out

    def _dataverse_view(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(item)

    # -- Dataverse $batch -----------------------------------------------------------------

    def _dataverse_batch(self, headers: dict[str, str], body: Any) -> Answer:
        """A multipart `$batch` ("Execute batch operations using the Web API", OData 4.0 §11.7).

        Its requests run in order through `_dataverse_call`, as they would one
        by one; a change set is atomic. Without `Prefer: odata.continue-on-error`
        the batch stops at the first failure and answers with its status and
        that response alone; with it, the batch answers 200 with every response.
        """
        parsed = _parse_batch(body if isinstance(body, bytes) else b"", headers)
        if isinstance(parsed, str):
            return 400, {}, {"error": {"code": "0x80040203", "message": parsed}}
        go_on = "odata.continue-on-error" in headers.get("prefer", "")
        status, parts, lost = 200, [], False
        for item in parsed:
            if isinstance(item, _Inner):
                answer, gone, _url = self._batch_request(item, {})
                part = _http_part(answer, None)
            else:
                failed, gone, done = self._change_set(item)
                answer = failed or (200, {}, None)
                if failed is None:
                    inner = f"changesetresponse_{uuid.uuid4()}"
                    nested = _multipart(inner, [_http_part(a, cid) for cid, a in done])
                    head = f"Content-Type: multipart/mixed; boundary={inner}\r\n\r\n"
                    part = head.encode() + nested
                else:  # a change set that fails answers with that one failure
                    part = _http_part(failed, None)
            lost = lost or gone
            parts.append(part)
            if answer[0] >= 400 and not go_on:
                status, parts = answer[0], [part]
                break
        if lost:  # a write committed, and the whole batch's answer is lost
            return LOST, {}, None
        boundary = f"batchresponse_{uuid.uuid4()}"
        blob = _multipart(boundary, parts) + b"\r\n"
        if self.rewrite_dataverse_batch is not None:
            blob = self.rewrite_dataverse_batch(blob)
        kind = {"Content-Type": f"multipart/mixed; boundary={boundary}", "OData-Version": "4.0"}
        return status, kind, blob

    def _change_set(
        self, items: list[_Inner]
    ) -> tuple[Answer | None, bool, list[tuple[str | None, Answer]]]:
        """Runs a change set: (its failure or None, whether an answer is lost, the answers).

        A failure rolls back every write the change set made: the rows, their
        etags and the change-tracking bookkeeping are as they were before it.
        """
        saved = self._save()
        ids: dict[str, str] = {}  # Content-ID -> the URI of what its request created or changed
        done: list[tuple[str | None, Answer]] = []
        lost = False
        for item in items:
            answer, gone, url = self._batch_request(item, ids)
            lost = lost or gone
            if answer[0] >= 400:
                self._restore(saved)
                return answer, lost, []
            done.append((item.content_id, answer))
            if item.content_id is not None:
                ids[item.content_id] = answer[1].get("OData-EntityId") or url
        return None, lost, done

    def _batch_request(self, item: _Inner, ids: dict[str, str]) -> tuple[Answer, bool, str]:
        """One request of a Dataverse `$batch`: (its answer, whether it is lost, its URL).

        Faults apply as to a request on its own: `throttle()`, `fail()`,
        `answer()` and `chaos` answer it in its place; `lose()` carries it out
        and loses the whole batch's answer.
        """
        target = _dereference(item.target, ids)
        split = urlsplit(target)
        path = unquote(split.path)
        if not path.startswith("/"):  # relative to the service root
            path = f"{API}/{path}"
        url = f"{self.url}{path}"
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        self.log.append((item.method, path))
        self._operation("dataverse")
        lost = self._lost(item.method, path)
        rule = self._ruled(item.method, path)
        answer = (
            rule.answer if rule is not None else self._fault(top=False, write=item.method != "GET")
        )
        if answer is _COMMIT_THEN_LOSE:
            lost, answer = True, None
        if answer is not None:
            self._injected("dataverse", cast(Answer, answer))
            return cast(Answer, answer), lost, url
        self._local.executed += 1
        try:
            body = _dereferenced(json.loads(item.body), ids) if item.body.strip() else None
        except json.JSONDecodeError:
            return (400, {}, {"error": {"code": "0x80040203", "message": "not JSON"}}), lost, url
        return self._dataverse_call(item.method, path, query, item.headers, body), lost, url

    def _save(self) -> tuple[Any, ...]:
        """What a Dataverse change set may change, to put back if it fails.

        Each table's mapping is copied, not its rows: a request never changes
        a row in place (a write stores a new dict, a delete drops the key), so
        the rows the copy holds stay as they were. A deep copy of every table
        per change set made a batch of change sets cost the square of the rows.
        """
        removed = {name: dict(ticks) for name, ticks in self._removed.items()}
        tables = {table: dict(rows) for table, rows in self.dataverse.items()}
        return tables, removed, self._counter, dict(self._deltas)

    def _restore(self, saved: tuple[Any, ...]) -> None:
        tables, removed, counter, deltas = saved
        for table, rows in self.dataverse.items():  # in place: a test may hold the dicts
            rows.clear()
            rows.update(tables[table])
        self._removed.clear()
        self._removed.update(removed)
        self._deltas.clear()
        self._deltas.update(deltas)
        self._counter = counter

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


def _service(path: str) -> str | None:
    """Which service a request path belongs to: "graph" (upload URLs too), "dataverse" or None."""
    if path.startswith(("/v1.0", "/upload/")):
        return "graph"
    return "dataverse" if path.startswith(API) else None


_Held = collections.deque[Any]


def _pruned(held: _Held, cutoff: float) -> _Held:
    """`held` without its entries (times, or (time, seconds)) at or before `cutoff`."""
    while held and (held[0][0] if isinstance(held[0], tuple) else held[0]) <= cutoff:
        held.popleft()
    return held


class _Inner:
    """One request of a Dataverse `$batch` as sent: its Content-ID, request line, headers, body."""

    __slots__ = ("body", "content_id", "headers", "method", "target")

    def __init__(
        self, content_id: str | None, method: str, target: str, headers: dict[str, str], body: str
    ) -> None:
        self.content_id, self.method, self.target = content_id, method, target
        self.headers, self.body = headers, body


def _boundary(content_type: str) -> str | None:
    """The `boundary` of a `multipart/mixed` Content-Type, quoted or not."""
    if not content_type.lower().startswith("multipart/mixed"):
        return None
    found = _BOUNDARY.search(content_type)
    return (found.group(1) or found.group(2)) if found else None


def _mime_parts(text: str, boundary: str) -> list[str] | None:
    """The parts of a multipart body (CRLF lines, or LF), or None if it never closes."""
    parts: list[list[str]] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.rstrip() == f"--{boundary}":
            parts.append([])
        elif line.rstrip() == f"--{boundary}--":
            return ["\n".join(part) for part in parts]
        elif parts:  # the preamble before the first delimiter is ignored
            parts[-1].append(line)
    return None


def _head(text: str) -> tuple[dict[str, str], str]:
    """A MIME part's headers (names lower-cased) and what follows the blank line after them."""
    head, _, rest = ("", "", text[1:]) if text.startswith("\n") else text.partition("\n\n")
    headers = {}
    for line in head.split("\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _parse_batch(body: bytes, headers: dict[str, str]) -> list[_Inner | list[_Inner]] | str:
    """A `$batch` body's requests and change sets in order, or why the batch is refused (400)."""
    boundary = _boundary(headers.get("content-type", ""))
    if boundary is None:
        return "a $batch is multipart/mixed with a boundary"
    parts = _mime_parts(body.decode("utf-8", "replace"), boundary)
    if parts is None:
        return f"the batch does not end with --{boundary}--"
    out: list[_Inner | list[_Inner]] = []
    count = 0
    for part in parts:
        part_headers, rest = _head(part)
        inner = _boundary(part_headers.get("content-type", ""))
        if inner is None:
            parsed = _parse_request(part_headers, rest, set(), in_change_set=False)
            if isinstance(parsed, str):
                return parsed
            out.append(parsed)
            count += 1
            continue
        members = _mime_parts(rest, inner)
        if members is None:
            return f"the change set does not end with --{inner}--"
        declared: set[str] = set()  # Content-IDs a later request of the change set may name
        change_set = []
        for member in members:
            member_headers, member_rest = _head(member)
            parsed = _parse_request(member_headers, member_rest, declared, in_change_set=True)
            if isinstance(parsed, str):
                return parsed
            change_set.append(parsed)
            if parsed.content_id is not None:
                declared.add(parsed.content_id)
        out.append(change_set)
        count += len(change_set)
    if count > _BATCH_MAX:
        return f"a batch holds at most {_BATCH_MAX} requests, not {count}"
    return out


def _parse_request(
    headers: dict[str, str], text: str, declared: set[str], *, in_change_set: bool
) -> _Inner | str:
    """One `application/http` part: the request in it, or why the batch is refused."""
    if _boundary(headers.get("content-type", "")) is not None:
        return "change sets cannot be nested"
    if not headers.get("content-type", "").lower().startswith("application/http"):
        return "a batch part is application/http or a change set"
    line, _, after = text.lstrip("\n").partition("\n")
    words = line.split()
    if len(words) != 3 or not words[2].startswith("HTTP/"):
        return f"not a request line: {line!r}"
    method, target = words[0].upper(), words[1]
    if urlsplit(target).path.rstrip("/").endswith("$batch"):
        return "a batch cannot contain other batch requests"
    if in_change_set and method == "GET":
        return "GET requests are not allowed within change sets"
    request_headers, body = _head(after)
    body = body.strip()
    named = [m.group(1) for m in (_REFERENCE.match(target),) if m]
    named += re.findall(r'"\$(\w+)(?:/[^"]*)?"', body)
    for name in named:
        if name not in declared:
            return f"Content-ID Reference: '${name}' does not exist in the batch context."
    return _Inner(headers.get("content-id"), method, target, request_headers, body)


def _dereference(value: str, ids: dict[str, str]) -> str:
    """`$1/lastname` with `$1` replaced by the URI its request created; else the value."""
    found = _REFERENCE.match(value)
    if found is None or found.group(1) not in ids:
        return value
    return ids[found.group(1)] + value[found.end() :]


def _dereferenced(body: Any, ids: dict[str, str]) -> Any:
    """A JSON body with every `$n` string (an `@odata.bind`, an `@odata.id`) dereferenced."""
    if isinstance(body, str):
        return _dereference(body, ids)
    if isinstance(body, dict):
        return {key: _dereferenced(value, ids) for key, value in body.items()}
    if isinstance(body, list):
        return [_dereferenced(value, ids) for value in body]
    return body


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _http_part(answer: Answer, content_id: str | None) -> bytes:
    """One response of a batch answer, shaped as the documentation's examples."""
    status, headers, payload = answer
    mime = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        mime.append(f"Content-ID: {content_id}")
    if isinstance(payload, bytes):
        data = payload
    elif payload is None:
        data = b""
    else:
        data = json.dumps(payload, separators=(",", ":")).encode()
    lines = [f"HTTP/1.1 {status} {_reason(status)}"]
    if data and not isinstance(payload, bytes):
        lines.append("Content-Type: application/json; odata.metadata=minimal")
    lines.append("OData-Version: 4.0")
    if "OData-EntityId" in headers:
        lines.append(f"Location: {headers['OData-EntityId']}")
    if isinstance(payload, dict) and "@odata.etag" in payload and "ETag" not in headers:
        lines.append(f"ETag: {payload['@odata.etag']}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    head = "\r\n".join([*mime, "", *lines]) + "\r\n\r\n"
    return head.encode() + data


def _multipart(boundary: str, parts: list[bytes]) -> bytes:
    """The parts between `--boundary` delimiters, closed by `--boundary--` (no CRLF after it)."""
    delimiter = f"--{boundary}\r\n".encode()
    return b"".join(delimiter + part + b"\r\n" for part in parts) + f"--{boundary}--".encode()


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
