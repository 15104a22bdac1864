"""Shared helpers for the example tests: a fixed clock, one sync round."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import crmsync
from crmsync import Baseline, CrmSnapshot, OutlookSnapshot, Plan, Settings, Synced

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
USER = "ann@contoso.com"


def plan(
    crm: CrmSnapshot,
    outlook: OutlookSnapshot,
    settings: Settings | None = None,
    baseline: Baseline | None = None,
) -> Plan:
    return crmsync.plan(crm, outlook, settings or Settings(), baseline, user=USER, now=NOW)


def sync(
    crm: CrmSnapshot,
    outlook: OutlookSnapshot,
    settings: Settings | None = None,
    baseline: Baseline | None = None,
) -> tuple[Plan, Synced]:
    """Plans and applies one round."""
    planned = plan(crm, outlook, settings, baseline)
    return planned, crmsync.apply(planned, crm, outlook, baseline)


def converge(
    crm: CrmSnapshot,
    outlook: OutlookSnapshot,
    settings: Settings | None = None,
    baseline: Baseline | None = None,
    rounds: int = 1,
) -> Synced:
    """Syncs `rounds` times and checks the next plan has no ops."""
    synced = None
    for _ in range(rounds):
        _, synced = sync(crm, outlook, settings, baseline)
        crm, outlook, baseline = synced.crm, synced.outlook, synced.baseline
    again = plan(crm, outlook, settings, baseline)
    assert again.is_empty, again.render()
    assert synced is not None
    return synced


def codes(planned: Plan) -> list[str]:
    return [n.code for n in planned.notices]


def ops(planned: Plan) -> list[tuple[str, str, str, str]]:
    return [(op.domain.value, op.side.value, op.key, op.action.value) for op in planned.ops]


def fake_connection(
    fake: Any, sleep: Callable[[float], None] = lambda _: None, **options: Any
) -> Any:
    """A `crmsync.http.Connection` to a `crmsync.testing.FakeMicrosoft` (plain http, loopback).

    Waits take no time: `sleep` records them, and the connection's clock
    moves on by what was slept (on top of the real clock), so its pacing
    sees the waits pass as a real `time.sleep` would make them.
    """
    from crmsync.http import Connection
    from crmsync.testing import DATAVERSE_TOKEN, GRAPH_TOKEN

    slept = [0.0]
    lock = threading.Lock()

    def waited(seconds: float) -> None:
        with lock:
            slept[0] += seconds
        sleep(seconds)

    options.setdefault("clock", lambda: time.monotonic() + slept[0])
    return Connection(
        graph_token=lambda: GRAPH_TOKEN,
        dataverse_url=fake.url,
        dataverse_token=lambda: DATAVERSE_TOKEN,
        graph_url=fake.graph_url,
        sleep=waited,
        allow_loopback_http=True,  # the fake serves plain http on 127.0.0.1
        **options,
    )


def places(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON document that leads to a value (object members and list items)."""
    found = [path] if path else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += places(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += places(value, (*path, index))
    return found


def replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of a JSON document with the value at `path` replaced."""
    copy = json.loads(json.dumps(data))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copy
