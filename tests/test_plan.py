"""Tests for crmsync.plan: order, summary, rendering."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmsync import (
    Action,
    Attachment,
    BaselineUpdate,
    CrmContact,
    CrmSnapshot,
    Domain,
    Notice,
    Op,
    OutlookContact,
    OutlookSnapshot,
    Plan,
    Severity,
    Side,
)
from crmsync.plan import join_apart
from support import NOW, plan

_OPS = st.lists(
    st.builds(
        Op,
        action=st.sampled_from(Action),
        side=st.sampled_from(Side),
        domain=st.sampled_from(Domain),
        key=st.sampled_from(["a", "b", "B", "é"]),
        record=st.none()
        | st.builds(
            Attachment,
            name=st.sampled_from(["x", "y"]),
            size=st.integers(0, 2),
            content_hash=st.just("sha256:0"),
        ),
        reason=st.sampled_from(["r", "s"]),
    ),
    max_size=12,
)
_UPDATES = st.lists(
    st.builds(BaselineUpdate, domain=st.sampled_from(Domain), key=st.sampled_from(["a", "b", "c"])),
    max_size=6,
)


def test_ops_and_notices_are_kept_in_one_total_order() -> None:
    a = Op(action=Action.UPDATE, side=Side.OUTLOOK, domain=Domain.TASK, key="b", reason="r")
    b = Op(action=Action.CREATE, side=Side.CRM, domain=Domain.CONTACT, key="z", reason="r")
    c = Op(action=Action.CREATE, side=Side.OUTLOOK, domain=Domain.CONTACT, key="a", reason="r")
    n1 = Notice(domain=Domain.TASK, key="a", code="x", message="m")
    n2 = Notice(domain=Domain.CONTACT, key="b", code="y", message="m")
    planned = Plan(ops=(a, b, c), notices=(n1, n2), now=NOW)
    assert planned.ops == (b, c, a)
    assert planned.notices == (n2, n1)


@given(_OPS, _UPDATES)
def test_a_plan_orders_ops_and_updates_by_their_sort_keys_stably(
    ops: list[Op], updates: list[BaselineUpdate]
) -> None:
    # The plan builds its sort keys at C speed; `sort_key` is the order's definition.
    planned = Plan(ops=ops, baseline_updates=updates, now=NOW)
    assert list(planned.ops) == sorted(ops, key=Op.sort_key)
    assert list(planned.baseline_updates) == sorted(updates, key=BaselineUpdate.sort_key)
    assert [id(op) for op in planned.ops] == [
        id(op) for op in sorted(ops, key=Op.sort_key)
    ]  # equal ops keep their input order


@given(_OPS, _UPDATES, st.lists(st.sampled_from(Domain), min_size=1, max_size=4))
def test_plans_over_different_domains_join_into_the_order_one_plan_gives(
    ops: list[Op], updates: list[BaselineUpdate], cut: list[Domain]
) -> None:
    # One plan per group of domains, given in any order: joined without sorting
    # again, they are what one plan holding everything would hold.
    groups = [set(cut), set(Domain) - set(cut)]
    plans = [
        Plan(
            ops=[op for op in ops if op.domain in group],
            baseline_updates=[u for u in updates if u.domain in group],
            now=NOW,
        )
        for group in groups
    ]
    joined = join_apart(reversed(plans))
    order = list(Domain)
    spans = sorted(
        (min(found), max(found))
        for plan in plans
        if (found := [order.index(x.domain) for x in (*plan.ops, *plan.baseline_updates)])
    )
    if len(spans) == 2 and spans[0][1] >= spans[1][0]:
        assert joined is None  # the groups' domains interleave
        return
    places = {(u.domain, u.key) for u in updates}
    if len({op.target for op in ops}) < len(ops) or len(places) < len(updates):
        assert joined is None  # two ops or updates on one record: merged entry by entry
        return
    whole = Plan(ops=ops, baseline_updates=updates, now=NOW)
    assert joined == (whole.ops, (), whole.baseline_updates)


def test_a_plan_with_two_ops_on_one_record_does_not_join() -> None:
    delete = Op(action=Action.DELETE, side=Side.CRM, domain=Domain.TASK, key="a", reason="r")
    update = Op(action=Action.UPDATE, side=Side.CRM, domain=Domain.TASK, key="a", reason="r")
    other = Op(action=Action.DELETE, side=Side.CRM, domain=Domain.CONTACT, key="a", reason="r")
    contacts = Plan(ops=(other,), now=NOW)
    assert join_apart([Plan(ops=(delete, update), now=NOW), contacts]) is None
    assert join_apart([Plan(ops=(delete, delete), now=NOW), contacts]) is None
    # Two attachment ops on one appointment act on two targets.
    attachments = [
        Op(
            action=Action.CREATE,
            side=Side.CRM,
            domain=Domain.ATTACHMENT,
            key="a",
            record=Attachment(name=name, size=1, content_hash="sha256:0"),
            reason="r",
        )
        for name in ("x", "y")
    ]
    joined = join_apart([Plan(ops=attachments, now=NOW), contacts])
    assert joined is not None
    assert joined[0] == (other, *attachments)


def test_plans_sharing_a_domain_do_not_join() -> None:
    op = Op(action=Action.DELETE, side=Side.CRM, domain=Domain.TASK, key="a", reason="r")
    other = Op(action=Action.DELETE, side=Side.CRM, domain=Domain.CONTACT, key="a", reason="r")
    both = Plan(ops=(op, other), now=NOW)
    assert join_apart([both, Plan(ops=(op,), now=NOW)]) is None
    assert join_apart([Plan(ops=(op,), now=NOW), Plan(ops=(other,), now=NOW)]) == (
        (other, op),
        (),
        (),
    )


def test_notices_that_differ_only_in_severity_keep_one_order() -> None:
    # A tie in the sort key would leave their order to a set's iteration,
    # which changes with the hash seed from one process to the next.
    notices = [
        Notice(domain=Domain.TASK, key="a", code="x", message="m", severity=severity)
        for severity in Severity
    ]
    assert len({n.sort_key() for n in notices}) == len(notices)  # no tie, whatever the seed
    orders = {Plan(notices=order, now=NOW).notices for order in (notices, notices[::-1])}
    assert len(orders) == 1
    assert [n.severity for n in orders.pop()] == sorted(Severity, key=str)


@pytest.mark.parametrize(
    ("cls", "values"),
    [
        (Op, (Action.DELETE, Side.CRM, Domain.TASK, "a", (), None, "r")),
        (Notice, (Domain.TASK, "a", "x", "m")),
        (BaselineUpdate, (Domain.TASK, "a")),
        (Plan, ((), (), NOW)),
    ],
)
def test_the_plans_records_of_more_than_three_fields_are_keyword_only(
    cls: type, values: tuple[object, ...]
) -> None:
    """Records with more than three fields are built by name, never by position."""
    names = [f.name for f in attrs.fields(cls)]
    cls(**dict(zip(names, values, strict=False)))  # complete by name
    with pytest.raises(TypeError):
        cls(*values)


def test_is_empty_ignores_repeating_notices() -> None:
    planned = plan(
        CrmSnapshot(), OutlookSnapshot(contacts=[OutlookContact(key="o", tracked=False)])
    )
    assert planned.is_empty
    assert not planned.has_data_loss


def test_summary_counts_ops_per_domain_side_action_and_notices_per_code() -> None:
    planned = plan(
        CrmSnapshot(contacts=[CrmContact(key="a"), CrmContact(key="b")]),
        OutlookSnapshot(contacts=[OutlookContact(key="o", tracked=False)]),
    )
    assert planned.summary() == {
        "ops": {"contact.outlook.create": 2},
        "notices": {"not_tracked": 1},
    }


def test_render_groups_by_domain_and_side_with_reasons_and_sentences() -> None:
    planned = plan(
        CrmSnapshot(contacts=[CrmContact(key="a", first_name="Ann")]),
        OutlookSnapshot(contacts=[OutlookContact(key="o", tracked=False)]),
    )
    text = planned.render()
    assert "Contacts\n  in Outlook:\n    create  a  Ann  (new_in_crm)" in text
    assert "[info] not_tracked o: This Outlook item is not tracked" in text


def test_has_data_loss_follows_data_loss_notices() -> None:
    notice = Notice(
        domain=Domain.CONTACT,
        key="",
        code="mass_delete_blocked",
        message="m",
        severity=Severity.DATA_LOSS,
    )
    assert Plan(notices=(notice,), now=NOW).has_data_loss
    assert "WARNING: this plan reports data loss" in Plan(notices=(notice,), now=NOW).render()


def test_an_enumeration_value_is_described_by_its_value_not_its_repr() -> None:
    from crmsync import AddressKind, TaskStatus
    from crmsync.plan import describe

    assert describe(AddressKind.HOME) == "home"
    assert describe((TaskStatus.COMPLETED,)) == "[completed]"


def test_reread_names_the_records_a_plan_left_pending_and_nothing_else() -> None:
    def notice(domain: Domain, key: str, code: str) -> Notice:
        return Notice(domain=domain, key=key, code=code, message="m")

    planned = Plan(
        notices=(
            notice(Domain.CONTACT, "c1", "conflict"),
            notice(Domain.CONTACT, "c2", "address_remap_conflict"),
            notice(Domain.APPOINTMENT, "a1", "attachment_deferred"),
            notice(Domain.CONTACT, "c5", "ambiguous_match"),
            notice(Domain.TASK, "", "mass_delete_blocked"),
            notice(Domain.CONTACT, "c3", "conflict_resolved"),  # settled: nothing pending
            notice(Domain.CONTACT, "c4", "not_tracked"),
        ),
        now=NOW,
    )
    assert planned.reread == {
        (Domain.CONTACT, "c1"),
        (Domain.CONTACT, "c2"),
        (Domain.APPOINTMENT, "a1"),
        (Domain.CONTACT, "c5"),
    }
    assert planned.reread_domains == {Domain.TASK}
