"""The three-way merge of one pair's fields, and the changes between two records.

A domain projects each record into a *view* (field name → value); the merge
compares the views of both sides now and at the last sync, field by field,
and decides what travels, what is a conflict and who wins it, and what is
left for a person. It knows nothing of records or domains, and reads no
clock: `crmsync.merge` runs it for every pair a domain plans.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Iterable, Mapping
from itertools import compress, repeat
from typing import Any

import attrs

from crmsync.fields import FieldRule
from crmsync.plan import FieldChange, Notice, Severity, describe
from crmsync.records import Address, Domain, Side
from crmsync.settings import ConflictPolicy, Direction

__all__ = [
    "CHANGED_IN",
    "SIDE_NAMES",
    "MergeResult",
    "View",
    "can_send",
    "changes_between",
    "is_blank",
    "merge_fields",
]

View = dict[str, Any]
SIDE_NAMES = {Side.CRM: "the CRM", Side.OUTLOOK: "Outlook"}
"""Each side as a sentence names it."""
CHANGED_IN = {side: f"changed_in_{side}" for side in Side}
"""The reason of a change that travels from each side."""


@attrs.frozen
class MergeResult:
    """What the field merge decided for one pair.

    `crm` and `outlook` hold the view fields to write on each side; `pending`
    the fields left for a person (their baseline values stay).
    """

    crm: View
    outlook: View
    crm_reason: str
    outlook_reason: str
    pending: frozenset[str]
    notices: tuple[Notice, ...]


_REASON_RANK = {"": 0, "changed_in_crm": 1, "changed_in_outlook": 1, "first_sync": 2}


def _stronger(current: str, new: str) -> str:
    return new if _REASON_RANK.get(new, 3) > _REASON_RANK.get(current, 3) else current


def _winner(
    policy: ConflictPolicy, crm_modified: dt.datetime | None, outlook_modified: dt.datetime | None
) -> Side:
    if policy is ConflictPolicy.OUTLOOK_WINS:
        return Side.OUTLOOK
    if policy is ConflictPolicy.NEWEST_WINS and crm_modified and outlook_modified:
        # A tie, or a missing time on either side, goes to the CRM.
        return Side.OUTLOOK if outlook_modified > crm_modified else Side.CRM
    return Side.CRM


def is_blank(value: Any) -> bool:
    """True for an empty value: None, "", (), or an empty address."""
    if isinstance(value, Address):
        return value.is_empty
    return value is None or value in ("", ())


_NAME = operator.attrgetter("name")
_ABSENT = object()
"""A field a view does not hold."""

_SENDS_TO_OUTLOOK = frozenset(d for d in Direction if d.to_outlook)
_SENDS_TO_CRM = frozenset(d for d in Direction if d.to_crm)


def _note(
    notices: list[Notice],
    domain: Domain,
    key: str,
    code: str,
    message: str,
    severity: Severity,
    side: Side | None,
) -> None:
    notices.append(
        Notice(domain=domain, key=key, code=code, message=message, severity=severity, side=side)
    )


def can_send(direction: Direction, side: Side) -> bool:
    """True when `direction` lets a change made on `side` travel to the other side."""
    return direction in (_SENDS_TO_OUTLOOK if side is Side.CRM else _SENDS_TO_CRM)


def merge_fields(
    *,
    domain: Domain,
    key: str,
    rules: Iterable[FieldRule],
    crm: Mapping[str, Any],
    outlook: Mapping[str, Any],
    base_crm: Mapping[str, Any] | None,
    base_outlook: Mapping[str, Any] | None,
    directions: Mapping[str, Direction],
    policy: ConflictPolicy,
    crm_modified: dt.datetime | None = None,
    outlook_modified: dt.datetime | None = None,
    coupled: Iterable[frozenset[str]] = (),
) -> MergeResult:
    """Three-way merges one linked pair, field by field.

    Without a baseline (a first sync) every differing field is a conflict. A
    field in neither view is not compared.

    Args:
        domain: the pair's domain, for notices.
        key: the pair's key, for notices.
        rules: the fields to merge.
        crm: the CRM record's view now.
        outlook: the Outlook record's view now.
        base_crm: the CRM record's view at the last sync, or None.
        base_outlook: the Outlook record's view at the last sync, or None.
        directions: each field's direction for this pair.
        policy: who wins a conflict.
        crm_modified: when the CRM record last changed (NEWEST_WINS).
        outlook_modified: when the Outlook record last changed.
        coupled: groups of fields a side keeps consistent with each other (a
            task's status, percent complete and completed date): when one of
            them is in conflict, the group is resolved as one, so a change
            that travels alone cannot undo the resolution.

    Returns:
        The values to write on each side, the pending fields and the notices.
    """
    # Only the fields that differ between the sides take part; an equal field
    # is settled whatever the baseline says.
    changes: list[tuple[FieldRule, bool, bool]] = []
    in_conflict: set[str] = set()  # changed on both sides, and the field syncs
    rules = tuple(rules)
    names = tuple(map(_NAME, rules))
    crm_values = tuple(map(crm.get, names, repeat(_ABSENT)))
    outlook_values = tuple(map(outlook.get, names, repeat(_ABSENT)))
    # The fields whose values differ, found without a Python step per field.
    differ = map(operator.not_, map(operator.eq, crm_values, outlook_values))
    for i in compress(range(len(names)), differ):
        rule, c, o = rules[i], crm_values[i], outlook_values[i]
        if c is _ABSENT or o is _ABSENT:
            continue  # in one view only: not compared
        name = rule.name
        compare = rule.compare
        if compare is not None and compare(c) == compare(o):
            continue
        if base_crm is None or base_outlook is None:
            # First sync: differing fields are conflicts, except that a value
            # fills an empty field without overwriting anything.
            crm_changed, outlook_changed = not is_blank(c), not is_blank(o)
        else:
            b, d = base_crm[name], base_outlook[name]
            crm_changed = not (c == b or (compare is not None and compare(c) == compare(b)))
            outlook_changed = not (o == d or (compare is not None and compare(o) == compare(d)))
        changes.append((rule, crm_changed, outlook_changed))
        if (
            crm_changed
            and outlook_changed
            and directions.get(name, Direction.TWO_WAY) is not Direction.NONE
        ):
            in_conflict.add(name)
    if not changes:
        return MergeResult(
            crm={}, outlook={}, crm_reason="", outlook_reason="", pending=frozenset(), notices=()
        )

    writes: dict[Side, View] = {Side.CRM: {}, Side.OUTLOOK: {}}
    reasons = {Side.CRM: "", Side.OUTLOOK: ""}
    pending: set[str] = set()
    notices: list[Notice] = []
    now = {Side.CRM: crm, Side.OUTLOOK: outlook}

    # A field that moves with a conflicting one is resolved with it.
    held = (
        {
            name: sorted(group & in_conflict)[0]
            for group in coupled
            if group & in_conflict
            for name in group - in_conflict
        }
        if in_conflict
        else {}
    )
    # Only a conflict (or a field held by one) asks who wins.
    winner = _winner(policy, crm_modified, outlook_modified) if in_conflict else Side.CRM
    unsynced = base_crm is None

    for rule, crm_changed, outlook_changed in changes:
        name = rule.name
        if not (crm_changed or outlook_changed):
            continue  # a standing difference on a one-way field: nothing new
        direction = directions.get(name, Direction.TWO_WAY)
        if crm_changed != outlook_changed:
            source = Side.CRM if crm_changed else Side.OUTLOOK
            partner = held.get(name)
            if partner is not None and can_send(direction, source):
                if policy is ConflictPolicy.MANUAL:
                    pending.add(name)
                    _note(
                        notices,
                        domain,
                        key,
                        "conflict",
                        f"{rule.title} changed in {SIDE_NAMES[source]} to "
                        f"{describe(now[source][name])}, but it moves together with "
                        f"{partner.replace('_', ' ')}, which changed on both sides; left "
                        "for a person to resolve (conflict policy: manual).",
                        Severity.WARNING,
                        None,
                    )
                    continue
                if source is not winner and can_send(direction, winner):
                    writes[source][name] = now[winner][name]
                    reasons[source] = _stronger(reasons[source], f"conflict_{policy.value}")
                    _note(
                        notices,
                        domain,
                        key,
                        "conflict_resolved",
                        f"{rule.title} moves together with {partner.replace('_', ' ')}, "
                        f"which changed on both sides; {SIDE_NAMES[winner]}'s "
                        f"{describe(now[winner][name])} won (conflict policy: {policy.value}) and "
                        f"{SIDE_NAMES[source]}'s {describe(now[source][name])} was overwritten.",
                        Severity.WARNING,
                        source,
                    )
                    continue
            if can_send(direction, source):
                target = Side.OUTLOOK if crm_changed else Side.CRM
                writes[target][name] = now[source][name]
                why = "first_sync" if unsynced else CHANGED_IN[source]
                reasons[target] = _stronger(reasons[target], why) if reasons[target] else why
            else:
                _note(
                    notices,
                    domain,
                    key,
                    "field_not_synced",
                    f"{rule.title} changed in {SIDE_NAMES[source]} to "
                    f"{describe(now[source][name])}, but it does not sync to "
                    f"{SIDE_NAMES[source.other]} (direction: {direction.value}); "
                    f"the change stays in {SIDE_NAMES[source]}.",
                    Severity.INFO,
                    source,
                )
            continue
        # Changed on both sides, differently.
        if not (can_send(direction, Side.CRM) or can_send(direction, Side.OUTLOOK)):
            _note(
                notices,
                domain,
                key,
                "field_not_synced",
                f"{rule.title} differs (the CRM: {describe(crm[name])}, Outlook: "
                f"{describe(outlook[name])}) and does not sync (direction: none).",
                Severity.INFO,
                None,
            )
            continue
        if policy is ConflictPolicy.MANUAL:
            pending.add(name)
            _note(
                notices,
                domain,
                key,
                "conflict",
                f"{rule.title} {'differs' if unsynced else 'changed on both sides'} (the CRM: "
                f"{describe(crm[name])}, Outlook: {describe(outlook[name])}); "
                "left for a person to resolve (conflict policy: manual).",
                Severity.WARNING,
                None,
            )
            continue
        won = winner
        why = f"conflict policy: {policy.value}"
        if not can_send(direction, won):
            won = won.other
            why = f"it only syncs to {SIDE_NAMES[won.other]}"
        loser = won.other
        writes[loser][name] = now[won][name]
        reason = "first_sync" if unsynced else f"conflict_{policy.value}"
        reasons[loser] = _stronger(reasons[loser], reason)
        _note(
            notices,
            domain,
            key,
            "conflict_resolved",
            f"{rule.title} {'differed' if unsynced else 'changed on both sides'}; "
            f"{SIDE_NAMES[won]}'s {describe(now[won][name])} won ({why}) and "
            f"{SIDE_NAMES[loser]}'s {describe(now[loser][name])} was overwritten.",
            Severity.WARNING,
            loser,
        )
    return MergeResult(
        crm=writes[Side.CRM],
        outlook=writes[Side.OUTLOOK],
        crm_reason=reasons[Side.CRM],
        outlook_reason=reasons[Side.OUTLOOK],
        pending=frozenset(pending),
        notices=tuple(notices),
    )


def changes_between(before: Any, after: Any) -> tuple[FieldChange, ...]:
    """The attribute changes that turn record `before` into `after`.

    `key` and `modified` are never changes.
    """
    if after is before:
        return ()
    names, values = _compared_fields(type(before))
    olds, news = values(before), values(after)
    # A rebuilt record shares its unchanged values: find the others in one C-level pass.
    return tuple(
        FieldChange(names[i], olds[i], news[i])
        for i in compress(range(len(names)), map(operator.is_not, olds, news))
        if olds[i] != news[i]
    )


_COMPARED: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}


def _compared_fields(cls: type) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]:
    """A record class's attributes that can change (not `key`, not `modified`), and a getter."""
    found = _COMPARED.get(cls)
    if found is None:
        names = tuple(f.name for f in attrs.fields(cls) if f.name not in ("key", "modified"))
        getter = operator.attrgetter(*names)
        found = (names, getter if len(names) > 1 else lambda record: (getter(record),))
        _COMPARED[cls] = found
    return found
