"""`crmsync.plan()`: the default policies composed over one input, `refine` and `hold`.

This is the top of the planning layer: it knows the domain modules, so the
combinators that need their rules (`refine` translates field names between
the two sides through them) live here, and so does `hold`, which withdraws
a finished plan's work on some records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from crmsync import appointments, contacts, tasks
from crmsync.apply import run_op
from crmsync.errors import PolicyConflict, StalePlan
from crmsync.fingerprint import check_integrity, fingerprint, seal
from crmsync.plan import Action, BaselineUpdate, Op, Plan
from crmsync.policy import Policy, SyncInput, compose, finish_plan
from crmsync.records import (
    SNAPSHOT_FIELD,
    Baseline,
    CrmSnapshot,
    Domain,
    OutlookSnapshot,
    Side,
    current_record,
)
from crmsync.settings import Settings

__all__ = ["default_policies", "hold", "plan", "refine"]


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


def _owner(op: Op) -> tuple[Domain, str]:
    """The record an op belongs to: an attachment op belongs to its appointment."""
    return (Domain.APPOINTMENT if op.domain is Domain.ATTACHMENT else op.domain, op.key)


def refine(policy: Policy, fn: Callable[[tuple[Op, ...], SyncInput], Iterable[Op]]) -> Policy:
    """Wraps a policy so that `fn` may drop or change its ops before the plan is finished.

    A plan is fingerprinted over its own content, so ops changed afterwards
    make `crmsync.apply` refuse it (`AlteredPlan`). `refine` is the supported
    way: the result is a finished plan again, fingerprinted anew, whose
    baseline updates agree with the ops it keeps:

    - a dropped op leaves its record's baseline entry as it was (the update
      is withdrawn), so the work stays pending and the next plan proposes it
      again, as it does for a deferred attachment, instead of forgetting an
      edit or copying a stale value over it;
    - a changed op (same target, other changes, record or action) updates
      the baseline entry on its side to what it writes, so the next plan sees
      no change there (a record the plan leaves pending keeps no entry, as
      before);
    - a change dropped from an UPDATE op (a `FieldChange` the refined op no
      longer has) stays pending, as a `MANUAL` conflict does: both sides'
      baseline entries keep that field's previous values (a pair with no
      baseline yet keeps no entry), so the next plan proposes it again.

    Args:
        policy: the policy to wrap.
        fn: called with the plan's ops and the input; returns the ops to keep,
            each one of the given ops or a change of one (`attrs.evolve`),
            at most one per target. It must be pure, like any policy.

    Returns:
        The wrapped policy.

    Raises:
        PolicyConflict: (when the policy runs) `fn` returned an op on a target
            the plan had no op for, two ops on one target, a changed LINK or
            UNLINK, or a change that cannot apply to the record the plan saw.
    """

    def refined(inp: SyncInput) -> Plan:
        partial = getattr(policy, "plan_without_fingerprint", None)
        plan = partial(inp) if partial is not None else policy(inp)
        before = {op.target: op for op in plan.ops}
        after: dict[Any, Op] = {}
        for op in fn(plan.ops, inp):
            if op.target not in before:
                raise PolicyConflict(
                    f"refine: an op on {op.domain} {op.key!r} in {op.side} that the plan did not "
                    "have; a refinement may drop or change ops, not add them"
                )
            if after.setdefault(op.target, op) is not op:
                raise PolicyConflict(f"refine: two ops on {op.domain} {op.key!r} in {op.side}")
        withdrawn: set[tuple[Domain, str]] = set()
        changed: set[tuple[Side, Domain, str]] = set()
        for target, op in before.items():
            kept = after.get(target)
            if kept == op:
                continue
            if kept is None:
                withdrawn.add(_owner(op))
                withdrawn.update((op.domain, c.new) for c in op.changes if c.field == "key")
            elif {op.action, kept.action} & {Action.LINK, Action.UNLINK}:
                raise PolicyConflict(
                    f"refine: a {op.action} of {op.domain} {op.key!r} can be dropped, not changed"
                )
            else:
                changed.add((op.side, *_owner(op)))
        ops = [after[op.target] for op in plan.ops if op.target in after]
        updates = {
            (u.domain, u.key): u
            for u in plan.baseline_updates
            if (u.domain, u.key) not in withdrawn
        }
        grouped: dict[tuple[Side, Domain, str], list[Op]] = {}
        for op in ops:
            grouped.setdefault((op.side, *_owner(op)), []).append(op)
        originals: dict[tuple[Side, Domain, str], list[Op]] = {}
        for op in plan.ops:
            originals.setdefault((op.side, *_owner(op)), []).append(op)
        pending: dict[tuple[Domain, str], set[str]] = {}
        for side, domain, key in sorted(changed - {(s, *w) for s in Side for w in withdrawn}):
            if (domain, key) in updates:
                snapshot = inp.crm if side is Side.CRM else inp.outlook
                previous = None if inp.baseline is None else getattr(inp.baseline, side.value)
                # A partial snapshot stands for the baseline's record under a key it does not hold.
                found = current_record(snapshot, previous, SNAPSHOT_FIELD[domain], key)
                written = _written(found, grouped.get((side, domain, key), []), plan.now)
                updates[(domain, key)] = attrs.evolve(
                    updates[(domain, key)], **{side.value: written}
                )
                dropped = _dropped(originals.get((side, domain, key), []), after)
                if dropped and found is not None:
                    full = _written(found, originals[(side, domain, key)], plan.now)
                    pending.setdefault((domain, key), set()).update(
                        _moved_fields(domain, side, full, found, dropped, inp)
                    )
        for (domain, key), names in sorted(pending.items()):
            updates_for = _keep_pending(domain, key, names, updates[(domain, key)], inp)
            if updates_for is None:
                del updates[(domain, key)]  # no baseline yet: the next plan sees it all again
            else:
                updates[(domain, key)] = updates_for
        return finish_plan(inp, ops, plan.notices, updates.values())

    return refined


def hold(
    plan: Plan,
    crm: CrmSnapshot,
    outlook: OutlookSnapshot,
    baseline: Baseline | None = None,
    *,
    records: Iterable[tuple[Domain, str]] | None = None,
) -> Plan:
    """The plan without its work on some records, which stay pending until a person decides.

    A data-loss notice holds the records it names, not the mailbox: the
    service runs `hold(plan, ...)` and executes the rest. The result is a
    plan of its own, fingerprinted anew (a plan's content is covered by its
    fingerprint, so it is never edited in place):

    - every op on a held record is gone: its CREATE, UPDATE, DELETE, LINK or
      UNLINK on either side, and an appointment's attachment ops;
    - a held record's baseline update is withdrawn, so the baseline keeps
      its previous entries (or none) and the next plan proposes the same
      work, with the same notice, until the record changes or a person
      runs the plan unheld; a LINK held on either of its keys withdraws
      the updates under both;
    - a held contact whose address mode switched since the baseline is
      marked `pending_remap` with its previous entries, so the remap is
      proposed again rather than forgotten under the new mode;
    - the notices stay as they are (the plan still `has_data_loss`), and
      every other op and update is the original plan's.

    Args:
        plan: a plan made from `crm`, `outlook` and `baseline`.
        crm: the CRM snapshot the plan was made from.
        outlook: the Outlook snapshot the plan was made from.
        baseline: the baseline the plan was made with (None on a first sync).
        records: the records to hold, as `(domain, key)` (an attachment's
            key is its appointment's; an empty key holds the whole domain).
            None holds `plan.data_loss_records`.

    Returns:
        The plan without the held work, or `plan` itself when nothing is held.

    Raises:
        AlteredPlan: the plan was edited after it was made.
        StalePlan: the snapshots are not the ones the plan was made from (a
            new fingerprint over them would pass a stale plan off as fresh).
    """
    digest = check_integrity(plan)
    reasons = []
    if plan.has_baseline and baseline is None:
        reasons.append("the plan was made with a baseline; pass it to hold()")
    if fingerprint(plan.ops, crm, outlook, baseline) != digest:
        reasons.append("the records the plan reads or writes have changed since it was made")
    if reasons:
        raise StalePlan(reasons)
    wanted = plan.data_loss_records if records is None else records
    held: set[tuple[Domain, str]] = {
        (Domain.APPOINTMENT if d is Domain.ATTACHMENT else d, k) for d, k in wanted
    }
    domains = {domain for domain, key in held if not key}

    def is_held(domain: Domain, key: str) -> bool:
        return domain in domains or (domain, key) in held

    ops: list[Op] = []
    withdrawn: set[tuple[Domain, str]] = set(held)
    for op in plan.ops:
        domain, key = _owner(op)
        keys = {key, *(str(c.new) for c in op.changes if c.field == "key")}
        if any(is_held(domain, k) for k in keys):
            withdrawn.update((domain, k) for k in keys)
        else:
            ops.append(op)
    updates = [
        u
        for u in plan.baseline_updates
        if (u.domain, u.key) not in withdrawn and u.domain not in domains
    ]
    if len(ops) == len(plan.ops) and len(updates) == len(plan.baseline_updates):
        return plan
    updates.extend(_remaps_kept(plan, baseline, withdrawn, Domain.CONTACT in domains))
    return seal(
        attrs.evolve(plan, ops=tuple(ops), baseline_updates=tuple(updates), fingerprint=""),
        crm,
        outlook,
        baseline,
    )


def _remaps_kept(
    plan: Plan,
    baseline: Baseline | None,
    withdrawn: set[tuple[Domain, str]],
    every_contact: bool,
) -> list[BaselineUpdate]:
    """Held linked contacts marked `pending_remap` when the address mode switched.

    The new baseline carries the plan's settings; without the mark, a held
    contact's old-mode entries would read as in sync under the new mode and
    its remap would never be proposed again.
    """
    if baseline is None or baseline.settings.address_sync is plan.settings.address_sync:
        return []
    crm, outlook = (s.by_key["contacts"] for s in (baseline.crm, baseline.outlook))
    return [
        BaselineUpdate(
            domain=Domain.CONTACT, key=key, crm=crm[key], outlook=outlook[key], pending_remap=True
        )
        for key in sorted(crm.keys() & outlook.keys())
        if every_contact or (Domain.CONTACT, key) in withdrawn
    ]


def _dropped(originals: Iterable[Op], after: Mapping[Any, Op]) -> set[str]:
    """The attributes whose change a refinement took out of an UPDATE op it kept."""
    dropped: set[str] = set()
    for op in originals:
        kept = after.get(op.target)
        if op.action is Action.UPDATE and kept is not None and kept.action is Action.UPDATE:
            dropped |= {c.field for c in op.changes} - {c.field for c in kept.changes}
    return dropped


def _domain_rules(domain: Domain) -> Any:
    """The default policy's rules for `domain` (their views name the fields of both sides)."""
    for policy in default_policies():
        rules = getattr(policy, "rules", None)
        if rules is not None and rules.domain is domain:
            return rules
    raise LookupError(domain)  # pragma: no cover - every domain has a default policy


def _moved_fields(
    domain: Domain, side: Side, full: Any, found: Any, dropped: set[str], inp: SyncInput
) -> set[str]:
    """The view fields the dropped attributes of `full` (the unrefined write) would have moved."""
    rules = _domain_rules(domain)
    unwritten = attrs.evolve(full, **{name: getattr(found, name) for name in dropped})
    with_all = rules.view(full, side, inp.settings)
    without = rules.view(unwritten, side, inp.settings)
    return {
        rule.name
        for rule in rules.fields
        if rule.name in with_all and not rule.same(with_all[rule.name], without.get(rule.name))
    }


def _keep_pending(
    domain: Domain, key: str, names: set[str], update: BaselineUpdate, inp: SyncInput
) -> BaselineUpdate | None:
    """`update` with the view fields `names` at their previous baseline values on both sides.

    None when the baseline does not hold the pair yet: then the update is
    withdrawn, as for a first-sync conflict left for a person.
    """
    rules = _domain_rules(domain)
    name = SNAPSHOT_FIELD[domain]
    bases = {
        side: None
        if inp.baseline is None
        else getattr(inp.baseline, side.value).by_key[name].get(key)
        for side in Side
    }
    if any(base is None for base in bases.values()):
        return None
    values = {}
    for side in Side:
        record = getattr(update, side.value)
        if record is None:
            continue
        base_view = rules.view(bases[side], side, inp.settings)
        kept = {field: base_view[field] for field in sorted(names) if field in base_view}
        values[side.value] = rules.build(kept, record, key, side, inp, inp.settings)
    return attrs.evolve(update, **values)


def _written(found: Any, ops: Iterable[Op], now: dt.datetime) -> Any:
    """The record `ops` leave in place of `found` (None: no record yet), as `apply` writes it."""
    store = {} if found is None else {found.key: found}
    for op in ops:
        problem = run_op(op, store, now)
        if problem:
            raise PolicyConflict(f"refine: {problem}")
    return next(iter(store.values()), None)
