"""The longest value each CRM column takes, and the cut that makes a value fit.

Rules as data: one row per mapped text column, with the MaxLength the
Dataverse table reference gives it. Dataverse refuses a longer value, so a
record on its way to the CRM is cut to fit (`fit`), and the plan reports each
cut with a `value_truncated` notice. The cut is made while planning, not by
the adapter: the CRM side of the baseline then holds the value the CRM
holds, the Outlook side the full text, and neither reads as a change on the
next round (no ping-pong between the full and the cut value).

Lengths are counted as Dataverse counts them, in UTF-16 code units (a
character outside the Basic Multilingual Plane counts two), and a cut never
splits such a character. The kept text ends without trailing blanks, as the
CRM reader strips them.

This module imports nothing of crmsync but the record types, so the merge
and the domains can use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from crmsync.records import Domain

__all__ = ["CRM_MAX_LENGTH", "ColumnLimit", "Cut", "fit", "utf16_length"]


@attrs.frozen
class ColumnLimit:
    """A text column's MaxLength.

    Args:
        field: the record field (`subject`), or `field.part` for a part of
            a structured value (`address1.city`).
        column: the Dataverse column, for the notice (`address1_city`).
        max_length: the column's MaxLength.
        per_line: each line is its own column (a street's `line1` to `line3`).
    """

    field: str
    column: str
    max_length: int
    per_line: bool = False


def _address(n: int) -> tuple[ColumnLimit, ...]:
    return (
        ColumnLimit(f"address{n}.street", f"address{n}_line1..3", 250, per_line=True),
        ColumnLimit(f"address{n}.city", f"address{n}_city", 80),
        ColumnLimit(f"address{n}.state", f"address{n}_stateorprovince", 50),
        ColumnLimit(f"address{n}.postal_code", f"address{n}_postalcode", 20),
        ColumnLimit(f"address{n}.country", f"address{n}_country", 80),
    )


CRM_MAX_LENGTH: Final[Mapping[Domain, tuple[ColumnLimit, ...]]] = {
    # appointment (and recurringappointmentmaster): Subject 200, Location 200,
    # Description 1048576 (appointment table reference).
    Domain.APPOINTMENT: (
        ColumnLimit("subject", "subject", 200),
        ColumnLimit("location", "location", 200),
        ColumnLimit("body", "description", 1_048_576),
    ),
    # task: Subject 200, Description 2000 (task table reference).
    Domain.TASK: (
        ColumnLimit("subject", "subject", 200),
        ColumnLimit("notes", "description", 2000),
    ),
    # contact: names 50, job title and department 100, phones 50, Description 2000,
    # address lines 250, city and country 80, state 50, postal code 20
    # (contact table reference). E-mail addresses (100) are not cut: a cut
    # address is no address.
    Domain.CONTACT: (
        ColumnLimit("first_name", "firstname", 50),
        ColumnLimit("last_name", "lastname", 50),
        ColumnLimit("job_title", "jobtitle", 100),
        ColumnLimit("department", "department", 100),
        ColumnLimit("business_phone", "telephone1", 50),
        ColumnLimit("home_phone", "telephone2", 50),
        ColumnLimit("mobile_phone", "mobilephone", 50),
        ColumnLimit("notes", "description", 2000),
        *_address(1),
        *_address(2),
        *_address(3),
    ),
}
"""The mapped text columns of each domain's CRM table, with their MaxLength."""


@attrs.frozen
class Cut:
    """One value cut to fit its column: the field, the column and both lengths."""

    limit: ColumnLimit
    length: int


def utf16_length(text: str) -> int:
    """The length Dataverse counts: UTF-16 code units."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _cut(text: str, max_length: int) -> str:
    """The longest prefix of `text` within `max_length` code units, without trailing blanks."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > max_length:
            return text[:index].rstrip()
    return text


def _fit_value(value: str, limit: ColumnLimit) -> tuple[str, int]:
    """The value cut to fit, and its longest part's length (a line's, per line)."""
    if limit.per_line:
        lines = value.split("\n")
        longest = max((utf16_length(line) for line in lines), default=0)
        return "\n".join(_cut(line, limit.max_length) for line in lines), longest
    return _cut(value, limit.max_length), utf16_length(value)


def fit(domain: Domain, record: Any) -> tuple[Any, tuple[Cut, ...]]:
    """`record` with every value longer than its CRM column cut to fit, and the cuts.

    Args:
        domain: the record's domain.
        record: a CRM record (a field it does not have is skipped).

    Returns:
        The record (the same object when nothing is cut) and one `Cut` per
        value cut.
    """
    cuts: list[Cut] = []
    for limit in CRM_MAX_LENGTH.get(domain, ()):
        name, _, part = limit.field.partition(".")
        holder = getattr(record, name, None)
        value = getattr(holder, part, None) if part else holder
        if not isinstance(value, str) or (
            utf16_length(value) <= limit.max_length and not (limit.per_line and "\n" in value)
        ):
            continue
        fitted, length = _fit_value(value, limit)
        if fitted == value:
            continue
        cuts.append(Cut(limit, length))
        if part:
            inner: Any = holder
            record = attrs.evolve(record, **{name: attrs.evolve(inner, **{part: fitted})})
        else:
            record = attrs.evolve(record, **{name: fitted})
    return record, tuple(cuts)
