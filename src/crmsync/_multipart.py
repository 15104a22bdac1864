"""The Dataverse Web API's `$batch` body: `multipart/mixed` of HTTP requests, and its answer.

Pure text work, no I/O: `crmsync.http` sends what `batch_body` writes and
reads what the service answers with `parse_answer`. The format is OData
4.0's (Part 1, 11.7 "Batch Requests") as "Execute batch operations using the
Web API" shows it for Dataverse: each request is a part of type
`application/http` holding the whole request (request line, headers, blank
line, JSON body); a change set is a part of type `multipart/mixed` whose
parts carry a `Content-ID`. The answer has the same shape, one part per
request (a change set's parts nested in a `changesetresponse`), in the
requests' order.

Parsing is strict where a wrong guess could mark a request done: a part
that is not `application/http`, a status line that is not `HTTP/1.x NNN`,
a boundary that never closes is an `AnswerError`, and the caller fails the
requests it concerns.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

__all__ = ["AnswerError", "Answered", "Part", "batch_body", "parse_answer"]

_CRLF = "\r\n"
_STATUS = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9])(?: [^\r\n]*)?")
_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)


class AnswerError(ValueError):
    """A `$batch` answer crmsync cannot read safely."""


@attrs.frozen
class Part:
    """One request of a batch: `method` and `url` (the path, `/api/data/v9.2/...`)."""

    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Answered:
    """One part of the answer: the status, headers and raw body of one request's response."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    content_id: str = ""


def _request_text(part: Part) -> str:
    lines = [f"{part.method} {part.url} HTTP/1.1"]
    if part.body is not None:
        lines.append("Content-Type: application/json; type=entry")
    lines += [f"{name}: {value}" for name, value in part.headers.items()]
    body = "" if part.body is None else json.dumps(part.body, ensure_ascii=False)
    return _CRLF.join(lines) + _CRLF + _CRLF + body


def batch_body(units: Sequence[Sequence[Part]]) -> tuple[str, bytes, list[list[str]]]:
    """The `Content-Type` and body of a `$batch`: a unit of one part alone, of more a change set.

    Change sets' parts get the Content-IDs 1, 2, ... in their order across the
    whole batch (unique in the batch, as OData 4.01 asks, and so within each
    change set, as 4.0 does): the answer names them, and Dataverse runs each
    set as one transaction. The third value is each unit's Content-IDs
    (none for a lone request).
    """
    batch = f"batch_{uuid.uuid4()}"
    out: list[str] = []
    ids: list[list[str]] = []
    number = 0
    for unit in units:
        ids.append([])
        out.append(f"--{batch}")
        if len(unit) == 1:
            out += [
                "Content-Type: application/http",
                "Content-Transfer-Encoding: binary",
                "",
                _request_text(unit[0]),
            ]
            continue
        changeset = f"changeset_{uuid.uuid4()}"
        out += [f"Content-Type: multipart/mixed; boundary={changeset}", ""]
        for part in unit:
            number += 1
            ids[-1].append(str(number))
            out += [
                f"--{changeset}",
                "Content-Type: application/http",
                "Content-Transfer-Encoding: binary",
                f"Content-ID: {number}",
                "",
                _request_text(part),
            ]
        out.append(f"--{changeset}--")
    out.append(f"--{batch}--")
    out.append("")
    return f"multipart/mixed; boundary={batch}", _CRLF.join(out).encode("utf-8"), ids


def boundary_of(content_type: str) -> str:
    """The boundary a `multipart/mixed` Content-Type names.

    Raises:
        AnswerError: not multipart/mixed, or no boundary.
    """
    if not content_type.lower().lstrip().startswith("multipart/mixed"):
        raise AnswerError(f"not multipart/mixed: {content_type[:100]!r}")
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise AnswerError(f"no boundary in {content_type[:100]!r}")
    return found.group(1) or found.group(2)


def _headers(block: bytes) -> list[tuple[str, str]]:
    headers = []
    for line in block.splitlines():
        if not line.strip():
            continue
        name, colon, value = line.decode("utf-8", "replace").partition(":")
        if not colon:
            raise AnswerError(f"not a header line: {line[:100]!r}")
        headers.append((name.strip(), value.strip()))
    return headers


def _head_and_body(data: bytes, *, bodiless: bool = False) -> tuple[bytes, bytes]:
    """Splits at the first blank line (CRLF or LF).

    Without one, `bodiless` reads the whole as headers: a response without a
    body whose headers end where its part ends, as some of Microsoft's
    documented answers are laid out. Otherwise it is an error.
    """
    found = re.search(rb"\r?\n\r?\n", data)
    if found is None:
        if bodiless or (data.strip() and b"\n" not in data.strip()):
            return data, b""
        raise AnswerError("a part without the blank line after its headers")
    return data[: found.start()], data[found.end() :]


def _parts(data: bytes, boundary: str) -> list[bytes]:
    """The parts between `--boundary` lines, the closing `--boundary--` required."""
    delimiter = re.compile(
        rb"(?:^|\r?\n)--" + re.escape(boundary.encode()) + rb"(--)?[ \t]*(?=\r?\n|$)"
    )
    pieces: list[bytes] = []
    start: int | None = None
    for found in delimiter.finditer(data):
        if start is not None:
            pieces.append(data[start : found.start()])
        if found.group(1):  # the close delimiter
            return pieces
        start = found.end()
        if data[start : start + 2] == b"\r\n":
            start += 2
        elif data[start : start + 1] == b"\n":
            start += 1
    raise AnswerError(f"the multipart answer never closes its boundary {boundary[:80]!r}")


def _field(headers: Sequence[tuple[str, str]], name: str) -> str:
    values = [value for key, value in headers if key.lower() == name]
    if len(values) > 1:
        raise AnswerError(f"{name} given {len(values)} times in one part")
    return values[0] if values else ""


def _http(part: bytes) -> Answered:
    head, inner = _head_and_body(part)
    headers = _headers(head)
    kind = _field(headers, "content-type").lower()
    if not kind.startswith("application/http"):
        raise AnswerError(f"a part of type {kind[:100]!r}, not application/http")
    content_id = _field(headers, "content-id")
    status_head, body = _head_and_body(inner.lstrip(b"\r\n"), bodiless=True)
    first, _, rest = status_head.partition(b"\n")
    found = _STATUS.fullmatch(first.rstrip(b"\r"))
    if found is None:
        raise AnswerError(f"not an HTTP status line: {first[:100]!r}")
    return Answered(
        status=int(found.group(1)),
        headers=tuple(_headers(rest)),
        body=body.rstrip(b"\r\n") if body.strip() else b"",
        content_id=content_id,
    )


def parse_answer(content_type: str, data: bytes) -> list[Answered | list[Answered]]:
    """The answer's parts in order: an `Answered` per request, a list per change set.

    Raises:
        AnswerError: the answer is not a `multipart/mixed` crmsync can read.
    """
    answered: list[Answered | list[Answered]] = []
    for part in _parts(data, boundary_of(content_type)):
        head, inner = _head_and_body(part)
        kind = _field(_headers(head), "content-type")
        if kind.lower().startswith("multipart/mixed"):
            answered.append([_http(p) for p in _parts(inner, boundary_of(kind))])
        else:
            answered.append(_http(part))
    return answered
