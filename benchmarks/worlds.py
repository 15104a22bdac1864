"""Synthetic but realistic sync worlds for the benchmarks.

All records are linked pairs with a baseline; 5 % change on the CRM side, 5 % on
Outlook (a fifth of those on the same records, so some conflict). Contacts,
appointments (a third with attachments) and tasks share the total 40/30/30.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from crmsync import (
    Address,
    Appointment,
    Attachment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    OutlookContact,
    OutlookSnapshot,
    Settings,
    Task,
    dumps,
    loads,
)

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
USER = "ann@contoso.com"
SETTINGS = Settings(sync_appointment_attachments=True)


@attrs.frozen
class World:
    crm: CrmSnapshot
    outlook: OutlookSnapshot
    baseline: Baseline
    changed_pairs: int


def _contacts(n: int) -> tuple[list[CrmContact], list[OutlookContact]]:
    crm, outlook = [], []
    for i in range(n):
        address = Address(street=f"{i} Main Street", city="Paris", postal_code="75002")
        common = {
            "key": f"c{i}",
            "first_name": f"First{i}",
            "last_name": f"Last{i}",
            "emails": (f"person{i}@example.com",),
            "business_phone": "+33 1 00 00 00 00",
            "job_title": "Buyer",
            "department": "Purchasing",
        }
        crm.append(CrmContact(**common, address1=address, owner=USER))
        outlook.append(OutlookContact(**common, business_address=address))
    return crm, outlook


def _appointments(n: int) -> list[Appointment]:
    out = []
    for i in range(n):
        start = NOW + dt.timedelta(hours=i % 2000 - 500)
        files = (
            (
                Attachment(
                    name=f"agenda{i}.pdf", size=20_000 + i % 5000, content_hash=f"sha256:{i:x}"
                ),
            )
            if i % 3 == 0
            else ()
        )
        out.append(
            Appointment(
                key=f"a{i}",
                subject=f"Meeting {i}",
                body="Agenda attached.",
                location="Room 1",
                start=start,
                end=start + dt.timedelta(hours=1),
                organizer=USER,
                required=("ben@fabrikam.com",),
                uid=f"uid-{i}",
                attachments=files,
            )
        )
    return out


def _tasks(n: int) -> list[Task]:
    return [
        Task(
            key=f"t{i}",
            subject=f"Task {i}",
            notes="Call back.",
            start=NOW,
            due=NOW + dt.timedelta(days=i % 30),
            percent_complete=(i * 7) % 100,
        )
        for i in range(n)
    ]


def round_trip(world: World) -> World:
    """The world read back from JSON, as an application reads a stored baseline.

    `build` shares record objects between the baseline and the snapshots (an
    unchanged record is the same object on both); a real baseline comes from a
    file, so every field of every record is a distinct object and equality must
    compare values, not identities.
    """
    return World(
        crm=_read_back(world.crm, CrmSnapshot),
        outlook=_read_back(world.outlook, OutlookSnapshot),
        baseline=_read_back(world.baseline, Baseline),
        changed_pairs=world.changed_pairs,
    )


def unchanged(world: World) -> World:
    """A round with nothing changed since the baseline: both sides read back from JSON."""
    return World(
        crm=_read_back(world.baseline.crm, CrmSnapshot),
        outlook=_read_back(world.baseline.outlook, OutlookSnapshot),
        baseline=world.baseline,
        changed_pairs=0,
    )


def build(total: int) -> World:
    """A world of `total` linked pairs (records shared with the baseline; see `round_trip`)."""
    n_contacts, n_appointments = total * 4 // 10, total * 3 // 10
    n_tasks = total - n_contacts - n_appointments
    crm_contacts, outlook_contacts = _contacts(n_contacts)
    appointments, tasks = _appointments(n_appointments), _tasks(n_tasks)
    baseline = Baseline(
        crm=CrmSnapshot(contacts=crm_contacts, appointments=appointments, tasks=tasks),
        outlook=OutlookSnapshot(contacts=outlook_contacts, appointments=appointments, tasks=tasks),
        settings=SETTINGS,
    )
    changed = 0

    def edit(records: list, field: str, value: str, offset: int) -> list:  # type: ignore[type-arg]
        nonlocal changed
        out = list(records)
        for i in range(offset, len(out), 20):  # 5 %
            out[i] = attrs.evolve(out[i], **{field: f"{value} {i}"})
            changed += 1
        return out

    # CRM edits every 20th record from 0; Outlook every 20th from 0 for a fifth
    # of them (conflicts: the same record and field) and from 1 otherwise.
    crm = CrmSnapshot(
        contacts=edit(crm_contacts, "job_title", "Head", 0),
        appointments=edit(appointments, "location", "Room", 0),
        tasks=edit(tasks, "subject", "Renamed", 0),
    )
    outlook = OutlookSnapshot(
        contacts=edit(outlook_contacts, "job_title", "Lead", 4 if total > 100 else 1),
        appointments=edit(appointments, "location", "Hall", 1),
        tasks=edit(tasks, "notes", "Noted", 1),
    )
    return World(crm=crm, outlook=outlook, baseline=baseline, changed_pairs=changed)


@attrs.frozen
class DeltaWorld:
    """One delta round: the complete snapshots and the partial ones that stand for them."""

    crm: CrmSnapshot
    outlook: OutlookSnapshot
    crm_delta: CrmSnapshot
    outlook_delta: OutlookSnapshot
    baseline: Baseline
    changed: int


def build_delta(total: int, share: float = 0.01) -> DeltaWorld:
    """`total` linked pairs of which `share` changed since the baseline, half on each side.

    A tenth of the changed records are deletes (on the CRM side; appointments
    and tasks the user organizes, so the deletes travel).
    """
    baseline = build(total).baseline
    step = max(1, round(2 / share))  # half the share on each side
    sides = {}
    changed = 0
    for name, snapshot in (("crm", baseline.crm), ("outlook", baseline.outlook)):
        offset = 0 if name == "crm" else step // 2
        whole: dict[str, list] = {}  # type: ignore[type-arg]
        delta: dict[str, list] = {}  # type: ignore[type-arg]
        removed: set[str] = set()
        for collection, field in (
            ("contacts", "job_title"),
            ("appointments", "location"),
            ("tasks", "notes"),
        ):
            records = list(getattr(snapshot, collection))
            delta[collection] = []
            for i in range(offset, len(records), step):
                changed += 1
                if name == "crm" and i % (10 * step) == 0:
                    removed.add(records[i].key)
                    records[i] = None
                    continue
                records[i] = attrs.evolve(records[i], **{field: f"{name} edit {i}"})
                delta[collection].append(records[i])
            whole[collection] = [r for r in records if r is not None]
        cls = type(snapshot)
        sides[name] = (cls(**whole), cls(**delta, complete=False, removed=removed))
    # Each read back from JSON on its own, as a stored baseline and service reads are.
    crm_whole, crm_delta = sides["crm"]
    outlook_whole, outlook_delta = sides["outlook"]
    return DeltaWorld(
        crm=_read_back(crm_whole, CrmSnapshot),
        outlook=_read_back(outlook_whole, OutlookSnapshot),
        crm_delta=_read_back(crm_delta, CrmSnapshot),
        outlook_delta=_read_back(outlook_delta, OutlookSnapshot),
        baseline=_read_back(baseline, Baseline),
        changed=changed,
    )


def _read_back(value: Any, cls: type[Any]) -> Any:
    return loads(dumps(value, indent=None), cls)
