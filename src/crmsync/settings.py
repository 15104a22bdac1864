"""The organization's synchronization settings (System Settings > Synchronization).

Defaults are the ones Dynamics 365 documents. `Settings` validates itself on
construction: a bad value is a `SettingsError` naming every problem.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from typing import Any, TypeVar

import attrs

from crmsync.errors import Problem, Problems, SettingsError, shown, unknown_name
from crmsync.fields import FIELD_RULES, Direction

_SURROGATE = re.compile("[\ud800-\udfff]")  # not valid Unicode: no output can write it

__all__ = [
    "AddressRemap",
    "AddressSync",
    "ConflictPolicy",
    "Direction",
    "FieldDirections",
    "Settings",
]

E = TypeVar("E", bound=StrEnum)

DEFAULT_MAX_ATTACHMENT_BYTES = 5120 * 1024  # Dynamics' default maximum file size, 5,120 KB


class AddressSync(StrEnum):
    """Which contact addresses synchronize."""

    MAILING_ONLY = "mailing_only"
    """CRM address1 ↔ the Outlook address marked as the mailing address."""
    ALL_THREE = "all_three"
    """address1 ↔ Business, address2 ↔ Home, address3 ↔ Other."""


class AddressRemap(StrEnum):
    """What happens to linked contacts when `address_sync` changes."""

    PRESERVE = "preserve"
    """Never lose an address; where that is impossible, leave the contact alone."""
    CRM_WINS = "crm_wins"
    """The CRM's addresses overwrite Outlook's; each lost address is reported."""
    OUTLOOK_WINS = "outlook_wins"
    """Outlook's addresses overwrite the CRM's; each lost address is reported."""


class ConflictPolicy(StrEnum):
    """Who wins when a field changed differently on both sides."""

    CRM_WINS = "crm_wins"
    OUTLOOK_WINS = "outlook_wins"
    NEWEST_WINS = "newest_wins"
    """By `modified`; a tie or a missing `modified` goes to the CRM."""
    MANUAL = "manual"
    """No op: a `conflict` notice for a person to resolve."""


class FieldDirections(Mapping[str, Direction]):
    """An immutable, hashable mapping of `"domain.field"` to `Direction`."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Direction | str] | None = None) -> None:
        converted: dict[str, Any] = {}
        for name, value in (items or {}).items():
            try:
                converted[name] = Direction(value) if isinstance(value, str) else value
            except ValueError:
                converted[name] = value  # reported by Settings validation
        self._items = dict(sorted(converted.items()))

    def __getitem__(self, key: str) -> Direction:
        return self._items[key]  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(self._items.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FieldDirections({self._items!r})"


def _directions(value: Mapping[str, Direction | str] | None) -> FieldDirections:
    if isinstance(value, FieldDirections):
        return value
    if not isinstance(value, Mapping):
        return value  # type: ignore[return-value]  # reported by validation
    return FieldDirections(value)


def _member(enum: type[E], value: E | str) -> E:
    if not isinstance(value, str):
        return value  # reported by validation (enum() would repr it, deep or huge)
    try:
        return enum(value)
    except ValueError:
        return value  # type: ignore[return-value]  # reported by validation


def _address_sync(value: AddressSync | str) -> AddressSync:
    return _member(AddressSync, value)


def _address_remap(value: AddressRemap | str) -> AddressRemap:
    return _member(AddressRemap, value)


def _conflict(value: ConflictPolicy | str) -> ConflictPolicy:
    return _member(ConflictPolicy, value)


def _domains(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        value = [value]
    return frozenset(d.strip().casefold() if isinstance(d, str) else d for d in value)


@attrs.frozen(kw_only=True, cache_hash=True)
class Settings:
    """System Settings > Synchronization, with Dynamics' documented defaults.

    Args:
        sync_appointment_attachments: "Synchronize appointment attachments with
            Outlook or Exchange".
        address_sync: which contact addresses synchronize.
        address_remap: what a switch of `address_sync` does to linked contacts.
        sync_assigned_tasks: "Synchronize tasks that are assigned in Outlook".
        organization_domains: e-mail domains inside the organization.
        conflict: who wins a field changed differently on both sides.
        field_directions: per settable field, keyed `"contact.job_title"`.
        max_attachment_bytes: the largest attachment that synchronizes.
        attachment_budget_bytes: attachment bytes one plan may transfer.
        mass_delete_threshold: the share of a domain's linked records whose
            loss from one side blocks deletes (with at least 10 lost).
        allow_mass_delete: let such mass deletes through.

    Raises:
        SettingsError: a value out of range, an unknown or fixed field in
            `field_directions`.
    """

    sync_appointment_attachments: bool = False
    address_sync: AddressSync = attrs.field(
        default=AddressSync.MAILING_ONLY, converter=_address_sync
    )
    address_remap: AddressRemap = attrs.field(
        default=AddressRemap.PRESERVE, converter=_address_remap
    )
    sync_assigned_tasks: bool = False
    organization_domains: frozenset[str] = attrs.field(
        default=frozenset(),
        converter=_domains,
    )
    conflict: ConflictPolicy = attrs.field(default=ConflictPolicy.CRM_WINS, converter=_conflict)
    field_directions: FieldDirections = attrs.field(factory=FieldDirections, converter=_directions)
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    attachment_budget_bytes: int | None = None
    mass_delete_threshold: float = 0.5
    allow_mass_delete: bool = False

    def __attrs_post_init__(self) -> None:
        problems = Problems(self._problems())
        if problems:
            raise SettingsError(problems, root="Settings")

    def _problems(self) -> Iterator[Problem]:
        for name in ("sync_appointment_attachments", "sync_assigned_tasks", "allow_mass_delete"):
            if not isinstance(getattr(self, name), bool):
                yield Problem((name,), "expected true or false")
        for name, enum in (
            ("address_sync", AddressSync),
            ("address_remap", AddressRemap),
            ("conflict", ConflictPolicy),
        ):
            if not isinstance(getattr(self, name), enum):
                allowed = ", ".join(m.value for m in enum)
                yield Problem(
                    (name,), f"unknown value {shown(getattr(self, name))}; expected {allowed}"
                )
        for domain in sorted(self.organization_domains, key=str):
            if (
                not isinstance(domain, str)
                or not domain
                or "@" in domain
                or " " in domain
                or _SURROGATE.search(domain)
            ):
                yield Problem(("organization_domains",), f"not an e-mail domain: {shown(domain)}")
        if not _is_bytes(self.max_attachment_bytes):
            yield Problem(
                ("max_attachment_bytes",), "expected a whole number of bytes, 0 to 2**63 - 1"
            )
        budget = self.attachment_budget_bytes
        if budget is not None and not _is_bytes(budget):
            yield Problem(
                ("attachment_budget_bytes",), "expected null or a number of bytes, 0 to 2**63 - 1"
            )
        threshold = self.mass_delete_threshold
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not 0 <= threshold <= 1
        ):
            yield Problem(("mass_delete_threshold",), "expected a share between 0 and 1")
        if not isinstance(self.field_directions, FieldDirections):
            yield Problem(("field_directions",), "expected a mapping of field to direction")
            return
        yield from _direction_problems(self.field_directions)

    def direction(self, field: str) -> Direction:
        """The direction of `"domain.field"` (two-way unless set)."""
        return self.field_directions.get(field, Direction.TWO_WAY)


_attrs_init = Settings.__init__
_NAMES = frozenset(f.name for f in attrs.fields(Settings))


@functools.wraps(_attrs_init)
def _init_naming_unknown_keywords(self: Settings, *args: Any, **kwargs: Any) -> None:
    # A misspelled keyword would be a bare TypeError from attrs; name the setting meant.
    unknown = sorted(set(kwargs) - _NAMES)
    if unknown:
        raise SettingsError(
            [Problem((name,), unknown_name(name, _NAMES)) for name in unknown], root="Settings"
        )
    _attrs_init(self, *args, **kwargs)


setattr(Settings, "__init__", _init_naming_unknown_keywords)  # noqa: B010 - mypy keeps attrs' signature


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_bytes(value: object) -> bool:
    # Edm.Int64: a byte count any output can write (JSON refuses 4,300-digit numbers).
    return _is_int(value) and 0 <= value <= 2**63 - 1  # type: ignore[operator]


def _direction_problems(directions: FieldDirections) -> Iterator[Problem]:
    for name in directions:
        path = ("field_directions", name)
        value = directions._items[name]
        rule = FIELD_RULES.get(name)
        if rule is None:
            known = ", ".join(sorted(n for n, r in FIELD_RULES.items() if not r.fixed))
            yield Problem(path, f"unknown field; settable fields are: {known}")
        elif rule.fixed:
            yield Problem(path, "this field has a fixed direction and cannot be set")
        if not isinstance(value, Direction):
            allowed = ", ".join(m.value for m in Direction)
            yield Problem(path, f"unknown direction {shown(value)}; expected {allowed}")
