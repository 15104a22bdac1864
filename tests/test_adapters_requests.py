"""Tests for crmsync.adapters.requests: a plan as the HTTP requests an application sends."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from hypothesis import given

import crmsync
from crmsync import (
    Action,
    Appointment,
    Attachment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    Domain,
    FieldChange,
    Op,
    OutlookContact,
    OutlookSnapshot,
    Plan,
    Settings,
    Side,
    StalePlan,
    Task,
)
from crmsync.adapters.graph import CRMID_PROPERTY
from crmsync.adapters.requests import Request, requests_for
from crmsync.strategies import World, worlds
from support import NOW, plan

FILE = Attachment(name="agenda.pdf", size=10, content_hash="sha256:01")
START = NOW + dt.timedelta(days=1)


def _pair() -> tuple[CrmSnapshot, OutlookSnapshot, Baseline]:
    crm = CrmSnapshot(contacts=[CrmContact(key="c", job_title="Buyer", emails=("a@x.org",))])
    outlook = OutlookSnapshot(
        contacts=[OutlookContact(key="c", job_title="Buyer", emails=("a@x.org",))]
    )
    return crm, outlook, Baseline(crm=crm, outlook=outlook, settings=Settings())


def test_an_update_is_a_patch_with_only_the_changed_properties() -> None:
    crm, outlook, baseline = _pair()
    crm = CrmSnapshot(contacts=[CrmContact(key="c", job_title="Head", emails=("a@x.org",))])

    found = requests_for(plan(crm, outlook, baseline=baseline), crm, outlook)

    assert found == (Request("graph", "PATCH", "/me/contacts/c", {"jobTitle": "Head"}),)


def test_a_create_in_the_crm_is_a_post_to_its_table() -> None:
    task = Task(key="t", subject="Call back", tracked=True)
    outlook = OutlookSnapshot(tasks=[task])

    found = requests_for(plan(CrmSnapshot(), outlook), CrmSnapshot(), outlook)

    assert [(r.service, r.method, r.url) for r in found] == [
        ("dataverse", "POST", "/api/data/v9.2/tasks")
    ]
    assert found[0].body is not None
    assert found[0].body["subject"] == "Call back"


def test_a_delete_is_a_delete_of_the_record_url() -> None:
    _crm, outlook, baseline = _pair()

    found = requests_for(plan(CrmSnapshot(), outlook, baseline=baseline), CrmSnapshot(), outlook)

    assert [(r.method, r.url) for r in found] == [("DELETE", "/me/contacts/c")]


def test_an_attachment_asks_the_application_for_its_bytes() -> None:
    meeting = Appointment(key="m", start=START, end=START, attachments=(FILE,))
    crm = CrmSnapshot(appointments=[meeting])
    outlook = OutlookSnapshot(appointments=[Appointment(key="m", start=START, end=START)])
    base = Baseline(
        crm=CrmSnapshot(appointments=[Appointment(key="m", start=START, end=START)]),
        outlook=outlook,
        settings=Settings(sync_appointment_attachments=True),
    )
    planned = plan(crm, outlook, Settings(sync_appointment_attachments=True), base)

    found = requests_for(planned, crm, outlook)

    assert [(r.method, r.url) for r in found] == [("POST", "/me/events/m/attachments")]
    assert found[0].body == {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": "agenda.pdf",
        "contentType": "application/octet-stream",
    }
    assert "contentBytes" in found[0].note
    assert "sha256:01" in found[0].note


def test_a_link_writes_the_crm_key_into_the_outlook_items_crmid() -> None:
    crm = CrmSnapshot(contacts=[CrmContact(key="d-1", emails=("a@x.org",))])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key="AAMk-1", emails=("A@x.org",))])

    found = requests_for(plan(crm, outlook), crm, outlook)

    assert found == (
        Request(
            "graph",
            "PATCH",
            "/me/contacts/AAMk-1",
            {"singleValueExtendedProperties": [{"id": CRMID_PROPERTY, "value": "d-1"}]},
        ),
    )


def test_urls_use_the_graph_id_of_a_linked_item() -> None:
    crm, outlook, baseline = _pair()
    crm = CrmSnapshot(contacts=[CrmContact(key="c", job_title="Head", emails=("a@x.org",))])
    planned = plan(crm, outlook, baseline=baseline)

    [request] = requests_for(planned, crm, outlook, graph_ids={(Domain.CONTACT, "c"): "AAMk-9"})

    assert request.url == "/me/contacts/AAMk-9"


def test_services_pick_which_side_is_emitted() -> None:
    crm, outlook, baseline = _pair()
    crm = CrmSnapshot(contacts=[CrmContact(key="c", job_title="Head", emails=("a@x.org",))])
    planned = plan(crm, outlook, baseline=baseline)

    assert requests_for(planned, crm, outlook, services=("dataverse",)) == ()


def test_an_op_on_a_record_the_snapshots_lack_is_a_stale_plan() -> None:
    crm, outlook, baseline = _pair()
    crm = CrmSnapshot(contacts=[CrmContact(key="c", job_title="Head", emails=("a@x.org",))])
    planned = plan(crm, outlook, baseline=baseline)

    with pytest.raises(StalePlan, match="outlook has no contact 'c' to update"):
        requests_for(planned, crm, OutlookSnapshot())


@given(worlds())
def test_every_planned_op_but_unlink_has_its_request(world: World) -> None:
    planned: Plan = crmsync.plan(
        world.crm, world.outlook, world.settings, world.baseline, user=world.user, now=world.now
    )

    found = requests_for(planned, world.crm, world.outlook)

    # A To Do task's linked resources may need a request of their own after the
    # task's, and an update of only what To Do cannot hold has none.
    todo_only = {"percent_complete", "regarding"}
    expected = [
        op
        for op in planned.ops
        if op.action is not Action.UNLINK
        and not (
            op.domain is Domain.TASK
            and op.side is Side.OUTLOOK
            and op.action is Action.UPDATE
            and {c.field for c in op.changes} <= todo_only
        )
    ]
    main = [r for r in found if not r.url.endswith("linkedResources/{linkedResourceId}")]
    main = [
        r
        for r in main
        if not (
            r.url.endswith("/linkedResources")
            and r.body
            and r.body.get("displayName") == "Regarding"
        )
    ]
    assert len(main) == len(expected)
    for op, request in zip(expected, main, strict=True):
        assert request.service == ("graph" if op.side is Side.OUTLOOK else "dataverse")
        methods = {
            Action.CREATE: "POST",
            Action.UPDATE: "PATCH",
            Action.DELETE: "DELETE",
            # A To Do task is linked by a linked resource of its own.
            Action.LINK: "POST" if op.domain is Domain.TASK else "PATCH",
        }
        assert request.method == methods[op.action]
        if op.action is Action.UPDATE and op.domain is not Domain.ATTACHMENT:
            assert request.body  # never an empty PATCH
        if op.domain is Domain.TASK and op.side is Side.OUTLOOK and request.body:
            # todoTask has no singleValueExtendedProperties: Graph refuses a body with them.
            assert "singleValueExtendedProperties" not in request.body


def test_a_graph_id_is_escaped_in_its_url() -> None:
    crm, outlook, baseline = _pair()
    crm = CrmSnapshot(contacts=[CrmContact(key="c", job_title="Head", emails=("a@x.org",))])
    planned = plan(crm, outlook, baseline=baseline)

    [request] = requests_for(planned, crm, outlook, graph_ids={(Domain.CONTACT, "c"): "AA/b+c_d-="})

    assert request.url == "/me/contacts/AA%2Fb%2Bc_d-="


def _tasks(crm_task: Task, outlook_task: Task) -> tuple[CrmSnapshot, OutlookSnapshot]:
    return CrmSnapshot(tasks=[crm_task]), OutlookSnapshot(tasks=[outlook_task])


def test_a_todo_task_is_created_with_its_link_as_a_linked_resource() -> None:
    crm, outlook = _tasks(Task(key="t-1", subject="Call", regarding="acc-1"), Task(key="x"))
    outlook = OutlookSnapshot()
    planned = plan(crm, outlook)

    [request] = requests_for(planned, crm, outlook, crm_url="https://contoso.crm.dynamics.com/")

    assert (request.method, request.url) == ("POST", "/me/todo/lists/{todoTaskListId}/tasks")
    assert request.body is not None
    assert "singleValueExtendedProperties" not in request.body
    link, regarding = request.body["linkedResources"]
    assert link["externalId"] == "t-1"
    assert link["webUrl"] == (
        "https://contoso.crm.dynamics.com/main.aspx?etn=task&pagetype=entityrecord&id=t-1"
    )
    assert regarding["externalId"] == "acc-1"


def test_a_todo_task_is_linked_by_posting_a_linked_resource() -> None:
    crm, outlook = _tasks(Task(key="t-1", subject="Call"), Task(key="AAMk-1", subject="Call"))
    # Tasks have no natural key to match by; an application's policy may still link them.
    link = Op(
        action=Action.LINK,
        side=Side.OUTLOOK,
        domain=Domain.TASK,
        key="AAMk-1",
        changes=(FieldChange("key", "AAMk-1", "t-1"),),
        reason="linked_by_the_application",
    )
    planned = attrs.evolve(plan(CrmSnapshot(), OutlookSnapshot()), ops=(link,))

    [request] = requests_for(planned, crm, outlook)

    assert (request.method, request.url) == (
        "POST",
        "/me/todo/lists/{todoTaskListId}/tasks/AAMk-1/linkedResources",
    )
    assert request.body == {
        "applicationName": "Dynamics 365",
        "displayName": "Dynamics 365 task",
        "externalId": "t-1",
    }


def test_a_regarding_change_updates_the_todo_tasks_linked_resource() -> None:
    before = Task(key="t-1", subject="Call", regarding="acc-1")
    crm, outlook = _tasks(before, before)
    baseline = Baseline(crm=crm, outlook=outlook)
    edited = CrmSnapshot(tasks=[Task(key="t-1", subject="Call back", regarding="acc-2")])
    planned = plan(edited, outlook, baseline=baseline)

    task, link = requests_for(planned, edited, outlook)

    assert (task.method, task.body) == ("PATCH", {"title": "Call back"})
    assert (link.method, link.body) == ("PATCH", {"externalId": "acc-2"})
    assert link.url.endswith("/tasks/t-1/linkedResources/{linkedResourceId}")


def test_requests_for_a_partial_snapshot_read_the_baseline() -> None:
    _, _, baseline = _pair()
    delta = CrmSnapshot(
        contacts=[CrmContact(key="c", job_title="Head", emails=("a@x.org",))], complete=False
    )
    unchanged = OutlookSnapshot(complete=False)
    planned = plan(delta, unchanged, baseline=baseline)

    [request] = requests_for(planned, delta, unchanged, baseline=baseline)

    assert (request.method, request.url, request.body) == (
        "PATCH",
        "/me/contacts/c",
        {"jobTitle": "Head"},
    )
