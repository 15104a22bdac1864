"""Planning many mailboxes: a streaming loop, and the same work on a Dask bag.

An organization syncs every user's mailbox every few minutes. Plans are pure
per mailbox, so the work maps onto an existing engine: `plan_many` streams
plans in one process, and `plan_bag` (extra `crmsync[dask]`) maps the same
function over a `dask.bag.Bag`, which a `distributed.Client` runs on a cluster.
The plans are identical to `crmsync.plan` in one process: the function is the
same, and every record pickles.

A mailbox travels as a `SyncInput` or as the path of a *mailbox file*: the
JSON of a `SyncInput` (`crmsync.dumps(inp)`), which a worker reads itself, so
only the path crosses the network.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from crmsync.convert import dumps, loads
from crmsync.errors import InvalidInput, Problem
from crmsync.files import write_all
from crmsync.plan import Plan
from crmsync.planning import default_policies
from crmsync.policy import Policy, SyncInput, compose

if TYPE_CHECKING:
    from dask.bag import Bag

__all__ = ["Mailbox", "plan_bag", "plan_mailbox", "plan_many", "read_mailbox", "write_mailbox"]

Mailbox = SyncInput | str | os.PathLike[str]
"""One mailbox's input: a `SyncInput`, or the path of its mailbox file."""


def read_mailbox(path: str | os.PathLike[str]) -> SyncInput:
    """Reads a mailbox file (the JSON of a `SyncInput`, as `crmsync.dumps` writes it).

    Args:
        path: the file.

    Returns:
        The mailbox's input.

    Raises:
        InvalidInput: the file cannot be read, or holds no valid `SyncInput`;
            every problem's path starts with the file's name.
    """
    try:
        text = Path(path).read_bytes()
    except OSError as error:
        problem = Problem((), f"cannot read the file: {error.strerror}")
        raise InvalidInput([problem], root=str(path)) from None
    try:
        return loads(text, SyncInput)
    except InvalidInput as error:
        raise InvalidInput(error.problems, root=f"{path}:$") from None


def write_mailbox(path: str | os.PathLike[str], inp: SyncInput) -> None:
    """Writes a mailbox file atomically: the old file, or the new one, never half of one.

    The JSON goes to a temporary file in the same folder, is flushed to disk,
    and replaces `path` in one rename (`crmsync.files.write_all`, as `crmsync
    apply` writes), so a crash or a full disk leaves the previous file as it was.

    Args:
        path: the file.
        inp: the mailbox's input.

    Raises:
        OSError: the file could not be written (the previous one is intact).
    """
    target = Path(path)
    write_all(target.parent, {target.name: dumps(inp, indent=None).encode("utf-8")})


def plan_mailbox(mailbox: Mailbox, policy: Policy | None = None) -> Plan:
    """Plans one mailbox.

    Args:
        mailbox: a `SyncInput`, or the path of a mailbox file.
        policy: the policy to run (the default policies if None).

    Returns:
        The plan, the same as `crmsync.plan` gives for the same input.

    Raises:
        InvalidInput: the mailbox is neither, or its file is invalid.
    """
    if isinstance(mailbox, SyncInput):
        inp = mailbox
    elif isinstance(mailbox, str | os.PathLike):
        inp = read_mailbox(mailbox)
    else:
        raise InvalidInput(
            [Problem((), f"expected a SyncInput or a mailbox file's path, not {type(mailbox)}")],
            root="mailbox",
        )
    return (policy or _DEFAULT)(inp)


_DEFAULT = compose(*default_policies())


def plan_many(inputs: Iterable[Mailbox], *, policy: Policy | None = None) -> Iterator[Plan]:
    """Plans mailboxes one after another, yielding each plan as it is made.

    The loop holds one mailbox and one plan at a time, so any number of
    mailboxes fits in memory as long as `inputs` is lazy too.

    Args:
        inputs: the mailboxes, as `SyncInput`s or mailbox files' paths.
        policy: the policy to run for every mailbox (the default policies if None).

    Yields:
        One plan per mailbox, in the order of `inputs`.

    Raises:
        InvalidInput: a mailbox is invalid; its problems' paths start with its
            position (`$[3]`), and the plans before it have been yielded.
    """
    for i, mailbox in enumerate(inputs):
        try:
            yield plan_mailbox(mailbox, policy)
        except InvalidInput as error:
            raise InvalidInput(error.problems, root=f"$[{i}]:{error.root}") from None


def plan_bag(
    bag: Bag,
    *,
    policy: Policy | None = None,
    output: Literal["plans", "json"] = "plans",
) -> Bag:
    """Maps planning over a Dask bag of mailboxes (extra `crmsync[dask]`).

    Nothing runs until the bag is computed (`bag.compute()`, or with a
    `distributed.Client` in place, on its cluster). A failed task (a worker
    that died) is retried by Dask; planning is pure, so a retry gives the same
    plan.

    Args:
        bag: a bag of `SyncInput`s or mailbox files' paths; a path makes only
            the path travel to the worker, which reads the file.
        policy: the policy to run (it must pickle; the default policies do).
        output: `"plans"` for `Plan` objects, `"json"` for `crmsync.dumps` of
            each plan (smaller to gather, ready to store).

    Returns:
        A bag with one item per mailbox, in the order of `bag`.

    Raises:
        ValueError: `output` is neither `"plans"` nor `"json"`.
    """
    if output not in ("plans", "json"):
        raise ValueError(f"output must be 'plans' or 'json', not {output!r}")
    work: Callable[[Any], Any] = _PlanJson(policy) if output == "json" else _Plan(policy)
    mapped: Bag = bag.map(work)  # type: ignore[no-untyped-call]  # dask.bag is untyped
    return mapped


class _Plan:
    """A picklable task: plan one mailbox under a policy."""

    def __init__(self, policy: Policy | None) -> None:
        self.policy = policy

    def __call__(self, mailbox: Mailbox) -> Plan:
        return plan_mailbox(mailbox, self.policy)


class _PlanJson(_Plan):
    def __call__(self, mailbox: Mailbox) -> str:  # type: ignore[override]
        return dumps(super().__call__(mailbox))
