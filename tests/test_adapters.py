"""Tests for crmsync.adapters: whole files of Graph and Dataverse collections as snapshots."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmsync import Domain, InvalidInput
from crmsync.adapters import crm_snapshot_from_dataverse, outlook_snapshot_from_graph, read_graph
from samples import SAMPLES, SHARED, sample, sample_names

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


def test_the_bundled_samples_are_microsofts_as_they_are() -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/samples is not beside this checkout")
    shared = sorted(p.name for p in SHARED.iterdir())
    assert sorted(p.name for p in SAMPLES.iterdir()) == shared
    for name in shared:
        assert (SAMPLES / name).read_bytes() == (SHARED / name).read_bytes(), name


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
        "$.accounts: unknown collection; expected any of: contacts, appointments, tasks, "
        "activitymimeattachments",
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
