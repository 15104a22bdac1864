"""The plan: what to create, update, delete, link or unlink on each side, and why.

A `Plan` is plain immutable data. Its ops and notices are kept in one total
order, so the same inputs in any order give the same plan, and the same JSON.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections import Counter
from collections.abc import Iterable
from enum import StrEnum
from itertools import chain, pairwise
from typing import Any

import attrs

from crmsync.records import (
    Address,
    Appointment,
    Attachment,
    CrmContact,
    Domain,
    OutlookContact,
    Side,
    Task,
)
from crmsync.settings import Settings

__all__ = [
    "FORMAT_VERSION",
    "NOTICE_CODES",
    "Action",
    "BaselineUpdate",
    "FieldChange",
    "Notice",
    "Op",
    "Plan",
    "Record",
    "Severity",
    "join_apart",
]

FORMAT_VERSION = "1.0"

Record = CrmContact | OutlookContact | Appointment | Task
"""A record of any domain, on either side."""


class Action(StrEnum):
    """What an op does to its side."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    LINK = "link"
    UNLINK = "unlink"


class Severity(StrEnum):
    """How much a notice matters."""

    INFO = "info"
    WARNING = "warning"
    DATA_LOSS = "data_loss"


NOTICE_CODES: dict[str, tuple[Severity, str]] = {
    "not_tracked": (Severity.INFO, "An Outlook item that is not tracked in the CRM does not sync."),
    "unlinked": (Severity.INFO, "A record whose link a delete broke earlier no longer syncs."),
    "unlinked_gone": (
        Severity.INFO,
        "A key unlinked earlier names no record any more: it leaves the baseline.",
    ),
    "attachment_sync_disabled": (
        Severity.INFO,
        "An appointment's attachments differ between the sides and attachment sync is off.",
    ),
    "recurring_appointment_attachment_unsupported": (
        Severity.INFO,
        "Attachments of recurring series and their exceptions never sync.",
    ),
    "service_activity_attachment_unsupported": (
        Severity.INFO,
        "Attachments of service activities never sync.",
    ),
    "attachment_too_large": (
        Severity.WARNING,
        "An attachment above max_attachment_bytes does not sync.",
    ),
    "attachment_deferred": (
        Severity.INFO,
        "An attachment did not fit in attachment_budget_bytes; a later plan moves it.",
    ),
    "assigned_task_sync_disabled": (
        Severity.INFO,
        "A task assigned in Outlook does not sync while sync_assigned_tasks is off.",
    ),
    "recurring_task_unsupported": (Severity.INFO, "Recurring tasks never sync."),
    "task_assignee_outside_organization": (
        Severity.INFO,
        "An assigned task whose assigner or assignee is outside organization_domains.",
    ),
    "task_multiple_recipients": (
        Severity.INFO,
        "A task assigned to more than one recipient does not sync.",
    ),
    "address_remap_data_loss": (
        Severity.DATA_LOSS,
        "An address-mode switch under CRM_WINS or OUTLOOK_WINS overwrites an address "
        "kept nowhere else.",
    ),
    "address_remap_conflict": (
        Severity.WARNING,
        "An address-mode switch under PRESERVE cannot keep every address: the contact's "
        "addresses wait for a person.",
    ),
    "ambiguous_match": (
        Severity.WARNING,
        "A record new on both sides matches several records by its natural key: nothing "
        "is linked or created.",
    ),
    "mass_delete_blocked": (
        Severity.DATA_LOSS,
        "One side lost so many linked records that the plan writes nothing they would cause.",
    ),
    "conflict": (
        Severity.WARNING,
        "A field changed differently on both sides and the conflict policy is MANUAL.",
    ),
    "conflict_resolved": (
        Severity.WARNING,
        "A field changed differently on both sides; the notice records the value that lost.",
    ),
    "field_not_synced": (
        Severity.INFO,
        "An edit that does not travel because of its field's direction (data_loss when a "
        "delete from the other side, which the edit cannot reach, removes it).",
    ),
    "delete_not_propagated": (
        Severity.WARNING,
        "A delete a domain rule does not apply to the other side: the pair is unlinked.",
    ),
    "no_baseline": (
        Severity.DATA_LOSS,
        "A plan without a baseline over records an earlier sync linked: deletes since then "
        "cannot be seen (data_loss when the plan creates records, which may be ones deleted "
        "since; a warning otherwise).",
    ),
    "possible_duplicate": (
        Severity.INFO,
        "A record is created beside an untracked one with the same natural key.",
    ),
    "series_replaced": (
        Severity.WARNING,
        "A series made a single appointment in Outlook replaces the CRM series with a new "
        "appointment: Dataverse has no message that makes a series single.",
    ),
    "value_truncated": (
        Severity.WARNING,
        "A value longer than its CRM column's MaxLength is cut to fit on its way to the CRM; "
        "Outlook keeps the full text.",
    ),
}
"""The stable notice codes crmsync emits, with their severity and meaning.

Codes are extended, never renamed. `crmsync.exclude` adds the application's own.
"""

_ORDER: dict[Any, int] = {
    member: i for enum in (Domain, Side, Action) for i, member in enumerate(enum)
}


@attrs.frozen
class FieldChange:
    """One attribute of the target record, before and after.

    `old` and `new` hold the record's own value types (an `Address`, a
    `datetime`); `field` is the attribute name on the target record.
    """

    field: str
    old: Any
    new: Any


@attrs.frozen(kw_only=True)
class Op:
    """One operation, applied to one side.

    Args:
        action: create, update, delete, link or unlink.
        side: where it is applied (for UNLINK: the side whose record remains).
        domain: contact, appointment, attachment or task.
        key: the record's key on that side (for attachment ops: the
            appointment's key; for LINK: the Outlook record's current key).
        changes: one `FieldChange` per attribute that changes.
        record: the full target-shaped record for CREATE, the `Attachment`
            for attachment ops, otherwise None.
        reason: the rule that fired, in snake_case (`new_in_crm`).
    """

    action: Action
    side: Side
    domain: Domain
    key: str
    changes: tuple[FieldChange, ...] = ()
    record: Record | Attachment | None = None
    reason: str

    def sort_key(self) -> tuple[Any, ...]:
        """The plan's total order: domain, side, key, action, attachment identity."""
        identity = self.record.identity if isinstance(self.record, Attachment) else ("", "")
        return (_ORDER[self.domain], _ORDER[self.side], self.key, _ORDER[self.action], identity)

    @property
    def target(self) -> tuple[Domain, Side, str, tuple[str, str] | None]:
        """What the op acts on: two ops with one target must agree."""
        identity = self.record.identity if isinstance(self.record, Attachment) else None
        return (self.domain, self.side, self.key, identity)


@attrs.frozen(kw_only=True)
class Notice:
    """Why a record is not synced, or is synced with a caveat.

    `code` is stable (see docs/notices.md); `message` is a plain sentence.
    `key` is empty for a notice about a whole domain.
    """

    domain: Domain
    key: str
    code: str
    message: str
    severity: Severity = Severity.INFO
    side: Side | None = None

    def sort_key(self) -> tuple[Any, ...]:
        """Notices are ordered by domain, key, code, message, side and severity.

        Every field takes part, so two different notices never tie: the order
        never depends on how a set of them happened to iterate.
        """
        side, severity = str(self.side), str(self.severity)
        return (_ORDER[self.domain], self.key, self.code, self.message, side, severity)


@attrs.frozen(kw_only=True)
class BaselineUpdate:
    """What the baseline holds for one record once the plan is applied.

    The update replaces the baseline's entries for `(domain, key)` on both
    sides: `None` means no entry. `unlinked` and `pending_remap` are None when
    the plan does not change them.
    """

    domain: Domain
    key: str
    crm: Record | None = None
    outlook: Record | None = None
    unlinked: bool | None = None
    pending_remap: bool | None = None

    def sort_key(self) -> tuple[Any, ...]:
        """Updates are ordered by domain and key."""
        return (_ORDER[self.domain], self.key)


class _InOrder(tuple):  # type: ignore[type-arg]
    """A tuple a `Plan` has already put in its order.

    Building another plan from it (`attrs.evolve(plan, fingerprint=...)`) does
    not sort it again.
    """

    __slots__ = ()


def _sorted_ops(ops: Iterable[Op]) -> tuple[Op, ...]:
    if type(ops) is _InOrder:
        return ops
    return _InOrder(sorted(ops, key=Op.sort_key))


def _sorted_notices(notices: Iterable[Notice]) -> tuple[Notice, ...]:
    if type(notices) is _InOrder:
        return notices
    return _InOrder(sorted(set(notices), key=Notice.sort_key))


_DOMAIN = operator.attrgetter("domain")
_KEY = operator.attrgetter("key")


def _sorted_updates(updates: Iterable[BaselineUpdate]) -> tuple[BaselineUpdate, ...]:
    if type(updates) is _InOrder:
        return updates
    updates = list(updates)
    if len(set(map(_DOMAIN, updates))) <= 1:
        # One domain (a domain's own plan): its keys alone give the order, compared in C.
        return _InOrder(sorted(updates, key=_KEY))
    return _InOrder(sorted(updates, key=BaselineUpdate.sort_key))


@attrs.frozen(kw_only=True)
class Plan:
    """A diff plan: ops, notices and the baseline they lead to.

    Args:
        ops: the operations, in the plan's total order.
        notices: every caveat and every record left alone, with its reason.
        now: the moment the plan was made for (an aware datetime).
        settings: the settings it was made with.
        baseline_updates: what the baseline must hold once the ops are applied.
        fingerprint: a digest of the records the ops read and write.
        has_baseline: whether the plan was made with a baseline.
        format_version: the JSON format's version.
    """

    ops: tuple[Op, ...] = attrs.field(default=(), converter=_sorted_ops)
    notices: tuple[Notice, ...] = attrs.field(default=(), converter=_sorted_notices)
    now: dt.datetime
    settings: Settings = attrs.field(factory=Settings)
    baseline_updates: tuple[BaselineUpdate, ...] = attrs.field(
        default=(), converter=_sorted_updates
    )
    fingerprint: str = ""
    has_baseline: bool = False
    format_version: str = FORMAT_VERSION

    @property
    def is_empty(self) -> bool:
        """True when the plan has no ops (notices alone do not count)."""
        return not self.ops

    @property
    def has_data_loss(self) -> bool:
        """True when a notice says data would be lost."""
        return any(n.severity is Severity.DATA_LOSS for n in self.notices)

    @property
    def data_loss_records(self) -> frozenset[tuple[Domain, str]]:
        """The records a data-loss notice names, as `(domain, key)`: what `crmsync.hold` holds.

        An attachment's notice names its appointment. A notice about a whole
        domain (`mass_delete_blocked`, `no_baseline`) has an empty key and
        gives `(domain, "")`, which holds every record of the domain.
        """
        return frozenset(
            (Domain.APPOINTMENT if n.domain is Domain.ATTACHMENT else n.domain, n.key)
            for n in self.notices
            if n.severity is Severity.DATA_LOSS
        )

    @property
    def reread(self) -> frozenset[tuple[Domain, str]]:
        """The records whose work this plan left pending: deliver them again in a delta round.

        A pending record keeps its previous baseline values on purpose (a
        `conflict` under the manual policy, an `attachment_deferred`, an
        `address_remap_conflict`), or stays out of the baseline while it waits
        (an `ambiguous_match`), so it differs from the baseline while a
        delta query, which reports changes since the last read, will not
        return it. Read these records by id and put them in the next partial
        snapshot (both sides), or the pending work waits until they change.
        An attachment's pending work is its appointment's. For the domains in
        `reread_domains`, read completely instead.
        """
        pending = {"conflict", "attachment_deferred", "address_remap_conflict", "ambiguous_match"}
        return frozenset(
            (Domain.APPOINTMENT if n.domain is Domain.ATTACHMENT else n.domain, n.key)
            for n in self.notices
            if n.code in pending and n.key
        )

    @property
    def reread_domains(self) -> frozenset[Domain]:
        """The domains a mass-delete guard blocked: the next read must be complete there.

        The blocked deletes stay pending, and a later delta round does not
        name the missing records again, so only a complete read sees them.
        """
        return frozenset(n.domain for n in self.notices if n.code == "mass_delete_blocked")

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts of ops per `domain.side.action` and of notices per code."""
        ops = Counter(f"{op.domain}.{op.side}.{op.action}" for op in self.ops)
        notices = Counter(n.code for n in self.notices)
        return {"ops": dict(sorted(ops.items())), "notices": dict(sorted(notices.items()))}

    def render(self) -> str:
        """A readable text, grouped by domain and side, with reasons."""
        return render(self)


_TITLES = {
    Domain.CONTACT: "Contacts",
    Domain.APPOINTMENT: "Appointments",
    Domain.ATTACHMENT: "Attachments",
    Domain.TASK: "Tasks",
}
_SIDE_TITLES = {Side.CRM: "in the CRM", Side.OUTLOOK: "in Outlook"}


def describe(value: Any) -> str:
    """A value as a person reads it in a notice or a rendered plan."""
    if isinstance(value, Address):
        return value.one_line() if not value.is_empty else "(no address)"
    if isinstance(value, StrEnum):  # before str: a StrEnum is a str
        return value.value
    if isinstance(value, str):
        return repr(value) if value else "(empty)"
    if isinstance(value, tuple):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if value is None:
        return "(none)"
    return str(value)


def _record_label(record: Any) -> str:
    if isinstance(record, Attachment):
        return f"{record.name} ({record.size:,} bytes)"
    if isinstance(record, CrmContact | OutlookContact):
        name = f"{record.first_name} {record.last_name}".strip()
        return name or (record.emails[0] if record.emails else "")
    if isinstance(record, Appointment | Task):
        return record.subject
    return ""


def _named_domain(domain: Domain) -> Domain:
    """An attachment op is named after its appointment."""
    return Domain.APPOINTMENT if domain is Domain.ATTACHMENT else domain


def render(plan: Plan) -> str:
    """Formats a plan for a person: what happens where, and why."""
    lines = [f"crmsync plan for {plan.now.isoformat()}"]
    summary = plan.summary()
    # The baseline updates hold every record an op writes, as the plan leaves it: its name.
    names = {(u.domain, u.key): _record_label(u.crm or u.outlook) for u in plan.baseline_updates}
    if plan.is_empty:
        lines.append("Nothing to write: both sides are in sync.")
    for domain in Domain:
        ops = [op for op in plan.ops if op.domain is domain]
        notices = [n for n in plan.notices if n.domain is domain]
        if not ops and not notices:
            continue
        lines.append("")
        lines.append(_TITLES[domain])
        for side in Side:
            side_ops = [op for op in ops if op.side is side]
            if not side_ops:
                continue
            lines.append(f"  {_SIDE_TITLES[side]}:")
            for op in side_ops:
                label = _record_label(op.record)
                name = names.get((_named_domain(op.domain), op.key), "")
                if isinstance(op.record, Attachment) and name:
                    label += f" on {name!r}"
                elif not label:
                    label = name
                head = f"    {op.action.value:<7} {op.key}"
                if label:
                    head += f"  {label}"
                lines.append(f"{head}  ({op.reason})")
                lines.extend(
                    f"        {c.field}: {describe(c.old)} -> {describe(c.new)}" for c in op.changes
                )
        if notices:
            lines.append("  notices:")
            for n in notices:
                where = f" {n.key}" if n.key else ""
                if names.get((_named_domain(n.domain), n.key)):
                    where += f" ({names[(_named_domain(n.domain), n.key)]})"
                lines.append(f"    [{n.severity.value}] {n.code}{where}: {n.message}")
    counts = ", ".join(f"{k} {v}" for k, v in summary["ops"].items()) or "no ops"
    lines.append("")
    lines.append(f"Summary: {counts}; {len(plan.notices)} notice(s)")
    if plan.has_data_loss:
        lines.append("WARNING: this plan reports data loss; read the data_loss notices.")
    return "\n".join(lines)


def notices_markdown() -> str:
    """The notice codes as a Markdown table, as docs/notices.md shows them."""
    rows = [
        f"| `{code}` | {severity.value} | {meaning} |"
        for code, (severity, meaning) in NOTICE_CODES.items()
    ]
    return "\n".join(["| code | severity | meaning |", "|---|---|---|", *rows]) + "\n"


_PLACE = operator.attrgetter("domain", "side", "key")
_RECORD_KEY = operator.attrgetter("domain", "key")


def _distinct(plan: Plan) -> bool:
    """True when no two of the plan's ops act on one target (`Op.target`), nor two updates."""
    ops, updates = plan.ops, plan.baseline_updates
    if len(set(map(_RECORD_KEY, updates))) < len(updates):
        return False
    if len(set(map(_PLACE, ops))) == len(ops):  # in C; an attachment op adds its identity
        return True
    return len({op.target for op in ops}) == len(ops)


def join_apart(
    plans: Iterable[Plan],
) -> tuple[tuple[Op, ...], tuple[Notice, ...], tuple[BaselineUpdate, ...]] | None:
    """The ops, notices and baseline updates of plans that share no domain, in plan order.

    A plan's ops, notices and updates are each ordered by domain first, so
    their first and last entries give the domains the plan spans. Plans whose
    spans do not overlap cannot disagree on a record, and put in span order
    they are already in the total order of one plan holding them all: their
    entries are joined without sorting again. None when two plans share a
    domain, or when one plan holds two ops or two baseline updates on one
    record (then the caller merges them entry by entry, keeping identical
    ones once and refusing different ones).
    """
    spans = []
    for plan in plans:
        parts = (plan.ops, plan.notices, plan.baseline_updates)
        ends = [_ORDER[part[i].domain] for part in parts if part for i in (0, -1)]
        if ends:
            spans.append((min(ends), max(ends), plan))
    spans.sort(key=operator.itemgetter(0))
    if any(before[1] >= after[0] for before, after in pairwise(spans)):
        return None
    apart = [plan for _, _, plan in spans]
    if not all(_distinct(plan) for plan in apart):
        return None  # two ops or updates on one record: the caller's merge decides
    return (
        _InOrder(chain.from_iterable(plan.ops for plan in apart)),
        _InOrder(chain.from_iterable(plan.notices for plan in apart)),
        _InOrder(chain.from_iterable(plan.baseline_updates for plan in apart)),
    )
