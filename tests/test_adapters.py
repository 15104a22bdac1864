"""Tests for crmsync.adapters: whole files of Graph and Dataverse collections as snapshots."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmsync import CrmContact, CrmSnapshot, Domain, InvalidInput, Task
from crmsync.adapters import (
    crm_snapshot_from_dataverse,
    outlook_snapshot_from_graph,
    read_dataverse,
    read_graph,
    resolve_links,
)
from crmsync.adapters.graph import TRACKED_CATEGORY
from crmsync.adapters.requests import crm_id_for
from samples import SAMPLES, sample, sample_names

# Property names the adapters read, so random payloads reach the readers' checks.
KEYS = (
    "id", "type", "start", "end", "dateTime", "timeZone", "body", "content", "contentType",
    "emailAddresses", "address", "attendees", "emailAddress", "recurrence", "pattern", "range",
    "startDate", "daysOfWeek", "attachments", "contentBytes", "name", "@odata.type", "status",
    "singleValueExtendedProperties", "value", "categories", "contactid", "activityid",
    "scheduledstart", "scheduledend", "statecode", "statuscode", "instancetypecode",
    "recurrencepatterntype", "appointment_activity_parties", "participationtypemask",
    "businessAddress", "assignedTo", "percentcomplete", "dueDateTime", "seriesMasterId",
)  # fmt: skip

MEETING = {
    "activityid": "a-1",
    "scheduledstart": "2026-12-01T09:00:00Z",
    "scheduledend": "2026-12-01T10:00:00Z",
}


def test_every_bundled_sample_names_where_microsoft_documents_it() -> None:
    """SOURCES.txt gives each sample's repository, commit and page, and names no missing file."""
    lines = (SAMPLES / "SOURCES.txt").read_text(encoding="utf-8").splitlines()[1:]
    sources = {line.split()[0]: line.split(maxsplit=1)[1] for line in lines if line.strip()}
    assert sorted(sources) == sorted(p.name for p in SAMPLES.glob("*.json"))
    assert all("@" in where or where.startswith("same ") for where in sources.values())


def test_every_sample_file_is_read_by_some_adapter_test() -> None:
    tests = "".join(
        path.read_text(encoding="utf-8") for path in SAMPLES.parents[1].glob("test_adapters*.py")
    )
    assert [name for name in sample_names() if f'"{name}"' not in tests] == []


def test_a_graph_file_reads_contacts_events_and_tasks_skipping_occurrences() -> None:
    data = {
        "contacts": {"value": [sample("graph_contact_get.json")]},
        "events": sample("graph_event_instances.json"),
        "tasks": [sample("graph_todotask_get.json")],
    }

    snapshot = outlook_snapshot_from_graph(data)

    assert [c.first_name for c in snapshot.contacts] == ["Alex"]
    assert [e.series_key for e in snapshot.appointments] == ["AAMkAGUzYRgWAAA="]
    assert [t.subject for t in snapshot.tasks] == ["Shop for dinner"]


def test_a_linked_item_is_keyed_by_its_crmid_and_its_graph_id_is_kept() -> None:
    crmid = "String {00020329-0000-0000-C000-000000000046} Name crmid"
    item = sample("graph_contact_get.json") | {
        "singleValueExtendedProperties": [{"id": crmid, "value": "d-1"}]
    }

    read = read_graph({"contacts": [item]})

    assert [c.key for c in read.snapshot.contacts] == ["d-1"]
    assert read.ids == {(Domain.CONTACT, "d-1"): item["id"]}


def test_a_dataverse_file_joins_attachments_to_their_appointment() -> None:
    data = {
        "contacts": {"value": [sample("dataverse_contact_get.json")]},
        "appointments": {"value": [MEETING]},
        "activitymimeattachments": {
            "value": [
                {
                    "filename": "a.txt",
                    "body": base64.b64encode(b"hi").decode(),
                    "_objectid_value": "a-1",
                }
            ]
        },
    }

    snapshot = crm_snapshot_from_dataverse(data)

    assert [c.job_title for c in snapshot.contacts] == ["Junior Developer"]
    assert [a.name for a in snapshot.appointments[0].attachments] == ["a.txt"]


def test_every_problem_in_every_item_is_reported_with_its_path() -> None:
    data = {
        "contacts": {"value": [{"contactid": "c", "firstname": 3}, {"lastname": "x"}]},
        "appointments": [MEETING | {"scheduledend": "soon"}],
        "activitymimeattachments": [{"filename": "a", "body": "aGk=", "_objectid_value": "zz"}],
        "accounts": [],
    }

    with pytest.raises(InvalidInput) as caught:
        crm_snapshot_from_dataverse(data)

    assert caught.value.lines() == [
        "$.accounts: unknown collection; expected any of: contacts, appointments, "
        "recurringappointmentmasters, tasks, activitymimeattachments",
        "$.contacts.value[0].firstname: expected a string, got a number",
        "$.contacts.value[1].contactid: is required",
        "$.appointments[0].scheduledend: expected an ISO 8601 date-time, got 'soon'",
        "$.activitymimeattachments[0]._objectid_value: no appointment 'zz' in this file",
    ]


def test_a_duplicate_key_in_a_file_is_refused() -> None:
    with pytest.raises(InvalidInput, match="duplicate key 'a-1'"):
        crm_snapshot_from_dataverse({"appointments": [MEETING, MEETING]})


def test_a_collection_that_is_not_a_list_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"\$\.events: expected a list or \{'value'"):
        outlook_snapshot_from_graph({"events": "none"})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(
    st.dictionaries(
        st.sampled_from(("contacts", "events", "tasks", "appointments")),
        st.lists(st.dictionaries(st.sampled_from(KEYS), JSON, max_size=8)) | JSON,
        max_size=3,
    )
)
def test_any_json_gives_a_snapshot_or_invalid_input_never_another_error(data: object) -> None:
    for read in (outlook_snapshot_from_graph, crm_snapshot_from_dataverse):
        problems: tuple[object, ...] = ("none: read cleanly",)
        try:
            read(data)
        except InvalidInput as exc:
            problems = exc.problems
        assert problems  # an InvalidInput always says what is wrong


@pytest.mark.parametrize("value", [True, 12, {"a": 1}, ["x"]])
def test_a_crmid_that_is_not_a_string_is_a_problem_never_a_key(value: object) -> None:
    from crmsync.adapters.graph import CRMID_PROPERTY, contact_from_graph

    payload = {"id": "g", "singleValueExtendedProperties": [{"id": CRMID_PROPERTY, "value": value}]}
    with pytest.raises(InvalidInput) as exc:
        contact_from_graph(payload)
    assert exc.value.lines() == [
        f"$.singleValueExtendedProperties[0].value: expected a string, got {_json_kind(value)}"
    ]


def _json_kind(value: object) -> str:
    return {bool: "a boolean", int: "a number", dict: "an object", list: "a list"}[type(value)]


def _deep() -> list[object]:
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    return deep


@pytest.mark.parametrize("bad", [_deep(), 10**5000], ids=["5000-deep list", "10**5000"])
def test_readers_called_from_python_describe_any_value_without_a_crash(bad: object) -> None:
    from crmsync.adapters import dataverse, graph

    calls = [
        lambda: graph.event_from_graph({**GRAPH_EVENT, "importance": bad, "showAs": bad}),
        lambda: graph.task_from_graph({"id": "t", "status": bad, "title": bad}),
        lambda: graph.recurrence_from_graph({"pattern": {"type": bad, "interval": bad}}),
        lambda: dataverse.appointment_from_dataverse({**MEETING, "prioritycode": bad}),
        lambda: dataverse.task_from_dataverse({"activityid": "t", "statuscode": bad}),
        lambda: dataverse.contact_from_dataverse({"contactid": bad}),
        lambda: read_graph({"contacts": bad}),
        lambda: crm_snapshot_from_dataverse({"tasks": [bad]}),
    ]
    for call in calls:
        with pytest.raises(InvalidInput):
            call()


GRAPH_EVENT = {
    "id": "e",
    "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"},
}


@pytest.mark.parametrize("collection", ["contacts", "events", "tasks"])
def test_a_graph_item_that_is_not_an_object_is_one_problem(collection: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        read_graph({collection: [1]})
    assert exc.value.lines() == [f"$.{collection}[0]: expected a JSON object, got a number"]


@pytest.mark.parametrize(
    "collection", ["contacts", "appointments", "tasks", "activitymimeattachments"]
)
def test_a_dataverse_row_that_is_not_an_object_is_one_problem(collection: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        crm_snapshot_from_dataverse({collection: [1]})
    assert exc.value.lines() == [f"$.{collection}[0]: expected a JSON object, got a number"]


def test_a_file_of_many_bad_items_reports_100_problems_then_a_count() -> None:
    with pytest.raises(InvalidInput) as exc:
        crm_snapshot_from_dataverse({"contacts": [{"contactid": i} for i in range(5000)]})
    assert len(exc.value.problems) == 100
    assert exc.value.lines()[-1] == "and 4,900 more problems"


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_datetime_at_the_edge_of_the_range_is_refused_by_every_reader(moment: str) -> None:
    from crmsync.adapters import dataverse, graph

    when = {"dateTime": moment, "timeZone": "UTC"}
    with pytest.raises(InvalidInput, match="out of range"):
        graph.event_from_graph({**GRAPH_EVENT, "start": when, "end": when})
    with pytest.raises(InvalidInput, match="out of range"):
        graph.contact_from_graph({"id": "g", "lastModifiedDateTime": moment})
    with pytest.raises(InvalidInput, match="out of range"):
        dataverse.appointment_from_dataverse({**MEETING, "scheduledend": moment})
    local = {"dateTime": "9999-12-31T23:59:59", "timeZone": "Dateline Standard Time"}
    with pytest.raises(InvalidInput, match="cannot be written in UTC"):
        graph.event_from_graph({**GRAPH_EVENT, "start": local, "end": local})


def test_a_lone_surrogate_in_a_payload_is_refused_with_its_path() -> None:
    from crmsync.adapters import graph

    with pytest.raises(InvalidInput) as exc:
        graph.contact_from_graph({"id": "g", "givenName": "Ann\ud800", "categories": ["\udc00"]})
    assert [line.split(":")[0] for line in exc.value.lines()] == ["$.givenName", "$.categories[0]"]


def test_reads_keep_each_records_etag_beside_the_snapshot() -> None:
    """No lost update: the etag read is what an update or delete sends back as If-Match."""
    linked = {"id": "AAMk-1", "title": "Call", "@odata.etag": 'W/"g1"'}
    linked["linkedResources"] = [_task_link("d-1")]
    graph = read_graph({"tasks": [linked, {"id": "AAMk-2", "title": "Other"}]})
    row = {"activityid": "d-1", "subject": "Call", "@odata.etag": 'W/"5"'}
    crm = read_dataverse({"tasks": [row]})

    assert graph.etags == {(Domain.TASK, "d-1"): 'W/"g1"'}
    assert crm.etags == {(Domain.TASK, "d-1"): 'W/"5"'}


def _task_link(key: str) -> dict[str, str]:
    return {
        "applicationName": "Dynamics 365",
        "displayName": "Dynamics 365 task",
        "externalId": key,
    }


def test_resolve_links_pairs_an_outlook_item_with_the_row_created_from_it() -> None:
    """A create whose answer was lost is found and linked on the next read."""
    row = crm_id_for(Domain.TASK, "AAkT-1")
    outlook = read_graph({"tasks": [{"id": "AAkT-1", "title": "Call", "@odata.etag": "e"}]})
    crm = CrmSnapshot(tasks=[Task(key=row, subject="Call")])

    resolved = resolve_links(outlook, crm)

    assert [t.key for t in resolved.snapshot.tasks] == [row]
    assert resolved.ids == {(Domain.TASK, row): "AAkT-1"}
    assert resolved.etags == {(Domain.TASK, row): "e"}
    assert resolve_links(outlook, CrmSnapshot()) is outlook  # nothing to settle


def test_resolve_links_removes_the_old_key_from_a_partial_snapshot() -> None:
    row = crm_id_for(Domain.CONTACT, "AAMk-1")
    outlook = read_graph({"contacts": [{"id": "AAMk-1", "givenName": "Ann"}]}, partial=True)

    resolved = resolve_links(outlook, CrmSnapshot(contacts=[CrmContact(key=row)]))

    assert [c.key for c in resolved.snapshot.contacts] == [row]
    assert resolved.snapshot.removed == {"AAMk-1"}


def test_a_to_do_task_with_several_crm_links_is_keyed_by_the_live_one() -> None:
    """Read deterministically: the link that names a live row, never the stale one silently."""
    todo: dict[str, object] = {"id": "AAkT-1", "title": "Call", "categories": [TRACKED_CATEGORY]}
    todo["linkedResources"] = [_task_link("d-gone"), _task_link("d-live")]
    outlook = read_graph({"tasks": [todo]})
    assert outlook.task_links == {(Domain.TASK, "d-gone"): ("d-gone", "d-live")}

    live = resolve_links(outlook, CrmSnapshot(tasks=[Task(key="d-live")]))
    both = resolve_links(outlook, CrmSnapshot(tasks=[Task(key="d-live"), Task(key="d-gone")]))
    none = resolve_links(outlook, CrmSnapshot())

    assert [(t.key, t.tracked) for t in live.snapshot.tasks] == [("d-live", True)]
    assert [(t.key, t.tracked) for t in both.snapshot.tasks] == [("d-gone", False)]
    assert none is outlook


def test_a_crm_series_is_read_from_its_table_with_its_instances_attributed_to_it() -> None:
    series = {
        "activityid": "s-1",
        "subject": "Standup",
        "starttime": "2026-12-01T09:00:00Z",
        "endtime": "2026-12-01T09:15:00Z",
        "instancetypecode": 1,
        "recurrencepatterntype": 0,
        "patternstartdate": "2026-12-01T00:00:00Z",
        "patternendtype": 1,
        "@odata.etag": 'W/"9"',
    }
    instance = {
        "activityid": "i-1",
        "subject": "Standup",
        "scheduledstart": "2026-12-02T09:00:00Z",
        "scheduledend": "2026-12-02T09:15:00Z",
        "instancetypecode": 2,
        "seriesid": "s-1",
    }
    exception = instance | {"activityid": "x-1", "instancetypecode": 3, "subject": "Moved"}

    read = read_dataverse(
        {
            "recurringappointmentmasters": {"value": [series]},
            "appointments": {"value": [instance, exception]},
        }
    )

    by_key = {a.key: a for a in read.snapshot.appointments}
    assert set(by_key) == {"s-1", "x-1"}  # the unmodified instance is its series
    assert by_key["s-1"].recurrence is not None
    assert by_key["x-1"].series_key == "s-1"
    assert read.etags[(Domain.APPOINTMENT, "s-1")] == 'W/"9"'
