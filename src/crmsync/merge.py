"""The shared three-way merge every sync domain runs on: the scan, the pairs, the guard.

This module finds the keys to plan and decides creates, deletes, links and
the mass-delete guard; the merge of one pair's fields lives in
`crmsync.fieldmerge` (re-exported here as `merge_fields`, `changes_between`,
`MergeResult` and `View`).

Rule 1: no domain knowledge. The merge compares *views* (field name → value)
        that a domain projects from its records; it never knows about
        addresses, attachments or assigned tasks. Domains plug their rules in
        through `DomainRules`.
Rule 2: a changed value is never dropped silently. A change either travels,
        or wins a conflict (the losing value is recorded in a
        `conflict_resolved` notice), or is reported (`field_not_synced`,
        `conflict`, `delete_not_propagated`, `mass_delete_blocked`).
Rule 3: a delete never destroys an unpropagated change: a record deleted on
        one side and changed on the other, in a field whose direction lets the
        change reach the deleted side, is recreated where it was deleted. A
        change that could never travel there goes with the delete, reported as
        `field_not_synced` (data loss).
Rule 4: the same inputs in any order give the same result, and nothing here
        reads a clock, a file or a random number.
"""

from __future__ import annotations

import functools
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from enum import StrEnum
from itertools import compress, filterfalse, repeat
from types import MappingProxyType
from typing import Any, ClassVar, Generic, TypeVar

import attrs

from crmsync import crm_limits
from crmsync.fieldmerge import (
    CHANGED_IN,
    SIDE_NAMES,
    MergeResult,
    View,
    can_send,
    changes_between,
    is_blank,
    merge_fields,
)
from crmsync.fields import FieldRule
from crmsync.plan import Action, BaselineUpdate, FieldChange, Notice, Op, Plan, Severity, describe
from crmsync.policy import SyncInput, finish_plan
from crmsync.records import Domain, Side, as_complete, current_record
from crmsync.settings import Direction, Settings

__all__ = [
    "DomainPolicy",
    "DomainRules",
    "FieldRule",
    "MergeResult",
    "Pair",
    "PairResult",
    "View",
    "changes_between",
    "merge_fields",
    "sync_domain",
]

CrmT = TypeVar("CrmT")
OutT = TypeVar("OutT")

MASS_DELETE_MINIMUM = 10


@functools.lru_cache(maxsize=64)
def _configured_directions(
    rules: DomainRules[Any, Any], settings: Settings
) -> Mapping[str, Direction]:
    # Computed once per (domain rules, settings), not once per pair, hence read-only.
    return MappingProxyType(
        {
            rule.name: rule.direction
            if rule.fixed
            else settings.direction(f"{rules.domain.value}.{rule.name}")
            for rule in rules.fields
        }
    )


@attrs.frozen
class Pair:
    """One key's records: now on each side (None if absent) and at the last sync.

    When the scan found the CRM record equal to its baseline, `base_crm` is
    the current record itself (the same values; `modified` is metadata, never
    compared), so the merge builds that record's view once.
    """

    key: str
    crm: Any
    outlook: Any
    base_crm: Any = None
    base_outlook: Any = None

    @property
    def linked(self) -> bool:
        """True when the baseline holds the pair on both sides."""
        return self.base_crm is not None and self.base_outlook is not None


@attrs.define(kw_only=True)
class PairResult:
    """What a domain decided for one key: the records as the plan leaves them.

    The driver turns the difference between `*_before` and `*_after` into ops
    and `base_*` into the baseline update (`keep_baseline` leaves the
    baseline entry as it was).
    """

    key: str
    crm_before: Any
    outlook_before: Any
    crm_after: Any
    outlook_after: Any
    crm_reason: str = ""
    outlook_reason: str = ""
    base_crm: Any = None
    base_outlook: Any = None
    keep_baseline: bool = False
    unlinked: bool | None = None
    pending_remap: bool | None = None
    notices: tuple[Notice, ...] = ()
    extra_ops: tuple[Op, ...] = ()


class DomainRules(Generic[CrmT, OutT]):
    """A sync domain's rules, plugged into the shared merge.

    Subclasses set `domain`, `fields` and `snapshot_field`, implement the
    views and the builders, and override the hooks their rules need.
    """

    domain: ClassVar[Domain]
    fields: ClassVar[tuple[FieldRule, ...]]
    snapshot_field: ClassVar[str]
    coupled: ClassVar[tuple[frozenset[str], ...]] = ()
    """Groups of fields a record keeps consistent together (see `merge_fields`)."""
    carried_on_create: ClassVar[frozenset[str]] = frozenset()
    """Fields a created record carries whatever their direction (written once, never updated)."""

    # --- projections -------------------------------------------------------
    def crm_view(self, record: CrmT, settings: Settings) -> View:
        """The CRM record as a view."""
        raise NotImplementedError

    def outlook_view(self, record: OutT, settings: Settings) -> View:
        """The Outlook record as a view."""
        raise NotImplementedError

    def to_crm(
        self, view: View, template: CrmT | None, key: str, inp: SyncInput, settings: Settings
    ) -> CrmT:
        """Writes view fields onto `template`, or builds a new CRM record from a view."""
        raise NotImplementedError

    def to_outlook(
        self, view: View, template: OutT | None, key: str, inp: SyncInput, settings: Settings
    ) -> OutT:
        """Writes view fields onto `template`, or builds a new Outlook record from a view."""
        raise NotImplementedError

    # --- hooks ---------------------------------------------------------------
    def refusals(self, record: Any, side: Side, inp: SyncInput) -> list[Notice]:
        """Notices for a record that does not sync at all; empty when it syncs."""
        if side is Side.OUTLOOK and not record.tracked:
            return [
                self.notice(
                    record.key,
                    "not_tracked",
                    "This Outlook item is not tracked in the CRM, so it does not sync.",
                    Severity.INFO,
                    side,
                )
            ]
        return []

    def refusal_candidates(
        self, records: Iterable[Any], side: Side, inp: SyncInput
    ) -> Iterable[Any]:
        """The records `refusals` may refuse: a cheap screen, so that it is not called for all.

        Every record `refusals` would refuse must be among them. The default
        screens for untracked Outlook items when `refusals` is the default
        one, and passes every record through when a subclass overrides it.
        """
        if type(self).refusals is not DomainRules.refusals:
            return records
        if side is Side.OUTLOOK:
            return [record for record in records if not record.tracked]
        return ()

    natural_key_label: ClassVar[str] = "natural key"
    """What `natural_key` is, in sentences ("first e-mail address")."""

    def natural_key(self, record: Any, side: Side) -> str:
        """What identifies a record new on both sides (empty: never matches)."""
        return ""

    def directions(
        self, crm: CrmT | None, outlook: OutT | None, settings: Settings
    ) -> Mapping[str, Direction]:
        """Each field's direction for this pair: fixed, or as the settings say."""
        return _configured_directions(self, settings)

    def delete_refused(self, deleted_on: Side, survivor: Any, pair: Pair, inp: SyncInput) -> str:
        """Why a delete on `deleted_on` is not applied to the survivor ('' applies it)."""
        return ""

    def pending(self, key: str, inp: SyncInput) -> bool:
        """True when the baseline says work on this key is still waiting."""
        return False

    def pending_keys(self, inp: SyncInput) -> Iterable[str]:
        """Every key `pending` is true for: the plan reads these even when unchanged.

        A subclass that overrides `pending` overrides this too.
        """
        return ()

    def finish(self, results: list[PairResult], inp: SyncInput) -> None:
        """A last pass over all the domain's results (budgets and the like)."""

    def fit_to_crm(self, result: PairResult) -> None:
        """Cuts what the plan writes to the CRM to its columns' MaxLength, with a notice each.

        The CRM's record and its baseline hold the cut value, the Outlook side
        keeps the full one, so the cut is no change on the next round.
        """
        after = result.crm_after
        if after is None or after is result.crm_before:
            return
        fitted, cuts = crm_limits.fit(self.domain, after)
        if not cuts:
            return
        if result.base_crm is after:
            result.base_crm = fitted
        elif result.base_crm is not None:
            result.base_crm = crm_limits.fit(self.domain, result.base_crm)[0]
        result.crm_after = fitted
        result.notices += tuple(
            self.notice(
                result.key,
                "value_truncated",
                f"The {cut.limit.field} is {cut.length} characters long, but the CRM's "
                f"{cut.limit.column} column holds at most {cut.limit.max_length}: the CRM gets "
                f"the first {cut.limit.max_length}, Outlook keeps the full text.",
                Severity.WARNING,
                Side.CRM,
            )
            for cut in cuts
        )

    # --- the generic steps ---------------------------------------------------
    def notice(
        self, key: str, code: str, message: str, severity: Severity, side: Side | None = None
    ) -> Notice:
        """A notice in this domain."""
        return Notice(
            domain=self.domain, key=key, code=code, message=message, severity=severity, side=side
        )

    def view(self, record: Any, side: Side, settings: Settings) -> View:
        """The view of a record of either side."""
        if side is Side.CRM:
            return self.crm_view(record, settings)
        return self.outlook_view(record, settings)

    def build(
        self, view: View, template: Any, key: str, side: Side, inp: SyncInput, settings: Settings
    ) -> Any:
        """Writes a view onto a record of either side (or builds one)."""
        if side is Side.CRM:
            return self.to_crm(view, template, key, inp, settings)
        return self.to_outlook(view, template, key, inp, settings)

    def changed(self, a: View, b: View) -> bool:
        """True when two views of one side differ for sync purposes."""
        return any(
            rule.name in a and not rule.same(a[rule.name], b.get(rule.name)) for rule in self.fields
        )

    def create(self, pair: Pair, source: Side, inp: SyncInput, reason: str) -> PairResult:
        """Creates the source record on the other side (only fields that may travel)."""
        record = pair.crm if source is Side.CRM else pair.outlook
        target = source.other
        directions = self.directions(pair.crm, pair.outlook, inp.settings)
        view: View = {}
        left: list[str] = []
        titles = {rule.name: rule.title for rule in self.fields}
        for name, value in self.view(record, source, inp.settings).items():
            direction = directions.get(name, Direction.TWO_WAY)
            if can_send(direction, source) or name in self.carried_on_create:
                view[name] = value
            elif not is_blank(value):
                left.append(
                    f"{titles.get(name, name)} {describe(value)} (direction: {direction.value})"
                )
        created = self.build(view, None, pair.key, target, inp, inp.settings)
        crm, outlook = (record, created) if source is Side.CRM else (created, record)
        result = PairResult(
            key=pair.key,
            crm_before=pair.crm,
            outlook_before=pair.outlook,
            crm_after=crm,
            outlook_after=outlook,
            base_crm=crm,
            base_outlook=outlook,
        )
        setattr(result, f"{target}_reason", reason)
        if left:
            # The same value held back from an existing record gets this notice too.
            result.notices += (
                self.notice(
                    pair.key,
                    "field_not_synced",
                    f"Created in {SIDE_NAMES[target]} without "
                    + "; ".join(left)
                    + (", which do" if len(left) > 1 else ", which does")
                    + f" not sync to {SIDE_NAMES[target]}: "
                    + ("the values stay" if len(left) > 1 else "the value stays")
                    + f" in {SIDE_NAMES[source]} only.",
                    Severity.INFO,
                    source,
                ),
            )
        return result

    def merge_pair(
        self,
        pair: Pair,
        inp: SyncInput,
        settings: Settings | None = None,
        skip: frozenset[str] = frozenset(),
    ) -> PairResult:
        """Merges a pair present on both sides.

        Args:
            pair: the records now and at the last sync.
            inp: the whole input.
            settings: the settings to make views under (default: the current ones).
            skip: view fields to leave out of the merge.

        Returns:
            The records as the plan leaves them, and the baseline to keep.
        """
        settings = settings or inp.settings
        crm_view, outlook_view = self.crm_view, self.outlook_view
        views = [crm_view(pair.crm, settings), outlook_view(pair.outlook, settings)]
        base_crm = pair.base_crm
        base_outlook = pair.base_outlook
        linked = base_crm is not None and base_outlook is not None
        if linked:
            views += (
                views[0] if base_crm is pair.crm else crm_view(base_crm, settings),
                views[1] if base_outlook is pair.outlook else outlook_view(base_outlook, settings),
            )
        if skip:
            views = [{k: v for k, v in view.items() if k not in skip} for view in views]
        merged = merge_fields(
            domain=self.domain,
            key=pair.key,
            rules=self.fields,
            crm=views[0],
            outlook=views[1],
            base_crm=views[2] if linked else None,
            base_outlook=views[3] if linked else None,
            directions=self.directions(pair.crm, pair.outlook, settings),
            policy=settings.conflict,
            crm_modified=getattr(pair.crm, "modified", None),
            outlook_modified=getattr(pair.outlook, "modified", None),
            coupled=self.coupled,
        )
        crm_after, outlook_after = pair.crm, pair.outlook
        if merged.crm:
            crm_after = self.to_crm(merged.crm, pair.crm, pair.key, inp, settings)
        if merged.outlook:
            outlook_after = self.to_outlook(merged.outlook, pair.outlook, pair.key, inp, settings)
        result = PairResult(
            key=pair.key,
            crm_before=pair.crm,
            outlook_before=pair.outlook,
            crm_after=crm_after,
            outlook_after=outlook_after,
            crm_reason=merged.crm_reason,
            outlook_reason=merged.outlook_reason,
            base_crm=crm_after,
            base_outlook=outlook_after,
            notices=merged.notices,
        )
        if merged.pending:
            # A field left for a person keeps, in each side's baseline, the value the
            # *other* side holds, as if each side had changed it from the other's. The
            # next plan then sees both sides changed, so the conflict stays a conflict
            # until the sides agree, whatever either side does meanwhile (a side going
            # back to an older value included), and a side that still holds what it
            # held when the conflict was reported has not changed it since. On a first
            # sync this also links the pair: a later delete is a delete, and an edit of
            # another field a one-sided change.
            for side, other_view in ((Side.CRM, views[1]), (Side.OUTLOOK, views[0])):
                kept = {name: other_view[name] for name in merged.pending}
                after = result.crm_after if side is Side.CRM else result.outlook_after
                rebuilt = self.build(kept, after, pair.key, side, inp, settings)
                if side is Side.CRM:
                    result.base_crm = rebuilt
                else:
                    result.base_outlook = rebuilt
        return result


def _mass_delete_blocked(
    rules: DomainRules[Any, Any],
    linked: int,
    present: Mapping[Side, int],
    settings: Settings,
    total: int | None = None,
) -> tuple[dict[Side, bool], list[Notice]]:
    """Whether each side's deletes are blocked: `linked` pairs, `present[side]` still held."""
    blocked = {Side.CRM: False, Side.OUTLOOK: False}
    notices = []
    total = linked if total is None else total
    for side in Side:
        lost = linked - present[side]
        share = lost / total if total else 0.0
        if lost >= MASS_DELETE_MINIMUM and share > settings.mass_delete_threshold:
            if settings.allow_mass_delete:
                continue
            blocked[side] = True
            notices.append(
                rules.notice(
                    "",
                    "mass_delete_blocked",
                    f"{SIDE_NAMES[side]} lost {lost} of {total} linked "
                    f"{rules.snapshot_field} since the last sync ({share:.0%}); nothing they "
                    "would cause is written. If the deletes are real, plan again with "
                    "allow_mass_delete.",
                    Severity.DATA_LOSS,
                    side,
                )
            )
    return blocked, notices


def _match_new(
    rules: DomainRules[Any, Any],
    candidates: Mapping[Side, list[Any]],
    survivors: AbstractSet[str] = frozenset(),
) -> tuple[list[tuple[Any, Any]], set[str], list[Notice]]:
    """Pairs records by natural key: (crm, outlook) links.

    Candidates are the records new on both sides, the unlinked ones, and the
    `survivors`: records whose partner is gone since the last sync. A survivor
    matches only a record new on the other side (a Graph contact moved to
    another folder comes back under a new id), never another survivor: two
    pairs that each lost a side are two pairs.
    """
    groups: dict[str, dict[Side, list[Any]]] = defaultdict(lambda: {Side.CRM: [], Side.OUTLOOK: []})
    for side, records in candidates.items():
        for record in records:
            natural = rules.natural_key(record, side)
            if natural:
                groups[natural][side].append(record)
    if survivors:
        for found in groups.values():
            fresh = {side: [r for r in found[side] if r.key not in survivors] for side in Side}
            for side in Side:
                if not fresh[side.other]:
                    found[side] = fresh[side]
    links: list[tuple[Any, Any]] = []
    held: set[str] = set()
    notices: list[Notice] = []
    for natural in sorted(groups):
        found = groups[natural]
        if not found[Side.CRM] or not found[Side.OUTLOOK]:
            continue
        if len(found[Side.CRM]) == 1 and len(found[Side.OUTLOOK]) == 1:
            links.append((found[Side.CRM][0], found[Side.OUTLOOK][0]))
            continue
        keys = {side: sorted(r.key for r in found[side]) for side in Side}
        for side in Side:
            for record in found[side]:
                held.add(record.key)
                notices.append(
                    rules.notice(
                        record.key,
                        "ambiguous_match",
                        f"{natural!r} matches {len(keys[Side.CRM])} CRM and "
                        f"{len(keys[Side.OUTLOOK])} Outlook records that are new on both sides "
                        f"(CRM: {', '.join(keys[Side.CRM])}; "
                        f"Outlook: {', '.join(keys[Side.OUTLOOK])}); "
                        "nothing is linked or created until a person links them.",
                        Severity.WARNING,
                        side,
                    )
                )
    return links, held, notices


_Records = dict[Side, Mapping[str, Any]]


def _records(rules: DomainRules[Any, Any], inp: SyncInput) -> tuple[_Records, _Records, bool]:
    """The domain's records now and in the baseline, by side and key.

    Complete snapshots give every record. When both snapshots are partial and
    the settings are the baseline's, only the records in scope are read: the
    keys either snapshot holds or removes, the keys whose work is pending and
    the keys the baseline holds on one side only. Every other key is a linked
    pair unchanged on both sides, which the plan skips anyway, so the cost
    follows the changes, not the mailbox. (A settings change revisits every
    pair, so a partial snapshot is then read through in full.)

    Returns:
        The records now, the baseline records, and whether they are scoped.
    """
    field = rules.snapshot_field
    crm, outlook, baseline = inp.crm, inp.outlook, inp.baseline
    if baseline is None:
        # Without a baseline a partial snapshot stands for what it holds.
        empty: Mapping[str, Any] = {}
        return (
            {Side.CRM: crm.by_key[field], Side.OUTLOOK: outlook.by_key[field]},
            {Side.CRM: empty, Side.OUTLOOK: empty},
            False,
        )
    previous = {Side.CRM: baseline.crm.by_key[field], Side.OUTLOOK: baseline.outlook.by_key[field]}
    if crm.complete or outlook.complete or baseline.settings != inp.settings:
        whole = {
            Side.CRM: as_complete(crm, baseline.crm).by_key[field],
            Side.OUTLOOK: as_complete(outlook, baseline.outlook).by_key[field],
        }
        return whole, previous, False
    scope = {
        *crm.by_key[field],
        *outlook.by_key[field],
        *crm.removed,
        *outlook.removed,
        *baseline.one_sided(field),
        *rules.pending_keys(inp),
    }
    now: _Records = {}
    then: _Records = {}
    for side, snapshot, before in (
        (Side.CRM, crm, baseline.crm),
        (Side.OUTLOOK, outlook, baseline.outlook),
    ):
        found = {key: current_record(snapshot, before, field, key) for key in scope}
        now[side] = {key: record for key, record in found.items() if record is not None}
        then[side] = {key: previous[side][key] for key in scope if key in previous[side]}
    return now, then, True


_ABSENT = object()
"""A default that equals no record."""


class _Linked:
    """The keys linked at the last sync (both sides of the baseline hold them).

    Membership is two lookups, and the count is made only when asked for: a
    plan over many unchanged pairs never builds the set of their keys.
    """

    __slots__ = ("_crm", "_outlook")

    def __init__(self, crm: Mapping[str, Any], outlook: Mapping[str, Any]) -> None:
        self._crm, self._outlook = crm, outlook

    def __contains__(self, key: object) -> bool:
        return key in self._crm and key in self._outlook

    def count(self) -> int:
        """How many keys are linked."""
        fewer, more = sorted((self._crm, self._outlook), key=len)
        return sum(map(more.__contains__, fewer))

    def held_by_neither(self, crm: Mapping[str, Any], outlook: Mapping[str, Any]) -> list[str]:
        """The linked keys neither `crm` nor `outlook` holds."""
        return [
            key
            for key in self._crm
            if key in self._outlook and key not in crm and key not in outlook
        ]


@attrs.define
class _Scan:
    """One pass over a domain's keys: what to plan, and the counts the rules need.

    Attributes:
        keys: every key to plan: all but the linked pairs unchanged since the
            last sync (and whose work is not pending).
        linked: how many keys were linked at the last sync.
        crm_unchanged: the keys planned whose CRM record equals its baseline.
        crm_changed: the CRM's keys whose record differs from its baseline
            (or has none).
        outlook_changed: the keys of `crm_unchanged` whose Outlook record
            differs from its baseline (or is absent on either side).
        crm_only: the keys only the CRM holds.
        outlook_only: the keys only Outlook holds.
        present: per side, how many linked keys that side still holds.

    When the settings changed, the records are not compared: every key is
    planned, and `crm_unchanged`, `crm_changed` and `outlook_changed` are empty.
    """

    keys: list[str]
    linked: int
    crm_unchanged: set[str]
    crm_changed: frozenset[str]
    outlook_changed: frozenset[str]
    crm_only: list[str]
    outlook_only: AbstractSet[str]
    present: dict[Side, int]


def _scan(
    rules: DomainRules[Any, Any],
    inp: SyncInput,
    current: _Records,
    base: _Records,
    linked: _Linked,
) -> _Scan:
    """Finds the keys to plan in one pass over the CRM's records.

    Each CRM record is compared with its baseline and, only when equal, the
    Outlook record with its own: an unchanged pair costs two comparisons and
    counts as present on both sides. The keys only Outlook holds, and the
    linked keys neither side holds any more, are looked for only when the
    counts say some exist (when every key of the CRM's baseline is still in
    the CRM, no linked key can be missing from both sides). An unchanged pair
    is planned anyway when its work is pending, or when the settings changed
    (a new setting may make an old difference travel).
    """
    crm_now, outlook_now = current[Side.CRM], current[Side.OUTLOOK]
    base_crm, base_outlook = base[Side.CRM], base[Side.OUTLOOK]
    fast = inp.baseline is not None and inp.baseline.settings == inp.settings
    waiting = frozenset(rules.pending_keys(inp)) if fast else frozenset()
    keys: list[str] = []
    crm_unchanged: set[str] = set()
    crm_changed: frozenset[str] = frozenset()
    outlook_changed: frozenset[str] = frozenset()
    unchanged = 0
    if fast:
        # The comparisons run from C (`map`), not a Python step per record: a
        # CRM record equal to its baseline, then the Outlook record with its
        # own (absent on both sides is not unchanged: `_ABSENT` equals nothing).
        same = list(map(operator.eq, crm_now.values(), map(base_crm.get, crm_now)))
        keys.extend(compress(crm_now, map(operator.not_, same)))
        crm_changed = frozenset(keys)
        crm_same = list(compress(crm_now, same))
        outlook_same = list(
            map(
                operator.eq,
                map(outlook_now.get, crm_same, repeat(_ABSENT)),
                map(base_outlook.get, crm_same),
            )
        )
        changed = list(compress(crm_same, map(operator.not_, outlook_same)))
        outlook_changed = frozenset(changed)
        unchanged = len(crm_same) - len(changed)
        if waiting:
            held = [k for k in compress(crm_same, outlook_same) if k in waiting]
            unchanged -= len(held)
            changed += held
        keys += changed
        crm_unchanged.update(changed)
        in_base = len(crm_same) + sum(map(base_crm.__contains__, crm_changed))
    else:
        keys.extend(crm_now)
        in_base = sum(map(base_crm.__contains__, crm_now))
    # Only the keys planned can be one-sided or linked and half-deleted.
    crm_only = list(filterfalse(outlook_now.__contains__, keys))
    # Which of them were linked, found in C: in the baseline on both sides.
    planned_linked = list(
        map(operator.and_, map(base_crm.__contains__, keys), map(base_outlook.__contains__, keys))
    )
    crm_linked = unchanged + sum(planned_linked)
    both = len(crm_now) - len(crm_only)
    outlook_only = outlook_now.keys() - crm_now.keys() if both < len(outlook_now) else frozenset()
    only_outlook_linked = sum(key in linked for key in outlook_only)
    outlook_linked = unchanged + only_outlook_linked
    outlook_linked += sum(map(operator.and_, planned_linked, map(outlook_now.__contains__, keys)))
    keys.extend(outlook_only)
    if in_base == len(base_crm):
        total = crm_linked  # every linked key is still in the CRM
    else:
        total = linked.count()
        if crm_linked + only_outlook_linked < total:
            # Linked pairs deleted on both sides since the last sync.
            keys.extend(linked.held_by_neither(crm_now, outlook_now))
    present = {Side.CRM: crm_linked, Side.OUTLOOK: outlook_linked}
    return _Scan(
        keys=keys,
        linked=total,
        crm_unchanged=crm_unchanged,
        crm_changed=crm_changed,
        outlook_changed=outlook_changed,
        crm_only=crm_only,
        outlook_only=outlook_only,
        present=present,
    )


def sync_domain(rules: DomainRules[Any, Any], inp: SyncInput, *, fingerprint: bool = True) -> Plan:
    """Plans one domain: refusals, duplicates, creates, merges, deletes, the guard.

    Args:
        rules: the domain's rules.
        inp: both sides, the baseline, the settings.
        fingerprint: compute the plan's fingerprint (`compose` skips it for
            the plans it merges and fingerprints the result once).

    Returns:
        A plan holding the domain's ops, notices and baseline updates.
    """
    field = rules.snapshot_field
    current, base, scoped = _records(rules, inp)
    linked = _Linked(base[Side.CRM], base[Side.OUTLOOK])
    unlinked = set()
    if inp.baseline is not None:
        unlinked = {key for domain, key in inp.baseline.unlinked if domain is rules.domain}

    notices: list[Notice] = []
    ops: list[Op] = []
    updates: list[BaselineUpdate] = []

    refused: set[str] = set()
    for side in Side:
        for record in rules.refusal_candidates(current[side].values(), side, inp):
            found = rules.refusals(record, side, inp)
            if found:
                notices.extend(found)
                refused.add(record.key)
    scan = _scan(rules, inp, current, base, linked)
    # Duplicate prevention: records new on both sides, matched by natural key,
    # and records whose partner is gone matched with a record new on the other
    # side (the same contact under a new id), before anything is created.
    only = {Side.CRM: scan.crm_only, Side.OUTLOOK: scan.outlook_only}
    survivors = {k for side in Side for k in only[side] if k in linked and k not in refused}
    candidates = {
        side: [
            current[side][k]
            for k in sorted({k for k in only[side] if k not in refused})
            if k not in linked or k in survivors
        ]
        for side in Side
    }
    links, held, match_notices = _match_new(rules, candidates, survivors)
    notices.extend(match_notices)
    present = dict(scan.present)
    for crm_record, outlook_record in links:
        held.update((crm_record.key, outlook_record.key))
        ops.append(
            Op(
                action=Action.LINK,
                side=Side.OUTLOOK,
                domain=rules.domain,
                key=outlook_record.key,
                reason="same_natural_key",
                changes=(FieldChange("key", outlook_record.key, crm_record.key),),
            )
        )
        for key in {crm_record.key, outlook_record.key} & unlinked:
            updates.append(BaselineUpdate(domain=rules.domain, key=key, unlinked=False))
        if crm_record.key in survivors:
            # Its partner came back under another key: the pair keeps its baseline, so
            # the next plan merges the fields three ways, and it is not lost.
            present[Side.OUTLOOK] += 1
        if outlook_record.key in survivors:
            # Its CRM record was replaced by one like it: the old pair leaves the baseline.
            present[Side.CRM] += 1
            updates.append(BaselineUpdate(domain=rules.domain, key=outlook_record.key))

    blocked, guard_notices = _mass_delete_blocked(
        rules,
        scan.linked,
        present,
        inp.settings,
        # Out of a partial scope every linked pair is present on both sides.
        total=inp.baseline.linked_count(field) if scoped and inp.baseline else None,
    )
    notices.extend(guard_notices)

    results: list[PairResult] = []
    take: Callable[[PairResult], None] = results.append
    if type(rules).finish is DomainRules.finish:
        # No last pass over the results: each becomes ops at once, while its
        # records are still in the processor's cache.
        def take(result: PairResult) -> None:
            _emit(rules, result, current, base, scan, ops, notices, updates)

    base_crm, base_outlook = base[Side.CRM], base[Side.OUTLOOK]
    # The order of keys does not matter: the plan sorts what comes out.
    crm_now, outlook_now = current[Side.CRM], current[Side.OUTLOOK]
    crm_unchanged = scan.crm_unchanged
    for key in scan.keys:
        if key in held or key in refused:
            continue
        crm, outlook = crm_now.get(key), outlook_now.get(key)
        is_linked = key in base_crm and key in base_outlook
        pair = Pair(
            key,
            crm,
            outlook,
            (crm if key in crm_unchanged else base_crm.get(key)) if is_linked else None,
            base_outlook.get(key) if is_linked else None,
        )
        if crm is not None and outlook is not None:
            result = rules.merge_pair(pair, inp)
            if key in unlinked:
                # The application linked the pair again by giving both records one key.
                result.unlinked = False
            take(result)
            continue
        if crm is None and outlook is None:
            # Deleted on both sides: the pair leaves the baseline.
            if not (blocked[Side.CRM] or blocked[Side.OUTLOOK]):
                updates.append(BaselineUpdate(domain=rules.domain, key=key))
            continue
        survivor_side = Side.CRM if crm is not None else Side.OUTLOOK
        survivor = crm if crm is not None else outlook
        if not is_linked:
            if key in unlinked:
                other = SIDE_NAMES[survivor_side.other]
                notices.append(
                    rules.notice(
                        key,
                        "unlinked",
                        "A delete on the other side broke this record's link earlier, so it does "
                        + (
                            f"not sync. It syncs again once linked: a record new in {other} with "
                            f"the same {rules.natural_key_label} is linked to it, or the "
                            "application gives both records one key."
                            if type(rules).natural_key is not DomainRules.natural_key
                            else "not sync. It syncs again once the application gives it and a "
                            f"record in {other} one key."
                        )
                        + " Delete it to retire it.",
                        Severity.INFO,
                        survivor_side,
                    )
                )
            else:
                take(rules.create(pair, survivor_side, inp, f"new_in_{survivor_side}"))
                if survivor_side is Side.CRM and refused:
                    notices.extend(_possible_duplicate(rules, survivor, current, refused))
            continue
        deleted_on = survivor_side.other
        if blocked[deleted_on]:
            continue
        travelling, stranded = _survivor_changes(rules, pair, survivor_side, inp)
        if travelling:
            # Rule 3: the change wins over the delete.
            fresh = Pair(key, crm, outlook)
            take(rules.create(fresh, survivor_side, inp, "recreated_after_delete"))
            continue
        why = rules.delete_refused(deleted_on, survivor, pair, inp)
        if not why:
            ops.append(
                Op(
                    action=Action.DELETE,
                    side=survivor_side,
                    domain=rules.domain,
                    key=key,
                    reason=f"deleted_in_{deleted_on}",
                )
            )
            if stranded:
                # Safety: an edit the delete destroys is reported as lost, never dropped.
                notices.append(
                    rules.notice(
                        key,
                        "field_not_synced",
                        f"The {rules.domain.value} was deleted in {SIDE_NAMES[deleted_on]}; "
                        f"its changes in {SIDE_NAMES[survivor_side]} ("
                        + "; ".join(stranded)
                        + f") do not sync to {SIDE_NAMES[deleted_on]}, so they are lost "
                        "with the delete.",
                        Severity.DATA_LOSS,
                        survivor_side,
                    )
                )
            updates.append(BaselineUpdate(domain=rules.domain, key=key))
        else:
            ops.append(
                Op(
                    action=Action.UNLINK,
                    side=survivor_side,
                    domain=rules.domain,
                    key=key,
                    reason=f"deleted_in_{deleted_on}",
                )
            )
            notices.append(
                rules.notice(key, "delete_not_propagated", why, Severity.WARNING, survivor_side)
            )
            updates.append(BaselineUpdate(domain=rules.domain, key=key, unlinked=True))

    rules.finish(results, inp)
    for result in results:
        _emit(rules, result, current, base, scan, ops, notices, updates)
    for key in _unlinked_gone(unlinked - held, inp, crm_now, outlook_now):
        # Nothing is left to link: the key leaves `Baseline.unlinked`, so no notice about
        # it repeats for ever.
        updates.append(BaselineUpdate(domain=rules.domain, key=key, unlinked=False))
        notices.append(
            rules.notice(
                key,
                "unlinked_gone",
                "This key was unlinked earlier (a delete or a failed link broke its pair) and "
                "no record holds it any more; it leaves the baseline.",
                Severity.INFO,
            )
        )
    if inp.baseline is None:
        notices.extend(_no_baseline(rules, current, ops))
    return finish_plan(inp, ops, notices, updates, fingerprint=fingerprint)


def _unlinked_gone(
    unlinked: AbstractSet[str],
    inp: SyncInput,
    crm: Mapping[str, Any],
    outlook: Mapping[str, Any],
) -> list[str]:
    """The unlinked keys that no side holds any more.

    The baseline holds no record for an unlinked key, so a partial snapshot
    leaves the survivor out when it did not change: then the survivor is gone
    only when a snapshot lists it in `removed`.
    """
    if not unlinked:
        return []
    complete = inp.crm.complete and inp.outlook.complete
    removed = inp.crm.removed | inp.outlook.removed
    return [
        key
        for key in sorted(unlinked)
        if key not in crm and key not in outlook and (complete or key in removed)
    ]


def _survivor_changes(
    rules: DomainRules[Any, Any], pair: Pair, survivor_side: Side, inp: SyncInput
) -> tuple[bool, list[str]]:
    """How the survivor of a one-sided delete changed since the baseline.

    Returns whether a change can travel to the side where the record was
    deleted (Rule 3: then the record is recreated there), and a description of
    each change that cannot (a delete would destroy those).

    Changed under the views of the last sync counts too: an edit made before
    an address-mode switch is an unpropagated change the delete must not
    destroy. Whether a change can travel is judged by today's directions only:
    the plan is made with the settings it is given, so a change against a
    field's current direction does not stop the delete.

    A value the deleted side held at the last sync is no change it has not
    seen (after a conflict left for a person, each side's baseline holds the
    other side's value): it does not stop the delete, but it is reported with
    it, as a value that may be nowhere else now.
    """
    survivor = getattr(pair, survivor_side)
    base_record = getattr(pair, f"base_{survivor_side}")
    deleted_side = survivor_side.other
    base_deleted = getattr(pair, f"base_{deleted_side}")
    # The deleted side's directions come from its last synced record (a service
    # activity, an appointment the CRM closed).
    crm = pair.crm if pair.crm is not None else pair.base_crm
    outlook = pair.outlook if pair.outlook is not None else pair.base_outlook
    directions = rules.directions(crm, outlook, inp.settings)
    travelling = False
    stranded: dict[str, str] = {}
    for settings in (inp.settings, inp.previous_settings):
        now = rules.view(survivor, survivor_side, settings)
        before = rules.view(base_record, survivor_side, settings)
        held = rules.view(base_deleted, deleted_side, settings)
        for rule in rules.fields:
            if rule.name not in now or rule.same(now[rule.name], before.get(rule.name)):
                continue
            if rule.name in held and rule.same(now[rule.name], held[rule.name]):
                # No change the deleted side has not seen: it does not stop the delete,
                # but the value goes with it, and the plan says so.
                stranded.setdefault(
                    rule.name,
                    f"{rule.title} to {describe(now[rule.name])}, which "
                    f"{SIDE_NAMES[deleted_side]} held too",
                )
                continue
            direction = directions.get(rule.name, Direction.TWO_WAY)
            if can_send(direction, survivor_side):
                travelling = True
            else:
                stranded.setdefault(
                    rule.name,
                    f"{rule.title} to {describe(now[rule.name])}, direction: {direction.value}",
                )
    if not travelling and not stranded:
        # An edit to what no view holds (an Outlook home address under mailing
        # only, an attachment) never syncs, but the delete would still destroy it.
        views = {rule.name for rule in rules.fields}
        for change in changes_between(base_record, survivor):
            # A flag or a choice (tracked, the mailing-address choice) holds no data of
            # its own, and a cleared value has nothing left to lose.
            choice = isinstance(change.new, bool | StrEnum)
            if change.field not in views and not choice and not is_blank(change.new):
                title = change.field.replace("_", " ")
                stranded[change.field] = f"{title} to {describe(change.new)}, which does not sync"
    return travelling, list(stranded.values())


def _no_baseline(
    rules: DomainRules[Any, Any], current: Mapping[Side, Mapping[str, Any]], ops: list[Op]
) -> list[Notice]:
    """One notice when a plan without a baseline runs over records an earlier sync linked.

    A key on both sides is a link only a sync (or the application) made; without
    its baseline, a delete since then looks like a record new on the other side.
    """
    shared = len(current[Side.CRM].keys() & current[Side.OUTLOOK].keys())
    if not shared:
        return []
    creates = sum(op.action is Action.CREATE and op.domain is rules.domain for op in ops)
    message = (
        f"No baseline was given, but {shared} {rules.snapshot_field} carry the same key on both "
        "sides, so an earlier sync linked them: deletes since then cannot be seen."
    )
    if creates:
        message += (
            f" The {creates} {rules.snapshot_field} this plan creates may be ones deleted on the "
            "other side since then; plan with the last sync's baseline."
        )
    return [
        rules.notice(
            "", "no_baseline", message, Severity.DATA_LOSS if creates else Severity.WARNING
        )
    ]


def _possible_duplicate(
    rules: DomainRules[Any, Any],
    record: Any,
    current: Mapping[Side, Mapping[str, Any]],
    refused: set[str],
) -> list[Notice]:
    """An info notice when a CRM record is created beside an untracked Outlook one like it."""
    natural = rules.natural_key(record, Side.CRM)
    if not natural:
        return []
    outlook = current[Side.OUTLOOK]
    alike = sorted(
        key
        for key in refused
        if key in outlook
        and not outlook[key].tracked
        and rules.natural_key(outlook[key], Side.OUTLOOK) == natural
    )
    if not alike:
        return []
    return [
        rules.notice(
            record.key,
            "possible_duplicate",
            f"Created in Outlook beside the untracked {', '.join(alike)} with the same "
            f"{rules.natural_key_label} ({natural}); track that one in Outlook instead to link "
            "them.",
            Severity.INFO,
            Side.OUTLOOK,
        )
    ]


def _emit(
    rules: DomainRules[Any, Any],
    result: PairResult,
    current: Mapping[Side, Mapping[str, Any]],
    base: Mapping[Side, Mapping[str, Any]],
    scan: _Scan,
    ops: list[Op],
    notices: list[Notice],
    updates: list[BaselineUpdate],
) -> None:
    rules.fit_to_crm(result)
    notices.extend(result.notices)
    ops.extend(result.extra_ops)
    sides = (
        (Side.CRM, result.crm_before, result.crm_after, result.crm_reason),
        (Side.OUTLOOK, result.outlook_before, result.outlook_after, result.outlook_reason),
    )
    for side, before, after, why in sides:
        if after is None or after is before:
            continue
        reason = why or CHANGED_IN[side.other]
        if before is None:
            ops.append(
                Op(
                    action=Action.CREATE,
                    side=side,
                    domain=rules.domain,
                    key=result.key,
                    record=after,
                    reason=reason,
                )
            )
            continue
        changes = changes_between(before, after)
        if changes:
            ops.append(
                Op(
                    action=Action.UPDATE,
                    side=side,
                    domain=rules.domain,
                    key=result.key,
                    changes=changes,
                    reason=reason,
                )
            )
    if result.keep_baseline:
        if result.unlinked is not None:
            updates.append(
                BaselineUpdate(domain=rules.domain, key=result.key, unlinked=result.unlinked)
            )
        return
    if (
        not _same_baseline(result, current, base, scan)
        or result.pending_remap is not None
        or result.unlinked is not None
    ):
        updates.append(
            BaselineUpdate(
                domain=rules.domain,
                key=result.key,
                crm=result.base_crm,
                outlook=result.base_outlook,
                unlinked=result.unlinked,
                pending_remap=result.pending_remap,
            )
        )


def _same_baseline(
    result: PairResult,
    current: Mapping[Side, Mapping[str, Any]],
    base: Mapping[Side, Mapping[str, Any]],
    scan: _Scan,
) -> bool:
    """True when the pair's baseline stays as it was, both sides.

    A side whose new baseline is the very record the input holds now was
    compared with its baseline by the scan: the scan's answer is reused
    instead of comparing the records again.
    """
    key = result.key
    crm = current[Side.CRM].get(key)
    scanned = crm is not None and result.base_crm is crm
    if scanned and key in scan.crm_changed:
        return False
    if not (scanned and key in scan.crm_unchanged) and base[Side.CRM].get(key) != result.base_crm:
        return False
    outlook = current[Side.OUTLOOK].get(key)
    if outlook is not None and result.base_outlook is outlook and key in scan.outlook_changed:
        return False
    return bool(base[Side.OUTLOOK].get(key) == result.base_outlook)


@attrs.frozen
class DomainPolicy:
    """A sync domain's policy: call it with a `SyncInput` to get the domain's plan."""

    rules: DomainRules[Any, Any]

    def __call__(self, inp: SyncInput) -> Plan:
        """Plans the domain of `inp`."""
        return sync_domain(self.rules, inp)

    def plan_without_fingerprint(self, inp: SyncInput) -> Plan:
        """The same plan without its fingerprint, for `compose` to fingerprint once."""
        return sync_domain(self.rules, inp, fingerprint=False)
