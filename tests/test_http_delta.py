"""crmsync.http: delta rounds through `Connection.read_outlook` and `read_dataverse`.

Against `crmsync.testing.FakeMicrosoft`: a first full round starts the delta
rounds, later rounds read Graph delta queries and Dataverse change tracking,
and they converge to the baselines full reads give.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

import crmsync
from crmsync.adapters import ReadState
from crmsync.http import Connection
from crmsync.records import Domain
from crmsync.testing import DATAVERSE_TOKEN, GRAPH_TOKEN, FakeMicrosoft

USER = "ann@contoso.com"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)  # the calendar view is around the clock
TRACKED = ["Tracked to Dynamics 365"]


@pytest.fixture
def fake() -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft(page_size=2) as server:
        yield server


def _connection(fake: FakeMicrosoft) -> Connection:
    return Connection(
        graph_token=lambda: GRAPH_TOKEN,
        dataverse_url=fake.url,
        dataverse_token=lambda: DATAVERSE_TOKEN,
        graph_url=fake.graph_url,
        sleep=lambda _: None,
        allow_loopback_http=True,
    )


def _round(
    connection: Connection,
    baseline: crmsync.Baseline | None,
    state: ReadState | None,
) -> tuple[crmsync.Plan, crmsync.Baseline, ReadState]:
    """The docs' service loop: delta reads, plan, execute, the baseline and the next state."""
    crm = connection.read_dataverse(baseline, state=state)
    outlook = connection.read_outlook(baseline, crm=crm.snapshot, state=crm.state)
    plan = crmsync.plan(
        crm.snapshot, outlook.snapshot, crmsync.Settings(), baseline, user=USER, now=NOW
    )
    executed = connection.execute(
        plan,
        crm.snapshot,
        outlook.snapshot,
        graph_ids=outlook.ids,
        baseline=baseline,
        graph_etags=outlook.etags,
        dataverse_etags=crm.etags,
    )
    assert outlook.state is not None
    return plan, executed.baseline(baseline), outlook.state


def _settle(
    connection: Connection, baseline: crmsync.Baseline | None, state: ReadState | None
) -> tuple[crmsync.Baseline, ReadState]:
    for _ in range(4):
        plan, baseline, state = _round(connection, baseline, state)
        if plan.is_empty:
            assert baseline is not None
            assert state is not None
            return baseline, state
    raise AssertionError("no convergence")


def _full(connection: Connection, baseline: crmsync.Baseline) -> crmsync.Baseline:
    """The baseline full reads give: plan from complete snapshots; nothing is left to do."""
    crm = connection.read_dataverse()
    outlook = connection.read_outlook(baseline, crm=crm.snapshot)
    plan = crmsync.plan(
        crm.snapshot, outlook.snapshot, crmsync.Settings(), baseline, user=USER, now=NOW
    )
    assert plan.is_empty, plan.render()
    return baseline


def _names(fake: FakeMicrosoft) -> tuple[list[str], list[str]]:
    graph = sorted(c.get("givenName", "") for c in fake.graph["contacts"].values())
    crm = sorted(c.get("firstname", "") for c in fake.dataverse["contacts"].values())
    return graph, crm


def _seed(fake: FakeMicrosoft) -> None:
    for name in ("Ann", "Ben", "Cy"):
        fake.add("dataverse", "contacts", {"firstname": name, "emailaddress1": f"{name}@x.org"})
    fake.add("graph", "contacts", {"givenName": "Flo", "categories": TRACKED})
    fake.add("graph", "tasks", {"title": "Call Ann", "categories": TRACKED})
    fake.add("dataverse", "tasks", {"subject": "Send offer"})


def test_the_first_round_reads_in_full_and_returns_the_state_delta_rounds_start_from(
    fake: FakeMicrosoft,
) -> None:
    _seed(fake)
    with _connection(fake) as connection:
        crm = connection.read_dataverse()
        outlook = connection.read_outlook(None, crm=crm.snapshot, state=crm.state)
    assert crm.snapshot.complete
    assert outlook.snapshot.complete
    assert outlook.state is not None
    assert set(outlook.state.graph_links) == {"contacts", "events", "tasks"}
    assert "/calendarView/delta" in outlook.state.graph_links["events"]
    assert set(outlook.state.dataverse_links) == {"contacts", "tasks"}
    assert len(outlook.state.dataverse_etags[Domain.CONTACT]) == 3


def test_delta_rounds_with_edits_creates_and_deletes_on_both_sides_converge_as_full_reads(
    fake: FakeMicrosoft,
) -> None:
    """Convergence: delta rounds reach the baseline full reads would, with partial snapshots."""
    _seed(fake)
    with _connection(fake) as connection:
        baseline, state = _settle(connection, None, None)
        ann = next(k for k, c in fake.dataverse["contacts"].items() if c["firstname"] == "Ann")
        ben = next(k for k, c in fake.graph["contacts"].items() if c.get("givenName") == "Ben")
        fake.edit("dataverse", "contacts", ann, jobtitle="Director")
        cy = next(k for k, c in fake.dataverse["contacts"].items() if c["firstname"] == "Cy")
        fake.remove("graph", "contacts", ben)
        fake.remove("dataverse", "contacts", cy)
        fake.add("graph", "contacts", {"givenName": "Gus", "categories": TRACKED})
        fake.add("dataverse", "contacts", {"firstname": "Hal", "emailaddress1": "hal@x.org"})
        fake.add("graph", "tasks", {"title": "Book room", "categories": TRACKED})
        crm = connection.read_dataverse(baseline, state=state)
        assert not crm.snapshot.complete
        assert {c.first_name for c in crm.snapshot.contacts} == {"Ann", "Hal"}
        baseline, state = _settle(connection, baseline, state)
        _full(connection, baseline)
    graph, crm_names = _names(fake)
    assert graph == ["Ann", "Flo", "Gus", "Hal"]
    # An Outlook delete of a contact unlinks it; the CRM keeps the row (Dynamics' rule).
    assert crm_names == ["Ann", "Ben", "Flo", "Gus", "Hal"]
    assert any(c.get("jobTitle") == "Director" for c in fake.graph["contacts"].values())
    tasks = sorted(t["subject"] for t in fake.dataverse["tasks"].values())
    assert tasks == ["Book room", "Call Ann", "Send offer"]


def test_a_removed_item_in_a_delta_round_becomes_a_delete(fake: FakeMicrosoft) -> None:
    _seed(fake)
    with _connection(fake) as connection:
        baseline, state = _settle(connection, None, None)
        flo = next(k for k, c in fake.dataverse["contacts"].items() if c["firstname"] == "Flo")
        fake.remove("dataverse", "contacts", flo)
        crm = connection.read_dataverse(baseline, state=state)
        assert flo in crm.snapshot.removed
        outlook = connection.read_outlook(baseline, crm=crm.snapshot, state=crm.state)
        plan = crmsync.plan(
            crm.snapshot, outlook.snapshot, crmsync.Settings(), baseline, user=USER, now=NOW
        )
    assert [(op.action, op.side, op.key) for op in plan.ops] == [
        (crmsync.Action.DELETE, crmsync.Side.OUTLOOK, flo)
    ]


def test_an_expired_token_falls_back_to_a_full_read(fake: FakeMicrosoft) -> None:
    _seed(fake)
    with _connection(fake) as connection:
        baseline, state = _settle(connection, None, None)
        fake._deltas.clear()  # the fake forgets every token it gave: the next round is a 410
        cy = next(k for k, c in fake.graph["contacts"].items() if c.get("givenName") == "Cy")
        fake.remove("graph", "contacts", cy)
        crm = connection.read_dataverse(baseline, state=state)
        outlook = connection.read_outlook(baseline, crm=crm.snapshot, state=crm.state)
        assert len(crm.snapshot.contacts) == 4  # every row, read in full
        key = next(k for (_, k), graph_id in state.ids.items() if graph_id == cy)
        assert outlook.snapshot.removed == {key}  # gone from the full read: removed
        assert outlook.state is not None
        assert outlook.state.graph_links
        baseline, state = _settle(connection, baseline, outlook.state)
    assert _names(fake) == (["Ann", "Ben", "Flo"], ["Ann", "Ben", "Cy", "Flo"])  # unlinked


def test_the_state_round_trips_through_dumps_and_loads(fake: FakeMicrosoft) -> None:
    """Round trip: loads(dumps(state)) == state, and a loaded state reads the next round."""
    _seed(fake)
    with _connection(fake) as connection:
        baseline, state = _settle(connection, None, None)
        loaded = crmsync.loads(crmsync.dumps(state), ReadState)
        assert loaded == state
        assert loaded.ids == state.ids
        assert loaded.graph_etags
        plan, _, _ = _round(connection, baseline, loaded)
    assert plan.is_empty


def _event(subject: str, days: int) -> dict[str, object]:
    start = (NOW + dt.timedelta(days=days)).replace(tzinfo=None)
    return {
        "subject": subject,
        "categories": TRACKED,
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": (start + dt.timedelta(hours=1)).isoformat(), "timeZone": "UTC"},
    }


def test_events_come_by_calendar_view_delta_with_their_extended_properties_fetched(
    fake: FakeMicrosoft,
) -> None:
    """An Outlook edit and delete come by delta rounds; each delivered event is fetched whole."""
    review = fake.add("graph", "events", _event("Review", 2))
    fake.add("graph", "events", _event("Kickoff", 3))
    with _connection(fake) as connection:
        baseline, state = _settle(connection, None, None)
        assert len(fake.dataverse["appointments"]) == 2
        fake.edit("graph", "events", review, subject="Design review")
        crm = connection.read_dataverse(baseline, state=state)
        before = len(fake.log)
        outlook = connection.read_outlook(baseline, crm=crm.snapshot, state=crm.state)
        events = [path for _, path in fake.log[before:] if "/events" in path]
        assert events == [f"/v1.0/me/events/{review}"]  # one GET for the one changed event
        assert not any(path.endswith("/me/events") for _, path in fake.log[before:])
        assert [a.subject for a in outlook.snapshot.appointments] == ["Design review"]
        # The CRM id Dynamics wrote on the event (an extended property) keys it.
        assert outlook.snapshot.appointments[0].key in fake.dataverse["appointments"]
        baseline, state = _settle(connection, baseline, state)
        kickoff = next(k for k, e in fake.graph["events"].items() if e["subject"] == "Kickoff")
        fake.remove("graph", "events", kickoff)
        baseline, state = _settle(connection, baseline, state)
        _full(connection, baseline)
    # The delete was seen: the pair is gone from the baseline (Outlook deletes unlink).
    assert [a.subject for a in baseline.outlook.appointments] == ["Design review"]
    assert {a["subject"] for a in fake.dataverse["appointments"].values()} >= {"Design review"}


def test_a_domain_in_full_is_read_in_full_in_a_delta_round(fake: FakeMicrosoft) -> None:
    """Pending and held work: `full=` reads those domains whole, the rest by delta."""
    _seed(fake)
    with _connection(fake) as connection:
        baseline, state = _settle(connection, None, None)
        crm = connection.read_dataverse(baseline, state=state, full={Domain.CONTACT})
        outlook = connection.read_outlook(
            baseline, crm=crm.snapshot, state=crm.state, full={Domain.CONTACT}
        )
    assert not crm.snapshot.complete
    assert len(crm.snapshot.contacts) == 4
    assert len(outlook.snapshot.contacts) == 4
    assert outlook.snapshot.tasks == ()  # unchanged: not delivered


def test_a_round_that_changed_more_than_max_delta_fetches_is_read_in_full(
    fake: FakeMicrosoft,
) -> None:
    """Bounded requests: at most max_delta_fetches GETs of single items per collection."""
    _seed(fake)
    with _connection(fake) as connection:
        baseline, state = _settle(connection, None, None)
        for key in list(fake.graph["contacts"])[:2]:
            fake.edit("graph", "contacts", key, jobTitle="Changed")
        connection.max_delta_fetches = 1
        before = len(fake.log)
        outlook = connection.read_outlook(baseline, state=state)
    contacts = [path for _, path in fake.log[before:] if "/me/contacts" in path]
    assert contacts[-1] == "/v1.0/me/contacts"  # the full read, not two single GETs
    assert not any(path.startswith("/v1.0/me/contacts/AAM") for path in contacts)
    assert len(outlook.snapshot.contacts) == 4


def test_a_table_that_refuses_change_tracking_is_read_in_full_every_round(
    fake: FakeMicrosoft,
) -> None:
    _seed(fake)
    refused = {"error": {"code": "0x80040203", "message": "Change tracking is not enabled"}}
    fake.answer(
        lambda method, path: path.endswith("/api/data/v9.2/tasks"), status=400, body=refused
    )
    with _connection(fake) as connection:
        crm = connection.read_dataverse()
    assert crm.state is not None
    assert crm.state.dataverse_links["tasks"] == ""
    assert crm.state.dataverse_links["contacts"]
    assert [t.subject for t in crm.snapshot.tasks] == ["Send offer"]
