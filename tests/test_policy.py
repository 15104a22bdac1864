"""Tests for crmsync.policy: SyncInput, compose, exclude."""

from __future__ import annotations

import datetime as dt

import pytest

import crmsync
from crmsync import (
    Action,
    Appointment,
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


def test_exclude_requires_a_snake_case_code() -> None:
    with pytest.raises(ValueError, match="snake_case"):
        exclude(compose(), lambda r: True, "Bad Code")


def test_sync_input_refuses_a_now_that_cannot_be_written_in_utc() -> None:
    edge = dt.datetime.fromisoformat("9999-12-31T23:59:59-14:00")
    with pytest.raises(InvalidInput, match=r"now: .* is out of range"):
        SyncInput(crm=CrmSnapshot(), outlook=OutlookSnapshot(), now=edge)
