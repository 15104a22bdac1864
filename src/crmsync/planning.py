"""`crmsync.plan()`: the default policies composed over one input."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from crmsync import appointments, contacts, tasks
from crmsync.plan import Plan
from crmsync.policy import Policy, SyncInput, compose
from crmsync.records import Baseline, CrmSnapshot, OutlookSnapshot
from crmsync.settings import Settings

__all__ = ["default_policies", "plan"]


def plan(
    crm: CrmSnapshot,
    outlook: OutlookSnapshot,
    settings: Settings | None = None,
    baseline: Baseline | None = None,
    *,
    user: str = "",
    now: dt.datetime,
    policy: Policy | None = None,
) -> Plan:
    """Plans a sync between a CRM snapshot and an Outlook snapshot.

    Args:
        crm: what the CRM holds now.
        outlook: what the mailbox holds now.
        settings: the organization's settings (Dynamics' defaults if None).
        baseline: both sides after the last successful sync; None on a
            first sync.
        user: the syncing user's e-mail address.
        now: the moment to plan for (timezone-aware); crmsync reads no clock.
        policy: a policy to run instead of the default ones (see `compose`
            and `exclude`).

    Returns:
        The plan.

    Raises:
        InvalidInput: an input of the wrong type, or a naive `now`.
        PolicyConflict: two composed policies disagree on a record.
    """
    inp = SyncInput(
        crm=crm,
        outlook=outlook,
        baseline=baseline,
        settings=settings if settings is not None else Settings(),
        user=user,
        now=now,
    )
    return (policy or compose(*default_policies()))(inp)


def default_policies() -> Sequence[Policy]:
    """The policies `crmsync.plan` composes: one per sync domain."""
    return (contacts.policy, appointments.policy, tasks.policy)
