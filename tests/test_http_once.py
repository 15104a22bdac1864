"""Tests for crmsync.http as a service: every op takes effect once, and no update is lost.

The services are `crmsync.testing`, which behaves as Microsoft documents
what these tests rely on: client-chosen Dataverse ids refused when they exist,
Graph event `transactionId`, etags that change on every write, `If-Match` and
412, `Prefer: return=representation`, and writes that commit but whose answer
is lost (`FakeMicrosoft.lose`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

import crmsync
from crmsync import Baseline, Domain, Plan, Settings, Severity
from crmsync.adapters.graph import LINK_APPLICATION, TASK_LINK, TRACKED_CATEGORY
from crmsync.adapters.requests import crm_id_for
from crmsync.http import Connection, Executed
from crmsync.testing import (
    API,
    OWNER,
    FakeMicrosoft,
    organizer_party,
)
from support import fake_connection

USER = "ann@contoso.com"
NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=2)
SETTINGS = Settings()
CRM_TASKS = "/api/data/v9.2/tasks"


@pytest.fixture
def fake() -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft(page_size=2) as server:
        yield server


@pytest.fixture
def connection(fake: FakeMicrosoft) -> Iterator[Connection]:
    with fake_connection(fake) as made:
        yield made


def _read(connection: Connection, baseline: Baseline | None) -> tuple[Any, Any]:
    """The documented service loop's read: the CRM first, then Outlook with it."""
    crm = connection.read_dataverse()
    outlook = connection.read_outlook(baseline, crm=crm.snapshot)
    return crm, outlook


def _plan(connection: Connection, baseline: Baseline | None) -> tuple[Plan, Any, Any]:
    crm, outlook = _read(connection, baseline)
    plan = crmsync.plan(crm.snapshot, outlook.snapshot, SETTINGS, baseline, user=USER, now=NOW)
    return plan, crm, outlook


def _execute(connection: Connection, plan: Plan, crm: Any, outlook: Any) -> Executed:
    return connection.execute(
        plan,
        crm.snapshot,
        outlook.snapshot,
        graph_ids=outlook.ids,
        graph_etags=outlook.etags,
        dataverse_etags=crm.etags,
    )


def _round(connection: Connection, baseline: Baseline | None) -> tuple[Plan, Executed, Baseline]:
    plan, crm, outlook = _plan(connection, baseline)
    executed = _execute(connection, plan, crm, outlook)
    return plan, executed, executed.baseline(baseline)


def _ops(plan: Plan) -> set[tuple[str, str, str]]:
    return {(op.domain.value, op.side.value, op.action.value) for op in plan.ops}


def _todo(fake: FakeMicrosoft, title: str = "Call back") -> str:
    return fake.add("graph", "tasks", {"title": title, "categories": [TRACKED_CATEGORY]})


def _task_links(item: dict[str, Any]) -> list[str]:
    return [
        link["externalId"]
        for link in item.get("linkedResources", [])
        if link.get("displayName") == TASK_LINK
    ]


# -- every op once ---------------------------------------------------------------


def test_a_crm_create_whose_answer_was_lost_is_linked_on_the_next_read_never_made_twice(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """Every op takes effect at most once: Dataverse commits POST /tasks, the answer is lost."""
    todo = _todo(fake)
    fake.lose(lambda m, path: (m, path) == ("POST", CRM_TASKS))

    first, executed, baseline = _round(connection, None)
    assert _ops(first) == {("task", "crm", "create")}
    assert not executed.complete  # the answer never came: not done, the baseline waits
    assert list(fake.dataverse["tasks"]) == [crm_id_for(Domain.TASK, todo)]

    again, executed, baseline = _round(connection, baseline)
    last, _, _ = _round(connection, baseline)

    assert again.ops == last.ops == (), again.render()
    assert len(fake.dataverse["tasks"]) == len(fake.graph["tasks"]) == 1
    assert [t.key for t in baseline.crm.tasks] == [t.key for t in baseline.outlook.tasks]


def test_a_crm_create_sent_again_is_refused_by_the_service_and_counted_as_done(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """A second attempt of one create: 412, the row exists, read back, done and linked."""
    fake.add("graph", "contacts", {"givenName": "Bob", "categories": [TRACKED_CATEGORY]})
    fake.lose(lambda m, path: (m, path) == ("POST", "/api/data/v9.2/contacts"))
    plan, crm, outlook = _plan(connection, None)

    lost = _execute(connection, plan, crm, outlook)
    retried = _execute(connection, plan, crm, outlook)  # the application tries once more

    assert not lost.complete
    assert retried.complete, retried.not_done
    [row] = fake.dataverse["contacts"]
    assert [o.new_key for o in retried.outcomes] == [row]
    assert fake.log.count(("POST", "/api/data/v9.2/contacts")) == 2
    assert _round(connection, retried.baseline(None))[0].is_empty


def test_a_graph_event_create_sent_again_makes_one_event(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """Every op takes effect at most once: the event's transactionId is the same on every try."""
    fake.add(
        "dataverse",
        "appointments",
        {
            "subject": "Review",
            "scheduledstart": LATER.isoformat(),
            "scheduledend": (LATER + dt.timedelta(hours=1)).isoformat(),
            "appointment_activity_parties": [organizer_party(USER)],
        },
    )
    fake.lose(lambda m, path: (m, path) == ("POST", "/v1.0/me/events"))
    plan, crm, outlook = _plan(connection, None)

    lost = _execute(connection, plan, crm, outlook)
    retried = _execute(connection, plan, crm, outlook)

    assert not lost.complete
    assert retried.complete, retried.not_done
    assert len(fake.graph["events"]) == 1
    assert _round(connection, retried.baseline(None))[0].is_empty


def test_an_outlook_create_whose_answer_was_lost_carries_its_link_and_is_paired_next_round(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """Contacts and To Do tasks created in Outlook carry the CRM link in the create body."""
    fake.add("dataverse", "tasks", {"subject": "Send the proposal"})
    fake.add("dataverse", "contacts", {"firstname": "Ann", "lastname": "Lee"})
    fake.lose(lambda m, path: m == "POST" and path.endswith("/tasks") and "/v1.0" in path)
    fake.lose(lambda m, path: (m, path) == ("POST", "/v1.0/me/contacts"))

    _, executed, baseline = _round(connection, None)
    again, _, _ = _round(connection, baseline)

    assert not executed.complete
    assert again.ops == (), again.render()
    assert len(fake.graph["tasks"]) == len(fake.graph["contacts"]) == 1


# -- no lost update ---------------------------------------------------------------


def _linked_task(fake: FakeMicrosoft, connection: Connection) -> tuple[str, str, Baseline]:
    """A task linked on both sides; (CRM row id, To Do task id, baseline)."""
    row = fake.add("dataverse", "tasks", {"subject": "Call back"})
    _, executed, baseline = _round(connection, None)
    assert executed.complete
    [todo] = fake.graph["tasks"]
    return row, todo, baseline


def test_an_outlook_edit_between_read_and_write_is_never_overwritten(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """No lost update: the Graph PATCH carries the etag read and is refused with 412."""
    row, todo, baseline = _linked_task(fake, connection)
    fake.edit("dataverse", "tasks", row, subject="Call back today")
    plan, crm, outlook = _plan(connection, baseline)
    fake.edit("graph", "tasks", todo, title="Call back on Monday")  # typed after the read

    executed = _execute(connection, plan, crm, outlook)

    [outcome] = executed.not_done
    assert outcome.changed_since_read
    assert "412" in outcome.error
    assert fake.graph["tasks"][todo]["title"] == "Call back on Monday"
    # The baseline does not take the overwritten value: the next plan sees both edits.
    baseline = executed.baseline(baseline)
    again, _, _ = _round(connection, baseline)
    assert [n.code for n in again.notices] == ["conflict_resolved"]


def test_a_crm_edit_between_read_and_write_is_never_overwritten(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """No lost update: the Dataverse PATCH carries the etag read, not `*`."""
    row, todo, baseline = _linked_task(fake, connection)
    fake.edit("graph", "tasks", todo, title="Call back today")
    plan, crm, outlook = _plan(connection, baseline)
    fake.edit("dataverse", "tasks", row, subject="Call back on Monday")

    executed = _execute(connection, plan, crm, outlook)

    [outcome] = executed.not_done
    assert outcome.changed_since_read
    assert fake.dataverse["tasks"][row]["subject"] == "Call back on Monday"


def test_a_delete_of_a_record_edited_since_the_read_is_refused(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """No lost update: a DELETE carries the etag too, so an edit made since survives it."""
    row, todo, baseline = _linked_task(fake, connection)
    del fake.dataverse["tasks"][row]
    plan, crm, outlook = _plan(connection, baseline)
    assert _ops(plan) == {("task", "outlook", "delete")}
    fake.edit("graph", "tasks", todo, title="Call back, it matters")

    executed = _execute(connection, plan, crm, outlook)

    assert [o.changed_since_read for o in executed.not_done] == [True]
    assert todo in fake.graph["tasks"]
    # Next round: the edit wins over the delete and the task is made again in the CRM.
    again, executed, _ = _round(connection, executed.baseline(baseline))
    assert _ops(again) == {("task", "crm", "create")}
    assert executed.complete


def test_a_write_without_etags_behaves_as_before(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """Applications whose snapshots carry no etags: unconditional Graph writes, `If-Match: *`."""
    row, todo, baseline = _linked_task(fake, connection)
    fake.edit("dataverse", "tasks", row, subject="Call back today")
    plan, crm, outlook = _plan(connection, baseline)
    fake.edit("graph", "tasks", todo, title="Call back on Monday")

    executed = connection.execute(plan, crm.snapshot, outlook.snapshot, graph_ids=outlook.ids)

    assert executed.complete
    assert fake.graph["tasks"][todo]["title"] == "Call back today"


# -- server-set values ---------------------------------------------------------------


def test_the_baseline_holds_the_owner_dataverse_set_on_create(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """Server-set values are not user changes: the baseline holds the row as the service does."""
    _todo(fake)

    _, executed, baseline = _round(connection, None)

    assert executed.complete
    assert [t.owner for t in baseline.crm.tasks] == [OWNER]


def test_the_owner_is_read_back_when_the_service_answers_a_create_with_204(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    fake.representation = False
    _todo(fake)

    _, executed, baseline = _round(connection, None)

    assert executed.complete
    assert [t.owner for t in baseline.crm.tasks] == [OWNER]
    assert ("GET", f"{CRM_TASKS}({baseline.crm.tasks[0].key})") in fake.log


# -- To Do relink ---------------------------------------------------------------------


def _edited_while_its_row_is_deleted(
    fake: FakeMicrosoft, connection: Connection, todo: str, row: str, baseline: Baseline
) -> Baseline:
    """One round after a To Do task is edited and its CRM row deleted: the task is made
    again in the CRM, done, and linked to the new row alone."""
    fake.edit("graph", "tasks", todo, title="Call back, it matters")
    del fake.dataverse["tasks"][row]

    plan, executed, baseline = _round(connection, baseline)

    assert _ops(plan) == {("task", "crm", "create")}
    assert executed.complete, executed.not_done
    [new_row] = fake.dataverse["tasks"]
    assert _task_links(fake.graph["tasks"][todo]) == [new_row]
    return baseline


def test_a_to_do_task_edited_while_its_crm_row_is_deleted_is_relinked_once_and_settles(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """The relink replaces the stale link; the next rounds are quiet, with no data loss."""
    row, todo, baseline = _linked_task(fake, connection)
    baseline = _edited_while_its_row_is_deleted(fake, connection, todo, row, baseline)
    for _ in range(3):
        again, _, baseline = _round(connection, baseline)
        assert again.ops == (), again.render()
        assert not [n for n in again.notices if n.severity is Severity.DATA_LOSS]
    assert len(fake.graph["tasks"]) == len(fake.dataverse["tasks"]) == 1


def _two_links(fake: FakeMicrosoft, first: str, second: str) -> str:
    link = {"applicationName": LINK_APPLICATION, "displayName": TASK_LINK}
    return fake.add(
        "graph",
        "tasks",
        {
            "title": "Call back",
            "categories": [TRACKED_CATEGORY],
            "linkedResources": [link | {"externalId": first}, link | {"externalId": second}],
        },
    )


def test_a_to_do_task_with_two_crm_links_is_read_by_the_one_that_names_a_live_row(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    live = fake.add("dataverse", "tasks", {"subject": "Call back"})
    _two_links(fake, "00000000-0000-4000-8000-00000000dead", live)

    _, outlook = _read(connection, None)

    assert [t.key for t in outlook.snapshot.tasks] == [live]


def test_a_to_do_task_linked_to_two_live_rows_is_left_alone_with_a_notice(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    one = fake.add("dataverse", "tasks", {"subject": "Call back"})
    two = fake.add("dataverse", "tasks", {"subject": "Call back"})
    _two_links(fake, one, two)

    plan, _, _ = _plan(connection, None)

    assert "not_tracked" in {n.code for n in plan.notices if n.domain is Domain.TASK}
    assert not [op for op in plan.ops if op.side.value == "crm"]


def test_a_delete_inside_a_batch_carries_its_if_match(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """A bodiless request in a $batch sends its headers too: the edited item survives."""
    for subject in ("One", "Two"):
        fake.add("dataverse", "tasks", {"subject": subject})
    _, executed, baseline = _round(connection, None)
    assert executed.complete
    fake.dataverse["tasks"].clear()
    plan, crm, outlook = _plan(connection, baseline)
    edited = next(i for i, t in fake.graph["tasks"].items() if t["title"] == "One")
    fake.edit("graph", "tasks", edited, title="One, still wanted")

    executed = _execute(connection, plan, crm, outlook)

    assert fake.log.count(("POST", "/v1.0/$batch")) == 2  # the first round's creates, these
    assert [o.changed_since_read for o in executed.not_done] == [True]
    assert list(fake.graph["tasks"]) == [edited]


def test_a_batch_of_outlook_creates_whose_answer_was_lost_is_not_made_again(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """Commit-then-lose inside $batch: each created item carries its CRM link."""
    for name in ("Ann", "Bob", "Cy"):
        fake.add("dataverse", "contacts", {"firstname": name, "lastname": "Lee"})
    fake.lose(lambda m, path: (m, path) == ("POST", "/v1.0/$batch"))

    _, executed, baseline = _round(connection, None)
    again, _, _ = _round(connection, baseline)

    assert executed.done == ()
    assert again.ops == (), again.render()
    assert len(fake.graph["contacts"]) == 3


def _paired_after_a_lost_answer(
    fake: FakeMicrosoft, connection: Connection
) -> tuple[str, str, Baseline]:
    """A To Do task whose CRM copy's answer was lost, paired by resolve_links: (task, row, base)."""
    todo = _todo(fake)
    fake.lose(lambda m, path: (m, path) == ("POST", CRM_TASKS))
    _, _, baseline = _round(connection, None)
    again, _, baseline = _round(connection, baseline)
    assert again.ops == ()
    assert _task_links(fake.graph["tasks"][todo]) == []  # paired, but no link on the task
    [row] = fake.dataverse["tasks"]
    return todo, row, baseline


def test_a_crm_delete_of_a_task_paired_after_a_lost_answer_deletes_it_in_outlook(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """The pair keeps its derived key once in the baseline: a delete is a delete, not a new task."""
    _todo_id, row, baseline = _paired_after_a_lost_answer(fake, connection)
    del fake.dataverse["tasks"][row]

    plan, executed, baseline = _round(connection, baseline)

    assert _ops(plan) == {("task", "outlook", "delete")}
    assert executed.complete
    assert fake.graph["tasks"] == fake.dataverse["tasks"] == {}
    assert _round(connection, baseline)[0].is_empty


def test_a_task_paired_after_a_lost_answer_relinks_when_its_row_is_deleted(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """Made again in the CRM, the task gets its first link; nothing to replace is no failure."""
    todo, row, baseline = _paired_after_a_lost_answer(fake, connection)
    baseline = _edited_while_its_row_is_deleted(fake, connection, todo, row, baseline)
    for _ in range(2):
        again, _, baseline = _round(connection, baseline)
        assert again.ops == again.notices == (), again.render()


def test_a_paired_task_made_again_whose_answer_is_lost_is_never_made_twice(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """The row made again is derived from the derived key: the next read follows the chain.

    Found by the soak: the read stopped at the first derived key (the deleted row the
    baseline pairs), so the new row looked new in the CRM and was copied to To Do as a
    second task linked to it, and every later read refused the mailbox (one key twice).
    """
    todo, row, baseline = _paired_after_a_lost_answer(fake, connection)
    fake.edit("graph", "tasks", todo, title="Call back, it matters")
    del fake.dataverse["tasks"][row]
    fake.lose(lambda m, path: m == "POST" and path.endswith(f"{API}/tasks"))

    plan, executed, baseline = _round(connection, baseline)

    assert _ops(plan) == {("task", "crm", "create")}
    assert not executed.complete  # the answer was lost after the row was made
    for _ in range(3):
        _, _, baseline = _round(connection, baseline)
    assert len(fake.graph["tasks"]) == 1
    assert len(fake.dataverse["tasks"]) == 1
    again, _, _ = _round(connection, baseline)
    assert again.ops == (), again.render()


def test_a_failed_link_back_is_paired_on_the_next_read_by_the_derived_id(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """Created in the CRM, not linked back: the next read pairs them, nothing is made twice."""
    _todo(fake)
    fake.fail(lambda m, path: m == "POST" and path.endswith("/linkedResources"))

    _, executed, baseline = _round(connection, None)
    again, _, baseline = _round(connection, baseline)
    last, _, _ = _round(connection, baseline)

    assert not executed.complete
    # The Outlook item's own key, marked unlinked when the link-back failed, now names no
    # record (the item is keyed by its CRM row): it leaves the baseline, said once.
    [outlook_key] = fake.graph["tasks"]
    assert [(n.code, n.key) for n in again.notices] == [("unlinked_gone", outlook_key)]
    assert again.ops == last.ops == last.notices == (), again.render()
    assert len(fake.dataverse["tasks"]) == len(fake.graph["tasks"]) == 1


# -- a data-loss notice holds its records, not the mailbox -----------------------------


def test_a_mailbox_with_one_data_loss_record_still_syncs_everything_else(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """Hold records, not mailboxes: the held contact waits, the rest of the round is done."""
    one_way = Settings(field_directions={"contact.job_title": crmsync.Direction.TO_OUTLOOK})

    def held_round(baseline: Baseline | None) -> tuple[Plan, Executed, Baseline]:
        crm, outlook = _read(connection, baseline)
        plan = crmsync.plan(crm.snapshot, outlook.snapshot, one_way, baseline, user=USER, now=NOW)
        plan = crmsync.hold(plan, crm.snapshot, outlook.snapshot, baseline)
        executed = _execute(connection, plan, crm, outlook)
        return plan, executed, executed.baseline(baseline)

    lost = fake.add("dataverse", "contacts", {"firstname": "Lost", "emailaddress1": "l@x.org"})
    kept = fake.add("dataverse", "contacts", {"firstname": "Kept", "emailaddress1": "k@x.org"})
    _, _, baseline = held_round(None)
    by_row = {
        p["value"]: item_id
        for item_id, item in fake.graph["contacts"].items()
        for p in item.get("singleValueExtendedProperties", [])
    }
    # A CRM delete over an Outlook edit that cannot travel (to_outlook): data loss.
    del fake.dataverse["contacts"][lost]
    fake.edit("graph", "contacts", by_row[lost], jobTitle="Buyer")
    fake.edit("dataverse", "contacts", kept, jobtitle="Manager")
    _todo(fake, "Call Kept")

    plan, executed, baseline = held_round(baseline)

    assert plan.data_loss_records == {(Domain.CONTACT, lost)}
    assert executed.complete
    assert _ops(plan) == {("contact", "outlook", "update"), ("task", "crm", "create")}
    assert fake.graph["contacts"][by_row[lost]]["jobTitle"] == "Buyer"  # not deleted
    assert fake.graph["contacts"][by_row[kept]]["jobTitle"] == "Manager"
    assert [t["subject"] for t in fake.dataverse["tasks"].values()] == ["Call Kept"]
    # The held contact stays pending: the same notice every round, nothing else to do.
    again, _, _ = held_round(baseline)
    assert again.data_loss_records == {(Domain.CONTACT, lost)}
    assert again.ops == ()
