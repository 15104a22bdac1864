"""Runs the benchmark harness: plan time against the Python floor, memory, the CLI path.

    python -m benchmarks [--sizes 10000,100000,1000000] [--out FILE] [--smoke]
    python -m benchmarks --delta [--sizes 1000000]
    python -m benchmarks --reads [--sizes 20000]

`--delta` measures a delta round instead: a 1 % delta (partial snapshots)
against the baseline, as a share of planning the complete snapshots.

`--reads` measures reading instead: `crmsync.loads` and the Graph and
Dataverse readers against `json.loads` of the same bytes (benchmarks/reads.py).

Every target is a ratio measured in one run, never an absolute time.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import crmsync
from benchmarks import reads
from benchmarks.worlds import (
    NOW,
    SETTINGS,
    USER,
    World,
    build,
    build_delta,
    round_trip,
    unchanged,
)
from crmsync import Baseline, CrmSnapshot, OutlookSnapshot

TARGETS = {
    "plan_vs_floor": 3.5,
    "unchanged_vs_floor": 1.5,
    "growth_100k_to_1m": 11.0,
    "memory_vs_input": 1.5,
    "cli_vs_json_floor": 4.0,
    "delta_vs_complete": 0.05,
    "read_vs_json": reads.TARGET,
}


def best_of(repeats: int, work: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def floor(world: World) -> int:
    """The least work any planner must do: join by key, compare with the baseline."""
    differing = 0
    for now, base in ((world.crm, world.baseline.crm), (world.outlook, world.baseline.outlook)):
        for name in ("contacts", "appointments", "tasks"):
            previous = {r.key: r for r in getattr(base, name)}
            for record in getattr(now, name):
                if record != previous.get(record.key):
                    differing += 1
    return differing


def plan(world: World) -> crmsync.Plan:
    return crmsync.plan(world.crm, world.outlook, SETTINGS, world.baseline, user=USER, now=NOW)


def measure(size: int, repeats: int) -> dict[str, Any]:
    built = build(size)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    world = round_trip(built)  # read back from JSON: no record shared by two sides
    input_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del built

    floor_s, differing = best_of(repeats, lambda: floor(world))
    plan_s, planned = best_of(repeats, lambda: plan(world))

    still_floor_s, still_s = measure_unchanged(world, repeats)

    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    plan(world)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()

    texts = [
        crmsync.dumps(world.crm, indent=None),
        crmsync.dumps(world.outlook, indent=None),
        crmsync.dumps(world.baseline, indent=None),
    ]

    def cli() -> str:
        crm = crmsync.loads(texts[0], CrmSnapshot)
        outlook = crmsync.loads(texts[1], OutlookSnapshot)
        baseline = crmsync.loads(texts[2], Baseline)
        return crmsync.dumps(crmsync.plan(crm, outlook, SETTINGS, baseline, user=USER, now=NOW))

    def json_floor() -> None:
        for text in texts:
            json.dumps(json.loads(text))

    cli_s, _ = best_of(max(1, repeats - 1), cli)
    json_s, _ = best_of(repeats, json_floor)
    return {
        "size": size,
        "changed_pairs": world.changed_pairs,
        "differing_records": differing,
        "ops": len(planned.ops),
        "plan_s": plan_s,
        "floor_s": floor_s,
        "plan_vs_floor": plan_s / floor_s,
        "pairs_per_s": size / plan_s,
        "unchanged_s": still_s,
        "unchanged_floor_s": still_floor_s,
        "unchanged_vs_floor": still_s / still_floor_s,
        "plan_peak_bytes": peak,
        "input_bytes": input_bytes,
        "memory_vs_input": peak / input_bytes,
        "cli_s": cli_s,
        "json_floor_s": json_s,
        "cli_vs_json_floor": cli_s / json_s,
    }


def measure_unchanged(world: World, repeats: int) -> tuple[float, float]:
    """(floor s, plan s) for the world's mailbox with nothing changed since the baseline."""
    still = unchanged(world)
    floor_s, _ = best_of(repeats, lambda: floor(still))
    plan_s, _ = best_of(repeats, lambda: plan(still))
    return floor_s, plan_s


def measure_delta(size: int, repeats: int) -> dict[str, Any]:
    """A 1 % delta round against `size` linked pairs, partial against complete."""
    world = build_delta(size)

    def complete() -> crmsync.Plan:
        return crmsync.plan(world.crm, world.outlook, SETTINGS, world.baseline, user=USER, now=NOW)

    def partial(baseline: Baseline) -> crmsync.Plan:
        return crmsync.plan(
            world.crm_delta, world.outlook_delta, SETTINGS, baseline, user=USER, now=NOW
        )

    def fresh() -> Baseline:
        # The same records, a new Baseline object: nothing cached on it yet.
        b = world.baseline
        return Baseline(crm=b.crm, outlook=b.outlook, settings=b.settings)

    complete_s, whole = best_of(repeats, complete)
    partial(world.baseline)  # warms what the baseline caches
    warm_s, planned = best_of(repeats, lambda: partial(world.baseline))
    baselines = [fresh() for _ in range(repeats)]
    cold_s, _ = best_of(repeats, lambda: partial(baselines.pop()))
    assert crmsync.dumps(planned) == crmsync.dumps(whole), "the delta must plan as the whole"
    return {
        "size": size,
        "changed": world.changed,
        "ops": len(planned.ops),
        "complete_s": complete_s,
        "delta_s": warm_s,
        "delta_cold_s": cold_s,
        "delta_vs_complete": warm_s / complete_s,
        "delta_cold_vs_complete": cold_s / complete_s,
        "delta_us_per_change": warm_s / world.changed * 1e6,
    }


def main_delta(sizes: list[int], out: Path) -> int:
    """Prints and writes the delta-round rows."""
    print(
        f"{'records':>9} {'changed':>8} {'complete s':>11} {'delta s':>8} {'x complete':>11} "
        f"{'cold s':>8} {'x complete':>11} {'us/change':>10}"
    )
    rows = []
    for size in sizes:
        row = measure_delta(size, repeats=2 if size >= 1_000_000 else 3)
        rows.append(row)
        print(
            f"{size:>9,} {row['changed']:>8,} {row['complete_s']:>11.3f} {row['delta_s']:>8.4f} "
            f"{row['delta_vs_complete']:>11.4f} {row['delta_cold_s']:>8.4f} "
            f"{row['delta_cold_vs_complete']:>11.4f} {row['delta_us_per_change']:>10.1f}",
            flush=True,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"targets": TARGETS, "rows": rows}, indent=2) + "\n", "utf-8")
    print(f"results written to {out}")
    return 0


def main_reads(sizes: list[int], out: Path) -> int:
    """Prints and writes the reading rows: each reader against `json.loads` of its bytes."""
    print(
        f"{'format':>9} {'kind':>16} {'records':>8} {'MB':>6} {'json s':>8} "
        f"{'read s':>8} {'x json':>7} {'orjson':>6} {'pure s':>8} {'x json':>7}"
    )
    rows = []
    for size in sizes:
        for row in reads.measure(size, 3, best_of):
            rows.append(row)
            pure = (
                f"{row['pure_read_s']:>8.4f} {row['pure_read_vs_json']:>7.2f}"
                if "pure_read_s" in row
                else f"{'-':>8} {'-':>7}"
            )
            print(
                f"{row['format']:>9} {row['kind']:>16} {size:>8,} {row['bytes'] / 1e6:>6.1f} "
                f"{row['json_s']:>8.4f} {row['read_s']:>8.4f} {row['read_vs_json']:>7.2f} "
                f"{'yes' if row['orjson'] else 'no':>6} {pure}",
                flush=True,
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"target": reads.TARGET, "rows": rows}
    out.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(f"results written to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--out", default="benchmarks/results/latest.json")
    parser.add_argument("--smoke", action="store_true", help="smallest size only, for CI")
    parser.add_argument(
        "--delta", action="store_true", help="a 1%% delta round against the complete snapshots"
    )
    parser.add_argument(
        "--reads",
        action="store_true",
        help="crmsync's readers against json.loads of the same bytes",
    )
    args = parser.parse_args(argv)
    sizes = [2000] if args.smoke else [int(s) for s in args.sizes.split(",")]
    if args.reads:
        sizes = [500] if args.smoke else sizes if args.sizes != "10000,100000,1000000" else [20000]
        return main_reads(
            sizes,
            Path(args.out).with_name("reads.json")
            if args.out.endswith("latest.json")
            else Path(args.out),
        )
    if args.delta:
        out = (
            Path(args.out).with_name("delta.json")
            if args.out.endswith("latest.json")
            else Path(args.out)
        )
        return main_delta(sizes, out)
    rows = []
    header = (
        f"{'records':>9} {'plan s':>8} {'floor s':>8} {'x floor':>8} {'pairs/s':>10} "
        f"{'still s':>8} {'x floor':>8} "
        f"{'peak MB':>8} {'input MB':>9} {'x input':>8} {'cli s':>8} {'x json':>7}"
    )
    print(header)
    for size in sizes:
        row = measure(size, repeats=2 if size >= 1_000_000 else 3)
        rows.append(row)
        print(
            f"{size:>9,} {row['plan_s']:>8.3f} {row['floor_s']:>8.3f} "
            f"{row['plan_vs_floor']:>8.2f} {row['pairs_per_s']:>10,.0f} "
            f"{row['unchanged_s']:>8.3f} {row['unchanged_vs_floor']:>8.2f} "
            f"{row['plan_peak_bytes'] / 1e6:>8.1f} {row['input_bytes'] / 1e6:>9.1f} "
            f"{row['memory_vs_input']:>8.2f} {row['cli_s']:>8.3f} "
            f"{row['cli_vs_json_floor']:>7.2f}",
            flush=True,
        )
    by_size = {row["size"]: row for row in rows}
    growth = floor_growth = None
    if 100_000 in by_size and 1_000_000 in by_size:
        growth = by_size[1_000_000]["plan_s"] / by_size[100_000]["plan_s"]
        # The floor's own growth shows what the machine adds (caches, memory).
        floor_growth = by_size[1_000_000]["floor_s"] / by_size[100_000]["floor_s"]
        print(
            f"growth 100k -> 1M: plan {growth:.2f}x (target <= "
            f"{TARGETS['growth_100k_to_1m']}x), floor {floor_growth:.2f}x"
        )
    result = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.processor(),
        },
        "targets": TARGETS,
        "rows": rows,
        "growth_100k_to_1m": growth,
        "floor_growth_100k_to_1m": floor_growth,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
