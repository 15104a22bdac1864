"""Runs the model-based sync test (tests/properties/test_stateful.py) for longer than CI does.

    python scripts/stateful.py --examples 3000 [--steps 40] [--seed 1]

Prints the examples run and the time taken, and the failing steps if a law breaks
(exit status 1). Needs the test extra (`pip install -e '.[test]'`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import hypothesis
from hypothesis import Phase
from hypothesis.stateful import run_state_machine_as_test

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "properties"), str(ROOT / "tests"), str(ROOT)]

from test_stateful import SyncModel  # noqa: E402 - the test module lives beside the tests


def main() -> int:
    """Runs the machine; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=3000)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--seed", type=int, default=None, help="derandomize with this seed")
    args = parser.parse_args()

    settings = hypothesis.settings(
        max_examples=args.examples,
        stateful_step_count=args.steps,
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    started = time.perf_counter()
    try:
        if args.seed is not None:
            hypothesis.seed(args.seed)(
                lambda: run_state_machine_as_test(SyncModel, settings=settings)
            )()
        else:
            run_state_machine_as_test(SyncModel, settings=settings)
    except AssertionError as error:
        print(f"FAILED after {time.perf_counter() - started:.1f} s: {error}")
        return 1
    print(
        f"{args.examples} examples of up to {args.steps} steps: no law broken "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
