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

import pytest

import crmsync
import crmsync.testing
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
