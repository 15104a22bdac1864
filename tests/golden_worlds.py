"""Varied, deterministic sync worlds whose plans are pinned byte for byte (test_golden_plans).

The benchmark's world is uniform on purpose (a few fields edited the same way); these worlds
start from it and apply seeded random edits over every field, deletes, creates, untracked and
refused records, attachments, address moves and first syncs, under many settings. They guard
the planner's output while its inside changes: an optimization must not change one byte.

Everything goes through JSON (`crmsync.dumps`/`loads`), as a stored baseline does, so no record
object is shared between the baseline and the snapshots.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import attrs
from benchmarks.worlds import NOW, USER, build

import crmsync
from crmsync import (
    Address,
    AddressKind,
    AddressRemap,
    AddressSync,
    Appointment,
    Attachment,
    Baseline,
    ConflictPolicy,
    CrmContact,
    CrmSnapshot,
    OutlookContact,
    OutlookSnapshot,
    Settings,
    Task,
)
from crmsync.records import ActivityKind, ActivityState, Priority, Recurrence, TaskStatus

HOUR = dt.timedelta(hours=1)
_ADDRESSES = (
    Address(street="1 Rue de Rivoli", city="Paris", postal_code="75001"),
    Address(street="2 High Street", city="London", country="UK"),
    Address(street="3 Main St", city="Boston", state="MA"),
    Address(),
)
_TEXT = ("", "Alpha", "Beta", "alpha ", "Gamma delta", "Ünïcode ✓")
_CONTACT_EDITS: dict[str, tuple[Any, ...]] = {
    "first_name": _TEXT,
    "last_name": _TEXT,
    "emails": ((), ("a@contoso.com",), ("b@contoso.com", "c@contoso.com")),
    "business_phone": ("", "+1 555 0100", "+33 1 23 45 67 89"),
    "home_phone": ("", "+1 555 0101"),
    "mobile_phone": ("", "+1 555 0102"),
    "job_title": _TEXT,
    "department": _TEXT,
    "notes": _TEXT,
}
_CRM_CONTACT_EDITS = {**_CONTACT_EDITS, **{f"address{i}": _ADDRESSES for i in (1, 2, 3)}}
_OUTLOOK_CONTACT_EDITS = {
    **_CONTACT_EDITS,
    "business_address": _ADDRESSES,
    "home_address": _ADDRESSES,
    "other_address": _ADDRESSES,
    "mailing_address": tuple(AddressKind),
    "tracked": (True, False),
}
_RECURRENCE = Recurrence(
    pattern="weekly", start_date=dt.date(2026, 11, 2), days_of_week=("monday",)
)
_APPOINTMENT_EDITS: dict[str, tuple[Any, ...]] = {
    "subject": _TEXT,
    "body": (*_TEXT, "<p>Agenda</p>"),
    "location": _TEXT,
    "priority": tuple(Priority),
    "required": ((), ("ben@fabrikam.com",), ("ann@contoso.com", "cy@contoso.com")),
    "optional": ((), ("dee@fabrikam.com",)),
    "regarding": ("", "account:1"),
    "state": tuple(ActivityState),
    "kind": tuple(ActivityKind),
    "recurrence": (None, _RECURRENCE),
    "organizer": (USER, "someone@fabrikam.com"),
    "attachments": (
        (),
        (Attachment(name="a.pdf", size=1_000, content_hash="sha256:a"),),
        (Attachment(name="b.pdf", size=9_000_000, content_hash="sha256:b"),),
        (
            Attachment(name="a.pdf", size=1_000, content_hash="sha256:a"),
            Attachment(name="c.txt", size=40_000, content_hash="sha256:c"),
        ),
    ),
    "tracked": (True, False),
    "time": (-48, -1, 2, 30),
}
_TASK_EDITS: dict[str, tuple[Any, ...]] = {
    "subject": _TEXT,
    "notes": _TEXT,
    "due": (None, NOW + 24 * HOUR, NOW - 24 * HOUR),
    "completed": (None, NOW - HOUR),
    "percent_complete": (0, 50, 100),
    "status": tuple(TaskStatus),
    "priority": tuple(Priority),
    "regarding": ("", "account:2"),
    "recurrence": (None, _RECURRENCE),
    "assigned_to": (
        (),
        ("ann@contoso.com",),
        ("ann@contoso.com", "bo@contoso.com"),
        ("x@ext.org",),
    ),
    "tracked": (True, False),
}


def _edit(rng: random.Random, record: Any, table: dict[str, tuple[Any, ...]], side: str) -> Any:
    name = rng.choice(sorted(table))
    value = rng.choice(table[name])
    if name == "tracked" and side == "crm":
        return record
    if name == "time":
        start = NOW + value * HOUR
        return attrs.evolve(record, start=start, end=start + HOUR)
    return attrs.evolve(record, **{name: value})


def _table(record: Any, side: str) -> dict[str, tuple[Any, ...]]:
    if isinstance(record, CrmContact):
        return _CRM_CONTACT_EDITS
    if isinstance(record, OutlookContact):
        return _OUTLOOK_CONTACT_EDITS
    return _APPOINTMENT_EDITS if isinstance(record, Appointment) else _TASK_EDITS


def _mutate(rng: random.Random, records: tuple[Any, ...], side: str, share: float) -> list[Any]:
    out = []
    for original in records:
        record = original
        roll = rng.random()
        if roll < share * 0.15:
            continue  # deleted on this side
        if roll < share:
            for _ in range(rng.choice((1, 1, 2, 3))):
                record = _edit(rng, record, _table(record, side), side)
            if rng.random() < 0.3:
                record = attrs.evolve(record, modified=NOW - rng.randrange(1, 100) * HOUR)
        out.append(record)
    return out


def _new_records(rng: random.Random, count: int) -> dict[str, dict[str, list[Any]]]:
    """Records new on one side or both (some with one natural key: links, ambiguous matches)."""
    out: dict[str, dict[str, list[Any]]] = {
        side: {"contacts": [], "appointments": [], "tasks": []} for side in ("crm", "outlook")
    }
    for i in range(count):
        where = rng.choice(("crm", "outlook", "both", "both-other-key"))
        email = f"new{rng.randrange(count // 2 + 1)}@contoso.com"
        uid = f"new-uid-{rng.randrange(count // 2 + 1)}"
        start = NOW + rng.choice((-30, 5, 50)) * HOUR
        for side in ("crm", "outlook"):
            if where not in (side, "both", "both-other-key"):
                continue
            key = f"n{i}" if where != "both-other-key" or side == "crm" else f"n{i}-o"
            contact: Any = (
                CrmContact(key=key, last_name=f"New {i}", emails=(email,), owner=USER)
                if side == "crm"
                else OutlookContact(key=key, last_name=f"New {i}", emails=(email,))
            )
            out[side]["contacts"].append(contact)
            out[side]["appointments"].append(
                Appointment(key=key, start=start, end=start + HOUR, subject=f"New {i}", uid=uid)
            )
            out[side]["tasks"].append(Task(key=key, subject=f"New {i}", start=NOW))
    return out


def _round_trip(value: Any) -> Any:
    return crmsync.loads(crmsync.dumps(value, indent=None), type(value))


def world(
    seed: int, size: int = 600, *, share: float = 0.3, baseline: bool = True
) -> tuple[CrmSnapshot, OutlookSnapshot, Baseline | None]:
    """A seeded world of `size` linked pairs, `share` of them edited on each side."""
    rng = random.Random(seed)  # noqa: S311 - seeded test data, not secrets
    base = build(size).baseline
    new = _new_records(rng, size // 20)
    sides: dict[str, Any] = {}
    for side, snapshot in (("crm", base.crm), ("outlook", base.outlook)):
        collections = {
            name: _mutate(rng, getattr(snapshot, name), side, share) + new[side][name]
            for name in ("contacts", "appointments", "tasks")
        }
        sides[side] = type(snapshot)(**collections)
    kept = _round_trip(base) if baseline else None
    return _round_trip(sides["crm"]), _round_trip(sides["outlook"]), kept


SETTINGS: dict[str, Settings] = {
    "default": Settings(),
    "attachments": Settings(sync_appointment_attachments=True, attachment_budget_bytes=50_000),
    "outlook_wins": Settings(conflict=ConflictPolicy.OUTLOOK_WINS, sync_assigned_tasks=True),
    "newest_wins": Settings(
        conflict=ConflictPolicy.NEWEST_WINS,
        sync_assigned_tasks=True,
        organization_domains=frozenset({"contoso.com"}),
    ),
    "manual": Settings(conflict=ConflictPolicy.MANUAL, sync_appointment_attachments=True),
    "all_three": Settings(address_sync=AddressSync.ALL_THREE),
    "directions": Settings(
        field_directions={
            "contact.job_title": "to_crm",
            "contact.notes": "none",
            "contact.address1": "to_outlook",
            "appointment.location": "to_outlook",
            "task.subject": "to_crm",
        }
    ),
    "switch_preserve": Settings(address_sync=AddressSync.ALL_THREE),
    "switch_crm_wins": Settings(
        address_sync=AddressSync.ALL_THREE, address_remap=AddressRemap.CRM_WINS
    ),
    "mass_delete_allowed": Settings(allow_mass_delete=True, mass_delete_threshold=0.01),
    "mass_delete_blocked": Settings(mass_delete_threshold=0.01),
}
"""The settings each golden world is planned under (`switch_*`: the baseline's are the defaults)."""


def golden_plan(name: str, seed: int) -> crmsync.Plan:
    """The plan of golden world `seed` under settings `name` (`first_sync`: no baseline)."""
    crm, outlook, baseline = world(seed, baseline=name != "first_sync")
    settings = SETTINGS.get(name, Settings())
    if baseline is not None and not name.startswith("switch_"):
        baseline = attrs.evolve(baseline, settings=settings)
    return crmsync.plan(crm, outlook, settings, baseline, user=USER, now=NOW)


CASES = [(name, seed) for name in (*SETTINGS, "first_sync") for seed in (1, 2)]
