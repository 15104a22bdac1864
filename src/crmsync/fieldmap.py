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


def markdown() -> str:
    """The field maps as Markdown tables, as docs/fields.md shows them."""
    lines = [
        "# Synchronized fields",
        "",
        "Generated from the field maps in the code (`python -m crmsync.fieldmap`); a test",
        "keeps this page and the code in step. A *settable* field takes a direction in",
        "`Settings.field_directions` under its key; a *fixed* one refuses it (`SettingsError`).",
    ]
    for module in (contacts, appointments, tasks):
        domain = module.RULES.domain.value
        lines += ["", f"## {domain.capitalize()}s", ""]
        lines += ["| key | Dynamics | Outlook | direction |", "|---|---|---|---|"]
        for rule in module.FIELDS:
            kind = f"fixed, {rule.direction.value}" if rule.fixed else "settable (two_way)"
            lines.append(f"| `{domain}.{rule.name}` | {rule.crm} | {rule.outlook} | {kind} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
