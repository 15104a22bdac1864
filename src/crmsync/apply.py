"""The reference applier: runs a plan against in-memory snapshots.

It is what tests and users simulate a sync with: `apply(plan, crm, outlook,
baseline)` returns the new snapshots and the new baseline, and planning again
on them gives no ops. It refuses a plan made from other snapshots.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import attrs

from crmsync.errors import StalePlan
from crmsync.fingerprint import check_integrity, fingerprint
from crmsync.plan import Action, BaselineUpdate, Op, Plan
from crmsync.records import (
    SNAPSHOT_FIELD,
    Attachment,
    Baseline,
    CrmSnapshot,
    Domain,
    OutlookSnapshot,
    Side,
    current_record,
)

__all__ = ["Synced", "advance_baseline", "apply", "run_op"]


@attrs.frozen(kw_only=True)
class Synced:
    """Both sides and the baseline after a plan was applied."""

    crm: CrmSnapshot
    outlook: OutlookSnapshot
    baseline: Baseline


_Store = dict[tuple[Side, Domain], dict[str, Any]]


def _stores(crm: CrmSnapshot, outlook: OutlookSnapshot) -> _Store:
    return {
        (side, domain): dict(snapshot.by_key[name])
        for side, snapshot in ((Side.CRM, crm), (Side.OUTLOOK, outlook))
        for domain, name in SNAPSHOT_FIELD.items()
    }


def _touched(plan: Plan) -> set[tuple[Domain, str]]:
    """The (domain, key) of every record the plan's ops or baseline updates name."""
    out = {(update.domain, update.key) for update in plan.baseline_updates}
    for op in plan.ops:
        domain = Domain.APPOINTMENT if op.domain is Domain.ATTACHMENT else op.domain
        out.add((domain, op.key))
        out.update((domain, c.new) for c in op.changes if c.field == "key")
    return out


def _read_through(
    stores: _Store,
    touched: set[tuple[Domain, str]],
    crm: CrmSnapshot,
    outlook: OutlookSnapshot,
    baseline: Baseline | None,
) -> None:
    """Adds the baseline's record of every touched key a partial snapshot leaves out."""
    sides = (
        (Side.CRM, crm, baseline.crm if baseline else None),
        (Side.OUTLOOK, outlook, baseline.outlook if baseline else None),
    )
    for side, snapshot, previous in sides:
        if snapshot.complete:
            continue
        for domain, key in touched:
            store = stores[(side, domain)]
            if key not in store:
                record = current_record(snapshot, previous, SNAPSHOT_FIELD[domain], key)
                if record is not None:
                    store[key] = record


def _result(
    snapshot: Any, stores: _Store, side: Side, touched: set[tuple[Domain, str]]
) -> dict[str, Any]:
    """The arguments of the snapshot `apply` returns for one side.

    A partial snapshot comes back partial, read against the new baseline: it
    holds every record the input held or the plan touched, and lists as
    removed every such key that is gone; every other key is unchanged on
    this side and in the baseline.
    """
    collections = {
        name: tuple(stores[(side, domain)].values()) for domain, name in SNAPSHOT_FIELD.items()
    }
    if snapshot.complete:
        return collections
    present = {record.key for records in collections.values() for record in records}
    gone = {key for _, key in touched} | set(snapshot.removed)
    return {**collections, "complete": False, "removed": frozenset(gone - present)}


def _run(op: Op, stores: _Store, plan: Plan) -> str:
    """Applies one op; returns why it cannot be applied ('' when it was)."""
    domain = Domain.APPOINTMENT if op.domain is Domain.ATTACHMENT else op.domain
    return run_op(op, stores[(op.side, domain)], plan.now)


def run_op(op: Op, store: dict[str, Any], now: dt.datetime) -> str:
    """Applies one op to the records of its side and domain, keyed by key.

    Returns:
        Why it cannot be applied ('' when it was).
    """
    where = f"{op.action} {op.domain} {op.key!r} in {op.side}"
    current = store.get(op.key)
    stamp: dict[str, Any] = {"modified": now}
    if op.domain is Domain.ATTACHMENT:
        if current is None:
            return f"{where}: the appointment is gone"
        if not isinstance(op.record, Attachment):
            return f"{where}: the op carries no attachment"
        identity = op.record.identity
        held = [a for a in current.attachments if a.identity != identity]
        if op.action is Action.CREATE:
            if len(held) != len(current.attachments):
                return f"{where}: {op.record.name!r} is already there"
            store[op.key] = attrs.evolve(current, attachments=(*held, op.record), **stamp)
        elif op.action is Action.DELETE:
            if len(held) == len(current.attachments):
                return f"{where}: {op.record.name!r} is no longer there"
            store[op.key] = attrs.evolve(current, attachments=tuple(held), **stamp)
        return ""
    if op.action is Action.CREATE:
        if current is not None:
            return f"{where}: a record with this key exists already"
        if op.record is None:
            return f"{where}: the op carries no record"
        store[op.key] = attrs.evolve(op.record, **stamp)
    elif op.action is Action.UPDATE:
        if current is None:
            return f"{where}: the record is gone"
        for change in op.changes:
            if getattr(current, change.field) != change.old:
                return f"{where}: {change.field} is no longer what the plan saw"
        values = {c.field: c.new for c in op.changes}
        store[op.key] = attrs.evolve(current, **values, **stamp)
    elif op.action is Action.DELETE:
        if current is None:
            return f"{where}: the record is gone already"
        del store[op.key]
    elif op.action is Action.LINK:
        new_key = next((c.new for c in op.changes if c.field == "key"), None)
        if current is None or new_key is None:
            return f"{where}: the record is gone"
        if new_key in store:
            return f"{where}: {new_key!r} is taken"
        del store[op.key]
        store[new_key] = attrs.evolve(current, key=new_key)
    elif op.action is Action.UNLINK and current is None:
        return f"{where}: the record is gone"
    return ""


def _new_baseline(
    plan: Plan, baseline: Baseline | None, updates: Iterable[BaselineUpdate] | None = None
) -> Baseline:
    previous = baseline or Baseline(settings=plan.settings)
    entries = _stores(previous.crm, previous.outlook)
    unlinked = set(previous.unlinked)
    pending: set[str] = set(previous.pending_remap)
    for update in plan.baseline_updates if updates is None else updates:
        _record_update(update, entries, unlinked, pending)
    snapshots: dict[Side, dict[str, Any]] = {}
    for side in Side:
        snapshots[side] = {
            name: tuple(entries[(side, domain)].values()) for domain, name in SNAPSHOT_FIELD.items()
        }
    return Baseline(
        crm=CrmSnapshot(**snapshots[Side.CRM]),
        outlook=OutlookSnapshot(**snapshots[Side.OUTLOOK]),
        settings=plan.settings,
        unlinked=frozenset(unlinked),
        pending_remap=frozenset(pending),
    )


def _record_update(
    update: BaselineUpdate, entries: _Store, unlinked: set[Any], pending: set[str]
) -> None:
    for side in Side:
        store = entries[(side, update.domain)]
        record = getattr(update, side.value)
        if record is None:
            store.pop(update.key, None)
        else:
            store[update.key] = record
    if update.unlinked is True:
        unlinked.add((update.domain, update.key))
    elif update.unlinked is False:
        unlinked.discard((update.domain, update.key))
    if update.domain is Domain.CONTACT:
        gone = update.crm is None and update.outlook is None
        if update.pending_remap is True and not gone:
            pending.add(update.key)
        elif update.pending_remap is False or gone:
            pending.discard(update.key)


def advance_baseline(
    plan: Plan, baseline: Baseline | None, updates: Iterable[BaselineUpdate]
) -> Baseline:
    """The baseline after some of a plan's ops were carried out elsewhere.

    `apply` advances the baseline with every one of `plan.baseline_updates`;
    an executor that carried out only some ops (`crmsync.http`) passes the
    updates of the records those ops settled, so the others stay as the
    previous baseline holds them and the next plan picks them up again.

    Args:
        plan: the plan the updates come from (its settings become the baseline's).
        baseline: the baseline the plan was made with (None on a first sync).
        updates: the updates to apply, taken from `plan.baseline_updates`.
    """
    return _new_baseline(plan, baseline, updates)


def apply(
    plan: Plan,
    crm: CrmSnapshot,
    outlook: OutlookSnapshot,
    baseline: Baseline | None = None,
) -> Synced:
    """Applies a plan to in-memory snapshots.

    Records it writes are stamped with `plan.now`. The baseline is the
    previous one with `plan.baseline_updates` applied; records the plan did
    not touch keep their previous entry. A partial snapshot is read through
    to the baseline and comes back partial, against the new baseline: it
    holds the records it held and those the plan touched, and `removed`
    lists those gone, so that it stands for the complete snapshot a complete
    input would give (`crmsync.records.as_complete`); the new baseline is
    the one a complete input gives.

    Args:
        plan: a plan made from `crm`, `outlook` and `baseline`.
        crm: the CRM snapshot the plan was made from.
        outlook: the Outlook snapshot the plan was made from.
        baseline: the baseline the plan was made with (None on a first sync).

    Returns:
        The new snapshots and baseline.

    Raises:
        AlteredPlan: the plan was edited after it was made (a `StalePlan`).
        StalePlan: the snapshots are not the ones the plan was made from, or
            the plan was made with a baseline and none is given.
    """
    records = check_integrity(plan)
    reasons = []
    if plan.has_baseline and baseline is None:
        reasons.append("the plan was made with a baseline; pass it to apply()")
    if fingerprint(plan.ops, crm, outlook, baseline) != records:
        reasons.append("the records the plan reads or writes have changed since it was made")
    stores = _stores(crm, outlook)
    touched = _touched(plan) if not (crm.complete and outlook.complete) else set()
    _read_through(stores, touched, crm, outlook, baseline)
    for op in plan.ops:
        problem = _run(op, stores, plan)
        if problem:
            reasons.append(problem)
    if reasons:
        raise StalePlan(reasons)
    sides = {
        side: _result(snapshot, stores, side, touched)
        for side, snapshot in ((Side.CRM, crm), (Side.OUTLOOK, outlook))
    }
    return Synced(
        crm=CrmSnapshot(**sides[Side.CRM]),
        outlook=OutlookSnapshot(**sides[Side.OUTLOOK]),
        baseline=_new_baseline(plan, baseline),
    )
