"""Tests for crmsync.policy: SyncInput, compose, exclude."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

import crmsync
from crmsync import (
    Action,
    Address,
    AddressSync,
    Appointment,
    Baseline,
    BaselineUpdate,
    CrmContact,
    CrmSnapshot,
    Domain,
    InvalidInput,
    Op,
    OutlookContact,
    OutlookSnapshot,
    Plan,
    PolicyConflict,
    Settings,
    Side,
    SyncInput,
    Task,
    appointments,
    compose,
    contacts,
    default_policies,
    exclude,
    tasks,
)
from crmsync.policy import finish_plan
from support import NOW, USER


def inp(crm: CrmSnapshot, outlook: OutlookSnapshot) -> SyncInput:
    return SyncInput(crm=crm, outlook=outlook, user=USER, now=NOW)


def test_sync_input_refuses_a_naive_now() -> None:
    with pytest.raises(InvalidInput, match=r"now: expected a timezone-aware datetime"):
        SyncInput(crm=CrmSnapshot(), outlook=OutlookSnapshot(), now=dt.datetime(2026, 1, 1))  # noqa: DTZ001


def test_sync_input_names_every_input_of_the_wrong_type() -> None:
    with pytest.raises(InvalidInput) as exc:
        SyncInput(
            crm={},  # type: ignore[arg-type]
            outlook=CrmSnapshot(),  # type: ignore[arg-type]
            settings=None,  # type: ignore[arg-type]
            baseline=CrmSnapshot(),  # type: ignore[arg-type]
            user=7,  # type: ignore[arg-type]
            now=NOW,
        )
    assert exc.value.lines() == [
        "SyncInput.crm: expected CrmSnapshot",
        "SyncInput.outlook: expected OutlookSnapshot",
        "SyncInput.settings: expected Settings",
        "SyncInput.baseline: expected Baseline or None",
        "SyncInput.user: expected an e-mail address",
    ]


def test_plan_is_compose_over_the_default_policies() -> None:
    crm = CrmSnapshot(contacts=[CrmContact(key="a")])
    composed = compose(*default_policies())(inp(crm, OutlookSnapshot()))
    assert composed == crmsync.plan(crm, OutlookSnapshot(), user=USER, now=NOW)


def test_compose_refuses_two_ops_that_disagree_on_the_same_record() -> None:
    def deleter(i: SyncInput) -> Plan:
        op = Op(action=Action.DELETE, side=Side.OUTLOOK, domain=Domain.CONTACT, key="a", reason="x")
        return finish_plan(i, [op], [], [])

    def creator(i: SyncInput) -> Plan:
        op = Op(
            action=Action.CREATE,
            side=Side.OUTLOOK,
            domain=Domain.CONTACT,
            key="a",
            record=OutlookContact(key="a"),
            reason="y",
        )
        return finish_plan(i, [op], [], [])

    with pytest.raises(PolicyConflict, match="disagree on contact 'a'"):
        compose(deleter, creator)(inp(CrmSnapshot(), OutlookSnapshot()))
    # Identical ops from two policies are kept once.
    assert len(compose(deleter, deleter)(inp(CrmSnapshot(), OutlookSnapshot())).ops) == 1

    # So are they in one policy's plan, and two different ops on one record are refused.
    def twice(i: SyncInput) -> Plan:
        return finish_plan(i, [*deleter(i).ops, *deleter(i).ops], [], [])

    def both(i: SyncInput) -> Plan:
        return finish_plan(i, [*deleter(i).ops, *creator(i).ops], [], [])

    assert len(compose(twice)(inp(CrmSnapshot(), OutlookSnapshot())).ops) == 1
    with pytest.raises(PolicyConflict, match="disagree on contact 'a'"):
        compose(both)(inp(CrmSnapshot(), OutlookSnapshot()))


def test_compose_keeps_one_baseline_update_per_record_even_from_one_policy() -> None:
    unlink = BaselineUpdate(domain=Domain.TASK, key="a", unlinked=True)
    forget = BaselineUpdate(domain=Domain.TASK, key="a")

    def twice(i: SyncInput) -> Plan:
        return finish_plan(i, [], [], [unlink, unlink])

    def both(i: SyncInput) -> Plan:
        return finish_plan(i, [], [], [unlink, forget])

    planned = compose(twice)(inp(CrmSnapshot(), OutlookSnapshot()))
    assert planned.baseline_updates == (unlink,)
    with pytest.raises(PolicyConflict, match="disagree on the baseline of task 'a'"):
        compose(both)(inp(CrmSnapshot(), OutlookSnapshot()))


def test_compose_of_plans_whose_domains_interleave_gives_the_order_one_plan_gives() -> None:
    """A policy over contacts and tasks composed with one over appointments: their domains
    interleave, so the plans are merged entry by entry, not joined end to end."""
    crm = CrmSnapshot(
        contacts=[CrmContact(key="c")],
        appointments=[Appointment(key="a", subject="Review", start=NOW, end=NOW)],
        tasks=[Task(key="t", subject="Call")],
    )
    outlook = OutlookSnapshot()
    contacts_and_tasks = compose(contacts.policy, tasks.policy)
    for policies in (
        (contacts_and_tasks, appointments.policy),
        (appointments.policy, contacts_and_tasks),
    ):
        planned = compose(*policies)(inp(crm, outlook))
        assert [op.domain for op in planned.ops] == [
            Domain.CONTACT,
            Domain.APPOINTMENT,
            Domain.TASK,
        ]
        assert planned == crmsync.plan(crm, outlook, user=USER, now=NOW)


def test_compose_refuses_a_disagreement_inside_another_plans_span_of_domains() -> None:
    """A plan over contacts to tasks and one over contacts only share a domain: a
    disagreement between them on a contact is refused, whichever comes first."""

    def op(action: Action, domain: Domain, key: str) -> Op:
        return Op(action=action, side=Side.OUTLOOK, domain=domain, key=key, reason="x")

    def wide(i: SyncInput) -> Plan:
        ops = [op(Action.DELETE, Domain.CONTACT, "c"), op(Action.DELETE, Domain.TASK, "t")]
        return finish_plan(i, ops, [], [])

    def narrow(i: SyncInput) -> Plan:
        return finish_plan(i, [op(Action.UPDATE, Domain.CONTACT, "c")], [], [])

    for policies in ((wide, narrow), (narrow, wide)):
        with pytest.raises(PolicyConflict, match="disagree on contact 'c'"):
            compose(*policies)(inp(CrmSnapshot(), OutlookSnapshot()))


def test_compose_keeps_equal_baseline_updates_once_even_as_distinct_objects() -> None:
    def twice(i: SyncInput) -> Plan:
        updates = [BaselineUpdate(domain=Domain.TASK, key="a", unlinked=True) for _ in range(2)]
        return finish_plan(i, [], [], updates)

    planned = compose(twice, twice)(inp(CrmSnapshot(), OutlookSnapshot()))
    assert planned.baseline_updates == (BaselineUpdate(domain=Domain.TASK, key="a", unlinked=True),)


def test_exclude_skips_matching_records_with_a_notice_and_changes_nothing_else() -> None:
    crm = CrmSnapshot(contacts=[CrmContact(key="a", notes="#private"), CrmContact(key="b")])
    policy = exclude(
        compose(*default_policies()),
        lambda r: isinstance(r, CrmContact) and "#private" in r.notes,
        "private_contact",
    )
    planned = crmsync.plan(crm, OutlookSnapshot(), user=USER, now=NOW, policy=policy)
    assert [op.key for op in planned.ops] == ["b"]
    [notice] = planned.notices
    assert (notice.code, notice.key, notice.side) == ("private_contact", "a", Side.CRM)


def _private(record: object) -> bool:
    return isinstance(record, CrmContact) and "#private" in record.notes


@pytest.mark.parametrize(
    ("crm_partial", "outlook_partial"), [(True, False), (False, True), (True, True)]
)
@pytest.mark.parametrize("settings_changed", [False, True])
def test_exclude_reads_a_partial_snapshot_through_to_the_baseline(
    crm_partial: bool, outlook_partial: bool, settings_changed: bool
) -> None:
    """A record a delta round does not deliver is the baseline's: a rule that skips it
    skips it as with complete snapshots, and the other side's edit of it does not travel."""
    # r is in neither delta; its home address syncs only once all three addresses do.
    crm = CrmSnapshot(
        contacts=[
            CrmContact(key="p", notes="#private", job_title="A"),
            CrmContact(key="q"),
            CrmContact(key="r", notes="#private", address2=Address(street="1 Home Rd")),
        ]
    )
    outlook = OutlookSnapshot(
        contacts=[
            OutlookContact(key="p", notes="#private", job_title="A"),
            OutlookContact(key="q"),
            OutlookContact(key="r"),
        ]
    )
    baseline = Baseline(crm=crm, outlook=outlook)
    edited = OutlookContact(key="p", notes="#private", job_title="B")
    settings = Settings(address_sync=AddressSync.ALL_THREE) if settings_changed else Settings()
    # Both edits: Outlook's job title of the private contact, and a new CRM contact.
    new = CrmContact(key="n", job_title="New")
    complete = (
        attrs.evolve(crm, contacts=[*crm.contacts, new]),
        attrs.evolve(outlook, contacts=[edited, *outlook.contacts[1:]]),
    )
    delta = (
        CrmSnapshot(contacts=[new], complete=False) if crm_partial else complete[0],
        OutlookSnapshot(contacts=[edited], complete=False) if outlook_partial else complete[1],
    )
    policy = exclude(compose(*default_policies()), _private, "private_contact")

    def planned(snapshots: tuple[CrmSnapshot, OutlookSnapshot]) -> Plan:
        return crmsync.plan(*snapshots, settings, baseline, user=USER, now=NOW, policy=policy)

    partial, whole = planned(delta), planned(complete)
    assert [(op.key, op.side, op.action) for op in partial.ops] == [
        ("n", Side.OUTLOOK, Action.CREATE)
    ]
    assert partial.ops == whole.ops
    assert partial.baseline_updates == whole.baseline_updates
    skipped = [n.key for n in partial.notices if n.code == "private_contact"]
    if crm_partial and outlook_partial and not settings_changed:
        # Two deltas under the same settings: the plan reads only the keys they name.
        assert skipped == ["p"]
    else:
        assert skipped == ["p", "r"]
        assert partial.notices == whole.notices


def test_exclude_requires_a_snake_case_code() -> None:
    with pytest.raises(ValueError, match="snake_case"):
        exclude(compose(), lambda r: True, "Bad Code")


def test_sync_input_refuses_a_now_that_cannot_be_written_in_utc() -> None:
    edge = dt.datetime.fromisoformat("9999-12-31T23:59:59-14:00")
    with pytest.raises(InvalidInput, match=r"now: .* is out of range"):
        SyncInput(crm=CrmSnapshot(), outlook=OutlookSnapshot(), now=edge)
