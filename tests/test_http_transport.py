"""Tests for crmsync.http's transport guarantees, against hostile and faulty answers.

The services are `crmsync.testing` on 127.0.0.1; its `answer`, `reset` and
`rewrite_batch` controls send what Microsoft's documentation says a client may
meet (429 with odd `Retry-After` values, 5xx, resets, lost responses) and what a
broken proxy or a hostile server may send (HTML pages, foreign nextLinks, loops,
malformed `$batch` answers, bad new ids). Every loop is bounded by a rule count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import crmsync
import crmsync.http
from crmsync import Domain, Settings
from crmsync.adapters.graph import TRACKED_CATEGORY
from crmsync.errors import CrmsyncError, SettingsError
from crmsync.http import Connection, Executed
from crmsync.testing import API, FakeMicrosoft, organizer_party
from support import fake_connection

USER = "ann@contoso.com"
NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
SETTINGS = Settings()


@pytest.fixture
def fake() -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft(page_size=2) as server:
        yield server


@pytest.fixture
def other() -> Iterator[FakeMicrosoft]:
    """A second server on another port: a foreign origin that must never get a token."""
    with FakeMicrosoft() as server:
        yield server


_OPEN: list[Connection] = []


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _connection(fake: FakeMicrosoft, sleeps: list[float], **options: Any) -> Connection:
    connection = fake_connection(fake, sleeps.append, **options)
    _OPEN.append(connection)
    return connection


def _appointment_with_a_file(fake: FakeMicrosoft) -> str:
    """A CRM appointment the user organizes, with one small file: its key."""
    key = fake.add(
        "dataverse",
        "appointments",
        {
            "subject": "Review",
            "scheduledstart": "2026-11-26T09:00:00Z",
            "scheduledend": "2026-11-26T10:00:00Z",
            "appointment_activity_parties": [organizer_party(USER)],
        },
    )
    fake.add(
        "dataverse",
        "activitymimeattachments",
        {
            "filename": "a.txt",
            "mimetype": "text/plain",
            "objecttypecode": "appointment",
            "body": "aGk=",
            "objectid_appointment@odata.bind": f"/appointments({key})",
        },
    )
    return key


def _contacts(fake: FakeMicrosoft, count: int) -> None:
    for i in range(count):
        fake.add("dataverse", "contacts", {"firstname": f"P{i}", "emailaddress1": f"p{i}@x.org"})


def _execute(connection: Connection) -> Executed:
    """Reads both sides, plans without a baseline and executes the plan."""
    outlook, crm = connection.read_outlook(), connection.read_crm()
    plan = crmsync.plan(crm, outlook.snapshot, SETTINGS, None, user=USER, now=NOW)
    return connection.execute(plan, crm, outlook.snapshot, graph_ids=outlook.ids)


def _on(method: str, path: str) -> Any:
    return lambda m, p: (m, p) == (method, path)


CONTACTS = f"{API}/contacts"


# -- reads fail loudly -------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (200, {"Content-Type": "text/html"}, b"<html><body>Proxy sign-in</body></html>"),
        (200, {"Content-Type": "application/json"}, b'{"value": [{"contactid": "1"'),
        (204, {}, b""),
        (200, {}, {"value": "everything"}),
        (200, {}, {"items": []}),
        (200, {}, ["not", "a", "page"]),
    ],
    ids=["html", "truncated", "empty-204", "value-not-a-list", "no-value", "a-list"],
)
def test_a_2xx_read_that_is_not_the_documented_json_shape_raises_never_reads_as_empty(
    fake: FakeMicrosoft, status: int, headers: dict[str, str], body: Any
) -> None:
    _contacts(fake, 1)
    fake.answer(_on("GET", CONTACTS), status=status, headers=headers, body=body)

    with pytest.raises(httpx.HTTPError) as raised:
        _connection(fake, []).read_crm()

    assert isinstance(raised.value, CrmsyncError)


def test_a_next_link_to_another_port_is_refused_and_gets_no_token(
    fake: FakeMicrosoft, other: FakeMicrosoft
) -> None:
    foreign = {"value": [], "@odata.nextLink": f"{other.url}{CONTACTS}?$skiptoken=2"}
    fake.answer(_on("GET", CONTACTS), body=foreign)

    with pytest.raises(httpx.HTTPError, match="origin"):
        _connection(fake, []).read_crm()

    assert other.log == []


@pytest.mark.parametrize("scheme", ["https", "ftp"])
def test_a_next_link_on_another_scheme_is_refused(fake: FakeMicrosoft, scheme: str) -> None:
    link = fake.url.replace("http", scheme, 1) + f"{CONTACTS}?$skiptoken=2"
    fake.answer(_on("GET", CONTACTS), body={"value": [], "@odata.nextLink": link})

    with pytest.raises(httpx.HTTPError, match="origin"):
        _connection(fake, []).read_crm()


def test_the_graph_token_never_goes_to_the_dataverse_root(fake: FakeMicrosoft) -> None:
    """Both fake services share one origin: a Graph nextLink must stay under the Graph root."""
    link = f"{fake.url}{CONTACTS}"
    fake.answer(_on("GET", "/v1.0/me/contacts"), body={"value": [], "@odata.nextLink": link})

    with pytest.raises(httpx.HTTPError, match="origin"):
        _connection(fake, []).read_outlook()

    assert ("GET", CONTACTS) not in fake.log


def test_a_next_link_seen_twice_stops_the_read(fake: FakeMicrosoft) -> None:
    itself = {"value": [], "@odata.nextLink": f"{fake.url}{CONTACTS}?$skiptoken=0"}
    fake.answer(lambda m, p: (m, p) == ("GET", CONTACTS), times=20, body=itself)

    with pytest.raises(httpx.HTTPError, match="twice"):
        _connection(fake, []).read_crm()

    assert fake.log.count(("GET", CONTACTS)) == 2


def test_a_read_stops_after_max_pages(fake: FakeMicrosoft) -> None:
    _contacts(fake, 7)  # four pages of two

    with pytest.raises(httpx.HTTPError, match="max_pages"):
        _connection(fake, [], max_pages=3).read_crm()


def test_an_answer_over_max_response_bytes_fails_the_read(fake: FakeMicrosoft) -> None:
    for _ in range(3):  # a contact's description holds at most 2000 characters
        fake.add("dataverse", "contacts", {"firstname": "Ann", "description": "x" * 2000})

    with pytest.raises(httpx.HTTPError, match="max_response_bytes"):
        _connection(fake, [], max_response_bytes=4000).read_crm()


def test_plain_http_is_refused_unless_the_caller_opts_in_for_a_loopback_root() -> None:
    def connection(url: str, **options: Any) -> Connection:
        made = Connection(
            graph_token=lambda: "t",
            dataverse_url=url,
            dataverse_token=lambda: "t",
            **options,
        )
        _OPEN.append(made)
        return made

    with pytest.raises(SettingsError, match="allow_loopback_http"):
        connection("http://127.0.0.1:8080")
    with pytest.raises(SettingsError, match="https"):
        connection("http://contoso.crm.dynamics.com", allow_loopback_http=True)
    connection("http://127.0.0.1:8080", allow_loopback_http=True)
    connection("https://contoso.crm.dynamics.com")


def test_an_attachment_of_an_appointment_made_between_two_collection_reads_waits_a_round(
    fake: FakeMicrosoft,
) -> None:
    """Found by the soak: the collections are read one after another, so an appointment
    made with a file after the appointments were read has its file in the attachments
    read. That file is left for the next read, which sees both; it never fails the read
    (nor every later one, when the row is one the fake let a file outlive)."""
    appointment = fake.add(
        "dataverse",
        "appointments",
        {"subject": "Review", "scheduledstart": "2026-12-01T09:00:00Z"}
        | {"scheduledend": "2026-12-01T10:00:00Z"},
    )
    fake.add(
        "dataverse",
        "activitymimeattachments",
        {"filename": "a.txt", "mimetype": "text/plain", "objecttypecode": "appointment"}
        | {"body": "aGk="}
        | {"objectid_appointment@odata.bind": f"/appointments({appointment})"},
    )
    # The appointments read came before the appointment was made.
    fake.answer(lambda m, p: (m, p) == ("GET", f"{API}/appointments"), body={"value": []})
    connection = _connection(fake, [])

    assert connection.read_crm().appointments == ()
    [read] = connection.read_crm().appointments
    assert [a.name for a in read.attachments] == ["a.txt"]


# -- idempotent reads are retried --------------------------------------------------


def test_a_read_is_retried_after_connection_resets(fake: FakeMicrosoft) -> None:
    _contacts(fake, 1)
    fake.reset(_on("GET", CONTACTS), times=2)
    sleeps: list[float] = []

    snapshot = _connection(fake, sleeps).read_crm()

    assert len(snapshot.contacts) == 1
    assert sleeps == [1.0, 2.0]


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_read_is_retried_after_a_5xx(fake: FakeMicrosoft, status: int) -> None:
    _contacts(fake, 1)
    fake.fail(_on("GET", CONTACTS), status=status)

    assert len(_connection(fake, []).read_crm().contacts) == 1


def test_a_read_gives_up_after_max_retries(fake: FakeMicrosoft) -> None:
    fake.reset(_on("GET", CONTACTS), times=10)
    sleeps: list[float] = []

    with pytest.raises(httpx.HTTPError):
        _connection(fake, sleeps, max_retries=2).read_crm()

    assert len(sleeps) == 2


def test_a_write_whose_response_was_lost_is_not_sent_again_and_execute_returns(
    fake: FakeMicrosoft,
) -> None:
    fake.add("graph", "tasks", {"title": "Call back", "categories": [TRACKED_CATEGORY]})
    fake.reset(_on("POST", f"{API}/tasks"), commit=True)

    executed = _execute(_connection(fake, []))

    [missed] = executed.not_done
    assert (missed.service, missed.method, missed.status) == ("dataverse", "POST", None)
    assert fake.log.count(("POST", f"{API}/tasks")) == 1
    assert len(fake.dataverse["tasks"]) == 1  # it did take effect: the next round sees it


def test_a_batch_whose_response_was_lost_fails_its_ops_and_execute_returns(
    fake: FakeMicrosoft,
) -> None:
    _contacts(fake, 3)
    fake.reset(_on("POST", "/v1.0/$batch"), commit=True)

    executed = _execute(_connection(fake, []))

    assert len(executed.not_done) == 3
    assert {o.status for o in executed.not_done} == {None}
    assert executed.baseline(None).outlook.contacts == ()


# -- Retry-After, strictly ------------------------------------------------------


@pytest.mark.parametrize(
    "retry_after",
    ["1000000000", "Tue, 01 Jan 2999 00:00:00 GMT", "9" * 5000],
    ids=["10^9", "year-2999", "5000-digits"],
)
def test_an_absurd_retry_after_is_not_waited_and_the_op_says_why(
    fake: FakeMicrosoft, retry_after: str
) -> None:
    fake.add("graph", "tasks", {"title": "Call back", "categories": [TRACKED_CATEGORY]})
    fake.throttle(_on("POST", f"{API}/tasks"), retry_after=retry_after)
    sleeps: list[float] = []

    executed = _execute(_connection(fake, sleeps))

    assert sleeps == []
    [missed] = executed.not_done
    assert missed.status == 429
    assert "max_wait" in missed.error
    assert fake.dataverse["tasks"] == {}


@pytest.mark.parametrize("retry_after", ["²", "1e23", "-5", "3.5", " ", "soon"])
def test_a_retry_after_that_is_neither_digits_nor_a_date_is_backoff(
    fake: FakeMicrosoft, retry_after: str
) -> None:
    fake.add("graph", "tasks", {"title": "Call back", "categories": [TRACKED_CATEGORY]})
    fake.throttle(_on("POST", f"{API}/tasks"), retry_after=retry_after)
    sleeps: list[float] = []

    executed = _execute(_connection(fake, sleeps))

    assert executed.complete
    assert sleeps == [1.0]


def test_an_absurd_retry_after_on_a_read_fails_the_read_and_says_why(fake: FakeMicrosoft) -> None:
    fake.throttle(_on("GET", CONTACTS), retry_after="1000000000")
    sleeps: list[float] = []

    with pytest.raises(httpx.HTTPError, match="max_wait"):
        _connection(fake, sleeps).read_crm()

    assert sleeps == []


def test_waits_are_capped_by_max_wait_and_the_wait_budget(fake: FakeMicrosoft) -> None:
    fake.add("graph", "tasks", {"title": "Call back", "categories": [TRACKED_CATEGORY]})
    fake.throttle(_on("POST", f"{API}/tasks"), times=5, retry_after="50")
    sleeps: list[float] = []

    executed = _execute(_connection(fake, sleeps, max_wait=60, wait_budget=120))

    assert sleeps == [50.0, 50.0]  # a third wait would pass the budget
    [missed] = executed.not_done
    assert "wait_budget" in missed.error


def test_a_throttled_batch_request_past_max_wait_is_not_done(fake: FakeMicrosoft) -> None:
    _contacts(fake, 3)
    fake.throttle(_on("POST", "/v1.0/me/contacts"), retry_after="100000")
    sleeps: list[float] = []

    executed = _execute(_connection(fake, sleeps))

    assert sleeps == []
    [missed] = executed.not_done
    assert (missed.status, missed.code) == (429, "TooManyRequests")
    assert "max_wait" in missed.error
    assert len(executed.done) == 2


# -- execute always returns -------------------------------------------------------


def _twice(responses: list[dict[str, Any]]) -> Any:
    return {"responses": responses + responses}


def _status(value: Any) -> Any:
    return lambda responses: {"responses": [r | {"status": value} for r in responses]}


def _string_error(responses: list[dict[str, Any]]) -> Any:
    return {"responses": [r | {"status": 500, "body": "boom"} for r in responses]}


def _list_headers(responses: list[dict[str, Any]]) -> Any:
    throttled = {"status": 429, "headers": ["Retry-After", "1"], "body": {}}
    return {"responses": [r | throttled for r in responses]}


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda responses: {"responses": "all fine"},
        lambda responses: {"responses": {"1": {"status": 201}}},
        lambda responses: "done",
        lambda responses: {"responses": [None, 1, "x", *responses[1:]]},
        _twice,
        _status("201"),
        _status(True),
        _status(2010),
        _status(None),
        _string_error,
        _list_headers,
        lambda responses: {"responses": [r | {"id": int(r["id"])} for r in responses]},
    ],
    ids=[
        "responses-a-string",
        "responses-an-object",
        "answer-a-string",
        "junk-entries",
        "ids-twice",
        "status-a-string",
        "status-a-bool",
        "status-out-of-range",
        "status-null",
        "string-error-body",
        "list-headers",
        "ids-as-numbers",
    ],
)
def test_a_malformed_batch_answer_fails_its_ops_and_the_rest_is_done(
    fake: FakeMicrosoft, rewrite: Any
) -> None:
    _contacts(fake, 3)  # three Outlook creates: one $batch
    fake.add("graph", "tasks", {"title": "Call back", "categories": [TRACKED_CATEGORY]})
    fake.rewrite_batch = rewrite

    executed = _execute(_connection(fake, [], max_retries=1))

    contacts = [o for o in executed.outcomes if o.op.domain is Domain.CONTACT]
    assert len(contacts) == 3
    failed = [o for o in contacts if not o.done]
    assert failed, "a malformed answer must not count as done"
    for outcome in failed:
        assert outcome.service == "graph"
        assert outcome.method == "POST"
        assert outcome.url.endswith("/me/contacts")
        assert outcome.error
    [task] = [o for o in executed.outcomes if o.op.domain is Domain.TASK]
    assert task.done  # the CRM create and its link-back ran outside the batch
    baseline = executed.baseline(None)
    assert [t.key for t in baseline.crm.tasks] == [task.new_key]
    assert len(baseline.outlook.contacts) == 3 - len(failed)


def test_a_refused_batch_gives_each_of_its_requests_the_batch_s_status_and_code(
    fake: FakeMicrosoft,
) -> None:
    _contacts(fake, 3)
    fake.fail(_on("POST", "/v1.0/$batch"), status=401)

    executed = _execute(_connection(fake, []))

    assert len(executed.failed) == 3
    for outcome in executed.failed:
        assert (outcome.status, outcome.code) == (401, "Failed")
        assert outcome.url.endswith("/me/contacts")
        assert "$batch was refused: fake 401" in outcome.error


@pytest.mark.parametrize(
    "body",
    [
        b"<html>502 Bad Gateway</html>",
        b'{"responses": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
        b'{"responses": [{"id": "1", "status": 201, "body": ' + b"[" * 100_000,
    ],
    ids=["html", "deeply-nested", "truncated"],
)
def test_a_batch_answer_that_is_not_json_fails_its_ops(fake: FakeMicrosoft, body: bytes) -> None:
    _contacts(fake, 3)
    fake.answer(_on("POST", "/v1.0/$batch"), body=body)

    executed = _execute(_connection(fake, []))

    assert len(executed.not_done) == 3
    assert executed.baseline(None).outlook.contacts == ()


@pytest.mark.parametrize(
    "entity",
    ["x()", "../../accounts(1)", "{url}/api/data/v9.2/tasks(not-a-guid)", "tasks()"],
)
def test_a_create_answered_with_a_bad_odata_entityid_is_not_done(
    fake: FakeMicrosoft, entity: str
) -> None:
    fake.add("graph", "tasks", {"title": "Call back", "categories": [TRACKED_CATEGORY]})
    headers = {"OData-EntityId": entity.format(url=fake.url)}
    fake.answer(_on("POST", f"{API}/tasks"), status=204, headers=headers)

    executed = _execute(_connection(fake, []))

    [missed] = executed.not_done
    assert missed.new_key is None
    # The create chose its row's id, so an answer without the row is read back by that id
    # (the answer's OData-EntityId is never a key): the row is not there, the op not done.
    assert (missed.service, missed.method, missed.status) == ("dataverse", "GET", 404)
    baseline = executed.baseline(None)  # never raises for what a server answered
    assert baseline.crm.tasks == baseline.outlook.tasks == ()
    [task] = fake.graph["tasks"].values()
    assert "linkedResources" not in task  # nothing was written under a bad id


DEEP = b'{"activityid": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize("new_id", ["../../accounts(1)", "", 42, None, {"id": 1}, DEEP])
def test_a_create_answered_with_a_new_id_that_is_not_a_guid_is_not_done(
    fake: FakeMicrosoft, new_id: Any
) -> None:
    fake.add("graph", "tasks", {"title": "Call back", "categories": [TRACKED_CATEGORY]})
    body = new_id if isinstance(new_id, bytes) else {"activityid": new_id}
    fake.answer(_on("POST", f"{API}/tasks"), status=201, body=body)

    executed = _execute(_connection(fake, []))

    [missed] = executed.not_done
    assert missed.new_key is None
    assert executed.baseline(None).crm.tasks == ()


@pytest.mark.parametrize("new_id", ["..", "a/../../me", "", 7])
def test_a_graph_create_answered_with_an_id_that_is_not_a_graph_id_stops_its_dependants(
    fake: FakeMicrosoft, new_id: Any
) -> None:
    """An appointment's attachment is posted under the new event's id: never under `..`."""
    _appointment_with_a_file(fake)
    fake.answer(_on("POST", "/v1.0/me/events"), status=201, body={"id": new_id})
    connection = _connection(fake, [])
    outlook, crm = connection.read_outlook(), connection.read_crm()
    plan = crmsync.plan(
        crm, outlook.snapshot, Settings(sync_appointment_attachments=True), None, user=USER, now=NOW
    )

    executed = connection.execute(plan, crm, outlook.snapshot, graph_ids=outlook.ids)

    [attachment] = [o for o in executed.outcomes if o.op.domain is Domain.ATTACHMENT]
    assert not attachment.done
    assert "no valid id" in attachment.error
    assert not any(m == "POST" and "attachments" in p for m, p in fake.log)


def test_execute_returns_even_when_reading_an_answer_meets_a_bug(
    fake: FakeMicrosoft, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last line of defence: an answer no test foresaw fails its requests, not the run."""
    fake.add("graph", "tasks", {"title": "Call back", "categories": [TRACKED_CATEGORY]})
    connection = _connection(fake, [])
    outlook, crm = connection.read_outlook(), connection.read_crm()
    plan = crmsync.plan(crm, outlook.snapshot, SETTINGS, None, user=USER, now=NOW)

    def broken(response: httpx.Response) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(crmsync.http, "_json", broken)
    executed = connection.execute(plan, crm, outlook.snapshot, graph_ids=outlook.ids)

    [missed] = executed.not_done
    assert "could not use the answer (RuntimeError)" in missed.error
    assert executed.baseline(None).crm.tasks == ()


@pytest.mark.parametrize("item_id", ["..", "."])
def test_an_item_id_that_is_a_dot_segment_is_never_written_to(
    fake: FakeMicrosoft, item_id: str
) -> None:
    """A read that names an item `..` would PATCH its parent once the URL is normalized."""
    fake.add(
        "graph",
        "contacts",
        {"givenName": "Bob", "emailAddresses": [{"address": "b@x.org"}]}
        | {"categories": [TRACKED_CATEGORY]},
    )
    [contact] = fake.graph["contacts"].values()
    contact["id"] = item_id
    fake.graph["contacts"] = {item_id: contact}

    executed = _execute(_connection(fake, []))

    [missed] = executed.not_done
    assert "dot segment" in missed.error
    assert not [(m, p) for m, p in fake.log if m == "PATCH"]


# -- structured outcomes -----------------------------------------------------------


def test_an_outcome_carries_service_method_url_status_and_microsoft_s_error(
    fake: FakeMicrosoft,
) -> None:
    fake.add("graph", "tasks", {"title": "Call back", "categories": [TRACKED_CATEGORY]})
    fake.fail(_on("POST", f"{API}/tasks"), status=401)

    executed = _execute(_connection(fake, []))

    [missed] = executed.failed
    assert (missed.service, missed.method, missed.status) == ("dataverse", "POST", 401)
    assert missed.url == f"{fake.url}{API}/tasks"
    assert (missed.code, missed.message) == ("Failed", "fake 401")
    assert missed.error == f"POST {fake.url}{API}/tasks: 401 Failed: fake 401"
    assert not missed.skipped


def test_executed_tells_done_failed_and_skipped_ops_apart(fake: FakeMicrosoft) -> None:
    _appointment_with_a_file(fake)
    _contacts(fake, 1)
    fake.fail(_on("POST", "/v1.0/me/events"), status=500)
    connection = _connection(fake, [])
    outlook, crm = connection.read_outlook(), connection.read_crm()
    plan = crmsync.plan(
        crm, outlook.snapshot, Settings(sync_appointment_attachments=True), None, user=USER, now=NOW
    )

    executed = connection.execute(plan, crm, outlook.snapshot, graph_ids=outlook.ids)

    assert [o.op.domain for o in executed.failed] == [Domain.APPOINTMENT]
    [skipped] = executed.skipped
    assert skipped.op.domain is Domain.ATTACHMENT
    assert "which failed" in skipped.error
    assert [op.domain for op in executed.done] == [Domain.CONTACT]
    assert set(executed.not_done) == {*executed.failed, *executed.skipped}
