"""crmsync.testing: the fake Graph and Dataverse an application tests its service loop against.

The fake is imported from the installed package, as an application imports it;
tests/test_http*.py check the executor against it request by request.
"""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import crmsync
import crmsync.testing
from crmsync.adapters import read_graph
from crmsync.http import Connection
from crmsync.testing import (
    DATAVERSE_TOKEN,
    GRAPH_TOKEN,
    FakeMicrosoft,
    NotRunning,
    SeedRefused,
)

ROOT = Path(__file__).resolve().parents[1]
USER = "ann@contoso.com"


@pytest.fixture
def fake() -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft(page_size=2) as server:
        yield server


def _connection(fake: FakeMicrosoft, sleeps: list[float]) -> Connection:
    return Connection(
        graph_token=lambda: GRAPH_TOKEN,
        dataverse_url=fake.url,
        dataverse_token=lambda: DATAVERSE_TOKEN,
        graph_url=fake.graph_url,
        sleep=sleeps.append,
        allow_loopback_http=True,
    )


def _round(
    connection: Connection, baseline: crmsync.Baseline | None
) -> tuple[crmsync.Plan, crmsync.Baseline]:
    """An application's service round: read, plan, execute, the baseline to keep."""
    crm = connection.read_dataverse()
    outlook = connection.read_outlook(baseline, crm=crm.snapshot)
    plan = crmsync.plan(
        crm.snapshot,
        outlook.snapshot,
        crmsync.Settings(),
        baseline,
        user=USER,
        now=dt.datetime.now(dt.UTC),
    )
    executed = connection.execute(
        plan,
        crm.snapshot,
        outlook.snapshot,
        graph_ids=outlook.ids,
        graph_etags=outlook.etags,
        dataverse_etags=crm.etags,
    )
    return plan, executed.baseline(baseline)


def _seed(fake: FakeMicrosoft) -> None:
    for name in ("Ann", "Ben", "Cy", "Dee", "Eve"):
        fake.add("dataverse", "contacts", {"firstname": name, "emailaddress1": f"{name}@x.org"})
    fake.add("graph", "contacts", {"givenName": "Flo", "categories": ["Tracked to Dynamics 365"]})
    fake.add("graph", "tasks", {"title": "Call Ann", "categories": ["Tracked to Dynamics 365"]})


def test_the_fake_is_imported_from_the_installed_package_not_from_tests() -> None:
    assert Path(crmsync.testing.__file__).resolve().parent == Path(crmsync.__file__).parent
    assert not (ROOT / "tests" / "fake_microsoft.py").exists()


def test_all_is_sorted_and_names_exactly_the_public_names() -> None:
    module = crmsync.testing
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    }
    assert module.__all__ == sorted(module.__all__, key=lambda n: (not n.isupper(), n))  # isort
    assert public <= set(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)


def test_the_fake_needs_only_the_standard_library_and_crmsync() -> None:
    code = (
        "import sys, crmsync.testing; "
        "print(*(m in sys.modules for m in ('httpx', 'pytest', 'hypothesis')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False", "False"]


def test_the_fake_is_not_imported_by_the_package() -> None:
    code = "import sys, crmsync; print('crmsync.testing' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False"]


def test_a_service_loop_converges_and_the_next_round_is_empty(fake: FakeMicrosoft) -> None:
    """Convergence: rounds until the plan is empty; both sides hold every record once."""
    _seed(fake)
    with _connection(fake, []) as connection:
        first, baseline = _round(connection, None)
        again, _ = _round(connection, baseline)
    assert not first.is_empty
    assert again.is_empty
    names = sorted(c["givenName"] for c in fake.graph["contacts"].values())
    assert names == ["Ann", "Ben", "Cy", "Dee", "Eve", "Flo"]
    assert sorted(c["firstname"] for c in fake.dataverse["contacts"].values()) == names
    assert [t["subject"] for t in fake.dataverse["tasks"].values()] == ["Call Ann"]


def test_a_service_loop_converges_through_throttling_faults_and_chaos(
    fake: FakeMicrosoft,
) -> None:
    """Convergence under faults: every round does what it can, the next picks up the rest."""
    _seed(fake)
    fake.throttle(lambda method, path: method == "POST", times=3, retry_after="0")
    fake.fail(lambda method, path: path.endswith("/contacts") and method == "POST", status=500)
    fake.chaos, fake.chaos_rate = random.Random(26), 0.2  # noqa: S311 - a seeded fault schedule
    sleeps: list[float] = []
    baseline = None
    with _connection(fake, sleeps) as connection:
        for _ in range(12):
            try:
                plan, baseline = _round(connection, baseline)
            except crmsync.http.ServiceError:
                continue  # a read that gave up: the application tries the next round
            if plan.is_empty:
                break
        fake.chaos = None
        last, _ = _round(connection, baseline)
    assert last.is_empty
    assert sum(fake.faults.values()) > 0
    assert sleeps  # the 429s were waited for, by the Retry-After they carried
    names = sorted(c["givenName"] for c in fake.graph["contacts"].values())
    assert names == ["Ann", "Ben", "Cy", "Dee", "Eve", "Flo"]


def test_a_user_edit_between_read_and_write_is_refused_with_412(fake: FakeMicrosoft) -> None:
    """Etags: an If-Match with the etag of the read no longer admits an edited item."""
    key = fake.add("graph", "contacts", {"givenName": "Ann"})
    etag = fake.graph["contacts"][key]["@odata.etag"]
    fake.edit("graph", "contacts", key, givenName="Annie")
    status, _, body = fake.handle(
        "PATCH",
        f"/v1.0/me/contacts/{key}",
        {"Authorization": f"Bearer {GRAPH_TOKEN}", "If-Match": etag},
        {"givenName": "Ann B."},
    )
    assert status == 412
    assert body["error"]["code"] == "ErrorIrresolvableConflict"
    assert fake.graph["contacts"][key]["givenName"] == "Annie"


def test_a_seed_the_service_would_refuse_raises_seed_refused(fake: FakeMicrosoft) -> None:
    event = {
        "subject": "Off",
        "isAllDay": True,
        "start": {"dateTime": "2026-12-08T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-09T00:00:00", "timeZone": "UTC"},
    }
    with pytest.raises(SeedRefused, match="400"):
        fake.add("graph", "events", event)
    assert isinstance(SeedRefused("x"), crmsync.CrmsyncError)


def test_the_url_outside_the_with_block_raises_not_running() -> None:
    with pytest.raises(NotRunning):
        _ = FakeMicrosoft().url
    assert issubclass(NotRunning, crmsync.CrmsyncError)


# -- delta rounds ----------------------------------------------------------------------


def _read_round(client: httpx.Client, url: str, **headers: str) -> tuple[list[Any], str, int]:
    """Every entry of a delta round, following `@odata.nextLink`; its deltaLink; its pages."""
    entries: list[Any] = []
    pages = 0
    while True:
        answer = client.get(url, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages += 1
        entries += page["value"]
        if "@odata.nextLink" not in page:
            return entries, page["@odata.deltaLink"], pages
        url = page["@odata.nextLink"]


@pytest.fixture
def graph(fake: FakeMicrosoft) -> Iterator[httpx.Client]:
    with httpx.Client(headers={"Authorization": f"Bearer {GRAPH_TOKEN}"}) as client:
        yield client


@pytest.fixture
def dataverse(fake: FakeMicrosoft) -> Iterator[httpx.Client]:
    with httpx.Client(headers={"Authorization": f"Bearer {DATAVERSE_TOKEN}"}) as client:
        yield client


def test_contacts_delta_lists_everything_then_only_changes_and_removals(
    fake: FakeMicrosoft, graph: httpx.Client
) -> None:
    """Graph delta query: a first round in pages ending with a deltaLink, then the changes."""
    ann, ben, cy = (fake.add("graph", "contacts", {"givenName": n}) for n in ("Ann", "Ben", "Cy"))
    first, link, pages = _read_round(graph, f"{fake.graph_url}/me/contacts/delta")
    assert [e["id"] for e in first] == [ann, ben, cy]
    assert pages == 2  # page_size 2: the nextLink, then the deltaLink
    assert "$deltatoken=" in link

    fake.edit("graph", "contacts", ben, givenName="Benjamin")
    delete = graph.delete(f"{fake.graph_url}/me/contacts/{ann}")
    assert delete.status_code == 204
    dee = fake.add("graph", "contacts", {"givenName": "Dee"})
    second, link, _ = _read_round(graph, link)
    assert [(e["id"], e.get("givenName")) for e in second if "@removed" not in e] == [
        (ben, "Benjamin"),
        (dee, "Dee"),
    ]
    assert [e for e in second if "@removed" in e] == [
        {"@odata.type": "#microsoft.graph.contact", "id": ann, "@removed": {"reason": "deleted"}}
    ]
    third, _, _ = _read_round(graph, link)
    assert third == []


def test_a_folder_contacts_delta_and_an_unknown_token(
    fake: FakeMicrosoft, graph: httpx.Client
) -> None:
    fake.add("graph", "contacts", {"givenName": "Ann"})
    entries, _, _ = _read_round(graph, f"{fake.graph_url}/me/contactFolders/F1/contacts/delta")
    assert [e["givenName"] for e in entries] == ["Ann"]
    gone = graph.get(f"{fake.graph_url}/me/contacts/delta?$deltatoken=nope")
    assert gone.status_code == 410


def _event(subject: str, day: int) -> dict[str, Any]:
    return {
        "subject": subject,
        "start": {"dateTime": f"2026-12-{day:02d}T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"2026-12-{day:02d}T10:00:00", "timeZone": "UTC"},
    }


def test_calendar_view_delta_needs_a_window_and_keeps_it_in_its_links(
    fake: FakeMicrosoft, graph: httpx.Client
) -> None:
    inside = fake.add("graph", "events", _event("Inside", 8))
    fake.add("graph", "events", _event("Outside", 28))
    view = f"{fake.graph_url}/me/calendarView/delta"
    assert graph.get(view).status_code == 400
    window = "startDateTime=2026-12-01T00:00:00Z&endDateTime=2026-12-15T00:00:00Z"
    first, link, _ = _read_round(graph, f"{view}?{window}")
    assert [e["subject"] for e in first] == ["Inside"]
    fake.edit("graph", "events", inside, subject="Moved")
    fake.add("graph", "events", _event("Later", 29))
    second, _, _ = _read_round(graph, link)
    assert [e["subject"] for e in second] == ["Moved"]


def test_todo_tasks_delta_reports_a_deleted_task(fake: FakeMicrosoft, graph: httpx.Client) -> None:
    task = fake.add("graph", "tasks", {"title": "Call Ann"})
    tasks = f"{fake.graph_url}/me/todo/lists/{fake.todo_list}/tasks"
    _, link, _ = _read_round(graph, f"{tasks}/delta")
    assert graph.delete(f"{tasks}/{task}").status_code == 204
    second, _, _ = _read_round(graph, link)
    assert second == [
        {"@odata.type": "#microsoft.graph.todoTask", "id": task, "@removed": {"reason": "deleted"}}
    ]


def test_dataverse_change_tracking_gives_changes_and_deleted_entities(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    """Dataverse change tracking: `Prefer: odata.track-changes`, then the deltaLink."""
    ann = fake.add("dataverse", "contacts", {"firstname": "Ann"})
    ben = fake.add("dataverse", "contacts", {"firstname": "Ben"})
    contacts = f"{fake.url}/api/data/v9.2/contacts"
    answer = dataverse.get(contacts, headers={"Prefer": "odata.track-changes"})
    assert answer.headers["Preference-Applied"] == "odata.track-changes"
    assert answer.json()["@odata.context"].endswith("/$metadata#contacts/$delta")
    _, link, _ = _read_round(dataverse, contacts, Prefer="odata.track-changes")
    for _ in range(3):
        fake.add("dataverse", "contacts", {"firstname": "Cy"})
    paged, link, pages = _read_round(dataverse, link)  # nextLinks followed without Prefer
    assert [e["firstname"] for e in paged] == ["Cy"] * 3
    assert pages == 2
    fake.edit("dataverse", "contacts", ann, firstname="Annie")
    assert dataverse.delete(f"{contacts}({ben})").status_code == 204
    second, _, _ = _read_round(dataverse, link)
    assert [e.get("firstname") for e in second if "reason" not in e] == ["Annie"]
    assert [e for e in second if "reason" in e] == [
        {
            "@odata.context": f"{fake.url}/api/data/v9.2/$metadata#contacts/$deletedEntity",
            "id": ben,
            "reason": "deleted",
        }
    ]


def test_delta_rounds_read_by_crmsync_adapters_give_a_partial_snapshot(
    fake: FakeMicrosoft, graph: httpx.Client
) -> None:
    """The fake's delta pages are what `read_graph(partial=True)` reads."""
    ann = fake.add("graph", "contacts", {"givenName": "Ann", "emailAddresses": []})
    ben = fake.add("graph", "contacts", {"givenName": "Ben", "emailAddresses": []})
    _, link, _ = _read_round(graph, f"{fake.graph_url}/me/contacts/delta")
    fake.edit("graph", "contacts", ann, givenName="Annie")
    assert graph.delete(f"{fake.graph_url}/me/contacts/{ben}").status_code == 204
    entries, _, _ = _read_round(graph, link)
    read = read_graph({"contacts": {"value": entries}}, partial=True)
    assert not read.snapshot.complete
    assert [c.first_name for c in read.snapshot.contacts] == ["Annie"]
    assert len(read.snapshot.removed) == 1
