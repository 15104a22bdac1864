"""Tests for crmsync.records: validation at construction, enums, equality."""

from __future__ import annotations

import datetime as dt

import pytest

from crmsync import (
    Address,
    Appointment,
    Attachment,
    CrmContact,
    CrmSnapshot,
    InvalidInput,
    OutlookContact,
    Priority,
    Recurrence,
    Task,
    TaskStatus,
)

NOW = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)


def problems(exc: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return exc.value.lines()


def test_a_naive_datetime_is_rejected_naming_the_record_and_field() -> None:
    with pytest.raises(InvalidInput) as exc:
        Appointment(key="a1", start=dt.datetime(2026, 1, 1), end=NOW)  # noqa: DTZ001
    assert problems(exc) == [
        "Appointment(key='a1').start: datetime must be timezone-aware (it has no UTC offset)"
    ]


def test_end_before_start_is_rejected() -> None:
    with pytest.raises(InvalidInput, match=r"end: is before start"):
        Appointment(key="a1", start=NOW, end=NOW - dt.timedelta(hours=1))


def test_percent_outside_0_to_100_is_rejected() -> None:
    with pytest.raises(InvalidInput, match=r"percent_complete: must be at most 100"):
        Task(key="t", percent_complete=101)


def test_a_negative_attachment_size_is_rejected() -> None:
    with pytest.raises(InvalidInput, match=r"size: must be at least 0"):
        Attachment(name="a.pdf", size=-1, content_hash="sha256:00")


def test_more_than_three_email_addresses_are_rejected() -> None:
    with pytest.raises(InvalidInput, match=r"emails: more than three e-mail addresses"):
        CrmContact(key="c", emails=["a@x", "b@x", "c@x", "d@x"])


def test_every_problem_of_a_record_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as exc:
        Task(key="", percent_complete=-5, status="done", due=dt.datetime(2026, 1, 1))  # noqa: DTZ001
    assert len(exc.value.problems) == 4


def test_a_duplicate_key_in_a_snapshot_is_rejected_with_its_path() -> None:
    with pytest.raises(InvalidInput) as exc:
        CrmSnapshot(contacts=[CrmContact(key="c"), CrmContact(key="d"), CrmContact(key="c")])
    assert problems(exc) == ["CrmSnapshot.contacts[2].key: duplicate key 'c' (also at contacts[0])"]


def test_a_record_of_the_wrong_kind_in_a_snapshot_is_rejected() -> None:
    with pytest.raises(InvalidInput, match=r"contacts\[0\]: expected CrmContact"):
        CrmSnapshot(contacts=[OutlookContact(key="o")])  # type: ignore[list-item]


def test_enum_fields_accept_their_plain_lower_case_values() -> None:
    task = Task(key="t", status="waiting_on_others", priority="high")
    assert (task.status, task.priority) == (TaskStatus.WAITING_ON_OTHERS, Priority.HIGH)
    assert Priority.HIGH == "high"


def test_an_unknown_enum_value_is_rejected_listing_the_allowed_ones() -> None:
    with pytest.raises(
        InvalidInput, match=r"priority: unknown value 'urgent'; expected one of: low"
    ):
        Task(key="t", priority="urgent")


def test_modified_is_metadata_and_takes_no_part_in_equality() -> None:
    assert CrmContact(key="c", modified=NOW) == CrmContact(key="c")


def test_addresses_are_the_same_after_normalization() -> None:
    a = Address(street="1  Main St\nFloor 2 ", city="PARIS")
    b = Address(street="1 main st\nfloor 2", city="Paris")
    assert a != b
    assert a.same_as(b)
    assert Address(street="  ").is_empty


def test_an_address_street_holds_at_most_three_lines() -> None:
    with pytest.raises(InvalidInput, match=r"street: holds more than three lines"):
        Address(street="1\n2\n3\n4")


def test_a_recurrence_is_validated() -> None:
    with pytest.raises(InvalidInput) as exc:
        Recurrence(
            pattern="fortnightly",
            start_date=dt.date(2026, 1, 2),
            interval=0,
            days_of_week=["funday"],
            end_date=dt.date(2026, 1, 1),
        )
    assert len(exc.value.problems) == 4


def test_a_series_master_cannot_also_be_an_occurrence() -> None:
    weekly = Recurrence(pattern="weekly", start_date=dt.date(2026, 1, 1))
    with pytest.raises(InvalidInput, match=r"series_key"):
        Appointment(key="a", start=NOW, end=NOW, recurrence=weekly, series_key="s")


def test_records_are_frozen() -> None:
    contact = CrmContact(key="c")
    with pytest.raises(AttributeError):
        contact.first_name = "x"  # type: ignore[misc]


EDGES = ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00")


@pytest.mark.parametrize("text", EDGES)
def test_a_datetime_no_output_can_write_in_utc_is_rejected(text: str) -> None:
    moment = dt.datetime.fromisoformat(text)
    with pytest.raises(
        InvalidInput, match=r"start: .* is out of range: it cannot be written in UTC"
    ):
        Appointment(key="a", start=moment, end=moment)
    with pytest.raises(InvalidInput, match=r"due: .* is out of range"):
        Task(key="t", due=moment)


def test_a_lone_surrogate_is_rejected_in_keys_text_and_lists() -> None:
    with pytest.raises(InvalidInput) as exc:
        CrmContact(key="k1\ud800", notes="a\udfffb", emails=("x\ud800@y.org",))
    assert [p.path for p in exc.value.problems] == [("key",), ("notes",), ("emails", 0)]
    assert all("lone surrogate" in p.message for p in exc.value.problems)
    assert str(exc.value).encode("utf-8")  # the message itself is valid Unicode


def test_integers_are_in_the_range_every_output_can_write() -> None:
    with pytest.raises(
        InvalidInput, match=r"size: must be at most 2,147,483,647 \(got a number of"
    ):
        Attachment(name="a", size=10**5000, content_hash="h")
    with pytest.raises(InvalidInput, match="occurrences: must be at most"):
        Recurrence(pattern="daily", start_date=dt.date(2026, 1, 1), occurrences=2**31)


def test_huge_or_deep_values_are_described_without_a_crash() -> None:
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    for bad in (deep, 10**5000):
        with pytest.raises(InvalidInput, match="priority: unknown value"):
            Task(key="t", priority=bad)  # type: ignore[arg-type]


def test_a_snapshot_reports_at_most_100_problems_then_a_count() -> None:
    with pytest.raises(InvalidInput) as exc:
        CrmSnapshot(contacts=[1] * 400)  # type: ignore[list-item]
    assert len(exc.value.problems) == 100
    assert exc.value.lines()[-1] == "and 300 more problems"
    assert str(exc.value).startswith("400 problems:")
