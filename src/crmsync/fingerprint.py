"""The plan's fingerprint: a digest of the records its ops read and of its own content.

`sha256:<content>:<records>`. `<records>` digests every record the ops touch,
on both sides, as the input held it: `apply` recomputes it from the stores it
is given and refuses a stale plan. `<content>` digests what `apply` acts on
(ops, baseline updates, settings, `now`, the format version and `<records>`),
so an edited plan is refused too (`AlteredPlan`).

Both digests hash the `repr` of plain values, which is canonical for these
frozen records. The text is written by per-class encoders that give exactly
the bytes `repr` gives (attrs' `repr` and `Enum.__repr__` run Python code for
every value, and the fingerprint reads every record a plan touches), so the
cost follows the size of the plan, never of the snapshots.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
import types
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any, get_args, get_origin

import attrs

from crmsync.convert import unstructure
from crmsync.errors import AlteredPlan
from crmsync.plan import Plan
from crmsync.records import (
    SNAPSHOT_FIELD,
    ActivityKind,
    ActivityState,
    Address,
    AddressKind,
    Appointment,
    Attachment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    Domain,
    OutlookContact,
    OutlookSnapshot,
    Priority,
    Recurrence,
    RecurrencePattern,
    ShowAs,
    Side,
    Task,
    TaskStatus,
)

__all__ = ["check_integrity", "fingerprint", "plan_fingerprint", "seal", "text"]

_RECORDS = (CrmContact, OutlookContact, Appointment, Task)
_SIMPLE: frozenset[Any] = frozenset({str, bool, int, dt.datetime, dt.date, type(None)})
"""Types whose values `%r` writes at C speed, as `repr` does (any other value is still exact)."""


def text(value: Any) -> str:
    """`repr(value)`, written faster for the values records hold.

    Exactly `repr`'s text for any value: records, addresses, attachments and
    recurrences write as attrs does, enum members as `Enum.__repr__`, tuples
    as Python does; anything else is `repr` itself.
    """
    encode = _ENCODERS.get(type(value))
    return repr(value) if encode is None else encode(value)


def _tuple_text(values: tuple[Any, ...]) -> str:
    if len(values) == 1:
        return "(" + text(values[0]) + ",)"
    return "(" + ", ".join([text(v) for v in values]) + ")"


def _enum_text(cls: type[Enum]) -> Callable[[Any], str]:
    table = {member: repr(member) for member in cls}
    return table.__getitem__


def _simple(field: attrs.Attribute[Any]) -> bool:
    """True for a field declared as a plain scalar, an optional one or a tuple of strings."""
    kind = field.type
    if kind in _SIMPLE:
        return True
    args = get_args(kind)
    if get_origin(kind) is tuple:
        return args == (str, ...)
    return isinstance(kind, types.UnionType) and all(arg in _SIMPLE for arg in args)


def _pattern(head: str, fields: tuple[attrs.Attribute[Any], ...], encoded: set[int]) -> str:
    """A %-format for `head` and one slot per field: `%s` where encoded, else `%r`."""
    slots = [
        head.format(name=f.name) + ("%s" if i in encoded else "%r") for i, f in enumerate(fields)
    ]
    return ", ".join(slots)


def _values(
    fields: tuple[attrs.Attribute[Any], ...], encoders: Mapping[int, Callable[[Any], str]]
) -> Callable[[Any], tuple[Any, ...]]:
    """A function giving `fields` of a record, the ones in `encoders` encoded."""
    getter: Callable[[Any], tuple[Any, ...]] = operator.attrgetter(*(f.name for f in fields))
    if len(fields) == 1:
        name = fields[0].name
        getter = lambda record: (getattr(record, name),)  # noqa: E731 - one field, no tuple
    if not encoders:
        return getter
    encoded = tuple(encoders.items())

    def values(record: Any) -> tuple[Any, ...]:
        found = list(getter(record))
        for i, encode in encoded:
            found[i] = encode(found[i])
        return tuple(found)

    return values


def _attrs_text(cls: type[Any]) -> Callable[[Any], str]:
    """Attrs' own `repr` of `cls`: `Name(field=value, ...)`."""
    if any(f.repr is not True for f in attrs.fields(cls)):
        return repr  # a field with its own repr: leave it to attrs
    fields = attrs.fields(cls)
    encoders = {i: text for i, f in enumerate(fields) if not _simple(f)}
    pattern = cls.__qualname__ + "(" + _pattern("{name}=", fields, set(encoders)) + ")"
    values = _values(fields, encoders)
    return lambda value: pattern % values(value)


_ENCODERS: dict[type, Callable[[Any], str]] = {tuple: _tuple_text}


_ENUMS = (ActivityKind, ActivityState, AddressKind, Priority, RecurrencePattern, ShowAs, TaskStatus)
_ENCODERS.update({cls: _enum_text(cls) for cls in _ENUMS})
_ENCODERS.update({cls: _attrs_text(cls) for cls in (Address, Attachment, Recurrence, *_RECORDS)})


# --- the records digest --------------------------------------------------------------


def _record_values(cls: Any) -> tuple[str, Callable[[Any], tuple[Any, ...]]]:
    """How a record enters the records digest: `[values]`, all fields but `modified`."""
    fields = tuple(f for f in attrs.fields(cls) if f.name != "modified")
    encoders = {i: text for i, f in enumerate(fields) if not _simple(f)}
    return "[" + _pattern("", fields, set(encoders)) + "]", _values(fields, encoders)


_RECORD_VALUES = {cls: _record_values(cls) for cls in _RECORDS}


def _record_text(record: Any) -> str:
    """A record's field values but `modified`, as `repr` writes their list (None: absent)."""
    if record is None:
        return "None"
    cls = type(record)
    pattern, values_of = _RECORD_VALUES.get(cls) or _record_values(cls)
    return pattern % values_of(record)


def _digest_entry(domain: Domain, side: Side, key: str, record: Any) -> bytes:
    """`repr((domain, side, key, [field values]))` of one record (None: absent)."""
    return f"({domain.value!r}, {side.value!r}, {key!r}, {_record_text(record)})".encode()


def fingerprint(
    ops: Iterable[Any],
    crm: CrmSnapshot,
    outlook: OutlookSnapshot,
    baseline: Baseline | None = None,
) -> str:
    """A stable digest of the records `ops` read and write, both sides.

    It depends only on those records, not on their order nor on the rest of
    the snapshots, so it stays cheap for a plan over many unchanged records.
    A partial snapshot is read through to the baseline, so it gives the
    digest the complete snapshot it stands for gives.

    The digest is of `_digest_entry` for each (domain, key) in order, the
    CRM's record then Outlook's, written as one text.
    """
    targets: dict[Domain, set[str]] = {}
    for op in ops:
        owner: Domain = Domain.APPOINTMENT if op.domain is Domain.ATTACHMENT else op.domain
        keys = targets.get(owner)
        if keys is None:
            keys = targets[owner] = set()
        keys.add(op.key)
        for change in op.changes:
            if change.field == "key":
                keys.add(change.new)
    sides = (
        (Side.CRM, crm, baseline.crm if baseline else None),
        (Side.OUTLOOK, outlook, baseline.outlook if baseline else None),
    )
    texts: list[str] = []
    add = texts.extend
    for domain in sorted(targets):  # a Domain orders by its value, as the entries' tuples did
        name = SNAPSHOT_FIELD[domain]
        (crm_side, crm_read), (outlook_side, outlook_read) = (
            (f"({domain.value!r}, {side.value!r}, ", _reader(snapshot, previous, name))
            for side, snapshot, previous in sides
        )
        for key in sorted(targets[domain]):
            shown = repr(key) + ", "
            crm_text, outlook_text = _record_text(crm_read(key)), _record_text(outlook_read(key))
            add((crm_side, shown, crm_text, ")", outlook_side, shown, outlook_text, ")"))
    return "sha256:" + hashlib.sha256("".join(texts).encode()).hexdigest()


def _reader(
    snapshot: CrmSnapshot | OutlookSnapshot,
    previous: CrmSnapshot | OutlookSnapshot | None,
    name: str,
) -> Callable[[str], Any]:
    """`current_record` for one collection, with its indexes looked up once."""
    now = snapshot.by_key[name]
    if snapshot.complete or previous is None:
        return now.get
    before, removed = previous.by_key[name], snapshot.removed

    def read(key: str) -> Any:
        found = now.get(key)
        if found is not None or key in removed:
            return found
        return before.get(key)

    return read


# --- the content digest --------------------------------------------------------------


def _iso_text(value: Any) -> str:
    return "None" if value is None else repr(value.isoformat())


def _plain_values(cls: Any) -> tuple[str, Callable[[Any], tuple[Any, ...]]]:
    """How a record enters the content digest: `(ClassName, *values)`, datetimes as ISO text.

    Its datetimes become ISO text (a zone read from Graph comes back from JSON
    as a fixed offset, and the digest must not change with it); nested values
    hold no datetime, so their `repr` is canonical as it is.
    """
    fields = attrs.fields(cls)
    encoders: dict[int, Callable[[Any], str]] = {}
    for i, f in enumerate(fields):
        if "datetime" in str(f.type):
            encoders[i] = _iso_text
        elif not _simple(f):
            encoders[i] = text
    pattern = "(" + repr(cls.__name__) + ", " + _pattern("", fields, set(encoders)) + ")"
    return pattern, _values(fields, encoders)


def _plain_text(value: Any) -> str:
    """A value as the content digest writes it: the same before and after a JSON round trip.

    Datetimes are their ISO text; records are their class name and field values.
    """
    layout = _PLAIN_VALUES.get(type(value))
    if layout is not None:
        pattern, values_of = layout
        return pattern % values_of(value)
    if isinstance(value, dt.datetime):
        return repr(value.isoformat())
    return text(value)


_PLAIN_VALUES = {cls: _plain_values(cls) for cls in _RECORDS}


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)  # a threshold of 1 reads back from JSON as 1.0
    if isinstance(value, dict):
        return {k: _json_number(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_number(v) for v in value]
    return value


def _content_digest(plan: Plan, records: str) -> str:
    """A digest of everything `apply` acts on: ops, baseline updates, settings, now, version.

    Notices are what a person reads; they take no part in applying a plan.
    """
    settings = json.dumps(_json_number(unstructure(plan.settings)), sort_keys=True)
    head = (plan.format_version, plan.now.isoformat(), plan.has_baseline, settings, records)
    texts = [repr(head)]
    add = texts.append
    for op in plan.ops:
        entry = repr((op.action.value, op.side.value, op.domain.value, op.key, op.reason))
        changes = _tuple_of(
            [f"({c.field!r}, {_plain_text(c.old)}, {_plain_text(c.new)})" for c in op.changes]
        )
        add(f"({entry}, {changes}, {_plain_text(op.record)})")
    for u in plan.baseline_updates:
        where = repr((u.domain.value, u.key, u.unlinked, u.pending_remap))
        add(f"({where}, ({_plain_text(u.crm)}, {_plain_text(u.outlook)}))")
    return hashlib.sha256("".join(texts).encode("utf-8", "backslashreplace")).hexdigest()


def _tuple_of(texts: list[str]) -> str:
    """The `repr` of a tuple whose items' texts are `texts`."""
    if len(texts) == 1:
        return "(" + texts[0] + ",)"
    return "(" + ", ".join(texts) + ")"


def plan_fingerprint(
    plan: Plan, crm: CrmSnapshot, outlook: OutlookSnapshot, baseline: Baseline | None = None
) -> str:
    """The fingerprint a plan made from `crm` and `outlook` carries.

    `sha256:<content>:<records>`: a digest of the plan's own content (ops,
    baseline updates, settings, now, format version and the records digest)
    and the digest of the records its ops read and write (`fingerprint`). The
    cost follows the size of the plan, not of the snapshots.
    """
    records = fingerprint(plan.ops, crm, outlook, baseline).removeprefix("sha256:")
    return f"sha256:{_content_digest(plan, records)}:{records}"


def seal(
    plan: Plan, crm: CrmSnapshot, outlook: OutlookSnapshot, baseline: Baseline | None = None
) -> Plan:
    """The plan with its fingerprint (see `plan_fingerprint`).

    A partial snapshot is read through `baseline`.
    """
    return attrs.evolve(plan, fingerprint=plan_fingerprint(plan, crm, outlook, baseline))


def check_integrity(plan: Plan) -> str:
    """The records digest of a plan whose content matches its fingerprint.

    Raises:
        AlteredPlan: the plan's content is not what its fingerprint says (an
            op, a change, a baseline update, the settings, `now` or the format
            version was edited, or the fingerprint itself).
    """
    prefix, _, rest = plan.fingerprint.partition(":")
    content, _, records = rest.partition(":")
    if prefix != "sha256" or not content or not records:
        raise AlteredPlan(["it carries no fingerprint crmsync made"])
    if _content_digest(plan, records) != content:
        raise AlteredPlan(
            ["its ops, baseline updates, settings or time differ from its fingerprint"]
        )
    return "sha256:" + records
