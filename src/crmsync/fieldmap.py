"""The generated field reference in docs/ (`python -m crmsync.fieldmap`).

The field maps themselves are `crmsync.fields`; `FIELD_RULES` is re-exported here.
"""

from __future__ import annotations

from crmsync.fields import APPOINTMENT_FIELDS, CONTACT_FIELDS, FIELD_RULES, TASK_FIELDS

__all__ = ["FIELD_RULES"]


def markdown() -> str:
    """The field maps as Markdown tables, as docs/fields.md shows them."""
    lines = [
        "# Synchronized fields",
        "",
        "Generated from the field maps in the code (`python -m crmsync.fieldmap`); a test",
        "keeps this page and the code in step. A *settable* field takes a direction in",
        "`Settings.field_directions` under its key; a *fixed* one refuses it (`SettingsError`).",
    ]
    tables = (
        ("contact", CONTACT_FIELDS),
        ("appointment", APPOINTMENT_FIELDS),
        ("task", TASK_FIELDS),
    )
    for domain, table in tables:
        lines += ["", f"## {domain.capitalize()}s", ""]
        lines += ["| key | Dynamics | Outlook | direction |", "|---|---|---|---|"]
        for rule in table:
            kind = f"fixed, {rule.direction.value}" if rule.fixed else "settable (two_way)"
            lines.append(f"| `{domain}.{rule.name}` | {rule.crm} | {rule.outlook} | {kind} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
