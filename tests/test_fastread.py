"""Tests for crmsync._fastread: the fast path of `crmsync.loads` reads what the detailed path reads.

The law is agreement: on any document, the generated readers either give up
or give a value equal to the detailed converter's, and `crmsync.loads` reports
the detailed converter's problems, path for path.
"""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crmsync
from crmsync import Address, Baseline, CrmContact, CrmSnapshot, InvalidInput, OutlookSnapshot
from crmsync import convert as convert_module
from crmsync import strategies as cst
from crmsync._fastread import paused_gc
from support import places, replaced

SNAPSHOTS = st.one_of(
    st.tuples(cst.crm_snapshots(max_records=4), st.just(CrmSnapshot)),
    st.tuples(cst.outlook_snapshots(max_records=4), st.just(OutlookSnapshot)),
    st.tuples(cst.baselines(max_records=2), st.just(Baseline)),
)

# Values the detailed path refuses in one field or another: wrong JSON types,
# empty and lone-surrogate texts, out-of-range numbers, bad dates and enums.
BAD_VALUES = [
    None,
    True,
    0,
    -1,
    1.5,
    2**40,
    "",
    " ",
    "\ud800",
    "not a date",
    "2026-01-01T00:00:00",
    "9999-12-31T23:59:59-01:00",
    "unknown",
    [],
    ["\ud800"],
    [""],
    [1],
    ["a", "b", "c", "d"],
    {},
    {"street": 1},
    {"x": ""},
]


def fast_read(data: Any, cls: type) -> Any:
    return convert_module._FAST.reader(cls)(data)


def detailed_read(data: Any, cls: type) -> Any:
    return convert_module._CONVERTER.structure(data, cls)


def outcome(read: Any, data: Any, cls: type) -> tuple[str, Any]:
    try:
        return "value", read(data, cls)
    except Exception as exc:
        return "refused", type(exc)


@settings(max_examples=60, deadline=None)
@given(SNAPSHOTS)
def test_the_fast_path_reads_a_valid_document_as_the_detailed_path_does(
    case: tuple[Any, type],
) -> None:
    value, cls = case
    data = json.loads(crmsync.dumps(value))
    fast = fast_read(data, cls)
    assert fast == detailed_read(data, cls) == value
    assert crmsync.dumps(fast) == crmsync.dumps(value)
    text = crmsync.dumps(value, indent=None).encode("utf-8")
    assert crmsync.loads(text, cls) == value  # with orjson, when it is installed
    saved, convert_module._ORJSON = convert_module._ORJSON, None
    try:
        assert crmsync.loads(text, cls) == value
    finally:
        convert_module._ORJSON = saved


@settings(max_examples=150, deadline=None)
@given(SNAPSHOTS, st.data())
def test_a_broken_document_is_refused_or_read_alike_and_reported_with_the_same_problems(
    case: tuple[Any, type], data: st.DataObject
) -> None:
    value, cls = case
    document = json.loads(crmsync.dumps(value))
    spots = places(document)
    if not spots:
        return
    path = data.draw(st.sampled_from(spots))
    broken = replaced(document, path, data.draw(st.sampled_from(BAD_VALUES)))
    detailed = outcome(detailed_read, broken, cls)
    fast = outcome(fast_read, broken, cls)
    if fast[0] == "value":
        # Rule 1: what the fast path accepts, the detailed path accepts, alike.
        assert detailed == fast
    text = json.dumps(broken)
    if detailed[0] == "value":
        assert crmsync.loads(text, cls) == detailed[1]
        return
    with pytest.raises(InvalidInput) as loaded:
        crmsync.loads(text, cls)
    with pytest.raises(InvalidInput) as expected:
        crmsync.convert.structure(json.loads(text), cls)
    assert loaded.value.lines() == expected.value.lines()


def test_an_extra_key_a_missing_key_and_a_wrong_type_each_fall_back() -> None:
    ann = CrmContact(
        key="c1", first_name="Ann", emails=("ann@x.org",), address1=Address(city="Paris")
    )
    document = json.loads(crmsync.dumps(CrmSnapshot(contacts=[ann])))
    contact = document["contacts"][0]
    for broken in (
        {**contact, "nickname": "x"},
        {k: v for k, v in contact.items() if k != "key"},
        {**contact, "emails": {"a@example.com": 1}},  # a tuple() of it would be its keys
        {**contact, "notes": "\ud800"},
    ):
        with pytest.raises(Exception):  # noqa: B017, PT011 - any error means: fall back
            fast_read({"contacts": [broken]}, CrmSnapshot)
        with pytest.raises(InvalidInput):
            crmsync.loads(json.dumps({"contacts": [broken]}), CrmSnapshot)


def test_the_collector_is_restored_as_it_was() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(InvalidInput):
        crmsync.loads("{", CrmSnapshot)
    assert gc.isenabled()
    gc.disable()
    try:
        crmsync.loads("{}", CrmSnapshot)
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.fixture(params=["orjson", "json"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """`crmsync.loads` with orjson (when installed) and with the standard library alone."""
    if request.param == "orjson":
        if convert_module._ORJSON is None:
            pytest.skip("orjson is not installed (the `fast` extra)")
    else:
        monkeypatch.setattr(convert_module, "_ORJSON", None)
    return str(request.param)


def _contacts(**fields: Any) -> str:
    contact = {"key": "c1", "first_name": "Ann", **fields}
    return json.dumps({"contacts": [contact]}, ensure_ascii=False)


EDGE_DOCUMENTS: list[str | bytes] = [
    _contacts(),
    '{"contacts": [{"key": "c1", "key": "c2"}]}',  # a repeated name: the last one counts
    '{"contacts": [{"key": "c1", "first_name": NaN}]}',
    '{"contacts": [{"key": "c1", "first_name": "\\ud800"}]}',  # a lone surrogate escape
    _contacts(first_name="\ud800").encode("utf-8", "surrogatepass"),  # invalid UTF-8
    _contacts(first_name="\ud800"),  # a str holding a lone surrogate
    '{"appointments": [{"key": "a1", "start": "2026-01-01T00:00:00Z",'
    ' "end": "2026-01-01T01:00:00Z", "attachments":'
    ' [{"name": "a", "content_hash": "h", "size": 18446744073709551616}]}]}',
    '{"tasks": [{"key": "t1", "percent_complete": 1e2}]}',
    '{"tasks": [{"key": "t1", "percent_complete": 1' + "0" * 400 + "}]}",
    "\ufeff{}",
    b"\xef\xbb\xbf{}",
    '{"contacts": [{"key": "c1", "notes": "\x01"}]}',
    '{"complete": false, "removed": ["c1", "\\ud800"]}',
    '{"contacts": []} x',
    "",
    "[" * 5000 + "]" * 5000,
    _contacts(first_name="Zoë ☃ 𝄞").encode("utf-8"),
]


@pytest.mark.parametrize("document", EDGE_DOCUMENTS)
def test_loads_gives_the_same_value_or_the_same_problems_with_either_parser(
    parser: str, document: str | bytes
) -> None:
    def read() -> tuple[str, Any]:
        try:
            return "value", crmsync.loads(document, CrmSnapshot)
        except InvalidInput as exc:
            return "refused", exc.lines()

    found = read()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(convert_module, "_ORJSON", None)
        patch.setattr(convert_module, "_FAST", _NoFastPath())
        assert read() == found  # the standard library and the detailed read alone


class _NoFastPath:
    """Stands for the fast path when it gives up on everything."""

    def reader(self, cls: type) -> Any:
        def give_up(data: Any) -> Any:
            raise convert_module.InvalidInput([])

        return give_up
