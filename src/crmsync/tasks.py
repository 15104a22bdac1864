"""Tasks: the field map, tasks assigned in Outlook, recurring tasks, due dates, deletes.

Rules (Dynamics 365 documentation):
- "Synchronize tasks that are assigned in Outlook": off by default. Even when
  on, a task assigned to more than one recipient, or across organizations,
  does not sync.
- "Recurring task synchronization is not supported."
- A task with a start and no due date takes its due date from its start, on
  both sides, so a plan never churns on filling it in.
- Status, percent complete and completed date travel as they are: crmsync
  never rewrites one to agree with another ("not started" at 50 % stays so),
  but a conflict on one of them is resolved for all three together.
- An Outlook delete deletes the CRM task; a CRM delete removes the Outlook
  task unless it is completed there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from crmsync.fields import TASK_FIELDS, FieldRule
from crmsync.merge import DomainPolicy, DomainRules, Pair, PairResult, View
from crmsync.plan import Notice, Severity, describe
from crmsync.policy import SyncInput
from crmsync.records import Domain, Side, Task, TaskStatus, rebuild
from crmsync.settings import Settings

__all__ = ["FIELDS", "RULES", "TaskRules", "policy"]

FIELDS = TASK_FIELDS
"""The task field map (see `crmsync.fields`)."""

_NAMES = tuple(rule.name for rule in FIELDS)


_SIDE = {Side.CRM: "the CRM", Side.OUTLOOK: "Outlook"}


def _due(task: Task) -> Any:
    """A task's due date as both sides read it: its start date when it has none."""
    return task.due if task.due is not None else task.start


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().casefold() if "@" in address else ""


class TaskRules(DomainRules[Task, Task]):
    """The tasks domain, plugged into the shared merge."""

    domain: ClassVar[Domain] = Domain.TASK
    fields: ClassVar[tuple[FieldRule, ...]] = FIELDS
    snapshot_field: ClassVar[str] = "tasks"
    # A side keeps these consistent itself (Outlook marks a task completed at
    # 100 %), so a conflict on one is resolved for all three.
    coupled: ClassVar[tuple[frozenset[str], ...]] = (
        frozenset({"status", "percent_complete", "completed"}),
    )

    def _view(self, task: Task) -> View:
        return {
            "subject": task.subject,
            "notes": task.notes,
            "start": task.start,
            # A missing due date is the start date, on both sides.
            "due": task.due if task.due is not None else task.start,
            "completed": task.completed,
            "percent_complete": task.percent_complete,
            "status": task.status,
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
        return rebuild(template, view)

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

    def merge_pair(
        self,
        pair: Pair,
        inp: SyncInput,
        settings: Settings | None = None,
        skip: frozenset[str] = frozenset(),
    ) -> PairResult:
        """Merges a pair; says so when a start date from the other side overrides a due date.

        A task without a due date is due on its start date, so a due date cleared
        on one side comes back as the start date the other side set: the two
        edits cannot both hold, and the cleared one is recorded as having lost.
        """
        result = super().merge_pair(pair, inp, settings, skip)
        if not pair.linked:
            return result
        for side in Side:
            before, base = getattr(pair, side.value), getattr(pair, f"base_{side.value}")
            after = getattr(result, f"{side.value}_after")
            wanted = _due(before)
            if wanted == _due(base) or after.due != before.due or _due(after) == wanted:
                continue  # unchanged here, written by the merge (it said so), or kept
            result.notices += (
                self.notice(
                    pair.key,
                    "conflict_resolved",
                    f"Due date changed in {_SIDE[side]} to {describe(wanted)}, but the start "
                    f"date {_SIDE[side.other]} set makes it {describe(_due(after))} (a task "
                    "without a due date is due on its start date), so the change was overwritten.",
                    Severity.WARNING,
                    side,
                ),
            )
        return result

    def refusal_candidates(self, records: Iterable[Any], side: Side, inp: SyncInput) -> list[Any]:
        """Untracked, recurring or assigned tasks: the only ones `refusals` may refuse."""
        outlook = side is Side.OUTLOOK
        return [
            task
            for task in records
            if task.recurrence is not None or task.assigned_to or (outlook and not task.tracked)
        ]

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
        if deleted_on is Side.CRM and (
            survivor.status is TaskStatus.COMPLETED or survivor.percent_complete == 100
        ):
            return (
                "The task was deleted in the CRM, but it is completed in Outlook, so Outlook "
                "keeps it; it no longer syncs."
            )
        return ""


RULES = TaskRules()


policy = DomainPolicy(RULES)
"""Plans the tasks of a `SyncInput`: `policy(inp) -> Plan`."""
