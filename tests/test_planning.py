"""Tests for crmsync.planning: `crmsync.refine` (drops or changes ops) and `crmsync.hold`.

A refined plan is a finished plan again: its baseline updates agree with the ops it keeps,
so dropped work stays pending and changed work is not proposed again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest

import crmsync
from crmsync import (
    Action,
    Address,
    AddressRemap,
    AddressSync,
    AlteredPlan,
    Appointment,
    Attachment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    Direction,
    Domain,
    Op,
    OutlookContact,
    OutlookSnapshot,
    Plan,
    PolicyConflict,
    Settings,
    Side,
    StalePlan,
    SyncInput,
    Task,
    compose,
    contacts,
    default_policies,
    refine,
)
from support import NOW, USER, codes, converge


def _settles(
    crm: CrmSnapshot, outlook: OutlookSnapshot, baseline: Baseline | None, policy: Any
) -> crmsync.Synced:
    """Plans with `policy` and applies the plan; the next plan with it must be empty."""
    planned = crmsync.plan(crm, outlook, None, baseline, user=USER, now=NOW, policy=policy)
    synced = crmsync.apply(planned, crm, outlook, baseline)
    again = crmsync.plan(
        synced.crm, synced.outlook, None, synced.baseline, user=USER, now=NOW, policy=policy
    )
    assert again.is_empty, again.render()
    return synced


def test_plan_without_a_user_creates_crm_records_owned_by_no_one() -> None:
    """`user` names the syncing user, who owns what the plan creates in the CRM."""
    outlook = OutlookSnapshot(contacts=[OutlookContact(key="o", first_name="Ann")])
    for user, owner in ((None, ""), (USER, USER)):
        given = {} if user is None else {"user": user}
        [op] = crmsync.plan(CrmSnapshot(), outlook, now=NOW, **given).ops
        assert (op.action, op.side, op.record.owner) == (Action.CREATE, Side.CRM, owner)


def _linked(*keys: str) -> tuple[CrmSnapshot, OutlookSnapshot, Baseline]:
    crm = CrmSnapshot(contacts=[CrmContact(key=k, job_title="A") for k in keys])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key=k, job_title="A") for k in keys])
    return crm, outlook, Baseline(crm=crm, outlook=outlook)


def _edited_in_crm(*keys: str) -> CrmSnapshot:
    return CrmSnapshot(contacts=[CrmContact(key=k, job_title="B") for k in keys])


def test_refine_drops_an_op_and_the_work_stays_pending_for_the_next_plan() -> None:
    crm, outlook, baseline = _linked("k1", "k2")
    crm = _edited_in_crm("k1", "k2")

    def not_k1(ops: tuple[Op, ...], _: SyncInput) -> list[Op]:
        return [op for op in ops if op.key != "k1"]

    policy = refine(compose(*default_policies()), not_k1)
    planned = crmsync.plan(crm, outlook, None, baseline, user=USER, now=NOW, policy=policy)
    assert [op.key for op in planned.ops] == ["k2"]
    synced = crmsync.apply(planned, crm, outlook, baseline)  # fingerprinted anew: it applies
    assert [c.job_title for c in synced.outlook.contacts] == ["A", "B"]
    # k1's edit is neither forgotten nor overwritten: the next plan proposes it again.
    again = crmsync.plan(synced.crm, synced.outlook, None, synced.baseline, user=USER, now=NOW)
    assert [(op.key, op.side, op.changes[0].new) for op in again.ops] == [("k1", Side.OUTLOOK, "B")]


def test_refine_changes_an_op_and_the_next_plan_is_empty() -> None:
    crm, outlook, baseline = _linked("k")
    crm = _edited_in_crm("k")

    def labelled(ops: tuple[Op, ...], _: SyncInput) -> list[Op]:
        return [
            attrs.evolve(
                op, changes=tuple(attrs.evolve(c, new=f"{c.new} (CRM)") for c in op.changes)
            )
            if op.side is Side.OUTLOOK
            else op
            for op in ops
        ]

    policy = refine(compose(*default_policies()), labelled)
    synced = _settles(crm, outlook, baseline, policy)
    assert synced.outlook.contacts[0].job_title == "B (CRM)"


def test_refine_reads_a_partial_snapshot_through_to_the_baseline() -> None:
    """A record a partial snapshot does not hold is the baseline's: a changed op on it is
    refined as with complete snapshots, not refused as gone."""
    crm, outlook, baseline = _linked("k", "other")
    edited = CrmContact(key="k", job_title="B")

    def labelled(ops: tuple[Op, ...], _: SyncInput) -> list[Op]:
        return [
            attrs.evolve(op, changes=tuple(attrs.evolve(c, new=f"{c.new}!") for c in op.changes))
            for op in ops
        ]

    policy = refine(compose(*default_policies()), labelled)
    delta = CrmSnapshot(contacts=[edited], complete=False), OutlookSnapshot(complete=False)
    whole = CrmSnapshot(contacts=[edited, crm.contacts[1]]), outlook
    partial_plan = crmsync.plan(*delta, None, baseline, user=USER, now=NOW, policy=policy)
    complete_plan = crmsync.plan(*whole, None, baseline, user=USER, now=NOW, policy=policy)
    assert partial_plan.ops == complete_plan.ops
    assert partial_plan.baseline_updates == complete_plan.baseline_updates
    [op] = partial_plan.ops
    assert (op.key, op.side, op.changes[0].new) == ("k", Side.OUTLOOK, "B!")
    synced = crmsync.apply(partial_plan, *delta, baseline)
    outlook_now = crmsync.records.as_complete(synced.outlook, synced.baseline.outlook)
    assert [c.job_title for c in outlook_now.contacts] == ["B!", "A"]


def test_refine_keeps_a_change_dropped_from_an_op_pending_for_the_next_plan() -> None:
    """Dropping some of an op's changes is like dropping the op, field by field: the dropped
    fields keep their baseline values on both sides, and the next plan proposes them again."""
    crm, _, baseline = _linked("k")
    edited = OutlookSnapshot(contacts=[OutlookContact(key="k", job_title="B", department="Sales")])

    def job_title_only(ops: tuple[Op, ...], _: SyncInput) -> list[Op]:
        return [
            attrs.evolve(op, changes=tuple(c for c in op.changes if c.field == "job_title"))
            for op in ops
        ]

    policy = refine(compose(*default_policies()), job_title_only)
    planned = crmsync.plan(crm, edited, None, baseline, user=USER, now=NOW, policy=policy)
    [op] = planned.ops
    assert [c.field for c in op.changes] == ["job_title"]
    synced = crmsync.apply(planned, crm, edited, baseline)
    assert (synced.crm.contacts[0].job_title, synced.crm.contacts[0].department) == ("B", "")
    again = crmsync.plan(synced.crm, synced.outlook, None, synced.baseline, user=USER, now=NOW)
    assert [(op.side, [(c.field, c.new) for c in op.changes]) for op in again.ops] == [
        (Side.CRM, [("department", "Sales")])
    ]
    converge(synced.crm, synced.outlook, None, synced.baseline)


def test_refine_keeps_a_dropped_change_of_a_first_sync_pair_pending() -> None:
    """Without a baseline entry there is no previous value to keep: the pair keeps none."""
    crm = CrmSnapshot(contacts=[CrmContact(key="k", job_title="A", department="Sales")])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key="k")])

    def job_title_only(ops: tuple[Op, ...], _: SyncInput) -> list[Op]:
        return [
            attrs.evolve(op, changes=tuple(c for c in op.changes if c.field == "job_title"))
            for op in ops
        ]

    policy = refine(compose(*default_policies()), job_title_only)
    planned = crmsync.plan(crm, outlook, None, None, user=USER, now=NOW, policy=policy)
    synced = crmsync.apply(planned, crm, outlook, None)
    again = crmsync.plan(synced.crm, synced.outlook, None, synced.baseline, user=USER, now=NOW)
    assert [(op.side, [(c.field, c.new) for c in op.changes]) for op in again.ops] == [
        (Side.OUTLOOK, [("department", "Sales")])
    ]


def test_refine_refuses_an_op_the_plan_did_not_have() -> None:
    crm, outlook, baseline = _linked("k")

    def adds(ops: tuple[Op, ...], _: SyncInput) -> list[Op]:
        extra = Op(
            action=Action.DELETE, side=Side.OUTLOOK, domain=Domain.CONTACT, key="k", reason="x"
        )
        return [*ops, extra]

    policy = refine(compose(*default_policies()), adds)
    with pytest.raises(PolicyConflict, match="did not have"):
        crmsync.plan(crm, outlook, None, baseline, user=USER, now=NOW, policy=policy)


def test_refine_refuses_a_change_that_cannot_apply_to_what_the_plan_saw() -> None:
    crm, outlook, baseline = _linked("k")
    crm = _edited_in_crm("k")

    def wrong_old(ops: tuple[Op, ...], _: SyncInput) -> list[Op]:
        return [
            attrs.evolve(op, changes=tuple(attrs.evolve(c, old="Z") for c in op.changes))
            for op in ops
        ]

    policy = refine(compose(*default_policies()), wrong_old)
    with pytest.raises(PolicyConflict, match="no longer what the plan saw"):
        crmsync.plan(crm, outlook, None, baseline, user=USER, now=NOW, policy=policy)


# --- several domains, attachments included ----------------------------------------------

SOON = NOW + dt.timedelta(days=2)
ATTACHMENTS = Settings(sync_appointment_attachments=True)
SLIDES = Attachment(name="slides.pdf", size=1000, content_hash="sha256:slides")


def _meeting(**fields: object) -> Appointment:
    values: dict[str, object] = {"subject": "Review", "location": "Room 1", "organizer": USER}
    values.update(fields)
    return Appointment(key="a", start=SOON, end=SOON + dt.timedelta(hours=1), **values)


def _world() -> tuple[CrmSnapshot, OutlookSnapshot, Baseline]:
    """A contact, an appointment and a task linked, all three in sync."""
    crm = CrmSnapshot(
        contacts=[CrmContact(key="k", job_title="A")],
        appointments=[_meeting()],
        tasks=[Task(key="t", subject="Call")],
    )
    outlook = OutlookSnapshot(
        contacts=[OutlookContact(key="k", job_title="A")],
        appointments=[_meeting()],
        tasks=[Task(key="t", subject="Call")],
    )
    return crm, outlook, Baseline(crm=crm, outlook=outlook, settings=ATTACHMENTS)


def _plan(
    crm: CrmSnapshot, outlook: OutlookSnapshot, baseline: Baseline, policy: Any = None
) -> crmsync.Plan:
    return crmsync.plan(crm, outlook, ATTACHMENTS, baseline, user=USER, now=NOW, policy=policy)


def _what(planned: crmsync.Plan) -> list[tuple[str, str, str, str, list[tuple[str, Any]]]]:
    return [
        (
            op.domain.value,
            op.side.value,
            op.key,
            op.action.value,
            [(c.field, c.new) for c in op.changes],
        )
        for op in planned.ops
    ]


def test_refine_drops_an_attachment_and_a_task_and_the_next_plan_proposes_both_again() -> None:
    """A dropped attachment op leaves its appointment's baseline entry as it was: the
    attachment stays pending (it is not taken for one Outlook deleted), as a dropped task
    op does for its task, while the contact change kept travels."""
    crm, outlook, baseline = _world()
    crm = attrs.evolve(
        crm,
        contacts=[CrmContact(key="k", job_title="B")],
        appointments=[_meeting(attachments=(SLIDES,))],
    )
    outlook = attrs.evolve(outlook, tasks=[Task(key="t", subject="Call back")])

    def contacts_only(ops: tuple[Op, ...], _: SyncInput) -> list[Op]:
        return [op for op in ops if op.domain is Domain.CONTACT]

    unrefined = _plan(crm, outlook, baseline)
    assert {op.domain for op in unrefined.ops} == {Domain.CONTACT, Domain.ATTACHMENT, Domain.TASK}
    planned = _plan(crm, outlook, baseline, refine(compose(*default_policies()), contacts_only))
    assert _what(planned) == [("contact", "outlook", "k", "update", [("job_title", "B")])]
    synced = crmsync.apply(planned, crm, outlook, baseline)

    again = _plan(synced.crm, synced.outlook, synced.baseline)
    assert _what(again) == [
        ("attachment", "outlook", "a", "create", []),
        ("task", "crm", "t", "update", [("subject", "Call back")]),
    ]
    assert again.ops[0].record == SLIDES
    converge(synced.crm, synced.outlook, ATTACHMENTS, synced.baseline)


def test_refine_keeping_a_changed_value_and_dropping_another_field_proposes_only_that_field() -> (
    None
):
    """The kept change's refined value enters the baseline on its side (no conflict with
    what the other side holds next time), while the dropped field keeps its previous
    baseline values on both sides, so the next plan proposes it and nothing else."""
    crm, outlook, baseline = _world()
    outlook = attrs.evolve(
        outlook, appointments=[_meeting(subject="Review (moved)", location="Room 2")]
    )

    def subject_tagged(ops: tuple[Op, ...], _: SyncInput) -> list[Op]:
        return [
            attrs.evolve(
                op,
                changes=tuple(
                    attrs.evolve(c, new=f"{c.new} [Outlook]")
                    for c in op.changes
                    if c.field == "subject"
                ),
            )
            for op in ops
        ]

    policy = refine(compose(*default_policies()), subject_tagged)
    planned = _plan(crm, outlook, baseline, policy)
    assert _what(planned) == [
        ("appointment", "crm", "a", "update", [("subject", "Review (moved) [Outlook]")])
    ]
    synced = crmsync.apply(planned, crm, outlook, baseline)

    again = _plan(synced.crm, synced.outlook, synced.baseline)
    assert _what(again) == [("appointment", "crm", "a", "update", [("location", "Room 2")])]
    assert codes(again) == []  # the two subjects are not a conflict: each is acknowledged
    converge(synced.crm, synced.outlook, ATTACHMENTS, synced.baseline)


def test_refine_turning_an_update_into_a_delete_records_what_each_side_holds_in_the_baseline() -> (
    None
):
    """A changed op updates the baseline entry on its side to what it writes (here: no
    record), and the other side's entry is its record as the plan leaves it: no field of
    it is held back as if the refinement had dropped a change."""
    crm, outlook, baseline = _world()
    crm = attrs.evolve(crm, contacts=[CrmContact(key="k", job_title="Left the company")])

    def delete_instead(ops: tuple[Op, ...], _: SyncInput) -> list[Op]:
        return [
            attrs.evolve(op, action=Action.DELETE, changes=(), reason="left_the_company")
            if op.domain is Domain.CONTACT and op.action is Action.UPDATE
            else op
            for op in ops
        ]

    planned = _plan(crm, outlook, baseline, refine(compose(*default_policies()), delete_instead))
    assert _what(planned) == [("contact", "outlook", "k", "delete", [])]
    synced = crmsync.apply(planned, crm, outlook, baseline)
    assert synced.outlook.contacts == ()
    assert synced.baseline.outlook.contacts == ()
    assert synced.baseline.crm.contacts == crm.contacts
    assert synced.baseline.crm.contacts[0].job_title == "Left the company"


# --- refining one domain's policy, creates, links and first syncs --------------------------


def test_refine_wraps_one_domains_policy_and_hands_its_function_the_input() -> None:
    """A domain policy refined on its own (not through compose) gives a finished plan too,
    and the refinement can read the input it is planning (here: the syncing user)."""
    crm, outlook, baseline = _world()
    crm = attrs.evolve(crm, contacts=[CrmContact(key="k", job_title="B")])

    def signed(ops: tuple[Op, ...], inp: SyncInput) -> list[Op]:
        return [
            attrs.evolve(
                op, changes=tuple(attrs.evolve(c, new=f"{c.new} ({inp.user})") for c in op.changes)
            )
            for op in ops
        ]

    policy = refine(contacts.policy, signed)
    planned = _plan(crm, outlook, baseline, policy)
    assert _what(planned) == [("contact", "outlook", "k", "update", [("job_title", f"B ({USER})")])]
    synced = crmsync.apply(planned, crm, outlook, baseline)
    [written] = synced.outlook.contacts
    assert synced.baseline.outlook.contacts == (written,)
    assert synced.baseline.outlook.contacts[0].modified == written.modified == NOW
    assert _plan(synced.crm, synced.outlook, synced.baseline, policy).is_empty


def test_refine_changes_a_create_and_the_next_plan_is_empty() -> None:
    """A changed CREATE writes the refined record, and the baseline holds it."""
    crm = CrmSnapshot(contacts=[CrmContact(key="n", first_name="Ann", job_title="Buyer")])
    outlook = OutlookSnapshot()

    def tagged(ops: tuple[Op, ...], _: SyncInput) -> list[Op]:
        return [
            attrs.evolve(op, record=attrs.evolve(op.record, job_title="Buyer (from the CRM)"))
            if op.action is Action.CREATE and op.domain is Domain.CONTACT
            else op
            for op in ops
        ]

    policy = refine(compose(*default_policies()), tagged)
    synced = _settles(crm, outlook, None, policy)
    assert synced.outlook.contacts[0].job_title == "Buyer (from the CRM)"


def test_refine_changes_an_op_of_a_first_sync_pair_and_the_next_plan_is_empty() -> None:
    """A pair without a baseline entry whose op a refinement changes (dropping nothing)
    still enters the baseline: it is not planned as a first sync again."""
    crm = CrmSnapshot(contacts=[CrmContact(key="k", job_title="A")])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key="k")])

    def labelled(ops: tuple[Op, ...], _: SyncInput) -> list[Op]:
        return [
            attrs.evolve(op, changes=tuple(attrs.evolve(c, new=f"{c.new}!") for c in op.changes))
            for op in ops
        ]

    policy = refine(compose(*default_policies()), labelled)
    planned = crmsync.plan(crm, outlook, None, None, user=USER, now=NOW, policy=policy)
    assert _what(planned) == [("contact", "outlook", "k", "update", [("job_title", "A!")])]
    synced = crmsync.apply(planned, crm, outlook, None)
    again = crmsync.plan(
        synced.crm, synced.outlook, None, synced.baseline, user=USER, now=NOW, policy=policy
    )
    assert again.is_empty, again.render()


@pytest.mark.parametrize("unlinked", [False, True], ids=["new_on_both_sides", "unlinked_before"])
def test_refine_drops_a_link_and_the_next_plan_proposes_it_again(unlinked: bool) -> None:
    """A dropped LINK leaves the baseline of both keys as it was (a record unlinked before
    stays unlinked), and the next plan finds the duplicate again."""
    ann = CrmContact(key="c", emails=("ann@contoso.com",))
    crm = CrmSnapshot(contacts=[ann])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key="o", emails=("ann@contoso.com",))])
    baseline = Baseline(crm=crm, unlinked=frozenset({(Domain.CONTACT, "c")})) if unlinked else None

    def no_links(ops: tuple[Op, ...], _: SyncInput) -> list[Op]:
        return [op for op in ops if op.action is not Action.LINK]

    unrefined = crmsync.plan(crm, outlook, None, baseline, user=USER, now=NOW)
    assert [op.action for op in unrefined.ops] == [Action.LINK]
    policy = refine(compose(*default_policies()), no_links)
    planned = crmsync.plan(crm, outlook, None, baseline, user=USER, now=NOW, policy=policy)
    assert (planned.ops, planned.baseline_updates) == ((), ())
    synced = crmsync.apply(planned, crm, outlook, baseline)
    if baseline is not None:
        assert synced.baseline.unlinked == baseline.unlinked
        assert synced.baseline.crm == baseline.crm
    again = crmsync.plan(synced.crm, synced.outlook, None, synced.baseline, user=USER, now=NOW)
    assert again.ops == unrefined.ops


def test_refine_refuses_two_ops_on_one_target() -> None:
    crm, outlook, baseline = _linked("k")
    crm = _edited_in_crm("k")

    def twice(ops: tuple[Op, ...], _: SyncInput) -> list[Op]:
        return [*ops, *(attrs.evolve(op, reason="again") for op in ops)]

    policy = refine(compose(*default_policies()), twice)
    with pytest.raises(PolicyConflict, match=r"refine: two ops on contact 'k' in outlook"):
        crmsync.plan(crm, outlook, None, baseline, user=USER, now=NOW, policy=policy)


def test_refine_keeps_a_dropped_address_change_pending_under_its_own_name_on_each_side() -> None:
    """An address travels as address1 in the CRM and as the mailing address in Outlook: a
    dropped address change keeps its previous value under each side's own field."""
    work = Address(street="2 Work St", city="Paris")
    crm, _, baseline = _linked("k")
    edited = OutlookSnapshot(
        contacts=[OutlookContact(key="k", job_title="B", business_address=work)]
    )

    def job_title_only(ops: tuple[Op, ...], _: SyncInput) -> list[Op]:
        return [
            attrs.evolve(op, changes=tuple(c for c in op.changes if c.field == "job_title"))
            for op in ops
        ]

    policy = refine(compose(*default_policies()), job_title_only)
    planned = crmsync.plan(crm, edited, None, baseline, user=USER, now=NOW, policy=policy)
    assert [c.field for op in planned.ops for c in op.changes] == ["job_title"]
    synced = crmsync.apply(planned, crm, edited, baseline)
    assert synced.baseline.outlook.contacts[0].business_address.is_empty
    assert synced.baseline.crm.contacts[0].address1.is_empty
    again = crmsync.plan(synced.crm, synced.outlook, None, synced.baseline, user=USER, now=NOW)
    assert [(op.side, [(c.field, c.new) for c in op.changes]) for op in again.ops] == [
        (Side.CRM, [("address1", work)])
    ]


# --- hold: a data-loss notice holds its records, not the mailbox -------------------------

ONE_WAY = Settings(field_directions={"contact.job_title": Direction.TO_OUTLOOK})


def _held_plan(
    crm: CrmSnapshot, outlook: OutlookSnapshot, settings: Settings, baseline: Baseline
) -> Plan:
    return crmsync.plan(crm, outlook, settings, baseline, user=USER, now=NOW)


def _held_world() -> tuple[CrmSnapshot, OutlookSnapshot, Baseline]:
    """k1 deleted in the CRM over an Outlook edit that cannot travel (data loss); k2 edited."""
    keys = ("k1", "k2")
    crm = CrmSnapshot(contacts=[CrmContact(key=k, job_title="A") for k in keys])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key=k, job_title="A") for k in keys])
    baseline = Baseline(crm=crm, outlook=outlook, settings=ONE_WAY)
    crm = CrmSnapshot(contacts=[CrmContact(key="k2", job_title="B")])
    outlook = OutlookSnapshot(
        contacts=[OutlookContact(key="k1", job_title="O"), OutlookContact(key="k2", job_title="A")]
    )
    return crm, outlook, baseline


def test_data_loss_records_are_the_records_data_loss_notices_name() -> None:
    crm, outlook, baseline = _held_world()
    planned = _held_plan(crm, outlook, ONE_WAY, baseline)
    assert planned.data_loss_records == {(Domain.CONTACT, "k1")}


def test_hold_executes_the_rest_and_the_held_record_stays_pending() -> None:
    """Hold records, not mailboxes: k2 syncs, k1 keeps its baseline and its notice comes back."""
    crm, outlook, baseline = _held_world()
    planned = _held_plan(crm, outlook, ONE_WAY, baseline)

    held = crmsync.hold(planned, crm, outlook, baseline)

    assert [(op.key, op.action.value) for op in held.ops] == [("k2", "update")]
    assert held.notices == planned.notices  # still reported, still has_data_loss
    synced = crmsync.apply(held, crm, outlook, baseline)  # fingerprinted anew: it applies
    assert [(c.key, c.job_title) for c in synced.outlook.contacts] == [("k1", "O"), ("k2", "B")]
    assert synced.baseline.crm.by_key["contacts"]["k1"] == baseline.crm.by_key["contacts"]["k1"]
    again = _held_plan(synced.crm, synced.outlook, ONE_WAY, synced.baseline)
    assert again.data_loss_records == {(Domain.CONTACT, "k1")}
    assert [(op.key, op.action.value) for op in again.ops] == [("k1", "delete")]


def test_a_person_who_runs_the_held_work_unheld_settles_it() -> None:
    crm, outlook, baseline = _held_world()
    planned = _held_plan(crm, outlook, ONE_WAY, baseline)
    synced = crmsync.apply(crmsync.hold(planned, crm, outlook, baseline), crm, outlook, baseline)
    decided = _held_plan(synced.crm, synced.outlook, ONE_WAY, synced.baseline)
    settled = crmsync.apply(decided, synced.crm, synced.outlook, synced.baseline)
    assert _held_plan(settled.crm, settled.outlook, ONE_WAY, settled.baseline).is_empty


def test_hold_without_data_loss_is_the_plan_itself() -> None:
    crm, outlook, baseline = _held_world()
    planned = _held_plan(crm, outlook, ONE_WAY, baseline)
    assert crmsync.hold(planned, crm, outlook, baseline, records=()) is planned


def test_hold_of_a_domain_holds_every_record_of_it() -> None:
    """A notice about a whole domain (an empty key) holds the domain: no op, no update."""
    crm, outlook, baseline = _held_world()
    planned = _held_plan(crm, outlook, ONE_WAY, baseline)
    held = crmsync.hold(planned, crm, outlook, baseline, records=[(Domain.CONTACT, "")])
    assert held.ops == ()
    assert held.baseline_updates == ()
    synced = crmsync.apply(held, crm, outlook, baseline)
    assert synced.baseline.crm == baseline.crm
    assert synced.baseline.outlook == baseline.outlook


def test_hold_refuses_a_plan_made_from_other_snapshots() -> None:
    """A new fingerprint over other snapshots would pass a stale plan off as fresh."""
    crm, outlook, baseline = _held_world()
    planned = _held_plan(crm, outlook, ONE_WAY, baseline)
    edited = CrmSnapshot(contacts=[CrmContact(key="k2", job_title="C")])
    with pytest.raises(StalePlan) as stale:
        crmsync.hold(planned, edited, outlook, baseline)
    assert stale.value.reasons == (
        "the records the plan reads or writes have changed since it was made",
    )
    with pytest.raises(StalePlan) as unbased:
        crmsync.hold(planned, crm, outlook)
    assert unbased.value.reasons[0] == "the plan was made with a baseline; pass it to hold()"


def test_hold_refuses_an_altered_plan() -> None:
    crm, outlook, baseline = _held_world()
    planned = _held_plan(crm, outlook, ONE_WAY, baseline)
    with pytest.raises(AlteredPlan):
        crmsync.hold(attrs.evolve(planned, ops=planned.ops[:1]), crm, outlook, baseline)


def test_a_held_contact_keeps_its_address_remap_pending() -> None:
    """A held remap is proposed again under the new mode, not forgotten as in sync."""
    work, home, other = (Address(street=s) for s in ("1 Main", "2 Home", "9 Other"))
    crm = CrmSnapshot(contacts=[CrmContact(key="k", address1=work, address2=other)])
    outlook = OutlookSnapshot(
        contacts=[OutlookContact(key="k", business_address=work, home_address=home)]
    )
    baseline = Baseline(crm=crm, outlook=outlook, settings=Settings())
    switched = Settings(address_sync=AddressSync.ALL_THREE, address_remap=AddressRemap.CRM_WINS)
    planned = _held_plan(crm, outlook, switched, baseline)
    assert planned.data_loss_records == {(Domain.CONTACT, "k")}

    held = crmsync.hold(planned, crm, outlook, baseline)

    synced = crmsync.apply(held, crm, outlook, baseline)
    assert held.ops == ()
    assert synced.baseline.pending_remap == {"k"}
    again = _held_plan(synced.crm, synced.outlook, switched, synced.baseline)
    assert [n.code for n in again.notices] == ["address_remap_data_loss"]
    assert [c.new for op in again.ops for c in op.changes] == [other]


def _delta_held_world() -> tuple[CrmSnapshot, OutlookSnapshot, Baseline]:
    """`_held_world` as a delta round: k1 deleted in the CRM over an Outlook edit that cannot
    travel; k2 edited in the CRM, its Outlook record only in the baseline."""
    keys = ("k1", "k2")
    crm = CrmSnapshot(contacts=[CrmContact(key=k, job_title="A") for k in keys])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key=k, job_title="A") for k in keys])
    baseline = Baseline(crm=crm, outlook=outlook, settings=ONE_WAY)
    delta_crm = CrmSnapshot(
        contacts=[CrmContact(key="k2", job_title="B")], complete=False, removed=["k1"]
    )
    delta_outlook = OutlookSnapshot(
        contacts=[OutlookContact(key="k1", job_title="O")], complete=False
    )
    return delta_crm, delta_outlook, baseline


def test_hold_of_a_delta_rounds_plan_reads_the_unchanged_records_through_the_baseline() -> None:
    """A partial snapshot's unchanged records are the baseline's: the held plan is checked
    and fingerprinted through it, so it holds k1 and applies to the same delta."""
    crm, outlook, baseline = _delta_held_world()
    planned = _held_plan(crm, outlook, ONE_WAY, baseline)
    assert planned.data_loss_records == {(Domain.CONTACT, "k1")}

    held = crmsync.hold(planned, crm, outlook, baseline)

    assert [(op.key, op.side.value, op.action.value) for op in held.ops] == [
        ("k2", "outlook", "update")
    ]
    synced = crmsync.apply(held, crm, outlook, baseline)
    assert synced.baseline.outlook.by_key["contacts"]["k2"].job_title == "B"
    assert synced.baseline.crm.by_key["contacts"]["k1"] == baseline.crm.by_key["contacts"]["k1"]


def test_hold_of_an_attachment_holds_its_appointment_and_every_op_on_it() -> None:
    """An attachment's data-loss notice names the attachment domain with the appointment's
    key: holding it holds the appointment's ops and its attachment ops alike."""
    start = NOW + dt.timedelta(days=3)
    end = start + dt.timedelta(hours=1)
    held_key, other_key = "a1", "a2"
    crm = CrmSnapshot(
        appointments=[
            Appointment(key=held_key, subject="Old", start=start, end=end),
            Appointment(key=other_key, subject="Old", start=start, end=end),
        ]
    )
    baseline = Baseline(crm=crm, outlook=OutlookSnapshot(appointments=crm.appointments))
    edited = CrmSnapshot(
        appointments=[
            Appointment(key=held_key, subject="New", start=start, end=end),
            Appointment(key=other_key, subject="New", start=start, end=end),
        ]
    )
    planned = _held_plan(edited, baseline.outlook, Settings(), baseline)
    assert {op.key for op in planned.ops} == {held_key, other_key}

    held = crmsync.hold(
        planned, edited, baseline.outlook, baseline, records=[(Domain.ATTACHMENT, held_key)]
    )

    assert [op.key for op in held.ops] == [other_key]
    assert {u.key for u in held.baseline_updates} == {other_key}


def test_hold_on_a_links_new_key_withdraws_the_link() -> None:
    """A LINK re-keys a record: a hold naming the new key holds the link too."""
    crm = CrmSnapshot(contacts=[CrmContact(key="c1", emails=("ann@x.org",), last_name="Lee")])
    outlook = OutlookSnapshot(
        contacts=[OutlookContact(key="o1", emails=("ann@x.org",), last_name="Lee")]
    )
    planned = _held_plan(crm, outlook, Settings(), Baseline())
    links = [op for op in planned.ops if op.action is Action.LINK]
    assert links, planned.render()
    new_keys = {str(c.new) for op in links for c in op.changes if c.field == "key"}
    assert new_keys

    held = crmsync.hold(
        planned, crm, outlook, Baseline(), records=[(Domain.CONTACT, k) for k in new_keys]
    )

    assert not [op for op in held.ops if op.action is Action.LINK]
    assert not held.baseline_updates


def test_hold_withdraws_a_held_records_baseline_update_when_it_has_no_op() -> None:
    """A record whose sides agree again gets only a baseline update: holding it withdraws
    the update, so the plan held is not the plan made."""
    crm = CrmSnapshot(contacts=[CrmContact(key="k", job_title="B")])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key="k", job_title="B")])
    before = Baseline(
        crm=CrmSnapshot(contacts=[CrmContact(key="k", job_title="A")]),
        outlook=OutlookSnapshot(contacts=[OutlookContact(key="k", job_title="A")]),
    )
    planned = _held_plan(crm, outlook, Settings(), before)
    assert planned.ops == ()
    assert [u.key for u in planned.baseline_updates] == ["k"]

    held = crmsync.hold(planned, crm, outlook, before, records=[(Domain.CONTACT, "k")])

    assert held is not planned
    assert held.baseline_updates == ()
    crmsync.apply(held, crm, outlook, before)  # fingerprinted anew


def test_a_held_remap_keeps_both_sides_entries_and_a_held_domain_marks_every_contact() -> None:
    """The pending remap is marked with the previous entries of both sides, only for linked
    contacts, and for every linked contact when the whole contact domain is held."""
    work, home, other = (Address(street=s) for s in ("1 Main", "2 Home", "9 Other"))
    both = [CrmContact(key=k, address1=work, address2=other) for k in ("k", "j")]
    # m is linked and agrees under either mode: no op, yet a held domain marks it too.
    crm = CrmSnapshot(contacts=[*both, CrmContact(key="m"), CrmContact(key="crm-only")])
    outlook = OutlookSnapshot(
        contacts=[
            *(OutlookContact(key=k, business_address=work, home_address=home) for k in "kj"),
            OutlookContact(key="m"),
        ]
    )
    baseline = Baseline(crm=crm, outlook=outlook, settings=Settings())
    switched = Settings(address_sync=AddressSync.ALL_THREE, address_remap=AddressRemap.CRM_WINS)
    planned = _held_plan(crm, outlook, switched, baseline)

    one = crmsync.hold(planned, crm, outlook, baseline, records=[(Domain.CONTACT, "k")])
    marked = {u.key: u for u in one.baseline_updates if u.pending_remap}
    assert set(marked) == {"k"}
    assert marked["k"].crm == baseline.crm.by_key["contacts"]["k"]
    assert marked["k"].outlook == baseline.outlook.by_key["contacts"]["k"]

    every = crmsync.hold(planned, crm, outlook, baseline, records=[(Domain.CONTACT, "")])
    assert {u.key for u in every.baseline_updates if u.pending_remap} == {"j", "k", "m"}
