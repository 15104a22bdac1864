"""Tasks: the field map, tasks assigned in Outlook, recurring tasks, due dates, deletes.

Rules (Dynamics 365 documentation):
- "Synchronize tasks that are assigned in Outlook": off by default. Even when
  on, a task assigned to more than one recipient, or across organizations,
  does not sync.
- "Recurring task synchronization is not supported."
- A task with a start and no due date takes its due date from its start, on
  both sides, so a plan never churns on filling it in.
- Status and percent complete stay consistent: 100 % is completed, a task
  with progress is not "not started", and the completed date belongs to a
  completed task.
- An Outlook delete deletes the CRM task; a CRM delete removes the Outlook
  task unless it is completed there.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from crmsync.merge import DomainPolicy, DomainRules, FieldRule, Pair, View
from crmsync.plan import Notice, Severity
from crmsync.policy import SyncInput
from crmsync.records import Domain, Side, Task, TaskStatus
from crmsync.settings import Settings

__all__ = ["FIELDS", "RULES", "TaskRules", "policy"]

FIELDS: tuple[FieldRule, ...] = (
    FieldRule(name="subject", crm="subject", outlook="subject"),
    FieldRule(name="notes", crm="description", outlook="body"),
    FieldRule(name="start", crm="scheduledstart", outlook="startDateTime", label="start date"),
    FieldRule(name="due", crm="scheduledend", outlook="dueDateTime", label="due date"),
    FieldRule(
        name="completed", crm="actualend", outlook="completedDateTime", label="date completed"
    ),
    FieldRule(
        name="percent_complete",
        crm="percentcomplete",
        outlook="percentComplete",
        label="% complete",
    ),
    FieldRule(name="status", crm="statecode/statuscode", outlook="status", fixed=True),
    FieldRule(name="priority", crm="prioritycode", outlook="importance", fixed=True),
    FieldRule(name="regarding", crm="regardingobjectid", outlook="regarding", fixed=True),
)
"""The task field map (Dynamics column ↔ Outlook property)."""

_NAMES = tuple(rule.name for rule in FIELDS)


def _progress(task: Task) -> tuple[TaskStatus, int, Any]:
    """Status, percent and completed date as one consistent triple."""
    if task.status is TaskStatus.COMPLETED or task.percent_complete == 100:
        return TaskStatus.COMPLETED, 100, task.completed
    status = task.status
    if status is TaskStatus.NOT_STARTED and task.percent_complete > 0:
        status = TaskStatus.IN_PROGRESS
    return status, task.percent_complete, None


def consistent(task: Task) -> Task:
    """The task with status, percent complete and completed date agreeing."""
    status, percent, completed = _progress(task)
    if (status, percent, completed) == (task.status, task.percent_complete, task.completed):
        return task
    return attrs.evolve(task, status=status, percent_complete=percent, completed=completed)


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().casefold() if "@" in address else ""


class TaskRules(DomainRules[Task, Task]):
    """The tasks domain, plugged into the shared merge."""

    domain: ClassVar[Domain] = Domain.TASK
    fields: ClassVar[tuple[FieldRule, ...]] = FIELDS
    snapshot_field: ClassVar[str] = "tasks"
    # Writing one of these rewrites the others (50 % means in progress), so a
    # conflict on one is resolved for all three.
    coupled: ClassVar[tuple[frozenset[str], ...]] = (
        frozenset({"status", "percent_complete", "completed"}),
    )

    def _view(self, task: Task) -> View:
        status, percent, completed = _progress(task)
        return {
            "subject": task.subject,
            "notes": task.notes,
            "start": task.start,
            # A missing due date is the start date, on both sides.
            "due": task.due if task.due is not None else task.start,
            "completed": completed,
            "percent_complete": percent,
            "status": status,
            "priority": task.priority,
            "regarding": task.regarding,
        }

    def crm_view(self, record: Task, settings: Settings) -> View:
        """The CRM task as a view."""
        return self._view(record)

    def outlook_view(self, record: Task, settings: Settings) -> View:
        """The Outlook task as a view."""
        return self._view(record)

    def _build(self, view: View, template: Task | None, key: str, **new: Any) -> Task:
        if template is None:
            template = Task(key=key, **new)
        return consistent(attrs.evolve(template, **view))

    def to_crm(
        self, view: View, template: Task | None, key: str, inp: SyncInput, settings: Settings
    ) -> Task:
        """Writes view fields onto a CRM task (a new one is owned by the user)."""
        return self._build(view, template, key, owner=inp.user)

    def to_outlook(
        self, view: View, template: Task | None, key: str, inp: SyncInput, settings: Settings
    ) -> Task:
        """Writes view fields onto an Outlook task (a new one is tracked)."""
        return self._build(view, template, key, tracked=True)

    def refusals(self, record: Any, side: Side, inp: SyncInput) -> list[Notice]:
        """Untracked, recurring and (where the settings say so) assigned tasks do not sync."""
        found = super().refusals(record, side, inp)
        if record.recurrence is not None:
            found.append(
                self.notice(
                    record.key,
                    "recurring_task_unsupported",
                    "Recurring task synchronization is not supported.",
                    Severity.INFO,
                    side,
                )
            )
        if record.assigned_to:
            found.extend(self._assignment(record, side, inp.settings))
        return found

    def _assignment(self, task: Task, side: Side, settings: Settings) -> list[Notice]:
        if not settings.sync_assigned_tasks:
            return [
                self.notice(
                    task.key,
                    "assigned_task_sync_disabled",
                    "This task was assigned in Outlook, and synchronizing tasks "
                    "assigned in Outlook is turned off.",
                    Severity.INFO,
                    side,
                )
            ]
        found = []
        if len(task.assigned_to) > 1:
            found.append(
                self.notice(
                    task.key,
                    "task_multiple_recipients",
                    f"This task is assigned to {len(task.assigned_to)} "
                    "recipients; only a task assigned to one person syncs.",
                    Severity.INFO,
                    side,
                )
            )
        outside = [
            address
            for address in (task.assigned_by, *task.assigned_to)
            if address and _domain(address) not in settings.organization_domains
        ]
        if outside:
            found.append(
                self.notice(
                    task.key,
                    "task_assignee_outside_organization",
                    f"{', '.join(outside)} is outside the organization "
                    "(organization_domains); tasks assigned across "
                    "organizations do not sync.",
                    Severity.INFO,
                    side,
                )
            )
        return found

    def delete_refused(self, deleted_on: Side, survivor: Any, pair: Pair, inp: SyncInput) -> str:
        """An Outlook delete deletes the CRM task; a CRM delete spares a completed Outlook task."""
        if deleted_on is Side.CRM and _progress(survivor)[0] is TaskStatus.COMPLETED:
            return (
                "The task was deleted in the CRM, but it is completed in Outlook, so Outlook "
                "keeps it; it no longer syncs."
            )
        return ""


RULES = TaskRules()


policy = DomainPolicy(RULES)
"""Plans the tasks of a `SyncInput`: `policy(inp) -> Plan`."""
