"""JSON in and out: one cattrs converter, `dumps`/`loads`, and error translation.

Every structuring error becomes an `InvalidInput` that lists each problem with
its JSON path (`$.contacts[3].address1.city: expected str, got int`).
Datetimes travel as ISO 8601 with their offset, dates as ISO dates, enums as
their lower-case values.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn

from crmsync._fastread import FastReader, gc_paused
from crmsync.errors import (
    MAX_PROBLEMS,
    InvalidInput,
    PathPart,
    Problem,
    Problems,
    SettingsError,
    unknown_name,
)
from crmsync.plan import FORMAT_VERSION, Action, BaselineUpdate, FieldChange, Notice, Op, Plan
from crmsync.records import (
    Address,
    Appointment,
    Attachment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    Domain,
    OutlookContact,
    OutlookSnapshot,
    Recurrence,
    Side,
    Task,
    has_lone_surrogate,
    utc_problem,
)
from crmsync.settings import FieldDirections, Settings

__all__ = [
    "dumps",
    "loads",
    "make_converter",
    "record_type",
]

T = TypeVar("T")

_RECORD_TYPES: dict[tuple[Domain, Side], type[Any]] = {
    (Domain.CONTACT, Side.CRM): CrmContact,
    (Domain.CONTACT, Side.OUTLOOK): OutlookContact,
    (Domain.APPOINTMENT, Side.CRM): Appointment,
    (Domain.APPOINTMENT, Side.OUTLOOK): Appointment,
    (Domain.ATTACHMENT, Side.CRM): Attachment,
    (Domain.ATTACHMENT, Side.OUTLOOK): Attachment,
    (Domain.TASK, Side.CRM): Task,
    (Domain.TASK, Side.OUTLOOK): Task,
}

for _cls in (
    Address,
    Attachment,
    Recurrence,
    CrmContact,
    OutlookContact,
    Appointment,
    Task,
    CrmSnapshot,
    OutlookSnapshot,
    Baseline,
    Settings,
    FieldChange,
    Op,
    Notice,
    BaselineUpdate,
    Plan,
):
    attrs.resolve_types(_cls)


def record_type(domain: Domain, side: Side) -> type[Any]:
    """The record class of a domain on a side (ATTACHMENT: `Attachment`)."""
    return _RECORD_TYPES[(domain, side)]


def _strict(kind: type, name: str) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise TypeError(f"expected {name}, got a boolean")
        if not isinstance(value, kind):
            raise TypeError(f"expected {name}, got {_json_type(value)}")
        if isinstance(value, str) and has_lone_surrogate(value):
            raise ValueError("is not valid Unicode (it holds a lone surrogate)")
        return value

    return structure


def _json_type(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _structure_float(value: Any, _: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {_json_type(value)}")
    return float(value)


def _structure_datetime(value: Any, _: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 date-time string, got {_json_type(value)}")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date-time: {value[:40]!r}") from None
    problem = utc_problem(moment) if moment.utcoffset() is not None else ""
    if problem:
        raise ValueError(problem)
    return moment


def _structure_date(value: Any, _: Any) -> dt.date:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 date string, got {_json_type(value)}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date: {value[:40]!r}") from None


def _structure_enum(cls: type[StrEnum]) -> Callable[[Any, Any], StrEnum]:
    def structure(value: Any, _: Any) -> StrEnum:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {_json_type(value)}")
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown value {value[:40]!r}; expected one of: {allowed}") from None

    return structure


def make_converter() -> cattrs.Converter:
    """Builds crmsync's own cattrs converter (never the global one).

    Returns:
        A converter that structures and unstructures every public record,
        snapshot, baseline, settings object and plan.
    """
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)
    conv.register_structure_hook(str, _strict(str, "a string"))
    conv.register_structure_hook(bool, _strict(bool, "true or false"))
    conv.register_structure_hook(int, _strict(int, "a whole number"))
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(dt.datetime, _structure_datetime)
    conv.register_unstructure_hook(dt.datetime, dt.datetime.isoformat)
    conv.register_structure_hook(dt.date, _structure_date)
    conv.register_unstructure_hook(dt.date, dt.date.isoformat)
    # Registered on the class, so it comes before str in every StrEnum's MRO.
    conv.register_structure_hook(StrEnum, lambda v, t: _structure_enum(t)(v, t))
    conv.register_unstructure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, StrEnum), lambda e: e.value
    )

    def is_list(t: Any) -> bool:
        args = get_args(t)
        return get_origin(t) is tuple and len(args) == 2 and args[1] is Ellipsis

    conv.register_structure_hook_factory(is_list, lambda t: _list_hook(conv, t))
    conv.register_structure_hook_factory(
        lambda t: isinstance(t, type) and attrs.has(t), lambda t: _object_hook(conv, t)
    )

    def structure_directions(value: Any, _: Any) -> FieldDirections:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected an object of field: direction, got {_json_type(value)}")
        return FieldDirections(value)

    conv.register_structure_hook(FieldDirections, structure_directions)
    conv.register_unstructure_hook(FieldDirections, dict)
    strings = frozenset[str]
    conv.register_unstructure_hook_func(lambda t: t == strings, sorted)
    conv.register_structure_hook_func(
        lambda t: t == strings, lambda v, _: frozenset(conv.structure(v, tuple[str, ...]))
    )
    unlinked = frozenset[tuple[Domain, str]]
    conv.register_unstructure_hook_func(
        lambda t: t == unlinked, lambda v: [[d.value, k] for d, k in sorted(v)]
    )
    conv.register_structure_hook_func(
        lambda t: t == unlinked,
        lambda v, _: frozenset(conv.structure(v, tuple[tuple[Domain, str], ...])),
    )

    def unstructure_any(value: Any) -> Any:
        return conv.unstructure(value, unstructure_as=type(value))

    conv.register_unstructure_hook(
        FieldChange,
        lambda c: {"field": c.field, "old": unstructure_any(c.old), "new": unstructure_any(c.new)},
    )
    conv.register_unstructure_hook(
        Op,
        lambda op: {
            "action": op.action.value,
            "side": op.side.value,
            "domain": op.domain.value,
            "key": op.key,
            "changes": [conv.unstructure(c, FieldChange) for c in op.changes],
            "record": unstructure_any(op.record) if op.record is not None else None,
            "reason": op.reason,
        },
    )
    conv.register_structure_hook(Op, lambda v, _: _structure_op(conv, v))
    conv.register_unstructure_hook(
        BaselineUpdate,
        lambda u: {
            "domain": u.domain.value,
            "key": u.key,
            "crm": unstructure_any(u.crm) if u.crm is not None else None,
            "outlook": unstructure_any(u.outlook) if u.outlook is not None else None,
            "unlinked": u.unlinked,
            "pending_remap": u.pending_remap,
        },
    )
    conv.register_structure_hook(BaselineUpdate, lambda v, _: _structure_update(conv, v))
    return conv


def _list_hook(conv: cattrs.Converter, list_type: Any) -> Callable[[Any, Any], Any]:
    """A JSON list as a tuple, every bad item reported with its index."""
    item_type = get_args(list_type)[0]

    def structure(value: Any, _: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise TypeError(f"expected a list, got {_json_type(value)}")
        items: list[Any] = []
        errors: list[Exception] = []
        more = 0
        for index, item in enumerate(value):
            try:
                items.append(conv.structure(item, item_type))
            except Exception as exc:
                if len(errors) >= MAX_PROBLEMS:  # count the rest; keep no more exceptions
                    more += _flatten(exc, ()).total
                    continue
                exc.__notes__ = [
                    *getattr(exc, "__notes__", []),
                    IterableValidationNote(f"index {index}", index, item_type),
                ]
                errors.append(exc)
        if more:
            errors.append(_More(more))
        if errors:
            raise IterableValidationError(f"while structuring {list_type!r}", errors, list_type)
        return tuple(items)

    return structure


def _object_hook(conv: cattrs.Converter, cls: type) -> Callable[[Any, Any], Any]:
    """A JSON object as an attrs class; anything but an object is one clear problem."""
    generated: Callable[[Any, Any], Any] = make_dict_structure_fn(
        cls, conv, _cattrs_forbid_extra_keys=True, _cattrs_detailed_validation=True
    )

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {_json_type(value)}")
        return generated(value, cls)

    return structure


def _object(value: Any, fields: Iterable[str], required: Iterable[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput([Problem((), f"expected an object, got {_json_type(value)}")])
    problems = [Problem((k,), "unknown field") for k in value if k not in fields]
    problems += [Problem((k,), "required field missing") for k in required if k not in value]
    if problems:
        raise InvalidInput(problems)
    return value


def _part(conv: cattrs.Converter, value: Any, cls: Any, *path: PathPart) -> Any:
    try:
        return conv.structure(value, cls)
    except Exception as exc:
        raise InvalidInput(_problems(exc, path)) from None


def _structure_op(conv: cattrs.Converter, value: Any) -> Op:
    fields = ("action", "side", "domain", "key", "changes", "record", "reason")
    data = _object(value, fields, ("action", "side", "domain", "key", "reason"))
    action = _part(conv, data["action"], Action, "action")
    side = _part(conv, data["side"], Side, "side")
    domain = _part(conv, data["domain"], Domain, "domain")
    cls = record_type(domain, side)
    changes = []
    raw_changes = data.get("changes") or []
    if not isinstance(raw_changes, list):
        raise InvalidInput([Problem(("changes",), "expected a list")])
    types = attrs.fields_dict(cls)
    for i, change in enumerate(raw_changes):
        item = _object(change, ("field", "old", "new"), ("field", "old", "new"))
        name = _part(conv, item["field"], str, "changes", i, "field")
        if name not in types:
            raise InvalidInput(
                [Problem(("changes", i, "field"), f"{cls.__name__} has no {name!r}")]
            )
        kind = types[name].type
        old = _part(conv, item["old"], kind, "changes", i, "old")
        new = _part(conv, item["new"], kind, "changes", i, "new")
        changes.append(FieldChange(name, old, new))
    record = data.get("record")
    if record is not None:
        record = _part(conv, record, cls, "record")
    return Op(
        action=action,
        side=side,
        domain=domain,
        key=_part(conv, data["key"], str, "key"),
        changes=tuple(changes),
        record=record,
        reason=_part(conv, data["reason"], str, "reason"),
    )


def _structure_update(conv: cattrs.Converter, value: Any) -> BaselineUpdate:
    fields = ("domain", "key", "crm", "outlook", "unlinked", "pending_remap")
    data = _object(value, fields, ("domain", "key"))
    domain = _part(conv, data["domain"], Domain, "domain")
    sides = {}
    for side in Side:
        raw = data.get(side.value)
        sides[side] = (
            None if raw is None else _part(conv, raw, record_type(domain, side), side.value)
        )
    return BaselineUpdate(
        domain=domain,
        key=_part(conv, data["key"], str, "key"),
        crm=sides[Side.CRM],
        outlook=sides[Side.OUTLOOK],
        unlinked=_part(conv, data.get("unlinked"), bool | None, "unlinked"),
        pending_remap=_part(conv, data.get("pending_remap"), bool | None, "pending_remap"),
    )


class _More(Exception):
    """Stands for the problems of a list's bad items beyond `MAX_PROBLEMS`, only counted."""

    def __init__(self, count: int) -> None:
        super().__init__(f"and {count} more")
        self.count = count


def _problems(exc: BaseException, path: tuple[PathPart, ...]) -> Problems:
    """Flattens a cattrs error tree into located problems (the first `MAX_PROBLEMS`)."""
    return _flatten(exc, path)


def _flatten(
    exc: BaseException, path: tuple[PathPart, ...], out: Problems | None = None
) -> Problems:
    out = Problems() if out is None else out
    if isinstance(exc, InvalidInput | SettingsError):
        out.absorb(exc, *path)
    elif isinstance(exc, _More):
        out.more += exc.count
    elif isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            _flatten(sub, (*path, note.name), out)
        for sub in without:
            _flatten(sub, path, out)
    elif isinstance(exc, IterableValidationError):
        listed, unlisted = exc.group_exceptions()
        for sub, item in listed:
            index: Any = item.index
            _flatten(sub, (*path, index), out)
        for sub in unlisted:
            _flatten(sub, path, out)
    elif isinstance(exc, ForbiddenExtraKeysError):
        known = [f.name for f in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        out.extend(
            Problem((*path, k), unknown_name(str(k), known))
            for k in sorted(exc.extra_fields, key=str)
        )
    elif isinstance(exc, BaseExceptionGroup):
        for part in exc.exceptions:
            _flatten(part, path, out)
    elif isinstance(exc, KeyError):
        out.append(Problem(path, "required field missing"))
    else:
        out.append(Problem(path, str(exc) or type(exc).__name__))
    return out


_CONVERTER = make_converter()

try:  # the `fast` extra: Apache-2.0 or MIT
    _ORJSON: Callable[[str | bytes], Any] | None = importlib.import_module("orjson").loads
except ImportError:
    _ORJSON = None
"""orjson's parser when it is installed; `loads` reads valid documents with it."""

# Classes with a hook of their own are read the detailed way only.
_OWN_HOOKS = frozenset({Op, BaselineUpdate})


def _fast_readable(cls: Any) -> bool:
    return isinstance(cls, type) and attrs.has(cls) and cls not in _OWN_HOOKS


_FAST = FastReader(
    _CONVERTER.structure,
    {dt.datetime: _structure_datetime, dt.date: _structure_date, float: _structure_float},
    _fast_readable,
)

FORMAT_VERSIONS = (FORMAT_VERSION,)
"""The plan format versions this crmsync reads."""


def _check_version(data: Any) -> None:
    if not isinstance(data, dict):
        return
    version = data.get("format_version", FORMAT_VERSION)
    if version not in FORMAT_VERSIONS:
        shown = repr(version[:40]) if isinstance(version, str) else _json_type(version)
        raise InvalidInput(
            [
                Problem(
                    ("format_version",),
                    f"unsupported plan format {shown}; this crmsync reads "
                    + ", ".join(FORMAT_VERSIONS),
                )
            ]
        )


def unstructure(value: Any) -> Any:
    """A public crmsync value as plain JSON-ready data."""
    return _CONVERTER.unstructure(value, unstructure_as=type(value))


def structure(data: Any, cls: type[T]) -> T:
    """Plain data to a crmsync value of type `cls`.

    Raises:
        InvalidInput: every problem, with its JSON path.
    """
    if cls is Plan:
        _check_version(data)
    if _fast_readable(cls):
        try:
            fast: T = _FAST.reader(cls)(data)
        except Exception:  # noqa: S110 - the detailed read below says what is wrong
            pass
        else:
            return fast
    try:
        return _CONVERTER.structure(data, cls)
    except RecursionError:
        raise InvalidInput([Problem((), "nested too deeply")]) from None
    except Exception as exc:
        problems = _problems(exc, ())
        raise InvalidInput(problems or [Problem((), type(exc).__name__)]) from None


def dumps(value: Any, *, indent: int | None = 2) -> str:
    """Serializes a plan, snapshot, baseline, settings object or record to JSON.

    Args:
        value: the value to serialize.
        indent: JSON indentation (None for one line).

    Returns:
        The JSON text.
    """
    return json.dumps(unstructure(value), indent=indent, ensure_ascii=False)


@gc_paused
def parse_json(text: str | bytes) -> Any:
    """Parses JSON text (bytes must be UTF-8) with errors as `InvalidInput`.

    Raises:
        InvalidInput: invalid UTF-8, invalid JSON or JSON nested too deeply.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput([Problem((), f"not valid UTF-8 (byte {exc.start})")]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            [Problem((), f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")]
        ) from None
    except RecursionError:
        raise InvalidInput([Problem((), "JSON nested too deeply")]) from None
    except ValueError:  # int() refuses a number of more than 4,300 digits
        raise InvalidInput(
            [Problem((), f"a number has more than {sys.get_int_max_str_digits():,} digits")]
        ) from None


@gc_paused
def loads(text: str | bytes, cls: type[T]) -> T:
    """Reads a value of type `cls` from JSON.

    Args:
        text: JSON text (bytes must be UTF-8).
        cls: what to read: `Plan`, `CrmSnapshot`, `Baseline`, `Settings`...

    Returns:
        The value, validated like a directly constructed one.

    Raises:
        InvalidInput: bad JSON, or every problem in the data with its path.
    """
    if _ORJSON is not None and cls is not Plan and _fast_readable(cls):
        # orjson and the fast path together, for a valid document only: on
        # anything either refuses (NaN, a lone surrogate, a whole number
        # beyond 64 bits, which orjson reads as a float, bad data), the
        # standard library's parser and the detailed read run, so the value
        # and the errors are theirs.
        try:
            fast: T = _FAST.reader(cls)(_ORJSON(text))
        except Exception:  # noqa: S110 - the detailed read below says what is wrong
            pass
        else:
            return fast
    return structure(parse_json(text), cls)
