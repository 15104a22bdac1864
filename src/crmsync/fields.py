"""The synchronized fields of every domain: one table per domain, and their directions.

Rules as data (as h11 keeps its state machine): each row says which Dynamics
column maps to which Outlook property, whether its direction is fixed or
settable ("Manage the synchronized fields") and how sync compares its values.
The domain modules plan with these tables, `Settings` validates
`field_directions` against them and docs/fields.md is generated from them.
This module imports nothing else of crmsync, so every layer can read it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

import attrs

__all__ = [
    "APPOINTMENT_FIELDS",
    "CONTACT_FIELDS",
    "FIELD_RULES",
    "TASK_FIELDS",
    "Direction",
    "FieldRule",
]


class Direction(StrEnum):
    """Which way a settable field travels ("Manage the synchronized fields")."""

    TWO_WAY = "two_way"
    TO_CRM = "to_crm"
    TO_OUTLOOK = "to_outlook"
    NONE = "none"

    @property
    def to_outlook(self) -> bool:
        """True when CRM changes travel to Outlook."""
        return self in (Direction.TWO_WAY, Direction.TO_OUTLOOK)

    @property
    def to_crm(self) -> bool:
        """True when Outlook changes travel to the CRM."""
        return self in (Direction.TWO_WAY, Direction.TO_CRM)


@attrs.frozen(kw_only=True)
class FieldRule:
    """One row of a domain's field map ("Manage the synchronized fields").

    Args:
        name: the field's name in the view, and in `field_directions`
            (`"<domain>.<name>"`).
        crm: the Dynamics column it maps to.
        outlook: the Outlook property it maps to.
        fixed: True when the direction is fixed and cannot be set.
        direction: the default (or fixed) direction.
        compare: turns a value into what sync compares (a normalized form),
            or None to compare values as they are.
        label: the field's name in sentences.
    """

    name: str
    crm: str
    outlook: str
    fixed: bool = False
    direction: Direction = Direction.TWO_WAY
    compare: Callable[[Any], Any] | None = None
    label: str = ""

    def same(self, a: Any, b: Any) -> bool:
        """Equality for sync purposes."""
        if a == b:
            return True
        return self.compare is not None and self.compare(a) == self.compare(b)

    @property
    def title(self) -> str:
        """The field as a person names it."""
        return self.label or self.name.replace("_", " ")


def _emails(value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(e.strip().casefold() for e in value)


def _address(value: Any) -> tuple[str, ...]:
    return value.normalized if value is not None else ()


CONTACT_FIELDS: tuple[FieldRule, ...] = (
    FieldRule(name="first_name", crm="firstname", outlook="givenName", label="first name"),
    FieldRule(name="last_name", crm="lastname", outlook="surname", label="last name"),
    FieldRule(
        name="emails",
        crm="emailaddress1..3",
        outlook="emailAddresses",
        compare=_emails,
        label="e-mail addresses",
    ),
    FieldRule(name="business_phone", crm="telephone1", outlook="businessPhones"),
    FieldRule(name="home_phone", crm="telephone2", outlook="homePhones"),
    FieldRule(name="mobile_phone", crm="mobilephone", outlook="mobilePhone"),
    FieldRule(name="job_title", crm="jobtitle", outlook="jobTitle"),
    FieldRule(name="department", crm="department", outlook="department"),
    FieldRule(name="notes", crm="description", outlook="personalNotes"),
    FieldRule(
        name="address1",
        crm="address1_*",
        outlook="mailing address, or businessAddress",
        compare=_address,
        label="address 1",
    ),
    FieldRule(
        name="address2",
        crm="address2_*",
        outlook="homeAddress (all three addresses)",
        compare=_address,
        label="address 2",
    ),
    FieldRule(
        name="address3",
        crm="address3_*",
        outlook="otherAddress (all three addresses)",
        compare=_address,
        label="address 3",
    ),
)
"""The contact field map (Dynamics column ↔ Outlook property)."""


APPOINTMENT_FIELDS: tuple[FieldRule, ...] = (
    FieldRule(name="subject", crm="subject", outlook="subject"),
    FieldRule(name="body", crm="description", outlook="body"),
    FieldRule(name="location", crm="location", outlook="location"),
    FieldRule(
        name="time",
        crm="scheduledstart, scheduledend, isalldayevent",
        outlook="start, end, isAllDay",
        fixed=True,
        label="appointment time",
    ),
    FieldRule(name="priority", crm="prioritycode", outlook="importance", fixed=True),
    FieldRule(name="show_as", crm="statuscode", outlook="showAs", fixed=True, label="show as"),
    # Written when the appointment is created, never updated: Graph's event update does not
    # take `organizer`, and Dataverse's organizer party targets system users only.
    FieldRule(
        name="organizer",
        crm="organizer (activity party 7)",
        outlook="organizer",
        fixed=True,
        direction=Direction.NONE,
    ),
    FieldRule(
        name="required",
        crm="requiredattendees (activity party 5)",
        outlook="attendees (required)",
        fixed=True,
        label="required attendees",
    ),
    FieldRule(
        name="optional",
        crm="optionalattendees (activity party 6)",
        outlook="attendees (optional)",
        fixed=True,
        label="optional attendees",
    ),
    FieldRule(name="regarding", crm="regardingobjectid", outlook="regarding", fixed=True),
    FieldRule(name="recurrence", crm="recurrence pattern", outlook="recurrence", fixed=True),
)
"""The appointment field map (Dynamics column ↔ Outlook property)."""


TASK_FIELDS: tuple[FieldRule, ...] = (
    FieldRule(name="subject", crm="subject", outlook="subject"),
    FieldRule(name="notes", crm="description", outlook="body"),
    FieldRule(name="start", crm="scheduledstart", outlook="startDateTime", label="start date"),
    FieldRule(name="due", crm="scheduledend", outlook="dueDateTime", label="due date"),
    FieldRule(
        name="completed", crm="actualend", outlook="completedDateTime", label="date completed"
    ),
    FieldRule(
        name="percent_complete",
        crm="percentcomplete",
        outlook="percentComplete",
        label="% complete",
    ),
    FieldRule(name="status", crm="statecode/statuscode", outlook="status", fixed=True),
    FieldRule(name="priority", crm="prioritycode", outlook="importance", fixed=True),
    FieldRule(name="regarding", crm="regardingobjectid", outlook="regarding", fixed=True),
)
"""The task field map (Dynamics column ↔ Outlook property)."""


FIELD_RULES: dict[str, FieldRule] = {
    f"{domain}.{rule.name}": rule
    for domain, table in (
        ("contact", CONTACT_FIELDS),
        ("appointment", APPOINTMENT_FIELDS),
        ("task", TASK_FIELDS),
    )
    for rule in table
}
"""Every synchronized field, keyed `"<domain>.<field>"` as `field_directions` names it."""
