"""The errors crmsync raises: one root, each also the matching builtin.

Errors that gather many problems carry them all, each with its path, so a
caller fixes a payload in one round instead of one problem per run.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import Any

import attrs

PathPart = str | int

MAX_PROBLEMS = 100
"""An error lists at most this many problems, then how many more there are.

A service fed a huge bad file must not spend gigabytes describing it.
"""


@attrs.frozen
class Problem:
    """One thing wrong with an input, and where it is.

    Args:
        path: attribute names and list indices from the root of the input.
        message: a plain sentence saying what is wrong.
    """

    path: tuple[PathPart, ...]
    message: str

    def under(self, *prefix: PathPart) -> Problem:
        """Returns the same problem seen from an enclosing value."""
        return Problem((*prefix, *self.path), self.message)

    def render(self, root: str = "$") -> str:
        """Formats the problem as `$.contacts[3].emails: more than three ...`."""
        text = root
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else f".{part}"
        line = f"{text}: {self.message}"
        # A lone surrogate in a refused name must not make the message unprintable.
        return line if line.isascii() else line.encode("utf-8", "backslashreplace").decode()


class Problems(list[Problem]):
    """Problems gathered so far: the first `MAX_PROBLEMS` kept, the rest only counted."""

    def __init__(self, problems: Iterable[Problem] = ()) -> None:
        super().__init__()
        self.more = 0
        self.extend(problems)

    def append(self, problem: Problem) -> None:
        """Keeps the problem, or counts it once the list is full."""
        if len(self) < MAX_PROBLEMS:
            super().append(problem)
        else:
            self.more += 1

    def extend(self, problems: Iterable[Problem]) -> None:
        """Appends each problem (see `append`)."""
        for problem in problems:
            self.append(problem)
        self.more += getattr(problems, "more", 0)

    def absorb(self, error: _ProblemsError, *prefix: PathPart) -> None:
        """Adds an error's problems, seen from an enclosing value, and its count of more."""
        self.extend(p.under(*prefix) for p in error.problems)
        self.more += error.more

    @property
    def total(self) -> int:
        """How many problems were found, kept or not."""
        return len(self) + self.more


def shown(value: Any) -> str:
    """A short description of any value for a message, safe for huge or deep values.

    `repr` of a 5,000-deep list raises RecursionError and `str` of a
    5,000-digit integer raises ValueError; a message must never do either.
    """
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, str):
        return repr(value[:60]) + ("…" if len(value) > 60 else "")
    if isinstance(value, int):
        if -(10**30) < value < 10**30:
            return str(value)
        digits = math.floor(value.bit_length() * math.log10(2)) + 1
        return f"a number of about {digits:,} digits"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}"
    if isinstance(value, Mapping):
        return f"an object of {len(value)} names"
    return type(value).__name__


def unknown_name(name: str, known: Iterable[str]) -> str:
    """The message for an unknown field or keyword, suggesting the closest known one.

    Args:
        name: the name given.
        known: the names allowed there.

    Returns:
        `"unknown field; did you mean 'address_sync'?"`, or `"unknown field"`
        when no known name is close.
    """
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f"unknown field; did you mean {close[0]!r}?" if close else "unknown field"


class CrmsyncError(Exception):
    """The root of every error crmsync raises."""


class _ProblemsError(CrmsyncError):
    """An error that lists every problem it found, each with its path."""

    def __init__(self, problems: Iterable[Problem], root: str = "$", more: int = 0) -> None:
        found = iter(problems)
        self.problems: tuple[Problem, ...] = tuple(itertools.islice(found, MAX_PROBLEMS))
        rest = sum(1 for _ in found)
        self.more = more + rest + getattr(problems, "more", 0)
        self.root = root
        super().__init__(self._text())

    def _text(self) -> str:
        lines = self.lines()
        if len(lines) == 1:
            return lines[0]
        total = len(self.problems) + self.more
        return f"{total} problems:\n" + "\n".join(f"  {line}" for line in lines)

    def lines(self) -> list[str]:
        """Returns one `path: message` line per problem, then "and N more problems"."""
        lines = [p.render(self.root) for p in self.problems]
        if self.more:
            lines.append(f"and {self.more:,} more problem{'s' if self.more > 1 else ''}")
        return lines

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.problems, self.root, self.more))


class InvalidInput(_ProblemsError, ValueError):
    """Input that crmsync refuses, with the path of every problem.

    Raised by record construction (the root is then the record's class name)
    and by `crmsync.loads` (the root is `$`, the top of the JSON document).
    """


class SettingsError(_ProblemsError, ValueError):
    """Settings that cannot be honoured, such as a direction on a fixed field."""


class StalePlan(CrmsyncError, ValueError):
    """A plan applied to snapshots other than the ones it was made from."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = tuple(reasons)
        super().__init__(
            "the plan was made from other snapshots; plan again:\n"
            + "\n".join(f"  {r}" for r in self.reasons)
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.reasons,))


class AlteredPlan(StalePlan):
    """A plan whose content was changed after it was made (its fingerprint no longer matches).

    An edited op, change, baseline update, setting or time would write what no
    plan decided; `crmsync.apply` refuses it before looking at the snapshots.
    """

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = tuple(reasons)
        CrmsyncError.__init__(
            self,
            "the plan was altered after it was made; plan again:\n"
            + "\n".join(f"  {r}" for r in self.reasons),
        )


class PolicyConflict(CrmsyncError, ValueError):
    """Two composed policies planned different operations on the same record."""
