"""Contacts: the field map, the address modes and the address remap.

Rules (Dynamics 365, System Settings > Synchronization):
- "Synchronize the mailing address only" (`MAILING_ONLY`): CRM address1 ↔ the
  Outlook address marked "This is the mailing address"; the others do not travel.
- "Synchronize all three addresses" (`ALL_THREE`): address1 ↔ Business,
  address2 ↔ Home, address3 ↔ Other.
- Switching between them remaps linked contacts, which Dynamics warns can lose
  data. crmsync merges edits under the old mode first, then remaps under
  `Settings.address_remap`, and reports every address it cannot keep.
- Only tracked Outlook contacts sync. A contact deleted in (or scoped out of)
  the CRM is removed from the mailbox; an Outlook delete never deletes the CRM
  contact: the pair is unlinked.
- A contact new on both sides with the same first e-mail address is linked,
  not created twice.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import attrs

from crmsync.fields import CONTACT_FIELDS, FieldRule
from crmsync.merge import DomainPolicy, DomainRules, Pair, PairResult, View
from crmsync.plan import Notice, Severity
from crmsync.policy import SyncInput
from crmsync.records import (
    OUTLOOK_ADDRESS_FIELDS,
    Address,
    AddressKind,
    CrmContact,
    Domain,
    OutlookContact,
    Side,
    rebuild,
)
from crmsync.settings import AddressRemap, AddressSync, Direction, Settings

__all__ = ["FIELDS", "RULES", "ContactRules", "policy"]


FIELDS = CONTACT_FIELDS
"""The contact field map (see `crmsync.fields`)."""

_PLAIN = tuple(rule.name for rule in FIELDS if not rule.name.startswith("address"))
_plain_values = operator.attrgetter(*_PLAIN)
ADDRESS_FIELDS = ("address1", "address2", "address3")
_LEFT_FOR_A_PERSON = "left for a person to resolve (conflict policy: manual)."
KINDS = (AddressKind.BUSINESS, AddressKind.HOME, AddressKind.OTHER)
"""Under ALL_THREE, address1..3 pair with these Outlook addresses in order."""


def _crm_addresses(record: CrmContact) -> list[Address]:
    return [record.address1, record.address2, record.address3]


def _outlook_addresses(record: OutlookContact) -> list[Address]:
    return [record.address(kind) for kind in KINDS]


def _with_crm_addresses(record: CrmContact, slots: Sequence[Address]) -> CrmContact:
    values: dict[str, Any] = dict(zip(ADDRESS_FIELDS, slots, strict=True))
    return attrs.evolve(record, **values)


def _with_outlook_addresses(record: OutlookContact, slots: Sequence[Address]) -> OutlookContact:
    names = [OUTLOOK_ADDRESS_FIELDS[kind] for kind in KINDS]
    values: dict[str, Any] = dict(zip(names, slots, strict=True))
    return attrs.evolve(record, **values)


class _Slots:
    """Address slots of one side, compared for sync purposes."""

    @staticmethod
    def holds(slots: Sequence[Address], address: Address) -> bool:
        return any(s.same_as(address) for s in slots)

    @staticmethod
    def distinct(*sides: Sequence[Address]) -> list[Address]:
        out: list[Address] = []
        for slots in sides:
            for address in slots:
                if not address.is_empty and not _Slots.holds(out, address):
                    out.append(address)
        return out


@attrs.frozen
class _Remap:
    crm: tuple[Address, ...]
    outlook: tuple[Address, ...]
    problem: str = ""  # why PRESERVE cannot keep every address
    notices: tuple[Notice, ...] = ()


def _preserve_all_three(crm: list[Address], outlook: list[Address]) -> tuple[list[Address], str]:
    """One set of three slots holding every distinct address of both sides.

    Outlook's Business, Home and Other mean something to the user; the CRM's
    address1..3 are only an order. So each address takes one slot: first where
    both sides agree, then where Outlook holds it, then where the CRM holds it,
    then any free slot. Outlook's addresses therefore stay where they are (a
    copy of one held in another slot aside), and with at most three distinct
    addresses everything fits. A slot no address needs keeps Outlook's value.
    """
    final: list[Address | None] = [None, None, None]

    def placed(address: Address) -> bool:
        return _Slots.holds([f for f in final if f is not None], address)

    for i in range(3):
        if not crm[i].is_empty and crm[i].same_as(outlook[i]) and not placed(crm[i]):
            final[i] = crm[i]
    for side in (outlook, crm):
        for i in range(3):
            if final[i] is None and not side[i].is_empty and not placed(side[i]):
                final[i] = side[i]
    remaining = [a for a in _Slots.distinct(crm, outlook) if not placed(a)]
    for i in range(3):
        if final[i] is None and remaining:
            final[i] = remaining.pop(0)
    if remaining:
        lost = "; ".join(a.one_line() for a in remaining)
        return (
            crm,
            "both sides together hold more than three distinct addresses "
            f"(no slot left for {lost})",
        )
    return [
        f if f is not None else (outlook[i] if not outlook[i].is_empty else crm[i])
        for i, f in enumerate(final)
    ], ""


def _settle(
    slots: list[Address], fixed: int, value: Address, everything: Sequence[Address]
) -> tuple[list[Address], list[Address]]:
    """One side's slots with `value` at `fixed` and every address somewhere.

    A slot keeps its address unless it is a copy of one held elsewhere; the
    addresses missing go first over such copies, then into empty slots. A slot
    nothing needs keeps what it holds. Returns the slots and what did not fit.
    """
    out = list(slots)
    out[fixed] = value
    kept = [value] if not value.is_empty else []
    copies, empty = [], []
    for i, address in enumerate(slots):
        if i == fixed:
            continue
        if address.is_empty:
            empty.append(i)
        elif _Slots.holds(kept, address):
            copies.append(i)
        else:
            kept.append(address)
    missing = [a for a in everything if not _Slots.holds(kept, a)]
    for i in copies + empty:
        if missing:
            out[i] = missing.pop(0)
    return out, missing


def _preserve_mailing(
    crm: list[Address], outlook: list[Address], mailing: int
) -> tuple[list[Address], list[Address], str]:
    """CRM address1 equal to the Outlook mailing address, every address kept on both sides."""
    everything = _Slots.distinct(crm, outlook)
    # The Outlook mailing address is the user's explicit choice; CRM slots carry
    # no meaning beyond their order, so the CRM side moves.
    value = outlook[mailing] if not outlook[mailing].is_empty else crm[0]
    if value.is_empty and len(everything) == 3:
        # Three addresses and no mailing address: address1 must hold one of
        # them, so it becomes the mailing address on both sides.
        value = next(a for a in everything if not _Slots.holds(outlook, a))
    c, crm_missing = _settle(crm, 0, value, everything)
    o, outlook_missing = _settle(outlook, mailing, value, everything)
    if crm_missing:
        return crm, outlook, f"the CRM has no free slot for {crm_missing[0].one_line()}"
    if outlook_missing:
        return crm, outlook, f"Outlook has no free address for {outlook_missing[0].one_line()}"
    return c, o, ""


class ContactRules(DomainRules[CrmContact, OutlookContact]):
    """The contacts domain, plugged into the shared merge."""

    domain: ClassVar[Domain] = Domain.CONTACT
    fields: ClassVar[tuple[FieldRule, ...]] = FIELDS
    snapshot_field: ClassVar[str] = "contacts"
    natural_key_label: ClassVar[str] = "first e-mail address"

    # --- views -----------------------------------------------------------------
    def crm_view(self, record: CrmContact, settings: Settings) -> View:
        """Names, e-mails, phones, title, department, notes and the synced addresses."""
        view: View = dict(zip(_PLAIN, _plain_values(record), strict=True))
        view["address1"] = record.address1
        if settings.address_sync is AddressSync.ALL_THREE:
            view["address2"] = record.address2
            view["address3"] = record.address3
        return view

    def outlook_view(self, record: OutlookContact, settings: Settings) -> View:
        """As `crm_view`; address1 is the mailing address under MAILING_ONLY."""
        view: View = dict(zip(_PLAIN, _plain_values(record), strict=True))
        if settings.address_sync is AddressSync.ALL_THREE:
            for name, kind in zip(ADDRESS_FIELDS, KINDS, strict=True):
                view[name] = record.address(kind)
        else:
            view["address1"] = record.address(record.mailing_address)
        return view

    def to_crm(
        self,
        view: View,
        template: CrmContact | None,
        key: str,
        inp: SyncInput,
        settings: Settings,
    ) -> CrmContact:
        """Writes view fields onto a CRM contact (a new one is owned by the user)."""
        if template is None:
            template = CrmContact(key=key, owner=inp.user)
        return rebuild(template, view)

    def to_outlook(
        self,
        view: View,
        template: OutlookContact | None,
        key: str,
        inp: SyncInput,
        settings: Settings,
    ) -> OutlookContact:
        """Writes view fields onto an Outlook contact, addresses by the address mode."""
        if template is None:
            template = OutlookContact(key=key)
        values = {name: value for name, value in view.items() if name in _PLAIN}
        if settings.address_sync is AddressSync.ALL_THREE:
            for name, kind in zip(ADDRESS_FIELDS, KINDS, strict=True):
                if name in view:
                    values[OUTLOOK_ADDRESS_FIELDS[kind]] = view[name]
        elif "address1" in view:
            values[OUTLOOK_ADDRESS_FIELDS[template.mailing_address]] = view["address1"]
        return rebuild(template, values)

    # --- rules -------------------------------------------------------------------
    def natural_key(self, record: Any, side: Side) -> str:
        """The first e-mail address, casefolded."""
        return record.emails[0].strip().casefold() if record.emails else ""

    def delete_refused(self, deleted_on: Side, survivor: Any, pair: Pair, inp: SyncInput) -> str:
        """A CRM delete removes the Outlook contact; an Outlook delete never deletes the CRM's."""
        if deleted_on is Side.OUTLOOK:
            return (
                "The contact was deleted in Outlook; the CRM contact is kept and no longer "
                "syncs with this mailbox."
            )
        return ""

    def pending(self, key: str, inp: SyncInput) -> bool:
        """A contact whose address remap waits for a person."""
        return inp.baseline is not None and key in inp.baseline.pending_remap

    def pending_keys(self, inp: SyncInput) -> Iterable[str]:
        """The contacts whose address remap waits for a person."""
        return inp.baseline.pending_remap if inp.baseline is not None else ()

    def merge_pair(
        self,
        pair: Pair,
        inp: SyncInput,
        settings: Settings | None = None,
        skip: frozenset[str] = frozenset(),
    ) -> PairResult:
        """Merges a pair, remapping its addresses when the address mode switched."""
        pending = self.pending(pair.key, inp)
        if pending:
            # Addresses stay out of the merge until the remap can run.
            result = super().merge_pair(pair, inp, skip=frozenset(ADDRESS_FIELDS))
        elif self._switched(pair, inp):
            old = attrs.evolve(inp.settings, address_sync=inp.previous_settings.address_sync)
            result = super().merge_pair(pair, inp, settings=old)
        else:
            return super().merge_pair(pair, inp, settings, skip)
        self._remap(pair, result, inp, was_pending=pending)
        return result

    def _switched(self, pair: Pair, inp: SyncInput) -> bool:
        """True for a linked pair when the address mode differs from the last sync's.

        Every linked contact is remapped, whether or not its baseline reads
        differently under the two modes: an address edited since the last
        sync must first travel under the mode it was edited in.
        """
        return pair.linked and inp.previous_settings.address_sync is not inp.settings.address_sync

    def _remap(self, pair: Pair, result: PairResult, inp: SyncInput, *, was_pending: bool) -> None:
        crm: CrmContact = result.crm_after
        outlook: OutlookContact = result.outlook_after
        remap = _remap_addresses(crm, outlook, inp.settings, pair.key)
        result.notices += tuple(remap.notices)
        if remap.problem:
            result.notices += (
                self.notice(
                    pair.key,
                    "address_remap_conflict",
                    f"The address mode changed to {inp.settings.address_sync.value}, but the "
                    f"addresses cannot be remapped without losing one: {remap.problem}. The "
                    "contact's addresses are left as they are until a person makes them fit.",
                    Severity.WARNING,
                ),
            )
            # The addresses stay pending: the baseline keeps their previous values.
            if pair.linked:
                result.base_crm = _with_crm_addresses(
                    result.base_crm, _crm_addresses(pair.base_crm)
                )
                result.base_outlook = attrs.evolve(
                    _with_outlook_addresses(
                        result.base_outlook, _outlook_addresses(pair.base_outlook)
                    ),
                    mailing_address=pair.base_outlook.mailing_address,
                )
            if not was_pending:
                result.pending_remap = True
            return
        # An address conflict the manual policy left for a person is settled by the
        # remap keeping both addresses on both sides: say so, not "left for a person".
        if inp.settings.address_remap is AddressRemap.PRESERVE:
            settled = "the address-mode switch keeps both addresses on both sides, so nothing "
            settled += "is overwritten; check which slot each belongs in."
        else:
            settled = f"the address-mode switch settles it ({inp.settings.address_remap.value}); "
            settled += "an address it overwrites has an address_remap_data_loss notice."
        result.notices = tuple(
            attrs.evolve(n, message=n.message.replace(_LEFT_FOR_A_PERSON, settled))
            if n.code == "conflict" and n.message.startswith("address ")
            else n
            for n in result.notices
        )
        new_crm = _with_crm_addresses(crm, remap.crm)
        new_outlook = _with_outlook_addresses(outlook, remap.outlook)
        if new_crm != crm:
            result.crm_reason = "address_remap"
        if new_outlook != outlook:
            result.outlook_reason = "address_remap"
        result.crm_after, result.outlook_after = new_crm, new_outlook
        # The baseline may hold a pending field's previous value: change only the addresses.
        result.base_crm = _with_crm_addresses(result.base_crm, remap.crm)
        result.base_outlook = _with_outlook_addresses(result.base_outlook, remap.outlook)
        if was_pending:
            result.pending_remap = False


def _remap_addresses(
    crm: CrmContact, outlook: OutlookContact, settings: Settings, key: str
) -> _Remap:
    """The addresses of both sides under the new address mode."""
    c, o = _crm_addresses(crm), _outlook_addresses(outlook)
    mailing = KINDS.index(outlook.mailing_address)
    before = _Slots.distinct(c, o)
    policy = settings.address_remap
    all_three = settings.address_sync is AddressSync.ALL_THREE
    if policy is AddressRemap.PRESERVE:
        if all_three:
            final, problem = _preserve_all_three(c, o)
            new_c, new_o = final, list(final)
        else:
            new_c, new_o, problem = _preserve_mailing(c, o, mailing)
        if problem:
            return _Remap(tuple(c), tuple(o), problem)
        # Keep each side's own spelling where the address is the same.
        new_c = [old if old.same_as(new) else new for old, new in zip(c, new_c, strict=True)]
        new_o = [old if old.same_as(new) else new for old, new in zip(o, new_o, strict=True)]
        blocked = _forbidden_writes(c, new_c, o, new_o, settings, mailing)
        if blocked:
            return _Remap(tuple(c), tuple(o), blocked)
        return _Remap(tuple(new_c), tuple(new_o))
    # CRM_WINS / OUTLOOK_WINS: the winner's addresses overwrite the loser's.
    new_c, new_o = list(c), list(o)
    pairs = [(i, i) for i in range(3)] if all_three else [(0, mailing)]
    notices: list[Notice] = []
    for crm_slot, outlook_slot in pairs:
        if policy is AddressRemap.CRM_WINS:
            new_o[outlook_slot] = c[crm_slot]
        else:
            new_c[crm_slot] = o[outlook_slot]
    for i, field in enumerate(ADDRESS_FIELDS):
        direction = settings.direction(f"contact.{field}")
        if not new_c[i].same_as(c[i]) and not direction.to_crm:
            new_c[i] = c[i]
            notices.append(_not_synced(key, field, Side.CRM))
        paired = _outlook_field(i, mailing, settings)
        if not new_o[i].same_as(o[i]) and not settings.direction(f"contact.{paired}").to_outlook:
            new_o[i] = o[i]
            notices.append(_not_synced(key, paired, Side.OUTLOOK))
    kept = _Slots.distinct(new_c, new_o)
    for address in before:
        if not _Slots.holds(kept, address):
            side = Side.OUTLOOK if _Slots.holds(o, address) else Side.CRM
            winner = "the CRM" if policy is AddressRemap.CRM_WINS else "Outlook"
            notices.append(
                Notice(
                    domain=Domain.CONTACT,
                    key=key,
                    code="address_remap_data_loss",
                    message=f"Remapping addresses to {settings.address_sync.value} ({winner} wins) "
                    f"overwrites {address.one_line()}, which is kept nowhere else.",
                    severity=Severity.DATA_LOSS,
                    side=side,
                )
            )
    return _Remap(tuple(new_c), tuple(new_o), notices=tuple(notices))


def _not_synced(key: str, field: str, side: Side) -> Notice:
    where = "the CRM" if side is Side.CRM else "Outlook"
    return Notice(
        domain=Domain.CONTACT,
        key=key,
        code="field_not_synced",
        message=f"The address remap would write {field} in {where}, but its "
        f"direction does not allow it; {where} keeps its address.",
        severity=Severity.INFO,
        side=side,
    )


def _forbidden_writes(
    c: list[Address],
    new_c: list[Address],
    o: list[Address],
    new_o: list[Address],
    settings: Settings,
    mailing: int,
) -> str:
    """Why a PRESERVE remap would write where a field's direction forbids it ('' if not)."""
    for i, field in enumerate(ADDRESS_FIELDS):
        direction: Direction = settings.direction(f"contact.{field}")
        if not new_c[i].same_as(c[i]) and not direction.to_crm:
            return f"{field} would change in the CRM, but it syncs {direction.value}"
        paired = _outlook_field(i, mailing, settings)
        direction = settings.direction(f"contact.{paired}")
        if not new_o[i].same_as(o[i]) and not direction.to_outlook:
            return f"the {KINDS[i].value} address would change in Outlook, but {paired} syncs " + (
                direction.value
            )
    return ""


def _outlook_field(slot: int, mailing: int, settings: Settings) -> str:
    """The CRM field whose direction governs writing Outlook address `slot` in a remap.

    Under MAILING_ONLY the mailing address pairs with address1; otherwise (and for
    the other slots, which mailing only does not sync) a slot answers to the field
    it pairs with under ALL_THREE.
    """
    if settings.address_sync is AddressSync.MAILING_ONLY and slot == mailing:
        return "address1"
    return ADDRESS_FIELDS[slot]


RULES = ContactRules()


policy = DomainPolicy(RULES)
"""Plans the contacts of a `SyncInput`: `policy(inp) -> Plan`."""
