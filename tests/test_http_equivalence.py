"""Concurrent, batched execution is sequential execution, only faster.

Two fake services are brought to the same state the same way: the soak's
seeded user (tests/soak.py) creates, edits, deletes and attaches on both
sides, and the sequential executor (one request at a time, Dataverse
requests alone, no pacing) syncs a few rounds. Then the user acts again and
one round runs on each: the sequential executor on one twin, the default
executor (4 requests or batches in flight per service, Dataverse `$batch`
with change sets, paced) on the other, under the same faults, each tied to
a record so that it hits the same request whichever order they go in. The
outcome of every op (done, skipped, changed since read) and the baseline
must be the same; after fault-free rounds both twins hold the same records
and every soak invariant holds. A lost answer is the one fault whose
outcomes may differ (a `$batch` that loses its answer fails all its
requests, and a change set either took effect whole or not at all where the
sequential executor may have landed half an op): there, each twin must
settle with every soak invariant (nothing lost silently, nothing twice),
and their states are not compared. What a service chooses itself (write
times, an event's iCalUId, the keys of rows it makes) is never compared:
records compare as sets of their values.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import hypothesis
import hypothesis.strategies as st
from benchmarks.throughput import SEQUENTIAL
from hypothesis import given

import crmsync
from crmsync import Side
from crmsync.http import Connection
from crmsync.testing import DATAVERSE_TOKEN, GRAPH_TOKEN, FakeMicrosoft
from soak import Soak

FAULTS = ("none", "fail", "throttle", "edit_between", "lose")


# What the services choose themselves, and may choose differently when requests come in
# another order: the time a write was stamped, an event's iCalUId, and the keys of rows
# the service makes (a series made by AddRecurrence, a user's rows numbered in order).
_SERVICE_CHOSEN = {"modified", "uid", "key", "series_key"}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in _SERVICE_CHOSEN}
    if isinstance(value, list):
        # Without their keys, records compare as a set: their order was the keys'.
        return sorted((_plain(v) for v in value), key=json.dumps)
    return value


def _dumped(value: Any) -> Any:
    """A dumped value without what the services chose themselves."""
    return _plain(json.loads(crmsync.dumps(value)))


def _concurrent(fake: FakeMicrosoft, waits: list[float]) -> Connection:
    return Connection(
        graph_token=lambda: GRAPH_TOKEN,
        dataverse_url=fake.url,
        dataverse_token=lambda: DATAVERSE_TOKEN,
        graph_url=fake.graph_url,
        sleep=waits.append,
        max_retries=3,
        allow_loopback_http=True,
        batch_size=3,  # small batches and pages: several of each in flight at once
        dataverse_batch_size=4,
    )


def _twin(stack: contextlib.ExitStack, seed: int, rounds: int, actions: int) -> Soak:
    fake = stack.enter_context(FakeMicrosoft(page_size=7))
    soak = Soak(fake, seed=seed, fault_rate=0.0, connection_options=SEQUENTIAL)
    stack.callback(soak.close)
    for _ in range(rounds):
        for _ in range(actions):
            soak.act()
        crm, outlook = soak._read()
        soak._execute(soak._plan(crm, outlook), crm, outlook)
    for _ in range(actions):
        soak.act()
    return soak


def _fault(soak: Soak, kind: str, pick: int, active: list[bool]) -> None:
    """The same fault on each twin, tied to the path of one record the round writes."""
    crm, outlook = soak._read()
    plan = soak._plan(crm, outlook)
    writes = [op for op in plan.ops if op.action.value in ("update", "delete", "link")]
    # Half the examples fault a CRM write, which goes inside a Dataverse $batch.
    wanted = Side.CRM if pick % 2 else Side.OUTLOOK
    writes = [op for op in writes if op.side is wanted] or writes
    if kind == "edit_between":
        soak._edit_between(plan, crm, outlook)
        return
    if kind == "none" or not writes:
        return
    op = writes[pick // 2 % len(writes)]
    target = op.key if op.side is Side.CRM else outlook.ids.get((op.domain, op.key), op.key)

    def match(method: str, path: str) -> bool:
        return active[0] and target in path

    if kind == "fail":
        soak.fake.fail(match, times=10**6, status=500)
    elif kind == "throttle":
        soak.fake.throttle(match, times=2, retry_after="1")
    elif kind == "lose":
        soak.fake.lose(match, times=1)


@hypothesis.settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    rounds=st.integers(1, 3),
    actions=st.integers(3, 10),
    fault=st.sampled_from(FAULTS),
    pick=st.integers(0, 1000),
)
def test_concurrent_batched_execution_has_the_sequential_outcomes_and_baseline(
    seed: int, rounds: int, actions: int, fault: str, pick: int
) -> None:
    check(seed, rounds, actions, fault, pick)


def check(seed: int, rounds: int, actions: int, fault: str, pick: int) -> None:
    """One example: twins, one round each under the fault, then settled."""
    with contextlib.ExitStack() as stack:
        twins = [_twin(stack, seed, rounds, actions) for _ in range(2)]
        # The twins hold the same records: the rest of the test compares like with like.
        reads = [twin._read() for twin in twins]
        assert _dumped(reads[0][0].snapshot) == _dumped(reads[1][0].snapshot)
        assert _dumped(reads[0][1].snapshot) == _dumped(reads[1][1].snapshot)
        sequential, concurrent = twins
        concurrent.connection.close()
        concurrent.connection = _concurrent(concurrent.fake, concurrent.waits)
        actives = [[True], [True]]
        for twin, active in zip(twins, actives, strict=True):
            _fault(twin, fault, pick, active)

        outcomes = []
        for twin in twins:
            crm, outlook = twin._read()
            plan = twin._plan(crm, outlook)
            executed = twin._execute(plan, crm, outlook)
            assert executed is not None
            outcomes.append(
                [(o.op.target, o.done, o.skipped, o.changed_since_read) for o in executed.outcomes]
            )
        if fault != "lose":
            assert outcomes[0] == outcomes[1]
            assert _dumped(sequential.baseline) == _dumped(concurrent.baseline)

        for twin, active in zip(twins, actives, strict=True):
            active[0] = False
            twin.quiet_point()
            assert twin.report.violations == [], twin.report.render()
        if fault == "lose":
            return  # each twin settled with every invariant: nothing lost, nothing twice
        settled = [twin._read() for twin in twins]
        for side in (0, 1):
            assert _dumped(settled[0][side].snapshot) == _dumped(settled[1][side].snapshot)
        assert _dumped(sequential.baseline) == _dumped(concurrent.baseline)
