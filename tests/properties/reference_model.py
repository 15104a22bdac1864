"""A reference model of contact sync, written from docs/design.md alone.

It is small, slow and meant to be obviously right. It never calls crmsync's own helpers
(no `FieldRule.same`, `Address.same_as`/`normalized`, `merge_fields`, no domain module):
it reads the records' attributes as raw values, builds records with their public
constructors, and normalizes e-mail addresses and postal addresses itself, as docs/design.md
defines them:

- an e-mail address is compared stripped and casefolded; a contact's natural key is its
  first e-mail address so compared (empty never matches);
- an address is compared part by part (each street line, city, state, postal code,
  country) stripped, with white space collapsed, casefolded; all parts empty is "no
  address".

Scope (what `test_model.py` generates, and nothing else): contacts only, every conflict
policy, both address modes, every remap policy, directions on the plain fields, first
syncs, creates, deletes (CRM delete removes, Outlook delete unlinks), links by natural
key, ambiguous matches, untracked contacts, pending remaps. Not modelled: the mass-delete
guard (worlds stay below ten records) and directions on address fields during a remap.

What it predicts for a world (`Outcome`):
- the records each side holds after the plan is applied, compared with addresses
  normalized (which spelling of one address a side keeps is not a rule);
- the creates, deletes, links and unlinks by (action, side, key);
- the notices, counted by (key, code);
- for contacts an address remap under PRESERVE moves: the constraints the result must
  meet (docs/design.md fixes what is kept, not which slot holds it).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from crmsync import Address, CrmContact, OutlookContact

PLAIN = (
    "first_name",
    "last_name",
    "emails",
    "business_phone",
    "home_phone",
    "mobile_phone",
    "job_title",
    "department",
    "notes",
)
ADDRESSES = ("address1", "address2", "address3")
OUTLOOK_SLOTS = ("business_address", "home_address", "other_address")
"""Under all three addresses, address1..3 pair with these Outlook addresses in order."""

AddressKey = tuple[str, ...]


# --- values, as docs/design.md defines their equality --------------------------------------


def text_key(value: str) -> str:
    """Strip, collapse white space, casefold."""
    return " ".join(value.split()).casefold()


def address_key(address: Address) -> AddressKey | None:
    """An address as sync compares it; None for "no address"."""
    parts = (
        *(text_key(line) for line in address.street.split("\n")),
        text_key(address.city),
        text_key(address.state),
        text_key(address.postal_code),
        text_key(address.country),
    )
    return parts if any(parts) else None


def email_key(emails: Iterable[str]) -> tuple[str, ...]:
    return tuple(e.strip().casefold() for e in emails)


def same(field: str, a: Any, b: Any) -> bool:
    """Equality for sync purposes."""
    if field == "emails":
        return email_key(a) == email_key(b)
    if field in ADDRESSES:
        return address_key(a) == address_key(b)
    return bool(a == b)


def blank(value: Any) -> bool:
    if isinstance(value, Address):
        return address_key(value) is None
    return value in ("", ())


def natural_key(contact: Any) -> str:
    return contact.emails[0].strip().casefold() if contact.emails else ""


# --- settings, read as raw values ---------------------------------------------------


def all_three(settings: Any) -> bool:
    return str(settings.address_sync) == "all_three"


def direction(settings: Any, field: str) -> str:
    return str(settings.field_directions.get(f"contact.{field}", "two_way"))


def can_send(settings: Any, field: str, source: str) -> bool:
    d = direction(settings, field)
    return d in ("two_way", "to_outlook" if source == "crm" else "to_crm")


OTHER = {"crm": "outlook", "outlook": "crm"}


# --- views: a record of either side as the fields sync compares -----------------------


def mailing_slot(contact: OutlookContact) -> str:
    return f"{contact.mailing_address}_address"


def view(record: Any, side: str, settings: Any) -> dict[str, Any]:
    out = {name: getattr(record, name) for name in PLAIN}
    if side == "crm":
        out["address1"] = record.address1
        if all_three(settings):
            out["address2"], out["address3"] = record.address2, record.address3
    elif all_three(settings):
        for name, slot in zip(ADDRESSES, OUTLOOK_SLOTS, strict=True):
            out[name] = getattr(record, slot)
    else:
        out["address1"] = getattr(record, mailing_slot(record))
    return out


def write(record: Any, side: str, values: Mapping[str, Any], settings: Any) -> Any:
    """The record with view fields written onto it."""
    if not values:
        return record
    if side == "crm":
        return attrs.evolve(record, **values)
    out = {name: value for name, value in values.items() if name in PLAIN}
    for name, value in values.items():
        if name in ADDRESSES:
            if all_three(settings):
                out[OUTLOOK_SLOTS[ADDRESSES.index(name)]] = value
            else:
                out[mailing_slot(record)] = value
    return attrs.evolve(record, **out)


def new_record(side: str, key: str, values: Mapping[str, Any], settings: Any, user: str) -> Any:
    if side == "crm":
        return write(CrmContact(key=key, owner=user), "crm", values, settings)
    return write(OutlookContact(key=key), "outlook", values, settings)


def crm_slots(record: CrmContact) -> list[Address]:
    return [record.address1, record.address2, record.address3]


def outlook_slots(record: OutlookContact) -> list[Address]:
    return [getattr(record, slot) for slot in OUTLOOK_SLOTS]


def distinct(addresses: Iterable[Address]) -> set[AddressKey]:
    return {k for k in (address_key(a) for a in addresses) if k is not None}


# --- the outcome ------------------------------------------------------------------------


@attrs.define
class Remapped:
    """What a PRESERVE remap must leave: every one of `kept` on both sides, the new mode's
    views agreeing, nothing else; `crm`/`outlook` are the records before the remap (their
    other fields are exact)."""

    crm: CrmContact
    outlook: OutlookContact
    kept: set[AddressKey]


@attrs.define
class Outcome:
    crm: dict[str, Any] = attrs.Factory(dict)
    outlook: dict[str, Any] = attrs.Factory(dict)
    ops: set[tuple[str, str, str]] = attrs.Factory(set)
    notices: collections.Counter[tuple[str, str]] = attrs.Factory(collections.Counter)
    remapped: dict[str, Remapped] = attrs.Factory(dict)

    def note(self, key: str, code: str) -> None:
        self.notices[(key, code)] += 1


# --- the rules --------------------------------------------------------------------------


def merge(
    key: str,
    crm: Any,
    outlook: Any,
    base: tuple[Any, Any] | None,
    settings: Any,
    mode: Any,
    out: Outcome,
    skip: tuple[str, ...] = (),
) -> tuple[Any, Any]:
    """Three-way merges a pair field by field; returns both records as the plan leaves them.

    `mode` gives the address mode the views are made under (the old one during a switch);
    directions and the conflict policy are always the current settings'.
    """
    c, o = view(crm, "crm", mode), view(outlook, "outlook", mode)
    bc = bo = None
    if base is not None:
        bc, bo = view(base[0], "crm", mode), view(base[1], "outlook", mode)
    now = {"crm": c, "outlook": o}
    writes: dict[str, dict[str, Any]] = {"crm": {}, "outlook": {}}
    policy = str(settings.conflict)
    winner = "crm"
    if policy == "outlook_wins":
        winner = "outlook"
    elif policy == "newest_wins" and crm.modified and outlook.modified:
        winner = "outlook" if outlook.modified > crm.modified else "crm"
    for field in c:
        if field in skip or same(field, c[field], o[field]):
            continue
        if bc is None or bo is None:
            changed = {side: not blank(now[side][field]) for side in now}
        else:
            changed = {
                "crm": not same(field, c[field], bc[field]),
                "outlook": not same(field, o[field], bo[field]),
            }
        if not any(changed.values()):
            continue  # a standing difference: nothing new
        if changed["crm"] != changed["outlook"]:
            source = "crm" if changed["crm"] else "outlook"
            if can_send(settings, field, source):
                writes[OTHER[source]][field] = now[source][field]
            else:
                out.note(key, "field_not_synced")
            continue
        if direction(settings, field) == "none":
            out.note(key, "field_not_synced")
            continue
        if policy == "manual":
            out.note(key, "conflict")
            continue
        won = winner if can_send(settings, field, winner) else OTHER[winner]
        writes[OTHER[won]][field] = now[won][field]
        out.note(key, "conflict_resolved")
    return write(crm, "crm", writes["crm"], mode), write(
        outlook, "outlook", writes["outlook"], mode
    )


def remap(key: str, crm: Any, outlook: Any, settings: Any, out: Outcome) -> tuple[Any, Any]:
    """Remaps a linked contact's addresses under the current address mode."""
    before = distinct([*crm_slots(crm), *outlook_slots(outlook)])
    policy = str(settings.address_remap)
    if policy == "preserve":
        # Three slots a side, and under all three addresses the sides' slots must agree:
        # every address fits as long as there are at most three.
        if len(before) > 3:
            out.note(key, "address_remap_conflict")
            return crm, outlook
        out.remapped[key] = Remapped(crm, outlook, before)
        return crm, outlook
    c, o = crm_slots(crm), outlook_slots(outlook)
    pairs = (
        [(i, i) for i in range(3)]
        if all_three(settings)
        else [(0, OUTLOOK_SLOTS.index(mailing_slot(outlook)))]
    )
    for ci, oi in pairs:
        if policy == "crm_wins":
            o[oi] = c[ci]
        else:
            c[ci] = o[oi]
    crm = attrs.evolve(crm, **dict(zip(ADDRESSES, c, strict=True)))
    outlook = attrs.evolve(outlook, **dict(zip(OUTLOOK_SLOTS, o, strict=True)))
    for _ in before - distinct([*c, *o]):
        out.note(key, "address_remap_data_loss")
    return crm, outlook


def plan_contacts(
    crm: Iterable[CrmContact],
    outlook: Iterable[OutlookContact],
    baseline: Any,
    settings: Any,
    user: str,
) -> Outcome:
    """What syncing the contacts must give, by docs/design.md."""
    out = Outcome()
    now = {"crm": {r.key: r for r in crm}, "outlook": {r.key: r for r in outlook}}
    base: dict[str, dict[str, Any]] = {"crm": {}, "outlook": {}}
    old_settings, unlinked, pending = settings, set(), set()
    if baseline is not None:
        base = {
            "crm": {r.key: r for r in baseline.crm.contacts},
            "outlook": {r.key: r for r in baseline.outlook.contacts},
        }
        old_settings = baseline.settings
        unlinked = {key for domain, key in baseline.unlinked if str(domain) == "contact"}
        pending = set(baseline.pending_remap)
    linked = base["crm"].keys() & base["outlook"].keys()
    switched = str(old_settings.address_sync) != str(settings.address_sync)
    result = {side: dict(records) for side, records in now.items()}

    # Untracked Outlook contacts do not sync, and neither does their key.
    refused = {k for k, r in now["outlook"].items() if not r.tracked}
    for key in refused:
        out.note(key, "not_tracked")
    live = {side: {k: r for k, r in now[side].items() if k not in refused} for side in now}

    # Records new on both sides with one natural key are linked, not created twice.
    groups: dict[str, dict[str, list[str]]] = collections.defaultdict(
        lambda: {"crm": [], "outlook": []}
    )
    # So are a record whose partner is gone and one new on the other side (a contact
    # moved to another Outlook folder comes back under a new key); two records that
    # each lost their partner are not matched with each other.
    survivors = {
        k for side in live for k in live[side] if k in linked and k not in live[OTHER[side]]
    }
    for side, records in live.items():
        for key, record in records.items():
            fresh = key not in linked or key in survivors
            if key not in live[OTHER[side]] and natural_key(record) and fresh:
                groups[natural_key(record)][side].append(key)
    held: set[str] = set()
    for found in groups.values():
        only_new(found, survivors)
        if not found["crm"] or not found["outlook"]:
            continue
        if len(found["crm"]) == 1 and len(found["outlook"]) == 1:
            held |= link(found, out, result)
        else:
            for side in found:
                for key in found[side]:
                    out.note(key, "ambiguous_match")
                    held.add(key)

    for key in (live["crm"].keys() | live["outlook"].keys() | linked) - held - refused:
        c, o = live["crm"].get(key), live["outlook"].get(key)
        is_linked = key in linked
        if c is not None and o is not None:
            if not is_linked:
                c, o = merge(key, c, o, None, settings, settings, out)
            elif key in pending:
                c, o = merge(
                    key,
                    c,
                    o,
                    (base["crm"][key], base["outlook"][key]),
                    settings,
                    settings,
                    out,
                    skip=ADDRESSES,
                )
                c, o = remap(key, c, o, settings, out)
            elif switched:
                c, o = merge(
                    key, c, o, (base["crm"][key], base["outlook"][key]), settings, old_settings, out
                )
                c, o = remap(key, c, o, settings, out)
            else:
                c, o = merge(
                    key, c, o, (base["crm"][key], base["outlook"][key]), settings, settings, out
                )
            result["crm"][key], result["outlook"][key] = c, o
            continue
        if c is None and o is None:
            continue  # deleted on both sides
        side = "crm" if c is not None else "outlook"
        survivor = c if c is not None else o
        if not is_linked:
            if key in unlinked:
                out.note(key, "unlinked")
                continue
            create(key, survivor, side, settings, user, out, result)
            # A create beside an untracked Outlook contact with the same natural key.
            twins = [r for r in now["outlook"].values() if not r.tracked and natural_key(r)]
            if side == "crm" and any(natural_key(r) == natural_key(c) for r in twins):
                out.note(key, "possible_duplicate")
            continue
        # Deleted on one side: a change since the baseline (read under the new mode or the
        # old one) that can reach the deleted side under today's directions wins; one that
        # cannot goes with a delete, reported as lost. A value the deleted side held at the
        # last sync is no change it has not seen.
        old = base[side][key]
        gone = base[OTHER[side]][key]
        changed = [
            f
            for s in (settings, old_settings)
            for f, v in view(survivor, side, s).items()
            if not same(f, v, view(old, side, s)[f])
            and not same(f, v, view(gone, OTHER[side], s)[f])
        ]
        # Any edit the delete takes is reported, a value the deleted side held included.
        edited = any(
            not same(f, v, view(old, side, s)[f])
            for s in (settings, old_settings)
            for f, v in view(survivor, side, s).items()
        )
        if any(can_send(settings, f, side) for f in changed):
            create(key, survivor, side, settings, user, out, result)
        elif side == "outlook":  # deleted in the CRM: the Outlook contact goes
            out.ops.add(("delete", "outlook", key))
            del result["outlook"][key]
            # An edit that could not travel is lost with it, and said so: a synced field
            # held back by its direction, or an address no view holds (mailing only).
            slots = ("business_address", "home_address", "other_address")
            unsynced = any(
                getattr(survivor, a) != getattr(old, a) and not blank(getattr(survivor, a))
                for a in slots
            )
            if edited or unsynced:
                out.note(key, "field_not_synced")
        else:  # deleted in Outlook: the CRM contact stays, the pair is unlinked
            out.ops.add(("unlink", "crm", key))
            out.note(key, "delete_not_propagated")
    if baseline is None and now["crm"].keys() & now["outlook"].keys():
        # Keys shared without a baseline: an earlier sync linked them, and its deletes are lost.
        out.note("", "no_baseline")
    out.crm, out.outlook = result["crm"], result["outlook"]
    return out


def only_new(found: dict[str, list[str]], survivors: set[str]) -> None:
    """A record whose partner is gone matches only records new on the other side."""
    fresh = {side: [k for k in keys if k not in survivors] for side, keys in found.items()}
    for side in found:
        if not fresh[OTHER[side]]:
            found[side] = fresh[side]


def link(found: dict[str, list[str]], out: Outcome, result: Any) -> set[str]:
    """One record on each side: the Outlook record takes the CRM key."""
    [crm_key], [outlook_key] = found["crm"], found["outlook"]
    out.ops.add(("link", "outlook", outlook_key))
    record = result["outlook"].pop(outlook_key)
    result["outlook"][crm_key] = attrs.evolve(record, key=crm_key)
    return {crm_key, outlook_key}


def create(
    key: str, record: Any, side: str, settings: Any, user: str, out: Outcome, result: Any
) -> None:
    target = OTHER[side]
    values = {
        field: value
        for field, value in view(record, side, settings).items()
        if can_send(settings, field, side)
    }
    if any(not blank(v) for f, v in view(record, side, settings).items() if f not in values):
        out.note(key, "field_not_synced")  # a value the create leaves behind
    out.ops.add(("create", target, key))
    result[target][key] = new_record(target, key, values, settings, user)


# --- tasks ------------------------------------------------------------------------------
#
# Scope: the fields, directions, conflicts, first syncs, creates and deletes of tasks, and
# the refusals (untracked, recurring, assigned in Outlook). Not modelled: a conflict on
# status, percent complete or completed date (resolved for all three together); the worlds
# never edit those three.

TASK_FIELDS = (
    "subject",
    "notes",
    "start",
    "due",
    "completed",
    "percent_complete",
    "status",
    "priority",
    "regarding",
)


def task_view(task: Any) -> dict[str, Any]:
    out = {name: getattr(task, name) for name in TASK_FIELDS}
    out["due"] = task.due if task.due is not None else task.start  # due defaults to start
    return out


def task_direction(settings: Any, field: str) -> str:
    if field in ("status", "priority", "regarding"):
        return "two_way"  # fixed
    return str(settings.field_directions.get(f"task.{field}", "two_way"))


def task_can_send(settings: Any, field: str, source: str) -> bool:
    d = task_direction(settings, field)
    return d in ("two_way", "to_outlook" if source == "crm" else "to_crm")


def email_domain(address: str) -> str:
    return address.rpartition("@")[2].strip().casefold() if "@" in address else ""


def task_refusals(task: Any, side: str, settings: Any) -> list[str]:
    codes = []
    if side == "outlook" and not task.tracked:
        codes.append("not_tracked")
    if task.recurrence is not None:
        codes.append("recurring_task_unsupported")
    if task.assigned_to:
        if not settings.sync_assigned_tasks:
            codes.append("assigned_task_sync_disabled")
        else:
            if len(task.assigned_to) > 1:
                codes.append("task_multiple_recipients")
            inside = {d.strip().casefold() for d in settings.organization_domains}
            people = [a for a in (task.assigned_by, *task.assigned_to) if a]
            if any(email_domain(a) not in inside for a in people):
                codes.append("task_assignee_outside_organization")
    return codes


def task_merge(key: str, crm: Any, outlook: Any, base: Any, settings: Any, out: Outcome) -> Any:
    c, o = task_view(crm), task_view(outlook)
    bc = bo = None
    if base is not None:
        bc, bo = task_view(base[0]), task_view(base[1])
    now = {"crm": c, "outlook": o}
    writes: dict[str, dict[str, Any]] = {"crm": {}, "outlook": {}}
    policy = str(settings.conflict)
    winner = "crm"
    if policy == "outlook_wins":
        winner = "outlook"
    elif policy == "newest_wins" and crm.modified and outlook.modified:
        winner = "outlook" if outlook.modified > crm.modified else "crm"
    for field in TASK_FIELDS:
        if c[field] == o[field]:
            continue
        if bc is None or bo is None:
            changed = {side: now[side][field] not in (None, "") for side in now}
        else:
            changed = {"crm": c[field] != bc[field], "outlook": o[field] != bo[field]}
        if not any(changed.values()):
            continue
        if changed["crm"] != changed["outlook"]:
            source = "crm" if changed["crm"] else "outlook"
            if task_can_send(settings, field, source):
                writes[OTHER[source]][field] = now[source][field]
            else:
                out.note(key, "field_not_synced")
            continue
        if task_direction(settings, field) == "none":
            out.note(key, "field_not_synced")
            continue
        if policy == "manual":
            out.note(key, "conflict")
            continue
        won = winner if task_can_send(settings, field, winner) else OTHER[winner]
        writes[OTHER[won]][field] = now[won][field]
        out.note(key, "conflict_resolved")
    return (
        attrs.evolve(crm, **writes["crm"]) if writes["crm"] else crm,
        attrs.evolve(outlook, **writes["outlook"]) if writes["outlook"] else outlook,
    )


def plan_tasks(
    crm: Iterable[Any], outlook: Iterable[Any], baseline: Any, settings: Any, user: str
) -> Outcome:
    """What syncing the tasks must give, by docs/design.md."""
    from crmsync import Task

    out = Outcome()
    now = {"crm": {r.key: r for r in crm}, "outlook": {r.key: r for r in outlook}}
    base: dict[str, dict[str, Any]] = {"crm": {}, "outlook": {}}
    if baseline is not None:
        base = {
            "crm": {r.key: r for r in baseline.crm.tasks},
            "outlook": {r.key: r for r in baseline.outlook.tasks},
        }
    linked = base["crm"].keys() & base["outlook"].keys()
    result = {side: dict(records) for side, records in now.items()}
    refused = set()
    for side, records in now.items():
        for key, task in records.items():
            for code in task_refusals(task, side, settings):
                out.note(key, code)
                refused.add(key)
    for key in (now["crm"].keys() | now["outlook"].keys() | linked) - refused:
        c, o = now["crm"].get(key), now["outlook"].get(key)
        if c is not None and o is not None:
            pair_base = (base["crm"][key], base["outlook"][key]) if key in linked else None
            result["crm"][key], result["outlook"][key] = task_merge(
                key, c, o, pair_base, settings, out
            )
            continue
        if c is None and o is None:
            continue
        side = "crm" if c is not None else "outlook"
        survivor = c if c is not None else o
        before = base[side].get(key)
        gone = base[OTHER[side]].get(key)
        changed = (
            []
            if before is None or gone is None
            else [
                f
                for f, v in task_view(survivor).items()
                if v != task_view(before)[f] and v != task_view(gone)[f]
            ]
        )
        # Any edit the delete takes is reported, a value the deleted side held included.
        edited = before is not None and task_view(survivor) != task_view(before)
        if key not in linked or any(task_can_send(settings, f, side) for f in changed):
            target = OTHER[side]
            values = {
                f: v for f, v in task_view(survivor).items() if task_can_send(settings, f, side)
            }
            if any(v not in (None, "") for f, v in task_view(survivor).items() if f not in values):
                out.note(key, "field_not_synced")  # a value the create leaves behind
            extra = {"owner": user} if target == "crm" else {"tracked": True}
            out.ops.add(("create", target, key))
            result[target][key] = attrs.evolve(Task(key=key, **extra), **values)
        elif side == "crm":  # deleted in Outlook: the CRM task goes too
            out.ops.add(("delete", "crm", key))
            del result["crm"][key]
            if edited:
                out.note(key, "field_not_synced")  # an edit that could not travel, lost
        elif str(survivor.status) == "completed" or survivor.percent_complete == 100:
            out.ops.add(("unlink", "outlook", key))  # a completed Outlook task stays
            out.note(key, "delete_not_propagated")
        else:
            out.ops.add(("delete", "outlook", key))
            del result["outlook"][key]
            if edited:
                out.note(key, "field_not_synced")  # an edit that could not travel, lost
    if baseline is None and now["crm"].keys() & now["outlook"].keys():
        out.note("", "no_baseline")
    out.crm, out.outlook = result["crm"], result["outlook"]
    return out


# --- appointments -----------------------------------------------------------------------
#
# Scope: the fields (time as one unit), one-way service activities and closed appointments,
# conflicts, first syncs, creates (never a service activity from Outlook), Dynamics' delete
# rules, links by iCalendar UID. Not modelled: attachments (the worlds hold none).

APPOINTMENT_FIELDS = (
    "subject",
    "body",
    "location",
    "time",
    "priority",
    "show_as",
    "organizer",
    "required",
    "optional",
    "regarding",
    "recurrence",
)
SETTABLE_APPOINTMENT_FIELDS = ("subject", "body", "location")
CLOSED = ("completed", "canceled")


def appointment_view(record: Any) -> dict[str, Any]:
    out = {name: getattr(record, name) for name in APPOINTMENT_FIELDS if name != "time"}
    out["time"] = (record.start, record.end, record.all_day)
    return out


def appointment_direction(settings: Any, field: str, crm: Any, outlook: Any) -> str:
    if field == "organizer":
        return "none"  # written on create only: Graph never updates it (docs/appointments.md)
    d = "two_way"
    if field in SETTABLE_APPOINTMENT_FIELDS:
        d = str(settings.field_directions.get(f"appointment.{field}", "two_way"))
    service = any(r is not None and str(r.kind) == "service_activity" for r in (crm, outlook))
    if service or (crm is not None and str(crm.state) in CLOSED):
        # Service activities, and appointments the CRM closed, sync CRM -> Outlook only.
        return "to_outlook" if d in ("two_way", "to_outlook") else "none"
    return d


def organizes(record: Any, user: str) -> bool:
    return bool(user) and record.organizer.strip().casefold() == user.strip().casefold()


def appointment_merge(
    key: str, crm: Any, outlook: Any, base: Any, settings: Any, out: Outcome
) -> tuple[Any, Any]:
    c, o = appointment_view(crm), appointment_view(outlook)
    bc = bo = None
    if base is not None:
        bc, bo = appointment_view(base[0]), appointment_view(base[1])
    now = {"crm": c, "outlook": o}
    writes: dict[str, dict[str, Any]] = {"crm": {}, "outlook": {}}
    policy = str(settings.conflict)
    winner = "crm"
    if policy == "outlook_wins":
        winner = "outlook"
    elif policy == "newest_wins" and crm.modified and outlook.modified:
        winner = "outlook" if outlook.modified > crm.modified else "crm"

    def sends(field: str, side: str) -> bool:
        d = appointment_direction(settings, field, crm, outlook)
        return d in ("two_way", "to_outlook" if side == "crm" else "to_crm")

    for field in APPOINTMENT_FIELDS:
        if c[field] == o[field]:
            continue
        if bc is None or bo is None:
            changed = {side: now[side][field] not in (None, "", ()) for side in now}
        else:
            changed = {"crm": c[field] != bc[field], "outlook": o[field] != bo[field]}
        if not any(changed.values()):
            continue
        if changed["crm"] != changed["outlook"]:
            source = "crm" if changed["crm"] else "outlook"
            if sends(field, source):
                writes[OTHER[source]][field] = now[source][field]
            else:
                out.note(key, "field_not_synced")
            continue
        if not (sends(field, "crm") or sends(field, "outlook")):
            out.note(key, "field_not_synced")
            continue
        if policy == "manual":
            out.note(key, "conflict")
            continue
        won = winner if sends(field, winner) else OTHER[winner]
        writes[OTHER[won]][field] = now[won][field]
        out.note(key, "conflict_resolved")
    return write_appointment(crm, writes["crm"]), write_appointment(outlook, writes["outlook"])


def write_appointment(record: Any, values: Mapping[str, Any]) -> Any:
    fields = {k: v for k, v in values.items() if k != "time"}
    if "time" in values:
        fields["start"], fields["end"], fields["all_day"] = values["time"]
    return attrs.evolve(record, **fields) if fields else record


def plan_appointments(
    crm: Iterable[Any], outlook: Iterable[Any], baseline: Any, settings: Any, user: str, now: Any
) -> Outcome:
    """What syncing the appointments must give, by docs/design.md."""
    from crmsync import Appointment

    out = Outcome()
    held = {"crm": {r.key: r for r in crm}, "outlook": {r.key: r for r in outlook}}
    base: dict[str, dict[str, Any]] = {"crm": {}, "outlook": {}}
    if baseline is not None:
        base = {
            "crm": {r.key: r for r in baseline.crm.appointments},
            "outlook": {r.key: r for r in baseline.outlook.appointments},
        }
    linked = base["crm"].keys() & base["outlook"].keys()
    result = {side: dict(records) for side, records in held.items()}
    refused = {k for k, r in held["outlook"].items() if not r.tracked}
    for key in refused:
        out.note(key, "not_tracked")
    live = {side: {k: r for k, r in held[side].items() if k not in refused} for side in held}

    groups: dict[str, dict[str, list[str]]] = collections.defaultdict(
        lambda: {"crm": [], "outlook": []}
    )
    survivors = {
        k for side in live for k in live[side] if k in linked and k not in live[OTHER[side]]
    }
    for side, records in live.items():
        for key, record in records.items():
            fresh = key not in linked or key in survivors
            if key not in live[OTHER[side]] and record.uid.strip() and fresh:
                groups[record.uid.strip()][side].append(key)
    matched: set[str] = set()
    for found in groups.values():
        only_new(found, survivors)
        if not found["crm"] or not found["outlook"]:
            continue
        if len(found["crm"]) == 1 and len(found["outlook"]) == 1:
            matched |= link(found, out, result)
        else:
            for side in found:
                for key in found[side]:
                    out.note(key, "ambiguous_match")
                    matched.add(key)

    def create(key: str, record: Any, side: str, *, fresh: bool) -> None:
        if side == "outlook" and str(record.kind) == "service_activity":
            out.note(key, "field_not_synced")  # CRM -> Outlook only: never created in the CRM
            return
        target = OTHER[side]
        pair = (record, None) if side == "crm" else (None, record)
        values = {
            f: v
            for f, v in appointment_view(record).items()
            if appointment_direction(settings, f, *pair)
            in ("two_way", "to_outlook" if side == "crm" else "to_crm")
            or f == "organizer"  # carried on create
        }
        if any(
            v not in (None, "", ()) for f, v in appointment_view(record).items() if f not in values
        ):
            out.note(key, "field_not_synced")  # a value the create leaves behind
        start, end, all_day = record.start, record.end, record.all_day
        made = Appointment(key=key, start=start, end=end, all_day=all_day)
        if target == "crm":
            made = attrs.evolve(made, owner=user)
        made = write_appointment(made, values)
        made = attrs.evolve(made, uid=record.uid, kind=record.kind, series_key=record.series_key)
        out.ops.add(("create", target, key))
        result[target][key] = made
        twins = [r for r in held["outlook"].values() if not r.tracked and r.uid.strip()]
        if fresh and side == "crm" and any(r.uid.strip() == record.uid.strip() for r in twins):
            out.note(key, "possible_duplicate")

    for key in (live["crm"].keys() | live["outlook"].keys() | linked) - matched - refused:
        c, o = live["crm"].get(key), live["outlook"].get(key)
        if c is not None and o is not None:
            pair_base = (base["crm"][key], base["outlook"][key]) if key in linked else None
            result["crm"][key], result["outlook"][key] = appointment_merge(
                key, c, o, pair_base, settings, out
            )
            continue
        if c is None and o is None:
            continue
        side = "crm" if c is not None else "outlook"
        survivor = c if c is not None else o
        before = base[side].get(key)
        gone = base[OTHER[side]].get(key)
        changed = (
            []
            if before is None or gone is None
            else [
                f
                for f, v in appointment_view(survivor).items()
                if v != appointment_view(before)[f] and v != appointment_view(gone)[f]
            ]
        )
        # Any edit the delete takes is reported, a value the deleted side held included.
        edited = before is not None and appointment_view(survivor) != appointment_view(before)
        # The deleted side's directions come from its last synced record; today's settings.
        pair = (c or base["crm"].get(key), o or base["outlook"].get(key))
        travels = any(
            appointment_direction(settings, f, *pair)
            in ("two_way", "to_outlook" if side == "crm" else "to_crm")
            for f in changed
        )
        if key not in linked or travels:
            create(key, survivor, side, fresh=key not in linked)
            continue
        if side == "outlook":  # deleted in the CRM
            kept = not organizes(survivor, user) or survivor.start <= now
        else:  # deleted in Outlook
            kept = (
                str(survivor.kind) == "service_activity"
                or not organizes(survivor, user)
                or str(survivor.state) in CLOSED
                or survivor.end <= now
            )
        if kept:
            out.ops.add(("unlink", side, key))
            out.note(key, "delete_not_propagated")
        else:
            out.ops.add(("delete", side, key))
            del result[side][key]
            if edited:
                out.note(key, "field_not_synced")  # an edit that could not travel, lost
    if baseline is None and held["crm"].keys() & held["outlook"].keys():
        out.note("", "no_baseline")
    out.crm, out.outlook = result["crm"], result["outlook"]
    return out
