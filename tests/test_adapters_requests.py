"""Tests for crmsync.adapters.requests: a plan as the HTTP requests an application sends."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from types import MappingProxyType

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
    Recurrence,
    Settings,
    Side,
    StalePlan,
    Task,
)
from crmsync.adapters.graph import CRMID_PROPERTY, TASK_LINK
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
    crm_id_for,
    event_transaction_id,
    requests_by_op,
    requests_for,
)
from crmsync.strategies import World, worlds
from support import NOW, plan

FILE = Attachment(name="agenda.pdf", size=10, content_hash="sha256:01")
START = NOW + dt.timedelta(days=1)


def _shape(request: Request) -> tuple[str, str, str, object]:
    return (request.service, request.method, request.url, request.body)


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

    assert [_shape(r) for r in found] == [
        ("graph", "PATCH", "/me/contacts/c", {"jobTitle": "Head"})
    ]


def test_a_create_in_the_crm_is_a_post_then_the_new_id_is_written_on_the_outlook_item() -> None:
    contact = OutlookContact(key="AAMk-1", first_name="Ann", tracked=True)
    outlook = OutlookSnapshot(contacts=[contact])

    post, link = requests_for(plan(CrmSnapshot(), outlook), CrmSnapshot(), outlook)

    assert (post.service, post.method, post.url) == ("dataverse", "POST", "/api/data/v9.2/contacts")
    assert post.headers == {"Prefer": "return=representation"}  # the response holds the id
    assert post.body is not None
    assert post.body["firstname"] == "Ann"
    assert (link.service, link.method, link.url) == ("graph", "PATCH", "/me/contacts/AAMk-1")
    assert link.depends_on == (post.id,)
    [fill] = link.fills
    assert fill == Fill(
        "body", "/singleValueExtendedProperties/0/value", FromResponse(post.id, "/contactid")
    )
    assert link.op == post.op == OpRef(Action.CREATE, Side.CRM, Domain.CONTACT, "AAMk-1")


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
    assert found[0].fills == (
        Fill("body", "/contentBytes", AttachmentBytes("sha256:01", "agenda.pdf", Side.CRM, "m")),
    )


def test_a_link_writes_the_crm_key_into_the_outlook_items_crmid() -> None:
    crm = CrmSnapshot(contacts=[CrmContact(key="d-1", emails=("a@x.org",))])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key="AAMk-1", emails=("A@x.org",))])

    found = requests_for(plan(crm, outlook), crm, outlook)

    assert [_shape(r) for r in found] == [
        (
            "graph",
            "PATCH",
            "/me/contacts/AAMk-1",
            {"singleValueExtendedProperties": [{"id": CRMID_PROPERTY, "value": "d-1"}]},
        ),
    ]


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

    firsts = {r.op: r for r in found if r.id.endswith("#0")}
    expected = []
    for op in planned.ops:
        ref = OpRef.of(op)
        if op.action is Action.UNLINK:
            assert ref not in firsts
            continue
        fields = {c.field for c in op.changes}
        todo_only = (
            op.domain is Domain.TASK
            and op.side is Side.OUTLOOK
            and op.action is Action.UPDATE
            and fields <= {"percent_complete", "regarding"}
        )
        if todo_only:
            # To Do cannot hold a percentage (no request), and a regarding record is a
            # linked resource of its own (requests to .../linkedResources only).
            assert all("linkedResources" in r.url for r in found if r.op == ref)
            assert (ref in firsts) == ("regarding" in fields)
            continue
        expected.append(op)
    for op in expected:
        request = firsts[OpRef.of(op)]
        assert request.service == ("graph" if op.side is Side.OUTLOOK else "dataverse")
        methods = {
            Action.CREATE: "POST",
            Action.UPDATE: "PATCH",
            Action.DELETE: "DELETE",
            # A To Do task is linked by a linked resource of its own.
            Action.LINK: "POST" if op.domain is Domain.TASK else "PATCH",
        }
        method = methods[op.action]
        recurrence = any(
            c.field == "recurrence" and (c.old is None) != (c.new is None) for c in op.changes
        )
        if op.action is Action.UPDATE and op.side is Side.CRM and recurrence:
            # A Dataverse appointment becomes a series through the AddRecurrence action, and
            # a series becomes single as a new appointment: both start with a POST.
            method = "POST"
        assert request.method == method
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


@given(worlds())
def test_request_ids_are_unique_and_every_dependency_names_an_earlier_request(
    world: World,
) -> None:
    planned = crmsync.plan(
        world.crm, world.outlook, world.settings, world.baseline, user=world.user, now=world.now
    )

    found = requests_for(planned, world.crm, world.outlook)

    seen: set[str] = set()
    for request in found:
        assert request.id not in seen
        assert set(request.depends_on) <= seen  # the plan's order is a dependency order
        for fill in request.fills:
            if isinstance(fill.value, FromResponse):
                assert fill.value.request in request.depends_on
        seen.add(request.id)


@given(worlds())
def test_every_op_has_its_entry_and_only_an_unlink_has_no_request(world: World) -> None:
    planned = crmsync.plan(
        world.crm, world.outlook, world.settings, world.baseline, user=world.user, now=world.now
    )

    by_op = requests_by_op(planned, world.crm, world.outlook)

    assert list(by_op) == [OpRef.of(op) for op in planned.ops]
    for op, (ref, requests) in zip(planned.ops, by_op.items(), strict=True):
        # A To Do task cannot hold a percent complete: an update of only that has no request.
        to_do_only = (op.side, op.domain, op.action) == (
            Side.OUTLOOK,
            Domain.TASK,
            Action.UPDATE,
        ) and {c.field for c in op.changes} == {"percent_complete"}
        assert (requests == ()) == (ref.action is Action.UNLINK or to_do_only)
        assert all(r.op == ref for r in requests)


def test_ids_are_the_same_for_the_same_plan() -> None:
    crm, outlook, baseline = _pair()
    crm = CrmSnapshot(contacts=[CrmContact(key="c", job_title="Head", emails=("a@x.org",))])
    planned = plan(crm, outlook, baseline=baseline)

    first = requests_for(planned, crm, outlook)
    again = requests_for(crmsync.loads(crmsync.dumps(planned), Plan), crm, outlook)

    assert [r.id for r in first] == [r.id for r in again] == ["outlook:contact:update:c#0"]


def test_an_attachment_of_an_event_the_plan_creates_waits_for_the_events_id() -> None:
    meeting = Appointment(key="m", start=START, end=START, attachments=(FILE,))
    crm = CrmSnapshot(appointments=[meeting])
    settings = Settings(sync_appointment_attachments=True)

    create, attach = requests_for(plan(crm, OutlookSnapshot(), settings), crm, OutlookSnapshot())

    assert attach.url == "/me/events/{eventId}/attachments"
    assert attach.depends_on == (create.id,)
    assert Fill("url", "eventId", FromResponse(create.id, "/id")) in attach.fills


def test_an_attachment_of_an_appointment_the_plan_creates_in_the_crm_binds_its_new_id() -> None:
    meeting = Appointment(key="m", start=START, end=START, attachments=(FILE,), tracked=True)
    outlook = OutlookSnapshot(appointments=[meeting])
    settings = Settings(sync_appointment_attachments=True)

    create, _link, _scheduled, attach = requests_for(
        plan(CrmSnapshot(), outlook, settings), CrmSnapshot(), outlook
    )

    assert attach.url == "/api/data/v9.2/activitymimeattachments"
    assert attach.depends_on == (create.id,)
    assert attach.fills == (
        Fill("body", "/body", AttachmentBytes("sha256:01", "agenda.pdf", Side.OUTLOOK, "m")),
        Fill(
            "body",
            "/objectid_appointment@odata.bind",
            FromResponse(create.id, "/activityid"),
            "/appointments({})",
        ),
    )


def test_removing_an_attachment_fills_in_the_id_the_service_gave_it() -> None:
    meeting = Appointment(key="m", start=START, end=START, attachments=(FILE,))
    bare = Appointment(key="m", start=START, end=START)
    settings = Settings(sync_appointment_attachments=True)
    base = Baseline(
        crm=CrmSnapshot(appointments=[meeting]),
        outlook=OutlookSnapshot(appointments=[meeting]),
        settings=settings,
    )
    crm, outlook = CrmSnapshot(appointments=[bare]), OutlookSnapshot(appointments=[meeting])

    [request] = requests_for(plan(crm, outlook, settings, base), crm, outlook)

    assert (request.method, request.url) == ("DELETE", "/me/events/m/attachments/{attachmentId}")
    held = AttachmentId("sha256:01", "agenda.pdf", Side.OUTLOOK, "m")
    assert request.fills == (Fill("url", "attachmentId", held),)


def test_the_to_do_list_is_a_parameter_unless_given() -> None:
    crm = CrmSnapshot(tasks=[Task(key="t", subject="Call back")])

    [by_default] = requests_for(plan(crm, OutlookSnapshot()), crm, OutlookSnapshot())
    [given_list] = requests_for(
        plan(crm, OutlookSnapshot()), crm, OutlookSnapshot(), todo_list="L1"
    )

    assert by_default.url == "/me/todo/lists/{todoTaskListId}/tasks"
    assert by_default.fills == (Fill("url", "todoTaskListId", Param("todo_list")),)
    assert (given_list.url, given_list.fills) == ("/me/todo/lists/L1/tasks", ())


def test_a_body_is_plain_json_data_the_caller_may_change() -> None:
    crm, outlook, baseline = _pair()
    crm = CrmSnapshot(contacts=[CrmContact(key="c", job_title="Head", emails=("a@x.org",))])
    [request] = requests_for(plan(crm, outlook, baseline=baseline), crm, outlook)
    assert request.body is not None

    request.body["jobTitle"] = "Chief"
    data = request.to_json()

    assert type(request.body) is dict
    assert json.loads(json.dumps(data)) == data
    assert data["op"] == {
        "action": "update",
        "side": "outlook",
        "domain": "contact",
        "key": "c",
        "attachment": None,
    }
    assert Request("graph", "GET", "/me", MappingProxyType({"a": (1,)})).body == {"a": [1]}


def test_a_regarding_change_from_outlook_is_a_dataverse_request_that_says_what_it_lacks() -> None:
    before = Task(key="t-1", subject="Call", regarding="acc-1")
    crm, outlook = _tasks(before, before)
    baseline = Baseline(crm=crm, outlook=outlook)
    edited = OutlookSnapshot(tasks=[Task(key="t-1", subject="Call back", regarding="acc-2")])
    planned = plan(crm, edited, baseline=baseline)

    patch, bind = requests_for(planned, crm, edited)

    assert (patch.method, patch.url, patch.body) == (
        "PATCH",
        "/api/data/v9.2/tasks(t-1)",
        {"subject": "Call back"},
    )
    assert (bind.method, bind.url) == ("PUT", "/api/data/v9.2/tasks(t-1)/{regardingobjectid}/$ref")
    # The regarding record's table is not in Outlook: a fill nothing can fill, never a crash.
    assert all(isinstance(fill.value, Unknown) for fill in bind.fills)
    assert "acc-2" in bind.fills[0].value.what


def test_an_update_no_property_can_write_is_never_an_empty_patch() -> None:
    series = Appointment(
        key="a1",
        start=START,
        end=START,
        organizer="ann@contoso.com",
        recurrence=crmsync.Recurrence(pattern="daily", start_date=START.date()),
        regarding="acc-1",  # a series without one is replaced instead
    )
    crm, outlook = CrmSnapshot(appointments=[series]), OutlookSnapshot(appointments=[series])
    baseline = Baseline(crm=crm, outlook=outlook)
    cleared = OutlookSnapshot(appointments=[attrs.evolve(series, recurrence=None, subject="S")])

    patch, cannot = requests_for(plan(crm, cleared, baseline=baseline), crm, cleared)

    assert patch.body == {"subject": "S"}
    assert cannot.method == "PATCH"
    assert cannot.body
    assert cannot.fills
    assert all(isinstance(fill.value, Unknown) for fill in cannot.fills)
    assert "recurrence" in cannot.note


def test_an_organizer_change_is_never_planned_as_an_update_on_either_side() -> None:
    """Graph's event update does not take `organizer` and Dataverse binds it to system users
    only: the organizer is written when an appointment is created and never updated, so a
    change on either side is acknowledged with `field_not_synced`, and no request is made
    that could not write it (or would count as done having changed nothing)."""
    meeting = Appointment(key="a1", start=START, end=START, organizer="ann@contoso.com")
    crm, outlook = CrmSnapshot(appointments=[meeting]), OutlookSnapshot(appointments=[meeting])
    baseline = Baseline(crm=crm, outlook=outlook)
    moved = CrmSnapshot(
        appointments=[attrs.evolve(meeting, organizer="bob@contoso.com", subject="S")]
    )
    planned = plan(moved, outlook, baseline=baseline)
    [patch] = requests_for(planned, moved, outlook)
    assert patch.body == {"subject": "S"}
    assert [n.code for n in planned.notices] == ["field_not_synced"]
    cleared = CrmSnapshot(appointments=[attrs.evolve(meeting, organizer="")])
    assert not requests_for(plan(cleared, outlook, baseline=baseline), cleared, outlook)


# -- every create once, no lost update --------------------------------------------


def test_a_crm_create_chooses_the_rows_primary_key_from_the_outlook_key() -> None:
    """Every op takes effect at most once: the same id on every attempt and every round."""
    outlook = OutlookSnapshot(contacts=[OutlookContact(key="AAMk-1", first_name="Ann")])

    post, _link = requests_for(plan(CrmSnapshot(), outlook), CrmSnapshot(), outlook)
    again, _ = requests_for(plan(CrmSnapshot(), outlook), CrmSnapshot(), outlook)

    chosen = crm_id_for(Domain.CONTACT, "AAMk-1")
    assert post.body is not None
    assert post.body["contactid"] == chosen
    assert post.read_back == f"/api/data/v9.2/contacts({chosen})"
    assert again.body == post.body
    assert str(uuid.UUID(chosen)) == chosen
    assert crm_id_for(Domain.TASK, "AAMk-1") != chosen  # one id per domain


def test_a_graph_event_create_carries_a_transaction_id_derived_from_the_crm_key() -> None:
    crm = CrmSnapshot(appointments=[Appointment(key="d-1", start=START, end=START)])

    [post] = requests_for(plan(crm, OutlookSnapshot()), crm, OutlookSnapshot())

    assert (post.method, post.url) == ("POST", "/me/events")
    assert post.body is not None
    assert post.body["transactionId"] == event_transaction_id("d-1")
    assert event_transaction_id("d-1") != crm_id_for(Domain.APPOINTMENT, "d-1")


def _edited_in_outlook() -> OutlookSnapshot:
    return OutlookSnapshot(
        contacts=[OutlookContact(key="c", job_title="Head", emails=("a@x.org",))]
    )


def test_updates_and_deletes_send_if_match_with_the_etag_read() -> None:
    """No lost update: the service refuses the write if the record changed since the read."""
    crm, outlook, baseline = _pair()
    changed = CrmSnapshot(contacts=[CrmContact(key="c", job_title="Head", emails=("a@x.org",))])
    edited = _edited_in_outlook()
    etags = {(Domain.CONTACT, "c"): 'W/"7"'}

    [patch] = requests_for(
        plan(changed, outlook, baseline=baseline), changed, outlook, graph_etags=etags
    )
    [gone] = requests_for(
        plan(CrmSnapshot(), outlook, baseline=baseline), CrmSnapshot(), outlook, graph_etags=etags
    )
    [row] = requests_for(plan(crm, edited, baseline=baseline), crm, edited, dataverse_etags=etags)

    assert (patch.method, gone.method, row.method) == ("PATCH", "DELETE", "PATCH")
    assert patch.headers == gone.headers == row.headers == {"If-Match": 'W/"7"'}


def test_without_etags_a_graph_write_is_unconditional_and_a_crm_update_never_an_upsert() -> None:
    """Snapshots built without etags get the behaviour of earlier versions."""
    crm, outlook, baseline = _pair()
    edited = _edited_in_outlook()

    [graph_delete] = requests_for(
        plan(CrmSnapshot(), outlook, baseline=baseline), CrmSnapshot(), outlook
    )
    [row] = requests_for(plan(crm, edited, baseline=baseline), crm, edited)

    assert graph_delete.headers == {}
    assert row.headers == {"If-Match": "*"}


def test_a_linked_to_do_task_made_again_in_the_crm_replaces_its_link() -> None:
    """The new link first, then the stale one goes: never two links, never none."""
    task = Task(key="d-old", subject="Call back")
    outlook = OutlookSnapshot(tasks=[task])
    base = Baseline(crm=CrmSnapshot(tasks=[task]), outlook=outlook, settings=Settings())
    edited = OutlookSnapshot(tasks=[attrs.evolve(task, subject="Call back today")])
    planned = plan(CrmSnapshot(), edited, baseline=base)

    post, link, stale = requests_for(
        planned, CrmSnapshot(), edited, graph_ids={(Domain.TASK, "d-old"): "AAkT-1"}, todo_list="L"
    )

    links = "/me/todo/lists/L/tasks/AAkT-1/linkedResources"
    assert [(r.method, r.url) for r in (post, link, stale)] == [
        ("POST", "/api/data/v9.2/tasks"),
        ("POST", links),
        ("DELETE", links + "/{linkedResourceId}"),
    ]
    assert stale.depends_on == (link.id,)
    held = LinkedResourceId("d-old", TASK_LINK, external_id="d-old")
    assert stale.fills == (Fill("url", "linkedResourceId", held),)


# -- the Dataverse activity model ---------------------------------------------------------

WEEKLY = Recurrence(
    pattern="weekly", start_date=START.date(), days_of_week=("monday",), occurrences=5
)


def _linked_appointments(
    crm: Appointment, outlook: Appointment, base: Appointment
) -> tuple[CrmSnapshot, OutlookSnapshot, Baseline]:
    baseline = Baseline(
        crm=CrmSnapshot(appointments=[base]),
        outlook=OutlookSnapshot(appointments=[base]),
        settings=Settings(),
    )
    return CrmSnapshot(appointments=[crm]), OutlookSnapshot(appointments=[outlook]), baseline


def test_a_series_is_created_in_recurringappointmentmasters_with_its_own_time_columns() -> None:
    series = Appointment(
        key="s", start=START, end=START + dt.timedelta(hours=1), recurrence=WEEKLY, tracked=True
    )
    outlook = OutlookSnapshot(appointments=[series])

    create = requests_for(plan(CrmSnapshot(), outlook), CrmSnapshot(), outlook)[0]

    assert create.url == "/api/data/v9.2/recurringappointmentmasters"
    assert create.body is not None
    assert create.body["starttime"] == "2026-11-25T09:00:00Z"
    assert create.body["endtime"] == "2026-11-25T10:00:00Z"
    assert not {"scheduledstart", "scheduledend"} & set(create.body)


def test_an_appointment_made_recurring_in_outlook_goes_through_add_recurrence() -> None:
    single = Appointment(key="a", start=START, end=START + dt.timedelta(hours=1))
    series = attrs.evolve(single, recurrence=WEEKLY)
    crm, outlook, baseline = _linked_appointments(single, series, single)

    add, link = requests_for(plan(crm, outlook, baseline=baseline), crm, outlook)

    assert (add.method, add.url) == (
        "POST",
        "/api/data/v9.2/appointments(a)/Microsoft.Dynamics.CRM.AddRecurrence",
    )
    assert add.body is not None
    target = add.body["Target"]
    assert target["@odata.type"] == "Microsoft.Dynamics.CRM.recurringappointmentmaster"
    assert target["recurrencepatterntype"] == 1
    assert target["activityid"] == crm_id_for(Domain.APPOINTMENT, "a")
    assert target["starttime"] == "2026-11-25T09:00:00Z"
    assert not {"scheduledstart", "statecode"} & set(target)
    # The series is a new row: its id goes on the Outlook item, as a create's does.
    assert link.service == "graph"
    assert link.depends_on == (add.id,)
    assert link.fills[-1].value == FromResponse(add.id, "/activityid")


def test_a_completed_task_is_created_open_then_closed() -> None:
    done = Task(key="t", subject="Call", status="completed", percent_complete=100, tracked=True)
    outlook = OutlookSnapshot(tasks=[done])

    create, *rest = requests_for(plan(CrmSnapshot(), outlook), CrmSnapshot(), outlook)
    close = rest[-1]

    assert create.body is not None
    assert "statecode" not in create.body
    assert "statuscode" not in create.body  # 5 is a status of the Completed state only
    assert (close.method, close.url) == (
        "PATCH",
        f"/api/data/v9.2/tasks({crm_id_for(Domain.TASK, 't')})",
    )
    assert close.body == {"statecode": 1, "statuscode": 5}
    assert close.depends_on == (create.id,)
    assert close.headers == {"If-Match": "*"}


def test_an_open_task_is_created_with_its_open_status_and_no_statecode() -> None:
    doing = Task(key="t", subject="Call", status="in_progress", tracked=True)
    outlook = OutlookSnapshot(tasks=[doing])

    requests = requests_for(plan(CrmSnapshot(), outlook), CrmSnapshot(), outlook)

    assert requests[0].body is not None
    assert "statecode" not in requests[0].body
    assert requests[0].body["statuscode"] == 3
    assert all(r.method != "PATCH" or r.service == "graph" for r in requests)


def test_a_busy_appointment_is_created_open_then_scheduled() -> None:
    meeting = Appointment(key="m", start=START, end=START, show_as="busy", tracked=True)
    outlook = OutlookSnapshot(appointments=[meeting])

    create, _link, scheduled = requests_for(plan(CrmSnapshot(), outlook), CrmSnapshot(), outlook)

    assert create.body is not None
    assert not {"statecode", "statuscode"} & set(create.body)
    assert scheduled.body == {"statecode": 3, "statuscode": 5}
    assert scheduled.depends_on == (create.id,)


def test_an_edit_of_a_completed_crm_task_reopens_writes_and_closes_it_again() -> None:
    done = Task(key="t", subject="Call", status="completed", percent_complete=100)
    edited = attrs.evolve(done, subject="Call back")
    crm = CrmSnapshot(tasks=[done])
    outlook = OutlookSnapshot(tasks=[edited])
    baseline = Baseline(crm=crm, outlook=OutlookSnapshot(tasks=[done]), settings=Settings())

    reopen, edit, close = requests_for(
        plan(crm, outlook, baseline=baseline),
        crm,
        outlook,
        dataverse_etags={(Domain.TASK, "t"): 'W/"7"'},
    )

    assert [r.url for r in (reopen, edit, close)] == ["/api/data/v9.2/tasks(t)"] * 3
    assert reopen.body == {"statecode": 0, "statuscode": 2}
    assert reopen.headers == {"If-Match": 'W/"7"'}
    assert edit.body == {"subject": "Call back"}
    assert close.body == {"statecode": 1, "statuscode": 5}
    assert edit.depends_on == (reopen.id,)
    assert close.depends_on == (edit.id,)
    assert edit.headers == close.headers == {"If-Match": "*"}


def test_completing_a_crm_task_writes_the_edit_before_the_close() -> None:
    open_task = Task(key="t", subject="Call", status="in_progress", percent_complete=50)
    done = attrs.evolve(open_task, subject="Called", status="completed", percent_complete=100)
    crm = CrmSnapshot(tasks=[open_task])
    outlook = OutlookSnapshot(tasks=[done])
    baseline = Baseline(crm=crm, outlook=OutlookSnapshot(tasks=[open_task]), settings=Settings())

    edit, close = requests_for(plan(crm, outlook, baseline=baseline), crm, outlook)

    assert edit.body is not None
    assert edit.body["subject"] == "Called"
    assert not {"statecode", "statuscode"} & set(edit.body)
    assert close.body == {"statecode": 1, "statuscode": 5}
    assert close.depends_on == (edit.id,)


def test_an_attachment_row_names_its_table_and_leaves_filesize_to_the_service() -> None:
    meeting = Appointment(key="m", start=START, end=START, attachments=(FILE,))
    bare = Appointment(key="m", start=START, end=START)
    crm, outlook, baseline = _linked_appointments(bare, meeting, bare)
    settings = Settings(sync_appointment_attachments=True)

    [attach] = requests_for(plan(crm, outlook, settings, baseline), crm, outlook)

    assert attach.body is not None
    assert "filesize" not in attach.body
    assert attach.body["objecttypecode"] == "appointment"


def test_an_unresolved_organizer_is_not_sent_where_the_table_targets_only_system_users() -> None:
    meeting = Appointment(
        key="m",
        start=START,
        end=START,
        organizer="ann@x.org",
        required=("bob@x.org",),
        tracked=True,
    )
    outlook = OutlookSnapshot(appointments=[meeting])

    create = requests_for(plan(CrmSnapshot(), outlook), CrmSnapshot(), outlook)[0]

    assert create.body is not None
    assert create.body["appointment_activity_parties"] == [
        {"participationtypemask": 5, "addressused": "bob@x.org"}
    ]


def test_attendees_changed_with_the_recurrence_follow_the_new_series() -> None:
    single = Appointment(key="a", start=START, end=START + dt.timedelta(hours=1))
    series = attrs.evolve(single, recurrence=WEEKLY, required=("bob@x.org",))
    crm, outlook, baseline = _linked_appointments(single, series, single)

    add, _link, parties = requests_for(plan(crm, outlook, baseline=baseline), crm, outlook)

    assert parties.url == "/api/data/v9.2/recurringappointmentmasters({activityid})"
    assert parties.body == {
        "recurringappointmentmaster_activity_parties": [
            {"participationtypemask": 5, "addressused": "bob@x.org"}
        ]
    }
    assert parties.fills == (Fill("url", "activityid", FromResponse(add.id, "/activityid")),)


def test_a_series_made_single_is_replaced_by_a_new_appointment_then_deleted() -> None:
    series = Appointment(key="s", start=START, end=START + dt.timedelta(hours=1), recurrence=WEEKLY)
    single = attrs.evolve(series, recurrence=None)
    crm, outlook, baseline = _linked_appointments(series, single, series)

    planned = plan(crm, outlook, baseline=baseline)
    create, link, scheduled, delete = requests_for(planned, crm, outlook)

    assert [n.code for n in planned.notices] == ["series_replaced"]
    chosen = crm_id_for(Domain.APPOINTMENT, "s")
    assert (create.method, create.url) == ("POST", "/api/data/v9.2/appointments")
    assert create.body is not None
    assert create.body["activityid"] == chosen
    assert create.read_back == f"/api/data/v9.2/appointments({chosen})"
    assert link.depends_on == scheduled.depends_on == (create.id,)
    assert (delete.method, delete.url) == (
        "DELETE",
        "/api/data/v9.2/recurringappointmentmasters(s)",
    )
    assert delete.depends_on == (create.id,)  # the new row first: never neither


def test_a_series_with_a_regarding_record_is_not_replaced() -> None:
    series = Appointment(
        key="s", start=START, end=START, recurrence=WEEKLY, regarding="acc-1", tracked=True
    )
    single = attrs.evolve(series, recurrence=None)
    crm, outlook, baseline = _linked_appointments(series, single, series)

    [held] = requests_for(plan(crm, outlook, baseline=baseline), crm, outlook)

    assert held.method == "PATCH"
    assert any(isinstance(fill.value, Unknown) for fill in held.fills)
