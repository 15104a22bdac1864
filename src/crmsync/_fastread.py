"""The fast path of `crmsync.loads`: valid JSON to records, with one generated function per class.

`crmsync.convert` reads JSON through cattrs with detailed validation: a
Python call per field, an error tree per list, every problem with its path.
Most documents are valid, and for them that detail only costs time. The
functions generated here read a valid document into the very same values,
and give up on anything they cannot prove valid by raising; the converter
then reads the document again the detailed way, which finds and reports every
problem exactly as before. So this path decides how fast a valid document is
read, never what is read or what is refused.

Rule 1: the fast path accepts only what the detailed path accepts, and builds
the same value from it (tests/test_fastread.py checks both over generated
documents, valid and broken).
Rule 2: every check it does is exact-type and conservative (`type(v) is
str`, never `isinstance`): whatever it is unsure of falls back.
Rule 3: records are built through their own constructors, so a record's own
validation runs on both paths alike.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import re
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar, Union, get_args, get_origin

import attrs

__all__ = ["Fallback", "FastReader", "gc_paused", "paused_gc"]

P = ParamSpec("P")
R = TypeVar("R")

_SURROGATE = re.compile("[\ud800-\udfff]")


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused while a document is read.

    Reading allocates a container per JSON object and list and a record per
    item, and none of them is garbage: each collection the allocations
    trigger walks every object read so far and frees nothing (a third of a
    read's time at 20,000 records). Reference counting still frees
    everything as usual; the collector is restored as it was, even on error.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def gc_paused(read: Callable[P, R]) -> Callable[P, R]:
    """`read` with the collector paused while it runs (see `paused_gc`)."""

    @functools.wraps(read)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        with paused_gc():
            return read(*args, **kwargs)

    return paused


class Fallback(Exception):
    """Raised by a generated reader for input it does not prove valid."""


def _texts_clean(texts: Sequence[str]) -> bool:
    """True when no text holds a lone surrogate (the detailed path refuses those)."""
    joined = "".join(texts)
    return joined.isascii() or _SURROGATE.search(joined) is None


def _strings(value: Any) -> tuple[str, ...]:
    """A JSON list of strings as a tuple, surrogates refused; anything else falls back."""
    # `{*map(type, value)} <= {str}` replaces a loop testing `type(item) is str`: one C pass.
    if type(value) is not list or not {*map(type, value)} <= _STR or not _texts_clean(value):
        raise Fallback
    return tuple(value)


_STR = {str}


def _optional(kind: Any) -> Any:
    """`X` of `X | None`, else None."""
    if get_origin(kind) in (Union, types.UnionType):
        args = [a for a in get_args(kind) if a is not type(None)]
        if len(args) == 1 and len(get_args(kind)) == 2:
            return args[0]
    return None


class FastReader:
    """Generates and keeps one structuring function per attrs class.

    Args:
        slow: the detailed converter's `structure(value, kind)`, for field
            types this reader does not know (it raises on a bad value, so the
            whole document falls back).
        hooks: exact structuring functions `(value, kind) -> value` for
            scalar types (datetime, date, float), shared with the detailed
            converter so that both build the same values.
        readable: which attrs classes get a generated function (those the
            detailed converter reads field by field); any other goes to `slow`.
    """

    def __init__(
        self,
        slow: Callable[[Any, Any], Any],
        hooks: Mapping[type, Callable[[Any, Any], Any]],
        readable: Callable[[Any], bool],
    ) -> None:
        self._slow = slow
        self._hooks = dict(hooks)
        self._readable = readable
        self._made: dict[type, Callable[[Any], Any]] = {}

    def reader(self, cls: type) -> Callable[[Any], Any]:
        """The generated reader of `cls` (raises `Fallback`, or any error, on doubt)."""
        found = self._made.get(cls)
        if found is None:
            found = self._made[cls] = self._generate(cls)
        return found

    def _generate(self, cls: type) -> Callable[[Any], Any]:
        namespace: dict[str, Any] = {
            "cls": cls,
            "Fallback": Fallback,
            "clean": _texts_clean,
            "strings": _strings,
        }
        fields = [a for a in attrs.fields(cls) if a.init]
        namespace["names"] = frozenset(a.name for a in fields)
        lines = [
            "def read(d):",
            "    if type(d) is not dict or not d.keys() <= names:",
            "        raise Fallback",
        ]
        if fields and all(a.type is str and a.default == "" for a in fields):
            # Only empty texts (two of a contact's three addresses, mostly): the one
            # empty value, shared, as equal to a new one as a frozen value can be.
            # `{*d.values()} <= {""}` replaces a loop testing each value: one C pass.
            namespace.update(empty=cls(), only_empty={""})
            lines += ["    if {*d.values()} <= only_empty:", "        return empty"]
        texts: list[str] = []
        for a in fields:
            var = f"v_{a.name}"
            body = self._field(a.name, a.type, var, namespace, texts) or ["pass"]
            if a.default is attrs.NOTHING:
                lines.append(f"    {var} = d[{a.name!r}]")  # KeyError: falls back
                lines.extend("    " + line for line in body)
                continue
            # Absent, the default is passed, as the constructor would take it.
            default = a.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                if default.takes_self:
                    raise TypeError(f"{cls.__name__}.{a.name}: a factory that takes self")
                namespace[f"make_{a.name}"] = default.factory
                absent = f"make_{a.name}()"
            else:
                namespace[f"default_{a.name}"] = default
                absent = f"default_{a.name}"
            lines.append(f"    if {a.name!r} in d:")
            lines.append(f"        {var} = d[{a.name!r}]")
            lines.extend("        " + line for line in body)
            lines.append("    else:")
            lines.append(f"        {var} = {absent}")
        if texts:
            # One C-level surrogate test for all the record's texts instead of one per field.
            lines.append(f"    if not clean(({', '.join(texts)},)):")
            lines.append("        raise Fallback")
        arguments = ", ".join(f"{a.alias}=v_{a.name}" for a in fields)
        lines.append(f"    return cls({arguments})")
        source = "\n".join(lines) + "\n"
        exec(compile(source, f"<crmsync fast reader {cls.__qualname__}>", "exec"), namespace)  # noqa: S102 - source built from attrs field names only
        read: Callable[[Any], Any] = namespace["read"]
        read.__doc__ = source  # the generated source, kept beside the function
        return read

    def _field(
        self, name: str, kind: Any, var: str, namespace: dict[str, Any], texts: list[str]
    ) -> list[str]:
        """Lines that check and convert `var`, a value of type `kind`."""
        inner = _optional(kind)
        if inner is not None:
            optional_texts: list[str] = []
            body = self._field(name, inner, var, namespace, optional_texts)
            texts.extend(f"{t} if {t} is not None else ''" for t in optional_texts)
            return [f"if {var} is not None:", *("    " + line for line in body or ["pass"])]
        if kind is str:
            texts.append(var)
            return [f"if type({var}) is not str:", "    raise Fallback"]
        if kind is bool or kind is int:
            # `type(v) is int` refuses a bool, as the detailed path does.
            return [f"if type({var}) is not {kind.__name__}:", "    raise Fallback"]
        if isinstance(kind, type) and kind in self._hooks:
            namespace[f"hook_{name}"] = self._hooks[kind]
            namespace[f"kind_{name}"] = kind
            return [f"{var} = hook_{name}({var}, kind_{name})"]
        if isinstance(kind, type) and issubclass(kind, StrEnum):
            namespace[f"members_{name}"] = {m.value: m for m in kind}
            return [
                f"if type({var}) is not str:",
                "    raise Fallback",
                f"{var} = members_{name}[{var}]",  # KeyError: falls back
            ]
        args = get_args(kind)
        if get_origin(kind) is tuple and len(args) == 2 and args[1] is Ellipsis:
            item = args[0]
            if item is str:
                return [f"{var} = strings({var})"]
            if self._readable(item):
                namespace[f"item_{name}"] = self.reader(item)
                return [
                    f"if type({var}) is not list:",
                    "    raise Fallback",
                    # `map` replaces a loop calling the item's reader: one C pass.
                    f"{var} = tuple(map(item_{name}, {var}))",
                ]
        if self._readable(kind):
            namespace[f"read_{name}"] = self.reader(kind)
            return [f"{var} = read_{name}({var})"]
        namespace[f"slow_{name}"] = self._slow
        namespace[f"kind_{name}"] = kind
        return [f"{var} = slow_{name}({var}, kind_{name})"]
