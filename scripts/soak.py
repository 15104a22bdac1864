"""Runs the service soak (tests/soak.py) for longer than CI does.

    python scripts/soak.py --rounds 3000 [--seed 1] [--fault-rate 0.1] [--quiet-every 10]
        [--conflict crm_wins|outlook_wins|newest_wins|manual] [--one-way]

Prints the rounds run, the user's actions, the ops done by action, the faults
injected by kind, the notices by code and every violation of the invariants
(exit status 1 on any). Needs the test and http extras (`pip install -e '.[test]'`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

import soak  # noqa: E402 - the soak lives beside the tests it shares the fake with
from crmsync import ConflictPolicy, Direction, Settings  # noqa: E402


def main() -> int:
    """Runs the soak; returns the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--quiet-every", type=int, default=10)
    parser.add_argument(
        "--conflict",
        choices=[c.value for c in ConflictPolicy],
        default=ConflictPolicy.CRM_WINS.value,
        help="the conflict policy of the settings",
    )
    parser.add_argument(
        "--one-way",
        action="store_true",
        help="contact job titles sync to Outlook only and task subjects to the CRM only, "
        "so deletes that take an edit with them are data-loss notices whose records are held",
    )
    args = parser.parse_args()
    directions = (
        {"contact.job_title": Direction.TO_OUTLOOK, "task.subject": Direction.TO_CRM}
        if args.one_way
        else {}
    )
    started = time.perf_counter()
    report = soak.run(
        rounds=args.rounds,
        seed=args.seed,
        fault_rate=args.fault_rate,
        quiet_every=args.quiet_every,
        settings=Settings(
            conflict=ConflictPolicy(args.conflict),
            sync_appointment_attachments=True,
            field_directions=directions,
        ),
    )
    print(report.render())
    took = time.perf_counter() - started
    print(f"seed {args.seed}, fault rate {args.fault_rate}, {args.conflict}: {took:.1f} s")
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
