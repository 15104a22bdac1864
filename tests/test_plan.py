"""Tests for crmsync.plan: order, summary, rendering."""

from __future__ import annotations

from crmsync import (
    Action,
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
from support import NOW, plan


def test_ops_and_notices_are_kept_in_one_total_order() -> None:
    a = Op(action=Action.UPDATE, side=Side.OUTLOOK, domain=Domain.TASK, key="b", reason="r")
    b = Op(action=Action.CREATE, side=Side.CRM, domain=Domain.CONTACT, key="z", reason="r")
    c = Op(action=Action.CREATE, side=Side.OUTLOOK, domain=Domain.CONTACT, key="a", reason="r")
    n1 = Notice(domain=Domain.TASK, key="a", code="x", message="m")
    n2 = Notice(domain=Domain.CONTACT, key="b", code="y", message="m")
    planned = Plan(ops=(a, b, c), notices=(n1, n2), now=NOW)
    assert planned.ops == (b, c, a)
    assert planned.notices == (n2, n1)


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
