"""Hypothesis strategies for crmsync's records, settings and whole sync worlds.

For test authors composing their own policies: install `crmsync[testing]`
and import this module (crmsync itself never imports it). Every strategy takes
keyword-only knobs and draws from small pools of values, so that collisions,
conflicts, duplicates and address remaps actually happen.

Importing the module registers strategies for the concrete record classes,
so `st.from_type(CrmContact)` works.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Sequence
from enum import StrEnum
from typing import Any, Final

import attrs
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import crmsync
from crmsync.records import (
    Address,
    AddressKind,
    Appointment,
    Attachment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    OutlookContact,
    OutlookSnapshot,
    Recurrence,
    Task,
)
from crmsync.settings import AddressRemap, AddressSync, ConflictPolicy, Direction, Settings

__all__ = [
    "CHANGES",
    "NOW",
    "USER",
    "World",
    "addresses",
    "appointments",
    "attachments",
    "baselines",
    "crm_contacts",
    "crm_snapshots",
    "describe",
    "emails",
    "outlook_contacts",
    "outlook_snapshots",
    "recurrences",
    "settings",
    "tasks",
    "worlds",
]

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
"""The moment worlds are planned for."""
USER = "ann@contoso.com"
"""The syncing user of worlds."""

_UTC = dt.UTC
_WORDS = ("", "Ann", "Ben", "Lee", "Sales")
_CITIES = ("Paris", "Lyon", "Nice", "PARIS ")


@functools.cache
def addresses(*, allow_empty: bool = True) -> st.SearchStrategy[Address]:
    """Addresses from a small pool (some equal after normalization)."""
    full = st.builds(
        Address,
        street=st.sampled_from(("1 Main St", "2 Side St", "1  main st")),
        city=st.sampled_from(_CITIES),
    )
    return st.one_of(st.just(Address()), full) if allow_empty else full


@functools.cache
def emails(*, max_size: int = 3) -> st.SearchStrategy[tuple[str, ...]]:
    """Up to `max_size` (at most 3) e-mail addresses from a small pool."""
    pool = st.sampled_from(("ann@contoso.com", "ben@fabrikam.com", "BEN@fabrikam.com", "lee@x.org"))
    return st.lists(pool, max_size=min(max_size, 3)).map(tuple)


_TEXT = st.sampled_from(_WORDS)
_MOMENT = st.integers(-48, 240).map(lambda hours: NOW + dt.timedelta(hours=hours))


def _text() -> st.SearchStrategy[str]:
    return _TEXT


def _moment() -> st.SearchStrategy[dt.datetime]:
    return _MOMENT


@functools.cache
def crm_contacts(*, key: str | None = None) -> st.SearchStrategy[CrmContact]:
    """CRM contacts; `key` fixes the key."""
    return st.builds(
        CrmContact,
        key=st.just(key) if key is not None else st.sampled_from(("k1", "k2", "k3")),
        first_name=_text(),
        last_name=_text(),
        emails=emails(),
        job_title=_text(),
        notes=_text(),
        address1=addresses(),
        address2=addresses(),
        address3=addresses(),
        owner=st.just(USER),
    )


@functools.cache
def outlook_contacts(
    *, key: str | None = None, tracked: bool | None = None
) -> st.SearchStrategy[OutlookContact]:
    """Outlook contacts; `tracked` fixes whether they are tracked in the CRM."""
    return st.builds(
        OutlookContact,
        key=st.just(key) if key is not None else st.sampled_from(("k1", "k2", "o1")),
        first_name=_text(),
        last_name=_text(),
        emails=emails(),
        job_title=_text(),
        notes=_text(),
        business_address=addresses(),
        home_address=addresses(),
        other_address=addresses(),
        mailing_address=st.sampled_from(list(AddressKind)),
        tracked=st.just(tracked) if tracked is not None else st.booleans(),
    )


@functools.cache
def attachments(*, max_size: int = 4000) -> st.SearchStrategy[Attachment]:
    """Attachments; identity `(content_hash, name)` from a small pool."""
    return st.builds(
        Attachment,
        name=st.sampled_from(("a.pdf", "b.docx", "c.zip")),
        size=st.integers(0, max_size),
        content_hash=st.sampled_from(("sha256:01", "sha256:02")),
    )


@functools.cache
def recurrences() -> st.SearchStrategy[Recurrence]:
    """Weekly or daily recurrence patterns."""
    return st.builds(
        Recurrence,
        pattern=st.sampled_from(("daily", "weekly")),
        interval=st.integers(1, 3),
        days_of_week=st.just(("monday",)),
        start_date=st.just(dt.date(2026, 11, 2)),
    )


@functools.cache
def _unique_attachments() -> st.SearchStrategy[tuple[Attachment, ...]]:
    return st.lists(attachments(), max_size=3, unique_by=lambda a: a.identity).map(tuple)


@st.composite
def appointments(
    draw: st.DrawFn,
    *,
    key: str | None = None,
    recurring: bool | None = None,
    service_activity: bool | None = None,
) -> Appointment:
    """Appointments; knobs fix the key, whether they recur, whether service activities."""
    start = draw(_moment())
    recurs = draw(st.booleans()) if recurring is None else recurring
    service = draw(st.booleans()) if service_activity is None else service_activity
    return Appointment(
        key=key if key is not None else draw(st.sampled_from(("a1", "a2", "a3"))),
        subject=draw(_text()),
        location=draw(_text()),
        start=start,
        end=start + dt.timedelta(hours=draw(st.integers(0, 3))),
        organizer=draw(st.sampled_from((USER, "boss@contoso.com"))),
        uid=draw(st.sampled_from(("", "uid-1", "uid-2"))),
        recurrence=draw(recurrences()) if recurs else None,
        kind="service_activity" if service else "appointment",
        attachments=draw(_unique_attachments()),
        state=draw(st.sampled_from(("open", "open", "completed", "canceled"))),
        tracked=draw(st.booleans()) | draw(st.booleans()),
    )


@st.composite
def tasks(draw: st.DrawFn, *, key: str | None = None, assigned: bool | None = None) -> Task:
    """Tasks; `assigned` fixes whether they were assigned in Outlook."""
    is_assigned = draw(st.booleans()) if assigned is None else assigned
    percent = draw(st.sampled_from((0, 0, 50, 100)))
    return Task(
        key=key if key is not None else draw(st.sampled_from(("t1", "t2", "t3"))),
        subject=draw(_text()),
        notes=draw(_text()),
        start=draw(st.none() | _moment()),
        due=draw(st.none() | _moment()),
        percent_complete=percent,
        status="completed"
        if percent == 100
        else draw(st.sampled_from(("not_started", "deferred"))),
        recurrence=draw(st.none() | st.none() | recurrences()),
        assigned_by=USER if is_assigned else "",
        assigned_to=draw(
            st.lists(
                st.sampled_from(("lee@contoso.com", "x@fabrikam.com")),
                min_size=1,
                max_size=2,
                unique=True,
            ).map(tuple)
        )
        if is_assigned
        else (),
        tracked=draw(st.booleans()) | draw(st.booleans()),
    )


_APPOINTMENTS = appointments()
_TASKS = tasks()


def _unique(records: Sequence[Any]) -> tuple[Any, ...]:
    seen: dict[str, Any] = {}
    for record in records:
        seen.setdefault(record.key, record)
    return tuple(seen.values())


@functools.cache
def crm_snapshots(*, max_records: int = 4) -> st.SearchStrategy[CrmSnapshot]:
    """CRM snapshots with up to `max_records` records per domain (unique keys)."""
    return st.builds(
        CrmSnapshot,
        contacts=st.lists(crm_contacts(), max_size=max_records).map(_unique),
        appointments=st.lists(_APPOINTMENTS, max_size=max_records).map(_unique),
        tasks=st.lists(_TASKS, max_size=max_records).map(_unique),
    )


@functools.cache
def outlook_snapshots(*, max_records: int = 4) -> st.SearchStrategy[OutlookSnapshot]:
    """Outlook snapshots with up to `max_records` records per domain (unique keys)."""
    return st.builds(
        OutlookSnapshot,
        contacts=st.lists(outlook_contacts(), max_size=max_records).map(_unique),
        appointments=st.lists(_APPOINTMENTS, max_size=max_records).map(_unique),
        tasks=st.lists(_TASKS, max_size=max_records).map(_unique),
    )


_SETTABLE = (
    "contact.job_title",
    "contact.notes",
    "contact.address2",
    "appointment.subject",
    "appointment.location",
    "task.notes",
    "task.due",
)


@functools.cache
def settings(*, directions: bool = True, budget: bool = True) -> st.SearchStrategy[Settings]:
    """Settings over every option; knobs turn off random directions and budgets."""
    direction_maps = (
        st.dictionaries(st.sampled_from(_SETTABLE), st.sampled_from(list(Direction)), max_size=2)
        if directions
        else st.just({})
    )
    return st.builds(
        Settings,
        sync_appointment_attachments=st.booleans(),
        address_sync=st.sampled_from(list(AddressSync)),
        address_remap=st.sampled_from(list(AddressRemap)),
        sync_assigned_tasks=st.booleans(),
        organization_domains=st.sampled_from((frozenset(), frozenset({"contoso.com"}))),
        conflict=st.sampled_from(list(ConflictPolicy)),
        field_directions=direction_maps,
        max_attachment_bytes=st.sampled_from((3000, 5120 * 1024)),
        attachment_budget_bytes=st.none() | st.integers(1000, 6000) if budget else st.none(),
    )


def baselines(*, max_records: int = 3) -> st.SearchStrategy[Baseline]:
    """Baselines as a first sync leaves them (consistent, linked pairs)."""
    return worlds(max_records=max_records).map(lambda w: w.baseline or Baseline())


@attrs.frozen(kw_only=True)
class World:
    """Everything `crmsync.plan` needs, drawn together.

    It prints compactly (`describe`): one line per record, values left at their defaults
    left out, so that a failing example reads in a few lines.
    """

    crm: CrmSnapshot
    outlook: OutlookSnapshot
    baseline: Baseline | None
    settings: Settings
    user: str = USER
    now: dt.datetime = NOW

    def __repr__(self) -> str:
        """The world as `describe` prints it."""
        return describe(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints a failing example with its pretty printer, which calls this.
        printer.text(describe(self))


def _non_default(value: Any) -> dict[str, Any]:
    out = {}
    for field in attrs.fields(type(value)):
        current, default = getattr(value, field.name), field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        if field.name in ("key", "modified") or current == default:
            continue
        out[field.name] = current
    return out


def _one_line(value: Any) -> str:
    if isinstance(value, Address):
        return repr(value.one_line())
    if isinstance(value, dt.datetime):
        return f"NOW{(value - NOW).total_seconds() / 3600:+g}h"
    if isinstance(value, tuple) and value and attrs.has(type(value[0])):
        return "(" + ", ".join(_record_line(v) for v in value) + ")"
    if attrs.has(type(value)):
        return _record_line(value)
    return repr(value.value if isinstance(value, StrEnum) else value)


def _record_line(record: Any) -> str:
    fields = " ".join(f"{k}={_one_line(v)}" for k, v in _non_default(record).items())
    name = getattr(record, "key", "") or type(record).__name__
    return f"{name} {fields}".strip()


def describe(world: World) -> str:
    """A world in a few lines: settings that differ from the defaults, then one line per record.

    Args:
        world: the world to print.

    Returns:
        Lines such as `crm contact k1 first_name='Ann' address1='1 Main St, Paris'`.
    """
    lines = [f"World(now={world.now.isoformat()}, user={world.user!r})"]
    lines.append(f"  settings {_record_line(world.settings)}")
    sides: list[tuple[str, Any]] = [("crm", world.crm), ("outlook", world.outlook)]
    if world.baseline is None:
        lines.append("  baseline None (a first sync)")
    else:
        lines.append(f"  baseline settings {_record_line(world.baseline.settings)}")
        for name in ("unlinked", "pending_remap"):
            if getattr(world.baseline, name):
                lines.append(f"  baseline {name} {sorted(getattr(world.baseline, name))}")
        sides = [
            ("base crm", world.baseline.crm),
            ("base outlook", world.baseline.outlook),
            *sides,
        ]
    for label, snapshot in sides:
        for domain in ("contacts", "appointments", "tasks"):
            for record in getattr(snapshot, domain):
                lines.append(f"  {label} {domain[:-1]} {_record_line(record)}")
    return "\n".join(lines)


def _first_sync(crm: CrmSnapshot, outlook: OutlookSnapshot, old: Settings) -> crmsync.Synced:
    """Both sides as two rounds of sync leave them (links merge in the second)."""
    baseline = None
    for _ in range(2):
        plan = crmsync.plan(crm, outlook, old, baseline, user=USER, now=NOW)
        synced = crmsync.apply(plan, crm, outlook, baseline)
        crm, outlook, baseline = synced.crm, synced.outlook, synced.baseline
    return synced


def _edit(
    draw: st.DrawFn,
    records: tuple[Any, ...],
    fresh: st.SearchStrategy[Any],
    *,
    forced: tuple[str, str] = ("", ""),
    add: bool = False,
    taken: Collection[str] = (),
) -> tuple[Any, ...]:
    """People's edits on one side: each record kept, edited or deleted, and a few added.

    `forced` is `(key, "edited" | "deleted")`: that record is changed or deleted
    for sure. `add` makes at least one record new, under a key not in `taken`.
    """
    out = []
    for record in records:
        if record.key == forced[0]:
            action = "delete" if forced[1] == "deleted" else "edit"
        else:
            action = draw(st.sampled_from(("keep", "keep", "edit", "delete")))
        if action == "keep":
            out.append(record)
        elif action == "edit":
            edited = attrs.evolve(draw(fresh), key=record.key)
            # Mostly a few fields, as people edit; sometimes the whole record.
            whole = draw(st.integers(0, 4)) == 0
            edited = edited if whole else _mix(draw, record, edited)
            if record.key == forced[0] and _same(edited, record):
                edited = _changed(draw, record)
            out.append(edited)
    added = draw(st.lists(fresh, min_size=1 if add else 0, max_size=2))
    # A new record under the deleted key would undo the delete: it gets a key of its own.
    added = [
        attrs.evolve(r, key=f"new-{r.key}") if (r.key, "deleted") == forced else r for r in added
    ]
    if add:
        used = {record.key for record in out} | set(taken)
        if added[0].key in used:
            added[0] = attrs.evolve(added[0], key=f"new-{added[0].key}")
    return _unique([*out, *added])


def _same(one: Any, other: Any) -> bool:
    """Equal but for `modified`."""
    return bool(attrs.evolve(one, modified=None) == attrs.evolve(other, modified=None))


# A text field of each record type that every edit may change (a value from the pool).
_EDITABLE = {
    CrmContact: "job_title",
    OutlookContact: "job_title",
    Appointment: "location",
    Task: "notes",
}


def _changed(draw: st.DrawFn, record: Any) -> Any:
    """The record with one text field changed to another value of the pool."""
    field = _EDITABLE[type(record)]
    other = [word for word in _WORDS if word != getattr(record, field)]
    return attrs.evolve(record, **{field: draw(st.sampled_from(other))})


_FIXED_IN_EDITS = ("key", "modified", "tracked", "owner")


def _mix(draw: st.DrawFn, old: Any, new: Any) -> Any:
    names = [f.name for f in attrs.fields(type(old)) if f.name not in _FIXED_IN_EDITS]
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
    try:
        return attrs.evolve(old, **{name: getattr(new, name) for name in chosen})
    except crmsync.InvalidInput:
        return old  # e.g. a new start after the old end


CHANGES: Final = frozenset(
    f"{domain}.{change}"
    for domain in ("contact", "appointment", "task")
    for change in ("edited", "deleted", "added")
)
"""The kinds of change `worlds(must_include=...)` takes: `"<domain>.<change>"`.

- `edited`: a record linked at the last sync differs on one side (a field changed);
- `deleted`: a record linked at the last sync is gone from one side;
- `added`: a record is new on one side (its key in neither the side nor its baseline).
"""

_PLURAL = {"contact": "contacts", "appointment": "appointments", "task": "tasks"}
# Records that always sync from the CRM in a first sync, whatever the settings: no natural key
# to match ambiguously, no recurrence or assignment to refuse.
_SEEDS: dict[str, st.SearchStrategy[Any]] = {
    "contact": crm_contacts(key="seed").map(lambda c: attrs.evolve(c, emails=())),
    "appointment": appointments(key="seed").map(lambda a: attrs.evolve(a, uid="")),
    "task": tasks(key="seed", assigned=False).map(lambda t: attrs.evolve(t, recurrence=None)),
}


def worlds(
    *,
    max_records: int = 3,
    first_sync: bool | None = None,
    switch_address_mode: bool | None = None,
    must_include: Collection[str] = (),
) -> st.SearchStrategy[World]:
    """Consistent worlds: linked pairs, edits on both sides, deletes, conflicts, switches.

    The baseline is what a real sync under the previous settings left behind;
    then both sides are edited (fields changed, records deleted, records
    added, possibly the same contact on both sides), and the settings may
    change (address mode switches included).

    Args:
        max_records: records per domain and side before the edits (3 by default:
            enough for duplicates and ambiguous matches, small enough that a failure
            shrinks in seconds).
        first_sync: True for no baseline, False for always one.
        switch_address_mode: force (or forbid) an `address_sync` switch.
        must_include: kinds of change every world holds at least one of, from
            `CHANGES` (`{"task.edited"}`: a linked task changed on one side). Each is
            built in, not filtered for: a domain without a linked record gets one
            more CRM record before the first sync (key `"seed"`), and the side,
            the record and the change are drawn. Implies a baseline.

    Returns:
        A strategy for `World`.

    Raises:
        InvalidArgument: a kind not in `CHANGES`, or `must_include` with `first_sync=True`.
    """
    unknown = sorted(set(must_include) - CHANGES)
    if unknown:
        raise InvalidArgument(f"must_include: {unknown} not in {sorted(CHANGES)}")
    if must_include and first_sync:
        raise InvalidArgument("must_include needs a baseline: not with first_sync=True")
    return _worlds(
        max_records=max_records,
        first_sync=False if must_include else first_sync,
        switch_address_mode=switch_address_mode,
        must_include=tuple(sorted(must_include)),
    )


def _linked(baseline: Baseline, domain: str) -> list[str]:
    """Keys of a domain's records on both sides of the baseline."""
    crm = {r.key for r in getattr(baseline.crm, _PLURAL[domain])}
    return sorted(r.key for r in getattr(baseline.outlook, _PLURAL[domain]) if r.key in crm)


def _seeded(draw: st.DrawFn, crm: CrmSnapshot, domain: str) -> CrmSnapshot:
    """The CRM snapshot with one more record of the domain, one that a first sync links."""
    name = _PLURAL[domain]
    records: dict[str, Any] = {name: (*getattr(crm, name), draw(_SEEDS[domain]))}
    return attrs.evolve(crm, **records)


@st.composite
def _worlds(
    draw: st.DrawFn,
    *,
    max_records: int,
    first_sync: bool | None,
    switch_address_mode: bool | None,
    must_include: tuple[str, ...],
) -> World:
    before = draw(settings())
    crm = draw(crm_snapshots(max_records=max_records))
    outlook = draw(outlook_snapshots(max_records=max_records))
    no_baseline = draw(st.booleans()) if first_sync is None else first_sync
    now_settings = draw(settings())
    if switch_address_mode is not None:
        flipped = (
            AddressSync.ALL_THREE
            if before.address_sync is AddressSync.MAILING_ONLY
            else AddressSync.MAILING_ONLY
        )
        mode = flipped if switch_address_mode else before.address_sync
        now_settings = attrs.evolve(now_settings, address_sync=mode)
    if no_baseline:
        return World(crm=crm, outlook=outlook, baseline=None, settings=now_settings)
    synced = _first_sync(crm, outlook, before)
    # Only a change to a linked record needs one; the seed is added and synced only when missing.
    kinds = [kind.split(".") for kind in must_include]
    unseeded = sorted(
        {d for d, change in kinds if change != "added" and not _linked(synced.baseline, d)}
    )
    if unseeded:
        for domain in unseeded:
            crm = _seeded(draw, crm, domain)
        synced = _first_sync(crm, outlook, before)
        assume(all(_linked(synced.baseline, domain) for domain in unseeded))
    # Per domain and side: the record to edit or delete, and whether a record is added.
    forced: dict[tuple[str, str], tuple[str, str]] = {}
    adds: set[tuple[str, str]] = set()
    for domain, change in kinds:
        if change == "added":
            adds.add((domain, draw(st.sampled_from(("crm", "outlook")))))
            continue
        # An edit and a delete in one domain go to different sides.
        free = [side for side in ("crm", "outlook") if (domain, side) not in forced]
        key = draw(st.sampled_from(_linked(synced.baseline, domain)))
        forced[domain, draw(st.sampled_from(free))] = (key, change)

    def edited(side: str, domain: str, fresh: st.SearchStrategy[Any]) -> tuple[Any, ...]:
        records = getattr(getattr(synced, side), _PLURAL[domain])
        if not must_include:
            return _edit(draw, records, fresh)
        taken = {r.key for r in getattr(getattr(synced.baseline, side), _PLURAL[domain])}
        return _edit(
            draw,
            records,
            fresh,
            forced=forced.get((domain, side), ("", "")),
            add=(domain, side) in adds,
            taken=taken,
        )

    edited_crm = CrmSnapshot(
        contacts=edited("crm", "contact", crm_contacts()),
        appointments=edited("crm", "appointment", _APPOINTMENTS),
        tasks=edited("crm", "task", _TASKS),
    )
    edited_outlook = OutlookSnapshot(
        contacts=edited("outlook", "contact", outlook_contacts()),
        appointments=edited("outlook", "appointment", _APPOINTMENTS),
        tasks=edited("outlook", "task", _TASKS),
    )
    return World(
        crm=edited_crm, outlook=edited_outlook, baseline=synced.baseline, settings=now_settings
    )


st.register_type_strategy(Address, addresses())
st.register_type_strategy(CrmContact, crm_contacts())
st.register_type_strategy(OutlookContact, outlook_contacts())
st.register_type_strategy(Attachment, attachments())
st.register_type_strategy(Recurrence, recurrences())
st.register_type_strategy(Appointment, appointments())
st.register_type_strategy(Task, tasks())
st.register_type_strategy(CrmSnapshot, crm_snapshots())
st.register_type_strategy(OutlookSnapshot, outlook_snapshots())
st.register_type_strategy(Settings, settings())
st.register_type_strategy(Baseline, baselines())
