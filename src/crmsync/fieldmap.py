"""The field maps of every sync domain, gathered in one table.

Each domain module owns its own map (`contacts.FIELDS`, ...); this table
joins them under their `field_directions` names (`"contact.job_title"`) for
settings validation and for the generated field reference in docs/.
"""

from __future__ import annotations

from crmsync import appointments, contacts, tasks
from crmsync.merge import FieldRule

__all__ = ["FIELD_RULES"]

FIELD_RULES: dict[str, FieldRule] = {
    f"{module.RULES.domain.value}.{rule.name}": rule
    for module in (contacts, appointments, tasks)
    for rule in module.FIELDS
}
"""Every synchronized field, keyed `"<domain>.<field>"`."""
