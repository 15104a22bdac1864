"""Policies and their composition: `SyncInput`, `compose`, `exclude`, the defaults.

A policy is a pure function from a `SyncInput` to a `Plan`. The default
policies are one per sync domain; `compose` merges the plans of independent
policies, and `exclude` wraps a policy with an application's own rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from crmsync.apply import run_op
from crmsync.convert import seal
from crmsync.errors import InvalidInput, PolicyConflict, Problem
from crmsync.plan import Action, BaselineUpdate, Notice, Op, Plan, Record, Severity
from crmsync.records import (
    SNAPSHOT_FIELD,
    Baseline,
    CrmSnapshot,
    Domain,
    OutlookSnapshot,
    Side,
    as_complete,
    current_record,
    utc_problem,
)
from crmsync.settings import Settings

__all__ = [
    "Policy",
    "SyncInput",
    "compose",
    "exclude",
    "finish_plan",
    "refine",
]


@attrs.frozen(kw_only=True)
class SyncInput:
    """Everything a policy reads: both sides now, the baseline, settings, user and time.

    Args:
        crm: what the CRM holds now.
        outlook: what the mailbox holds now.
        baseline: both sides after the last successful sync, or None for a
            first sync.
        settings: the organization's synchronization settings.
        user: the syncing user's e-mail address (the organizer rules use it).
        now: the moment the plan is made for; timezone-aware.

    Raises:
        InvalidInput: a naive `now`, or a value of the wrong type.
    """

    crm: CrmSnapshot
    outlook: OutlookSnapshot
    baseline: Baseline | None = None
    settings: Settings = attrs.field(factory=Settings)
    user: str = ""
    now: dt.datetime

    def __attrs_post_init__(self) -> None:
        problems = []
        for name, cls in (
            ("crm", CrmSnapshot),
            ("outlook", OutlookSnapshot),
            ("settings", Settings),
        ):
            if not isinstance(getattr(self, name), cls):
                problems.append(Problem((name,), f"expected {cls.__name__}"))
        if self.baseline is not None and not isinstance(self.baseline, Baseline):
            problems.append(Problem(("baseline",), "expected Baseline or None"))
        if not isinstance(self.user, str):
            problems.append(Problem(("user",), "expected an e-mail address"))
        if not isinstance(self.now, dt.datetime) or self.now.utcoffset() is None:
            problems.append(Problem(("now",), "expected a timezone-aware datetime"))
        elif problem := utc_problem(self.now):  # apply stamps it on what it writes
            problems.append(Problem(("now",), problem))
        if problems:
            raise InvalidInput(problems, root="SyncInput")

    @property
    def previous_settings(self) -> Settings:
        """The settings of the last sync (the current ones on a first sync)."""
        return self.baseline.settings if self.baseline is not None else self.settings


Policy = Callable[[SyncInput], Plan]
"""A policy: a pure function from what both sides hold (`SyncInput`) to a `Plan`.

Any callable of that shape is a policy. `default_policies()` returns the
built-in ones, one per sync domain (contacts, appointments, tasks);
`compose(*policies)` runs several and merges their plans into one (raising
`PolicyConflict` when two plan different ops for one record); `exclude(policy,
predicate, code)` keeps an application's own records out of a policy's plan,
with a notice. `crmsync.plan(..., policy=...)` runs the one given instead of
the defaults.
"""


def finish_plan(
    inp: SyncInput,
    ops: Iterable[Op],
    notices: Iterable[Notice],
    updates: Iterable[BaselineUpdate],
    *,
    fingerprint: bool = True,
) -> Plan:
    """Builds a `Plan` for `inp`, with its fingerprint.

    Args:
        inp: the input the ops were planned from.
        ops: the operations.
        notices: the notices.
        updates: the baseline updates.
        fingerprint: compute the fingerprint (it costs a read of every
            record the ops touch, and of the plan's own content).

    Returns:
        The plan, in its total order.
    """
    plan = Plan(
        ops=tuple(ops),
        notices=tuple(notices),
        baseline_updates=tuple(updates),
        now=inp.now,
        settings=inp.settings,
        has_baseline=inp.baseline is not None,
    )
    return seal(plan, inp.crm, inp.outlook, inp.baseline) if fingerprint else plan


def compose(*policies: Policy) -> Policy:
    """Runs independent policies on one input and merges their plans.

    Args:
        *policies: the policies, each a function of `SyncInput`.

    Returns:
        A policy whose plan holds every op, notice and baseline update of
        the given ones; identical ops are kept once.

    Raises:
        PolicyConflict: (when the composed policy runs) two policies planned
            different ops on the same record, or different baseline updates.
    """

    def composed(inp: SyncInput) -> Plan:
        ops: dict[Any, Op] = {}
        updates: dict[Any, BaselineUpdate] = {}
        notices: list[Notice] = []
        for policy in policies:
            # Each plan is fingerprinted once, here, not also by the policy.
            partial = getattr(policy, "plan_without_fingerprint", None)
            plan = partial(inp) if partial is not None else policy(inp)
            for op in plan.ops:
                seen = ops.setdefault(op.target, op)
                if seen != op:
                    raise PolicyConflict(
                        f"two policies disagree on {op.domain} {op.key!r} in {op.side}: "
                        f"{seen.action} ({seen.reason}) and {op.action} ({op.reason})"
                    )
            for update in plan.baseline_updates:
                target = (update.domain, update.key)
                if updates.setdefault(target, update) != update:
                    raise PolicyConflict(
                        f"two policies disagree on the baseline of {update.domain} {update.key!r}"
                    )
            notices.extend(plan.notices)
        return finish_plan(inp, ops.values(), notices, updates.values())

    return composed


def _records_of(inp: SyncInput, domain: Domain) -> Iterator[tuple[Side, Any]]:
    """Each side's records of a domain as the plan will see them.

    A partial snapshot is read through to the baseline: for the keys either
    delta names when both are partial (the plan reads no other), for all of
    them otherwise, so that a rule sees the unchanged record beside a changed one.
    """
    name = SNAPSHOT_FIELD[domain]
    sides: tuple[tuple[Side, Any], ...] = ((Side.CRM, inp.crm), (Side.OUTLOOK, inp.outlook))
    base = inp.baseline
    if base is None or (inp.crm.complete and inp.outlook.complete):
        for side, snapshot in sides:
            for record in getattr(snapshot, name):
                yield side, record
        return
    previous: dict[Side, Any] = {Side.CRM: base.crm, Side.OUTLOOK: base.outlook}
    if inp.crm.complete or inp.outlook.complete or base.settings != inp.settings:
        for side, snapshot in sides:
            for record in getattr(as_complete(snapshot, previous[side]), name):
                yield side, record
        return
    keys = {
        *inp.crm.by_key[name],
        *inp.outlook.by_key[name],
        *inp.crm.removed,
        *inp.outlook.removed,
    }
    for side, snapshot in sides:
        for key in sorted(keys):
            record = current_record(snapshot, previous[side], name, key)
            if record is not None:
                yield side, record


def _without(snapshot: Any, domain: Domain, keys: set[str]) -> Any:
    name = SNAPSHOT_FIELD[domain]
    kept = tuple(r for r in getattr(snapshot, name) if r.key not in keys)
    return attrs.evolve(snapshot, **{name: kept})


def exclude(
    policy: Policy,
    predicate: Callable[[Record], bool],
    code: str,
    *,
    message: str = "",
    severity: Severity = Severity.INFO,
) -> Policy:
    """Wraps a policy so that records matching `predicate` are left alone.

    A skipped record, and the record with its key on the other side, takes no
    part in the plan: no op touches it, its baseline entry stays, and it gets
    one notice with `code`.

    Args:
        policy: the policy to wrap.
        predicate: true for a record (of any domain, on either side) to skip.
        code: the notice code for skipped records, snake_case.
        message: the notice's sentence; a default names the code.
        severity: the notice's severity.

    Returns:
        The wrapped policy.
    """
    if not code or not code.replace("_", "").isalnum() or code != code.lower():
        raise ValueError(f"a notice code is lower-case snake_case, got {code!r}")
    sentence = message or f"Left alone by the application's rule {code!r}."

    def excluding(inp: SyncInput) -> Plan:
        crm, outlook, baseline = inp.crm, inp.outlook, inp.baseline
        notices: list[Notice] = []
        for domain in SNAPSHOT_FIELD:
            skipped: set[str] = set()
            for side, record in _records_of(inp, domain):
                if predicate(record):
                    skipped.add(record.key)
                    notices.append(
                        Notice(
                            domain=domain,
                            key=record.key,
                            code=code,
                            message=sentence,
                            severity=severity,
                            side=side,
                        )
                    )
            if skipped:
                crm = _without(crm, domain, skipped)
                outlook = _without(outlook, domain, skipped)
                if baseline is not None:
                    baseline = attrs.evolve(
                        baseline,
                        crm=_without(baseline.crm, domain, skipped),
                        outlook=_without(baseline.outlook, domain, skipped),
                    )
        if not notices:
            return policy(inp)
        inner = policy(attrs.evolve(inp, crm=crm, outlook=outlook, baseline=baseline))
        # The fingerprint and has_baseline describe the caller's input, not the filtered one.
        return finish_plan(inp, inner.ops, (*inner.notices, *notices), inner.baseline_updates)

    return excluding


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
    from crmsync.planning import default_policies  # noqa: PLC0415 - the planning layer, above this one

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
