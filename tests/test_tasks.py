"""Tests for crmsync.tasks: assigned tasks, recurring tasks, due dates, status, deletes."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmsync import (
    Action,
    Baseline,
    CrmSnapshot,
    OutlookSnapshot,
    Recurrence,
    Settings,
    SettingsError,
    Severity,
    Side,
    Task,
    TaskStatus,
    strategies,
)
from support import NOW, USER, codes, converge, ops, plan

START = NOW + dt.timedelta(days=1)
DUE = NOW + dt.timedelta(days=3)
ASSIGNED_ON = Settings(sync_assigned_tasks=True, organization_domains=frozenset({"contoso.com"}))


def snapshots(crm: list[Task], outlook: list[Task]) -> tuple[CrmSnapshot, OutlookSnapshot]:
    return CrmSnapshot(tasks=crm), OutlookSnapshot(tasks=outlook)


def linked(*records: Task, settings: Settings | None = None) -> Baseline:
    crm, outlook = snapshots(list(records), list(records))
    return Baseline(crm=crm, outlook=outlook, settings=settings or Settings())


def assigned(to: tuple[str, ...] = ("lee@contoso.com",), by: str = USER) -> Task:
    return Task(key="t", subject="Slides", assigned_by=by, assigned_to=to)


def test_a_plain_outlook_task_syncs_by_default() -> None:
    task = Task(key="t", subject="Call back", due=DUE)
    [op] = plan(*snapshots([], [task])).ops
    assert (op.action, op.side, op.record.owner) == (Action.CREATE, Side.CRM, USER)
    converge(*snapshots([], [task]))


def test_status_priority_and_regarding_have_a_fixed_direction() -> None:
    for field in ("status", "priority", "regarding"):
        with pytest.raises(SettingsError, match="fixed direction"):
            Settings(field_directions={f"task.{field}": "none"})
    Settings(field_directions={"task.due": "to_crm", "task.percent_complete": "none"})


def test_tasks_assigned_in_outlook_do_not_sync_when_the_setting_is_off() -> None:
    planned = plan(*snapshots([], [assigned()]))
    assert planned.is_empty
    assert codes(planned) == ["assigned_task_sync_disabled"]


def test_tasks_assigned_in_outlook_sync_when_the_setting_is_on() -> None:
    planned = plan(*snapshots([], [assigned()]), ASSIGNED_ON)
    assert ops(planned) == [("task", "crm", "t", "create")]


def test_a_task_assigned_to_several_recipients_never_syncs() -> None:
    planned = plan(*snapshots([], [assigned(("a@contoso.com", "b@contoso.com"))]), ASSIGNED_ON)
    assert planned.is_empty
    assert codes(planned) == ["task_multiple_recipients"]


@pytest.mark.parametrize(
    ("to", "by"),
    [(("lee@fabrikam.com",), USER), (("lee@contoso.com",), "boss@fabrikam.com")],
    ids=["assignee_outside", "assigner_outside"],
)
def test_a_task_assigned_across_organizations_never_syncs(to: tuple[str, ...], by: str) -> None:
    planned = plan(*snapshots([], [assigned(to, by)]), ASSIGNED_ON)
    assert planned.is_empty
    assert codes(planned) == ["task_assignee_outside_organization"]


def test_organization_domains_compare_case_insensitively() -> None:
    planned = plan(*snapshots([], [assigned(("Lee@CONTOSO.com",))]), ASSIGNED_ON)
    assert ops(planned) == [("task", "crm", "t", "create")]


def test_empty_organization_domains_means_no_one_is_inside() -> None:
    planned = plan(*snapshots([], [assigned()]), Settings(sync_assigned_tasks=True))
    assert codes(planned) == ["task_assignee_outside_organization"]


def test_recurring_tasks_never_sync_whatever_the_setting() -> None:
    weekly = Recurrence(pattern="weekly", start_date=dt.date(2026, 11, 2), days_of_week=["friday"])
    for settings in (Settings(), ASSIGNED_ON):
        planned = plan(*snapshots([Task(key="t", recurrence=weekly)], []), settings)
        assert planned.is_empty
        assert codes(planned) == ["recurring_task_unsupported"]


def test_a_refused_task_changes_nothing_else_in_the_plan() -> None:
    plain = Task(key="p", subject="Plain")
    alone = plan(*snapshots([], [plain]))
    with_refused = plan(*snapshots([], [plain, attrs.evolve(assigned(), key="r")]))
    assert alone.ops == with_refused.ops


def test_a_task_with_a_start_and_no_due_date_takes_its_due_date_from_its_start() -> None:
    task = Task(key="t", start=START)
    [op] = plan(*snapshots([], [task])).ops
    assert op.record.due == START
    converge(*snapshots([], [task]))


def test_filling_in_a_due_date_from_the_start_never_churns() -> None:
    outlook = Task(key="t", start=START)
    crm = Task(key="t", start=START, due=START)
    assert plan(*snapshots([crm], [outlook])).is_empty
    assert plan(*snapshots([crm], [outlook]), None, linked(crm)).is_empty


def test_completion_travels_with_100_percent_and_the_completed_date() -> None:
    task = Task(key="t", percent_complete=40, status="in_progress")
    done = attrs.evolve(task, status="completed", percent_complete=100, completed=NOW)
    [op] = plan(*snapshots([task], [done]), None, linked(task)).ops
    assert {(c.field, c.new) for c in op.changes} == {
        ("status", TaskStatus.COMPLETED),
        ("percent_complete", 100),
        ("completed", NOW),
    }
    synced = converge(*snapshots([task], [done]), None, linked(task))
    assert synced.crm.tasks[0].status is TaskStatus.COMPLETED


def test_a_task_s_status_and_percent_travel_as_they_are_never_rewritten() -> None:
    """No silent normalization: "not started" at 50 % stays what the user wrote, on both sides."""
    half = Task(key="t", status="not_started", percent_complete=50)
    full = Task(key="u", status="in_progress", percent_complete=100)
    planned = plan(*snapshots([half, full], []))
    created = {op.record.key: op.record for op in planned.ops}
    assert {key: (t.status, t.percent_complete) for key, t in created.items()} == {
        "t": (TaskStatus.NOT_STARTED, 50),
        "u": (TaskStatus.IN_PROGRESS, 100),
    }
    converge(*snapshots([half, full], []))


def test_an_inconsistent_task_is_not_rewritten_when_another_field_travels_to_it() -> None:
    base = Task(key="t", subject="a", status="not_started", percent_complete=50)
    planned = plan(*snapshots([attrs.evolve(base, subject="b")], [base]), None, linked(base))
    [op] = planned.ops
    assert op.side is Side.OUTLOOK
    assert [(c.field, c.new) for c in op.changes] == [("subject", "b")]
    assert codes(planned) == []


def test_an_outlook_delete_deletes_the_crm_task() -> None:
    task = Task(key="t")
    assert ops(plan(*snapshots([task], []), None, linked(task))) == [("task", "crm", "t", "delete")]


def test_a_crm_delete_removes_the_outlook_task_unless_it_is_completed() -> None:
    open_task, done = Task(key="t"), Task(key="t", status="completed", percent_complete=100)
    assert ops(plan(*snapshots([], [open_task]), None, linked(open_task))) == [
        ("task", "outlook", "t", "delete")
    ]
    planned = plan(*snapshots([], [done]), None, linked(done))
    assert ops(planned) == [("task", "outlook", "t", "unlink")]
    assert codes(planned) == ["delete_not_propagated"]


def test_a_task_field_with_direction_none_never_travels() -> None:
    settings = Settings(field_directions={"task.notes": "none"})
    task = Task(key="t", notes="a")
    planned = plan(
        *snapshots([attrs.evolve(task, notes="b")], [task]),
        settings,
        linked(task, settings=settings),
    )
    assert planned.is_empty
    assert codes(planned) == ["field_not_synced"]


def test_status_percent_and_completed_date_resolve_a_conflict_together() -> None:
    # The CRM set 50 % (which means in progress); Outlook set the status back to
    # not started. Status conflicts, and the percentage moves with it: writing 50 %
    # alone would turn Outlook's status to in progress behind the conflict's back.
    base = Task(key="t", status=TaskStatus.DEFERRED)
    crm = attrs.evolve(base, percent_complete=50, status=TaskStatus.IN_PROGRESS)
    outlook = attrs.evolve(base, status=TaskStatus.NOT_STARTED)

    manual = plan(*snapshots([crm], [outlook]), Settings(conflict="manual"), linked(base))
    outlook_wins = plan(
        *snapshots([crm], [outlook]), Settings(conflict="outlook_wins"), linked(base)
    )

    assert manual.ops == ()
    assert codes(manual) == ["conflict", "conflict"]  # status, and percent held with it
    [op] = outlook_wins.ops
    assert op.side is Side.CRM
    assert {c.field: c.new for c in op.changes} == {
        "percent_complete": 0,
        "status": TaskStatus.NOT_STARTED,
    }
    assert codes(outlook_wins) == ["conflict_resolved", "conflict_resolved"]


@given(
    st.lists(strategies.tasks(), max_size=6),
    st.sampled_from(list(Side)),
    st.booleans(),
)
def test_the_refusal_screen_passes_every_task_refusals_would_refuse(
    found: list[Task], side: Side, assigned_on: bool
) -> None:
    from crmsync.policy import SyncInput
    from crmsync.tasks import RULES

    settings = Settings(sync_assigned_tasks=assigned_on, organization_domains={"contoso.com"})
    inp = SyncInput(crm=CrmSnapshot(), outlook=OutlookSnapshot(), settings=settings, now=NOW)
    screened = RULES.refusal_candidates(found, side, inp)
    for task in found:
        if RULES.refusals(task, side, inp):
            assert task in screened


def test_a_start_set_on_one_side_of_a_task_without_due_dates_is_no_conflict() -> None:
    """Neither side changed a due date: the start travels and no overwrite is reported."""
    base = Task(key="t")
    crm, outlook = snapshots([Task(key="t", start=DUE)], [Task(key="t")])
    planned = plan(crm, outlook, Settings(), linked(base))
    assert codes(planned) == []
    assert [op.side for op in planned.ops] == [Side.OUTLOOK]


def test_a_due_date_cleared_while_the_other_side_sets_a_start_is_a_resolved_conflict() -> None:
    """Safety: a task without a due date is due on its start date, so clearing the due date in
    Outlook while the CRM sets a start cannot both hold; the overwrite is recorded."""
    base = Task(key="t", due=DUE)
    crm, outlook = snapshots([Task(key="t", start=DUE, due=DUE)], [Task(key="t")])
    planned = plan(crm, outlook, Settings(), linked(base))
    [notice] = planned.notices
    assert (notice.code, notice.side, notice.key, notice.severity) == (
        "conflict_resolved",
        Side.OUTLOOK,
        "t",
        Severity.WARNING,
    )
    assert notice.message.startswith("Due date changed in Outlook")
    # Beside another notice of the pair (a subject both sides changed), both are kept.
    crm = CrmSnapshot(tasks=[Task(key="t", subject="CRM", start=DUE, due=DUE)])
    outlook = OutlookSnapshot(tasks=[Task(key="t", subject="Outlook")])
    both = plan(crm, outlook, Settings(), linked(base))
    resolved = sorted(n.message[:16] for n in both.notices if n.code == "conflict_resolved")
    assert len(resolved) == 2
    assert "Due date changed" in resolved
