"""The Dataverse `$batch` format: Microsoft's documented answers read, hostile ones refused.

The answers are the examples of "Execute batch operations using the Web API"
(MicrosoftDocs/powerapps-docs, developer/data-platform/webapi/
execute-batch-operations-using-web-api.md), with "[Organization Uri]" left in.
"""

from __future__ import annotations

import json

import pytest

from crmsync._multipart import Answered, AnswerError, Part, batch_body, parse_answer

ANSWER_TYPE = "multipart/mixed; boundary=batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916"

# "Batch responses": three creates and a GET, no change set.
PLAIN = """--batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: [Organization Uri]/api/data/v9.2/tasks(d31ba648-c592-ed11-aad1-000d3a993550)
OData-EntityId: [Organization Uri]/api/data/v9.2/tasks(d31ba648-c592-ed11-aad1-000d3a993550)


--batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 200 OK
Content-Type: application/json; odata.metadata=minimal; odata.streaming=true
OData-Version: 4.0

{
  "@odata.context": "[Organization Uri]/api/data/v9.2/$metadata#tasks(subject)",
  "value": [
    {
      "@odata.etag": "W/\\"77180907\\"",
      "subject": "Task 1 in batch",
      "activityid": "d31ba648-c592-ed11-aad1-000d3a993550"
    }
  ]
}
--batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916--
"""

# "Change sets": a change set of creates answered part by part, then a GET.
CHANGESET = """--batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916
Content-Type: multipart/mixed; boundary=changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15

--changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: [Organization Uri]/api/data/v9.2/tasks(e73ffc82-e292-ed11-aad1-000d3a9933c9)
OData-EntityId: [Organization Uri]/api/data/v9.2/tasks(e73ffc82-e292-ed11-aad1-000d3a9933c9)


--changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: [Organization Uri]/api/data/v9.2/tasks(e83ffc82-e292-ed11-aad1-000d3a9933c9)
OData-EntityId: [Organization Uri]/api/data/v9.2/tasks(e83ffc82-e292-ed11-aad1-000d3a9933c9)


--changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15--
--batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 200 OK
Content-Type: application/json; odata.metadata=minimal; odata.streaming=true
OData-Version: 4.0

{"value": []}
--batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916--
"""

# "Handling errors" with `Prefer: odata.continue-on-error`: the first create failed.
CONTINUED = """--batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 400 Bad Request
REQ_ID: de4c5227-4a28-4ebd-8ced-3392ece1697b
Content-Type: application/json; odata.metadata=minimal
OData-Version: 4.0

{"error":{"code":"0x80044331","message":"A validation error occurred."}}
--batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: [Organization Uri]/api/data/v9.2/tasks(aed2ae8b-3c94-ed11-aad1-000d3a9933c9)
OData-EntityId: [Organization Uri]/api/data/v9.2/tasks(aed2ae8b-3c94-ed11-aad1-000d3a9933c9)


--batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916--
"""


def _crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def _header(answer: Answered, name: str) -> str:
    return next(value for key, value in answer.headers if key.lower() == name.lower())


@pytest.mark.parametrize("line_end", ["crlf", "lf"])
def test_the_documented_answer_without_a_change_set_reads_part_by_part(line_end: str) -> None:
    data = _crlf(PLAIN) if line_end == "crlf" else PLAIN.encode()
    created, listed = parse_answer(ANSWER_TYPE, data)
    assert isinstance(created, Answered)
    assert isinstance(listed, Answered)
    assert created.status == 204
    assert created.body == b""
    assert _header(created, "OData-EntityId").endswith("(d31ba648-c592-ed11-aad1-000d3a993550)")
    assert listed.status == 200
    assert json.loads(listed.body)["value"][0]["subject"] == "Task 1 in batch"


def test_the_documented_change_set_answer_names_its_parts_by_content_id() -> None:
    changeset, listed = parse_answer(ANSWER_TYPE, _crlf(CHANGESET))
    assert isinstance(changeset, list)
    assert isinstance(listed, Answered)
    assert [(a.content_id, a.status) for a in changeset] == [("1", 204), ("2", 204)]


def test_the_documented_continue_on_error_answer_keeps_each_requests_status() -> None:
    failed, created = parse_answer(ANSWER_TYPE, _crlf(CONTINUED))
    assert isinstance(failed, Answered)
    assert isinstance(created, Answered)
    assert failed.status == 400
    assert json.loads(failed.body)["error"]["code"] == "0x80044331"
    assert created.status == 204


def test_content_ids_are_unique_across_the_change_sets_of_a_batch() -> None:
    two = [
        Part("PATCH", "/api/data/v9.2/tasks(1)", {"a": 1}),
        Part("PATCH", "/api/data/v9.2/tasks(1)", {"b": 2}),
    ]
    _kind, data, ids = batch_body([two, [Part("DELETE", "/api/data/v9.2/tasks(3)")], two])
    assert ids == [["1", "2"], [], ["3", "4"]]
    assert data.decode().count("Content-ID: ") == 4


def test_a_bodiless_part_whose_headers_end_at_the_boundary_is_read() -> None:
    """Some of Microsoft's documented answers put a 204's headers right before the next
    boundary, with one line break between: the part has no body."""
    entity = "tasks(e73ffc82-e292-ed11-aad1-000d3a9933c9)"
    tight = CHANGESET.replace(f"{entity}\n\n\n", f"{entity}\n")
    assert tight != CHANGESET
    for data in (tight.encode(), _crlf(tight)):
        changeset, _listed = parse_answer(ANSWER_TYPE, data)
        assert isinstance(changeset, list)
        assert [(a.content_id, a.status, a.body) for a in changeset] == [
            ("1", 204, b""),
            ("2", 204, b""),
        ]


def test_a_quoted_boundary_is_read() -> None:
    kind = 'multipart/mixed; boundary="batchresponse_01346794-f2e2-4d45-8cc2-f97e09fe8916"'
    assert len(parse_answer(kind, _crlf(PLAIN))) == 2


@pytest.mark.parametrize(
    ("kind", "data", "why"),
    [
        ("application/json", _crlf(PLAIN), "not multipart/mixed"),
        ("multipart/mixed", _crlf(PLAIN), "no boundary"),
        (ANSWER_TYPE, _crlf(PLAIN).rsplit(b"--batchresponse", 1)[0], "never closes"),
        (ANSWER_TYPE, _crlf(PLAIN.replace("application/http", "text/html")), "text/html"),
        (ANSWER_TYPE, _crlf(PLAIN.replace("HTTP/1.1 204 No Content", "HTTP/1.1 2O4")), "status"),
        (ANSWER_TYPE, _crlf(PLAIN.replace("HTTP/1.1 204 No Content", "<html>")), "status"),
        (
            ANSWER_TYPE,
            _crlf(CHANGESET.replace("Content-ID: 1", "Content-ID: 1\nContent-ID: 2")),
            "content-id given 2 times",
        ),
    ],
)
def test_an_answer_crmsync_cannot_read_safely_is_an_error(kind: str, data: bytes, why: str) -> None:
    with pytest.raises(AnswerError, match=why):
        parse_answer(kind, data)


def test_the_request_body_follows_the_documented_layout() -> None:
    kind, data, ids = batch_body(
        [
            [Part("POST", "/api/data/v9.2/contacts", {"lastname": "Lee, Ann — 李"})],
            [
                Part(
                    "PATCH", "/api/data/v9.2/appointments(1)", {"subject": "x"}, {"If-Match": "W/1"}
                ),
                Part(
                    "PUT",
                    "/api/data/v9.2/appointments(1)/regardingobjectid/$ref",
                    {"@odata.id": "y"},
                ),
            ],
            [Part("DELETE", "/api/data/v9.2/tasks(2)")],
        ]
    )
    assert kind.startswith("multipart/mixed; boundary=batch_")
    assert ids == [[], ["1", "2"], []]
    boundary = kind.split("boundary=")[1]
    text = data.decode("utf-8")
    assert text.endswith(f"--{boundary}--\r\n")
    parts = text.split(f"--{boundary}")[1:-1]
    assert len(parts) == 3
    lone = parts[0]
    assert "\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" in lone
    assert (
        "POST /api/data/v9.2/contacts HTTP/1.1\r\nContent-Type: application/json; type=entry"
        in lone
    )
    assert json.loads(lone.split("\r\n\r\n", 2)[2]) == {"lastname": "Lee, Ann — 李"}
    changeset = parts[1]
    inner = changeset.split("boundary=")[1].split("\r\n")[0]
    assert inner.startswith("changeset_")
    members = changeset.split(f"--{inner}")[1:-1]
    assert ["Content-ID: 1" in members[0], "Content-ID: 2" in members[1]] == [True, True]
    assert "PATCH /api/data/v9.2/appointments(1) HTTP/1.1" in members[0]
    assert "If-Match: W/1" in members[0]
    assert changeset.rstrip("\r\n").endswith(f"--{inner}--")
    assert "DELETE /api/data/v9.2/tasks(2) HTTP/1.1\r\n\r\n" in parts[2]
    assert "Content-Type: application/json" not in parts[2].split("binary")[1]
