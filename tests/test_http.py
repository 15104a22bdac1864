"""Tests for crmsync.http: running a plan against Graph and Dataverse over real HTTP.

The services are `crmsync.testing`, a stateful server on localhost.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import pytest

import crmsync
from crmsync import Action, Baseline, Domain, Plan, Settings
from crmsync.adapters.graph import LINK_APPLICATION, REGARDING_LINK, TRACKED_CATEGORY
from crmsync.http import Connection, Executed
from crmsync.testing import FakeMicrosoft, organizer_party
from support import fake_connection

USER = "ann@contoso.com"
NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=2)
SETTINGS = Settings(sync_appointment_attachments=True)
AGENDA = base64.b64encode(b"1. prices\n2. dates\n").decode()
MENU = base64.b64encode(b"soup").decode()


@pytest.fixture
def fake() -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft(page_size=2) as server:  # small pages: every read follows nextLink
        yield server


_OPEN: list[Connection] = []


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _connection(fake: FakeMicrosoft, sleeps: list[float], **options: Any) -> Connection:
    connection = fake_connection(fake, sleeps.append, **options)
    _OPEN.append(connection)
    return connection


def _when(moment: dt.datetime) -> dict[str, str]:
    return {"dateTime": moment.replace(tzinfo=None).isoformat(), "timeZone": "UTC"}


def _crm_appointment(fake: FakeMicrosoft, subject: str, *, attachment: bool = False) -> str:
    key = fake.add(
        "dataverse",
        "appointments",
        {
            "subject": subject,
            "scheduledstart": LATER.isoformat(),
            "scheduledend": (LATER + dt.timedelta(hours=1)).isoformat(),
            "appointment_activity_parties": [organizer_party(USER)],
        },
    )
    if attachment:
        fake.add(
            "dataverse",
            "activitymimeattachments",
            {
                "filename": "agenda.txt",
                "mimetype": "text/plain",
                "objecttypecode": "appointment",
                "body": AGENDA,
                "objectid_appointment@odata.bind": f"/appointments({key})",
            },
        )
    return key


def _round(connection: Connection, baseline: Baseline | None) -> tuple[Plan, Executed, Baseline]:
    """Read both sides over HTTP, plan, execute; the plan, what was done, the new baseline."""
    outlook = connection.read_outlook(baseline)
    crm = connection.read_crm()
    plan = crmsync.plan(crm, outlook.snapshot, SETTINGS, baseline, user=USER, now=NOW)
    executed = connection.execute(plan, crm, outlook.snapshot, graph_ids=outlook.ids)
    return plan, executed, executed.baseline(baseline)


def _ops(plan: Plan) -> set[tuple[str, str, str]]:
    return {(op.domain.value, op.side.value, op.action.value) for op in plan.ops}


def test_importing_crmsync_does_not_import_httpx() -> None:
    code = (
        "import sys, crmsync, crmsync.adapters.requests, crmsync.cli; "
        "assert 'httpx' not in sys.modules, 'httpx imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _seed(fake: FakeMicrosoft) -> None:
    """Each side holds what the other does not: a contact, an appointment, a task."""
    fake.add(
        "dataverse",
        "contacts",
        {"firstname": "Ann", "lastname": "Lee", "emailaddress1": "ann@x.org", "jobtitle": "Buyer"},
    )
    _crm_appointment(fake, "Review", attachment=True)
    fake.add(
        "dataverse", "tasks", {"subject": "Send the proposal", "scheduledend": LATER.isoformat()}
    )
    fake.add(
        "graph",
        "contacts",
        {
            "givenName": "Bob",
            "emailAddresses": [{"address": "bob@x.org"}],
            "categories": [TRACKED_CATEGORY],
        },
    )
    lunch = fake.add(
        "graph",
        "events",
        {
            "subject": "Lunch",
            "start": _when(LATER),
            "end": _when(LATER + dt.timedelta(hours=1)),
            "organizer": {"emailAddress": {"address": USER}},
            "categories": [TRACKED_CATEGORY],
        },
    )
    fake.attach(lunch, "menu.txt", MENU)


def _one(items: dict[str, dict[str, Any]], **wanted: Any) -> dict[str, Any]:
    [item] = [i for i in items.values() if all(i.get(k) == v for k, v in wanted.items())]
    return item


def test_read_plan_execute_read_again_and_the_next_plan_is_empty(fake: FakeMicrosoft) -> None:
    _seed(fake)
    sleeps: list[float] = []
    connection = _connection(fake, sleeps)
    fake.throttle(lambda m, path: (m, path) == ("POST", "/api/data/v9.2/contacts"), retry_after="3")
    fake.throttle(lambda m, path: (m, path) == ("POST", "/v1.0/me/events"), retry_after="2")

    # A first sync: a create on each side of every domain, and an attachment.
    first, executed, baseline = _round(connection, None)

    assert _ops(first) == {
        ("contact", "crm", "create"),
        ("contact", "outlook", "create"),
        ("appointment", "crm", "create"),
        ("appointment", "outlook", "create"),
        ("attachment", "crm", "create"),
        ("attachment", "outlook", "create"),
        ("task", "outlook", "create"),
    }
    assert executed.complete, executed.not_done
    assert sorted(sleeps) == [2.0, 3.0]  # each throttled request waited its Retry-After
    again, _, baseline = _round(connection, baseline)
    assert again.is_empty, again.render()
    review = _one(fake.graph["events"], subject="Review")
    [attached] = fake.attachments[review["id"]].values()
    assert (attached["name"], attached["contentBytes"]) == ("agenda.txt", AGENDA)
    lunch = _one(fake.dataverse["appointments"], subject="Lunch")
    menu = _one(fake.dataverse["activitymimeattachments"], filename="menu.txt")
    assert (menu["_objectid_value"], menu["body"]) == (lunch["activityid"], MENU)
    bob = _one(fake.dataverse["contacts"], firstname="Bob")
    assert {
        p["value"]
        for p in _one(fake.graph["contacts"], givenName="Bob")["singleValueExtendedProperties"]
    } >= {bob["contactid"]}  # the pair is linked by the id the CRM gave the row

    # A conflict, a delete, and an attachment removed.
    _one(fake.dataverse["contacts"], firstname="Ann")["jobtitle"] = "Head of Buying"
    _one(fake.graph["contacts"], givenName="Ann")["jobTitle"] = "Chief Buyer"
    del fake.graph["events"][_one(fake.graph["events"], subject="Lunch")["id"]]
    agenda = _one(fake.dataverse["activitymimeattachments"], filename="agenda.txt")
    del fake.dataverse["activitymimeattachments"][agenda["activitymimeattachmentid"]]

    second, executed, baseline = _round(connection, baseline)

    assert _ops(second) == {
        ("contact", "outlook", "update"),
        ("appointment", "crm", "delete"),
        ("attachment", "outlook", "delete"),
    }
    assert [n.code for n in second.notices] == ["conflict_resolved"]
    assert executed.complete, executed.not_done
    last, _, _ = _round(connection, baseline)
    assert last.is_empty, last.render()
    assert _one(fake.graph["contacts"], givenName="Ann")["jobTitle"] == "Head of Buying"
    assert [a["subject"] for a in fake.dataverse["appointments"].values()] == ["Review"]
    assert fake.attachments[review["id"]] == {}


def _contacts(fake: FakeMicrosoft, count: int) -> None:
    for i in range(count):
        fake.add(
            "dataverse", "contacts", {"firstname": f"P{i:02d}", "emailaddress1": f"p{i}@x.org"}
        )


def _batches(fake: FakeMicrosoft) -> int:
    return fake.log.count(("POST", "/v1.0/$batch"))


def test_graph_requests_go_in_json_batches_of_at_most_20(fake: FakeMicrosoft) -> None:
    _contacts(fake, 45)
    connection = _connection(fake, [], graph_concurrency=1)

    plan, executed, _ = _round(connection, None)

    assert len(plan.ops) == 45
    assert executed.complete
    assert _batches(fake) == 3  # 20 + 20 + 5, one at a time
    assert len(fake.graph["contacts"]) == 45
    assert fake.log.count(("POST", "/v1.0/me/contacts")) == 45


def test_the_batch_size_can_be_smaller(fake: FakeMicrosoft) -> None:
    _contacts(fake, 12)

    _round(_connection(fake, [], batch_size=5, graph_concurrency=1), None)

    assert _batches(fake) == 3  # 5 + 5 + 2


def test_retry_after_is_honoured_inside_a_batch(fake: FakeMicrosoft) -> None:
    _contacts(fake, 3)
    sleeps: list[float] = []
    fake.throttle(lambda m, path: (m, path) == ("POST", "/v1.0/me/contacts"), retry_after="7")

    _, executed, _ = _round(_connection(fake, sleeps), None)

    assert executed.complete
    assert sleeps == [7.0]
    assert _batches(fake) == 2  # the throttled request alone in a second batch
    assert len(fake.graph["contacts"]) == 3


def test_retries_are_bounded_and_a_throttled_op_is_not_done(fake: FakeMicrosoft) -> None:
    fake.add("dataverse", "tasks", {"subject": "Call back"})
    sleeps: list[float] = []
    connection = _connection(fake, sleeps, max_retries=2)
    fake.throttle(lambda m, path: m == "POST" and "/tasks" in path, times=10, retry_after="4")

    _, executed, _ = _round(connection, None)

    [missed] = executed.not_done
    assert missed.op.domain is Domain.TASK
    assert "429" in missed.error
    assert sleeps == [4.0, 4.0]  # two retries, then it gives up
    assert fake.graph["tasks"] == {}


def test_a_503_is_retried_too(fake: FakeMicrosoft) -> None:
    fake.add("graph", "tasks", {"title": "Call back", "categories": [TRACKED_CATEGORY]})
    sleeps: list[float] = []
    fake.fail(lambda m, path: (m, path) == ("POST", "/api/data/v9.2/tasks"), status=503)

    _, executed, _ = _round(_connection(fake, sleeps), None)

    assert executed.complete
    assert sleeps == [1.0]  # no Retry-After: exponential backoff from 1 second
    assert len(fake.dataverse["tasks"]) == 1


def test_a_failed_op_stops_its_dependants_and_the_rest_is_done(fake: FakeMicrosoft) -> None:
    _crm_appointment(fake, "Review", attachment=True)
    fake.add("dataverse", "contacts", {"firstname": "Ann", "emailaddress1": "ann@x.org"})
    fake.fail(lambda m, path: (m, path) == ("POST", "/v1.0/me/events"), status=500)
    connection = _connection(fake, [])

    plan, executed, baseline = _round(connection, None)

    assert {(o.op.domain, o.op.action) for o in executed.not_done} == {
        (Domain.APPOINTMENT, Action.CREATE),
        (Domain.ATTACHMENT, Action.CREATE),
    }
    reasons = {o.op.domain: o.error for o in executed.not_done}
    assert "500" in reasons[Domain.APPOINTMENT]
    assert "which failed" in reasons[Domain.ATTACHMENT]
    assert [op.domain for op in executed.done] == [Domain.CONTACT]
    assert fake.graph["events"] == {}
    assert len(fake.graph["contacts"]) == 1
    # The baseline advanced for the contact only: the next plan picks the rest up again.
    assert [c.key for c in baseline.outlook.contacts] == [plan.ops[0].key]
    assert baseline.outlook.appointments == ()
    again, executed, baseline = _round(connection, baseline)
    assert _ops(again) == {
        ("appointment", "outlook", "create"),
        ("attachment", "outlook", "create"),
    }
    assert executed.complete
    last, _, _ = _round(connection, baseline)
    assert last.is_empty, last.render()


def test_a_delete_of_what_is_already_gone_is_done(fake: FakeMicrosoft) -> None:
    fake.add("dataverse", "tasks", {"subject": "Call back"})
    connection = _connection(fake, [])
    _, _, baseline = _round(connection, None)
    [row] = fake.dataverse["tasks"]
    del fake.dataverse["tasks"][row]
    outlook, crm = connection.read_outlook(), connection.read_crm()
    plan = crmsync.plan(crm, outlook.snapshot, SETTINGS, baseline, user=USER, now=NOW)
    [todo] = fake.graph["tasks"]
    del fake.graph["tasks"][todo]  # someone deleted it between planning and executing

    executed = connection.execute(plan, crm, outlook.snapshot, graph_ids=outlook.ids)

    assert _ops(plan) == {("task", "outlook", "delete")}
    assert executed.complete


def test_each_service_gets_its_own_token(fake: FakeMicrosoft) -> None:
    fake.add("dataverse", "tasks", {"subject": "Call back"})
    connection = _connection(fake, [])
    connection.graph_token = lambda: "wrong"

    with pytest.raises(httpx.HTTPError, match="401"):
        connection.read_outlook()
    assert connection.read_crm().tasks


def test_a_record_created_in_the_crm_is_in_the_baseline_under_the_id_the_crm_gave_it(
    fake: FakeMicrosoft,
) -> None:
    fake.add(
        "graph",
        "contacts",
        {
            "givenName": "Bob",
            "emailAddresses": [{"address": "b@x.org"}],
            "categories": [TRACKED_CATEGORY],
        },
    )
    connection = _connection(fake, [])
    _, executed, baseline = _round(connection, None)
    [row] = fake.dataverse["contacts"]

    assert [o.new_key for o in executed.outcomes] == [row]
    assert (
        [c.key for c in baseline.crm.contacts]
        == [c.key for c in baseline.outlook.contacts]
        == [row]
    )
    # So a delete right after is seen as one (an Outlook contact delete unlinks the
    # CRM contact), not as a CRM contact to create in Outlook again.
    fake.graph["contacts"].clear()
    plan, executed, _ = _round(connection, baseline)
    assert _ops(plan) == {("contact", "crm", "unlink")}
    assert executed.complete  # an unlink has no request: nothing to send
    assert list(fake.dataverse["contacts"]) == [row]
    assert fake.graph["contacts"] == {}


def test_retry_after_may_be_an_http_date(fake: FakeMicrosoft) -> None:
    fake.add("dataverse", "tasks", {"subject": "Call back"})
    sleeps: list[float] = []
    moment = email.utils.formatdate(time.time() + 30, usegmt=True)
    fake.throttle(lambda m, path: (m, path) == ("GET", "/api/data/v9.2/tasks"), retry_after=moment)

    assert _connection(fake, sleeps).read_crm().tasks

    [waited] = sleeps
    assert 20 < waited <= 30


def test_a_create_answered_with_204_takes_the_id_from_odata_entityid(fake: FakeMicrosoft) -> None:
    fake.representation = False  # the service ignores Prefer: return=representation
    fake.add("graph", "tasks", {"title": "Call back", "categories": [TRACKED_CATEGORY]})
    connection = _connection(fake, [])

    _, executed, baseline = _round(connection, None)

    [row] = fake.dataverse["tasks"]
    assert executed.complete
    assert [o.new_key for o in executed.outcomes] == [row]
    assert [t.key for t in baseline.crm.tasks] == [row]
    assert _round(connection, baseline)[0].is_empty


def test_a_failed_link_leaves_the_pair_out_of_the_baseline(fake: FakeMicrosoft) -> None:
    fake.add("dataverse", "contacts", {"firstname": "Ann", "emailaddress1": "ann@x.org"})
    outlook_id = fake.add(
        "graph",
        "contacts",
        {
            "givenName": "Ann",
            "emailAddresses": [{"address": "ann@x.org"}],
            "categories": [TRACKED_CATEGORY],
        },
    )
    fake.fail(lambda m, path: (m, path) == ("PATCH", f"/v1.0/me/contacts/{outlook_id}"))
    connection = _connection(fake, [])

    plan, executed, baseline = _round(connection, None)

    assert _ops(plan) == {("contact", "outlook", "link")}
    assert not executed.complete
    assert baseline.crm.contacts == baseline.outlook.contacts == ()
    again, executed, baseline = _round(connection, baseline)
    assert _ops(again) == {("contact", "outlook", "link")}  # linked again, never unlinked
    assert executed.complete


def _regarding_link(fake: FakeMicrosoft) -> list[str]:
    [task] = fake.graph["tasks"].values()
    links = task.get("linkedResources", [])
    return [link["externalId"] for link in links if link.get("displayName") == "Regarding"]


def test_a_to_do_task_s_regarding_record_changes_through_its_linked_resource(
    fake: FakeMicrosoft,
) -> None:
    """A To Do task holds no extended properties: regarding is a linked resource of its own."""
    row = fake.add(
        "dataverse",
        "tasks",
        {
            "subject": "Call back",
            "scheduledend": LATER.isoformat(),
            "_regardingobjectid_value": "acc-1",
        },
    )
    connection = _connection(fake, [])
    _, executed, baseline = _round(connection, None)
    assert executed.not_done == ()
    assert _regarding_link(fake) == ["acc-1"]

    fake.dataverse["tasks"][row]["_regardingobjectid_value"] = "acc-2"
    plan, executed, baseline = _round(connection, baseline)
    assert _ops(plan) == {("task", "outlook", "update")}
    assert executed.not_done == ()
    assert _regarding_link(fake) == ["acc-2"]  # the link's id was looked up, then patched

    fake.dataverse["tasks"][row]["_regardingobjectid_value"] = None
    plan, executed, baseline = _round(connection, baseline)
    assert executed.not_done == ()
    assert _regarding_link(fake) == []
    again, _, _ = _round(connection, baseline)
    assert again.is_empty, again.render()


def test_a_plan_made_from_partial_snapshots_runs_with_its_baseline(fake: FakeMicrosoft) -> None:
    key = fake.add("dataverse", "contacts", {"firstname": "Ann", "emailaddress1": "ann@x.org"})
    connection = _connection(fake, [])
    _, _, baseline = _round(connection, None)
    # A delta round: the CRM delivers nothing, Outlook the changed contact only.
    [contact] = connection.read_outlook().snapshot.contacts
    crm = crmsync.CrmSnapshot(complete=False)
    outlook = crmsync.OutlookSnapshot(
        contacts=[attrs.evolve(contact, job_title="Buyer")], complete=False
    )
    plan = crmsync.plan(crm, outlook, SETTINGS, baseline, user=USER, now=NOW)
    assert _ops(plan) == {("contact", "crm", "update")}

    executed = connection.execute(plan, crm, outlook, baseline=baseline)

    assert executed.complete
    assert fake.dataverse["contacts"][key]["jobtitle"] == "Buyer"


def test_a_percent_complete_to_do_cannot_hold_is_kept_round_after_round(
    fake: FakeMicrosoft,
) -> None:
    key = fake.add("dataverse", "tasks", {"subject": "Call back"})
    connection = _connection(fake, [])
    _, _, baseline = _round(connection, None)
    fake.dataverse["tasks"][key]["percentcomplete"] = 50

    second, _, baseline = _round(connection, baseline)
    third, _, baseline = _round(connection, baseline)

    assert _ops(second) == {("task", "outlook", "update")}
    assert third.is_empty
    assert fake.dataverse["tasks"][key]["percentcomplete"] == 50
    # Completed in To Do: 100 travels to the CRM.
    [task] = fake.graph["tasks"].values()
    task["status"] = "completed"
    fourth, _, baseline = _round(connection, baseline)
    assert [c.new for op in fourth.ops for c in op.changes if c.field == "percent_complete"] == [
        100
    ]


def test_a_failed_link_back_of_a_crm_create_never_creates_the_task_again(
    fake: FakeMicrosoft,
) -> None:
    fake.add("graph", "tasks", {"title": "Call back", "categories": [TRACKED_CATEGORY]})
    fake.fail(lambda m, path: m == "POST" and path.endswith("/linkedResources"))
    connection = _connection(fake, [])

    first, executed, baseline = _round(connection, None)
    again, _, baseline = _round(connection, baseline)
    third, _, _ = _round(connection, baseline)

    assert _ops(first) == {("task", "crm", "create")}
    assert not executed.complete
    # Created in the CRM, not linked back: reported on both sides, never created again.
    assert again.ops == third.ops == ()
    assert {(n.code, n.side.value) for n in again.notices} == {
        ("unlinked", "crm"),
        ("unlinked", "outlook"),
    }
    assert len(fake.dataverse["tasks"]) == len(fake.graph["tasks"]) == 1


def test_a_failed_link_back_of_a_crm_create_links_a_contact_by_natural_key(
    fake: FakeMicrosoft,
) -> None:
    outlook_id = fake.add(
        "graph",
        "contacts",
        {
            "givenName": "Bob",
            "emailAddresses": [{"address": "bob@x.org"}],
            "categories": [TRACKED_CATEGORY],
        },
    )
    fake.fail(lambda m, path: (m, path) == ("PATCH", f"/v1.0/me/contacts/{outlook_id}"))
    connection = _connection(fake, [])

    _, executed, baseline = _round(connection, None)
    assert not executed.complete
    again, executed, baseline = _round(connection, baseline)
    third, _, _ = _round(connection, baseline)

    assert _ops(again) == {("contact", "outlook", "link")}
    assert executed.complete
    assert third.is_empty
    assert len(fake.dataverse["contacts"]) == len(fake.graph["contacts"]) == 1


def test_a_regarding_record_from_outlook_is_never_erased_and_is_reported_each_round(
    fake: FakeMicrosoft,
) -> None:
    regarding = {"applicationName": LINK_APPLICATION, "displayName": REGARDING_LINK}
    fake.add(
        "graph",
        "tasks",
        {
            "title": "Call back",
            "categories": [TRACKED_CATEGORY],
            "linkedResources": [regarding | {"externalId": "acc-1"}],
        },
    )
    connection = _connection(fake, [])

    first, executed, baseline = _round(connection, None)
    assert _ops(first) == {("task", "crm", "create")}
    for _ in range(2):
        again, executed, baseline = _round(connection, baseline)
        # The bind needs the regarding record's table, which Outlook does not hold:
        # the op is not done, says why, and nothing writes the regarding away.
        assert [(op.side.value, op.action.value) for op in again.ops] == [("crm", "update")]
        [outcome] = executed.not_done
        assert "cannot be carried out" in outcome.error
    assert len(fake.dataverse["tasks"]) == len(fake.graph["tasks"]) == 1
    assert _regarding_link(fake) == ["acc-1"]


def _large_crm_attachment(fake: FakeMicrosoft, key: str, size: int) -> bytes:
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    fake.add(
        "dataverse",
        "activitymimeattachments",
        {
            "filename": "slides.pdf",
            "mimetype": "application/pdf",
            "objecttypecode": "appointment",
            "body": base64.b64encode(data).decode(),
            "objectid_appointment@odata.bind": f"/appointments({key})",
        },
    )
    return data


def test_an_attachment_from_3_mb_goes_through_an_upload_session_in_ranged_puts(
    fake: FakeMicrosoft,
) -> None:
    """Graph: "If the file size is between 3 MB and 150 MB, create an upload session"."""
    key = _crm_appointment(fake, "Review")
    data = _large_crm_attachment(fake, key, 4 * 1024 * 1024 + 123)
    connection = _connection(fake, [])

    _plan, executed, baseline = _round(connection, None)

    assert executed.complete, [o.error for o in executed.not_done]
    [event] = fake.graph["events"]
    [held] = fake.attachments[event].values()
    assert base64.b64decode(held["contentBytes"]) == data
    assert held["name"] == "slides.pdf"
    assert ("POST", f"/v1.0/me/events/{event}/attachments") not in fake.log
    assert ("POST", f"/v1.0/me/events/{event}/attachments/createUploadSession") in fake.log
    puts = [i for i, (method, _path) in enumerate(fake.log) if method == "PUT"]
    assert len(puts) == 2  # 10 x 320 KiB, then the rest
    # The uploadUrl is pre-authenticated: the caller's token never goes with the bytes.
    assert all(fake.authorizations[i] == "" for i in puts)
    again, _executed, _baseline = _round(connection, baseline)
    assert again.is_empty


def test_an_attachment_under_3_mb_is_still_one_post(fake: FakeMicrosoft) -> None:
    """Graph: "If the file size is under 3 MB, do a single POST on the attachments"."""
    key = _crm_appointment(fake, "Review")
    data = _large_crm_attachment(fake, key, 3 * 1024 * 1024 - 1)
    connection = _connection(fake, [])

    _plan, executed, _baseline = _round(connection, None)

    assert executed.complete, [o.error for o in executed.not_done]
    [event] = fake.graph["events"]
    [held] = fake.attachments[event].values()
    assert base64.b64decode(held["contentBytes"]) == data
    assert not any(method == "PUT" for method, _path in fake.log)


def test_an_all_day_crm_appointment_is_created_in_graph_at_midnight(fake: FakeMicrosoft) -> None:
    """Graph refuses an `isAllDay` event whose start and end are not midnight in one zone."""
    midnight = dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC)  # a Pacific user's midnight
    fake.add(
        "dataverse",
        "appointments",
        {
            "subject": "Offsite",
            "scheduledstart": midnight.isoformat(),
            "scheduledend": (midnight + dt.timedelta(days=1)).isoformat(),
            "isalldayevent": True,
            "appointment_activity_parties": [organizer_party(USER)],
        },
    )
    connection = _connection(fake, [])

    _plan, executed, baseline = _round(connection, None)

    assert executed.complete, [o.error for o in executed.not_done]
    [event] = fake.graph["events"].values()
    assert event["start"]["dateTime"].startswith("2026-11-27T00:00")
    again, _executed, _baseline = _round(connection, baseline)
    assert again.is_empty
