"""Why did (or didn't) this record sync? One record's story, from the plan.

`explain(plan, key, crm=..., outlook=..., baseline=...)` answers "why didn't
this sync?" for one key: the record's CRM, Outlook and baseline values side by
side and, per synchronized field, what the merge decided and why. It reads
only the plan's own data (its ops, notices, baseline updates and settings)
and, when given, the inputs the plan was made from; it plans nothing again.

Per field, in this order of precedence:

- `refused`: a domain rule kept the whole record out of the sync (the notice
  code names the rule: `not_tracked`, `recurring_task_unsupported`, ...);
- `conflict_pending`: changed differently on both sides, left for a person
  (conflict policy MANUAL), or a contact's address that an address-mode
  switch could not remap without losing one (`address_remap_conflict`);
- `conflict_won`: changed differently on both sides (or differing at a first
  sync); `winner` says whose value was written over the other's;
- `travelled`: written to `to`, for `reason` (the op's reason:
  `changed_in_crm`, `new_in_outlook`, `address_remap`, ...);
- `held_by_direction`: a change its field's direction does not let travel;
- `deleted`, `unlinked`: the record's delete was applied, or its pair unlinked;
- `in_sync`: the same on both sides;
- `standing_difference`: different, but nothing changed since the last sync
  that may travel (a one-way field edited on the wrong side earlier, say).

An appointment's explanation also has a verdict per attachment (`travelled`,
`deleted`, `in_sync` or `not_synced`, with the notice that says why), and
every "does not sync" ends with what would make it sync (`REMEDIES`).
`find` looks a record up by its name, e-mail address or subject, for a person
who does not know its key.

Values are read through the domain's field map under the plan's settings
(the baseline too, so after an address-mode switch its addresses read as the
new mode maps them). Without the inputs the values come from the plan alone (the records as the
plan leaves them, and as they were where an op changed them), so records the
plan did not touch show no values.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import attrs

from crmsync import appointments, contacts, tasks
from crmsync.merge import DomainRules, FieldRule, View
from crmsync.plan import Action, Notice, Op, Plan, _record_label, describe
from crmsync.records import (
    Appointment,
    Attachment,
    Baseline,
    CrmSnapshot,
    Domain,
    OutlookSnapshot,
    Side,
    current_record,
)
from crmsync.settings import Direction

__all__ = [
    "REFUSAL_CODES",
    "REMEDIES",
    "AttachmentVerdict",
    "Candidate",
    "Explanation",
    "FieldVerdict",
    "Found",
    "explain",
    "find",
]

REFUSAL_CODES = frozenset(
    {
        "not_tracked",
        "unlinked",
        "ambiguous_match",
        "recurring_task_unsupported",
        "assigned_task_sync_disabled",
        "task_assignee_outside_organization",
        "task_multiple_recipients",
    }
)
"""Notice codes that keep a whole record out of the sync."""

REMEDIES: Mapping[str, str] = {
    "not_tracked": "track it in Outlook (the Dynamics 365 category, or the Track button of "
    "the Dynamics 365 App for Outlook)",
    "unlinked": "link it again: create the same record (same e-mail address or iCalendar UID) "
    "on the other side, or have the application give both records one key",
    "ambiguous_match": "leave one record with that e-mail address or iCalendar UID on each "
    "side (merge or delete the duplicates), or link the pair yourself",
    "recurring_task_unsupported": "Dynamics never syncs recurring tasks: make it a one-off task",
    "assigned_task_sync_disabled": "turn on sync_assigned_tasks",
    "task_assignee_outside_organization": "add the assigner's and the assignee's e-mail "
    "domains to organization_domains",
    "task_multiple_recipients": "assign it to one recipient",
    "attachment_sync_disabled": "turn on sync_appointment_attachments",
    "recurring_appointment_attachment_unsupported": "Dynamics never syncs attachments of "
    "recurring series: attach it to a single (non-recurring) appointment",
    "service_activity_attachment_unsupported": "Dynamics never syncs attachments of service "
    "activities: attach it to an appointment",
    "attachment_too_large": "raise max_attachment_bytes above its size (Dynamics' maximum "
    "file size), or make the file smaller",
    "attachment_deferred": "nothing: a later plan moves it; raise attachment_budget_bytes to "
    "move it sooner",
    "address_remap_conflict": "make the contact's addresses fit: at most three distinct "
    "addresses across both sides (remove or merge one on either side), and the next plan "
    "remaps them",
    "conflict": "make both sides hold the value you want (edit one side), or choose a conflict "
    "policy other than manual",
    "field_not_synced": "edit it on the side its direction sends from, or change its "
    "direction in field_directions",
    "mass_delete_blocked": "check the read that lost the records; if the deletes are real, set "
    "allow_mass_delete for one plan",
}
"""Per notice code that stops something from syncing: what would make it sync."""

_ATTACHMENT_CODES = (
    "attachment_sync_disabled",
    "recurring_appointment_attachment_unsupported",
    "service_activity_attachment_unsupported",
)

_SIDE_NAMES = {Side.CRM: "the CRM", Side.OUTLOOK: "Outlook"}
_ABSENT = "—"


@attrs.frozen(kw_only=True)
class FieldVerdict:
    """What the merge decided for one synchronized field of one record.

    Args:
        field: the field's name in the domain's field map (`job_title`,
            `address1`, an appointment's `time`).
        crm: the CRM's value now, as text (`—` when there is no record or
            the value is unknown).
        outlook: Outlook's value now, as text.
        base_crm: the CRM's value at the last sync, as text.
        base_outlook: Outlook's value at the last sync, as text.
        decision: `travelled`, `conflict_won`, `conflict_pending`,
            `held_by_direction`, `refused`, `deleted`, `unlinked`, `in_sync`
            or `standing_difference` (see the module's docstring).
        to: where the value was written (`travelled`, `conflict_won`).
        winner: whose value won a conflict.
        rule: the op's reason or the notice code behind the decision.
        why: the decision as a sentence.
    """

    field: str
    crm: str = _ABSENT
    outlook: str = _ABSENT
    base_crm: str = _ABSENT
    base_outlook: str = _ABSENT
    decision: str
    to: Side | None = None
    winner: Side | None = None
    rule: str = ""
    why: str


@attrs.frozen(kw_only=True)
class AttachmentVerdict:
    """What the plan does with one attachment of an appointment.

    Args:
        name: the file's name.
        size: its size in bytes.
        crm: whether the CRM's appointment holds it now.
        outlook: whether Outlook's appointment holds it now.
        decision: `travelled`, `deleted`, `in_sync` or `not_synced`.
        to: where it is created or deleted (`travelled`, `deleted`).
        rule: the op's reason or the notice code behind the decision.
        why: the decision as a sentence; a `not_synced` one ends with what
            would make it sync.
    """

    name: str
    size: int
    crm: bool
    outlook: bool
    decision: str
    to: Side | None = None
    rule: str = ""
    why: str


@attrs.frozen(kw_only=True)
class Explanation:
    """One record's story in a plan: its ops, its notices, and a verdict per field.

    Args:
        domain: the record's domain.
        key: the record's key.
        outcome: what happens to the record, as a sentence.
        fields: one verdict per synchronized field.
        ops: the plan's ops on the record (an appointment's include its
            attachment ops).
        notices: the plan's notices about the record, and the domain-wide
            ones (`mass_delete_blocked`, `no_baseline`).
        name: the record's display name (a contact's name or e-mail, a subject).
        attachments: an appointment's attachments, one verdict each.
    """

    domain: Domain
    key: str
    outcome: str
    fields: tuple[FieldVerdict, ...] = ()
    ops: tuple[Op, ...] = ()
    notices: tuple[Notice, ...] = ()
    name: str = ""
    attachments: tuple[AttachmentVerdict, ...] = ()

    def field(self, name: str) -> FieldVerdict:
        """The verdict for the field called `name`.

        Raises:
            KeyError: the domain has no such field.
        """
        for verdict in self.fields:
            if verdict.field == name:
                return verdict
        raise KeyError(name)

    def render(self) -> str:
        """The explanation as text: values side by side, then each field's verdict."""
        return _render(self)


def _rules() -> dict[Domain, DomainRules[Any, Any]]:
    return {m.RULES.domain: m.RULES for m in (contacts, appointments, tasks)}


def _find(
    snapshot: CrmSnapshot | OutlookSnapshot | None,
    field: str,
    key: str,
    previous: CrmSnapshot | OutlookSnapshot | None = None,
) -> Any:
    """The record under `key`; a partial snapshot reads through to `previous` (the baseline)."""
    if snapshot is None:
        return None
    return current_record(snapshot, previous, field, key)


def _undo(record: Any, op: Op) -> Any:
    """The record as it was before an UPDATE op changed it."""
    return attrs.evolve(record, **{c.field: c.old for c in op.changes})


def _title_of(notice: Notice, rules: tuple[FieldRule, ...]) -> FieldRule | None:
    """The field a merge notice is about: its message opens with the field's title."""
    found = [r for r in rules if notice.message.startswith(r.title + " ")]
    return max(found, key=lambda r: len(r.title)) if found else None


def explain(
    plan: Plan,
    key: str,
    *,
    crm: CrmSnapshot | None = None,
    outlook: OutlookSnapshot | None = None,
    baseline: Baseline | None = None,
    domain: Domain | None = None,
) -> tuple[Explanation, ...]:
    """Explains what a plan does with the record called `key`, and why.

    Args:
        plan: the plan.
        key: the record's key (an appointment's key also finds its
            attachment ops).
        crm: the CRM snapshot the plan was made from, for the values now.
        outlook: the Outlook snapshot the plan was made from.
        baseline: the baseline the plan was made with, for the values then.
        domain: look only in this domain (default: every domain).

    Returns:
        One explanation per domain in which the plan or the inputs know the
        key (contacts, appointments, tasks, in that order); empty when none does.
    """
    out = []
    for rules in _rules().values():
        if domain is not None and rules.domain is not domain:
            continue
        found = _explain_domain(plan, key, rules, crm, outlook, baseline)
        if found is not None:
            out.append(found)
    return tuple(out)


@attrs.frozen(kw_only=True)
class Candidate:
    """A record a `find` query may mean.

    Args:
        domain: its domain (contact, appointment, task).
        key: its key.
        name: its display name (a contact's name or e-mail, a subject).
        emails: a contact's e-mail addresses.
    """

    domain: Domain
    key: str
    name: str
    emails: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Found:
    """What a `find` query names.

    Args:
        matches: the records whose key, name, e-mail address or subject is
            the query (case-insensitive); one means the query names a record.
        closest: when nothing matches, the few records whose names, e-mail
            addresses, subjects or keys are the most similar, best first.
    """

    matches: tuple[Candidate, ...] = ()
    closest: tuple[Candidate, ...] = ()


_COLLECTIONS = (
    (Domain.CONTACT, "contacts"),
    (Domain.APPOINTMENT, "appointments"),
    (Domain.TASK, "tasks"),
)


def _candidates(
    plan: Plan,
    crm: CrmSnapshot | None,
    outlook: OutlookSnapshot | None,
    baseline: Baseline | None,
) -> dict[tuple[Domain, str], Candidate]:
    """Every record the plan or the inputs know, once per (domain, key), newest first."""
    records: list[tuple[Domain, Any]] = []
    by_field = {field: domain for domain, field in _COLLECTIONS}
    for snapshot in (crm, outlook, baseline and baseline.crm, baseline and baseline.outlook):
        if isinstance(snapshot, CrmSnapshot | OutlookSnapshot):
            for field, domain in by_field.items():
                records.extend((domain, r) for r in getattr(snapshot, field))
    records.extend(
        (op.domain, op.record)
        for op in plan.ops
        if op.action is Action.CREATE and not isinstance(op.record, Attachment)
    )
    for update in plan.baseline_updates:
        records.extend((update.domain, r) for r in (update.crm, update.outlook) if r is not None)
    out: dict[tuple[Domain, str], Candidate] = {}
    for domain, record in records:
        if record is None or (domain, record.key) in out:
            continue
        emails = tuple(getattr(record, "emails", ()))
        out[(domain, record.key)] = Candidate(
            domain=domain, key=record.key, name=_record_label(record), emails=emails
        )
    return out


def _words(
    candidate: Candidate, record_names: Mapping[tuple[Domain, str], tuple[str, ...]]
) -> tuple[str, ...]:
    return (
        candidate.key,
        candidate.name,
        *candidate.emails,
        *record_names.get((candidate.domain, candidate.key), ()),
    )


def find(
    plan: Plan,
    query: str,
    *,
    crm: CrmSnapshot | None = None,
    outlook: OutlookSnapshot | None = None,
    baseline: Baseline | None = None,
    domain: Domain | None = None,
    closest: int = 5,
) -> Found:
    """Finds the records a person means by a key, a name, an e-mail address or a subject.

    A contact matches its full name, its first or last name and each of its
    e-mail addresses; an appointment or a task its subject; every record its
    key. Case and surrounding spaces do not matter.

    Args:
        plan: the plan.
        query: what the person typed (`Ben`, `ben@fabrikam.com`, `Quarterly review`).
        crm: the CRM snapshot the plan was made from.
        outlook: the Outlook snapshot the plan was made from.
        baseline: the baseline the plan was made with.
        domain: look only in this domain (default: every domain).
        closest: how many similar records to suggest when nothing matches.

    Returns:
        The matches (in domain, then key order) or, when there are none, the
        closest records by similarity (`difflib`), best first.
    """
    wanted = query.strip().casefold()
    known = [
        c
        for c in _candidates(plan, crm, outlook, baseline).values()
        if domain is None or c.domain is domain
    ]
    parts: dict[tuple[Domain, str], tuple[str, ...]] = {}
    for c in known:
        first_last = c.name.split(" ", 1) if c.domain is Domain.CONTACT else []
        parts[(c.domain, c.key)] = tuple(first_last)
    order = [d for d, _ in _COLLECTIONS]

    def rank(c: Candidate) -> tuple[int, str]:
        return (order.index(c.domain), c.key)

    matches = sorted(
        (c for c in known if wanted in {w.casefold() for w in _words(c, parts) if w}),
        key=rank,
    )
    if matches or not wanted:
        return Found(matches=tuple(matches))
    scored: dict[tuple[Domain, str], float] = {}
    for c in known:
        for word in _words(c, parts):
            text = word.casefold()
            if not text:
                continue
            # A part of a name or an address counts as similar as the closest whole word.
            ratio = 0.9 if wanted in text else difflib.SequenceMatcher(None, wanted, text).ratio()
            scored[(c.domain, c.key)] = max(ratio, scored.get((c.domain, c.key), 0.0))
    best = sorted(
        (c for c in known if scored.get((c.domain, c.key), 0.0) >= 0.5),
        key=lambda c: (-scored[(c.domain, c.key)], rank(c)),
    )
    return Found(closest=tuple(best[:closest]))


def _explain_domain(
    plan: Plan,
    key: str,
    rules: DomainRules[Any, Any],
    crm: CrmSnapshot | None,
    outlook: OutlookSnapshot | None,
    baseline: Baseline | None,
) -> Explanation | None:
    dom = rules.domain
    domains = {dom, Domain.ATTACHMENT} if dom is Domain.APPOINTMENT else {dom}
    ops = tuple(op for op in plan.ops if op.domain in domains and op.key == key)
    own = [n for n in plan.notices if n.domain in domains and n.key == key]
    wide = [n for n in plan.notices if n.domain is dom and not n.key]
    field = rules.snapshot_field
    now: dict[Side, Any] = {
        Side.CRM: _find(crm, field, key, None if baseline is None else baseline.crm),
        Side.OUTLOOK: _find(outlook, field, key, None if baseline is None else baseline.outlook),
    }
    base: dict[Side, Any] = {Side.CRM: None, Side.OUTLOOK: None}
    if baseline is not None:
        base = {
            Side.CRM: _find(baseline.crm, field, key),
            Side.OUTLOOK: _find(baseline.outlook, field, key),
        }
    update = next((u for u in plan.baseline_updates if u.domain is dom and u.key == key), None)
    known_inputs = crm is not None and outlook is not None
    nothing = update is None or (update.crm is None and update.outlook is None)
    if not ops and not own and nothing and all(r is None for r in (*now.values(), *base.values())):
        return None
    record_ops = [op for op in ops if op.domain is dom]
    after: dict[Side, Any] = dict(now)
    for op in record_ops:
        if op.action is Action.CREATE:
            after[op.side] = op.record
        elif op.action is Action.UPDATE:
            if now[op.side] is not None:
                after[op.side] = attrs.evolve(now[op.side], **{c.field: c.new for c in op.changes})
            elif update is not None and getattr(update, op.side.value) is not None:
                after[op.side] = getattr(update, op.side.value)
                if not known_inputs:
                    now[op.side] = _undo(after[op.side], op)
        elif op.action is Action.DELETE:
            after[op.side] = None
    if not known_inputs and update is not None:
        for side in Side:
            if after[side] is None and getattr(update, side.value) is not None:
                after[side] = now[side] = getattr(update, side.value)
    settings = plan.settings
    views = {s: rules.view(r, s, settings) if r is not None else None for s, r in now.items()}
    base_views = {s: rules.view(r, s, settings) if r is not None else None for s, r in base.items()}
    after_views = {
        s: rules.view(r, s, settings) if r is not None else None for s, r in after.items()
    }
    directions = rules.directions(now[Side.CRM], now[Side.OUTLOOK], settings)

    refusal = next((n for n in own if n.code in REFUSAL_CODES), None)
    by_field: dict[str, list[Notice]] = {}
    for n in own:
        if n.code in ("conflict", "conflict_resolved", "field_not_synced"):
            rule = _title_of(n, rules.fields)
            if rule is not None:
                by_field.setdefault(rule.name, []).append(n)
    # The plan held a contact's addresses back as one decision: each differing
    # address field carries it, as a conflict for a person, not as a standing difference.
    remap = next((n for n in own if n.code == "address_remap_conflict"), None)
    if remap is not None:
        for name in contacts.ADDRESS_FIELDS:
            by_field.setdefault(name, []).append(remap)
    action = {op.action: op for op in record_ops}
    verdicts = tuple(
        _verdict(
            rule,
            views,
            base_views,
            after_views,
            directions.get(rule.name, Direction.TWO_WAY),
            refusal,
            by_field.get(rule.name, []),
            action,
            settings.conflict.value,
        )
        for rule in rules.fields
    )
    files = _attachments(ops, own, now) if dom is Domain.APPOINTMENT else ()
    record = next((r for r in (*after.values(), *now.values(), *base.values()) if r), None)
    return Explanation(
        domain=dom,
        key=key,
        outcome=_outcome(list(ops), own, refusal, now, files),
        fields=verdicts,
        ops=ops,
        notices=(*own, *wide),
        name=_record_label(record),
        attachments=files,
    )


def _remedy(code: str) -> str:
    remedy = REMEDIES.get(code)
    return f"; to sync it: {remedy}" if remedy else ""


def _attachments(
    ops: tuple[Op, ...], notices: list[Notice], now: Mapping[Side, Any]
) -> tuple[AttachmentVerdict, ...]:
    """One verdict per attachment either side holds now or an op moves."""
    found: dict[tuple[str, str], Attachment] = {}
    held: dict[tuple[str, str], set[Side]] = {}
    for side, record in now.items():
        if isinstance(record, Appointment):
            for attachment in record.attachments:
                found.setdefault(attachment.identity, attachment)
                held.setdefault(attachment.identity, set()).add(side)
    moves: dict[tuple[str, str], Op] = {}
    for each in ops:
        if isinstance(each.record, Attachment):
            found.setdefault(each.record.identity, each.record)
            moves[each.record.identity] = each
    whole = next((n for n in notices if n.code in _ATTACHMENT_CODES), None)
    out = []
    for identity, attachment in sorted(found.items()):
        sides = held.get(identity, set())
        op = moves.get(identity)
        # The per-file notices name the file first: "agenda.pdf (48,213 bytes) is ...".
        own = next(
            (
                n
                for n in notices
                if n.code in ("attachment_too_large", "attachment_deferred")
                and n.message.startswith(f"{attachment.name} (")
            ),
            whole,
        )
        decision, to, rule = "not_synced", None, ""
        if op is not None:
            decision = "travelled" if op.action is Action.CREATE else "deleted"
            to, rule = op.side, op.reason
            verb = "copied to" if op.action is Action.CREATE else "deleted in"
            why = f"{verb} {_SIDE_NAMES[op.side]} ({op.reason})"
        elif sides == set(Side):
            decision, why = "in_sync", "on both sides"
        elif own is not None:
            rule = own.code
            why = f"does not sync ({own.code}): {own.message.rstrip('.')}{_remedy(own.code)}"
        else:
            held_by = " and ".join(_SIDE_NAMES[s] for s in sorted(sides)) or "neither side"
            why = f"only {held_by} holds it, and no op or notice of this plan moves it"
        out.append(
            AttachmentVerdict(
                name=attachment.name,
                size=attachment.size,
                crm=Side.CRM in sides,
                outlook=Side.OUTLOOK in sides,
                decision=decision,
                to=to,
                rule=rule,
                why=why,
            )
        )
    return tuple(out)


def _text(view: View | None, name: str) -> str:
    if view is None or name not in view:
        return _ABSENT
    return describe(view[name])


def _written(rule: FieldRule, before: View | None, after: View | None) -> bool:
    """True when the plan leaves a side's field other than it found it."""
    if after is None or rule.name not in after:
        return False
    if before is None or rule.name not in before:
        return True
    return not rule.same(before[rule.name], after[rule.name])


def _verdict(
    rule: FieldRule,
    views: Mapping[Side, View | None],
    base: Mapping[Side, View | None],
    after: Mapping[Side, View | None],
    direction: Direction,
    refusal: Notice | None,
    notices: list[Notice],
    ops: Mapping[Action, Op],
    policy: str,
) -> FieldVerdict:
    name = rule.name
    values = {
        "crm": _text(views[Side.CRM], name),
        "outlook": _text(views[Side.OUTLOOK], name),
    }

    def verdict(
        decision: str,
        why: str,
        *,
        to: Side | None = None,
        winner: Side | None = None,
        rule: str = "",
    ) -> FieldVerdict:
        return FieldVerdict(
            field=name,
            crm=values["crm"],
            outlook=values["outlook"],
            base_crm=_text(base[Side.CRM], name),
            base_outlook=_text(base[Side.OUTLOOK], name),
            decision=decision,
            why=why,
            to=to,
            winner=winner,
            rule=rule,
        )

    codes = {n.code: n for n in notices}
    if refusal is not None:
        return verdict(
            "refused",
            f"the record does not sync ({refusal.code}): {refusal.message}",
            rule=refusal.code,
        )
    if "conflict" in codes:
        return verdict(
            "conflict_pending",
            "changed differently on both sides; left for a person (conflict policy: manual)"
            + _remedy("conflict"),
            rule="conflict",
        )
    crm_now, outlook_now = views[Side.CRM], views[Side.OUTLOOK]
    differs = (
        crm_now is not None
        and outlook_now is not None
        and name in crm_now
        and name in outlook_now
        and not rule.same(crm_now[name], outlook_now[name])
    )
    if "address_remap_conflict" in codes and differs:
        return verdict(
            "conflict_pending",
            "the address-mode switch cannot remap this contact's addresses without losing one; "
            "they are left as they are for a person" + _remedy("address_remap_conflict"),
            rule="address_remap_conflict",
        )
    if Action.CREATE in ops:
        # A created record gets only what its direction lets travel from the source.
        source = ops[Action.CREATE].side.other
        sends = direction.to_outlook if source is Side.CRM else direction.to_crm
        if not sends:
            return verdict(
                "held_by_direction",
                f"not copied to the new record in {_SIDE_NAMES[source.other]}: its direction "
                f"is {direction.value}",
                rule=ops[Action.CREATE].reason,
            )
    written = {side: _written(rule, views[side], after[side]) for side in Side}
    if "conflict_resolved" in codes:
        loser = codes["conflict_resolved"].side
        if loser is None:
            loser = next((s for s in Side if written[s]), Side.OUTLOOK)
        winner = loser.other
        op = ops.get(Action.UPDATE)
        return verdict(
            "conflict_won",
            f"changed differently on both sides; {_SIDE_NAMES[winner]}'s value won and was "
            f"written to {_SIDE_NAMES[loser]} ({op.reason if op else 'conflict_' + policy})",
            to=loser,
            winner=winner,
            rule=op.reason if op else f"conflict_{policy}",
        )
    for side in Side:
        if written[side]:
            op = ops.get(Action.CREATE) or ops.get(Action.UPDATE)
            reason = op.reason if op is not None else ""
            kind = "created with it" if Action.CREATE in ops else "written"
            return verdict(
                "travelled",
                f"travelled to {_SIDE_NAMES[side]} ({kind}; {reason})",
                to=side,
                rule=reason,
            )
    if "field_not_synced" in codes:
        n = codes["field_not_synced"]
        return verdict(
            "held_by_direction",
            f"held by its direction ({direction.value}): {n.message}" + _remedy("field_not_synced"),
            rule="field_not_synced",
        )
    for action, decision in ((Action.DELETE, "deleted"), (Action.UNLINK, "unlinked")):
        if action in ops:
            op = ops[action]
            what = "deleted in" if action is Action.DELETE else "stays, unlinked, in"
            return verdict(decision, f"the record is {what} {_SIDE_NAMES[op.side]}", rule=op.reason)
    crm_view, outlook_view = views[Side.CRM], views[Side.OUTLOOK]
    if crm_view is None or outlook_view is None or name not in crm_view or name not in outlook_view:
        return verdict("in_sync", "nothing to do: no op and no notice touches it")
    if rule.same(crm_view[name], outlook_view[name]):
        return verdict("in_sync", "the same on both sides")
    return verdict(
        "standing_difference",
        f"different, but neither side changed it since the last sync in a way that travels "
        f"(direction: {direction.value})",
    )


def _outcome(
    ops: list[Op],
    notices: list[Notice],
    refusal: Notice | None,
    now: Mapping[Side, Any],
    files: tuple[AttachmentVerdict, ...] = (),
) -> str:
    if refusal is not None:
        return f"not synced: {refusal.code} ({refusal.message}){_remedy(refusal.code)}"
    codes = {n.code for n in notices}
    if ops:
        text = "; ".join(
            f"{op.action.value}{_attachment(op)} in {_SIDE_NAMES[op.side]} ({op.reason})"
            for op in ops
        )
    elif "conflict" in codes:
        text = "no op: a conflict waits for a person"
    elif "address_remap_conflict" in codes:
        text = "no op: the contact's addresses wait for a person (address_remap_conflict)"
    elif now[Side.CRM] is None and now[Side.OUTLOOK] is None:
        text = "no op: the record is on neither side now"
    else:
        text = "no op: nothing to write"
    # What stays behind is part of the outcome: an attachment that does not sync says so.
    stays = [f for f in files if f.decision == "not_synced"]
    text += "".join(f"; attachment {f.name} does not sync ({f.rule or 'no rule'})" for f in stays)
    remedies = [REMEDIES[c] for c in ("conflict", "address_remap_conflict") if c in codes]
    remedies += [REMEDIES[f.rule] for f in stays if f.rule in REMEDIES]
    if remedies:
        text += "; to sync it: " + "; ".join(dict.fromkeys(remedies))
    return text


def _attachment(op: Op) -> str:
    return f" attachment {op.record.name}" if isinstance(op.record, Attachment) else ""


_MIN_WIDTHS = (17, 22, 22, 22, 22)


def _render(e: Explanation) -> str:
    named = f" ({e.name})" if e.name else ""
    lines = [f"{e.domain.value} {e.key}{named}: {e.outcome}"]
    if e.fields:
        heads = ("field", "CRM", "Outlook", "baseline CRM", "baseline Outlook")
        table = [
            heads,
            *((v.field, v.crm, v.outlook, v.base_crm, v.base_outlook) for v in e.fields),
        ]
        rows = [tuple(c.replace("\n", " ") for c in row) for row in table]
        # Whole values, in columns as wide as their longest: two addresses are compared
        # character by character, so none is ever cut.
        widths = [max(w, *(len(row[i]) for row in rows)) for i, w in enumerate(_MIN_WIDTHS)]
        decisions = ["decision", *(v.decision for v in e.fields)]
        for row, decision in zip(rows, decisions, strict=True):
            cells = (c.ljust(widths[i]) for i, c in enumerate(row))
            lines.append("  " + " ".join(cells) + " " + decision)
        told: dict[str, list[str]] = {}
        for v in e.fields:
            if v.decision not in ("in_sync", "refused"):
                told.setdefault(v.why, []).append(v.field)
        if told:
            lines.append("  why:")
            lines.extend(f"    {', '.join(names)}: {why}" for why, names in told.items())
    if e.attachments:
        lines.append("  attachments:")
        lines.extend(
            f"    {a.name} ({a.size:,} bytes; CRM {'yes' if a.crm else 'no'}, "
            f"Outlook {'yes' if a.outlook else 'no'}): {a.decision}: {a.why}"
            for a in e.attachments
        )
    other = [op for op in e.ops if op.domain is Domain.ATTACHMENT]
    if other:
        lines.append("  attachment ops:")
        lines.extend(
            f"    {op.action.value} in {_SIDE_NAMES[op.side]}: "
            f"{getattr(op.record, 'name', '')} ({op.reason})"
            for op in other
        )
    if e.notices:
        lines.append("  notices:")
        lines.extend(f"    [{n.severity.value}] {n.code}: {n.message}" for n in e.notices)
    return "\n".join(lines)
