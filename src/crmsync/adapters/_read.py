"""Reading JSON payloads into records: every problem collected, each with its path.

A `Reader` walks one payload. Each accessor returns a usable value (an empty
string, None, a default) even when the payload is wrong, and records the
problem, so one call reports everything wrong with a payload at once, as
`crmsync.loads` does. OData annotations (`@odata.etag`,
`name@OData.Community.Display.V1.FormattedValue`) are never looked at by a
record's reader; `etag` reads an item's etag for the requests that write it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any, TypeVar

from crmsync.errors import InvalidInput, PathPart, Problem, Problems, shown
from crmsync.records import MAX_INT, Attachment, has_lone_surrogate, utc_problem

T = TypeVar("T")

_MISSING = object()


class Reader:
    """One JSON object inside a payload, and the problems found so far."""

    def __init__(
        self, payload: Any, path: tuple[PathPart, ...] = (), problems: Problems | None = None
    ) -> None:
        self.path = path
        self.problems = Problems() if problems is None else problems
        self.broken = False
        if isinstance(payload, Mapping):
            self.payload: Mapping[str, Any] = payload
        else:
            self.payload = {}
            self.problem((), f"expected a JSON object, got {_json_type(payload)}")
            self.broken = True  # what it lacks follows from that: reported once

    def problem(self, name: PathPart | tuple[PathPart, ...], message: str) -> None:
        """Records a problem at `name`, relative to this object."""
        if self.broken:
            return
        parts = name if isinstance(name, tuple) else (name,)
        self.problems.append(Problem((*self.path, *parts), message))

    def has(self, name: str) -> bool:
        """True when the payload holds `name` (null included)."""
        return name in self.payload

    def raw(self, name: str) -> Any:
        """The value under `name`, None when absent."""
        return self.payload.get(name)

    def text(self, name: str, *, required: bool = False) -> str:
        """A string property; absent or null is "" (or a problem when required)."""
        value = self.payload.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.problem(name, "is required")
            return ""
        if not isinstance(value, str):
            self.problem(name, f"expected a string, got {_json_type(value)}")
            return ""
        if has_lone_surrogate(value):
            self.problem(name, "is not valid Unicode (it holds a lone surrogate)")
            return ""
        if required and not value.strip():
            self.problem(name, "must not be empty")
        return value

    def integer(self, name: str) -> int | None:
        """An integer property, None when absent or null."""
        value = self.payload.get(name)
        if value is None:
            return None
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not whole:
            self.problem(name, f"expected an integer, got {_json_type(value)}")
            return None
        if not -MAX_INT <= value <= MAX_INT:
            self.problem(name, f"{shown(value)} is out of range (at most {MAX_INT:,})")
            return None
        return int(value)

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean property; absent or null is `default`."""
        value = self.payload.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(name, f"expected true or false, got {_json_type(value)}")
            return default
        return value

    def moment(self, name: str, *, required: bool = False) -> dt.datetime | None:
        """An ISO 8601 date-time with an offset (`...Z`, `...+07:00`)."""
        text = self.text(name, required=required)
        if not text:
            return None
        return parse_moment(text, lambda message: self.problem(name, message))

    def day(self, name: str, *, required: bool = False) -> dt.date | None:
        """An ISO 8601 date (`2017-09-04`)."""
        text = self.text(name, required=required)
        if not text:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            self.problem(name, f"expected a date like 2017-09-04, got {shown(text)}")
            return None

    def strings(self, name: str) -> list[str]:
        """A list of strings; absent or null is empty."""
        out: list[str] = []
        for i, value in self._list(name):
            if isinstance(value, str) and has_lone_surrogate(value):
                self.problem((name, i), "is not valid Unicode (it holds a lone surrogate)")
            elif isinstance(value, str):
                out.append(value)
            else:
                self.problem((name, i), f"expected a string, got {_json_type(value)}")
        return out

    def objects(self, name: str) -> Iterator[Reader]:
        """The objects of a list property, each as a reader with its own path."""
        for i, value in self._list(name):
            yield Reader(value, (*self.path, name, i), self.problems)

    def child(self, name: str) -> Reader | None:
        """The object under `name`, None when absent or null."""
        value = self.payload.get(name)
        if value is None:
            return None
        return Reader(value, (*self.path, name), self.problems)

    def base64(self, name: str) -> bytes | None:
        """Base64 content (Graph `contentBytes`, Dataverse `body`)."""
        text = self.text(name, required=True)
        if not text:
            return None
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            self.problem(name, "is not valid base64")
            return None

    def choice(self, name: str, table: Mapping[Any, T], default: T) -> T:
        """A value looked up in `table`; absent or null is `default`."""
        value = self.payload.get(name)
        if value is None:
            return default
        try:
            return table[value]
        except (KeyError, TypeError):
            allowed = ", ".join(repr(k) for k in table)
            self.problem(name, f"unknown value {shown(value)}; expected one of: {allowed}")
            return default

    def _list(self, name: str) -> Iterator[tuple[int, Any]]:
        value = self.payload.get(name)
        if value is None:
            return
        if not isinstance(value, list):
            self.problem(name, f"expected a list, got {_json_type(value)}")
            return
        yield from enumerate(value)


def etag(item: Any) -> str:
    """An item's `@odata.etag` (Graph and Dataverse), '' when it has none.

    Kept opaque, as both services ask: it is only ever sent back in `If-Match`.
    """
    is_object = type(item) is dict or isinstance(item, Mapping)  # the exact type first: cheaper
    found = item.get("@odata.etag") if is_object else None
    return found if isinstance(found, str) and found.strip() else ""


def parse_moment(text: str, report: Callable[[str], None]) -> dt.datetime | None:
    """An aware datetime from ISO 8601 text with an offset; reports naive text."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        report(f"expected an ISO 8601 date-time, got {shown(text)}")
        return None
    if moment.tzinfo is None:
        report(f"date-time {shown(text)} has no UTC offset")
        return None
    if problem := utc_problem(moment):
        report(problem)
        return None
    return moment


def build(reader: Reader, make: Callable[[], T]) -> T:
    """Builds the record once the payload read cleanly; raises every problem at once.

    A record that refuses the values it was given (an end before its start,
    say) is reported at the payload's path, with the record's own message.
    """
    if not reader.problems:
        try:
            return make()
        except InvalidInput as exc:
            for line in exc.lines():
                reader.problem((), f"the record it describes is invalid: {line}")
    raise InvalidInput(reader.problems)


def file_attachment(reader: Reader, name: str, content: bytes | None, mime: str) -> Attachment:
    """The attachment record of a file: "sha256:" + the hex digest of its bytes, and their length.

    Both services send the bytes base64-encoded; the record keeps only what
    identifies them, so the same file has the same identity on both sides.
    """
    data = content or b""
    return build(
        reader,
        lambda: Attachment(
            name=name,
            size=len(data),
            content_hash="sha256:" + hashlib.sha256(data).hexdigest(),
            mime_type=mime.strip() or "application/octet-stream",
        ),
    )


def restrict(
    body: Mapping[str, Any],
    fields: Collection[str] | None,
    names: Mapping[str, tuple[str, ...]],
    *,
    service: str,
    extended: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """A request body cut down to the properties that write the given record fields.

    Args:
        body: the whole body.
        fields: record fields to write (all when None).
        names: each field's properties in `body`.
        service: the service's name, for the error.
        extended: each field's MAPI property `(id, value)` (Graph only),
            written as `singleValueExtendedProperties`.

    Raises:
        ValueError: a field the service cannot write (a caller's mistake).
    """
    extended = extended or {}
    chosen = set(names) | set(extended) if fields is None else set(fields)
    unknown = chosen - set(names) - set(extended)
    if unknown:
        raise ValueError(f"fields {service} cannot write: {', '.join(sorted(unknown))}")
    wanted = {prop for field in chosen & set(names) for prop in names[field]}
    out = {prop: value for prop, value in body.items() if prop in wanted}
    props = sorted({extended[field] for field in chosen & set(extended)})
    if props:
        out["singleValueExtendedProperties"] = [{"id": i, "value": v} for i, v in props]
    return out


def collection(payload: Any, path: tuple[PathPart, ...] = ()) -> list[tuple[int, Any]]:
    """The items of an OData collection (`{"value": [...]}`) or a plain list."""
    if isinstance(payload, Mapping) and "value" in payload:
        payload, path = payload["value"], (*path, "value")
    if not isinstance(payload, list):
        message = f"expected a list or {{'value': [...]}}, got {_json_type(payload)}"
        where = Problem(path, message)
        raise InvalidInput([where])
    return list(enumerate(payload))


_BLANKS = re.compile(r"[ \t\u00a0]+")


def split_name(full: str) -> tuple[str, str]:
    """(first, last) from a whole name, for a payload without given and family names.

    "Last, First" splits at the comma; otherwise the last word is the family
    name and the words before it the given name; a single word is a family
    name only (the CRM requires a last name, never a first one).
    """
    text = " ".join(full.split())
    if "," in text:
        last, _, first = text.partition(",")
        return first.strip(), last.strip()
    first, _, last = text.rpartition(" ")
    return first, last


def unique_emails(addresses: list[str]) -> tuple[str, ...]:
    """The addresses in order, each once (compared case-insensitively)."""
    seen: set[str] = set()
    out = []
    for address in addresses:
        if address and address.casefold() not in seen:
            seen.add(address.casefold())
            out.append(address)
    return tuple(out)


def normalize_text(text: str) -> str:
    """Plain text as both sides compare it: one line ending, no trailing blanks.

    Line breaks become one newline, white space runs inside a line become one space,
    each line is stripped, and leading or trailing empty lines are dropped, so
    the same words never differ by the way a side stores them.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(_BLANKS.sub(" ", line).strip() for line in lines).strip("\n")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
