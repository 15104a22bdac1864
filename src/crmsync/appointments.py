"""Appointments: the field map, attachments, recurring series, service activities, deletes.

Rules (Dynamics 365 documentation):
- "Synchronize appointment attachments with Outlook or Exchange" is off by
  default; "Synchronization of attachments isn't supported for recurring
  appointments or service activities"; attachments above the maximum file
  size do not sync. Turning the setting off leaves every attachment where it
  is. crmsync adds a per-plan byte budget for low-bandwidth networks.
- Service activities synchronize from the CRM to Outlook only; so do
  appointments the CRM has completed or canceled.
- Recurring series sync as masters (with their pattern); a modified occurrence
  syncs as a record of its own.
- A CRM delete removes the Outlook item only when the syncing user organizes a
  future appointment. An Outlook delete is not applied to a completed,
  canceled or past appointment, nor when the user is not the organizer.
- An appointment new on both sides with the same iCalendar UID is linked,
  not created twice.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from crmsync.fields import APPOINTMENT_FIELDS, FieldRule
from crmsync.merge import DomainPolicy, DomainRules, Pair, PairResult, View
from crmsync.plan import Action, Op, Severity
from crmsync.policy import SyncInput
from crmsync.records import (
    ActivityKind,
    ActivityState,
    Appointment,
    Attachment,
    Domain,
    Side,
    rebuild,
)
from crmsync.settings import Direction, Settings

__all__ = ["FIELDS", "RULES", "AppointmentRules", "policy"]

FIELDS = APPOINTMENT_FIELDS
"""The appointment field map (see `crmsync.fields`)."""

_PLAIN = (
    "subject",
    "body",
    "location",
    "priority",
    "show_as",
    "organizer",
    "required",
    "optional",
    "regarding",
    "recurrence",
)
_plain_values = operator.attrgetter(*_PLAIN)
_CLOSED = (ActivityState.COMPLETED, ActivityState.CANCELED)


def _view(record: Appointment) -> View:
    view: View = dict(zip(_PLAIN, _plain_values(record), strict=True))
    view["time"] = (record.start, record.end, record.all_day)
    return view


def _write(template: Appointment, view: View) -> Appointment:
    values = {name: value for name, value in view.items() if name != "time"}
    if "time" in view:
        values["start"], values["end"], values["all_day"] = view["time"]
    return rebuild(template, values)


def _is_organizer(record: Appointment, user: str) -> bool:
    return bool(user) and record.organizer.strip().casefold() == user.strip().casefold()


class AppointmentRules(DomainRules[Appointment, Appointment]):
    """The appointments domain, plugged into the shared merge."""

    domain: ClassVar[Domain] = Domain.APPOINTMENT
    fields: ClassVar[tuple[FieldRule, ...]] = FIELDS
    snapshot_field: ClassVar[str] = "appointments"
    natural_key_label: ClassVar[str] = "iCalendar UID"
    # Graph sets the organizer of an event it creates and never updates it; Dataverse binds
    # it to a system user. It is written on create and is a standing difference after.
    carried_on_create: ClassVar[frozenset[str]] = frozenset({"organizer"})

    def crm_view(self, record: Appointment, settings: Settings) -> View:
        """The CRM appointment as a view (time is one unit)."""
        return _view(record)

    def outlook_view(self, record: Appointment, settings: Settings) -> View:
        """The Outlook appointment as a view (time is one unit)."""
        return _view(record)

    def _new(self, view: View, key: str, **extra: Any) -> Appointment:
        start, end, all_day = view["time"]
        return _write(Appointment(key=key, start=start, end=end, all_day=all_day, **extra), view)

    def to_crm(
        self,
        view: View,
        template: Appointment | None,
        key: str,
        inp: SyncInput,
        settings: Settings,
    ) -> Appointment:
        """Writes view fields onto a CRM appointment (a new one is owned by the user)."""
        return self._new(view, key, owner=inp.user) if template is None else _write(template, view)

    def to_outlook(
        self,
        view: View,
        template: Appointment | None,
        key: str,
        inp: SyncInput,
        settings: Settings,
    ) -> Appointment:
        """Writes view fields onto an Outlook appointment (a new one is tracked)."""
        return self._new(view, key) if template is None else _write(template, view)

    def natural_key(self, record: Any, side: Side) -> str:
        """The iCalendar UID."""
        return str(record.uid).strip()

    def directions(
        self, crm: Appointment | None, outlook: Appointment | None, settings: Settings
    ) -> Mapping[str, Direction]:
        """Service activities, and appointments the CRM closed, sync CRM → Outlook only."""
        directions = super().directions(crm, outlook, settings)
        service = ActivityKind.SERVICE_ACTIVITY
        one_way = (crm is not None and (crm.kind is service or crm.state in _CLOSED)) or (
            outlook is not None and outlook.kind is service
        )
        if one_way:
            return {
                name: Direction.TO_OUTLOOK if d.to_outlook else Direction.NONE
                for name, d in directions.items()
            }
        return directions

    def delete_refused(self, deleted_on: Side, survivor: Any, pair: Pair, inp: SyncInput) -> str:
        """Dynamics' delete rules: service activities, organizer, future, open."""
        if deleted_on is Side.OUTLOOK and survivor.kind is ActivityKind.SERVICE_ACTIVITY:
            # Service activities sync from the CRM to Outlook only, deletes included.
            return (
                "The service activity was deleted in Outlook, but service activities sync from "
                "the CRM to Outlook only, so the CRM keeps it."
            )
        # A CRM row holds an organizer only when it is a system user (the table's organizer
        # targets systemuser only): without one, the organizer is the one Outlook held.
        gone = pair.base_outlook if deleted_on is Side.OUTLOOK else pair.base_crm
        held = survivor if survivor.organizer or gone is None else gone
        if not _is_organizer(held, inp.user):
            return (
                f"The appointment was deleted in {_NAME[deleted_on]}, but {inp.user or 'the user'} "
                f"is not its organizer, so {_NAME[deleted_on.other]} keeps it."
            )
        if deleted_on is Side.CRM:
            if survivor.start <= inp.now:
                return (
                    "The appointment was deleted in the CRM, but it has already started, so "
                    "Outlook keeps it."
                )
            return ""
        if survivor.state in _CLOSED:
            return (
                f"The appointment was deleted in Outlook, but it is {survivor.state.value} in the "
                "CRM, so the CRM keeps it."
            )
        if survivor.end <= inp.now:
            return "The appointment was deleted in Outlook, but it is past, so the CRM keeps it."
        return ""

    def create(self, pair: Pair, source: Side, inp: SyncInput, reason: str) -> PairResult:
        """Creates the appointment on the other side, with its identity fields."""
        record: Appointment = pair.crm if source is Side.CRM else pair.outlook
        if source is Side.OUTLOOK and record.kind is ActivityKind.SERVICE_ACTIVITY:
            result = PairResult(
                key=pair.key,
                crm_before=None,
                outlook_before=record,
                crm_after=None,
                outlook_after=record,
                keep_baseline=True,
            )
            result.notices += (
                self.notice(
                    pair.key,
                    "field_not_synced",
                    "Service activities sync from the CRM to Outlook only; this one exists only "
                    "in Outlook, so it is not created in the CRM.",
                    Severity.INFO,
                    Side.OUTLOOK,
                ),
            )
            return result
        result = super().create(pair, source, inp, reason)
        target = source.other
        created = attrs.evolve(
            getattr(result, f"{target}_after"),
            uid=record.uid,
            kind=record.kind,
            series_key=record.series_key,
            attachments=(),
        )
        setattr(result, f"{target}_after", created)
        setattr(result, f"base_{target}", created)
        self._attachments(pair, result, inp)
        return result

    def merge_pair(
        self,
        pair: Pair,
        inp: SyncInput,
        settings: Settings | None = None,
        skip: frozenset[str] = frozenset(),
    ) -> PairResult:
        """Merges the fields, then moves attachments under the attachment rules."""
        result = super().merge_pair(pair, inp, settings, skip)
        before, after = result.crm_before, result.crm_after
        if before.recurrence is not None and after.recurrence is None:
            # Dataverse has no message that turns a series into an appointment.
            result.notices += (
                self.notice(
                    pair.key,
                    "series_replaced",
                    "The series became a single appointment in Outlook. Dataverse cannot turn "
                    "a series into an appointment, so the CRM series is deleted and a new "
                    "appointment made in its place, under a new id; the series' occurrences "
                    "and exceptions in the CRM go with it.",
                    Severity.WARNING,
                    Side.CRM,
                ),
            )
        self._attachments(pair, result, inp)
        return result

    def _attachments(self, pair: Pair, result: PairResult, inp: SyncInput) -> None:
        """Attachment ops for the pair as the plan leaves it."""
        if result.crm_after.attachments == result.outlook_after.attachments:
            return  # the same attachments on both sides: none moves
        after = {Side.CRM: result.crm_after, Side.OUTLOOK: result.outlook_after}
        held = {side: {a.identity: a for a in after[side].attachments} for side in Side}
        base = None
        if pair.linked:
            base = {
                side: {a.identity for a in getattr(pair, f"base_{side}").attachments}
                for side in Side
            }
        moves: list[Op] = []
        for identity in sorted(held[Side.CRM].keys() ^ held[Side.OUTLOOK].keys()):
            source = Side.CRM if identity in held[Side.CRM] else Side.OUTLOOK
            attachment = held[source][identity]
            if base is not None and identity in base[source.other] and identity in base[source]:
                # It was on both sides; the other side removed it.
                moves.append(
                    Op(
                        action=Action.DELETE,
                        side=source,
                        domain=Domain.ATTACHMENT,
                        key=pair.key,
                        record=attachment,
                        reason=f"attachment_removed_in_{source.other}",
                    )
                )
            else:
                moves.append(
                    Op(
                        action=Action.CREATE,
                        side=source.other,
                        domain=Domain.ATTACHMENT,
                        key=pair.key,
                        record=attachment,
                        reason=f"attachment_added_in_{source}",
                    )
                )
        if not moves:
            return
        refusal = self._attachment_refusal(after[Side.CRM], after[Side.OUTLOOK], inp.settings)
        if refusal:
            result.notices += (self.notice(pair.key, *refusal, Severity.INFO),)
            return
        settings = inp.settings
        for op in moves:
            attachment = op.record
            assert isinstance(attachment, Attachment)  # noqa: S101 - built just above
            if op.action is Action.CREATE and attachment.size > settings.max_attachment_bytes:
                result.notices += (
                    self.notice(
                        pair.key,
                        "attachment_too_large",
                        f"{attachment.name} ({attachment.size:,} bytes) is larger than the "
                        f"maximum file size ({settings.max_attachment_bytes:,} bytes), so it "
                        "does not sync.",
                        Severity.WARNING,
                        op.side.other,
                    ),
                )
                continue
            result.extra_ops += (op,)
        self._settle_bases(result)

    def _attachment_refusal(
        self, crm: Appointment, outlook: Appointment, settings: Settings
    ) -> tuple[str, str] | None:
        if not settings.sync_appointment_attachments:
            return (
                "attachment_sync_disabled",
                "The attachments differ between the CRM and Outlook, and synchronizing "
                "appointment attachments is turned off; nothing is moved or removed.",
            )
        if crm.is_recurring or outlook.is_recurring:
            return (
                "recurring_appointment_attachment_unsupported",
                "Synchronization of attachments isn't supported for recurring appointments.",
            )
        if ActivityKind.SERVICE_ACTIVITY in (crm.kind, outlook.kind):
            return (
                "service_activity_attachment_unsupported",
                "Synchronization of attachments isn't supported for service activities.",
            )
        return None

    def _settle_bases(self, result: PairResult) -> None:
        """The baseline holds each side's attachments as the plan leaves them."""
        for side in Side:
            current = getattr(result, f"base_{side}")
            kept = {a.identity: a for a in current.attachments}
            for op in result.extra_ops:
                if op.side is side and isinstance(op.record, Attachment):
                    if op.action is Action.CREATE:
                        kept[op.record.identity] = op.record
                    else:
                        kept.pop(op.record.identity, None)
            setattr(result, f"base_{side}", attrs.evolve(current, attachments=tuple(kept.values())))

    def finish(self, results: list[PairResult], inp: SyncInput) -> None:
        """Spends `attachment_budget_bytes`: nearest upcoming appointment first, smaller first."""
        budget = inp.settings.attachment_budget_bytes
        if budget is None:
            return
        now = inp.now

        def order(item: tuple[PairResult, Op]) -> tuple[Any, ...]:
            result, op = item
            start: dt.datetime = (result.crm_after or result.outlook_after).start
            upcoming = start >= now
            distance = (start - now) if upcoming else (now - start)
            attachment = op.record
            assert isinstance(attachment, Attachment)  # noqa: S101 - attachment ops only
            return (not upcoming, distance, attachment.size, result.key, attachment.identity)

        wanted = [
            (result, op)
            for result in results
            for op in result.extra_ops
            if op.domain is Domain.ATTACHMENT and op.action is Action.CREATE
        ]
        left = budget
        for result, op in sorted(wanted, key=order):
            attachment = op.record
            assert isinstance(attachment, Attachment)  # noqa: S101 - attachment ops only
            if attachment.size <= left:
                left -= attachment.size
                continue
            ops = list(result.extra_ops)
            ops.remove(op)
            result.extra_ops = tuple(ops)
            result.notices += (
                self.notice(
                    result.key,
                    "attachment_deferred",
                    f"{attachment.name} ({attachment.size:,} bytes) does not fit in this plan's "
                    f"attachment budget ({budget:,} bytes); "
                    + (
                        "a later plan moves it."
                        if attachment.size <= budget
                        else "it is larger than the whole budget, so it waits until "
                        "attachment_budget_bytes is raised."
                    ),
                    Severity.INFO,
                    op.side,
                ),
            )
            # Pending: neither side's baseline holds it, so the next plan sees it again.
            for side in Side:
                base = getattr(result, f"base_{side}")
                kept = tuple(a for a in base.attachments if a.identity != attachment.identity)
                setattr(result, f"base_{side}", attrs.evolve(base, attachments=kept))


_NAME = {Side.CRM: "the CRM", Side.OUTLOOK: "Outlook"}

RULES = AppointmentRules()


policy = DomainPolicy(RULES)
"""Plans the appointments of a `SyncInput`: `policy(inp) -> Plan`."""
