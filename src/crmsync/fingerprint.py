"""The plan's fingerprint: a digest of the records its ops read and of its own content.

`sha256:<content>:<records>`. `<records>` digests every record the ops touch,
on both sides, as the input held it: `apply` recomputes it from the stores it
is given and refuses a stale plan. `<content>` digests what `apply` acts on
(ops, baseline updates, settings, `now`, the format version and `<records>`),
so an edited plan is refused too (`AlteredPlan`).

Both digests hash the `repr` of plain values, which is canonical for these
frozen records. The text is written by per-class writers that give exactly
the bytes `repr` gives: one f-string per record class, generated once at
import as attrs generates its own methods (attrs' `repr` and `Enum.__repr__`
run Python code for every value, and the fingerprint reads every record a
plan touches); a digest writes each distinct datetime once (`_Moments`). The
cost follows the size of the plan, never of the snapshots.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import types
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any, get_args, get_origin

import attrs

from crmsync.convert import unstructure
from crmsync.errors import AlteredPlan
from crmsync.plan import Action, Plan
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


def _slot(
    field: attrs.Attribute[Any],
    namespace: dict[str, Any],
    *,
    iso: bool = False,
    moments: bool = False,
) -> str:
    """The f-string slot that writes `field` of the record `r`, as `repr` writes it.

    A plain value is `!r`; an enum member calls its class's encoder (a
    field's converter makes every value a member of its declared enum, and an
    enum with members has no subclass); a nested record calls its class's
    encoder when it is of exactly that class (a subclass, which validation
    accepts, writes as `repr` does, through `text`); an optional nested
    record writes None, and a tuple of them an empty tuple, without a call;
    anything else goes through `text`. With `moments` (a digest's writer), a
    datetime field is looked up in the writer's `_Moments` `m`, which writes
    each moment once per digest: as `repr`, or with `iso` as the repr of its
    ISO text ("None" when absent).
    """
    name = field.name
    if moments and "datetime" in str(field.type):
        # A subclass, or None, is written without the memo.
        fallback = "iso" if iso else "repr"
        return (
            f"{{m[(r.{name}, id(r.{name}.tzinfo), r.{name}.fold)] "
            f"if type(r.{name}) is datetime else {fallback}(r.{name})}}"
        )
    if _simple(field):
        return f"{{r.{name}!r}}"
    kind = field.type
    args = get_args(kind)
    if isinstance(kind, types.UnionType) and len(args) == 2 and type(None) in args:
        # An optional nested record (a recurrence): None is written without a call.
        inner = args[0] if args[1] is type(None) else args[1]
        if isinstance(inner, type) and inner in _ENCODERS and not issubclass(inner, Enum):
            namespace[f"encode_{name}"], namespace[f"class_{name}"] = _ENCODERS[inner], inner
            return (
                f"{{NONE if r.{name} is None else encode_{name}(r.{name}) "
                f"if type(r.{name}) is class_{name} else text(r.{name})}}"
            )
    if get_origin(kind) is tuple:
        # A tuple of nested records (attachments), most often empty.
        return f"{{EMPTY if type(r.{name}) is tuple and not r.{name} else text(r.{name})}}"
    if not isinstance(kind, type) or kind not in _ENCODERS:
        return f"{{text(r.{name})}}"
    namespace[f"encode_{name}"] = _ENCODERS[kind]
    if issubclass(kind, Enum):
        return f"{{encode_{name}(r.{name})}}"
    namespace[f"class_{name}"] = kind
    return f"{{encode_{name}(r.{name}) if type(r.{name}) is class_{name} else text(r.{name})}}"


def _writer(
    cls: type[Any],
    head: str,
    slots: Iterable[str],
    tail: str,
    namespace: dict[str, Any],
    arguments: str = "r",
) -> Callable[..., str]:
    """A function writing a record of `cls` as `head`, the slots joined by ", ", then `tail`.

    The function is generated once per class, as attrs generates its own
    methods: one f-string over the record's attributes is the least Python
    that writes them (no tuple of values, no `%` pass, no call per plain value).
    """
    template = head + ", ".join(slots) + tail
    source = f"def write({arguments}):\n    return f{template!r}\n"
    namespace = {
        "text": text,
        "iso": _iso_text,
        "datetime": dt.datetime,
        "NONE": "None",
        "EMPTY": "()",
        **namespace,
    }
    exec(compile(source, f"<crmsync.fingerprint {cls.__qualname__}>", "exec"), namespace)  # noqa: S102 - source built from attrs field names only
    write: Callable[..., str] = namespace["write"]
    return write


class _Moments(dict[tuple[dt.datetime, int, int], str]):
    """The text of each datetime one digest writes, written once (`repr` is slow for them).

    A record set holds few distinct moments (meetings start on the hour), but
    `repr` and `isoformat` of an aware datetime cost as much as the rest of
    the record. The key is the value, its zone object's identity and its
    fold: equal datetimes with one zone object and one fold have one wall
    time, so one text, while an equal instant in another zone (or the other
    fold) gets its own. A `_Moments` lives for one digest, while the records
    it writes, and so their zone objects, are alive.
    """

    __slots__ = ("_write",)

    def __init__(self, write: Callable[[dt.datetime], str]) -> None:
        super().__init__()
        self._write = write

    def __missing__(self, key: tuple[dt.datetime, int, int]) -> str:
        written = self[key] = self._write(key[0])
        return written


def _attrs_text(cls: type[Any]) -> Callable[[Any], str]:
    """Attrs' own `repr` of `cls`: `Name(field=value, ...)`."""
    fields = attrs.fields(cls)
    if any(f.repr is not True for f in fields):
        return repr  # a field with its own repr: leave it to attrs
    namespace: dict[str, Any] = {}
    slots = [f"{f.name}={_slot(f, namespace)}" for f in fields]
    return _writer(cls, cls.__qualname__ + "(", slots, ")", namespace)


def _iso_text(value: Any) -> str:
    return "None" if value is None else repr(value.isoformat())


_ENCODERS: dict[type, Callable[[Any], str]] = {tuple: _tuple_text}


_ENUMS = (ActivityKind, ActivityState, AddressKind, Priority, RecurrencePattern, ShowAs, TaskStatus)
_ENCODERS.update({cls: _enum_text(cls) for cls in _ENUMS})
for _cls in (Address, Attachment, Recurrence, *_RECORDS):  # nested classes before the records
    _ENCODERS[_cls] = _attrs_text(_cls)


# --- the records digest --------------------------------------------------------------


def _record_writer(cls: type[Any]) -> Callable[[Any, _Moments], str]:
    """How a record enters the records digest: `[values]`, all fields but `modified`.

    The writer takes the record and the digest's `_Moments` (of `repr`).
    """
    namespace: dict[str, Any] = {}
    fields = [f for f in attrs.fields(cls) if f.name != "modified"]
    slots = [_slot(f, namespace, moments=True) for f in fields]
    return _writer(cls, "[", slots, "]", namespace, arguments="r, m")


class _Writers(dict[type, Callable[..., str]]):
    """Writers by a value's type; a type first seen gets one from `make`, kept for the next."""

    def __init__(
        self,
        known: Mapping[type, Callable[..., str]],
        make: Callable[[type[Any]], Callable[..., str]],
    ) -> None:
        super().__init__(known)
        self._make = make

    def __missing__(self, cls: type[Any]) -> Callable[..., str]:
        write = self[cls] = self._make(cls)
        return write


def _none_text(_: None, __: _Moments | None = None) -> str:
    return "None"


_RECORD_TEXT = _Writers(
    {type(None): _none_text, **{cls: _record_writer(cls) for cls in _RECORDS}}, _record_writer
)


def _record_text(record: Any, moments: _Moments | None = None) -> str:
    """A record's field values but `modified`, as `repr` writes their list (None: absent)."""
    return _RECORD_TEXT[type(record)](record, _Moments(repr) if moments is None else moments)


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
    add = texts.append
    write = _RECORD_TEXT
    m = _Moments(repr)
    for domain in sorted(targets):  # a Domain orders by its value, as the entries' tuples did
        name = SNAPSHOT_FIELD[domain]
        (crm_side, crm_read), (outlook_side, outlook_read) = (
            (f"({domain.value!r}, {side.value!r}, ", _reader(snapshot, previous, name))
            for side, snapshot, previous in sides
        )
        for key in sorted(targets[domain]):
            shown = repr(key)
            c, o = crm_read(key), outlook_read(key)
            add(
                f"{crm_side}{shown}, {write[type(c)](c, m)}){outlook_side}{shown}, "
                f"{write[type(o)](o, m)})"
            )
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


def _plain_writer(cls: type[Any]) -> Callable[[Any, _Moments], str]:
    """How a record enters the content digest: `(ClassName, *values)`, datetimes as ISO text.

    Its datetimes become ISO text (a zone read from Graph comes back from JSON
    as a fixed offset, and the digest must not change with it); nested values
    hold no datetime, so their `repr` is canonical as it is. The writer takes
    the record and the digest's `_Moments` (of `_iso_text`).
    """
    namespace: dict[str, Any] = {}
    slots = [_slot(f, namespace, iso=True, moments=True) for f in attrs.fields(cls)]
    head = "(" + repr(cls.__name__) + ", "
    return _writer(cls, head, slots, ")", namespace, arguments="r, m")


def _plain_text(value: Any, moments: _Moments | None = None) -> str:
    """A value as the content digest writes it: the same before and after a JSON round trip.

    Datetimes are their ISO text; records are their class name and field values.
    """
    write = _PLAIN_RECORD.get(type(value))
    if write is not None:
        return write(value, _Moments(_iso_text) if moments is None else moments)
    return _PLAIN_TEXT[type(value)](value)


def _plain_fallback(cls: type[Any]) -> Callable[[Any], str]:
    """How the content digest writes a value that is not a record: datetimes as ISO text."""
    return _iso_text if issubclass(cls, dt.datetime) else text


_PLAIN_RECORD: dict[type, Callable[[Any, _Moments], str]] = {
    cls: _plain_writer(cls) for cls in _RECORDS
}
_PLAIN_TEXT = _Writers(dict.fromkeys((str, int, bool, type(None)), repr), _plain_fallback)
_VALUE_TEXT = {member: repr(member.value) for cls in (Action, Side, Domain) for member in cls}


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
    value = _VALUE_TEXT  # an enum member's value, as repr writes it
    m = _Moments(_iso_text)
    writer = _PLAIN_RECORD.get
    for op in plan.ops:
        # repr((action, side, domain, key, reason)) of the values, and of each change;
        # a str (most changed values) is its repr, written without a call
        entry = (
            f"({value[op.action]}, {value[op.side]}, {value[op.domain]}, {op.key!r}, {op.reason!r})"
        )
        changes = _tuple_of(
            [
                f"({c.field!r}, "
                f"{repr(c.old) if type(c.old) is str else _plain_text(c.old)}, "
                f"{repr(c.new) if type(c.new) is str else _plain_text(c.new)})"
                for c in op.changes
            ]
        )
        record = op.record
        add(f"({entry}, {changes}, {'None' if record is None else _plain_text(record, m)})")
    for u in plan.baseline_updates:
        where = f"({value[u.domain]}, {u.key!r}, {u.unlinked!r}, {u.pending_remap!r})"
        crm, outlook = u.crm, u.outlook
        write_crm, write_outlook = writer(type(crm)), writer(type(outlook))
        crm_text = write_crm(crm, m) if write_crm else _plain_text(crm, m)
        outlook_text = write_outlook(outlook, m) if write_outlook else _plain_text(outlook, m)
        add(f"({where}, ({crm_text}, {outlook_text}))")
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
