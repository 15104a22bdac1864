"""crmsync: plans how appointments, contacts and tasks sync between Dynamics 365 and Outlook.

Hand it what each side holds now, the baseline of the last sync and the
organization's settings; `crmsync.plan()` returns an immutable, serializable
plan of what to create, update, delete, link or unlink on each side, and why
anything is left alone. It never talks to a server.
"""

from __future__ import annotations

from crmsync.apply import Synced, apply
from crmsync.convert import dumps, loads
from crmsync.errors import (
    AlteredPlan,
    CrmsyncError,
    InvalidInput,
    PolicyConflict,
    SettingsError,
    StalePlan,
)
from crmsync.explain import Explanation, explain
from crmsync.plan import Action, BaselineUpdate, FieldChange, Notice, Op, Plan, Severity
from crmsync.planning import default_policies, hold, plan, refine
from crmsync.policy import Policy, SyncInput, compose, exclude
from crmsync.records import (
    ActivityKind,
    ActivityState,
    Address,
    AddressKind,
    Appointment,
    Attachment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    Domain,
    OutlookContact,
    OutlookSnapshot,
    Priority,
    Recurrence,
    RecurrencePattern,
    ShowAs,
    Side,
    Task,
    TaskStatus,
)
from crmsync.settings import AddressRemap, AddressSync, ConflictPolicy, Direction, Settings

__all__ = [
    "Action",
    "ActivityKind",
    "ActivityState",
    "Address",
    "AddressKind",
    "AddressRemap",
    "AddressSync",
    "AlteredPlan",
    "Appointment",
    "Attachment",
    "Baseline",
    "BaselineUpdate",
    "ConflictPolicy",
    "CrmContact",
    "CrmSnapshot",
    "CrmsyncError",
    "Direction",
    "Domain",
    "Explanation",
    "FieldChange",
    "InvalidInput",
    "Notice",
    "Op",
    "OutlookContact",
    "OutlookSnapshot",
    "Plan",
    "Policy",
    "PolicyConflict",
    "Priority",
    "Recurrence",
    "RecurrencePattern",
    "Settings",
    "SettingsError",
    "Severity",
    "ShowAs",
    "Side",
    "StalePlan",
    "SyncInput",
    "Synced",
    "Task",
    "TaskStatus",
    "apply",
    "compose",
    "default_policies",
    "dumps",
    "exclude",
    "explain",
    "hold",
    "loads",
    "plan",
    "refine",
]
