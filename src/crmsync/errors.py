"""The errors crmsync raises: one root, each also the matching builtin.

Errors that gather many problems carry them all, each with its path, so a
caller fixes a payload in one round instead of one problem per run.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import attrs

PathPart = str | int


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
        return f"{text}: {self.message}"


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

    def __init__(self, problems: Iterable[Problem], root: str = "$") -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.root = root
        super().__init__(self._text())

    def _text(self) -> str:
        lines = self.lines()
        if len(lines) == 1:
            return lines[0]
        return f"{len(lines)} problems:\n" + "\n".join(f"  {line}" for line in lines)

    def lines(self) -> list[str]:
        """Returns one `path: message` line per problem."""
        return [p.render(self.root) for p in self.problems]

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.problems, self.root))


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


class PolicyConflict(CrmsyncError, ValueError):
    """Two composed policies planned different operations on the same record."""
