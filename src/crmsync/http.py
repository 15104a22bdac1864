"""Runs a plan against Microsoft Graph and the Dataverse Web API (extra `crmsync[http]`).

This is shell, not core: it does I/O with httpx, and nothing else in crmsync
imports it. A `Connection` holds the service roots and a token callable per
service (the caller's credentials; crmsync has no auth code). It reads both
sides into snapshots, and `Connection.execute` runs the requests of
`crmsync.adapters.requests.requests_by_op` in dependency order:

- Graph requests that are ready together go in JSON `$batch` requests of up
  to 20 (each ready request's dependencies have already succeeded, so no
  `dependsOn` is needed; a value a request takes from another's response is
  filled before it is batched). Dataverse requests that are ready together
  go in multipart `$batch` requests (`dataverse_batch_size`), an op's
  requests in one change set (all or none take effect) unless one is a
  `DELETE` or a create that may be read back.
- Each service's requests and batches run in a pool of their own
  (`graph_concurrency`, `dataverse_concurrency`), both services at once,
  paced so that no more start per window than `graph_rate` and
  `dataverse_rate` allow; Dataverse's `x-ms-ratelimit-*` answer headers
  narrow its pool to one request at a time while they say the allowance is
  nearly spent (`crmsync._pacing`).
- A 429 or 503 (of a request, or of one request inside a batch) is retried
  after its `Retry-After` (ASCII digits or an HTTP date; exponential when
  absent), at most `max_retries` times; a GET is also retried on transport
  errors and any 5xx. The wait pauses the whole service's pool. No wait is
  longer than `max_wait`, and the waits of one read or one `execute` add up
  to at most `wait_budget` (overlapping waits count once); a request that
  would need more is not retried and says why. `sleep` and `clock` are
  injectable.
- Reads fail loudly: a 2xx answer that is not the documented JSON shape
  raises `ServiceError`, never reads as an empty collection; an
  `@odata.nextLink` is followed only on the read's own origin, over https
  (plain http only for a loopback root the caller opts into with
  `allow_loopback_http`), and a link seen twice, more than `max_pages` pages
  or an answer over `max_response_bytes` stops the read. Credentials go only
  to the origin of the root configured for their service.
- A request that fails fails its op; the requests that depend on it do not
  run and their ops are reported as skipped; everything else runs. A
  `DELETE` of something already gone (404, or a linked resource that is
  not there) is done. Whatever a server answers once a request went out,
  `execute` returns: a malformed answer fails the ops it concerns, with the
  service, method, URL, status and Microsoft's error code and message in
  their `OpOutcome`. An update or delete refused with 412 (its `If-Match`
  etag is not the record's any more) is not done and says so
  (`OpOutcome.changed_since_read`).
- A create whose id crmsync chose (`Request.read_back`) and that the
  service refuses because the record exists (an earlier attempt whose
  answer was lost made it), or answers without the record, is read back:
  it is done, and the record read is its answer.

`Executed.baseline()` is the baseline for the ops that were done, built on
the plan's `baseline_updates` with `crmsync.apply.advance_baseline`: a
record whose op was not done keeps its previous baseline entry, so the next
plan picks it up again.

Logging is quiet by default: each request crmsync sends is logged at DEBUG on
the `crmsync.http` logger (method, URL, status, seconds), and httpx's own INFO
line for it (the whole URL, with its long encoded `$filter`) is dropped by a
filter on the `httpx` logger that passes every record not emitted while crmsync
sends. No level, handler or other logger is touched. To see the requests:
`logging.getLogger("crmsync.http").setLevel(logging.DEBUG)` with a handler
(`logging.basicConfig()`, say).
"""

from __future__ import annotations

import base64
import contextvars
import copy
import datetime as dt
import email.utils
import functools
import hashlib
import ipaddress
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final
from urllib.parse import quote

import attrs
import httpx

from crmsync import _multipart
from crmsync._pacing import Pace
from crmsync.adapters import (
    DataverseRead,
    GraphRead,
    ReadState,
    read_dataverse,
    read_graph,
    resolve_links,
)
from crmsync.adapters import dataverse as dataverse_adapter
from crmsync.adapters import graph as graph_adapter
from crmsync.adapters._activities import ADD_RECURRENCE
from crmsync.adapters.dataverse import API_ROOT
from crmsync.adapters.requests import (
    UPLOAD_CHUNK_BYTES,
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
from crmsync.errors import CrmsyncError, Problem, SettingsError
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

__all__ = ["GRAPH_URL", "Connection", "Executed", "OpOutcome", "ServiceError"]

GRAPH_URL: Final = "https://graph.microsoft.com/v1.0"
"""The Graph service root the request URLs are relative to."""

_RETRY_STATUSES = (429, 503)
# A GET changes nothing, so any server error may be tried again; a write only on the
# statuses that say it was not carried out.
_GET_RETRY_STATUSES = frozenset((429, *range(500, 600)))
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Graph ids are base64 (Outlook items, often URL-safe) or GUIDs (linked resources); no dots,
# so an id can never be a `..` path segment.
_GRAPH_ID = re.compile(r"[A-Za-z0-9=_+/-]{1,2048}")
_MESSAGE_LIMIT = 1000  # characters of a server's error message kept in an outcome
# Bodies per Dataverse $batch: attachments are base64 in their rows, and one batch must
# stay a request a proxy or the service takes (its bodies' JSON, roughly).
_BATCH_BYTES = 16 * 1024 * 1024
_SPREAD_LEAST = 10  # requests a Dataverse $batch holds, at least, when a round is spread
_GRAPH_PROPERTIES = (
    graph_adapter.CRMID_PROPERTY,
    graph_adapter.REGARDING_PROPERTY,
    graph_adapter.OBJECT_TYPE_PROPERTY,
    graph_adapter.MAILING_ADDRESS_PROPERTY,
)
_LOG = logging.getLogger(__name__)
# True while this context sends one of crmsync's requests (contexts, not a global flag:
# a request another thread sends meanwhile keeps httpx's line).
_SENDING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "crmsync_http_sending", default=False
)


class _QuietHttpx(logging.Filter):
    """Drops httpx's per-request INFO line for the requests crmsync sends, and nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _SENDING.get()


# Added to httpx's logger at import; the filter passes every record but those above.
logging.getLogger("httpx").addFilter(_QuietHttpx())

_DATAVERSE_HEADERS = {
    "Accept": "application/json",
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
}


class ServiceError(CrmsyncError, httpx.HTTPError):
    """A read from Graph or Dataverse failed, or answered something crmsync cannot trust.

    Raised by `Connection.read_outlook` and `Connection.read_crm` (an
    `httpx.HTTPError`, as before, and a `crmsync.errors.CrmsyncError`): a
    refused read, a body that is not the documented JSON shape, a nextLink to
    another origin, a paging loop or an answer over the size limit. A partial
    read is never returned: it would look like deletes.
    """


class _Failed(Exception):
    """A request that did not succeed, and why (with the answer, when one came)."""

    def __init__(self, message: str, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.response = response


class _Expired(ServiceError):
    """A 410: an unknown or expired delta token (Graph `syncStateNotFound`, `resyncRequired`)."""


class _Gone(ServiceError):
    """A 404: the item a delta round named was deleted since."""


class _BadRequest(ServiceError):
    """A 400: the service refused the request as asked (change tracking off for a table)."""


@attrs.frozen(kw_only=True)
class _Detail:
    """The last exchange of one request: where it went and what came back."""

    service: str
    method: str
    url: str
    status: int | None = None
    code: str = ""
    message: str = ""


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
        skipped: the op was not run because a request it waits for failed
            (`error` names it); the fields below are then empty.
        service: "graph" or "dataverse": where the request went that decided
            the outcome (the first that failed; the first request when done).
        method: that request's HTTP method.
        url: that request's URL.
        status: the HTTP status it got (None when no answer came back: a
            transport error, a refused wait, a malformed `$batch` answer).
        code: Microsoft's error code (`error.code` of the answer), or ''.
        message: Microsoft's error message, or crmsync's reason when the
            answer could not be used ('' when done).
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
    skipped: bool = False
    service: str = ""
    method: str = ""
    url: str = ""
    status: int | None = None
    code: str = ""
    message: str = ""
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
    def failed(self) -> tuple[OpOutcome, ...]:
        """The ops that were tried and not carried out (`not_done` without `skipped`)."""
        return tuple(o for o in self.outcomes if not o.done and not o.skipped)

    @property
    def skipped(self) -> tuple[OpOutcome, ...]:
        """The ops that were not run because an op they wait for failed."""
        return tuple(o for o in self.outcomes if o.skipped)

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


def _retry_after(value: str) -> float | None:
    """Seconds from a `Retry-After` value (RFC 9110 10.2.3), or None when it is neither form.

    Only ASCII digits are delay-seconds: `str.isdigit` also accepts "²" and
    `float` accepts "1e23" and "inf", none of which a server may send.
    """
    value = value.strip()
    if value.isascii() and value.isdigit():
        # More than 12 digits is over 30,000 years: no int() of a huge string.
        return float(int(value)) if len(value) <= 12 else math.inf
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):  # each seen on a bad date
        return None
    return max(0.0, moment.timestamp() - time.time())


def _delay(response: httpx.Response | Mapping[str, Any], attempt: int) -> float:
    """How long to wait before retrying: `Retry-After`, else exponential backoff from 1 s.

    The result may be huge (a date in 2999): `Connection._wait` decides
    whether it is waited at all.
    """
    headers = response.headers if isinstance(response, httpx.Response) else response
    value = ""
    for name, given in headers.items():
        if isinstance(name, str) and name.lower() == "retry-after":
            # A $batch answer's headers are JSON: a number is seconds too, anything else is not.
            number = isinstance(given, int) and not isinstance(given, bool)
            value = str(given) if number else given if isinstance(given, str) else ""
    seconds = _retry_after(value) if value else None
    return float(min(2 ** min(attempt, 16), 60)) if seconds is None else seconds


def _ms_error(payload: Any) -> tuple[str, str]:
    """Microsoft's `error.code` and `error.message` from an error body, '' where absent.

    Graph and Dataverse both answer `{"error": {"code", "message"}}`; a
    hostile or broken server may answer anything, which gives ('', '').
    """
    detail = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(detail, dict):
        return "", ""
    code, message = detail.get("code"), detail.get("message")
    return (
        code[:_MESSAGE_LIMIT] if isinstance(code, str) else "",
        message[:_MESSAGE_LIMIT] if isinstance(message, str) else "",
    )


def _describe(detail: _Detail) -> str:
    """The human line of a failed exchange: `POST url: 500 Code: message`."""
    said = ": ".join(x for x in (detail.code, detail.message) if x)
    if detail.status is None:
        return f"{detail.method} {detail.url}: {said}"
    return f"{detail.method} {detail.url}: {detail.status} {said}".rstrip()


def _answered(service: str, response: httpx.Response) -> _Detail:
    """The detail of an HTTP answer, with Microsoft's error code and message when it has them."""
    try:
        code, message = _ms_error(_parsed(response)) if response.content else ("", "")
    except ValueError:
        code, message = "", ""
    request = response.request
    return _Detail(
        service=service,
        method=request.method,
        url=str(request.url),
        status=response.status_code,
        code=code,
        message=message,
    )


def _parsed(response: httpx.Response) -> Any:
    """The JSON body; raises ValueError when it is not JSON (deep nesting included)."""
    try:
        return json.loads(response.content)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _error(response: httpx.Response) -> str:
    return _describe(_answered("", response))


def _json(response: httpx.Response) -> Any:
    if not response.content:
        entity = response.headers.get("OData-EntityId")
        return {"@odata.id": entity} if entity else {}
    try:
        return _parsed(response)
    except ValueError:
        return {}


def _entity_id(entity: object) -> str | None:
    """The GUID key of an `OData-EntityId` (`.../contacts(GUID)`), or None."""
    if not isinstance(entity, str) or not entity.endswith(")") or "(" not in entity:
        return None
    key = entity.rsplit("(", 1)[1][:-1]
    return key if _GUID.fullmatch(key) else None


def _under(url: str, root: str) -> bool:
    """Whether `url` is on the origin (scheme, host, port) of `root` and under its path."""
    try:
        given, base = httpx.URL(url), httpx.URL(root)
    except httpx.InvalidURL:
        return False
    if (given.scheme, given.host, given.port) != (base.scheme, base.host, base.port):
        return False
    prefix = base.path.rstrip("/") + "/"
    # `..` segments are normalized by httpx before the comparison.
    return given.path == base.path or given.path.startswith(prefix)


def _dot_segment(url: str) -> bool:
    """Whether a URL's path has a `.` or `..` segment, plain or percent-encoded."""
    path = url.split("?", 1)[0].lower().replace("%2e", ".")
    return any(part in {".", ".."} for part in path.split("/"))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        max_retries: retries of one request on 429 and 503 (a GET also on
            transport errors and any 5xx).
        batch_size: Graph requests per `$batch` (Graph takes at most 20).
        todo_list: the To Do list of the user's tasks (the default list when None).
        allow_loopback_http: accept `http://` roots on a loopback host
            (127.0.0.1, ::1, localhost), for tests against a local fake;
            every other root must be https.
        max_wait: the longest single wait, in seconds: a `Retry-After` above
            it is not waited, and the request is not retried.
        wait_budget: the seconds all waits of one `read_outlook`, `read_crm`
            or `execute` call may add up to; a retry that would pass it is
            not made.
        max_pages: the most pages one collection read follows.
        max_response_bytes: the largest answer read (after decompression);
            a larger one fails its request.
        max_delta_fetches: the most items of one Graph collection a delta
            round fetches one by one (a delta page leaves out the expanded
            properties crmsync reads); a round that changed more is read in
            full instead, so a round costs at most this many GETs more than
            its pages, per collection.
        event_window_days: the calendar view delta rounds of events read:
            this many days before and after the first round's start (Graph's
            `calendarView/delta` requires a window; events wholly outside it
            are read only by a full read of events).
        graph_concurrency: Outlook requests in flight at once; Outlook allows
            4 concurrent requests per app and mailbox. Graph sends Outlook up
            to four requests of an unordered `$batch` at a time, so a batch
            holds up to four of them: one batch in flight, or up to four
            single requests ("Outlook service limits for JSON batching").
        dataverse_concurrency: Dataverse requests (single or `$batch`) in
            flight at once. Dataverse allows 52 concurrent requests per user
            and web server, but also 1,200 s of combined execution time per
            5 minutes: 4 requests busy all the time use exactly that, so 4
            never passes it whatever the server's execution time.
        dataverse_batch_size: Dataverse requests per `$batch` (at most 1,000,
            the documented maximum; 1 sends every request alone).
        graph_rate: (requests, seconds): no more requests start within any
            window of that length (each request of a `$batch` counts).
            Outlook allows 10,000 per 10 minutes per app and mailbox. None:
            no pacing but `Retry-After`.
        dataverse_rate: (requests, seconds) for Dataverse, where a `$batch`
            counts once; the service allows 6,000 per 5 minutes per user
            and web server. Also the spacing while the `x-ms-ratelimit-*`
            headers say the allowance is nearly spent.
        clock: seconds from a monotonic clock (`time.monotonic`), for the
            pacing windows; tests and scaled benchmarks pass their own with
            a matching `sleep`.

    Raises:
        SettingsError: a root that is not https (nor an allowed loopback
            http root), a limit or concurrency that is not positive, a batch
            size over Microsoft's maximum (20 for Graph, 1,000 for
            Dataverse), or a `graph_rate` that allows fewer requests per
            window than one batch carries.
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
    allow_loopback_http: bool = False
    max_wait: float = 120.0
    wait_budget: float = 600.0
    max_pages: int = 10_000
    max_response_bytes: int = 256 * 1024 * 1024
    max_delta_fetches: int = 200
    event_window_days: tuple[int, int] = (90, 365)
    graph_concurrency: int = 4
    dataverse_concurrency: int = 4
    dataverse_batch_size: int = 100
    graph_rate: tuple[int, float] | None = (10_000, 600.0)
    dataverse_rate: tuple[int, float] | None = (6_000, 300.0)
    clock: Callable[[], float] = time.monotonic
    _attachments: dict[tuple[Side, str], list[tuple[str, str, str, str]]] = attrs.field(
        factory=dict, init=False
    )
    _refused: set[str] = attrs.field(factory=set, init=False)  # request ids answered 412
    _waited: float = attrs.field(default=0.0, init=False)
    _details: dict[str, _Detail] = attrs.field(factory=dict, init=False)
    _services: dict[str, str] = attrs.field(factory=dict, init=False)
    _skipped: set[str] = attrs.field(factory=set, init=False)
    _paces: dict[str, Pace] = attrs.field(factory=dict, init=False)
    _budget: threading.Lock = attrs.field(factory=threading.Lock, init=False)

    def __attrs_post_init__(self) -> None:
        problems = [
            Problem((name,), why)
            for name in ("graph_url", "dataverse_url")
            if (why := self._unsafe_root(getattr(self, name)))
        ]
        problems += [
            Problem((name,), "must be positive")
            for name in (
                "max_wait",
                "wait_budget",
                "max_pages",
                "max_response_bytes",
                "max_delta_fetches",
                "graph_concurrency",
                "dataverse_concurrency",
            )
            if not getattr(self, name) > 0
        ]
        if not 1 <= self.batch_size <= 20:
            problems.append(Problem(("batch_size",), "Graph takes 1 to 20 requests per $batch"))
        if not 1 <= self.dataverse_batch_size <= 1000:
            problems.append(
                Problem(("dataverse_batch_size",), "Dataverse takes 1 to 1000 requests per $batch")
            )
        for name in ("graph_rate", "dataverse_rate"):
            rate = getattr(self, name)
            if rate is not None and not (rate[0] >= 1 and rate[1] > 0):
                problems.append(Problem((name,), "must be (requests >= 1, seconds > 0) or None"))
        if self.graph_rate is not None and 1 <= self.graph_rate[0] < self.batch_size:
            # A $batch counts each request it carries: one batch could never fit.
            problems.append(Problem(("graph_rate",), "allows fewer requests than batch_size"))
        if problems:
            raise SettingsError(problems, root="Connection")
        self._new_paces()

    def _new_paces(self) -> None:
        """The pacing of each service, kept for the connection's life.

        The services count every request of a window, reads included, whichever
        call sent it.
        """
        self._paces = {
            "graph": Pace(self.graph_concurrency, self.clock, self.sleep, self.graph_rate),
            "dataverse": Pace(
                self.dataverse_concurrency, self.clock, self.sleep, self.dataverse_rate
            ),
        }

    def _unsafe_root(self, root: str) -> str:
        """Why a service root may not be sent credentials, or ''."""
        try:
            url = httpx.URL(root)
        except (httpx.InvalidURL, TypeError):
            return "not a URL"
        if url.scheme == "https" and url.host:
            return ""
        if url.scheme == "http" and self.allow_loopback_http and _loopback(url.host):
            return ""
        if url.scheme == "http" and _loopback(url.host):
            return "plain http: pass allow_loopback_http=True for a local test server"
        return "must be an https URL"

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

    def _target(self, service: str, url: str) -> str:
        """The absolute URL of a request, refused unless it is on the service root's origin.

        The token of a service goes only where the caller configured that
        service: an absolute URL from an answer (a nextLink) naming another
        scheme, host or port never gets it.
        """
        root = self._root(service)
        why = self._unsafe_root(root)
        if why:
            raise _Failed(f"{service} root {root!r}: {why}")
        if not url.startswith(("http://", "https://")):
            return root + url
        if not _under(url, root):
            raise _Failed(
                f"refused {url[:200]!r}: not on the origin and under the path of {root!r}"
            )
        return url

    def _headers(self, service: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        token = self.graph_token() if service == "graph" else self.dataverse_token()
        headers = {"Authorization": f"Bearer {token}"}
        if service == "dataverse":
            headers |= _DATAVERSE_HEADERS
        return headers | dict(extra or {})

    def _exchange(
        self, service: str, method: str, target: str, body: Any, headers: Mapping[str, str] | None
    ) -> httpx.Response:
        """One HTTP exchange, its answer read whole up to `max_response_bytes`.

        A `bytes` body is sent as it is (a Dataverse `$batch`, its Content-Type in
        `headers`); anything else as JSON.
        """
        if isinstance(body, bytes):
            request = self.client.build_request(
                method, target, content=body, headers=self._headers(service, headers)
            )
        else:
            request = self.client.build_request(
                method, target, json=body, headers=self._headers(service, headers)
            )
        # Never a redirect: it could carry the request (and its token) elsewhere.
        started = time.monotonic()
        sending = _SENDING.set(True)
        try:
            response = self.client.send(request, stream=True, follow_redirects=False)
        finally:
            _SENDING.reset(sending)
        _LOG.debug(
            "%s %s %s: %d (%.3f s)",
            service,
            method,
            target,
            response.status_code,
            time.monotonic() - started,
        )
        try:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise _Failed(
                        f"{method} {target}: {response.status_code} answer larger than "
                        f"max_response_bytes={self.max_response_bytes}"
                    )
                chunks.append(chunk)
        finally:
            response.close()
        # The bytes are already decoded: a copy without Content-Encoding is not decoded twice.
        plain = httpx.Headers(
            [(k, v) for k, v in response.headers.raw if k.lower() != b"content-encoding"]
        )
        return httpx.Response(
            response.status_code, headers=plain, content=b"".join(chunks), request=request
        )

    def _wait(self, service: str, seconds: float, why: str) -> None:
        """Waits before a retry, within `max_wait` and what is left of `wait_budget`.

        The whole service pauses: no other request to it starts before the
        wait ends. Waits that overlap count once against the budget.

        Raises:
            _Failed: the wait is longer than either allows; the request is not retried.
        """
        if not seconds <= self.max_wait:  # also NaN and inf
            raise _Failed(f"{why}; the service asks to wait {seconds:.0f} s, over max_wait")
        pace = self._paces[service]
        with self._budget:
            extension = pace.extension(seconds)
            if self._waited + extension > self.wait_budget:
                raise _Failed(
                    f"{why}; waiting {seconds:.0f} s more would pass wait_budget="
                    f"{self.wait_budget:g} s ({self._waited:.0f} s waited)"
                )
            self._waited += extension
            pace.pause(seconds)
        self.sleep(seconds)

    def _send(
        self,
        service: str,
        method: str,
        url: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        weight: int = 1,
        slots: int = 1,
    ) -> httpx.Response:
        """One request, retried on 429 and 503 (a GET also on transport errors and 5xx).

        Paced: it holds `slots` of the service's pool while in flight (an
        unordered Graph `$batch` holds up to four: Graph sends Outlook four of
        its requests at a time) and counts `weight` operations in the
        service's rate window.

        Returns:
            The last response.

        Raises:
            httpx.TransportError: no answer (a GET: after the last retry).
            _Failed: the URL is refused, the answer is over the size limit,
                or a retry would wait longer than `max_wait` or `wait_budget`
                allow (with the response that asked for it).
        """
        target = self._target(service, url)
        retried = _GET_RETRY_STATUSES if method == "GET" else _RETRY_STATUSES
        attempt = 0
        pace = self._paces[service]
        while True:
            entry = pace.enter(weight, slots=slots)
            try:
                try:
                    response = self._exchange(service, method, target, body, headers)
                finally:
                    pace.leave(entry)
            except httpx.TransportError as exc:
                # Only a GET is safe to send again when the answer was lost: a write
                # may have been carried out.
                if method != "GET" or attempt >= self.max_retries:
                    raise
                self._wait(service, _delay({}, attempt), f"{method} {target}: {exc!r}")
            else:
                if service == "dataverse":
                    pace.observe(response.headers.items())
                if response.status_code not in retried or attempt >= self.max_retries:
                    return response
                try:
                    self._wait(service, _delay(response, attempt), _error(response))
                except _Failed as exc:
                    raise _Failed(str(exc), response) from None
            attempt += 1

    def _get(self, service: str, url: str, headers: Mapping[str, str] | None = None) -> Any:
        """The JSON body of a successful GET.

        Raises:
            _Expired: a 410 (a delta token the service no longer knows).
            ServiceError: the GET failed, or its body is not JSON.
        """
        try:
            response = self._send(service, "GET", url, headers=headers)
        except _Failed as exc:
            text = str(exc)
            said = text if text.startswith("GET ") else f"GET {url[:200]}: {text}"
            raise ServiceError(said) from None
        except httpx.HTTPError as exc:
            raise ServiceError(f"GET {url[:200]}: {type(exc).__name__}: {exc}") from None
        if response.status_code == 410:
            raise _Expired(_error(response))
        if response.status_code == 404:
            raise _Gone(_error(response))
        if response.status_code == 400:
            raise _BadRequest(_error(response))
        if not response.is_success:
            raise ServiceError(_error(response))
        try:
            return _parsed(response)
        except ValueError:
            # A proxy's HTML page, a truncated body, a 204: never an empty collection.
            kind = response.headers.get("Content-Type", "no content type")
            raise ServiceError(
                f"GET {response.request.url}: {response.status_code} with a body that is not "
                f"JSON ({len(response.content)} bytes, {kind})"
            ) from None

    def _collection(self, service: str, url: str) -> list[Any]:
        """Every item of a collection, following `@odata.nextLink` on the read's own origin."""
        return self._pages(service, url)[0]

    def _pages(
        self, service: str, url: str, headers: Mapping[str, str] | None = None
    ) -> tuple[list[Any], str]:
        """Every item of a collection and its last page's `@odata.deltaLink` ('' when none).

        Raises:
            ServiceError: a page is not `{"value": [...]}`, a nextLink is not
                a string on the origin the read started on, a link comes
                twice, or there are more than `max_pages` pages.
        """
        items: list[Any] = []
        delta_link = ""
        try:
            start = self._target(service, url)
        except _Failed as exc:
            raise ServiceError(str(exc)) from None
        seen: set[str] = set()
        next_url: str | None = start
        while next_url is not None:
            if next_url in seen:
                raise ServiceError(f"GET {start}: the nextLink {next_url[:200]!r} came twice")
            if len(seen) >= self.max_pages:
                raise ServiceError(f"GET {start}: more than max_pages={self.max_pages} pages")
            seen.add(next_url)
            page = self._get(service, next_url, headers)
            value = page.get("value") if isinstance(page, dict) else None
            if not isinstance(value, list):
                raise ServiceError(f"GET {next_url}: the answer holds no `value` list")
            items.extend(value)
            link = page.get("@odata.nextLink")
            if link is None:
                found = page.get("@odata.deltaLink")
                delta_link = found if isinstance(found, str) else ""
                break
            if not isinstance(link, str):
                raise ServiceError(f"GET {next_url}: the nextLink is not a string")
            # The start is on a checked root (https, or loopback http opted into): the
            # same scheme, host and port, under the same root, keep the read (and the
            # token) where the caller configured it.
            if not _under(link, self._root(service)):
                raise ServiceError(
                    f"GET {next_url}: refused the nextLink {link[:200]!r}, "
                    "which leaves the origin the read started on"
                )
            next_url = link
        if delta_link and not _under(delta_link, self._root(service)):
            raise ServiceError(f"GET {start}: refused the deltaLink {delta_link[:200]!r}")
        return items, delta_link

    # -- reading -------------------------------------------------------------

    def read_outlook(
        self,
        baseline: Baseline | None = None,
        *,
        crm: CrmSnapshot | None = None,
        state: ReadState | None = None,
        full: Collection[Domain] = (),
    ) -> GraphRead:
        """The mailbox's contacts, events (with attachments) and To Do tasks, read from Graph.

        Without `state`, every collection is read in full and the returned
        `GraphRead.state` starts delta rounds: contacts, events and To Do
        tasks through Graph's delta queries (`contacts/delta`,
        `calendarView/delta`, `tasks/delta`),
        whose first round is read to its end for its `@odata.deltaLink`
        before the full read, so a change made in between comes again in
        the next round rather than never. With `state`, the snapshot is
        partial (`complete=False`): contacts and tasks hold what the delta
        round delivered, each fetched as its Graph document with the
        `$expand` the full read uses (a delta page leaves out the extended
        properties and linked resources crmsync reads), and `@removed`
        entries are removed keys. Events come by `calendarView/delta` over
        `event_window_days`, each delivered event (an occurrence as its
        series master) fetched with its attachments and extended
        properties; a removed event is fetched to tell a delete from an
        event that left the window.
        A collection read in full in a partial round (a domain in
        `full`; a delta token Graph answers with 410, `syncStateNotFound` or
        `resyncRequired`; a round that changed more than `max_delta_fetches`
        items) holds every record, and the baseline's records it no longer
        holds are removed keys.

        Args:
            baseline: the baseline of the next plan: a To Do task's percent
                complete, which To Do cannot hold, is read from its Outlook
                side (`read_graph(previous=...)`), and in a delta round the
                keys a collection read in full no longer holds are removed.
            crm: the CRM snapshot of the same round: links only the CRM can
                settle are settled (`crmsync.adapters.resolve_links`: a row
                created from an item whose answer was lost, a To Do task
                that links to several CRM tasks). Read the CRM first.
            state: the previous round's state, or the one `read_dataverse`
                returned in this round (it carries the previous Graph
                part on); a state without Graph links reads in full.
            full: domains to read in full in a delta round
                (`Plan.reread_domains`, and the domains of `Plan.reread` and
                `Plan.data_loss_records`, which a delta round would not
                deliver again).

        Returns:
            The read; its `ids` and `etags` cover every record known, those
            a delta round did not deliver included, and `state` is the
            state for the next round (this read's Graph part, the
            Dataverse part of `state`).

        Raises:
            InvalidInput: a payload crmsync cannot read, with its path.
            ServiceError: (an `httpx.HTTPError`) the service could not be
                reached, refused a read or answered something that is not the
                documented shape (a partial read would look like deletes).
        """
        self._waited = 0.0
        props = " or ".join(f"id eq '{p}'" for p in _GRAPH_PROPERTIES)
        extended = f"singleValueExtendedProperties($filter={props})"
        previous = baseline.outlook if baseline is not None else None
        links: dict[str, str] = {}
        whole: set[str] = set()
        try:
            todo = f"/me/todo/lists/{quote(self._todo_list(), safe='=-_')}/tasks"
            reads = {
                "contacts": f"/me/contacts?$expand={extended}",
                "events": f"/me/events?$expand=attachments,{extended}",
                "tasks": f"{todo}?$expand=linkedResources",
            }
            # The delta query of a collection, and how one of its items is fetched whole.
            first, last = self._event_window()
            deltas = {
                "contacts": ("/me/contacts/delta", "/me/contacts/{id}?$expand=" + extended),
                "events": (
                    f"/me/calendarView/delta?startDateTime={first}&endDateTime={last}",
                    "/me/events/{id}?$expand=attachments," + extended,
                ),
                "tasks": (f"{todo}/delta", todo + "/{id}?$expand=linkedResources"),
            }
            data: dict[str, Any] = {}
            known = _known_graph_ids(state, baseline)
            for name, url in reads.items():
                link = state.graph_links.get(name, "") if state is not None else ""
                if name in deltas and link and _GRAPH_DOMAINS[name] not in full:
                    try:
                        changed, links[name] = self._pages("graph", link)
                    except _Expired:
                        _LOG.info("graph %s: delta token refused (410), reading in full", name)
                    else:
                        if len(changed) <= self.max_delta_fetches:
                            data[name] = self._documents(changed, deltas[name][1], known)
                            continue
                if name in deltas and name not in links:
                    links[name] = self._pages("graph", deltas[name][0])[1]
                data[name] = self._collection("graph", url)
                whole.add(name)
        except _Failed as exc:
            raise ServiceError(str(exc)) from None
        if state is None or not state.graph_links:
            read = read_graph(data, previous=previous)
        else:
            read = read_graph(data, partial=True, known_ids=state.ids, previous=previous)
            read = _kept(read, state, baseline, whole)
        if crm is not None:
            read = resolve_links(read, crm, baseline)
        return attrs.evolve(
            read, state=(state or ReadState()).with_graph(links, read.ids, read.etags)
        )

    def _event_window(self) -> tuple[str, str]:
        """The calendar view a delta round of events starts with, as Graph's UTC text."""
        now = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
        past, future = self.event_window_days
        first, last = now - dt.timedelta(days=past), now + dt.timedelta(days=future)
        return first.isoformat() + "Z", last.isoformat() + "Z"

    def _documents(self, changed: list[Any], template: str, known: set[str]) -> list[Any]:
        """The items a delta round delivered, each fetched whole; one deleted since is removed.

        An occurrence or exception (`calendarView/delta`) stands for its series
        master, fetched once. A removed event is fetched too: an event that
        left the calendar view is not deleted. A removed entry naming an id
        no earlier read knew is dropped (an occurrence, an item never read).
        """
        out: list[Any] = []
        fetched: set[str] = set()
        for item in changed:
            graph_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(item, dict) or not _valid_id("graph", graph_id):
                out.append(item)  # a bad entry: the reader reports it
                continue
            removed = "@removed" in item
            if removed and graph_id not in known:
                continue
            if removed and not template.startswith("/me/events/"):
                out.append(item)
                continue
            if item.get("type") in ("occurrence", "exception"):
                master = item.get("seriesMasterId")
                graph_id = master if _valid_id("graph", master) else graph_id
            if graph_id in fetched:
                continue
            fetched.add(str(graph_id))
            try:
                url = template.replace("{id}", quote(str(graph_id), safe="=-_"))
                out.append(self._get("graph", url))
            except _Gone:
                if graph_id in known:
                    out.append({"id": graph_id, "@removed": {"reason": "deleted"}})
        return out

    def read_crm(self) -> CrmSnapshot:
        """The CRM's contacts, appointments (with attendees and attachments) and tasks.

        `read_dataverse().snapshot`; `read_dataverse()` keeps the rows' etags too.

        Raises:
            InvalidInput: a payload crmsync cannot read, with its path.
            httpx.HTTPError: the service could not be reached or refused a read.
        """
        return self.read_dataverse().snapshot

    def read_dataverse(
        self,
        baseline: Baseline | None = None,
        *,
        state: ReadState | None = None,
        full: Collection[Domain] = (),
    ) -> DataverseRead:
        """The CRM as `read_crm` reads it, with each row's etag (`DataverseRead.etags`).

        The collections are read one after another; a file whose appointment
        was made after the appointments were read is left for the next read.

        Contacts and tasks are read with change tracking (`Prefer:
        odata.track-changes`): without `state`, the first request lists every
        row and its last page's `@odata.deltaLink` goes into the returned
        `state`; with `state`, the snapshot is partial and holds the rows
        changed since, deleted rows (`$deletedEntity`) as removed keys.
        Appointments, series and their attachment rows are read in full
        every round: the read expands each appointment's activity parties,
        which a change-tracking request does not return, and joins the
        attachment rows to their appointment. A table read in full in a
        partial round (those; a domain in `full`; a delta token Dataverse
        refuses with 410) holds every row, and the baseline's rows it no
        longer holds are removed keys.

        Args:
            baseline: the baseline of the next plan (its CRM side names the
                rows a table read in full no longer holds).
            state: the previous round's state; None, or a state without
                Dataverse links, reads in full.
            full: domains to read in full in a delta round (see
                `read_outlook`).

        Returns:
            The read; its `etags` cover every row known, and `state` is the
            state for the next round (this read's Dataverse part, the Graph
            part of `state`).

        Raises:
            InvalidInput: a payload crmsync cannot read, with its path.
            ServiceError: (an `httpx.HTTPError`) the service could not be
                reached, refused a read or answered something that is not the
                documented shape.
        """
        self._waited = 0.0
        parties = "appointment_activity_parties($select=participationtypemask,addressused)"
        tracking = {"Prefer": "odata.track-changes"}
        links: dict[str, str] = {}
        whole: set[Domain] = {Domain.APPOINTMENT}
        data: dict[str, Any] = {}
        try:
            for name, domain in (("contacts", Domain.CONTACT), ("tasks", Domain.TASK)):
                link = state.dataverse_links.get(name, "") if state is not None else ""
                if link and domain not in full:
                    try:
                        data[name], links[name] = self._pages("dataverse", link, tracking)
                        continue
                    except _Expired:
                        _LOG.info("dataverse %s: delta token refused (410), reading in full", name)
                try:
                    rows, links[name] = self._pages("dataverse", f"{API_ROOT}/{name}", tracking)
                except _BadRequest as exc:
                    # Change tracking off for the table: read it as before, with no link.
                    # Only a refusal: a 2xx answer that is not a page still fails the read.
                    _LOG.info(
                        "dataverse %s: change tracking refused (%s), reading in full", name, exc
                    )
                    rows, links[name] = self._collection("dataverse", f"{API_ROOT}/{name}"), ""
                # A round started without a token lists every row; a deleted entry in
                # it names a row that is not there, which a full read does not list.
                data[name] = [row for row in rows if not _deleted_entry(row)]
                whole.add(domain)
            data |= {
                "appointments": self._collection(
                    "dataverse", f"{API_ROOT}/appointments?$expand={parties}"
                ),
                # A series is a row of its own table, with its own parties.
                "recurringappointmentmasters": self._collection(
                    "dataverse",
                    f"{API_ROOT}/recurringappointmentmasters?$expand="
                    + parties.replace("appointment_", "recurringappointmentmaster_", 1),
                ),
                "activitymimeattachments": self._collection(
                    "dataverse",
                    f"{API_ROOT}/activitymimeattachments?$filter=objecttypecode eq 'appointment'"
                    " or objecttypecode eq 'recurringappointmentmaster'",
                ),
            }
        except _Failed as exc:
            raise ServiceError(str(exc)) from None
        data["activitymimeattachments"] = _of_appointments_read(
            data["activitymimeattachments"], data["appointments"]
        )
        if state is None or not state.dataverse_links:
            read = read_dataverse(data)
        else:
            read = read_dataverse(data, partial=True)
            previous = baseline.crm if baseline is not None else None
            gone = set(read.snapshot.removed) | _absent_keys(read.snapshot, previous, whole)
            etags = _carried(_flat_state(state.dataverse_etags), read.etags, gone, whole)
            snapshot = attrs.evolve(read.snapshot, removed=frozenset(gone))
            read = attrs.evolve(read, snapshot=snapshot, etags=etags)
        return attrs.evolve(read, state=(state or ReadState()).with_dataverse(links, read.etags))

    def _todo_list(self) -> str:
        if self.todo_list is None:
            lists = self._collection("graph", "/me/todo/lists")
            default = [
                x.get("id")
                for x in lists
                if isinstance(x, dict) and x.get("wellknownListName") == "defaultList"
            ]
            if not default:
                raise _Failed("the mailbox has no default To Do list; pass todo_list=")
            if not isinstance(default[0], str) or not _GRAPH_ID.fullmatch(default[0]):
                raise _Failed("the default To Do list's id is not a Graph id")
            self.todo_list = default[0]
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
            for item in filter(lambda i: isinstance(i, dict), items):
                name, id_, data = (str(item.get(n) or "") for n in names)
                try:
                    digest = hashlib.sha256(base64.b64decode(data, validate=True)).hexdigest()
                except ValueError:  # not a file attachment, or no valid content
                    continue
                service = "graph" if side is Side.OUTLOOK else "dataverse"
                if data and _valid_id(service, id_):  # the id goes into a DELETE's URL
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
            except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                # 204 with OData-EntityId: the id in parentheses.
                value = (
                    _entity_id(response.get("@odata.id")) if isinstance(response, dict) else None
                )
            # Only an id of the answering service's form goes into a URL or a body: an
            # answer's `../../accounts(1)` must never address another record.
            if not _valid_id(self._services.get(ref.request, "graph"), value):
                raise _Failed(
                    f"no valid id at {ref.pointer} in the response to {ref.request}"
                ) from None
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
                    and _valid_id("graph", link.get("id"))
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
            One outcome per op, whatever the services answered once requests
            went out (a malformed answer fails the ops it concerns, with the
            service, method, URL, status and error in their outcome);
            `Executed.baseline()` advances the baseline for the ops that were
            done.

        Raises:
            StalePlan: an op names a record the snapshots do not hold (before
                any request is sent).
        """
        ids = graph_ids or {}
        self._attachments.clear()
        self._details.clear()
        self._skipped.clear()
        self._waited = 0.0
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
        self._services = {r.id: r.service for r in waiting}
        responses: dict[str, Any] = {}
        failures: dict[str, str] = {}
        while waiting:
            ready, blocked = [], []
            for request in waiting:
                failed = [d for d in request.depends_on if d in failures]
                if failed:
                    failures[request.id] = f"not run: it waits for {failed[0]}, which failed"
                    self._skipped.add(request.id)
                elif all(d in responses for d in request.depends_on):
                    ready.append(request)
                else:
                    blocked.append(request)
            if not ready:
                for request in blocked:  # cannot happen with requests_by_op's order
                    failures[request.id] = "not run: its dependencies never ran"
                    self._skipped.add(request.id)
                break
            ready, blocked = self._chained(ready, blocked)
            try:
                self._run(ready, responses, failures, ids)
            except Exception as exc:  # execute returns, whatever was answered
                # A bug met by an answer no test foresaw: the requests it concerns are
                # not done, and what was done before still advances the baseline.
                _unusable(ready, exc, responses, failures)
            # A request taken into its op's change set early and left unsent goes back.
            waiting = blocked + [r for r in ready if r.id not in responses and r.id not in failures]
        return Executed(
            plan=plan,
            outcomes=tuple(
                _outcome(
                    op, by_op, responses, failures, self._details, self._skipped, self._refused
                )
                for op in plan.ops
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
        present: set[str] = set()
        for request in ready:
            if request.upload is not None:
                self._upload(request, responses, failures, graph_ids)
                continue
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
            if _dot_segment(url):
                # An id read from a server (`..`) would move the request to another
                # resource once the URL is normalized: never sent.
                failures[request.id] = f"{request.method} {url[:200]}: refused, a dot segment"
                continue
            if any(d not in responses and d not in present for d in request.depends_on):
                continue  # taken into a change set whose head did not go: it waits again
            prepared.append((request, url, body))
            present.add(request.id)
        graph = [p for p in prepared if p[0].service == "graph"]
        jobs: dict[str, list[tuple[Callable[[], None], list[Request]]]] = {
            "graph": [],
            "dataverse": [],
        }
        for start in range(0, len(graph), self.batch_size):
            chunk = graph[start : start + self.batch_size]
            if len(chunk) == 1:
                job = functools.partial(self._one, *chunk[0], responses, failures)
            else:
                job = functools.partial(self._batch, chunk, responses, failures)
            jobs["graph"].append((job, [r for r, _, _ in chunk]))
        dataverse = [p for p in prepared if p[0].service == "dataverse"]
        for batch in self._dataverse_batches(dataverse):
            if len(batch) == 1 and len(batch[0]) == 1:
                job = functools.partial(self._one, *batch[0][0], responses, failures)
            else:
                job = functools.partial(self._dataverse_batch, batch, responses, failures)
            jobs["dataverse"].append((job, [r for unit in batch for r, _, _ in unit]))
        self._dispatch(jobs, responses, failures)

    def _dispatch(
        self,
        jobs: Mapping[str, Sequence[tuple[Callable[[], None], list[Request]]]],
        responses: dict[str, Any],
        failures: dict[str, str],
    ) -> None:
        """Runs each service's jobs, at most its concurrency at once, both services together.

        With a concurrency of 1 for both, everything runs in this thread, Graph
        first, as a sequential executor would. A job that raises fails the
        requests it had not settled (execute always returns).
        """

        def guarded(job: Callable[[], None], requests: list[Request]) -> None:
            try:
                job()
            except Exception as exc:  # execute returns, whatever was answered
                _unusable(requests, exc, responses, failures)

        if self.graph_concurrency == 1 and self.dataverse_concurrency == 1:
            for service in ("graph", "dataverse"):
                for job, requests in jobs[service]:
                    guarded(job, requests)
            return
        pools = {
            "graph": ThreadPoolExecutor(self.graph_concurrency, "crmsync-graph"),
            "dataverse": ThreadPoolExecutor(self.dataverse_concurrency, "crmsync-dataverse"),
        }
        try:
            futures = [
                pools[service].submit(contextvars.copy_context().run, guarded, job, requests)
                for service in ("graph", "dataverse")
                for job, requests in jobs[service]
            ]
            for future in futures:
                future.result()
        finally:
            for pool in pools.values():
                pool.shutdown(wait=True)

    def _chained(
        self, ready: list[Request], blocked: list[Request]
    ) -> tuple[list[Request], list[Request]]:
        """Takes the Dataverse requests that only wait for a ready one of their op into its round.

        A CRM create of a closed activity is a create and then a `PATCH` of its
        state; an update of a closed row reopens it, writes and closes it again.
        Sent in one change set, each chain takes effect whole or not at all, so
        a lost answer or a failure never leaves a row half written (open when
        it should be closed, or reopened). A request joins only when it has no
        fills, is not a `DELETE` and waits for nothing but its chain.
        """
        if self.dataverse_batch_size == 1:
            return ready, blocked
        taken: dict[str, Request] = {}
        # Only where the op's requests make one change set (see `_dataverse_batches`): a
        # follower sent apart from its head could run without it, or before it.
        deleting = {r.op for r in ready if r.service == "dataverse" and r.method == "DELETE"}
        for head in ready:
            if head.service != "dataverse" or head.upload is not None or head.op is None:
                continue
            if head.op in deleting:
                continue
            chain = {head.id}
            for request in blocked:
                joins = (
                    request.service == "dataverse"
                    and request.op == head.op
                    and not request.fills
                    and request.upload is None
                    and not request.read_back
                    and request.method != "DELETE"
                    and bool(request.depends_on)
                    and set(request.depends_on) <= chain
                    and len(chain) < self.dataverse_batch_size
                )
                if joins:
                    chain.add(request.id)
                    taken[request.id] = request
        if not taken:
            return ready, blocked
        return ready + list(taken.values()), [r for r in blocked if r.id not in taken]

    def _dataverse_batches(
        self, prepared: Sequence[tuple[Request, str, Any]]
    ) -> list[list[list[tuple[Request, str, Any]]]]:
        """Dataverse requests ready together, in `$batch`es of change sets and lone requests.

        An op's requests that go together form one change set (all or none of
        them take effect), unless one is a `DELETE` (a 404 is done, and must
        not undo the rest) or a create that may be read back is not the
        first (its 412 is done too: see `_dataverse_batch`). A `$batch` holds
        at most `dataverse_batch_size` requests and about `_BATCH_BYTES` of
        bodies, and a round's requests are spread over at least as many
        batches as may be in flight (Dataverse runs a batch's requests one
        after another).
        """
        units: list[list[tuple[Request, str, Any]]] = []
        by_op: dict[OpRef | None, list[tuple[Request, str, Any]]] = {}
        for item in prepared:
            by_op.setdefault(item[0].op, []).append(item)
        for op, items in by_op.items():
            atomic = (
                op is not None
                and len(items) > 1
                and self.dataverse_batch_size > 1
                and all(r.method != "DELETE" for r, _, _ in items)
                and not any(r.read_back for r, _, _ in items[1:])
            )
            if atomic and len(items) <= self.dataverse_batch_size:
                units.append(list(items))
            else:
                units.extend([item] for item in items)
        batches: list[list[list[tuple[Request, str, Any]]]] = []
        count = size = 0
        # Dataverse runs a batch's requests one after another: a round is spread over the
        # pool (241 requests go as four batches of 61, not 100, 100 and 41), in batches of
        # at least _SPREAD_LEAST, where a batch's own round trip stops paying for itself.
        most = min(
            self.dataverse_batch_size,
            max(_SPREAD_LEAST, math.ceil(len(prepared) / self.dataverse_concurrency)),
        )
        for unit in units:
            weight = sum(len(json.dumps(body)) for _, _, body in unit if body is not None)
            if batches and (count + len(unit) > max(most, 1) or size + weight > _BATCH_BYTES):
                batches.append([])
                count = size = 0
            if not batches:
                batches.append([])
            batches[-1].append(unit)
            count += len(unit)
            size += weight
        return batches

    def _upload(
        self,
        request: Request,
        responses: dict[str, Any],
        failures: dict[str, str],
        graph_ids: Mapping[tuple[Domain, str], str],
    ) -> None:
        """Sends a large attachment's bytes in ranged `PUT`s to its upload session.

        Graph documents the `uploadUrl` as pre-authenticated, on another host
        (outlook.office.com), and says not to send an Authorization header
        with these `PUT`s: the caller's token never goes there. Each range is
        `UPLOAD_CHUNK_BYTES` (a multiple of 320 KiB, under Graph's 4 MB); a
        range answered with anything but 200 (more expected) or 201 (the last
        one: the attachment is made) fails the op, and the next round starts
        a new session.
        """
        upload = request.upload
        assert upload is not None  # noqa: S101 - only called for uploads
        session = responses.get(upload.session)
        upload_url = session.get("uploadUrl") if isinstance(session, dict) else None
        sent = _Detail(service="graph", method="PUT", url="{uploadUrl}")
        if not isinstance(upload_url, str) or not self._upload_url_ok(upload_url):
            why = f"no https uploadUrl in the response to {upload.session}"
            self._details[request.id] = attrs.evolve(sent, message=why)
            failures[request.id] = why
            return
        try:
            data = base64.b64decode(
                self._value(Fill("body", "", upload.bytes), responses, graph_ids), validate=True
            )
        except (_Failed, httpx.HTTPError, ValueError) as exc:
            failures[request.id] = str(exc)
            return
        sent = attrs.evolve(sent, url=upload_url[:200])
        total = len(data)
        answer = None
        for first in range(0, total, UPLOAD_CHUNK_BYTES):
            chunk = data[first : first + UPLOAD_CHUNK_BYTES]
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {first}-{first + len(chunk) - 1}/{total}",
            }
            try:
                answer = self.client.put(
                    upload_url, content=chunk, headers=headers, follow_redirects=False
                )
            except httpx.HTTPError as exc:
                self._details[request.id] = attrs.evolve(
                    sent, message=f"{type(exc).__name__}: {exc}"
                )
                failures[request.id] = _describe(self._details[request.id])
                return
            last = first + len(chunk) >= total
            if answer.status_code != (201 if last else 200):
                self._details[request.id] = _answered("graph", answer)
                failures[request.id] = _describe(self._details[request.id])
                return
        if answer is None:  # no bytes: Graph takes no empty upload
            failures[request.id] = "an upload session for an empty file"
            return
        self._details[request.id] = _answered("graph", answer)
        # The last answer's Location names the attachment ("...Attachments('AAMk...')").
        found = re.search(r"Attachments\('([^']+)'\)", answer.headers.get("Location", ""))
        responses[request.id] = {"id": found.group(1)} if found else {}

    def _upload_url_ok(self, url: str) -> bool:
        """An https URL (or, for a local fake, the loopback http this connection allows)."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            return False
        if parsed.scheme == "https" and parsed.host:
            return True
        return parsed.scheme == "http" and self.allow_loopback_http and _loopback(parsed.host)

    def _full(self, service: str, url: str) -> str:
        return url if url.startswith(("http://", "https://")) else self._root(service) + url

    def _one(
        self,
        request: Request,
        url: str,
        body: Any,
        responses: dict[str, Any],
        failures: dict[str, str],
    ) -> None:
        headers = dict(request.headers)
        sent = _Detail(
            service=request.service, method=request.method, url=self._full(request.service, url)
        )
        try:
            response = self._send(request.service, request.method, url, body, headers)
        except _Failed as exc:  # a refused URL or wait, an answer over the size limit
            answered = exc.response
            detail = sent if answered is None else _answered(request.service, answered)
            self._details[request.id] = attrs.evolve(detail, message=str(exc))
            failures[request.id] = str(exc)
            return
        except httpx.HTTPError as exc:  # no answer: reset, timeout, lost response
            self._details[request.id] = attrs.evolve(sent, message=f"{type(exc).__name__}: {exc}")
            failures[request.id] = _describe(self._details[request.id])
            return
        self._settle(request, response, responses, failures)

    def _settle(
        self,
        request: Request,
        response: httpx.Response,
        responses: dict[str, Any],
        failures: dict[str, str],
    ) -> None:
        """Records a request's answer (alone or from a `$batch`): done, read back, or failed."""
        if request.read_back and _read_back(request, response):
            # Created by an earlier attempt, or answered without the row: read it.
            sent = _Detail(
                service=request.service,
                method="GET",
                url=self._full(request.service, request.read_back),
            )
            try:
                response = self._send(request.service, "GET", request.read_back)
            except _Failed as exc:
                answered = exc.response
                detail = sent if answered is None else _answered(request.service, answered)
                self._details[request.id] = attrs.evolve(detail, message=str(exc))
                failures[request.id] = str(exc)
                return
            except httpx.HTTPError as exc:
                self._details[request.id] = attrs.evolve(
                    sent, message=f"{type(exc).__name__}: {exc}"
                )
                failures[request.id] = _describe(self._details[request.id])
                return
        self._details[request.id] = _answered(request.service, response)
        if response.is_success or (request.method == "DELETE" and response.status_code == 404):
            responses[request.id] = _json(response)
        else:
            if response.status_code == 412:
                self._refused.add(request.id)
            failures[request.id] = _describe(self._details[request.id])

    def _dataverse_batch(
        self,
        batch: Sequence[Sequence[tuple[Request, str, Any]]],
        responses: dict[str, Any],
        failures: dict[str, str],
    ) -> None:
        """One Dataverse multipart `$batch`; what is throttled inside it goes again, alone.

        Sent with `Prefer: odata.continue-on-error`, so one failure does not
        stop the rest. The answer must be `200` and `multipart/mixed` with one
        part per lone request and per change set, in order, a change set's
        parts named by their `Content-ID` (or one failure for the whole set,
        which Dataverse rolled back); anything else fails every request of
        the batch, none counted done.
        """
        todo = [list(unit) for unit in batch]
        attempts = 0
        url = f"{API_ROOT}/$batch"

        def fail(unit: Sequence[tuple[Request, str, Any]], why: str, status: int | None) -> None:
            for request, part_url, _body in unit:
                detail = _Detail(
                    service="dataverse",
                    method=request.method,
                    url=self._full("dataverse", part_url),
                    status=status,
                    message=why,
                )
                self._details[request.id] = detail
                failures[request.id] = _describe(detail)

        while todo:
            try:
                parts = [
                    [
                        _multipart.Part(r.method, self._part_path(u), b, dict(r.headers))
                        for r, u, b in unit
                    ]
                    for unit in todo
                ]
                content_type, data, content_ids = _multipart.batch_body(parts)
                response = self._send(
                    "dataverse",
                    "POST",
                    url,
                    data,
                    {"Content-Type": content_type, "Prefer": "odata.continue-on-error"},
                )
            except (_Failed, httpx.HTTPError) as exc:
                status = (
                    exc.response.status_code if isinstance(exc, _Failed) and exc.response else None
                )
                for unit in todo:
                    fail(unit, f"POST {url}: {type(exc).__name__}: {exc}", status)
                return
            try:
                if response.status_code != 200:
                    raise _multipart.AnswerError("")
                answers = _multipart.parse_answer(
                    response.headers.get("Content-Type", ""), response.content
                )
            except _multipart.AnswerError as exc:
                refused = _answered("dataverse", response)
                why = f"the $batch answer could not be read: {exc}" if str(exc) else ""
                text = why or f"the $batch was refused: {refused.message}".rstrip(": ")
                for unit in todo:
                    fail(unit, text, refused.status if not why else None)
                return
            if len(answers) != len(todo):
                for unit in todo:
                    fail(unit, f"the $batch answered {len(answers)} parts for {len(todo)}", None)
                return
            stray = _stray_part(todo, answers)
            if stray:
                # A part answering for another record: the parts are not in the requests'
                # order, and no part can be trusted to be its request's.
                for unit in todo:
                    fail(unit, f"the $batch answer does not match its requests: {stray}", None)
                return
            retry: list[list[tuple[Request, str, Any]]] = []
            wait = 0.0
            for unit, answer, wanted in zip(todo, answers, content_ids, strict=True):
                matched = self._matched(unit, answer, wanted)
                if isinstance(matched, str):
                    fail(unit, matched, None)
                    continue
                head, first = unit[0][0], matched[0]
                if len(unit) > 1 and len(matched) > 1 and matched[1] is first and head.read_back:
                    answered = httpx.Response(
                        first.status,
                        headers=list(first.headers),
                        content=first.body,
                        request=httpx.Request(head.method, self._full("dataverse", unit[0][1])),
                    )
                    if _read_back(head, answered):
                        # The create was made by an earlier attempt: the set was rolled
                        # back, the row is read back, and the rest of the chain goes in
                        # the next round, after it.
                        self._settle(head, answered, responses, failures)
                        continue
                statuses = [a.status for a in matched]
                if any(s in _RETRY_STATUSES for s in statuses) and attempts < self.max_retries:
                    retry.append(unit)
                    for a in matched:
                        wait = max(wait, _delay(dict(a.headers), attempts))
                    continue
                for (request, part_url, _body), part in zip(unit, matched, strict=True):
                    sent = httpx.Request(request.method, self._full("dataverse", part_url))
                    self._settle(
                        request,
                        httpx.Response(
                            part.status, headers=list(part.headers), content=part.body, request=sent
                        ),
                        responses,
                        failures,
                    )
            if retry:
                try:
                    self._wait("dataverse", wait, "throttled inside a $batch")
                except _Failed as exc:
                    for unit in retry:
                        fail(unit, str(exc), 429)
                    return
                attempts += 1
            todo = retry

    @staticmethod
    def _matched(
        unit: Sequence[tuple[Request, str, Any]],
        answer: _multipart.Answered | list[Any],
        wanted: Sequence[str],
    ) -> list[_multipart.Answered] | str:
        """The answer of each request of a unit, in its order, or why there is none to trust.

        A lone request is answered by one part. A change set by one part per
        request, matched by `Content-ID`, or, when the set failed and was
        rolled back, by one failure that is every request's answer.
        """
        if len(unit) == 1:
            if isinstance(answer, list):
                return "a lone request answered as a change set"
            return [answer]
        parts = answer if isinstance(answer, list) else [answer]
        if len(parts) == 1 and parts[0].status >= 400:
            return [parts[0]] * len(unit)  # the set failed: none of it took effect
        by_id = {p.content_id: p for p in parts}
        if len(parts) != len(unit) or sorted(by_id) != sorted(wanted):
            return f"the change set of {len(unit)} was answered by {len(parts)} parts"
        return [by_id[n] for n in wanted]

    def _part_path(self, url: str) -> str:
        """A request's path for a `$batch` part, refused (`_Failed`) off the service's origin."""
        target = self._target("dataverse", url)
        parsed = httpx.URL(target)
        return parsed.raw_path.decode("ascii")

    def _batch(
        self,
        chunk: Sequence[tuple[Request, str, Any]],
        responses: dict[str, Any],
        failures: dict[str, str],
    ) -> None:
        """One Graph JSON `$batch`; requests throttled inside it are retried in a smaller one.

        The answer is checked against Graph's documented shape (a `responses`
        list with one `{id, status, headers, body}` per request): a request
        answered not at all, twice, or with no valid status is not done.
        """
        todo = {str(i): item for i, item in enumerate(chunk, 1)}
        attempts = 0

        def noted(
            request: Request, url: str, status: int | None, code: str, message: str
        ) -> _Detail:
            detail = _Detail(
                service="graph",
                method=request.method,
                url=self._full("graph", url),
                status=status,
                code=code,
                message=message,
            )
            self._details[request.id] = detail
            return detail

        def fail(
            request: Request, url: str, text: str, status: int | None = None, code: str = ""
        ) -> None:
            # The status and code of a refused $batch are the request's: a 401 of the
            # batch is a 401 for each request in it.
            failures[request.id] = _describe(noted(request, url, status, code, text))

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
                response = self._send(
                    "graph",
                    "POST",
                    "/$batch",
                    {"requests": entries},
                    weight=len(entries),
                    slots=len(entries),
                )
            except (_Failed, httpx.HTTPError) as exc:
                status = (
                    exc.response.status_code if isinstance(exc, _Failed) and exc.response else None
                )
                for request, url, _body in todo.values():
                    fail(request, url, f"POST /$batch: {exc}", status)
                return
            if not response.is_success:
                refused = _answered("graph", response)
                text = f"the $batch was refused: {refused.message}".rstrip(": ")
                for request, url, _body in todo.values():
                    fail(request, url, text, refused.status, refused.code)
                return
            payload = _json(response)
            answers = payload.get("responses") if isinstance(payload, dict) else None
            if not isinstance(answers, list):
                for request, url, _body in todo.values():
                    fail(request, url, "the $batch answer holds no `responses` list")
                return
            by_id: dict[str, list[dict[str, Any]]] = {}
            for answer in answers:
                if isinstance(answer, dict) and isinstance(answer.get("id"), str):
                    by_id.setdefault(answer["id"], []).append(answer)
            retry: dict[str, tuple[Request, str, Any]] = {}
            wait = 0.0
            for batch_id, (request, url, _body) in todo.items():
                found = by_id.get(batch_id, [])
                if len(found) != 1:
                    # Twice is no better than never: which answer says what happened?
                    times = f"{len(found)} times" if found else "not at all"
                    fail(request, url, f"answered {times} in the $batch")
                    continue
                answer = found[0]
                status = answer.get("status")
                if type(status) is not int or not 100 <= status <= 599:
                    fail(request, url, "the $batch answer has no valid HTTP status")
                    continue
                headers = answer.get("headers")
                body = answer.get("body")
                code, message = _ms_error(body)
                detail = noted(request, url, status, code, message)
                if status in _RETRY_STATUSES and attempts < self.max_retries:
                    retry[batch_id] = todo[batch_id]
                    wait = max(wait, _delay(headers if isinstance(headers, dict) else {}, attempts))
                elif 200 <= status < 300 or (request.method == "DELETE" and status == 404):
                    responses[request.id] = {} if body is None else body
                else:
                    if status == 412:
                        self._refused.add(request.id)
                    failures[request.id] = _describe(detail)
            if retry:
                try:
                    self._wait("graph", wait, "not retried")
                except _Failed as exc:
                    for request, _url, _body in retry.values():
                        failures[request.id] = f"{_describe(self._details[request.id])}; {exc}"
                    return
                attempts += 1
            todo = retry


_GRAPH_DOMAINS: Final = {
    "contacts": Domain.CONTACT,
    "events": Domain.APPOINTMENT,
    "tasks": Domain.TASK,
}
_SNAPSHOT_NAMES: Final = {
    Domain.CONTACT: "contacts",
    Domain.APPOINTMENT: "appointments",
    Domain.TASK: "tasks",
}


_KEY_COLUMNS = ("contactid", "activityid", "activitymimeattachmentid")
_ROW_PATH = re.compile(r"/[A-Za-z_]+\(([0-9a-fA-F-]{36})\)$")


def _expected_row(request: Request, url: str) -> str | None:
    """The row a Dataverse request's answer must name: the id crmsync chose, or its URL's."""
    found = _ROW_PATH.search(request.read_back if request.method == "POST" else url)
    if request.method == "POST" and not request.read_back:
        return None
    return found.group(1).lower() if found else None


def _stray_part(
    units: Sequence[Sequence[tuple[Request, str, Any]]],
    answers: Sequence[_multipart.Answered | list[_multipart.Answered]],
) -> str:
    """Why a lone request's part names another row than the request, or ''.

    Lone parts are matched to requests by their order only: an answer with a
    part twice and another missing would give each request a neighbour's
    status. A success that names its row (`OData-EntityId`) must name the
    row its request wrote, the id crmsync chose for a create included.
    """
    for unit, answer in zip(units, answers, strict=True):
        if len(unit) != 1 or isinstance(answer, list) or not 200 <= answer.status < 300:
            continue
        request, url, _body = unit[0]
        wanted = _expected_row(request, url)
        named = next((v for k, v in answer.headers if k.lower() == "odata-entityid"), "")
        answered = _entity_id(named)
        if answered is None and answer.body and request.method == "POST":
            try:  # a create answered with its row (`return=representation`)
                row = json.loads(answer.body)
            except ValueError:
                row = None
            if isinstance(row, dict):
                keys = [row.get(c) for c in _KEY_COLUMNS if isinstance(row.get(c), str)]
                answered = keys[0] if keys else None
        if wanted and answered and answered.lower() != wanted:
            return f"{request.method} {url[:200]} answered for the row {answered}"
    return ""


def _unusable(
    requests: Iterable[Request],
    exc: Exception,
    responses: Mapping[str, Any],
    failures: dict[str, str],
) -> None:
    """Fails the requests not settled yet when handling an answer raised `exc`."""
    for request in requests:
        if request.id not in responses and request.id not in failures:
            failures[request.id] = (
                f"{request.method} {request.url}: crmsync could not use the "
                f"answer ({type(exc).__name__})"
            )


def _known_graph_ids(state: ReadState | None, baseline: Baseline | None) -> set[str]:
    """The Graph ids (and keys) earlier reads knew: a removed entry naming another is dropped."""
    known: set[str] = set()
    if state is not None:
        known |= set(state.ids.values())
        known |= {key for keys in state.graph_etags.values() for key in keys}
    if baseline is not None:
        known |= {key for name in _SNAPSHOT_NAMES.values() for key in baseline.outlook.by_key[name]}
    return known


def _deleted_entry(row: Any) -> bool:
    """Whether a change-tracking entry is a deleted row (`$deletedEntity`)."""
    if not isinstance(row, dict):
        return False
    context = row.get("@odata.context")
    return row.get("reason") == "deleted" or (
        isinstance(context, str) and context.endswith("/$deletedEntity")
    )


def _flat_state(nested: Mapping[Domain, Mapping[str, str]]) -> dict[tuple[Domain, str], str]:
    return {(domain, key): value for domain, keys in nested.items() for key, value in keys.items()}


def _absent_keys(
    snapshot: CrmSnapshot | OutlookSnapshot,
    side: CrmSnapshot | OutlookSnapshot | None,
    domains: Collection[Domain],
) -> set[str]:
    """The keys of `domains` the baseline's side holds and a read in full of them does not."""
    if side is None:
        return set()
    return {
        key
        for domain in domains
        for key in side.by_key[_SNAPSHOT_NAMES[domain]]
        if key not in snapshot.by_key[_SNAPSHOT_NAMES[domain]]
    }


def _carried(
    earlier: Mapping[tuple[Domain, str], str],
    now: Mapping[tuple[Domain, str], str],
    gone: Collection[str],
    whole: Collection[Domain],
) -> dict[tuple[Domain, str], str]:
    """A delta round's ids or etags: the earlier ones of records it did not deliver, and its own.

    A domain read in full (`whole`) has all of its own; a removed key has none.
    """
    kept = {k: v for k, v in earlier.items() if k[0] not in whole and k[1] not in gone}
    kept.update((k, v) for k, v in now.items() if k[1] not in gone)
    return kept


def _kept(
    read: GraphRead, state: ReadState, baseline: Baseline | None, whole: Collection[str]
) -> GraphRead:
    """A Graph delta round with the ids and etags of the records it did not deliver."""
    domains = {_GRAPH_DOMAINS[name] for name in whole}
    previous = baseline.outlook if baseline is not None else None
    gone = set(read.snapshot.removed) | _absent_keys(read.snapshot, previous, domains)
    return attrs.evolve(
        read,
        snapshot=attrs.evolve(read.snapshot, removed=frozenset(gone)),
        ids=_carried(state.ids, read.ids, gone, domains),
        etags=_carried(_flat_state(state.graph_etags), read.etags, gone, domains),
    )


def _of_appointments_read(attachments: list[Any], appointments: list[Any]) -> list[Any]:
    """The attachment rows whose appointment the appointments read holds.

    The collections are read one after another: an appointment made (with a
    file) after its collection was read has its file in the later read. Its
    file waits for the next read, which sees both, instead of failing this
    one as a file of no appointment.
    """
    read = {a.get("activityid") for a in appointments if isinstance(a, dict)}
    return [
        row
        for row in attachments
        if not isinstance(row, dict) or row.get("_objectid_value") in read
    ]


def _valid_id(service: str, value: object) -> bool:
    """Whether a server-given id has its service's form: a GUID (Dataverse), a Graph id."""
    if not isinstance(value, str):
        return False
    return bool((_GUID if service == "dataverse" else _GRAPH_ID).fullmatch(value))


def _new_key(response: Any, column: str) -> str | None:
    """The GUID a Dataverse create answered: the key column of the row, or its OData-EntityId."""
    if not isinstance(response, dict):
        return None
    found = response.get(column)
    if found is None:
        return _entity_id(response.get("@odata.id"))
    return found if isinstance(found, str) and _GUID.fullmatch(found) else None


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


def _makes_a_row(op: Op, requests: Sequence[Request]) -> bool:
    """Whether an op's first request makes a CRM row whose id the answer holds.

    A create does; so does an update that makes an appointment a series:
    `AddRecurrence` copies it into a new row and deletes it (Dataverse's
    "Convert an appointment to a recurring appointment"), and one that makes
    a series single (a new appointment row replaces it): the pair is keyed
    by the new row's id from then on.
    """
    if op.side is not Side.CRM or op.domain is Domain.ATTACHMENT:
        return False
    if op.action is Action.CREATE:
        return True
    if not requests:
        return False
    first = requests[0]
    # A series made single is replaced: its first request creates the appointment.
    replaced = first.method == "POST" and bool(first.read_back)
    return replaced or first.url.endswith(f"/{ADD_RECURRENCE}")


def _created(op: Op, row: Mapping[str, Any], key: str) -> Any:
    """The created row as a record, or None when the answer is not a row crmsync can read."""
    try:
        return dataverse_adapter.stored_record(op.domain, row, key=key)
    except (CrmsyncError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _outcome(
    op: Op,
    by_op: Mapping[OpRef, Iterable[Request]],
    responses: Mapping[str, Any],
    failures: Mapping[str, str],
    details: Mapping[str, _Detail],
    skipped: set[str],
    refused: Collection[str] = (),
) -> OpOutcome:
    requests = list(by_op[OpRef.of(op)])
    succeeded = tuple(r.id for r in requests if r.id in responses)
    failed = [r for r in requests if r.id in failures]
    own = [r for r in failed if r.id not in skipped]
    error = failures[failed[0].id] if failed else ""
    # The request that decided the outcome: the first that failed itself; for a done
    # op its first request; none for an op skipped because another op failed.
    deciding = None
    if own:
        deciding = own[0]
    elif not failed and requests:
        deciding = requests[0]
    detail = None if deciding is None else details.get(deciding.id)
    if deciding is not None and detail is None:  # failed before anything was sent
        detail = _Detail(
            service=deciding.service,
            method=deciding.method,
            url=deciding.url,
            message=failures.get(deciding.id, ""),
        )
    new_key = None
    done = len(succeeded) == len(requests)
    created = None
    if _makes_a_row(op, requests):
        column = "contactid" if op.domain is Domain.CONTACT else "activityid"
        if requests and requests[0].id in responses:
            first = responses[requests[0].id]
            new_key = _new_key(first, column)
            if new_key is None:
                # Created, perhaps, but under no id crmsync can key the baseline by.
                done = False
                why = "the answer names no valid new id (a GUID)"
                error = error or f"{requests[0].method} {requests[0].url}: {why}"
                sent = details.get(requests[0].id) or _Detail(
                    service=requests[0].service, method=requests[0].method, url=requests[0].url
                )
                detail = attrs.evolve(sent, message=why)
            elif isinstance(first, dict) and column in first:
                created = _created(op, first, new_key)
    return OpOutcome(
        op=op,
        done=done,
        requests=succeeded,
        error=error,
        new_key=new_key,
        linked_back=new_key is not None
        and all(r.id in responses for r in requests if r.service == "graph"),
        skipped=bool(failed) and not own,
        service=detail.service if detail else "",
        method=detail.method if detail else "",
        url=detail.url if detail else "",
        status=detail.status if detail else None,
        code=detail.code if detail else "",
        message="" if done or detail is None else detail.message or error,
        changed_since_read=any(r.id in refused for r in requests),
        created=created,
    )
