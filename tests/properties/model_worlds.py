"""Contact, appointment and task worlds for the reference-model and conservation properties.

Small on purpose (at most two linked pairs, two records a side, one added a side): a failure
shrinks in seconds. Built without crmsync: no sync runs while drawing. A world prints one line
per record, default values left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import attrs
import reference_model as model
from hypothesis import strategies as st

import crmsync
from crmsync import (
    AddressRemap,
    AddressSync,
    Appointment,
    Baseline,
    ConflictPolicy,
    CrmSnapshot,
    Direction,
    Domain,
    OutlookSnapshot,
    Settings,
    Task,
)
from crmsync.strategies import NOW, USER, crm_contacts, outlook_contacts, recurrences

PLAIN_DIRECTIONS = ("contact.job_title", "contact.notes", "contact.first_name")


@st.composite
def model_settings(draw: st.DrawFn, *, directions: bool = True) -> Settings:
    """The settings the model covers: directions on plain fields only."""
    return Settings(
        address_sync=draw(st.sampled_from(list(AddressSync))),
        address_remap=draw(st.sampled_from(list(AddressRemap))),
        conflict=draw(st.sampled_from(list(ConflictPolicy))),
        field_directions=draw(
            st.dictionaries(
                st.sampled_from(PLAIN_DIRECTIONS), st.sampled_from(list(Direction)), max_size=2
            )
            if directions
            else st.just({})
        ),
    )


@attrs.frozen(kw_only=True)
class ModelWorld:
    """Records on both sides, a baseline and settings; prints compactly when a test fails."""

    crm: CrmSnapshot
    outlook: OutlookSnapshot
    baseline: Baseline | None
    settings: Settings

    def __repr__(self) -> str:
        return compact(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints failing examples with its pretty printer, which honours this.
        printer.text(repr(self))


def compact(world: Any) -> str:
    """One line per record, default values left out."""
    lines = [f"settings: {_changed(world.settings)}"]
    if world.baseline is not None:
        lines.append(f"baseline settings: {_changed(world.baseline.settings)}")
        for name in ("unlinked", "pending_remap"):
            if getattr(world.baseline, name):
                lines.append(f"baseline {name}: {sorted(getattr(world.baseline, name))}")
        lines += [f"  base crm {_changed(r)}" for r in _records(world.baseline.crm)]
        lines += [f"  base out {_changed(r)}" for r in _records(world.baseline.outlook)]
    lines += [f"  crm {_changed(r)}" for r in _records(world.crm)]
    lines += [f"  out {_changed(r)}" for r in _records(world.outlook)]
    return "\n".join(lines)


def _records(snapshot: Any) -> list[Any]:
    return [*snapshot.contacts, *snapshot.appointments, *snapshot.tasks]


def _changed(value: Any) -> str:
    parts = []
    for field in attrs.fields(type(value)):
        v = getattr(value, field.name)
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()  # type: ignore[call-arg]
        if field.name == "modified" or (field.name != "key" and v == default):
            continue
        if isinstance(v, crmsync.Address):
            v = " / ".join(p for p in (v.street, v.city) if p)
        parts.append(f"{field.name}={v!r}" if field.name != "key" else str(v))
    return " ".join(parts) or "defaults"


def _unique(records: list[Any]) -> tuple[Any, ...]:
    return tuple({r.key: r for r in records}.values())


_EDITABLE = {
    side: [
        f.name for f in attrs.fields(cls) if f.name not in ("key", "modified", "tracked", "owner")
    ]
    for side, cls in (("crm", crmsync.CrmContact), ("outlook", crmsync.OutlookContact))
}


def _edit(
    draw: st.DrawFn, side: str, records: tuple[Any, ...], fresh: st.SearchStrategy[Any]
) -> tuple[Any, ...]:
    """People keep, edit (one or two fields) or delete each record, and add one."""
    out = []
    for record in records:
        action = draw(st.sampled_from(("keep", "edit", "edit", "delete")))
        if action == "keep":
            out.append(record)
        elif action == "edit":
            new = draw(fresh)
            chosen = draw(
                st.lists(st.sampled_from(_EDITABLE[side]), min_size=1, max_size=2, unique=True)
            )
            out.append(attrs.evolve(record, **{name: getattr(new, name) for name in chosen}))
    return _unique([*out, *draw(st.lists(fresh, max_size=1))])


# Mostly tracked: an untracked contact takes no part, so it makes a world smaller.
OUTLOOK = st.one_of(
    outlook_contacts(tracked=True), outlook_contacts(tracked=True), outlook_contacts()
)


@st.composite
def linked_pair(draw: st.DrawFn, key: str, settings: Settings) -> tuple[Any, Any]:
    """A pair as a sync under `settings` leaves it: both sides agree on what syncs two-way."""
    crm = draw(crm_contacts(key=key))
    outlook = draw(outlook_contacts(key=key, tracked=True))
    plain = {
        name: getattr(crm, name)
        for name in model.PLAIN
        # A one-way field may differ: an edit on the side it does not sync from stays there.
        if model.direction(settings, name) == "two_way" or draw(st.booleans())
    }
    if model.all_three(settings):
        slots = dict(zip(model.OUTLOOK_SLOTS, model.crm_slots(crm), strict=True))
    else:
        slots = {model.mailing_slot(outlook): crm.address1}
    return crm, attrs.evolve(outlook, **plain, **slots)


@st.composite
def contact_worlds(
    draw: st.DrawFn, *, first_sync: bool | None = None, switch: bool | None = None
) -> ModelWorld:
    """Small contact-only worlds: a consistent baseline, then edits on both sides.

    Built without crmsync (no sync runs while drawing), so that examples are cheap and a
    failure shrinks in seconds.
    """
    now_settings = draw(model_settings())
    if draw(st.booleans()) if first_sync is None else first_sync:
        return ModelWorld(
            crm=CrmSnapshot(contacts=draw(st.lists(crm_contacts(), max_size=2).map(_unique))),
            outlook=OutlookSnapshot(contacts=draw(st.lists(OUTLOOK, max_size=2).map(_unique))),
            baseline=None,
            settings=now_settings,
        )
    before = draw(model_settings())
    if switch is not None:
        other = next(mode for mode in AddressSync if mode is not before.address_sync)
        now_settings = attrs.evolve(
            now_settings, address_sync=other if switch else before.address_sync
        )
    linked = draw(st.lists(st.sampled_from(("k1", "k2")), min_size=1, max_size=2, unique=True))
    pairs = [draw(linked_pair(key, before)) for key in sorted(linked)]
    baseline = Baseline(
        crm=CrmSnapshot(contacts=[c for c, _ in pairs]),
        outlook=OutlookSnapshot(contacts=[o for _, o in pairs]),
        settings=before,
    )
    if draw(st.integers(0, 4)) == 0:
        # A remap that waits for a person (an earlier address_remap_conflict).
        baseline = attrs.evolve(baseline, pending_remap={draw(st.sampled_from(linked))})
    crm = CrmSnapshot(contacts=_edit(draw, "crm", baseline.crm.contacts, crm_contacts()))
    outlook = OutlookSnapshot(contacts=_edit(draw, "outlook", baseline.outlook.contacts, OUTLOOK))
    crm_only = sorted({c.key for c in crm.contacts} - set(linked))
    if crm_only and draw(st.integers(0, 4)) == 0:
        # A CRM contact whose link an Outlook delete broke earlier.
        baseline = attrs.evolve(
            baseline, unlinked={(Domain.CONTACT, draw(st.sampled_from(crm_only)))}
        )
    return ModelWorld(crm=crm, outlook=outlook, baseline=baseline, settings=now_settings)


# --- tasks ------------------------------------------------------------------------------

TASK_DIRECTIONS = ("task.subject", "task.notes", "task.start", "task.due")
_MOMENT = st.sampled_from((None, NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=2)))
_PROGRESS = st.sampled_from(
    (("not_started", 0, None), ("in_progress", 50, None), ("completed", 100, NOW))
)
_EDITABLE_TASK = ("subject", "notes", "start", "due", "priority", "regarding")


@st.composite
def model_tasks(draw: st.DrawFn, *, key: str | None = None, outlook: bool = False) -> Task:
    """Tasks over the fields the model covers; sometimes refused (recurring, assigned)."""
    status, percent, completed = draw(_PROGRESS)
    refused = draw(st.integers(0, 5)) == 0
    return Task(
        key=key or draw(st.sampled_from(("t1", "t2", "t3"))),
        subject=draw(st.sampled_from(("", "Call", "Mail"))),
        notes=draw(st.sampled_from(("", "a", "b"))),
        start=draw(_MOMENT),
        due=draw(_MOMENT),
        status=status,
        percent_complete=percent,
        completed=completed,
        priority=draw(st.sampled_from(("low", "normal", "high"))),
        regarding=draw(st.sampled_from(("", "account-1"))),
        recurrence=draw(recurrences()) if refused and draw(st.booleans()) else None,
        assigned_by=USER if refused else "",
        assigned_to=draw(st.sampled_from((("lee@contoso.com",), ("x@fabrikam.com",))))
        if refused
        else (),
        owner="" if outlook else USER,
        tracked=not outlook or draw(st.integers(0, 5)) > 0,
    )


@st.composite
def task_settings(draw: st.DrawFn) -> Settings:
    return Settings(
        conflict=draw(st.sampled_from(list(ConflictPolicy))),
        sync_assigned_tasks=draw(st.booleans()),
        organization_domains=draw(st.sampled_from((frozenset(), frozenset({"contoso.com"})))),
        field_directions=draw(
            st.dictionaries(
                st.sampled_from(TASK_DIRECTIONS), st.sampled_from(list(Direction)), max_size=2
            )
        ),
    )


@st.composite
def task_worlds(draw: st.DrawFn) -> ModelWorld:
    """Small task-only worlds: status, percent and completed date never differ between the
    sides of one key (their joint conflict resolution is not modelled)."""
    settings = draw(task_settings())
    if draw(st.booleans()):
        crm = draw(st.lists(model_tasks(), max_size=2).map(_unique))
        outlook = draw(st.lists(model_tasks(outlook=True), max_size=2).map(_unique))
        return ModelWorld(
            crm=CrmSnapshot(tasks=crm),
            outlook=OutlookSnapshot(tasks=_same_progress(crm, outlook)),
            baseline=None,
            settings=settings,
        )
    before = draw(task_settings())
    keys = draw(st.lists(st.sampled_from(("t1", "t2")), min_size=1, max_size=2, unique=True))
    crm_base, outlook_base = [], []
    for key in sorted(keys):
        task = attrs.evolve(
            draw(model_tasks(key=key)), recurrence=None, assigned_by="", assigned_to=()
        )
        other = attrs.evolve(task, owner="", tracked=True)
        for name in ("subject", "notes", "start", "due"):
            # A one-way field may differ: an edit on the side it does not sync from.
            if model.task_direction(before, name) != "two_way" and draw(st.booleans()):
                other = attrs.evolve(other, **{name: getattr(draw(model_tasks()), name)})
        crm_base.append(task)
        outlook_base.append(other)
    baseline = Baseline(
        crm=CrmSnapshot(tasks=crm_base),
        outlook=OutlookSnapshot(tasks=outlook_base),
        settings=before,
    )

    def edit(records: list[Task], outlook: bool) -> tuple[Task, ...]:
        out = []
        for task in records:
            action = draw(st.sampled_from(("keep", "edit", "edit", "delete")))
            if action == "keep":
                out.append(task)
            elif action == "edit":
                new = draw(model_tasks(outlook=outlook))
                names = draw(
                    st.lists(st.sampled_from(_EDITABLE_TASK), min_size=1, max_size=2, unique=True)
                )
                out.append(attrs.evolve(task, **{n: getattr(new, n) for n in names}))
        taken = {t.key for t in records}  # status and progress are never edited
        added = draw(st.lists(model_tasks(outlook=outlook), max_size=1))
        return _unique([*out, *(t for t in added if t.key not in taken)])

    crm = edit(crm_base, False)
    return ModelWorld(
        crm=CrmSnapshot(tasks=crm),
        outlook=OutlookSnapshot(tasks=_same_progress(crm, edit(outlook_base, True))),
        baseline=baseline,
        settings=settings,
    )


def _same_progress(crm: Iterable[Task], outlook: Iterable[Task]) -> list[Task]:
    """Outlook's tasks with the CRM's status, percent and completed date where keys meet."""
    progress = {t.key: (t.status, t.percent_complete, t.completed) for t in crm}
    return [
        attrs.evolve(t, status=p[0], percent_complete=p[1], completed=p[2])
        if (p := progress.get(t.key))
        else t
        for t in outlook
    ]


# --- appointments -----------------------------------------------------------------------

APPOINTMENT_DIRECTIONS = ("appointment.subject", "appointment.location", "appointment.body")
_HOURS = st.sampled_from((-3, -1, 0, 2, 30))
_EDITABLE_APPOINTMENT = ("subject", "body", "location", "priority", "show_as", "required", "time")


@st.composite
def model_appointments(
    draw: st.DrawFn, *, key: str | None = None, outlook: bool = False
) -> Appointment:
    """Appointments without attachments: past and future, organized or not, some service
    activities, some closed in the CRM."""
    start = NOW + dt.timedelta(hours=draw(_HOURS))
    return Appointment(
        key=key or draw(st.sampled_from(("a1", "a2", "a3"))),
        subject=draw(st.sampled_from(("", "Review", "Lunch"))),
        body=draw(st.sampled_from(("", "x"))),
        location=draw(st.sampled_from(("", "Room 1", "Room 2"))),
        start=start,
        end=start + dt.timedelta(hours=draw(st.sampled_from((0, 1)))),
        priority=draw(st.sampled_from(("low", "normal", "high"))),
        show_as=draw(st.sampled_from(("busy", "free"))),
        organizer=draw(st.sampled_from((USER, "boss@contoso.com"))),
        required=draw(st.sampled_from(((), ("lee@contoso.com",)))),
        uid=draw(st.sampled_from(("", "uid-1", "uid-2"))),
        kind=draw(st.sampled_from(("appointment", "appointment", "service_activity"))),
        state="open" if outlook else draw(st.sampled_from(("open", "open", "completed"))),
        owner="" if outlook else USER,
        tracked=not outlook or draw(st.integers(0, 5)) > 0,
    )


@st.composite
def appointment_settings(draw: st.DrawFn) -> Settings:
    return Settings(
        conflict=draw(st.sampled_from(list(ConflictPolicy))),
        field_directions=draw(
            st.dictionaries(
                st.sampled_from(APPOINTMENT_DIRECTIONS),
                st.sampled_from(list(Direction)),
                max_size=2,
            )
        ),
    )


@st.composite
def appointment_worlds(draw: st.DrawFn) -> ModelWorld:
    """Small appointment-only worlds: a consistent baseline, then edits on both sides."""
    settings = draw(appointment_settings())
    if draw(st.booleans()):
        return ModelWorld(
            crm=CrmSnapshot(
                appointments=draw(st.lists(model_appointments(), max_size=2).map(_unique))
            ),
            outlook=OutlookSnapshot(
                appointments=draw(
                    st.lists(model_appointments(outlook=True), max_size=2).map(_unique)
                )
            ),
            baseline=None,
            settings=settings,
        )
    before = draw(appointment_settings())
    keys = draw(st.lists(st.sampled_from(("a1", "a2")), min_size=1, max_size=2, unique=True))
    crm_base, outlook_base = [], []
    for key in sorted(keys):
        record = draw(model_appointments(key=key))
        crm_base.append(record)
        outlook_base.append(attrs.evolve(record, owner="", tracked=True))
    baseline = Baseline(
        crm=CrmSnapshot(appointments=crm_base),
        outlook=OutlookSnapshot(appointments=outlook_base),
        settings=before,
    )

    def edit(records: list[Appointment], outlook: bool) -> tuple[Appointment, ...]:
        out = []
        for record in records:
            action = draw(st.sampled_from(("keep", "edit", "edit", "delete")))
            if action == "keep":
                out.append(record)
            elif action == "edit":
                new = draw(model_appointments(outlook=outlook))
                names = draw(
                    st.lists(
                        st.sampled_from(_EDITABLE_APPOINTMENT), min_size=1, max_size=2, unique=True
                    )
                )
                values = {n: getattr(new, n) for n in names if n != "time"}
                if "time" in names:
                    values.update(start=new.start, end=new.end)
                out.append(attrs.evolve(record, **values))
        taken = {r.key for r in records}
        added = draw(st.lists(model_appointments(outlook=outlook), max_size=1))
        return _unique([*out, *(r for r in added if r.key not in taken)])

    return ModelWorld(
        crm=CrmSnapshot(appointments=edit(crm_base, False)),
        outlook=OutlookSnapshot(appointments=edit(outlook_base, True)),
        baseline=baseline,
        settings=settings,
    )
