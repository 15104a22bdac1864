"""Execution throughput against Microsoft's documented limits, on the project's fake services.

    python -m benchmarks.throughput [--contacts 10000 --appointments 2000 --tasks 2000]
        [--churn 500] [--latency 0.1] [--execution 0.02] [--scale 0.1] [--smoke] [--out FILE]

`crmsync.testing.FakeMicrosoft` answers every HTTP request after `latency`
seconds and spends `execution` seconds per operation (each request inside a
`$batch`), and enforces the limits Microsoft documents (429 with
`Retry-After` when passed): Outlook's 10,000 requests per 10 minutes and 4
concurrent requests per mailbox, Dataverse's 6,000 requests and 1,200 s of
execution per 5 minutes per user. Time runs `1/scale` times faster than the
services' own (`--scale 0.1`: a 10-minute window lasts 60 s), for the fake
and for the connection (its clock and sleep), so every figure is reported in
the services' seconds.

A first sync (half of each domain in the CRM, half in Outlook: each side
creates the other's records, and the CRM's new rows are linked back on their
Outlook items) and then a churn round (random edits on both sides) are run
twice on fresh fakes: by today's executor (concurrency 4 per service,
Dataverse `$batch`, paced to the documented rates) and by a sequential one
(one request at a time, Dataverse requests alone, no pacing: the executor
before concurrency). Reported per run: requests and operations per service,
the 429s the limits caused, the execution time, and its ratio to the floor:
the least time the documented limits allow for the same work (see `floor`).
The goal is 1.5x the floor with no 429 caused by crmsync's own pacing. No
time is asserted anywhere; `--smoke` runs a tiny world for CI.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

import crmsync
from crmsync import Baseline, Settings
from crmsync.adapters.graph import TRACKED_CATEGORY
from crmsync.http import Connection
from crmsync.testing import (
    DATAVERSE_TOKEN,
    GRAPH_TOKEN,
    FakeMicrosoft,
    Limits,
    organizer_party,
)

USER = "ann@contoso.com"
NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
SETTINGS = Settings()
SEQUENTIAL: dict[str, Any] = {
    "graph_concurrency": 1,
    "dataverse_concurrency": 1,
    "dataverse_batch_size": 1,
    "graph_rate": None,
    "dataverse_rate": None,
}


def _when(moment: dt.datetime) -> dict[str, str]:
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


def seed(fake: FakeMicrosoft, contacts: int, appointments: int, tasks: int) -> None:
    """Half of each domain in the CRM, half in Outlook, none synced yet."""
    for n in range(contacts):
        if n % 2:
            fake.add(
                "dataverse",
                "contacts",
                {"firstname": f"C{n}", "lastname": "Bench", "emailaddress1": f"c{n}@x.org"},
            )
        else:
            fake.add(
                "graph",
                "contacts",
                {
                    "givenName": f"O{n}",
                    "surname": "Bench",
                    "emailAddresses": [{"address": f"o{n}@x.org"}],
                    "categories": [TRACKED_CATEGORY],
                },
            )
    for n in range(appointments):
        start = NOW + dt.timedelta(days=1 + n % 300, hours=n % 8)
        end = start + dt.timedelta(hours=1)
        if n % 2:
            fake.add(
                "dataverse",
                "appointments",
                {
                    "subject": f"A{n}",
                    "scheduledstart": start.isoformat(),
                    "scheduledend": end.isoformat(),
                    "appointment_activity_parties": [organizer_party(USER)],
                },
            )
        else:
            fake.add(
                "graph",
                "events",
                {
                    "subject": f"E{n}",
                    "start": _when(start),
                    "end": _when(end),
                    "organizer": {"emailAddress": {"address": USER}},
                    "categories": [TRACKED_CATEGORY],
                },
            )
    for n in range(tasks):
        if n % 2:
            fake.add("dataverse", "tasks", {"subject": f"T{n}"})
        else:
            fake.add("graph", "tasks", {"title": f"U{n}", "categories": [TRACKED_CATEGORY]})


def churn(fake: FakeMicrosoft, changes: int, rng: random.Random) -> None:
    """`changes` edits of random synced records, half in each service."""
    for n in range(changes):
        if n % 2:
            table = rng.choice(["contacts", "appointments", "tasks"])
            column = {"contacts": "jobtitle", "appointments": "location", "tasks": "subject"}
            key = rng.choice(sorted(fake.dataverse[table]))
            fake.edit("dataverse", table, key, **{column[table]: f"churn {n}"})
        else:
            collection = rng.choice(["contacts", "events", "tasks"])
            change: dict[str, Any] = {
                "contacts": {"jobTitle": f"churn {n}"},
                "events": {"location": {"displayName": f"churn {n}"}},
                "tasks": {"title": f"churn {n}"},
            }[collection]
            key = rng.choice(sorted(fake.graph[collection]))
            fake.edit("graph", collection, key, **change)


def floor(stats: dict[str, dict[str, float]], limits: Limits, latency: float) -> float:
    """The least time, in the services' seconds, the documented limits allow for this work.

    Per service, the larger of: the window bound (operations counted in a
    sliding window of `W` seconds that allows `L`: the last of `N` may start
    at `floor((N - 1) / L) * W` at the earliest; Dataverse's execution time
    likewise against its 1,200 s per 300 s) and the concurrency bound (the
    requests' own time, latency plus execution, spread over the concurrent
    requests the service allows, 4 for Outlook and, by its execution limit,
    4 busy requests for Dataverse). The services work at the same time, so
    the floor is the larger of the two; the dependency waves (a CRM create
    before its link-back on the Outlook item) are not counted, so the floor
    is, if anything, low.
    """
    graph, dataverse = stats["graph"], stats["dataverse"]

    def window(n: float, allowed: float, seconds: float) -> float:
        return math.floor(max(n - 1, 0) / allowed) * seconds if n else 0.0

    graph_floor = max(
        window(graph["operations"], limits.graph_requests, limits.graph_window),
        graph["busy"] / limits.graph_concurrency,
    )
    allowed_busy = limits.dataverse_execution / limits.dataverse_window
    dataverse_floor = max(
        window(dataverse["requests"], limits.dataverse_requests, limits.dataverse_window),
        window(dataverse["execution"], limits.dataverse_execution, limits.dataverse_window),
        dataverse["busy"] / allowed_busy,
    )
    return max(graph_floor, dataverse_floor, latency)


def scaled_connection(fake: FakeMicrosoft, scale: float, **options: Any) -> Connection:
    """A connection whose clock and sleep run `1/scale` times faster, as the fake's time does.

    Waits up to 900 s each and 3,600 s a call, in the services' seconds: the
    sequential baseline meets Outlook's window without pacing.
    """
    return Connection(
        graph_token=lambda: GRAPH_TOKEN,
        dataverse_url=fake.url,
        dataverse_token=lambda: DATAVERSE_TOKEN,
        graph_url=fake.graph_url,
        allow_loopback_http=True,
        clock=lambda: time.monotonic() / scale,
        sleep=lambda seconds: time.sleep(seconds * scale),
        **({"max_wait": 900.0, "wait_budget": 3600.0} | options),
    )


def _counters(fake: FakeMicrosoft) -> dict[str, dict[str, int]]:
    return {
        service: {
            "requests": fake.stats[service].requests,
            "operations": fake.stats[service].operations,
            "limited": fake.stats[service].limited,
        }
        for service in ("graph", "dataverse")
    }


def run(
    name: str,
    options: dict[str, Any],
    sizes: tuple[int, int, int],
    changes: int,
    latency: float,
    execution: float,
    scale: float,
) -> dict[str, Any]:
    """A first sync and a churn round by one executor on a fresh fake.

    The fake's limits hold from the first read on; a window passes between
    the phases (unmeasured), so each starts with the documented allowance.
    Only `execute` is timed; its requests are the fake's counters across it.
    """
    limits = Limits(scale=scale)
    out: dict[str, Any] = {"executor": name}
    with FakeMicrosoft(
        page_size=1000, latency=latency * scale, execution=execution * scale, limits=limits
    ) as fake:
        seed(fake, *sizes)
        connection = scaled_connection(fake, scale, **options)
        baseline: Baseline | None = None
        for phase in ("first_sync", "churn"):
            if phase == "churn":
                churn(fake, changes, random.Random(7))  # seeded benchmark data
                time.sleep(max(limits.graph_window, limits.dataverse_window) * scale)
            crm = connection.read_dataverse()
            outlook = connection.read_outlook(baseline, crm=crm.snapshot)
            plan = crmsync.plan(
                crm.snapshot, outlook.snapshot, SETTINGS, baseline, user=USER, now=NOW
            )
            before = _counters(fake)
            start = time.perf_counter()
            executed = connection.execute(
                plan,
                crm.snapshot,
                outlook.snapshot,
                graph_ids=outlook.ids,
                baseline=baseline,
                graph_etags=outlook.etags,
                dataverse_etags=crm.etags,
            )
            seconds = (time.perf_counter() - start) / scale
            after = _counters(fake)
            baseline = executed.baseline(baseline)
            work: dict[str, dict[str, float]] = {}
            for service in ("graph", "dataverse"):
                done = {k: after[service][k] - before[service][k] for k in after[service]}
                work[service] = {
                    **done,
                    "execution": done["operations"] * execution,
                    "busy": done["requests"] * latency + done["operations"] * execution,
                }
            least = floor(work, limits, latency)
            out[phase] = {
                "ops": len(plan.ops),
                "done": len(executed.done),
                "not_done": len(executed.not_done),
                "graph_requests": work["graph"]["requests"],
                "graph_operations": work["graph"]["operations"],
                "dataverse_requests": work["dataverse"]["requests"],
                "dataverse_operations": work["dataverse"]["operations"],
                "throttled_by_limits": work["graph"]["limited"] + work["dataverse"]["limited"],
                "seconds": round(seconds, 1),
                "floor_seconds": round(least, 1),
                "vs_floor": round(seconds / least, 2),
            }
        connection.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput")
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--appointments", type=int, default=2_000)
    parser.add_argument("--tasks", type=int, default=2_000)
    parser.add_argument("--churn", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--execution", type=float, default=0.02)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--smoke", action="store_true", help="a tiny world, for CI")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    sizes = (args.contacts, args.appointments, args.tasks)
    changes = args.churn
    if args.smoke:
        sizes, changes = (40, 10, 10), 10
    results = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
        "sizes": dict(zip(("contacts", "appointments", "tasks"), sizes, strict=True)),
        "churn": changes,
        "latency": args.latency,
        "execution": args.execution,
        "scale": args.scale,
        "runs": [
            run(name, options, sizes, changes, args.latency, args.execution, args.scale)
            for name, options in (("concurrent", {}), ("sequential", SEQUENTIAL))
        ],
    }
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
