"""A plan as the HTTP requests an application sends: Graph for Outlook, Dataverse for the CRM.

crmsync never sends them; `requests_for` says what to send. An update is a
`PATCH` holding only the properties its changes touch, computed from the
record the plan saw with the changes applied. Some parts are the
application's to fill in, and each such request says so in its `note`:

- the file bytes of an attachment (crmsync never holds them): the body has
  no `contentBytes` / `body`;
- the id a service gave an attachment (`{attachmentId}` in the URL): crmsync
  knows an attachment by `(content_hash, name)`;
- the To Do list of a task (`todo_list`, by default the placeholder
  `{todoTaskListId}`);
- the id Graph gave a To Do task's linked resource (`{linkedResourceId}`).

A To Do task holds no extended properties: its link to the CRM task and its
regarding record are `linkedResources` (`crmsync.adapters.graph.todo_links`),
sent inline when the task is created, and as requests of their own to
`.../tasks/{id}/linkedResources` when a `LINK` or a regarding change needs
them. An update that changes only what To Do cannot hold (percent complete)
has no request.

A `LINK` is a `PATCH` writing the CRM key into the Outlook item's `crmid`
property, where Dynamics keeps the link; a record created in the CRM from an
Outlook item asks (in its note) for the same once the row has its id. An
`UNLINK` leaves both items as they are, so it has no request.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal, cast
from urllib.parse import quote

import attrs

from crmsync.adapters import dataverse, graph
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

__all__ = ["Request", "requests_for"]

Service = Literal["graph", "dataverse"]


@attrs.frozen
class Request:
    """One HTTP request: method, URL relative to the service root, JSON body, and a note."""

    service: Service
    method: str
    url: str
    body: Mapping[str, Any] | None = None
    note: str = ""


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
        snapshot, previous = self._sides[op.side]
        record = current_record(snapshot, previous, _SNAPSHOT_FIELDS[domain], op.key)
        if record is None:
            where = f"{op.side.value} has no {domain.value} {op.key!r} to {op.action.value}"
            raise StalePlan([where])
        return record


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


def _attachment_note(attachment: Attachment) -> str:
    return f"the attachment {attachment.name!r} ({attachment.content_hash})"


def _todo(op: Op, records: _Records, url: str, crm_url: str) -> list[Request]:
    """The requests for a To Do task op: the task itself and its linked resources."""
    links = f"{url}/linkedResources"
    if op.action is Action.LINK:
        [change] = [c for c in op.changes if c.field == "key"]
        record = attrs.evolve(records.target(op), key=change.new)
        body = graph.todo_links(record, web_url=_web_url(crm_url, change.new))[0]
        return [Request("graph", "POST", links, body)]
    before = records.target(op)
    record, fields = _updated(op, before)
    body = dict(graph.task_to_graph(record, fields=fields))
    body.pop("linkedResources", None)
    out = [Request("graph", "PATCH", url, body)] if body else []
    if "regarding" in fields:
        note = "{linkedResourceId} is the id of the task's linked resource named 'Regarding'"
        one = f"{links}/{{linkedResourceId}}"
        if not before.regarding:
            out.append(Request("graph", "POST", links, graph.todo_links(record)[1]))
        elif not record.regarding:
            out.append(Request("graph", "DELETE", one, None, note))
        else:
            out.append(Request("graph", "PATCH", one, {"externalId": record.regarding}, note))
    return out


def _web_url(crm_url: str, key: str) -> str:
    if not crm_url:
        return ""
    return f"{crm_url.rstrip('/')}/main.aspx?etn=task&pagetype=entityrecord&id={quote(key)}"


def _graph(
    op: Op,
    records: _Records,
    todo_list: str,
    ids: Mapping[tuple[Domain, str], str],
    crm_url: str = "",
) -> list[Request]:
    domain = Domain.APPOINTMENT if op.domain is Domain.ATTACHMENT else op.domain
    # Graph ids are base64: keep '=', '-' and '_', escape '/' and '+'.
    item = quote(ids.get((domain, op.key), op.key), safe="=-_")
    base = {
        Domain.CONTACT: "/me/contacts",
        Domain.APPOINTMENT: "/me/events",
        Domain.ATTACHMENT: "/me/events",
        Domain.TASK: f"/me/todo/lists/{todo_list}/tasks",
    }[op.domain]
    write: Any = {
        Domain.CONTACT: graph.contact_to_graph,
        Domain.APPOINTMENT: graph.event_to_graph,
        Domain.TASK: graph.task_to_graph,
    }.get(op.domain)
    if op.domain is Domain.ATTACHMENT:
        attachment = cast(Attachment, op.record)
        if op.action is Action.CREATE:
            body = {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": attachment.name,
                "contentType": attachment.mime_type,
            }
            note = (
                f"add contentBytes: the base64 bytes of {_attachment_note(attachment)}; for an "
                "event this plan creates, use the id its POST returned"
            )
            return [Request("graph", "POST", f"{base}/{item}/attachments", body, note)]
        note = f"{{attachmentId}} is the id of {_attachment_note(attachment)}"
        url = f"{base}/{item}/attachments/{{attachmentId}}"
        return [Request("graph", "DELETE", url, None, note)]
    if op.action is Action.CREATE:
        if op.domain is Domain.TASK:
            task = cast(Task, op.record)
            body = graph.task_to_graph(task, web_url=_web_url(crm_url, op.key))
            return [Request("graph", "POST", base, body)]
        return [Request("graph", "POST", base, write(op.record))]
    if op.domain is Domain.TASK and op.action in (Action.UPDATE, Action.LINK):
        return _todo(op, records, f"{base}/{item}", crm_url)
    if op.action is Action.UPDATE:
        record, fields = _updated(op, records.target(op))
        return [Request("graph", "PATCH", f"{base}/{item}", write(record, fields=fields))]
    if op.action is Action.DELETE:
        return [Request("graph", "DELETE", f"{base}/{item}")]
    if op.action is Action.LINK:  # the item now carries the CRM key, as Dynamics links it
        [change] = [c for c in op.changes if c.field == "key"]
        record = attrs.evolve(records.target(op), key=change.new)
        return [Request("graph", "PATCH", f"{base}/{item}", write(record, fields={"key"}))]
    return []


def _dataverse(op: Op, records: _Records) -> Request | None:
    root = dataverse.API_ROOT
    if op.domain is Domain.ATTACHMENT:
        attachment = cast(Attachment, op.record)
        if op.action is Action.CREATE:
            table = dataverse.entity_set(_appointment(op, records))
            body = {
                "filename": attachment.name,
                "mimetype": attachment.mime_type,
                "filesize": attachment.size,
                f"objectid_{table.removesuffix('s')}@odata.bind": f"/{table}({op.key})",
            }
            note = (
                f"add body: the base64 bytes of {_attachment_note(attachment)}; for an "
                "appointment this plan creates, bind the id its POST returned"
            )
            return Request("dataverse", "POST", f"{root}/activitymimeattachments", body, note)
        note = f"{{attachmentId}} is the activitymimeattachmentid of {_attachment_note(attachment)}"
        url = f"{root}/activitymimeattachments({{attachmentId}})"
        return Request("dataverse", "DELETE", url, None, note)
    write: Any = {
        Domain.CONTACT: dataverse.contact_to_dataverse,
        Domain.APPOINTMENT: dataverse.appointment_to_dataverse,
        Domain.TASK: dataverse.task_to_dataverse,
    }[op.domain]
    if op.action is Action.CREATE:
        url = f"{root}/{_table(op.domain, op.record)}"
        note = (
            f"then link the pair: write the new row's id into the Outlook item {op.key!r} "
            "as its crmid property"
        )
        return Request("dataverse", "POST", url, write(op.record), note)
    if op.action is Action.UPDATE:
        current = records.target(op)
        record, fields = _updated(op, current)
        url = f"{root}/{_table(op.domain, current)}({op.key})"
        return Request("dataverse", "PATCH", url, write(record, fields=fields))
    if op.action is Action.DELETE:
        current = records.target(op)
        return Request("dataverse", "DELETE", f"{root}/{_table(op.domain, current)}({op.key})")
    return None


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
    todo_list: str = "{todoTaskListId}",
    graph_ids: Mapping[tuple[Domain, str], str] | None = None,
    baseline: Baseline | None = None,
    crm_url: str = "",
) -> tuple[Request, ...]:
    """The requests that carry out a plan's ops, in the plan's order.

    Args:
        plan: the plan, made from `crm` and `outlook`.
        crm: the CRM snapshot the plan was made from (a CRM update is the
            record the plan saw, with the changes applied).
        outlook: the Outlook snapshot the plan was made from.
        services: "graph" for the Outlook ops, "dataverse" for the CRM ops.
        todo_list: the id of the To Do list that holds the user's tasks.
        graph_ids: the Graph id of each Outlook record whose key is not its
            Graph id (`crmsync.adapters.read_graph` gives them).
        baseline: the baseline the plan was made with; partial snapshots
            are read through to it.
        crm_url: the CRM's address (`https://contoso.crm.dynamics.com`), for
            the `webUrl` of a To Do task's link to its CRM task.

    Returns:
        One `Request` per op the chosen services carry out, in the plan's
        order (an UNLINK leaves both items as they are, so it has none).

    Raises:
        StalePlan: an op names a record the snapshots do not hold.
    """
    out: list[Request] = []
    records = _Records(plan, crm, outlook, baseline)
    for op in plan.ops:
        if op.side is Side.OUTLOOK and "graph" in services:
            out.extend(_graph(op, records, todo_list, graph_ids or {}, crm_url))
        elif op.side is Side.CRM and "dataverse" in services:
            request = _dataverse(op, records)
            if request is not None:
                out.append(request)
    return tuple(out)
