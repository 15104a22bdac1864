"""Tests for crmsync.adapters: reading pages and delta rounds of Graph and Dataverse.

The payloads are Microsoft's documentation samples in tests/samples/delta/
(SOURCES.txt names each one's page and commit).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

import crmsync
from crmsync import (
    Appointment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    Domain,
    InvalidInput,
    OutlookSnapshot,
)
from crmsync.adapters import read_dataverse, read_graph
from samples import DELTA, delta_sample
from support import NOW, USER

CRMID = "String {00020329-0000-0000-C000-000000000046} Name crmid"


def test_every_delta_sample_is_listed_in_sources_and_read_here() -> None:
    sources = (DELTA / "SOURCES.txt").read_text(encoding="utf-8")
    here = "".join(
        path.read_text(encoding="utf-8") for path in DELTA.parents[1].glob("test_adapters*.py")
    )
    for path in DELTA.glob("*.json"):
        assert path.name in sources, path.name
        assert f'"{path.name}"' in here, path.name


# --- Graph ------------------------------------------------------------------


def test_a_calendar_view_delta_round_reads_removed_events_as_removed_keys() -> None:
    page = delta_sample("graph_calendarview_delta_next_round.json")

    read = read_graph({"events": page}, partial=True)

    snapshot = read.snapshot
    assert not snapshot.complete
    assert snapshot.removed == {"AAMkADk0MGFkODE3LWE4MmYtNDRhOS04OGQLkRkXbBznTvAADb6ytyAAA="}
    # The tombstone is never an (empty) event; the changed event is read whole.
    assert [(e.key, e.subject, e.location) for e in snapshot.appointments] == [
        ("AAMkADj1HvAAA=", "Attend service", "Chapel of Saint Ignatius")
    ]
    assert read.delta_links == {"events": page["@odata.deltaLink"]}


def test_a_removed_entry_in_a_complete_read_is_invalid_input() -> None:
    page = delta_sample("graph_calendarview_delta_next_round.json")

    with pytest.raises(InvalidInput) as raised:
        read_graph({"events": page})

    assert "$.events.value[0]: a removed entry belongs to a delta round" in str(raised.value)


def test_a_delta_round_across_pages_joins_them_in_order() -> None:
    first = delta_sample("graph_calendarview_delta_final.json")
    second = delta_sample("graph_calendarview_delta_next_round.json")
    # The first page of a round with more to come, then its last page.
    first = dict(first, **{"@odata.nextLink": "https://graph.microsoft.com/page2"})
    del first["@odata.deltaLink"]

    read = read_graph({"events": first}, {"events": second}, partial=True)

    assert [e.subject for e in read.snapshot.appointments] == ["Rest!", "Attend service"]
    assert read.delta_links == {"events": second["@odata.deltaLink"]}
    assert read.next_links == {}


def test_a_delta_round_read_before_its_end_keeps_the_next_link() -> None:
    first = dict(delta_sample("graph_calendarview_delta_final.json"))
    del first["@odata.deltaLink"]
    first["@odata.nextLink"] = "https://graph.microsoft.com/page2"

    read = read_graph({"events": first}, partial=True)

    assert read.next_links == {"events": "https://graph.microsoft.com/page2"}


def test_a_page_with_a_next_link_read_as_complete_is_invalid_input() -> None:
    page = delta_sample("graph_contact_delta_page.json")
    page["value"][0]["id"] = "AAMkADc1"  # $select=displayName left it out of the sample

    with pytest.raises(InvalidInput) as raised:
        read_graph({"contacts": page})

    [line] = raised.value.lines()
    assert line.startswith("$.contacts.@odata.nextLink: more pages follow this one")


def test_the_contact_delta_sample_falls_back_to_the_display_name() -> None:
    page = delta_sample("graph_contact_delta_page.json")
    item = page["value"][0] | {"id": "AAMkADc1"}
    del item["givenName"]

    [contact] = read_graph({"contacts": [item]}).snapshot.contacts

    assert (contact.first_name, contact.last_name) == ("", "displayName-value")


def test_a_todo_delta_round_reads_its_tasks_and_keeps_the_delta_link() -> None:
    page = delta_sample("graph_todotask_delta.json")
    gone = {"id": "AAMkAD-gone", "@removed": {"reason": "deleted"}}
    page["value"].append(gone)

    read = read_graph({"tasks": page}, partial=True)

    assert [t.subject for t in read.snapshot.tasks] == ["empty task3"]
    assert read.snapshot.removed == {"AAMkAD-gone"}
    assert read.delta_links == {"tasks": page["@odata.deltaLink"]}


def test_a_removed_entry_removes_the_record_keyed_by_its_crm_id() -> None:
    event = copy.deepcopy(delta_sample("graph_calendarview_delta_final.json")["value"][0])
    event["singleValueExtendedProperties"] = [{"id": CRMID, "value": "crm-7"}]
    earlier = read_graph({"events": [event]})
    assert earlier.ids == {(Domain.APPOINTMENT, "crm-7"): "AAMkADj1HuAAA="}
    tombstone = {"id": "AAMkADj1HuAAA=", "@removed": {"reason": "deleted"}}

    read = read_graph({"events": [tombstone]}, partial=True, known_ids=earlier.ids)

    assert read.snapshot.removed == {"crm-7"}


def test_an_item_delivered_twice_counts_as_its_last_delivery() -> None:
    event = delta_sample("graph_calendarview_delta_final.json")["value"][0]
    renamed = event | {"subject": "Rest, at last"}
    tombstone = {"id": event["id"], "@removed": {"reason": "changed"}}

    read = read_graph({"events": [event, renamed]}, partial=True)
    assert [e.subject for e in read.snapshot.appointments] == ["Rest, at last"]
    gone = read_graph({"events": [event, tombstone]}, partial=True)
    assert (gone.snapshot.appointments, gone.snapshot.removed) == ((), {event["id"]})
    back = read_graph({"events": [tombstone, event]}, partial=True)
    assert [e.key for e in back.snapshot.appointments] == [event["id"]]
    assert back.snapshot.removed == frozenset()


def test_a_graph_delta_round_plans_as_the_whole_mailbox_would() -> None:
    """End to end: a first round read whole, then the next round read as partial."""
    first = read_graph({"events": delta_sample("graph_calendarview_delta_final.json")})
    [rest] = first.snapshot.appointments
    deleted = Appointment(
        key="AAMkADk0MGFkODE3LWE4MmYtNDRhOS04OGQLkRkXbBznTvAADb6ytyAAA=",
        subject="Old",
        start=rest.start,
        end=rest.end,
        organizer=USER,
    )
    outlook = OutlookSnapshot(appointments=[rest, deleted])
    crm = CrmSnapshot(appointments=[rest, deleted])
    baseline = Baseline(crm=crm, outlook=outlook)
    round_ = read_graph(
        {"events": delta_sample("graph_calendarview_delta_next_round.json")}, partial=True
    )

    planned = crmsync.plan(crm, round_.snapshot, None, baseline, user=USER, now=NOW)

    # The removed (past) event unlinks; the new one is not tracked; "Rest!" is unchanged.
    assert [(op.action.value, op.side.value, op.key) for op in planned.ops] == [
        ("unlink", "crm", deleted.key)
    ]
    assert ("not_tracked", "AAMkADj1HvAAA=") in {(n.code, n.key) for n in planned.notices}
    whole = OutlookSnapshot(appointments=[rest, *round_.snapshot.appointments])
    assert crmsync.dumps(planned) == crmsync.dumps(
        crmsync.plan(crm, whole, None, baseline, user=USER, now=NOW)
    )


# --- Dataverse ----------------------------------------------------------------


def test_dataverse_pages_join_in_order() -> None:
    first = delta_sample("dataverse_contacts_page1.json")
    second = delta_sample("dataverse_contacts_page2.json")
    del second["@odata.nextLink"]  # the documentation's sample stops before the last page

    snapshot = read_dataverse({"contacts": first}, {"contacts": second}).snapshot

    assert [(c.first_name, c.last_name) for c in snapshot.contacts][:2] == [
        ("Yvonne McKay", "(sample)"),
        ("Susanna Stubberod", "(sample)"),
    ]
    assert len(snapshot.contacts) == 4


def test_a_dataverse_read_that_stops_before_the_last_page_is_invalid_input() -> None:
    first = delta_sample("dataverse_contacts_page1.json")
    second = delta_sample("dataverse_contacts_page2.json")

    with pytest.raises(InvalidInput) as raised:
        read_dataverse({"contacts": first}, {"contacts": second})

    [line] = raised.value.lines()
    assert line.startswith("$[1].contacts.@odata.nextLink: more pages follow this one")


def test_a_dataverse_count_that_the_pages_do_not_hold_is_invalid_input() -> None:
    page = delta_sample("dataverse_contacts_page1.json")
    del page["@odata.nextLink"]
    page["@odata.count"] = 3

    with pytest.raises(InvalidInput, match=r"contacts.@odata.count: says 3 records"):
        read_dataverse({"contacts": page})


def _contacts_round() -> dict[str, Any]:
    """The change-tracking sample, with a contact where the documentation has an account."""
    page = delta_sample("dataverse_change_tracking_delta.json")
    changed, deleted = page["value"]
    contact = {
        "@odata.etag": changed["@odata.etag"],
        "fullname": changed["name"],
        "telephone1": changed["telephone1"],
        "contactid": changed["accountid"],
    }
    deleted = deleted | {
        "@odata.context": deleted["@odata.context"].replace("accounts", "contacts")
    }
    return page | {"value": [contact, deleted]}


def test_a_dataverse_change_tracking_round_reads_deleted_entries_as_removed_keys() -> None:
    page = _contacts_round()

    read = read_dataverse({"contacts": page}, partial=True)

    assert read.snapshot.removed == {"2e451703-c686-e711-80e5-00155db19e6d"}
    assert [(c.key, c.last_name, c.business_phone) for c in read.snapshot.contacts] == [
        ("60c4e274-0d87-e711-80e5-00155db19e6d", "Orton", "555000")
    ]
    assert read.delta_links == {"contacts": page["@odata.deltaLink"]}


def test_a_dataverse_delta_response_read_as_complete_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as raised:
        read_dataverse({"contacts": _contacts_round()})

    lines = raised.value.lines()
    assert any("contacts.@odata.context: a delta response" in line for line in lines)
    assert any(
        "contacts.value[1]: a removed entry belongs to a delta round" in line for line in lines
    )


def test_a_dataverse_deleted_entry_is_never_an_empty_contact() -> None:
    page = _contacts_round()
    page["value"] = page["value"][1:]

    snapshot = read_dataverse({"contacts": page}, partial=True).snapshot

    assert snapshot.contacts == ()
    baseline_contact = CrmContact(key="2e451703-c686-e711-80e5-00155db19e6d", last_name="Gone")
    assert snapshot.removed == {baseline_contact.key}


def test_two_items_linked_to_one_crm_record_in_a_delta_round_are_invalid_input() -> None:
    event = copy.deepcopy(delta_sample("graph_calendarview_delta_final.json")["value"][0])
    event["singleValueExtendedProperties"] = [{"id": CRMID, "value": "crm-7"}]
    other = event | {"id": "AAMkAD-other", "subject": "Another"}

    with pytest.raises(InvalidInput) as complete:
        read_graph({"events": [event, other]})
    with pytest.raises(InvalidInput) as delta:
        read_graph({"events": [event, other]}, partial=True)

    assert "duplicate key 'crm-7'" in str(complete.value)
    assert "duplicate key 'crm-7'" in str(delta.value)
    assert "$.events[1]" in str(delta.value)
    assert "$.events[0]" in str(delta.value)
    # The same item delivered twice is still its last delivery.
    again = read_graph({"events": [event, event | {"subject": "Later"}]}, partial=True)
    assert [e.subject for e in again.snapshot.appointments] == ["Later"]
