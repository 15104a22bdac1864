"""Measures how reliably and how fast docs/testing.md's planted failure is found.

    python scripts/planted_failure.py [--runs 10] [--examples 50] [--must-include task.edited]

The convergence property of docs/testing.md, with a planted failure: an assert
that no task is updated. Each run is a fresh random Hypothesis run (no example
database) of `--examples` examples under the `dev` profile's phases (no
explain phase); it prints, per run, whether the failure was found, the seconds
to the first failing example and to the end of shrinking, and the shrunk
world's line count; then the totals. `--must-include` draws
`worlds(must_include=...)` (repeat it for several kinds); without it, plain
`worlds()`. Needs the test extra (`pip install -e '.[test]'`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import hypothesis
from hypothesis import Phase, given

import crmsync
from crmsync import Action, CrmContact, Domain, compose, default_policies, exclude
from crmsync.strategies import World, describe, worlds

PRIVATE = exclude(
    compose(*default_policies()),
    lambda r: isinstance(r, CrmContact) and "#private" in r.notes,
    "private_contact",
)


def one_run(examples: int, must_include: list[str]) -> tuple[float | None, float, int]:
    """One random run: seconds to the first failure (None: not found), seconds in all, lines."""
    started = time.perf_counter()
    first: list[float] = []
    shrunk: list[World] = []

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
        suppress_health_check=[hypothesis.HealthCheck.too_slow],
    )
    @given(worlds(must_include=must_include))
    def test_my_policy_converges(world: World) -> None:
        plan = crmsync.plan(
            world.crm,
            world.outlook,
            world.settings,
            world.baseline,
            user=world.user,
            now=world.now,
            policy=PRIVATE,
        )
        updated = [op for op in plan.ops if op.domain is Domain.TASK and op.action is Action.UPDATE]
        if updated:
            if not first:
                first.append(time.perf_counter() - started)
            shrunk[:] = [world]
        if updated:  # the planted failure
            raise AssertionError(f"a task is updated: {updated[0].key}")
        synced = crmsync.apply(plan, world.crm, world.outlook, world.baseline)
        crmsync.plan(
            synced.crm,
            synced.outlook,
            world.settings,
            synced.baseline,
            user=world.user,
            now=world.now,
            policy=PRIVATE,
        )

    try:
        test_my_policy_converges()
    except AssertionError:
        return first[0], time.perf_counter() - started, len(describe(shrunk[-1]).splitlines())
    return None, time.perf_counter() - started, 0


def main() -> int:
    """Runs the measurement; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--examples", type=int, default=50)
    parser.add_argument("--must-include", action="append", default=[], metavar="KIND")
    args = parser.parse_args()

    label = f"worlds(must_include={set(args.must_include)})" if args.must_include else "worlds()"
    print(f"{label}, {args.examples} examples per run")
    found: list[float] = []
    for number in range(1, args.runs + 1):
        first, total, lines = one_run(args.examples, args.must_include)
        if first is None:
            print(f"run {number}: not found ({total:.1f} s)")
        else:
            found.append(total)
            print(
                f"run {number}: found after {first:.1f} s, shrunk at {total:.1f} s ({lines} lines)"
            )
    if found:
        print(
            f"found in {len(found)} of {args.runs} runs; to the end of shrinking: median "
            f"{statistics.median(found):.1f} s, max {max(found):.1f} s"
        )
    else:
        print(f"found in 0 of {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
