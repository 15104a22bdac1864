"""A catalogue of malformed inputs through crmsync.loads and the CLI.

Each must be refused with `InvalidInput` (CLI: exit 1) naming the path of the
problem: never another exception, a traceback or a hang.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import crmsync
from crmsync import Baseline, CrmSnapshot, InvalidInput, OutlookSnapshot, Plan, Settings
from crmsync.cli import main
from support import NOW

GOOD_CONTACT: dict[str, Any] = {"key": "c1", "emails": ["a@x.com"]}
GOOD_APPOINTMENT: dict[str, Any] = {
    "key": "a1",
    "start": "2026-11-24T10:00:00+00:00",
    "end": "2026-11-24T11:00:00+00:00",
}

CATALOGUE: list[tuple[str, Any, type, str]] = [
    (
        "wrong type",
        {"contacts": [{"key": "c1", "first_name": 7}]},
        CrmSnapshot,
        "$.contacts[0].first_name: expected a string",
    ),
    (
        "missing key",
        {"contacts": [{"first_name": "x"}]},
        CrmSnapshot,
        "$.contacts[0].key: required field missing",
    ),
    (
        "naive datetime",
        {"appointments": [{**GOOD_APPOINTMENT, "start": "2026-11-24T10:00:00"}]},
        CrmSnapshot,
        "$.appointments[0].start: datetime must be timezone-aware",
    ),
    (
        "end before start",
        {"appointments": [{**GOOD_APPOINTMENT, "end": "2026-11-24T09:00:00Z"}]},
        CrmSnapshot,
        "$.appointments[0].end: is before start",
    ),
    (
        "four e-mails",
        {"contacts": [{"key": "c", "emails": ["a@x", "b@x", "c@x", "d@x"]}]},
        CrmSnapshot,
        "$.contacts[0].emails: more than three e-mail addresses",
    ),
    (
        "duplicate keys",
        {"contacts": [GOOD_CONTACT, GOOD_CONTACT]},
        CrmSnapshot,
        "$.contacts[1].key: duplicate key 'c1'",
    ),
    (
        "negative size",
        {
            "appointments": [
                {
                    **GOOD_APPOINTMENT,
                    "attachments": [{"name": "a", "size": -1, "content_hash": "h"}],
                }
            ]
        },
        OutlookSnapshot,
        "$.appointments[0].attachments[0].size: must be at least 0",
    ),
    (
        "unknown enum value",
        {"tasks": [{"key": "t", "status": "half_done"}]},
        CrmSnapshot,
        "$.tasks[0].status: unknown value 'half_done'",
    ),
    (
        "unknown settings value",
        {"conflict": "coin_toss"},
        Settings,
        "$.conflict: unknown value 'coin_toss'",
    ),
    (
        "unknown field",
        {"contacts": [{"key": "c", "nickname": "x"}]},
        CrmSnapshot,
        "$.contacts[0].nickname: unknown field",
    ),
    ("not an object", [1, 2], Baseline, "$: expected an object, got a list"),
    ("a list expected", {"contacts": "c1"}, CrmSnapshot, "$.contacts: expected a list"),
    (
        "unknown format version",
        {"format_version": "7.0", "now": NOW.isoformat()},
        Plan,
        "$.format_version: unsupported plan format '7.0'",
    ),
    (
        "a minor format version this crmsync does not know",
        {"format_version": "1.1", "now": NOW.isoformat()},
        Plan,
        "$.format_version: unsupported plan format '1.1'; this crmsync reads 1.0",
    ),
]


@pytest.mark.parametrize(
    ("case", "data", "cls", "expected"), CATALOGUE, ids=[c[0] for c in CATALOGUE]
)
def test_malformed_input_is_refused_with_its_path(
    case: str, data: Any, cls: type, expected: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        crmsync.loads(json.dumps(data), cls)
    assert any(line.startswith(expected) for line in exc.value.lines()), exc.value.lines()


def test_one_snapshot_with_several_bad_records_reports_them_all_at_once() -> None:
    data = {
        "contacts": [
            GOOD_CONTACT,
            {"key": 5},
            {"key": "c3", "emails": ["1@x", "2@x", "3@x", "4@x"]},
            {"key": "c4", "address1": {"city": []}},
        ],
        "tasks": [{"key": "t", "percent_complete": 300}],
    }
    with pytest.raises(InvalidInput) as exc:
        crmsync.loads(json.dumps(data), CrmSnapshot)
    paths = [line.split(":")[0] for line in exc.value.lines()]
    assert paths == [
        "$.contacts[1].key",
        "$.contacts[2].emails",
        "$.contacts[3].address1.city",
        "$.tasks[0].percent_complete",
    ]


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not valid UTF-8"):
        crmsync.loads(b'{"contacts": [{"key": "\xc3\x28"}]}', CrmSnapshot)


def test_deeply_nested_json_is_refused_without_a_crash() -> None:
    text = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InvalidInput, match=r"nested too deeply"):
        crmsync.loads(text, CrmSnapshot)


def test_a_50_mb_string_is_handled_without_a_hang() -> None:
    huge = "x" * (50 * 1024 * 1024)
    snapshot = crmsync.loads(json.dumps({"contacts": [{"key": "c", "notes": huge}]}), CrmSnapshot)
    assert len(snapshot.contacts[0].notes) == len(huge)
    with pytest.raises(InvalidInput, match=r"\$.contacts\[0\].key: expected a string"):
        crmsync.loads('{"contacts": [{"key": 1, "notes": "' + huge + '"}]}', CrmSnapshot)


@pytest.mark.parametrize(
    ("case", "data", "cls", "expected"),
    [c for c in CATALOGUE if c[2] in (CrmSnapshot,)],
    ids=[c[0] for c in CATALOGUE if c[2] in (CrmSnapshot,)],
)
def test_the_cli_prints_the_problem_and_exits_1_never_a_traceback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    data: Any,
    cls: type,
    expected: str,
) -> None:
    crm = tmp_path / "crm.json"
    crm.write_text(json.dumps(data), encoding="utf-8")
    outlook = tmp_path / "outlook.json"
    outlook.write_text("{}", encoding="utf-8")
    code = main(["plan", "--crm", str(crm), "--outlook", str(outlook)])
    err = capsys.readouterr().err
    assert code == 1
    assert expected.split(":", maxsplit=1)[0] in err
    assert "Traceback" not in err


def test_the_cli_refuses_invalid_utf8_and_deep_nesting_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for content in (b"\xff\xfe{", b"[" * 100_000 + b"]" * 100_000):
        crm = tmp_path / "crm.json"
        crm.write_bytes(content)
        (tmp_path / "o.json").write_text("{}", encoding="utf-8")
        assert main(["plan", "--crm", str(crm), "--outlook", str(tmp_path / "o.json")]) == 1
        assert "Traceback" not in capsys.readouterr().err


HUGE = "9" * 5000
EDGE_HIGH, EDGE_LOW = "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"
UNRELIABLE: list[tuple[str, str, type, str]] = [
    (
        "an integer of more than 4,300 digits",
        '{"tasks": [{"key": "t", "percent_complete": ' + HUGE + "}]}",
        CrmSnapshot,
        "$: a number has more than 4,300 digits",
    ),
    (
        "a datetime at the top of the range",
        json.dumps({"appointments": [{**GOOD_APPOINTMENT, "end": EDGE_HIGH}]}),
        CrmSnapshot,
        f"$.appointments[0].end: {EDGE_HIGH} is out of range: it cannot be written in UTC",
    ),
    (
        "a datetime at the bottom of the range",
        json.dumps({"tasks": [{"key": "t", "due": EDGE_LOW}]}),
        OutlookSnapshot,
        f"$.tasks[0].due: {EDGE_LOW} is out of range",
    ),
    (
        "a plan made for a moment at the edge of the range",
        json.dumps({"now": EDGE_HIGH}),
        Plan,
        "$.now: 9999-12-31T23:59:59-14:00 is out of range",
    ),
    (
        "a lone surrogate in a key",
        '{"contacts": [{"key": "k1\\ud800"}]}',
        CrmSnapshot,
        "$.contacts[0].key: is not valid Unicode (it holds a lone surrogate)",
    ),
    (
        "a lone surrogate in a plan",
        '{"now": "2026-11-24T09:00:00+00:00", "notices": [{"domain": "contact", "key": "k", '
        '"code": "c", "message": "\\udc00"}]}',
        Plan,
        "$.notices[0].message: is not valid Unicode",
    ),
    (
        "a lone surrogate in the settings",
        '{"organization_domains": ["contoso.com\\ud800"]}',
        Settings,
        "$.organization_domains[0]: is not valid Unicode",
    ),
]


@pytest.mark.parametrize(
    ("case", "text", "cls", "expected"), UNRELIABLE, ids=[c[0] for c in UNRELIABLE]
)
def test_values_no_output_path_can_write_are_refused_at_input(
    case: str, text: str, cls: type, expected: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        crmsync.loads(text, cls)
    assert any(line.startswith(expected) for line in exc.value.lines()), exc.value.lines()
    assert str(exc.value).encode("utf-8")


@pytest.mark.parametrize(
    ("case", "text"),
    [(c[0], c[1]) for c in UNRELIABLE if c[2] is CrmSnapshot],
    ids=[c[0] for c in UNRELIABLE if c[2] is CrmSnapshot],
)
def test_the_cli_refuses_them_with_exit_1_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, text: str
) -> None:
    crm = tmp_path / "crm.json"
    crm.write_text(text, encoding="utf-8")
    (tmp_path / "o.json").write_text("{}", encoding="utf-8")
    for extra in ([], ["--format", "json"], ["--emit", "graph,dataverse"]):
        args = ["plan", "--crm", str(crm), "--outlook", str(tmp_path / "o.json"), *extra]
        assert main(args) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert "Traceback" not in captured.err


def test_many_bad_items_give_100_problems_and_a_count_in_bounded_memory() -> None:
    text = json.dumps({"contacts": [1] * 200_000})
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput) as exc:
            crmsync.loads(text, CrmSnapshot)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(exc.value.problems) == 100
    assert exc.value.lines()[-1] == "and 199,900 more problems"
    assert peak < 40_000_000  # the parsed list is ~2 MB; 200k kept exceptions took ~400 MB


def test_a_non_object_item_is_one_problem() -> None:
    with pytest.raises(InvalidInput) as exc:
        crmsync.loads('{"contacts": [1], "tasks": ["t"]}', CrmSnapshot)
    assert exc.value.lines() == [
        "$.contacts[0]: expected an object, got a number",
        "$.tasks[0]: expected an object, got a string",
    ]
