"""Mailboxes per second: one process, and Dask LocalClusters of 1 and 2 worker processes.

    python -m benchmarks.batch [--mailboxes 200] [--records 1000] [--smoke]

Every figure comes from one run on one machine: the ratios between them (the
speed-up from a second worker, the scheduler's share of a task) are what carry
over to a cluster; docs/performance.md extrapolates from them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import dask.bag as db
from distributed import Client, LocalCluster

import crmsync
from benchmarks.worlds import NOW, SETTINGS, USER, build
from crmsync import SyncInput
from crmsync.batch import plan_bag, plan_many


def _noop(item: Any) -> Any:
    return item


def write_mailboxes(folder: Path, mailboxes: int, records: int) -> list[str]:
    """One mailbox file per mailbox; every mailbox holds the same synthetic world."""
    world = build(records)
    text = crmsync.dumps(
        SyncInput(
            crm=world.crm,
            outlook=world.outlook,
            baseline=world.baseline,
            settings=SETTINGS,
            user=USER,
            now=NOW,
        ),
        indent=None,
    )
    paths = []
    for i in range(mailboxes):
        path = folder / f"mailbox-{i:05}.json"
        path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    return paths


def on_cluster(paths: list[str], workers: int, per_task: int, tasks: int) -> dict[str, float]:
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.submit(_noop, 0).result()  # workers up and warm
        partitions = max(1, len(paths) // per_task)
        start = time.perf_counter()
        done = plan_bag(db.from_sequence(paths, npartitions=partitions), output="json").compute()
        seconds = time.perf_counter() - start
        assert len(done) == len(paths)
        # The scheduler's cost of one task: many tasks that do nothing.
        start = time.perf_counter()
        db.from_sequence(range(tasks), npartitions=tasks).map(_noop).compute()
        overhead = (time.perf_counter() - start) / tasks
    return {"seconds": seconds, "task_overhead_s": overhead}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batch", description=__doc__)
    parser.add_argument("--mailboxes", type=int, default=200)
    parser.add_argument("--records", type=int, default=1000, help="linked pairs per mailbox")
    parser.add_argument("--per-task", type=int, default=10, help="mailboxes per Dask task")
    parser.add_argument("--out", default="benchmarks/results/batch.json")
    parser.add_argument("--smoke", action="store_true", help="a few small mailboxes, for CI")
    args = parser.parse_args()
    mailboxes, records = (8, 200) if args.smoke else (args.mailboxes, args.records)

    with tempfile.TemporaryDirectory() as folder:
        paths = write_mailboxes(Path(folder), mailboxes, records)
        start = time.perf_counter()
        count = sum(1 for _ in plan_many(paths))
        one_process = time.perf_counter() - start
        assert count == mailboxes
        tasks = 200 if args.smoke else 2000
        clusters = {n: on_cluster(paths, n, args.per_task, tasks) for n in (1, 2)}

    def rate(seconds: float) -> float:
        return mailboxes / seconds

    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "mailboxes": mailboxes,
        "records_per_mailbox": records,
        "mailboxes_per_s": {
            "plan_many (1 process)": rate(one_process),
            "dask, 1 worker": rate(clusters[1]["seconds"]),
            "dask, 2 workers": rate(clusters[2]["seconds"]),
        },
        "records_per_s_per_core": mailboxes * records / one_process,
        "speedup_2_workers_vs_1": clusters[1]["seconds"] / clusters[2]["seconds"],
        "dask_vs_one_process_1_worker": one_process / clusters[1]["seconds"],
        "task_overhead_ms": clusters[2]["task_overhead_s"] * 1000,
        "plan_ms_per_mailbox": one_process / mailboxes * 1000,
    }
    print(json.dumps(result, indent=2))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
