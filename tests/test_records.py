"""Tests for crmsync.records: validation at construction, enums, equality."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmsync import (
    Address,
    Appointment,
    Attachment,
    CrmContact,
    CrmSnapshot,
    InvalidInput,
    OutlookContact,
    OutlookSnapshot,
    Priority,
    Recurrence,
    ShowAs,
    Task,
    TaskStatus,
    records,
    strategies,
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


WHEN = {"start": NOW, "end": NOW}


@pytest.mark.parametrize(
    ("cls", "field", "required"),
    [
        (Appointment, "priority", WHEN),
        (Appointment, "show_as", WHEN),
        (Appointment, "kind", WHEN),
        (Appointment, "state", WHEN),
        (Task, "status", {}),
        (Task, "priority", {}),
        (OutlookContact, "mailing_address", {}),
        (Recurrence, "pattern", {"start_date": NOW.date()}),
    ],
)
def test_every_enum_field_rejects_a_value_outside_its_enumeration(
    cls: type, field: str, required: dict[str, Any]
) -> None:
    identity = {} if cls is Recurrence else {"key": "r"}
    if cls is Recurrence:
        required = {**required, "pattern": "weekly", "days_of_week": ("monday",)}
    with pytest.raises(InvalidInput) as exc:
        cls(**identity, **{**required, field: "meeting"})
    [line] = problems(exc)
    assert f".{field}: unknown value 'meeting'; expected one of: " in line


class _NoOffset(dt.tzinfo):
    """A zone that knows no UTC offset: a datetime in it is naive, though its tzinfo is set."""

    def utcoffset(self, _: dt.datetime | None) -> None:
        return None

    def dst(self, _: dt.datetime | None) -> None:
        return None

    def tzname(self, _: dt.datetime | None) -> str:
        return "nowhere"


def test_a_datetime_whose_zone_gives_no_utc_offset_is_rejected_as_naive() -> None:
    moment = dt.datetime(2026, 1, 1, tzinfo=_NoOffset())
    assert moment.utcoffset() is None
    with pytest.raises(InvalidInput) as exc:
        Task(key="t", due=moment)
    assert problems(exc) == [
        "Task(key='t').due: datetime must be timezone-aware (it has no UTC offset)"
    ]


@pytest.mark.parametrize("cls", [CrmSnapshot, OutlookSnapshot])
@pytest.mark.parametrize(
    ("removed", "complete", "expected"),
    [
        ("k", False, "removed: expected a list of keys, got str"),
        ("k", True, "removed: expected a list of keys, got str"),
        (["k", " "], False, "removed: expected a non-empty key, got ' '"),
        (["k", 7], False, "removed: expected a non-empty key, got 7"),
        (["c"], False, "removed: 'c' is both removed and present"),
        (["k"], True, "removed: only a partial snapshot (complete: false) lists removed keys"),
    ],
)
def test_a_snapshots_removed_keys_are_checked_one_problem_each(
    cls: type, removed: Any, complete: bool, expected: str
) -> None:
    """A partial snapshot lists non-empty keys it does not hold; a complete one lists none."""
    contact = CrmContact(key="c") if cls is CrmSnapshot else OutlookContact(key="c")
    with pytest.raises(InvalidInput) as exc:
        cls(contacts=[contact], complete=complete, removed=removed)
    assert problems(exc) == [f"{cls.__name__}.{expected}"]


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


def test_a_snapshot_copied_without_construction_still_indexes_its_records() -> None:
    """Dask ships snapshots by pickle, which does not run construction."""
    import pickle

    for snapshot in (
        CrmSnapshot(contacts=[CrmContact(key="c")]),
        OutlookSnapshot(contacts=[OutlookContact(key="o")]),
    ):
        copy = pickle.loads(pickle.dumps(snapshot))  # noqa: S301 - our own bytes
        assert copy == snapshot
        assert dict(copy.by_key["contacts"]) == dict(snapshot.by_key["contacts"])


# --- the validation screen ------------------------------------------------------------------

_SCREENS = {
    records.Address: records._ADDRESS_SCREEN,
    records.CrmContact: records._CRM_CONTACT_SCREEN,
    records.OutlookContact: records._OUTLOOK_CONTACT_SCREEN,
    records.Appointment: records._APPOINTMENT_SCREEN,
    records.Task: records._TASK_SCREEN,
}
_PARIS = ZoneInfo("Europe/Paris")
_ODD: list[Any] = [
    None,
    0,
    -1,
    101,
    2**40,
    1.5,
    True,
    "",
    "  ",
    "x",
    "\ud800",
    "a\udfffb",
    "é",
    ("a@contoso.com",),
    ("",),
    (" ",),
    ("\ud800",),
    ("a", "b", "c", "d"),
    ["a@contoso.com"],
    (1,),
    records.Address(),
    records.AddressKind.HOME,
    records.Priority.HIGH,
    records.TaskStatus.COMPLETED,
    records.ActivityKind.SERVICE_ACTIVITY,
    "high",
    dt.datetime(2026, 1, 1),  # noqa: DTZ001 - naive on purpose
    dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2026, 1, 1, tzinfo=_PARIS),
    dt.datetime.max.replace(tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    dt.date(2026, 1, 1),
    "line 1\nline 2\nline 3\nline 4",
    (records.Attachment(name="a", size=1, content_hash="h"),) * 2,
    (records.Attachment(name="a", size=1, content_hash="h"),),
    ("not an attachment",),
    records.Recurrence(pattern="daily", start_date=dt.date(2026, 1, 1)),
]
_ODD_VALUES = st.sampled_from(_ODD)


@given(
    st.one_of(
        strategies.addresses(),
        strategies.crm_contacts(),
        strategies.outlook_contacts(),
        strategies.appointments(),
        strategies.tasks(),
    ),
    st.data(),
)
def test_the_validation_screen_passes_nothing_the_full_checks_refuse(
    record: Any, data: st.DataObject
) -> None:
    cls = type(record)
    names = [f.name for f in attrs.fields(cls)]
    odd = data.draw(st.dictionaries(st.sampled_from(names), _ODD_VALUES, max_size=3))
    candidate = object.__new__(cls)
    for name in names:
        object.__setattr__(candidate, name, odd.get(name, getattr(record, name)))
    if _SCREENS[cls].passes(candidate):
        candidate._check()  # raises InvalidInput if the screen let a bad record through


def test_the_validation_screen_passes_plain_records_so_they_skip_the_slow_checks() -> None:
    from benchmarks.worlds import build

    world = build(60)
    found = [*world.crm.contacts, *world.outlook.contacts, *world.crm.appointments]
    found += [*world.crm.tasks, *(c.address1 for c in world.crm.contacts)]
    assert all(_SCREENS[type(r)].passes(r) for r in found)


@pytest.mark.parametrize("cls", list(_SCREENS))
def test_the_validation_screen_passes_no_single_bad_field(cls: type) -> None:
    # Every field of a plain valid record, replaced by every odd value in turn.
    world_record = {
        records.Address: records.Address(street="1 Main St", city="Paris"),
        records.CrmContact: records.CrmContact(key="c", emails=("a@contoso.com",)),
        records.OutlookContact: records.OutlookContact(key="c", emails=("a@contoso.com",)),
        records.Appointment: records.Appointment(
            key="a",
            start=dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC),
            end=dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC),
            required=("b@contoso.com",),
        ),
        records.Task: records.Task(key="t", assigned_to=("b@contoso.com",), percent_complete=5),
    }[cls]
    assert _SCREENS[cls].passes(world_record)
    names = [f.name for f in attrs.fields(cls)]
    for name in names:
        for value in [*_ODD, dt.datetime(2025, 1, 1, tzinfo=dt.UTC)]:
            candidate = object.__new__(cls)
            for other in names:
                object.__setattr__(candidate, other, getattr(world_record, other))
            object.__setattr__(candidate, name, value)
            if _SCREENS[cls].passes(candidate):
                candidate._check()


_SAME_CLASS = st.one_of(
    st.tuples(strategies.crm_contacts(), strategies.crm_contacts()),
    st.tuples(strategies.outlook_contacts(), strategies.outlook_contacts()),
    st.tuples(strategies.appointments(), strategies.appointments()),
    st.tuples(strategies.tasks(), strategies.tasks()),
)


@given(_SAME_CLASS, st.data())
def test_rebuild_gives_the_record_attrs_evolve_gives(pair: tuple[Any, Any], data: Any) -> None:
    record, other = pair
    names = [f.name for f in attrs.fields(type(record))]
    chosen = data.draw(st.lists(st.sampled_from(names), unique=True))
    changes = {name: getattr(other, name) for name in chosen}
    expected: Any
    try:
        expected = attrs.evolve(record, **changes)
    except InvalidInput as exc:  # a mix of two valid records can be invalid (end before start)
        expected = exc.lines()
    if isinstance(expected, list):
        with pytest.raises(InvalidInput) as found:
            records.rebuild(record, changes)
        assert found.value.lines() == expected
        return
    rebuilt = records.rebuild(record, changes)
    assert type(rebuilt) is type(record)
    assert [getattr(rebuilt, n) for n in names] == [getattr(expected, n) for n in names]


def test_rebuild_refuses_a_key_that_is_not_a_field_as_evolve_does() -> None:
    task = Task(key="t")
    with pytest.raises(TypeError, match="Task has no field 'subjet'"):
        records.rebuild(task, {"subject": "x", "subjet": "y"})
    with pytest.raises(TypeError):
        attrs.evolve(task, subjet="y")
    assert records.rebuild(task, {}) == task


def test_rebuild_converts_and_checks_a_changed_value_as_evolve_does() -> None:
    meeting = Appointment(key="a", start=NOW, end=NOW + dt.timedelta(hours=1))
    changes = {"priority": "high", "show_as": "busy", "required": ["b@example.com"]}
    rebuilt = records.rebuild(meeting, changes)
    assert rebuilt == attrs.evolve(meeting, **changes)
    assert (rebuilt.priority, rebuilt.show_as, rebuilt.required) == (
        Priority.HIGH,
        ShowAs.BUSY,
        ("b@example.com",),
    )
    with pytest.raises(InvalidInput) as found:
        records.rebuild(meeting, {"priority": "urgent", "end": NOW - dt.timedelta(hours=1)})
    with pytest.raises(InvalidInput) as expected:
        attrs.evolve(meeting, priority="urgent", end=NOW - dt.timedelta(hours=1))
    assert found.value.lines() == expected.value.lines()
    assert len(found.value.lines()) == 2


def test_rebuild_calls_a_class_whose_init_does_more_than_set_fields() -> None:
    # A subclass with a field validator: its __init__ must run, not be bypassed.
    @attrs.frozen
    class Labelled(Task):
        label: str = attrs.field(default="", validator=attrs.validators.instance_of(str))

    task = Labelled(key="t")
    with pytest.raises(TypeError, match="label"):
        records.rebuild(task, {"label": 1})
    assert records.rebuild(task, {"label": "x"}) == attrs.evolve(task, label="x")
