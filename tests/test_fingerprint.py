"""The fingerprint's fast text encoders write exactly the bytes `repr` writes.

The plan's fingerprint is a digest of `repr` text; `crmsync.fingerprint` writes that text
with per-class encoders instead (issue 16). A fingerprint that changed by one byte would make
`apply` refuse every plan made before an upgrade, so the encoders are checked against `repr`
itself, written here the slow way, over every record shape the strategies draw, and the
fingerprints of a few fixed plans are pinned, so that such a change cannot land unnoticed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from hypothesis import given
from hypothesis import strategies as st

import crmsync
from crmsync import (
    Address,
    Appointment,
    Attachment,
    CrmContact,
    CrmSnapshot,
    OutlookContact,
    OutlookSnapshot,
    Task,
)
from crmsync.fingerprint import (
    _digest_entry,
    _iso_text,
    _Moments,
    _plain_text,
    _record_text,
    fingerprint,
    text,
)
from crmsync.plan import Action, Op
from crmsync.records import ActivityKind, Domain, Priority, Recurrence, Side, TaskStatus
from crmsync.strategies import (
    addresses,
    appointments,
    attachments,
    crm_contacts,
    outlook_contacts,
    recurrences,
    tasks,
)

RECORDS = st.one_of(crm_contacts(), outlook_contacts(), appointments(), tasks())


def _slow_plain(value: Any) -> Any:
    """The content digest's view of a value, as crmsync wrote it before the encoders."""
    if isinstance(value, Appointment | Task) or type(value).__name__.endswith("Contact"):
        values = []
        for field in attrs.fields(type(value)):
            item = getattr(value, field.name)
            if "datetime" in str(field.type) and item is not None:
                item = item.isoformat()
            values.append(item)
        return (type(value).__name__, *values)
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _slow_entry(domain: Domain, side: Side, key: str, record: Any) -> bytes:
    values = None
    if record is not None:
        values = [
            getattr(record, f.name) for f in attrs.fields(type(record)) if f.name != "modified"
        ]
    return repr((domain.value, side.value, key, values)).encode()


@given(RECORDS)
def test_a_record_writes_as_repr_writes_it(record: Any) -> None:
    assert text(record) == repr(record)


@given(st.one_of(addresses(), attachments(), recurrences(), st.sampled_from(list(Priority))))
def test_a_nested_value_writes_as_repr_writes_it(value: Any) -> None:
    assert text(value) == repr(value)
    assert text((value,)) == repr((value,))
    assert text((value, value)) == repr((value, value))


@given(RECORDS, st.datetimes(timezones=st.just(dt.UTC)) | st.none())
def test_a_record_enters_the_content_digest_as_before(record: Any, moment: Any) -> None:
    record = attrs.evolve(record, modified=moment)
    assert _plain_text(record) == repr(_slow_plain(record))


@given(RECORDS, st.sampled_from(list(Domain)), st.sampled_from(list(Side)), st.text())
def test_a_record_enters_the_records_digest_as_before(
    record: Any, domain: Domain, side: Side, key: str
) -> None:
    try:
        expected = _slow_entry(domain, side, key, record)
    except UnicodeEncodeError:
        return  # a lone surrogate in the key: input validation refuses those first
    assert _digest_entry(domain, side, key, record) == expected
    assert _digest_entry(domain, side, key, None) == _slow_entry(domain, side, key, None)


def test_values_the_records_do_not_declare_still_write_as_repr() -> None:
    paris = dt.datetime(2026, 11, 25, 9, tzinfo=ZoneInfo("Europe/Paris"))
    odd: list[Any] = [
        None,
        paris,
        dt.date(2026, 11, 25),
        ("a", Address(street="1 Rue"), ActivityKind.SERVICE_ACTIVITY),
        (),
        ((1, 2),),
        TaskStatus.COMPLETED,
        Attachment(name="é\n'\"", size=0, content_hash="sha256:0"),
        Recurrence(pattern="weekly", start_date=dt.date(2026, 1, 1), days_of_week=("monday",)),
        'it\'s "quoted"',
        3.5,
    ]
    for value in odd:
        assert text(value) == repr(value)
        assert _plain_text(value) == repr(_slow_plain(value))


class _SubAddress(Address):
    """An address subclass: validation accepts it, and `repr` names it."""


@attrs.define(frozen=True)
class _WiderAddress(Address):
    floor: str = ""


def test_a_nested_subclass_writes_as_repr_writes_it() -> None:
    for address in (_SubAddress(street="1 Rue"), _WiderAddress(street="1 Rue", floor="3")):
        for record in (
            CrmContact(key="k", address1=address),
            OutlookContact(key="k", home_address=address),
        ):
            assert text(record) == repr(record)
            assert _plain_text(record) == repr(_slow_plain(record))
            entry = _digest_entry(Domain.CONTACT, Side.CRM, "k", record)
            assert entry == _slow_entry(Domain.CONTACT, Side.CRM, "k", record)


class _SubRecurrence(Recurrence):
    """A recurrence subclass in an optional nested field: `repr` names it too."""


def test_an_optional_nested_record_writes_as_repr_writes_it_none_exact_or_subclass() -> None:
    start = dt.date(2026, 11, 30)
    for recurrence in (None, _WEEKLY, _SubRecurrence(pattern="daily", start_date=start)):
        moment = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
        for record in (
            Appointment(key="a", start=moment, end=moment, recurrence=recurrence),
            Task(key="t", recurrence=recurrence),
        ):
            assert text(record) == repr(record)
            assert _plain_text(record) == repr(_slow_plain(record))
            entry = _digest_entry(Domain.TASK, Side.CRM, "k", record)
            assert entry == _slow_entry(Domain.TASK, Side.CRM, "k", record)


PARIS = ZoneInfo("Europe/Paris")
_ZONES = [dt.UTC, dt.timezone(dt.timedelta(0), "Z"), dt.timezone(dt.timedelta(hours=1)), PARIS]


# The days Paris moves its clocks in 2026 (naive: Hypothesis draws wall times).
_CLOCK_CHANGES = [dt.datetime(2026, 3, 29), dt.datetime(2026, 10, 25)]  # noqa: DTZ001


def _equal_moments_written_apart() -> list[dt.datetime]:
    """Moments that are equal (as dict keys) but whose `repr` or ISO text differ.

    02:30 on 2026-10-25 happens twice in Paris: the two folds compare equal in
    their zone but write differently; the same instant in UTC, in a UTC named
    "Z" and at a fixed +01:00 compares equal across zones.
    """
    first = dt.datetime(2026, 10, 25, 2, 30, tzinfo=PARIS)
    second = first.replace(fold=1)
    instant = dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)
    return [
        first,
        second,
        instant,
        instant.replace(tzinfo=_ZONES[1]),
        instant.astimezone(_ZONES[2]),
        first,
    ]


def _tasks(moments: list[dt.datetime]) -> list[Task]:
    return [Task(key=f"t{i}", due=moment, modified=moment) for i, moment in enumerate(moments)]


def _slow_fingerprint(tasks: list[Task]) -> str:
    entries = [
        _slow_entry(Domain.TASK, side, task.key, task)
        for task in sorted(tasks, key=lambda t: t.key)
        for side in (Side.CRM, Side.OUTLOOK)
    ]
    return "sha256:" + hashlib.sha256(b"".join(entries)).hexdigest()


def _check_one_digest(tasks: list[Task]) -> None:
    """Every record written with one digest's memo of moments writes as repr writes it."""
    records, plain = _Moments(repr), _Moments(_iso_text)
    for task in tasks:
        assert _record_text(task, records) == _slow_entry(
            Domain.TASK, Side.CRM, "k", task
        ).decode().removeprefix("('task', 'crm', 'k', ").removesuffix(")")
        assert _plain_text(task, plain) == repr(_slow_plain(task))
    ops = [
        Op(action=Action.UPDATE, side=Side.OUTLOOK, domain=Domain.TASK, key=t.key, reason="r")
        for t in tasks
    ]
    found = fingerprint(ops, CrmSnapshot(tasks=tasks), OutlookSnapshot(tasks=tasks))
    assert found == _slow_fingerprint(tasks)


def test_equal_moments_that_write_differently_keep_their_own_text_in_one_digest() -> None:
    moments = _equal_moments_written_apart()
    _check_one_digest(_tasks(moments))
    _check_one_digest(_tasks(moments[::-1]))


@given(
    st.lists(
        st.tuples(
            st.sampled_from(_CLOCK_CHANGES).flatmap(
                lambda day: st.datetimes(min_value=day, max_value=day + dt.timedelta(days=1))
            ),
            st.sampled_from(_ZONES),
            st.integers(0, 1),
        ).map(lambda m: m[0].replace(tzinfo=m[1], fold=m[2])),
        max_size=8,
    )
)
def test_moments_around_clock_changes_write_as_repr_writes_them_in_one_digest(
    moments: list[dt.datetime],
) -> None:
    _check_one_digest(_tasks(moments))


# --- pinned digests ----------------------------------------------------------------------

_AT = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
_SOON = dt.datetime(2026, 11, 26, 14, 0, tzinfo=dt.UTC)
_WEEKLY = Recurrence(
    pattern="weekly", days_of_week=("monday", "thursday"), start_date=dt.date(2026, 11, 30)
)


def _pinned_plans() -> dict[str, Any]:
    """Fixed plans, from fixed inputs, over each domain: creates and one-sided updates under
    the default settings (attachments on), a recurring series and an attachment included."""
    ann = CrmContact(key="c1", first_name="Ann", last_name="Lee", emails=("ann@contoso.com",))
    bob = CrmContact(key="c2", first_name="Bob", job_title="Buyer")
    bob_outlook = OutlookContact(key="c2", first_name="Bob", job_title="Buyer")
    review = Appointment(
        key="a1",
        subject="Review",
        location="Room 1",
        start=_SOON,
        end=_SOON + dt.timedelta(hours=1),
        organizer="ann@contoso.com",
        required=("bob@contoso.com",),
    )
    standup = Appointment(
        key="a2",
        subject="Stand-up",
        start=_SOON,
        end=_SOON + dt.timedelta(minutes=15),
        organizer="ann@contoso.com",
        recurrence=_WEEKLY,
    )
    slides = Attachment(name="slides.pdf", size=2048, content_hash="sha256:5l1d35")
    call = Task(key="t1", subject="Call Bob", due=_SOON, priority="high")
    baseline = crmsync.Baseline(
        crm=CrmSnapshot(contacts=[bob], appointments=[review]),
        outlook=OutlookSnapshot(contacts=[bob_outlook], appointments=[review]),
        settings=crmsync.Settings(sync_appointment_attachments=True),
    )
    settings = baseline.settings

    def plan(crm: CrmSnapshot, outlook: OutlookSnapshot, base: Any = None) -> Any:
        return crmsync.plan(crm, outlook, settings, base, user="ann@contoso.com", now=_AT)

    return {
        "creates": plan(
            CrmSnapshot(contacts=[ann], appointments=[standup], tasks=[call]), OutlookSnapshot()
        ),
        "updates": plan(
            CrmSnapshot(
                contacts=[attrs.evolve(bob, job_title="Head buyer")],
                appointments=[attrs.evolve(review, attachments=(slides,))],
            ),
            OutlookSnapshot(
                contacts=[bob_outlook], appointments=[attrs.evolve(review, location="Room 2")]
            ),
            baseline,
        ),
    }


# The fingerprints of `_pinned_plans()`, as this release writes them.
PINNED = {
    "creates": (
        "sha256:3e448d28a49304663723a2231dc2c74d29b690d3bae06ad6ede0f26f8d4e7022"
        ":a55d49800d47ca5066b755f6e4589c9284cd4983c21ae03932e094d1b604642c"
    ),
    "updates": (
        "sha256:6091d288b4a3816ab3cf4e1ad1e18f908611a2dcceab3c65876db8367cae6bba"
        ":e2f2a9a426269ce6fcb02419f4871846d6e5467e5c1cee964149bab86667992e"
    ),
}


def test_the_fingerprint_of_a_fixed_plan_is_pinned_across_releases() -> None:
    """A stored plan is applied by a later release only if that release writes its
    fingerprint byte for byte as the release that made it did."""
    for name, planned in _pinned_plans().items():
        assert planned.fingerprint == PINNED[name], (
            f"The fingerprint of the pinned plan {name!r} changed: every plan saved by an "
            "earlier release would now be refused as AlteredPlan. If the change is a mistake "
            "(a writer no longer writes what `repr` writes), fix it. If the format changes on "
            "purpose: bump FORMAT_VERSION in src/crmsync/plan.py (the plan's format_version) "
            "and teach crmsync.loads the old one or refuse it clearly, update PINNED in "
            "tests/test_fingerprint.py, and say so under ## [Unreleased] in CHANGELOG.md."
        )
