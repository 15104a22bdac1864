"""crmsync.testing: the fake Dataverse `$batch`, Microsoft's limits and simulated latency.

Everything goes over real HTTP with httpx, not through crmsync.http: the fake is
the independent party the executor is tested against. The batch bodies follow
the examples of "Execute batch operations using the Web API" (MicrosoftDocs/
powerapps-docs) line for line: the same headers, boundaries and request lines,
on the tables the fake serves. Answers are read with the standard library's
MIME parser, not with the fake's own code.
"""

from __future__ import annotations

import copy
import email
import random
import re
import threading
import time
from collections.abc import Iterator
from email.message import Message
from typing import Any

import httpx
import pytest

from crmsync.testing import API, DATAVERSE_TOKEN, GRAPH_TOKEN, FakeMicrosoft, Limits

BATCH = "batch_80dd1615-2a10-428a-bb6f-0e559792721f"
CHANGESET = "changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a"
CONTINUE = {"Prefer": "odata.continue-on-error"}
TOO_LONG = "Subject is too long " + "x" * 200  # a task's subject holds at most 200


@pytest.fixture
def fake() -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft() as server:
        yield server


@pytest.fixture
def dataverse(fake: FakeMicrosoft) -> Iterator[httpx.Client]:
    with httpx.Client(headers={"Authorization": f"Bearer {DATAVERSE_TOKEN}"}) as client:
        yield client


def _request(
    method: str, url: str, body: str = "", *, inner: dict[str, str] | None = None, **mime: str
) -> str:
    """An `application/http` part holding one request (headers `inner`), as the doc writes it."""
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in mime.items()]
    request = [f"{method} {url} HTTP/1.1"]
    if body:
        request.append("Content-Type: application/json; type=entry")
    request += [f"{name}: {value}" for name, value in (inner or {}).items()]
    return "\r\n".join([*lines, "", *request, "", body])


def _change_set(*parts: str, boundary: str = CHANGESET) -> str:
    inner = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    return f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n{inner}'


def _batch(*parts: str, boundary: str = BATCH) -> bytes:
    return ("".join(f"--{boundary}\r\n{p}\r\n" for p in parts) + f"--{boundary}--\r\n").encode()


def _send(client: httpx.Client, fake: FakeMicrosoft, body: bytes, **headers: str) -> httpx.Response:
    kind = {"Content-Type": f'multipart/mixed; boundary="{BATCH}"', "OData-Version": "4.0"}
    return client.post(f"{fake.url}{API}/$batch", content=body, headers=kind | headers)


def _task(subject: str) -> str:
    return f'{{\r\n  "subject": "{subject}"\r\n}}'


Part = tuple[str | None, int, dict[str, str], str]


def _parts(answer: httpx.Response) -> list[Part]:
    """Each response in a batch answer, change sets flattened: Content-ID, status, headers, body."""
    kind = answer.headers["content-type"]
    assert re.fullmatch(r"multipart/mixed; boundary=batchresponse_[0-9a-f-]{36}", kind)
    message = email.message_from_bytes(f"Content-Type: {kind}\r\n\r\n".encode() + answer.content)
    assert message.is_multipart()
    assert not message.defects
    out: list[Part] = []
    for part in message.walk():
        if part.get_content_type() == "application/http":
            out.append(_response(part))
    return out


def _response(part: Message) -> Part:
    text = str(part.get_payload()).replace("\r\n", "\n")
    head, _, body = text.partition("\n\n")
    status_line, *lines = head.split("\n")
    version, status, _reason = status_line.split(" ", 2)
    assert version == "HTTP/1.1"
    headers = {n.strip().lower(): v.strip() for n, _, v in (line.partition(":") for line in lines)}
    return part.get("Content-ID"), int(status), headers, body.strip()


# -- the documentation's examples ------------------------------------------------------------


def test_a_batch_without_change_sets_answers_each_request_in_order(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    """ "These operations will be performed sequentially in the order they're specified.\""""
    body = _batch(
        *(_request("POST", f"{API}/tasks", _task(f"Task {n} in batch")) for n in (1, 2, 3)),
        _request("GET", f"{API}/tasks?$select=subject") + "\r\n",
    )
    answer = _send(dataverse, fake, body)
    assert answer.status_code == 200
    assert answer.headers["OData-Version"] == "4.0"
    parts = _parts(answer)
    assert [status for _, status, _, _ in parts] == [204, 204, 204, 200]
    made = [headers["odata-entityid"] for _, _, headers, _ in parts[:3]]
    assert [headers["location"] for _, _, headers, _ in parts[:3]] == made
    assert made == [f"{fake.url}{API}/tasks({key})" for key in fake.dataverse["tasks"]]
    assert parts[3][2]["content-type"] == "application/json; odata.metadata=minimal"
    assert '"subject":"Task 3 in batch"' in parts[3][3]
    assert fake.log[-4:] == [("POST", f"{API}/tasks")] * 3 + [("GET", f"{API}/tasks")]


def _shape(text: str, fake: FakeMicrosoft) -> str:
    guid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    return re.sub(guid, "GUID", text.replace(fake.url, "[Organization Uri]"))


def test_a_change_set_answer_has_the_shape_of_the_documentation_example(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    """The change set example's response, byte for byte once GUIDs are blanked."""
    creates = (
        _request("POST", f"{API}/tasks", _task(f"Task {n} in batch"), Content_ID=str(n))
        for n in (1, 2, 3)
    )
    answer = _send(dataverse, fake, _batch(_change_set(*creates)))
    assert answer.status_code == 200
    part = (
        "--changesetresponse_GUID\r\n"
        "Content-Type: application/http\r\n"
        "Content-Transfer-Encoding: binary\r\n"
        "Content-ID: {n}\r\n"
        "\r\n"
        "HTTP/1.1 204 No Content\r\n"
        "OData-Version: 4.0\r\n"
        "Location: [Organization Uri]/api/data/v9.2/tasks(GUID)\r\n"
        "OData-EntityId: [Organization Uri]/api/data/v9.2/tasks(GUID)\r\n"
        "\r\n"
        "\r\n"
    )
    expected = (
        "--batchresponse_GUID\r\n"
        "Content-Type: multipart/mixed; boundary=changesetresponse_GUID\r\n"
        "\r\n" + "".join(part.format(n=n) for n in (1, 2, 3)) + "--changesetresponse_GUID--\r\n"
        "--batchresponse_GUID--\r\n"
    )
    assert _shape(answer.text, fake) == expected
    assert [cid for cid, _, _, _ in _parts(answer)] == ["1", "2", "3"]


def test_without_continue_on_error_the_batch_answers_with_the_first_failure(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    """ "Handling errors": the batch fails on the first failing request, which is its answer."""
    body = _batch(*(_request("POST", f"{API}/tasks", _task(s)) for s in (TOO_LONG, "2", "3")))
    answer = _send(dataverse, fake, body)
    assert answer.status_code == 400
    [(_, status, headers, error)] = _parts(answer)
    assert status == 400
    assert headers["content-type"] == "application/json; odata.metadata=minimal"
    assert "maximum allowed length of '200'" in error
    assert fake.dataverse["tasks"] == {}  # "more requests won't be processed"


def test_with_continue_on_error_every_response_is_in_the_body(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    body = _batch(*(_request("POST", f"{API}/tasks", _task(s)) for s in (TOO_LONG, "2", "3")))
    answer = _send(dataverse, fake, body, **CONTINUE)
    assert answer.status_code == 200
    assert [status for _, status, _, _ in _parts(answer)] == [400, 204, 204]
    assert sorted(t["subject"] for t in fake.dataverse["tasks"].values()) == ["2", "3"]


# -- change sets ------------------------------------------------------------------------------


def _track(dataverse: httpx.Client, fake: FakeMicrosoft) -> str:
    """A change-tracking round of contacts read to its end: its deltaLink."""
    url = f"{fake.url}{API}/contacts"
    answer = dataverse.get(url, headers={"Prefer": "odata.track-changes"})
    return str(answer.json()["@odata.deltaLink"])


@pytest.mark.parametrize("go_on", [False, True])
def test_a_change_set_that_fails_rolls_back_every_write_it_made(
    fake: FakeMicrosoft, dataverse: httpx.Client, go_on: bool
) -> None:
    """ "If any one of the operations fails, any completed operations will be rolled back.\""""
    ann = fake.add("dataverse", "contacts", {"firstname": "Ann"})
    link = _track(dataverse, fake)
    before = copy.deepcopy(fake.dataverse)
    change_set = _change_set(
        _request("POST", f"{API}/contacts", '{"firstname": "Ben"}', Content_ID="1"),
        _request("PATCH", f"{API}/contacts({ann})", '{"firstname": "Annie"}', Content_ID="2"),
        _request("DELETE", f"{API}/contacts({ann})", Content_ID="3"),
        _request("POST", f"{API}/contacts", '{"firstname": "' + "x" * 51 + '"}', Content_ID="4"),
    )
    after = _request("POST", f"{API}/contacts", '{"firstname": "Cy"}')
    answer = _send(dataverse, fake, _batch(change_set, after), **(CONTINUE if go_on else {}))

    parts = _parts(answer)
    assert parts[0][:2] == (None, 400)  # one error response for the whole change set
    if go_on:
        assert answer.status_code == 200
        assert [status for _, status, _, _ in parts] == [400, 204]
        assert [c["firstname"] for c in fake.dataverse["contacts"].values()] == ["Ann", "Cy"]
    else:
        assert answer.status_code == 400
        assert len(parts) == 1
        assert fake.dataverse == before  # rows, values and etags as they were
        changes = dataverse.get(link).json()["value"]
        assert changes == []  # nothing created, changed or deleted for change tracking


def test_a_change_set_that_succeeds_commits_every_write(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    ann = fake.add("dataverse", "contacts", {"firstname": "Ann"})
    change_set = _change_set(
        _request("POST", f"{API}/contacts", '{"firstname": "Ben"}', Content_ID="1"),
        _request("PATCH", f"{API}/contacts({ann})", '{"firstname": "Annie"}', Content_ID="2"),
    )
    answer = _send(dataverse, fake, _batch(change_set))
    assert [(cid, status) for cid, status, _, _ in _parts(answer)] == [("1", 204), ("2", 204)]
    assert sorted(c["firstname"] for c in fake.dataverse["contacts"].values()) == ["Annie", "Ben"]


def test_content_id_references_name_what_an_earlier_request_of_the_change_set_created(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    """ "Reference URIs in an operation": `$1` in a URL and in an `@odata.bind`."""
    file = (
        '{"subject": "notes.txt", "filename": "notes.txt", "body": "aGk=",'
        ' "objecttypecode": "appointment", "objectid_appointment@odata.bind": "$1"}'
    )
    change_set = _change_set(
        _request("POST", f"{fake.url}{API}/appointments", '{"subject": "Lunch"}', Content_ID="1"),
        _request("POST", f"{API}/activitymimeattachments", file, Content_ID="2"),
        _request("PATCH", "$1", '{"subject": "Late lunch"}', Content_ID="3"),
    )
    answer = _send(dataverse, fake, _batch(change_set))
    assert [status for _, status, _, _ in _parts(answer)] == [204, 204, 204]
    [(key, appointment)] = fake.dataverse["appointments"].items()
    assert appointment["subject"] == "Late lunch"
    [attachment] = fake.dataverse["activitymimeattachments"].values()
    assert attachment["_objectid_value"] == key
    assert fake.log[-1] == ("PATCH", f"{API}/appointments({key})")


def test_a_reference_to_a_content_id_not_declared_before_is_400(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    change_set = _change_set(
        _request("PATCH", "$1", '{"firstname": "Ann"}', Content_ID="2"),
        _request("POST", f"{API}/contacts", '{"firstname": "Ben"}', Content_ID="1"),
    )
    answer = _send(dataverse, fake, _batch(change_set))
    assert answer.status_code == 400
    assert "'$1' does not exist in the batch context" in answer.json()["error"]["message"]
    assert fake.dataverse["contacts"] == {}


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (_batch(_change_set(_request("GET", f"{API}/contacts"))), "GET"),
        (_batch(*[_request("POST", f"{API}/tasks", _task("t"))] * 1001), "at most 1000"),
        (_batch(_request("POST", f"{API}/$batch", "{}")), "other batch"),
        (_batch(_change_set(_change_set(_request("POST", f"{API}/tasks", _task("t"))))), "nested"),
        (_batch(_request("POST", f"{API}/tasks", _task("t")))[:-20], "does not end"),
    ],
    ids=["get-in-change-set", "1001-requests", "batch-in-batch", "nested-change-set", "truncated"],
)
def test_a_batch_the_documentation_does_not_allow_is_400_and_changes_nothing(
    fake: FakeMicrosoft, dataverse: httpx.Client, body: bytes, why: str
) -> None:
    answer = _send(dataverse, fake, body)
    assert answer.status_code == 400
    assert why in answer.json()["error"]["message"]
    assert fake.dataverse["tasks"] == {}


def test_a_batch_of_1000_requests_is_carried_out(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    answer = _send(dataverse, fake, _batch(*[_request("POST", f"{API}/tasks", _task("t"))] * 1000))
    assert answer.status_code == 200
    assert len(fake.dataverse["tasks"]) == 1000


def test_lf_line_endings_and_an_unquoted_boundary_are_read_too(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    body = _batch(_request("POST", f"{API}/tasks", _task("t"))).replace(b"\r\n", b"\n")
    kind = f"multipart/mixed;boundary={BATCH}"
    answer = dataverse.post(f"{fake.url}{API}/$batch", content=body, headers={"Content-Type": kind})
    assert answer.status_code == 200
    assert len(fake.dataverse["tasks"]) == 1


# -- the single requests' behaviour, inside a batch ----------------------------------------


def test_requests_in_a_batch_behave_as_they_do_alone(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    """Chosen keys, 412s on If-Match and on an existing key, `return=representation`."""
    ann = fake.add("dataverse", "contacts", {"firstname": "Ann"})
    body = _batch(
        _request("POST", f"{API}/contacts", f'{{"contactid": "{ann}"}}'),
        _request(
            "PATCH", f"{API}/contacts({ann})", '{"firstname": "A"}', inner={"If-Match": 'W/"1"'}
        ),
        _request(
            "POST",
            f"{API}/contacts",
            '{"firstname": "Ben"}',
            inner={"Prefer": "return=representation"},
        ),
        _request("DELETE", f"{API}/contacts(nope)"),
    )
    answer = _send(dataverse, fake, body, **CONTINUE)
    parts = _parts(answer)
    assert [status for _, status, _, _ in parts] == [412, 412, 201, 404]
    assert '"0x80040237"' in parts[0][3]
    assert '"0x80060882"' in parts[1][3]
    assert '"firstname":"Ben"' in parts[2][3]
    assert parts[2][2]["etag"].startswith('W/"')
    assert fake.dataverse["contacts"][ann]["firstname"] == "Ann"


# -- faults inside a batch ------------------------------------------------------------------


def test_a_throttled_request_gets_its_429_as_its_own_response(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    fake.throttle(lambda method, path: path.endswith("/contacts"), retry_after="7")
    body = _batch(
        _request("POST", f"{API}/tasks", _task("t")),
        _request("POST", f"{API}/contacts", '{"firstname": "Ann"}'),
    )
    parts = _parts(_send(dataverse, fake, body, **CONTINUE))
    assert [status for _, status, _, _ in parts] == [204, 429]
    assert parts[1][2]["retry-after"] == "7"
    assert fake.stats["dataverse"].injected == 1
    assert fake.stats["dataverse"].limited == 0


def test_a_throttled_member_fails_its_change_set(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    fake.throttle(lambda method, path: path.endswith("/contacts"))
    change_set = _change_set(
        _request("POST", f"{API}/tasks", _task("t"), Content_ID="1"),
        _request("POST", f"{API}/contacts", '{"firstname": "Ann"}', Content_ID="2"),
    )
    answer = _send(dataverse, fake, _batch(change_set))
    assert answer.status_code == 429
    assert [status for _, status, _, _ in _parts(answer)] == [429]
    assert fake.dataverse["tasks"] == {}


def test_a_lost_write_commits_and_loses_the_whole_batch_answer(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    fake.lose(lambda method, path: method == "POST" and path.endswith("/contacts"))
    body = _batch(
        _request("POST", f"{API}/tasks", _task("t")),
        _request("POST", f"{API}/contacts", '{"firstname": "Ann"}'),
    )
    with pytest.raises(httpx.TransportError):
        _send(dataverse, fake, body)
    assert len(fake.dataverse["tasks"]) == len(fake.dataverse["contacts"]) == 1


def test_faults_apply_to_the_batch_request_itself(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    fake.throttle(lambda method, path: path.endswith("$batch"))
    fake.reset(lambda method, path: path.endswith("$batch"), commit=True)
    body = _batch(_request("POST", f"{API}/tasks", _task("t")))
    assert _send(dataverse, fake, body).status_code == 429
    assert fake.dataverse["tasks"] == {}
    with pytest.raises(httpx.TransportError):
        _send(dataverse, fake, body)
    assert len(fake.dataverse["tasks"]) == 1


def test_chaos_reaches_the_requests_inside_a_batch(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    fake.chaos, fake.chaos_rate = random.Random(7), 0.5  # noqa: S311 - a seeded test
    body = _batch(*[_request("POST", f"{API}/tasks", _task("t"))] * 40)
    answers = []
    for _ in range(8):
        try:
            answers.append(_send(dataverse, fake, body, **CONTINUE))
        except httpx.TransportError:  # chaos reset the batch's connection
            continue
    statuses = [status for a in answers if a.status_code == 200 for _, status, _, _ in _parts(a)]
    assert {429, 503} <= set(statuses)  # faults inside the batches that went through
    assert statuses.count(204) == len(fake.dataverse["tasks"])
    assert fake.stats["dataverse"].injected == statuses.count(429) + sum(
        a.status_code == 429 for a in answers
    )


def test_rewrite_dataverse_batch_changes_the_answer_bytes(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    fake.rewrite_dataverse_batch = lambda blob: blob.replace(b"HTTP/1.1 204", b"garbage 204")[:-9]
    answer = _send(dataverse, fake, _batch(_request("POST", f"{API}/tasks", _task("t"))))
    assert answer.status_code == 200
    assert b"garbage 204" in answer.content
    assert not answer.content.endswith(b"--\r\n")


# -- Microsoft's limits -------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_graph_counts_each_operation_in_a_sliding_window_and_answers_retry_after() -> None:
    """Outlook: N requests per window per mailbox; each request of a `$batch` counts."""
    clock = Clock()
    limits = Limits(graph_requests=3, graph_window=600, scale=0.01)  # a 6 s window
    with FakeMicrosoft(limits=limits, clock=clock) as fake, httpx.Client() as client:
        headers = {"Authorization": f"Bearer {GRAPH_TOKEN}"}
        assert client.get(f"{fake.graph_url}/me/contacts", headers=headers).status_code == 200
        clock.now += 1.5  # 150 of Microsoft's seconds
        requests = [{"id": str(n), "method": "GET", "url": "/me/contacts"} for n in range(3)]
        batch = client.post(
            f"{fake.graph_url}/$batch", json={"requests": requests}, headers=headers
        )
        statuses = sorted(r["status"] for r in batch.json()["responses"])
        assert statuses == [200, 200, 429]
        refused = client.get(f"{fake.graph_url}/me/contacts", headers=headers)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "450"  # the first leaves at 600, unscaled
        assert refused.json()["error"]["code"] == "ApplicationThrottled"
        clock.now += 4.5  # the first request has left the window
        assert client.get(f"{fake.graph_url}/me/contacts", headers=headers).status_code == 200
        stats = fake.stats["graph"]
        assert (stats.requests, stats.operations, stats.limited, stats.injected) == (4, 6, 2, 0)


def test_dataverse_counts_http_requests_a_batch_once_and_the_headers_count_down() -> None:
    with FakeMicrosoft(limits=Limits(dataverse_requests=3)) as fake, httpx.Client() as client:
        client.headers["Authorization"] = f"Bearer {DATAVERSE_TOKEN}"
        url = f"{fake.url}{API}/contacts"
        remaining = [client.get(url).headers["x-ms-ratelimit-burst-remaining-xrm-requests"]]
        body = _batch(*[_request("POST", f"{API}/tasks", _task("t"))] * 5)
        answer = _send(client, fake, body)
        assert answer.status_code == 200
        remaining.append(answer.headers["x-ms-ratelimit-burst-remaining-xrm-requests"])
        remaining.append(client.get(url).headers["x-ms-ratelimit-burst-remaining-xrm-requests"])
        assert remaining == ["2", "1", "0"]
        refused = client.get(url)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "0x80072322"
        assert 299 <= int(refused.headers["Retry-After"]) <= 300
        stats = fake.stats["dataverse"]
        assert (stats.requests, stats.operations, stats.limited) == (4, 8, 1)


def test_dataverse_limits_combined_execution_time_and_reports_what_is_left() -> None:
    limits = Limits(dataverse_execution=0.25)
    with FakeMicrosoft(limits=limits, execution=0.05) as fake, httpx.Client() as client:
        client.headers["Authorization"] = f"Bearer {DATAVERSE_TOKEN}"
        first = client.get(f"{fake.url}{API}/contacts")
        assert first.headers["x-ms-ratelimit-time-remaining-xrm-requests"] == "0.20"
        body = _batch(*[_request("POST", f"{API}/tasks", _task("t"))] * 4)
        answer = _send(client, fake, body)  # four operations: 0.2 s more
        assert answer.headers["x-ms-ratelimit-time-remaining-xrm-requests"] == "0.00"
        refused = client.get(f"{fake.url}{API}/contacts")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "0x80072321"
        assert refused.headers["Retry-After"] == "300"


def test_the_time_header_is_seconds_with_a_thousands_separator_as_live_answers_show() -> None:
    with FakeMicrosoft(limits=Limits()) as fake, httpx.Client() as client:
        client.headers["Authorization"] = f"Bearer {DATAVERSE_TOKEN}"
        answer = client.get(f"{fake.url}{API}/contacts")
        assert answer.headers["x-ms-ratelimit-time-remaining-xrm-requests"] == "1,200.00"
        assert answer.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "5999"


def _together(count: int, call: Any) -> list[httpx.Response]:
    """`count` calls started at once on threads; their answers."""
    answers: list[httpx.Response] = []
    start = threading.Barrier(count)

    def run() -> None:
        start.wait()
        answers.append(call())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize(
    ("service", "code"), [("graph", "ApplicationThrottled"), ("dataverse", "0x80072326")]
)
def test_more_concurrent_requests_than_the_limit_get_429_at_once(service: str, code: str) -> None:
    limits = Limits(graph_concurrency=2, dataverse_concurrency=2)
    with FakeMicrosoft(limits=limits, latency=0.5) as fake:
        if service == "graph":
            url, token = f"{fake.graph_url}/me/contacts", GRAPH_TOKEN
        else:
            url, token = f"{fake.url}{API}/contacts", DATAVERSE_TOKEN
        headers = {"Authorization": f"Bearer {token}"}
        answers = _together(5, lambda: httpx.get(url, headers=headers, timeout=10))
        refused = [a for a in answers if a.status_code == 429]
        assert refused
        assert all(a.json()["error"]["code"] == code for a in refused)
        assert all(a.headers["Retry-After"] == "1" for a in refused)
        assert len(answers) - len(refused) >= 2
        assert fake.stats[service].peak_concurrency >= 3
        assert fake.stats[service].limited == len(refused)


def test_latency_is_slept_outside_the_lock_so_requests_overlap() -> None:
    with FakeMicrosoft(latency=0.3) as fake:
        url, headers = f"{fake.graph_url}/me/contacts", {"Authorization": f"Bearer {GRAPH_TOKEN}"}
        started = time.monotonic()
        answers = _together(3, lambda: httpx.get(url, headers=headers, timeout=10))
        took = time.monotonic() - started
        assert [a.status_code for a in answers] == [200] * 3
        assert fake.stats["graph"].peak_concurrency == 3
        assert 0.3 <= took < 0.85  # one after another would take 0.9 s


def test_execution_is_slept_per_operation_and_a_batch_once_for_latency() -> None:
    with FakeMicrosoft(latency=0.1, execution=0.1) as fake, httpx.Client() as client:
        client.headers["Authorization"] = f"Bearer {DATAVERSE_TOKEN}"
        started = time.monotonic()
        _send(client, fake, _batch(*[_request("POST", f"{API}/tasks", _task("t"))] * 3))
        assert 0.4 <= time.monotonic() - started < 1.5  # 0.1 + 3 x 0.1


def test_without_limits_nothing_is_refused_and_no_ratelimit_header_is_sent(
    fake: FakeMicrosoft, dataverse: httpx.Client
) -> None:
    for _ in range(5):
        answer = dataverse.get(f"{fake.url}{API}/contacts")
        assert answer.status_code == 200
        assert "x-ms-ratelimit-burst-remaining-xrm-requests" not in answer.headers
    assert fake.stats["dataverse"].requests == 5
    assert fake.stats["dataverse"].peak_concurrency == 1
