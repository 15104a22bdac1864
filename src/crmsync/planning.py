"""`crmsync.plan()`: the default policies composed over one input, and `refine`.

This is the top of the planning layer: it knows the domain modules, so the
combinators that need their rules (`refine` translates field names between
the two sides through them) live here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from crmsync import appointments, contacts, tasks
from crmsync.apply import run_op
from crmsync.errors import PolicyConflict
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

__all__ = ["default_policies", "plan", "refine"]


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
