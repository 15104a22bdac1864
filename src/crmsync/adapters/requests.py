"""A plan as the HTTP requests an application sends: Graph for Outlook, Dataverse for the CRM.

crmsync never sends them; `requests_for` says what to send, as data an
executor follows without reading prose (`crmsync.http` is one):

- each `Request` names the op it carries out (`Request.op`, an `OpRef`), has
  a stable `id` (the op's identity and the request's index within the op) and
  lists the ids of the requests it waits for (`depends_on`);
- every value crmsync cannot know is a `Fill`: a place in the URL (a
  `{placeholder}`) or in the body (a JSON pointer) and where its value comes
  from: `FromResponse` (a value in the response of an earlier request, such
  as the id a service gave a record it created), `AttachmentBytes` (the
  base64 bytes of an attachment on the side that holds it), `AttachmentId`
  (the id a service gave an attachment) or `Param` (a value the application
  passes, such as the To Do list id) and `LinkedResourceId` (the id Graph
  gave a To Do task's linked resource).

A To Do task holds no extended properties: its link to the CRM task and its
regarding record are `linkedResources` (`crmsync.adapters.graph.todo_links`),
sent inline when the task is created, and as requests of their own to
`.../tasks/{id}/linkedResources` when a `LINK`, a task created in the CRM or a
regarding change needs them. An update that changes only what To Do cannot
hold (percent complete) has no request.

An update is a `PATCH` holding only the properties its changes touch,
computed from the record the plan saw with the changes applied. A `LINK` is
a `PATCH` writing the CRM key into the Outlook item's `crmid` property, where
Dynamics keeps the link; a record created in the CRM from an Outlook item is
a `POST` (with `Prefer: return=representation`, so the response holds the
new row as the service stored it) followed by that same `PATCH` of the
Outlook item, filled from the response. An `UNLINK` leaves both items as
they are, so it has no request.

Every create takes effect at most once, however often it is sent: a
Dataverse row gets a primary key crmsync derives from the record it copies
(`crm_id_for`), the same on every attempt and in every later round, so the
service refuses a second `POST` (412, the row exists; `Request.read_back`
says where to read it instead) and the next read finds a row whose answer
was lost (`crmsync.adapters.resolve_links`); a Graph event carries a
`transactionId` derived the same way (`event_transaction_id`); contacts and
To Do tasks carry their CRM link in the create body. An update or delete of
a record whose etag the application read (`graph_etags=`,
`dataverse_etags=`) sends `If-Match` with it, so the service refuses the
write (412) when someone changed the record since.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Collection, Iterator, Mapping
from typing import Any, Literal, cast
from urllib.parse import quote

import attrs

from crmsync.adapters import _activities, dataverse, graph
from crmsync.adapters._identity import crm_id_for, event_transaction_id
from crmsync.errors import StalePlan
from crmsync.plan import Action, Op, Plan
from crmsync.records import (
    Appointment,
    Attachment,
    Baseline,
    CrmSnapshot,
    Domain,
    OutlookSnapshot,
    Side,
    Task,
    current_record,
)

__all__ = [
    "TODO_LIST_PLACEHOLDER",
    "UPLOAD_CHUNK_BYTES",
    "UPLOAD_SESSION_BYTES",
    "AttachmentBytes",
    "AttachmentId",
    "Fill",
    "FromResponse",
    "LinkedResourceId",
    "OpRef",
    "Param",
    "Ref",
    "Request",
    "Unknown",
    "Upload",
    "crm_id_for",
    "event_transaction_id",
    "requests_by_op",
    "requests_for",
]

Service = Literal["graph", "dataverse"]

TODO_LIST_PLACEHOLDER = "{todoTaskListId}"
"""The To Do list id in task URLs when `requests_for` is not given one: a `Param("todo_list")`."""


@attrs.frozen
class OpRef:
    """The op a request carries out: the identity of an op in its plan.

    `attachment` is `(content_hash, name)` for attachment ops, else None.
    """

    action: Action
    side: Side
    domain: Domain
    key: str
    attachment: tuple[str, str] | None = None

    @classmethod
    def of(cls, op: Op) -> OpRef:
        """The reference to `op`."""
        identity = op.record.identity if isinstance(op.record, Attachment) else None
        return cls(op.action, op.side, op.domain, op.key, identity)

    @property
    def id(self) -> str:
        """A stable text id: `side:domain:action:key` (and `:content_hash:name`)."""
        parts = [self.side.value, self.domain.value, self.action.value, self.key]
        if self.attachment is not None:
            parts.extend(self.attachment)
        return ":".join(parts)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data: `{"action", "side", "domain", "key", "attachment"}`."""
        attachment = None
        if self.attachment is not None:
            attachment = {"content_hash": self.attachment[0], "name": self.attachment[1]}
        return {
            "action": self.action.value,
            "side": self.side.value,
            "domain": self.domain.value,
            "key": self.key,
            "attachment": attachment,
        }


@attrs.frozen
class FromResponse:
    """The value at `pointer` (RFC 6901) in the JSON response of request `request`."""

    request: str
    pointer: str

    def to_json(self) -> dict[str, Any]:
        """`{"kind": "from_response", "request", "pointer"}`."""
        return {"kind": "from_response", "request": self.request, "pointer": self.pointer}


@attrs.frozen
class AttachmentBytes:
    """The base64 bytes of the attachment `(content_hash, name)` of appointment `key` on `side`."""

    content_hash: str
    name: str
    side: Side
    key: str

    def to_json(self) -> dict[str, Any]:
        """`{"kind": "attachment_bytes", "content_hash", "name", "side", "key"}`."""
        return {"kind": "attachment_bytes", **_attachment_json(self)}


@attrs.frozen
class AttachmentId:
    """The id `side`'s service gave the attachment `(content_hash, name)` of appointment `key`."""

    content_hash: str
    name: str
    side: Side
    key: str

    def to_json(self) -> dict[str, Any]:
        """`{"kind": "attachment_id", "content_hash", "name", "side", "key"}`."""
        return {"kind": "attachment_id", **_attachment_json(self)}


def _attachment_json(ref: AttachmentBytes | AttachmentId) -> dict[str, Any]:
    return {
        "content_hash": ref.content_hash,
        "name": ref.name,
        "side": ref.side.value,
        "key": ref.key,
    }


@attrs.frozen
class LinkedResourceId:
    """The id Graph gave the linked resource named `name` of the To Do task `key`.

    With `external_id`, only a resource whose `externalId` is that value
    (the stale CRM link a relink removes, beside the new one). A `DELETE`
    whose resource is not there is done, as a `DELETE` answered 404 is.
    """

    key: str
    name: str
    external_id: str = ""

    def to_json(self) -> dict[str, Any]:
        """`{"kind": "linked_resource_id", "key", "name", "external_id"}`."""
        return {
            "kind": "linked_resource_id",
            "key": self.key,
            "name": self.name,
            "external_id": self.external_id,
        }


@attrs.frozen
class Param:
    """A value the application passes when it runs the requests (`"todo_list"`)."""

    name: str

    def to_json(self) -> dict[str, Any]:
        """`{"kind": "param", "name"}`."""
        return {"kind": "param", "name": self.name}


@attrs.frozen
class Unknown:
    """A value crmsync cannot know and no executor can fill in: `what` says what it is.

    A request holding one cannot be carried out as it is; its op is not done
    (`crmsync.http` fails the request with `what`), so the baseline does not
    advance as if it were written. A Dataverse lookup to a regarding record
    read from Outlook is one: Outlook holds only the record's id, and a bind
    needs its table.
    """

    what: str

    def to_json(self) -> dict[str, Any]:
        """`{"kind": "unknown", "what"}`."""
        return {"kind": "unknown", "what": self.what}


UPLOAD_SESSION_BYTES = 3 * 1024 * 1024
"""From this size an event attachment goes through an upload session, not one `POST`.

Graph: "If the file size is under 3 MB, do a single POST on the attachments
navigation property ...; if the file size is between 3 MB and 150 MB, create
an upload session" (Attach large files to Outlook messages or events).
"""

UPLOAD_CHUNK_BYTES = 10 * 320 * 1024
"""The bytes of one ranged `PUT` to an upload session's `uploadUrl` (the last may be shorter).

A multiple of 320 KiB, as Graph's upload sessions take ranges, and under the
4 MB Graph allows per `PUT` ("upload ranges of bytes (up to 4 MB each
time)", attachment: createUploadSession).
"""


@attrs.frozen
class Upload:
    """The bytes of a large attachment, sent in ranged `PUT`s to an upload session.

    The request holding it is a `PUT` to the `uploadUrl` in the response of
    request `session` (a `POST .../attachments/createUploadSession`). Its
    executor sends `bytes` in ranges of `UPLOAD_CHUNK_BYTES`, each with
    `Content-Range: bytes {first}-{last}/{size}`, and no `Authorization`
    header: the `uploadUrl` is pre-authenticated and Graph's documentation
    says not to send one. The attachment exists once the last range is
    answered 201.
    """

    session: str
    bytes: AttachmentBytes
    size: int

    def to_json(self) -> dict[str, Any]:
        """`{"session", "bytes": {...}, "size", "chunk"}`."""
        return {
            "session": self.session,
            "bytes": self.bytes.to_json(),
            "size": self.size,
            "chunk": UPLOAD_CHUNK_BYTES,
        }


Ref = FromResponse | AttachmentBytes | AttachmentId | LinkedResourceId | Param | Unknown
"""Where a value to fill in comes from."""


@attrs.frozen
class Fill:
    """A value to fill in before a request is sent.

    Args:
        where: "url" (replace the placeholder `{at}` in the URL, percent-encoded)
            or "body" (set the value at the JSON pointer `at` in the body).
        at: the placeholder's name, or the JSON pointer.
        value: where the value comes from.
        template: the text written, `{}` standing for the value
            (`"/appointments({})"` for an `@odata.bind`).
    """

    where: Literal["url", "body"]
    at: str
    value: Ref
    template: str = "{}"

    def describe(self) -> str:
        """The fill in a line a person reads: `{eventId} <- the /id of the response to ...`."""
        place = f"{{{self.at}}}" if self.where == "url" else self.at
        value = self.value
        if isinstance(value, FromResponse):
            text = f"{value.pointer} of the response to {value.request}"
        elif isinstance(value, AttachmentBytes):
            text = f"the base64 bytes of {value.name!r} ({value.content_hash}) in the {value.side}"
        elif isinstance(value, AttachmentId):
            text = f"the id of {value.name!r} ({value.content_hash}) in the {value.side}"
        elif isinstance(value, LinkedResourceId):
            text = f"the id of the linked resource {value.name!r} of To Do task {value.key!r}"
            if value.external_id:
                text += f" whose externalId is {value.external_id!r}"
        elif isinstance(value, Unknown):
            text = f"unknown, so the request cannot be carried out: {value.what}"
        else:
            text = f"the {value.name} you pass"
        if self.template != "{}":
            text = f"{self.template!r} with {text}"
        return f"{place} <- {text}"

    def to_json(self) -> dict[str, Any]:
        """`{"where", "at", "value": {"kind", ...}, "template"}`."""
        return {
            "where": self.where,
            "at": self.at,
            "value": self.value.to_json(),
            "template": self.template,
        }


def _plain(value: Any) -> Any:
    """A deep copy of JSON-like data as plain dicts and lists (from any Mapping or sequence)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=_unmapping))


def _unmapping(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | list):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


def _headers(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


@attrs.frozen
class Request:
    """One HTTP request that carries out (part of) one op.

    Args:
        service: "graph" or "dataverse".
        method: the HTTP method.
        url: relative to the service root (`https://graph.microsoft.com/v1.0`,
            the organization URL); `{name}` placeholders are filled by `fills`.
        body: the JSON body, plain dicts and lists (a copy: change it freely,
            or call `to_json()` for the whole request as JSON data).
        note: a sentence for a person reading the request.
        id: stable within the plan: the op's `OpRef.id` and `#` and the
            request's index within the op.
        op: the op it carries out.
        depends_on: ids of the requests that must succeed before this one.
        fills: the values to fill in before sending it.
        headers: request headers beyond authorization and content type
            (`If-Match` with the etag read, on an update or delete).
        read_back: for a create whose id crmsync chose, the URL of the
            record it makes: read it when the service refuses the create
            because the record exists (412: an earlier attempt whose answer
            was lost made it) or answers without the record; the create is
            then done and the record read is its answer.
        upload: for the `PUT` of a large attachment, the bytes to send in
            ranges to the upload session's `uploadUrl` (`Upload`); the
            request's `url` is then `{uploadUrl}`.
    """

    service: Service
    method: str
    url: str
    body: dict[str, Any] | None = attrs.field(default=None, converter=_plain)
    note: str = ""
    id: str = ""
    op: OpRef | None = None
    depends_on: tuple[str, ...] = ()
    fills: tuple[Fill, ...] = ()
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_headers)
    read_back: str = ""
    upload: Upload | None = None

    def to_json(self) -> dict[str, Any]:
        """The request as plain JSON data, the shape `crmsync plan --emit --format json` prints."""
        return {
            "id": self.id,
            "op": None if self.op is None else self.op.to_json(),
            "service": self.service,
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
            "body": copy.deepcopy(self.body),
            "depends_on": list(self.depends_on),
            "fills": [fill.to_json() for fill in self.fills],
            "note": self.note,
            "read_back": self.read_back,
            "upload": None if self.upload is None else self.upload.to_json(),
        }


class _Records:
    """Each side's records by domain and key (a partial snapshot read through to the baseline)."""

    def __init__(
        self, plan: Plan, crm: CrmSnapshot, outlook: OutlookSnapshot, baseline: Baseline | None
    ) -> None:
        self.created = {
            (op.side, op.key): op.record
            for op in plan.ops
            if op.action is Action.CREATE and op.domain is Domain.APPOINTMENT
        }
        self._sides: dict[Side, tuple[Any, Any]] = {
            Side.CRM: (crm, baseline.crm if baseline else None),
            Side.OUTLOOK: (outlook, baseline.outlook if baseline else None),
        }

    def target(self, op: Op) -> Any:
        """The record an update, delete or link applies to, as the plan saw it."""
        domain = Domain.APPOINTMENT if op.domain is Domain.ATTACHMENT else op.domain
        record = self.get(op.side, domain, op.key)
        if record is None:
            where = f"{op.side.value} has no {domain.value} {op.key!r} to {op.action.value}"
            raise StalePlan([where])
        return record

    def get(self, side: Side, domain: Domain, key: str) -> Any:
        """The record `key` of `domain` on `side`, or None."""
        snapshot, previous = self._sides[side]
        return current_record(snapshot, previous, _SNAPSHOT_FIELDS[domain], key)


_SNAPSHOT_FIELDS = {
    Domain.CONTACT: "contacts",
    Domain.APPOINTMENT: "appointments",
    Domain.TASK: "tasks",
}


def _appointment(op: Op, records: _Records) -> Appointment:
    """The appointment an attachment op belongs to: created by the plan, or in the snapshot."""
    created = records.created.get((op.side, op.key))
    return cast(Appointment, created if created is not None else records.target(op))


def _updated(op: Op, record: Any) -> tuple[Any, set[str]]:
    fields = {change.field for change in op.changes}
    return attrs.evolve(record, **{c.field: c.new for c in op.changes}), fields


def _other(side: Side) -> Side:
    return Side.OUTLOOK if side is Side.CRM else Side.CRM


def _pointer_to(value: Any, wanted: str, path: str = "") -> str | None:
    """The JSON pointer of the first string equal to `wanted` in `value`, or None."""
    if value == wanted:
        return path
    items: Iterator[tuple[Any, Any]]
    if isinstance(value, dict):
        items = iter(value.items())
    elif isinstance(value, list):
        items = iter(enumerate(value))
    else:
        return None
    for name, inner in items:
        part = str(name).replace("~", "~0").replace("/", "~1")
        found = _pointer_to(inner, wanted, f"{path}/{part}")
        if found is not None:
            return found
    return None


class _Builder:
    """The requests of one plan: ids, and the create requests later requests wait for."""

    def __init__(
        self,
        plan: Plan,
        records: _Records,
        todo_list: str,
        graph_ids: Mapping[tuple[Domain, str], str],
        crm_url: str = "",
        etags: Mapping[Side, Mapping[tuple[Domain, str], str]] | None = None,
    ) -> None:
        self.records = records
        self.todo_list = todo_list
        self.graph_ids = graph_ids
        self.crm_url = crm_url
        self.etags = etags or {}
        # The first request of each appointment create: attachment ops on it wait for it.
        self.creates = {
            (op.side, op.key): f"{OpRef.of(op).id}#0"
            for op in plan.ops
            if op.action is Action.CREATE and op.domain is Domain.APPOINTMENT
        }

    def if_match(self, op: Op) -> dict[str, str]:
        """`If-Match` for an update or delete of the record the plan read, when its etag is known.

        Without one a Dataverse update still sends `If-Match: *` (an update,
        never an upsert that re-creates a deleted row); a Graph write sends none.
        """
        etag = self.etags.get(op.side, {}).get((op.domain, op.key))
        if etag:
            return {"If-Match": etag}
        return {"If-Match": "*"} if op.side is Side.CRM and op.action is Action.UPDATE else {}

    def graph_item(self, domain: Domain, key: str) -> str:
        # Graph ids are base64: keep '=', '-' and '_', escape '/' and '+'.
        return quote(self.graph_ids.get((domain, key), key), safe="=-_")

    def for_op(self, op: Op) -> list[Request]:
        parts = self._graph(op) if op.side is Side.OUTLOOK else self._dataverse(op)
        ref = OpRef.of(op)
        return [
            attrs.evolve(request, id=f"{ref.id}#{i}", op=ref) for i, request in enumerate(parts)
        ]

    # -- Graph (Outlook ops) -------------------------------------------------

    def _tasks_url(self) -> tuple[str, tuple[Fill, ...]]:
        url = f"/me/todo/lists/{self.todo_list}/tasks"
        if self.todo_list == TODO_LIST_PLACEHOLDER:
            return url, (Fill("url", TODO_LIST_PLACEHOLDER[1:-1], Param("todo_list")),)
        return url, ()

    def _graph_base(self, domain: Domain) -> tuple[str, tuple[Fill, ...]]:
        if domain is Domain.TASK:
            return self._tasks_url()
        return {Domain.CONTACT: "/me/contacts"}.get(domain, "/me/events"), ()

    def _graph(self, op: Op) -> list[Request]:
        if op.domain is Domain.ATTACHMENT:
            large = cast(Attachment, op.record).size >= UPLOAD_SESSION_BYTES
            if op.action is Action.CREATE and large:
                return self._graph_upload(op)
            return [self._graph_attachment(op)]
        base, fills = self._graph_base(op.domain)
        item = f"{base}/{self.graph_item(op.domain, op.key)}"
        write: Any = {
            Domain.CONTACT: graph.contact_to_graph,
            Domain.APPOINTMENT: graph.event_to_graph,
            Domain.TASK: graph.task_to_graph,
        }[op.domain]
        if op.domain is Domain.TASK:
            return self._todo(op, base, item, fills)
        if op.action is Action.CREATE:
            body = write(op.record)
            if op.domain is Domain.APPOINTMENT:  # Graph makes the event once, however often sent
                body["transactionId"] = event_transaction_id(op.key)
            return [Request("graph", "POST", base, body, fills=fills)]
        if op.action is Action.UPDATE:
            record, fields = _updated(op, self.records.target(op))
            lost = {field for field in fields if not write(record, fields={field})}
            out = []
            if fields - lost:
                body = write(record, fields=fields - lost)
                out.append(
                    Request("graph", "PATCH", item, body, fills=fills, headers=self.if_match(op))
                )
            if lost:
                out.append(_cannot("graph", item, op, lost, fills))
            return out
        if op.action is Action.DELETE:
            return [Request("graph", "DELETE", item, fills=fills, headers=self.if_match(op))]
        if op.action is Action.LINK:  # the item now carries the CRM key, as Dynamics links it
            [change] = [c for c in op.changes if c.field == "key"]
            record = attrs.evolve(self.records.target(op), key=change.new)
            body = write(record, fields={"key"})
            return [Request("graph", "PATCH", item, body, fills=fills)]
        return []

    def _web_url(self, key: str) -> str:
        """The CRM task's address, for the `webUrl` of its To Do link ('' if unknown)."""
        if not self.crm_url:
            return ""
        return (
            f"{self.crm_url.rstrip('/')}/main.aspx?etn=task&pagetype=entityrecord&id={quote(key)}"
        )

    def _todo(self, op: Op, base: str, item: str, fills: tuple[Fill, ...]) -> list[Request]:
        """A To Do task op: the task itself, and its linked resources as requests of their own."""
        links = f"{item}/linkedResources"
        if op.action is Action.CREATE:
            body = graph.task_to_graph(cast(Task, op.record), web_url=self._web_url(op.key))
            return [Request("graph", "POST", base, body, fills=fills)]
        if op.action is Action.DELETE:
            return [Request("graph", "DELETE", item, fills=fills, headers=self.if_match(op))]
        if op.action is Action.LINK:
            [change] = [c for c in op.changes if c.field == "key"]
            record = attrs.evolve(self.records.target(op), key=change.new)
            body = graph.todo_links(record, web_url=self._web_url(change.new))[0]
            return [Request("graph", "POST", links, body, fills=fills)]
        before = self.records.target(op)
        record, fields = _updated(op, before)
        patch = dict(graph.task_to_graph(record, fields=fields))
        patch.pop("linkedResources", None)
        headers = self.if_match(op)
        out = (
            [Request("graph", "PATCH", item, patch, fills=fills, headers=headers)] if patch else []
        )
        if "regarding" in fields:
            one = f"{links}/{{linkedResourceId}}"
            held = (*fills, Fill("url", "linkedResourceId", LinkedResourceId(op.key, "Regarding")))
            if not before.regarding:
                out.append(
                    Request("graph", "POST", links, graph.todo_links(record)[1], fills=fills)
                )
            elif not record.regarding:
                out.append(Request("graph", "DELETE", one, fills=held))
            else:
                body = {"externalId": record.regarding}
                out.append(Request("graph", "PATCH", one, body, fills=held))
        return out

    def _graph_attachment(self, op: Op) -> Request:
        attachment = cast(Attachment, op.record)
        created = self.creates.get((op.side, op.key))
        if created is not None:  # the event is created by this plan: its id is in the response
            item = "{eventId}"
            on_item: tuple[Fill, ...] = (Fill("url", "eventId", FromResponse(created, "/id")),)
            after: tuple[str, ...] = (created,)
        else:
            item, on_item, after = self.graph_item(Domain.APPOINTMENT, op.key), (), ()
        url = f"/me/events/{item}/attachments"
        if op.action is Action.CREATE:
            body = {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": attachment.name,
                "contentType": attachment.mime_type,
            }
            source = AttachmentBytes(
                attachment.content_hash, attachment.name, _other(op.side), op.key
            )
            note = f"contentBytes: the bytes of {attachment.name!r} from the CRM"
            fills = (*on_item, Fill("body", "/contentBytes", source))
            return Request("graph", "POST", url, body, note, depends_on=after, fills=fills)
        held = AttachmentId(attachment.content_hash, attachment.name, op.side, op.key)
        fills = (*on_item, Fill("url", "attachmentId", held))
        return Request("graph", "DELETE", f"{url}/{{attachmentId}}", depends_on=after, fills=fills)

    def _graph_upload(self, op: Op) -> list[Request]:
        """A large attachment: an upload session, then its bytes in ranged `PUT`s.

        Graph refuses a single `POST` from 3 MB ("Attach large files to
        Outlook messages or events"); `createUploadSession` takes an
        `attachmentItem` (attachmentType file, name, size, contentType).
        """
        attachment = cast(Attachment, op.record)
        created = self.creates.get((op.side, op.key))
        if created is not None:
            item = "{eventId}"
            on_item: tuple[Fill, ...] = (Fill("url", "eventId", FromResponse(created, "/id")),)
            after: tuple[str, ...] = (created,)
        else:
            item, on_item, after = self.graph_item(Domain.APPOINTMENT, op.key), (), ()
        session_body = {
            "AttachmentItem": {
                "attachmentType": "file",
                "name": attachment.name,
                "size": attachment.size,
                "contentType": attachment.mime_type,
            }
        }
        session = Request(
            "graph",
            "POST",
            f"/me/events/{item}/attachments/createUploadSession",
            session_body,
            f"an upload session for {attachment.name!r} ({attachment.size} bytes)",
            depends_on=after,
            fills=on_item,
        )
        session_id = f"{OpRef.of(op).id}#0"  # `for_op` numbers an op's requests from 0
        source = AttachmentBytes(attachment.content_hash, attachment.name, _other(op.side), op.key)
        put = Request(
            "graph",
            "PUT",
            "{uploadUrl}",
            note=f"the bytes of {attachment.name!r} from the CRM, in ranges, to the uploadUrl",
            depends_on=(session_id,),
            upload=Upload(session_id, source, attachment.size),
        )
        return [session, put]

    # -- Dataverse (CRM ops) -------------------------------------------------

    def _dataverse(self, op: Op) -> list[Request]:
        root = dataverse.API_ROOT
        if op.domain is Domain.ATTACHMENT:
            return [self._dataverse_attachment(op)]
        write: Any = {
            Domain.CONTACT: dataverse.contact_to_dataverse,
            Domain.APPOINTMENT: dataverse.appointment_to_dataverse,
            Domain.TASK: dataverse.task_to_dataverse,
        }[op.domain]
        if op.action is Action.CREATE:
            url = f"{root}/{_table(op.domain, op.record)}"
            prefer = {"Prefer": "return=representation"}
            # The row's id is chosen here, from the record it copies: a second attempt of
            # this create, in this round or a later one, is refused instead of made twice.
            chosen = crm_id_for(op.domain, op.key)
            body = {_COLUMN[op.domain]: chosen, **write(op.record)}
            # statecode is not valid for create: the row is made open, then set to its state.
            body, then_state = _activities.create_open(body)
            row = f"{url}({chosen})"
            create = Request("dataverse", "POST", url, body, headers=prefer, read_back=row)
            out = [create, *self._link_back(op)]
            created = f"{OpRef.of(op).id}#0"
            regarding = getattr(op.record, "regarding", "")
            if regarding:
                at = f"{url}({{activityid}})"
                fill = Fill("url", "activityid", FromResponse(created, "/activityid"))
                out.append(_regarding(op, at, "", regarding, depends_on=(created,), fills=(fill,)))
            if then_state is not None:
                # Last: a closed row is read-only, so the regarding bind goes first.
                after = (
                    (created,) if not regarding else (created, f"{OpRef.of(op).id}#{len(out) - 1}")
                )
                note = "set the new row's state: statecode is not valid for create"
                out.append(
                    Request(
                        "dataverse",
                        "PATCH",
                        row,
                        then_state,
                        note,
                        depends_on=after,
                        headers={"If-Match": "*"},
                    )
                )
            return out
        current = self.records.target(op)
        row = f"{root}/{_table(op.domain, current)}({quote(op.key, safe='-')})"
        if op.action is Action.UPDATE:
            record, fields = _updated(op, current)
            if _becomes_series(op, current, record):
                return self._add_recurrence(op, row, record)
            if _becomes_single(op, current, record) and not record.regarding:
                # A regarding record cannot be bound on a new row (its table is unknown):
                # such a series is not replaced, and the update is reported not done.
                return self._replace_series(op, row, record)
            written = fields - {"regarding"}
            out = []
            lost = {field for field in written if not write(record, fields={field})}
            if written - lost:
                body = write(record, fields=written - lost)
                out.extend(self._state_steps(op, row, current, body))
            if lost:
                out.append(_cannot("dataverse", row, op, lost))
            if "regarding" in fields:
                out.append(_regarding(op, row, current.regarding, record.regarding))
            return out
        if op.action is Action.DELETE:
            return [Request("dataverse", "DELETE", row, headers=self.if_match(op))]
        return []

    def _state_steps(self, op: Op, row: str, before: Any, body: dict[str, Any]) -> list[Request]:
        """The `PATCH`es of an update: one, or reopen, edit and close for a closed activity.

        Closed tasks and appointments are read-only (their `statecode`
        description), so each step waits for the one before; the first sends
        the etag read, the later ones `If-Match: *` (the row changed since, by
        crmsync's own write).
        """
        if op.domain not in (Domain.TASK, Domain.APPOINTMENT):
            return [Request("dataverse", "PATCH", row, body, headers=self.if_match(op))]
        state_field = "status" if op.domain is Domain.TASK else "state"
        write: Any = (
            dataverse.task_to_dataverse
            if op.domain is Domain.TASK
            else dataverse.appointment_to_dataverse
        )
        steps = _activities.update_steps(
            op.domain, before, body, write(before, fields={state_field})
        )
        ref = OpRef.of(op).id
        notes = ("", "", "")
        if len(steps) == 3:
            notes = ("reopen: a closed activity is read-only", "the edit", "close it again")
        return [
            Request(
                "dataverse",
                "PATCH",
                row,
                step,
                notes[i],
                depends_on=(f"{ref}#{i - 1}",) if i else (),
                headers=self.if_match(op) if i == 0 else {"If-Match": "*"},
            )
            for i, step in enumerate(steps)
        ]

    def _add_recurrence(self, op: Op, row: str, record: Appointment) -> list[Request]:
        """An appointment made a series: the `AddRecurrence` action, then the new id on the item.

        Dataverse copies the appointment into a new `recurringappointmentmaster`
        and deletes it ("Convert an appointment to a recurring appointment"):
        the series' id, chosen by crmsync from the appointment's key, comes back
        in the answer and is written on the Outlook item as a create's is.
        """
        target = _activities.add_recurrence_target(dataverse.appointment_to_dataverse(record))
        # The series' id is derived from the appointment's, as a create's is: a series whose
        # answer was lost is paired on the next read (resolve_links), never made twice.
        target["activityid"] = crm_id_for(Domain.APPOINTMENT, op.key)
        note = "convert the appointment to a series (AddRecurrence): the series gets a new id"
        action = Request(
            "dataverse", "POST", f"{row}/{_activities.ADD_RECURRENCE}", {"Target": target}, note
        )
        out = [action, *self._link_back(op)]
        people = {c.field for c in op.changes} & {"organizer", "required", "optional"}
        parties = dataverse.appointment_to_dataverse(record, fields=people) if people else {}
        if parties:
            # The action copies the appointment's parties; attendees changed with it follow.
            converted = f"{OpRef.of(op).id}#0"
            series = f"{dataverse.API_ROOT}/recurringappointmentmasters({{activityid}})"
            fill = Fill("url", "activityid", FromResponse(converted, "/activityid"))
            out.append(
                Request(
                    "dataverse",
                    "PATCH",
                    series,
                    parties,
                    "the series' attendees, changed with its recurrence",
                    depends_on=(converted,),
                    fills=(fill,),
                    headers={"If-Match": "*"},
                )
            )
        return out

    def _replace_series(self, op: Op, row: str, record: Appointment) -> list[Request]:
        """A series made a single appointment: a new appointment row, then the series deleted.

        No Dataverse message turns a series back into an appointment, so the
        appointment is created (its id derived from the series', so a retry
        or a lost answer makes it once), linked to the Outlook item as a
        create is, and the series deleted last, once the new row is there: a
        failure between leaves both, never neither. The plan holds a
        `series_replaced` notice.
        """
        url = f"{dataverse.API_ROOT}/appointments"
        chosen = crm_id_for(Domain.APPOINTMENT, op.key)
        body = {"activityid": chosen, **dataverse.appointment_to_dataverse(record)}
        body, then_state = _activities.create_open(body)
        note = "the single appointment that replaces the series (no message makes a series single)"
        create = Request(
            "dataverse",
            "POST",
            url,
            body,
            note,
            headers={"Prefer": "return=representation"},
            read_back=f"{url}({chosen})",
        )
        created = f"{OpRef.of(op).id}#0"
        out = [create, *self._link_back(op)]
        if then_state is not None:
            out.append(
                Request(
                    "dataverse",
                    "PATCH",
                    f"{url}({chosen})",
                    then_state,
                    "set the new row's state: statecode is not valid for create",
                    depends_on=(created,),
                    headers={"If-Match": "*"},
                )
            )
        out.append(
            Request(
                "dataverse",
                "DELETE",
                row,
                note="delete the series the appointment replaces",
                depends_on=(created,),
                headers=self.if_match(op),
            )
        )
        return out

    def _link_back(self, op: Op) -> list[Request]:
        """The requests that write a new row's id on the Outlook item it was created from.

        A `PATCH` of the item's `crmid`; for a To Do task, a `POST` of its
        linked resource and, when the task is keyed by a CRM key (a row
        deleted in the CRM and made again from the task), a `DELETE` of any
        link to that old row once the new one is there: a task left with
        two links would leave the reader two CRM tasks to choose from. The
        new link comes first, so a failure between the two leaves a task
        that links to its live row, never one that links to none; and a task
        paired by `resolve_links` has no old link, which the `DELETE` finds
        gone (done).
        """
        item = self.records.get(Side.OUTLOOK, op.domain, op.key)
        if item is None:
            return []
        column = "contactid" if op.domain is Domain.CONTACT else "activityid"
        placeholder = f"{{{column}}}"
        write: Any = {
            Domain.CONTACT: graph.contact_to_graph,
            Domain.APPOINTMENT: graph.event_to_graph,
            Domain.TASK: graph.task_to_graph,
        }[op.domain]
        base, fills = self._graph_base(op.domain)
        url = f"{base}/{self.graph_item(op.domain, op.key)}"
        method = "PATCH"
        if op.domain is Domain.TASK:  # a To Do task links through a linked resource of its own
            body = graph.todo_links(attrs.evolve(item, key=placeholder))[0]
            method, url = "POST", f"{url}/linkedResources"
        else:
            body = write(attrs.evolve(item, key=placeholder), fields={"key"})
        pointer = _pointer_to(body, placeholder)
        if pointer is None:  # this item type cannot carry the link
            return []
        created = f"{OpRef.of(op).id}#0"
        fill = Fill("body", pointer, FromResponse(created, f"/{column}"))
        note = f"link the pair: the new row's {column} on the Outlook item"
        out = [
            Request("graph", method, url, body, note, depends_on=(created,), fills=(*fills, fill))
        ]
        if op.domain is Domain.TASK and (Domain.TASK, op.key) in self.graph_ids:
            # Keyed by a CRM key, not its Graph id: the task may link to the row it replaces.
            stale = LinkedResourceId(op.key, graph.TASK_LINK, external_id=op.key)
            note = f"remove the link to the row {op.key!r} the new one replaces"
            out.append(
                Request(
                    "graph",
                    "DELETE",
                    f"{url}/{{linkedResourceId}}",
                    note=note,
                    depends_on=(f"{OpRef.of(op).id}#1",),  # after the new link: never none
                    fills=(*fills, Fill("url", "linkedResourceId", stale)),
                )
            )
        return out

    def _dataverse_attachment(self, op: Op) -> Request:
        root = dataverse.API_ROOT
        attachment = cast(Attachment, op.record)
        if op.action is Action.CREATE:
            table = dataverse.entity_set(_appointment(op, self.records))
            bind = f"objectid_{table.removesuffix('s')}@odata.bind"
            chosen = crm_id_for(
                Domain.ATTACHMENT, f"{op.key}:{attachment.content_hash}:{attachment.name}"
            )
            # filesize is read-only and objecttypecode required (activitymimeattachment table
            # reference): the service counts the bytes, and is told the owner's table.
            body = {
                "activitymimeattachmentid": chosen,
                "filename": attachment.name,
                "mimetype": attachment.mime_type,
                "objecttypecode": table.removesuffix("s"),
                bind: f"/{table}({op.key})",
            }
            source = AttachmentBytes(
                attachment.content_hash, attachment.name, _other(op.side), op.key
            )
            fills = [Fill("body", "/body", source)]
            after: tuple[str, ...] = ()
            created = self.creates.get((op.side, op.key))
            if created is not None:  # the appointment is created by this plan
                body[bind] = f"/{table}({{activityid}})"
                fills.append(
                    Fill(
                        "body", f"/{bind}", FromResponse(created, "/activityid"), f"/{table}({{}})"
                    )
                )
                after = (created,)
            note = f"body: the bytes of {attachment.name!r} from Outlook"
            url = f"{root}/activitymimeattachments"
            return Request(
                "dataverse",
                "POST",
                url,
                body,
                note,
                depends_on=after,
                fills=tuple(fills),
                read_back=f"{url}({chosen})",
            )
        held = AttachmentId(attachment.content_hash, attachment.name, op.side, op.key)
        url = f"{root}/activitymimeattachments({{attachmentId}})"
        return Request("dataverse", "DELETE", url, fills=(Fill("url", "attachmentId", held),))


def _cannot(
    service: Service, url: str, op: Op, fields: Collection[str], fills: tuple[Fill, ...] = ()
) -> Request:
    """An update the service cannot carry out: a `PATCH` whose values are all `Unknown`.

    Clearing the recurrence of a series with a regarding record in Dataverse
    (a series does not become a single appointment by an update, and the
    appointment that would replace it could not be bound to the regarding
    record), an organizer the CRM cannot bind to a system user, or an event's
    organizer in Graph writes no property: an empty `PATCH` would change
    nothing and say it did. Each changed field is a body member with an `Unknown` fill, so
    the op is not done and the baseline does not advance.
    """
    changes = sorted((c for c in op.changes if c.field in fields), key=lambda c: c.field)
    what = ", ".join(f"{c.field} {c.old!r} -> {c.new!r}" for c in changes)
    side = "Outlook" if service == "graph" else "the CRM"
    held = tuple(
        Fill("body", f"/{c.field}", Unknown(f"{side} cannot write {c.field} = {c.new!r}"))
        for c in changes
    )
    note = f"{side} cannot carry out this update ({what}): no property writes it"
    body = {c.field: None for c in changes}
    return Request(service, "PATCH", url, body, note=note, fills=(*fills, *held))


def _regarding(
    op: Op,
    row: str,
    before: str,
    after: str,
    *,
    depends_on: tuple[str, ...] = (),
    fills: tuple[Fill, ...] = (),
) -> Request:
    """The request that sets (or clears) an activity's regarding lookup in Dataverse.

    A lookup is bound through the navigation property of the regarding
    record's table (`regardingobjectid_<table>_<activity>`) to its address
    (`/<entityset>(<id>)`); a regarding record read from Outlook holds only
    its id, so both are `Unknown` fills and the request cannot be carried out
    until the application writes the lookup itself.
    """
    activity = "task" if op.domain is Domain.TASK else "appointment"
    record = after or before
    nav = Unknown(
        f"the table of regarding record {record!r}, for regardingobjectid_<table>_{activity}"
        " (Outlook holds only the record's id)"
    )
    url = f"{row}/{{regardingobjectid}}/$ref"
    held = (*fills, Fill("url", "regardingobjectid", nav))
    if not after:
        note = f"clear the regarding record {before!r}: its table is unknown"
        return Request("dataverse", "DELETE", url, note=note, depends_on=depends_on, fills=held)
    where = Unknown(f"the entity set of regarding record {after!r}, for /<entityset>({after})")
    body = {"@odata.id": f"/<entityset>({after})"}
    note = f"bind the regarding record {after!r}: its table is unknown"
    held = (*held, Fill("body", "/@odata.id", where, f"/{{}}({after})"))
    return Request("dataverse", "PUT", url, body, note=note, depends_on=depends_on, fills=held)


_COLUMN = {Domain.CONTACT: "contactid", Domain.APPOINTMENT: "activityid", Domain.TASK: "activityid"}
"""The primary key column of each domain's rows."""


def _becomes_series(op: Op, before: Any, after: Any) -> bool:
    """Whether a CRM update makes a single appointment a series (an `AddRecurrence`)."""
    return (
        op.domain is Domain.APPOINTMENT
        and isinstance(before, Appointment)
        and before.recurrence is None
        and getattr(after, "recurrence", None) is not None
    )


def _becomes_single(op: Op, before: Any, after: Any) -> bool:
    """Whether a CRM update makes a series a single appointment (a replace)."""
    return (
        op.domain is Domain.APPOINTMENT
        and isinstance(before, Appointment)
        and before.recurrence is not None
        and getattr(after, "recurrence", "") is None
    )


def _table(domain: Domain, record: Any) -> str:
    if domain is Domain.APPOINTMENT:
        return dataverse.entity_set(cast(Appointment, record))
    return {Domain.CONTACT: "contacts", Domain.TASK: "tasks"}[domain]


def requests_for(
    plan: Plan,
    crm: CrmSnapshot,
    outlook: OutlookSnapshot,
    *,
    services: Collection[Service] = ("graph", "dataverse"),
    todo_list: str = TODO_LIST_PLACEHOLDER,
    graph_ids: Mapping[tuple[Domain, str], str] | None = None,
    baseline: Baseline | None = None,
    crm_url: str = "",
    graph_etags: Mapping[tuple[Domain, str], str] | None = None,
    dataverse_etags: Mapping[tuple[Domain, str], str] | None = None,
) -> tuple[Request, ...]:
    """The requests that carry out a plan's ops, in the plan's order.

    Each op gives its requests in the order they run (an `UNLINK` gives
    none); `Request.op` says which op, `Request.depends_on` what must
    succeed first and `Request.fills` what to fill in.

    Args:
        plan: the plan, made from `crm` and `outlook`.
        crm: the CRM snapshot the plan was made from (a CRM update is the
            record the plan saw, with the changes applied).
        outlook: the Outlook snapshot the plan was made from.
        services: "graph" for the Outlook ops, "dataverse" for the CRM ops
            (a CRM create's follow-up `PATCH` of the Outlook item comes with
            its op, so with "dataverse").
        todo_list: the id of the To Do list that holds the user's tasks; by
            default the placeholder `{todoTaskListId}`, filled by
            `Param("todo_list")`.
        graph_ids: the Graph id of each Outlook record whose key is not its
            Graph id (`crmsync.adapters.read_graph` gives them).
        baseline: the baseline the plan was made with; partial snapshots
            are read through to it.
        crm_url: the CRM's address (`https://contoso.crm.dynamics.com`), for
            the `webUrl` of a To Do task's link to its CRM task.
        graph_etags: the `@odata.etag` of each Outlook record as it was read
            (`GraphRead.etags`): its update or delete sends `If-Match` with
            it, so Graph refuses it (412) if the item changed since. Without
            one a Graph write is unconditional.
        dataverse_etags: the same for CRM rows (`DataverseRead.etags`);
            without one a Dataverse update sends `If-Match: *` (never an
            upsert) and a delete is unconditional.

    Raises:
        StalePlan: an op names a record the snapshots do not hold.
    """
    return tuple(
        request
        for requests in requests_by_op(
            plan,
            crm,
            outlook,
            todo_list=todo_list,
            graph_ids=graph_ids,
            baseline=baseline,
            crm_url=crm_url,
            graph_etags=graph_etags,
            dataverse_etags=dataverse_etags,
        ).values()
        for request in requests
        if (request.op is not None)
        and ("graph" if request.op.side is Side.OUTLOOK else "dataverse") in services
    )


def requests_by_op(
    plan: Plan,
    crm: CrmSnapshot,
    outlook: OutlookSnapshot,
    *,
    todo_list: str = TODO_LIST_PLACEHOLDER,
    graph_ids: Mapping[tuple[Domain, str], str] | None = None,
    baseline: Baseline | None = None,
    crm_url: str = "",
    graph_etags: Mapping[tuple[Domain, str], str] | None = None,
    dataverse_etags: Mapping[tuple[Domain, str], str] | None = None,
) -> dict[OpRef, tuple[Request, ...]]:
    """Every op of a plan, in the plan's order, with its requests (`()` for an `UNLINK`).

    Args and Raises: as `requests_for`.
    """
    records = _Records(plan, crm, outlook, baseline)
    etags = {Side.OUTLOOK: graph_etags or {}, Side.CRM: dataverse_etags or {}}
    builder = _Builder(plan, records, todo_list, graph_ids or {}, crm_url, etags)
    return {OpRef.of(op): tuple(builder.for_op(op)) for op in plan.ops}
