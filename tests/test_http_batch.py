"""Dataverse `$batch`, change sets and pacing in crmsync.http, against crmsync.testing.

The fake serves the multipart `$batch` as "Execute batch operations using the
Web API" documents it (change sets roll back whole) and enforces the service
protection limits Microsoft documents when given `Limits`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from benchmarks.throughput import scaled_connection

import crmsync
from crmsync import Baseline, Plan, Settings
from crmsync.adapters.graph import TRACKED_CATEGORY
from crmsync.adapters.requests import Request
from crmsync.errors import SettingsError
from crmsync.http import Connection, Executed
from crmsync.testing import API, DATAVERSE_TOKEN, GRAPH_TOKEN, FakeMicrosoft, Limits
from support import fake_connection

USER = "ann@contoso.com"
NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
SETTINGS = Settings()
BATCH = ("POST", f"{API}/$batch")


@pytest.fixture
def fake() -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft() as server:
        yield server


@pytest.fixture
def connection(fake: FakeMicrosoft) -> Iterator[Connection]:
    with fake_connection(fake) as made:
        yield made


def _round(connection: Connection, baseline: Baseline | None) -> tuple[Plan, Executed, Baseline]:
    crm = connection.read_dataverse()
    outlook = connection.read_outlook(baseline, crm=crm.snapshot)
    plan = crmsync.plan(crm.snapshot, outlook.snapshot, SETTINGS, baseline, user=USER, now=NOW)
    executed = connection.execute(
        plan,
        crm.snapshot,
        outlook.snapshot,
        graph_ids=outlook.ids,
        graph_etags=outlook.etags,
        dataverse_etags=crm.etags,
    )
    return plan, executed, executed.baseline(baseline)


def _settles(connection: Connection, baseline: Baseline | None) -> Baseline:
    """A round that does all it plans and overwrites nothing, then a round with nothing to do."""
    plan, executed, baseline = _round(connection, baseline)
    assert executed.complete, [(o.url, o.message) for o in executed.not_done]
    assert not [n for n in plan.notices if n.code == "conflict_resolved"], plan.render()
    again, _, baseline = _round(connection, baseline)
    assert again.is_empty, again.render()
    return baseline


def _completed_todo(fake: FakeMicrosoft) -> str:
    return fake.add(
        "graph",
        "tasks",
        {"title": "Send the deck", "status": "completed", "categories": [TRACKED_CATEGORY]},
    )


def _contacts(fake: FakeMicrosoft, count: int) -> None:
    for n in range(count):
        fake.add(
            "graph",
            "contacts",
            {
                "givenName": f"Ann{n}",
                "surname": "Lee",
                "emailAddresses": [{"address": f"ann{n}@x.org"}],
                "categories": [TRACKED_CATEGORY],
            },
        )


def test_dataverse_requests_ready_together_go_in_batches_of_the_configured_size(
    fake: FakeMicrosoft,
) -> None:
    _contacts(fake, 5)
    with fake_connection(fake, dataverse_batch_size=2) as connection:
        _, executed, baseline = _round(connection, None)
        assert executed.complete, [(o.url, o.message) for o in executed.not_done]
        assert fake.log.count(BATCH) == 2  # 2 + 2 creates; the fifth goes alone
        assert fake.log.count(("POST", f"{API}/contacts")) == 5
        assert len(fake.dataverse["contacts"]) == 5
        assert {o.new_key for o in executed.outcomes} == set(fake.dataverse["contacts"])
        again, _, _ = _round(connection, baseline)
        assert again.is_empty, again.render()


def test_a_batch_size_of_one_sends_every_dataverse_request_alone(fake: FakeMicrosoft) -> None:
    _contacts(fake, 3)
    with fake_connection(fake, dataverse_batch_size=1) as connection:
        _, executed, _ = _round(connection, None)
    assert executed.complete
    assert BATCH not in fake.log
    assert fake.log.count(("POST", f"{API}/contacts")) == 3


def test_a_closed_activity_created_in_the_crm_takes_effect_whole_when_its_answer_is_lost(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """Created open and then closed in one change set: the lost answer cannot leave it open,
    so the next round pairs two completed tasks and reopens nothing in To Do."""
    todo = _completed_todo(fake)
    fake.lose(lambda method, path: (method, path) == ("POST", f"{API}/tasks"))

    _, executed, baseline = _round(connection, None)

    assert not executed.complete
    [row] = fake.dataverse["tasks"].values()
    assert (row["statecode"], row["statuscode"]) == (1, 5)  # the create and its close, both
    _settles(connection, baseline)
    assert fake.graph["tasks"][todo]["status"] == "completed"
    assert len(fake.dataverse["tasks"]) == 1


def test_a_change_set_that_fails_leaves_none_of_it_done(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    _completed_todo(fake)
    fake.fail(lambda method, path: method == "PATCH" and path.startswith(f"{API}/tasks("))

    _, executed, baseline = _round(connection, None)

    [outcome] = executed.not_done
    assert (outcome.method, outcome.status) == ("POST", 500)  # the set failed as one
    assert fake.dataverse["tasks"] == {}  # the create was rolled back with the close
    _settles(connection, baseline)
    [row] = fake.dataverse["tasks"].values()
    assert (row["statecode"], row["statuscode"]) == (1, 5)


def test_a_closed_crm_row_is_reopened_written_and_closed_in_one_change_set(
    fake: FakeMicrosoft, connection: Connection
) -> None:
    """The close failing rolls back the reopen and the write: the row is never left open."""
    key = fake.add("dataverse", "tasks", {"subject": "Call back"})
    fake.edit("dataverse", "tasks", key, statecode=1, statuscode=5, percentcomplete=100)
    _, executed, baseline = _round(connection, None)
    assert executed.complete
    [todo] = fake.graph["tasks"].values()
    todo["title"] = "Call back about the quote"
    patches = [0]

    def the_close(method: str, path: str) -> bool:
        if method == "PATCH" and path == f"{API}/tasks({key})":
            patches[0] += 1
            return patches[0] == 3  # reopen, write, close
        return False

    fake.fail(the_close)

    _, executed, baseline = _round(connection, baseline)

    assert not executed.complete
    row = fake.dataverse["tasks"][key]
    assert (row["subject"], row["statecode"], row["statuscode"]) == ("Call back", 1, 5)
    _settles(connection, baseline)
    row = fake.dataverse["tasks"][key]
    assert (row["subject"], row["statecode"]) == ("Call back about the quote", 1)


def _first_part_twice(answer: bytes) -> bytes:
    boundary = re.search(rb"--(batchresponse_[0-9a-f-]+)", answer)
    assert boundary is not None
    marker = b"--" + boundary.group(1)
    parts = answer.split(marker)
    return marker.join([parts[0], parts[1], *parts[1:]])


def _last_part_dropped(answer: bytes) -> bytes:
    boundary = re.search(rb"--(batchresponse_[0-9a-f-]+)", answer)
    assert boundary is not None
    marker = b"--" + boundary.group(1)
    parts = answer.split(marker)
    return marker.join([*parts[:-2], parts[-1]])


def _first_part_twice_and_the_last_dropped(answer: bytes) -> bytes:
    """As many parts as requests, but each after the first answers its neighbour."""
    return _last_part_dropped(_first_part_twice(answer))


def _shifted_without_entity_ids(answer: bytes) -> bytes:
    """The shifted parts again, with only the returned rows to tell whose they are."""
    shifted = _first_part_twice_and_the_last_dropped(answer)
    return re.sub(rb"(OData-EntityId|Location): [^\r\n]*\r?\n", b"", shifted)


HOSTILE: dict[str, Callable[[bytes], bytes]] = {
    "a part twice, the last missing": _first_part_twice_and_the_last_dropped,
    "shifted, rows only": _shifted_without_entity_ids,
    "truncated": lambda answer: answer[: len(answer) // 2],
    "empty": lambda answer: b"",
    "a part twice": _first_part_twice,
    "a part missing": _last_part_dropped,
    "a bad status line": lambda answer: answer.replace(b"HTTP/1.1 20", b"HTTP/1.1 2O", 1),
    "a part of another type": lambda answer: answer.replace(
        b"Content-Type: application/http", b"Content-Type: text/html", 1
    ),
    "html": lambda answer: b"<html><body>Service Unavailable</body></html>",
}


@pytest.mark.parametrize("rewrite", sorted(HOSTILE))
def test_a_batch_answer_crmsync_cannot_trust_counts_nothing_done_and_the_next_round_heals(
    fake: FakeMicrosoft, connection: Connection, rewrite: str
) -> None:
    _contacts(fake, 3)
    fake.rewrite_dataverse_batch = HOSTILE[rewrite]

    _, executed, baseline = _round(connection, None)

    assert executed.done == ()
    assert all(o.service == "dataverse" and o.error for o in executed.not_done)
    fake.rewrite_dataverse_batch = None
    _settles(connection, baseline)
    assert len(fake.dataverse["contacts"]) == 3  # made once, whatever was answered
    assert len(fake.graph["contacts"]) == 3
    crm = connection.read_crm()
    outlook = connection.read_outlook(baseline, crm=crm).snapshot
    assert set(outlook.by_key["contacts"]) == set(crm.by_key["contacts"])  # paired


@pytest.mark.parametrize("paced", [True, False])
def test_graph_requests_are_paced_within_the_mailbox_rate_and_never_throttled(
    paced: bool,
) -> None:
    """Outlook allows a number of requests per window per mailbox (10,000 per 10 minutes);
    crmsync starts no more, so the limit never answers 429. Unpaced, it does."""
    scale = 0.002  # a 600 s window lasts 1.2 s
    limits = Limits(graph_requests=10, graph_window=600.0, scale=scale)
    with FakeMicrosoft(limits=limits) as fake:
        for n in range(25):
            fake.add("dataverse", "contacts", {"lastname": f"Lee{n}", "emailaddress1": f"{n}@x"})
        rate = (10, 600.0) if paced else None
        with scaled_connection(
            fake, scale, batch_size=5, graph_rate=rate, max_retries=0
        ) as connection:
            crm = connection.read_dataverse()
            outlook = connection.read_outlook(None, crm=crm.snapshot)
            plan = crmsync.plan(crm.snapshot, outlook.snapshot, SETTINGS, None, user=USER, now=NOW)
            executed = connection.execute(plan, crm.snapshot, outlook.snapshot)
    if paced:
        assert executed.complete, [o.message for o in executed.not_done]
        assert fake.stats["graph"].limited == 0
        assert len(fake.graph["contacts"]) == 25
    else:
        assert fake.stats["graph"].limited > 0
        assert not executed.complete


def test_no_more_requests_are_in_flight_than_each_services_concurrency(
    fake: FakeMicrosoft,
) -> None:
    _contacts(fake, 12)
    for n in range(12):
        fake.add("dataverse", "contacts", {"lastname": f"Kim{n}", "emailaddress1": f"k{n}@x.org"})
    fake.latency = 0.05  # requests overlap
    with fake_connection(
        fake, batch_size=2, dataverse_batch_size=2, dataverse_concurrency=2
    ) as connection:
        _, executed, _ = _round(connection, None)
    assert executed.complete, [(o.url, o.message) for o in executed.not_done]
    # Graph runs a batch's requests two at a time here: two batches of two fill the mailbox.
    assert fake.stats["graph"].peak_concurrency == 4
    assert fake.stats["dataverse"].peak_concurrency == 2


def test_one_unordered_graph_batch_at_a_time_keeps_outlooks_mailbox_concurrency() -> None:
    """Graph sends Outlook four requests of an unordered $batch at a time, the mailbox's
    four concurrent requests: a second batch in flight would be throttled (the fake, like
    Outlook, answers 429 MailboxConcurrency)."""
    with FakeMicrosoft(limits=Limits(), latency=0.02) as fake:
        for n in range(60):
            fake.add("dataverse", "contacts", {"lastname": f"Lee{n}", "emailaddress1": f"{n}@x"})
        with fake_connection(fake, max_retries=0) as connection:
            _, executed, _ = _round(connection, None)
        assert executed.complete, [o.message for o in executed.not_done]
        assert fake.stats["graph"].limited == 0
        assert fake.stats["graph"].peak_concurrency == 4


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"graph_concurrency": 0}, "graph_concurrency"),
        ({"dataverse_concurrency": -1}, "dataverse_concurrency"),
        ({"batch_size": 21}, "batch_size"),
        ({"dataverse_batch_size": 1001}, "dataverse_batch_size"),
        ({"dataverse_batch_size": 0}, "dataverse_batch_size"),
        ({"graph_rate": (0, 600.0)}, "graph_rate"),
        ({"dataverse_rate": (6000, 0.0)}, "dataverse_rate"),
        ({"graph_rate": (10, 600.0)}, "graph_rate"),  # fewer than one batch of 20
    ],
)
def test_a_knob_outside_microsofts_limits_or_its_own_sense_is_refused(
    options: dict[str, Any], path: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Connection(
            graph_token=lambda: GRAPH_TOKEN,
            dataverse_url="https://contoso.crm.dynamics.com",
            dataverse_token=lambda: DATAVERSE_TOKEN,
            **options,
        )
    assert [p.path for p in refused.value.problems] == [(path,)]


def test_dataverse_ratelimit_headers_narrow_the_pool_before_a_429() -> None:
    """The fake sends Dataverse's x-ms-ratelimit-* headers as the window fills: crmsync
    reads them on every answer and goes one request at a time while they say little is left."""
    limits = Limits(dataverse_requests=20, dataverse_window=300.0, scale=0.01)
    with FakeMicrosoft(limits=limits) as fake:
        _contacts(fake, 12)
        with fake_connection(fake, dataverse_batch_size=1, dataverse_rate=None) as connection:
            _, executed, _ = _round(connection, None)
            narrowed = connection._paces["dataverse"].narrowed  # white box: the wiring
    assert executed.complete, [o.message for o in executed.not_done]
    assert narrowed >= 1
    assert fake.stats["dataverse"].limited == 0


def test_a_rounds_dataverse_requests_are_spread_over_the_pool(fake: FakeMicrosoft) -> None:
    """Dataverse runs a batch's requests one after another: 40 creates go as four batches of
    ten, one per slot, not one batch of 40 while three slots wait."""
    _contacts(fake, 40)
    with fake_connection(fake) as connection:
        _, executed, _ = _round(connection, None)
    assert executed.complete
    assert fake.log.count(BATCH) == 4
    assert fake.log.count(("POST", f"{API}/contacts")) == 40


def test_a_batch_closes_at_its_size_in_bytes_as_well_as_in_requests(fake: FakeMicrosoft) -> None:
    """Attachments travel base64 in their rows: a batch holds about 16 MiB of bodies."""
    big = {"body": "A" * (6 * 1024 * 1024)}
    prepared = [
        (Request("dataverse", "POST", f"{API}/activitymimeattachments", big, id=f"r{n}"), "", big)
        for n in range(5)
    ]
    with fake_connection(fake, dataverse_concurrency=1) as connection:
        batches = connection._dataverse_batches(prepared)  # white box: the packing
    assert [sum(len(unit) for unit in batch) for batch in batches] == [2, 2, 1]
