"""Policies and their composition: `SyncInput`, `compose`, `exclude`, the defaults.

A policy is a pure function from a `SyncInput` to a `Plan`. The default
policies are one per sync domain; `compose` merges the plans of independent
policies, and `exclude` wraps a policy with an application's own rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs

from crmsync.errors import InvalidInput, PolicyConflict, Problem
from crmsync.fingerprint import seal
from crmsync.plan import BaselineUpdate, Notice, Op, Plan, Record, Severity, join_apart
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
        ops=ops if isinstance(ops, tuple) else tuple(ops),
        notices=notices if isinstance(notices, tuple) else tuple(notices),
        baseline_updates=updates if isinstance(updates, tuple) else tuple(updates),
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
        plans = []
        for policy in policies:
            # Each plan is fingerprinted once, here, not also by the policy.
            partial = getattr(policy, "plan_without_fingerprint", None)
            plans.append(partial(inp) if partial is not None else policy(inp))
        joined = join_apart(plans)
        if joined is not None:
            # Plans over different domains cannot disagree, and each is in order.
            return finish_plan(inp, *joined)
        ops: dict[Any, Op] = {}
        updates: dict[Any, BaselineUpdate] = {}
        notices: list[Notice] = []
        for plan in plans:
            for op in plan.ops:
                seen = ops.setdefault(op.target, op)
                if seen is not op and seen != op:
                    raise PolicyConflict(
                        f"two policies disagree on {op.domain} {op.key!r} in {op.side}: "
                        f"{seen.action} ({seen.reason}) and {op.action} ({op.reason})"
                    )
            for update in plan.baseline_updates:
                target = (update.domain, update.key)
                seen_update = updates.setdefault(target, update)
                if seen_update is not update and seen_update != update:
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
