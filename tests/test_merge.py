"""Tests for crmsync.merge: the shared three-way merge and the domain driver."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

import crmsync
from crmsync import (
    Action,
    Appointment,
    Attachment,
    Baseline,
    ConflictPolicy,
    CrmContact,
    CrmSnapshot,
    Direction,
    Notice,
    OutlookContact,
    OutlookSnapshot,
    Settings,
    Severity,
    Side,
)
from crmsync.merge import FieldRule, merge_fields
from crmsync.records import Domain
from support import NOW, USER, codes, converge, ops, plan, sync

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)

RULES = (FieldRule(name="a", crm="a", outlook="a"), FieldRule(name="b", crm="b", outlook="b"))


def merge(crm: dict, outlook: dict, base: dict | None, **kw: object):  # type: ignore[no-untyped-def]
    args = {
        "domain": Domain.CONTACT,
        "key": "k",
        "rules": RULES,
        "crm": crm,
        "outlook": outlook,
        "base_crm": base,
        "base_outlook": base,
        "directions": {},
        "policy": ConflictPolicy.CRM_WINS,
    }
    args.update(kw)
    return merge_fields(**args)


def test_a_field_changed_on_one_side_travels_to_the_other() -> None:
    result = merge({"a": "new", "b": "x"}, {"a": "old", "b": "x"}, {"a": "old", "b": "x"})
    assert (result.crm, result.outlook) == ({}, {"a": "new"})
    assert result.outlook_reason == "changed_in_crm"
    assert result.notices == ()


def test_changed_on_both_sides_to_the_same_value_is_no_conflict() -> None:
    result = merge({"a": "same"}, {"a": "same"}, {"a": "old"})
    assert (result.crm, result.outlook, result.notices) == ({}, {}, ())


@pytest.mark.parametrize(
    ("policy", "crm_time", "outlook_time", "winner"),
    [
        (ConflictPolicy.CRM_WINS, None, None, Side.CRM),
        (ConflictPolicy.OUTLOOK_WINS, None, None, Side.OUTLOOK),
        (ConflictPolicy.NEWEST_WINS, T0, T1, Side.OUTLOOK),
        (ConflictPolicy.NEWEST_WINS, T1, T0, Side.CRM),
        (ConflictPolicy.NEWEST_WINS, T1, T1, Side.CRM),  # a tie goes to the CRM
        (ConflictPolicy.NEWEST_WINS, None, T1, Side.CRM),  # so does a missing time
    ],
)
def test_a_conflict_is_resolved_by_the_policy_and_the_losing_value_recorded(
    policy: ConflictPolicy, crm_time: object, outlook_time: object, winner: Side
) -> None:
    result = merge(
        {"a": "c"},
        {"a": "o"},
        {"a": "base"},
        policy=policy,
        crm_modified=crm_time,
        outlook_modified=outlook_time,
    )
    loser_writes = result.outlook if winner is Side.CRM else result.crm
    assert loser_writes == {"a": "c" if winner is Side.CRM else "o"}
    [notice] = result.notices
    assert notice.code == "conflict_resolved"
    assert notice.side is winner.other
    lost = "'o'" if winner is Side.CRM else "'c'"
    assert lost in notice.message


def test_manual_conflicts_write_nothing_and_stay_pending() -> None:
    result = merge(
        {"a": "c", "b": "1"},
        {"a": "o", "b": "0"},
        {"a": "base", "b": "0"},
        policy=ConflictPolicy.MANUAL,
    )
    assert result.pending == {"a"}
    assert result.outlook == {"b": "1"}  # the rest of the record still syncs
    assert [n.code for n in result.notices] == ["conflict"]


@pytest.mark.parametrize(
    ("direction", "writes_outlook", "notice"),
    [
        (Direction.TWO_WAY, True, None),
        (Direction.TO_OUTLOOK, True, None),
        (Direction.TO_CRM, False, "field_not_synced"),
        (Direction.NONE, False, "field_not_synced"),
    ],
)
def test_a_crm_change_travels_only_where_its_direction_allows(
    direction: Direction, writes_outlook: bool, notice: str | None
) -> None:
    result = merge({"a": "new"}, {"a": "old"}, {"a": "old"}, directions={"a": direction})
    assert bool(result.outlook) is writes_outlook
    assert [n.code for n in result.notices] == ([notice] if notice else [])


def test_a_one_way_field_conflict_goes_to_the_side_allowed_to_send() -> None:
    result = merge({"a": "c"}, {"a": "o"}, {"a": "base"}, directions={"a": Direction.TO_CRM})
    assert result.crm == {"a": "o"}
    [notice] = result.notices
    assert notice.code == "conflict_resolved"
    assert "'c'" in notice.message


def test_first_sync_differing_fields_are_conflicts_but_a_value_fills_an_empty_field() -> None:
    result = merge({"a": "c", "b": ""}, {"a": "o", "b": "x"}, None)
    assert result.crm == {"b": "x"}
    assert result.outlook == {"a": "c"}
    assert result.crm_reason == result.outlook_reason == "first_sync"
    assert [n.code for n in result.notices] == ["conflict_resolved"]


def test_a_standing_difference_on_a_one_way_field_is_left_alone() -> None:
    result = merge({"a": "c"}, {"a": "o"}, None, base_crm={"a": "c"}, base_outlook={"a": "o"})
    assert (result.crm, result.outlook, result.notices) == ({}, {}, ())


# --- the driver ------------------------------------------------------------------------


def contacts(n: int, *, prefix: str = "k") -> tuple[list[CrmContact], list[OutlookContact]]:
    crm = [CrmContact(key=f"{prefix}{i}", first_name=f"N{i}") for i in range(n)]
    outlook = [OutlookContact(key=f"{prefix}{i}", first_name=f"N{i}") for i in range(n)]
    return crm, outlook


def baseline_of(crm: list[CrmContact], outlook: list[OutlookContact]) -> Baseline:
    return Baseline(crm=CrmSnapshot(contacts=crm), outlook=OutlookSnapshot(contacts=outlook))


def guard_of(planned: crmsync.Plan) -> Notice:
    """The plan's one mass-delete notice."""
    [guard] = [n for n in planned.notices if n.code == "mass_delete_blocked"]
    return guard


def left_baseline(planned: crmsync.Plan) -> set[str]:
    """The keys the plan removes from the baseline (deleted on both sides)."""
    return {u.key for u in planned.baseline_updates if u.crm is None and u.outlook is None}


def new_crm_contacts(n: int) -> list[CrmContact]:
    return [CrmContact(key=f"new{i}", first_name=f"New{i}") for i in range(n)]


def test_mass_delete_guard_blocks_an_emptied_side_and_says_so_once() -> None:
    crm, outlook = contacts(12)
    baseline = baseline_of(crm, outlook)
    planned = plan(CrmSnapshot(contacts=crm[:2]), OutlookSnapshot(contacts=outlook), None, baseline)
    assert planned.is_empty  # no DELETE of the 10 Outlook contacts
    [notice] = planned.notices
    assert (notice.code, notice.key, notice.severity, notice.side) == (
        "mass_delete_blocked",
        "",
        Severity.DATA_LOSS,
        Side.CRM,
    )
    # The missing records stay pending: the baseline keeps them.
    synced = crmsync.apply(
        planned, CrmSnapshot(contacts=crm[:2]), OutlookSnapshot(contacts=outlook), baseline
    )
    assert len(synced.baseline.crm.contacts) == 12


def test_mass_delete_guard_lets_the_deletes_through_when_allowed() -> None:
    crm, outlook = contacts(12)
    baseline = baseline_of(crm, outlook)
    settings = Settings(allow_mass_delete=True)
    planned = plan(
        CrmSnapshot(contacts=crm[:2]),
        OutlookSnapshot(contacts=outlook),
        settings,
        attrs.evolve(baseline, settings=settings),
    )
    assert [op.action for op in planned.ops] == [Action.DELETE] * 10


def test_mass_delete_guard_needs_at_least_ten_lost_records() -> None:
    crm, outlook = contacts(9)
    baseline = baseline_of(crm, outlook)
    planned = plan(CrmSnapshot(), OutlookSnapshot(contacts=outlook), None, baseline)
    assert [op.action for op in planned.ops] == [Action.DELETE] * 9


def test_mass_delete_guard_needs_more_than_the_threshold_share() -> None:
    crm, outlook = contacts(30)
    baseline = baseline_of(crm, outlook)
    planned = plan(
        CrmSnapshot(contacts=crm[:15]), OutlookSnapshot(contacts=outlook), None, baseline
    )
    assert len(planned.ops) == 15  # exactly half is not more than 0.5
    assert "mass_delete_blocked" not in codes(planned)


def test_records_deleted_on_both_sides_leave_the_baseline() -> None:
    crm, outlook = contacts(1)
    baseline = baseline_of(crm, outlook)
    planned = plan(CrmSnapshot(), OutlookSnapshot(), None, baseline)
    assert planned.is_empty
    synced = crmsync.apply(planned, CrmSnapshot(), OutlookSnapshot(), baseline)
    assert synced.baseline.crm.contacts == synced.baseline.outlook.contacts == ()


def test_unchanged_pairs_produce_no_ops_and_no_baseline_updates() -> None:
    crm, outlook = contacts(5)
    baseline = baseline_of(crm, outlook)
    planned = plan(CrmSnapshot(contacts=crm), OutlookSnapshot(contacts=outlook), None, baseline)
    assert planned.is_empty
    assert planned.baseline_updates == ()


@pytest.mark.parametrize(
    "settings",
    [Settings(conflict="newest_wins"), Settings(address_sync="all_three")],
    ids=["conflict_policy", "address_sync"],
)
def test_a_settings_change_that_moves_nothing_writes_no_baseline_entry(settings: Settings) -> None:
    """After a settings change every pair is planned again, but the plan's baseline updates
    still follow the changes, not the mailbox: pairs left as they were get none."""
    crm, outlook = contacts(5)
    baseline = baseline_of(crm, outlook)
    edited = attrs.evolve(crm[0], job_title="Changed")
    current = CrmSnapshot(contacts=[edited, *crm[1:]]), OutlookSnapshot(contacts=outlook)
    planned = plan(*current, settings, baseline)
    assert ops(planned) == [("contact", "outlook", edited.key, "update")]
    assert [u.key for u in planned.baseline_updates] == [edited.key]


def test_a_pending_manual_conflict_planned_again_writes_no_baseline_entry() -> None:
    """The second plan over a pair whose conflict waits for a person changes nothing: it
    writes no baseline entry (the pending values must stay as they were)."""
    settings = Settings(conflict="manual")
    crm, outlook = contacts(3)
    baseline = attrs.evolve(baseline_of(crm, outlook), settings=settings)
    current = (
        CrmSnapshot(contacts=[attrs.evolve(crm[0], job_title="B"), *crm[1:]]),
        OutlookSnapshot(contacts=[attrs.evolve(outlook[0], job_title="C"), *outlook[1:]]),
    )
    _, synced = sync(*current, settings, baseline)
    again = plan(synced.crm, synced.outlook, settings, synced.baseline)
    assert codes(again) == ["conflict"]
    assert again.is_empty
    assert again.baseline_updates == ()


def test_an_outlook_attachment_deferred_by_the_budget_writes_no_baseline_entry() -> None:
    """Outlook changed (an attachment added) but the plan defers the whole change: the
    appointment's baseline stays as it was, and the plan says so by writing no entry."""
    soon = NOW + dt.timedelta(days=2)
    meeting = Appointment(key="a", subject="Review", start=soon, end=soon, organizer=USER)
    settings = Settings(sync_appointment_attachments=True, attachment_budget_bytes=0)
    baseline = Baseline(
        crm=CrmSnapshot(appointments=[meeting]),
        outlook=OutlookSnapshot(appointments=[meeting]),
        settings=settings,
    )
    slides = Attachment(name="slides.pdf", size=10, content_hash="sha256:slides")
    outlook = OutlookSnapshot(appointments=[attrs.evolve(meeting, attachments=(slides,))])
    planned = plan(baseline.crm, outlook, settings, baseline)
    assert (planned.ops, codes(planned)) == ((), ["attachment_deferred"])
    assert planned.baseline_updates == ()


def test_a_manual_conflict_keeps_the_pending_field_in_conflict_in_the_baseline_only() -> None:
    """Each side's baseline holds the other side's value for the pending field; the rest of the
    record advances."""
    settings = Settings(conflict="manual")
    crm = CrmContact(key="k", job_title="A", department="D")
    outlook = OutlookContact(key="k", job_title="A", department="D")
    baseline = Baseline(
        crm=CrmSnapshot(contacts=[crm]),
        outlook=OutlookSnapshot(contacts=[outlook]),
        settings=settings,
    )
    c2 = attrs.evolve(crm, job_title="B", department="E")
    o2 = attrs.evolve(outlook, job_title="C")
    planned, synced = sync(
        CrmSnapshot(contacts=[c2]), OutlookSnapshot(contacts=[o2]), settings, baseline
    )
    assert ops(planned) == [("contact", "outlook", "k", "update")]
    assert codes(planned) == ["conflict"]
    [base_crm] = synced.baseline.crm.contacts
    [base_outlook] = synced.baseline.outlook.contacts
    assert (base_crm.job_title, base_crm.department) == ("C", "E")
    assert (base_outlook.job_title, base_outlook.department) == ("B", "E")
    again = plan(synced.crm, synced.outlook, settings, synced.baseline)
    assert again.is_empty
    assert codes(again) == ["conflict"]  # the same pending work, and only that


def test_a_side_going_back_to_the_old_value_during_a_manual_conflict_is_still_a_conflict() -> None:
    """Safety: Outlook's 'A' is an edit made since the conflict was reported; the CRM's pending
    'B' may overwrite it only as a resolved conflict, with a notice."""
    settings = Settings(conflict="manual")
    crm, outlook = CrmContact(key="k", job_title="A"), OutlookContact(key="k", job_title="A")
    baseline = Baseline(
        crm=CrmSnapshot(contacts=[crm]),
        outlook=OutlookSnapshot(contacts=[outlook]),
        settings=settings,
    )
    pending = OutlookSnapshot(contacts=[attrs.evolve(outlook, job_title="C")])
    crm_now = CrmSnapshot(contacts=[attrs.evolve(crm, job_title="B")])
    _, synced = sync(crm_now, pending, settings, baseline)
    back = OutlookSnapshot(contacts=[attrs.evolve(synced.outlook.contacts[0], job_title="A")])
    planned = plan(synced.crm, back, Settings(), synced.baseline)
    assert codes(planned) == ["conflict_resolved"]
    assert [(c.field, c.old, c.new) for c in planned.ops[0].changes] == [("job_title", "A", "B")]


def test_the_same_inputs_in_any_order_give_the_same_plan() -> None:
    crm, outlook = contacts(6)
    crm = [attrs.evolve(c, job_title="x") for c in crm]
    a = plan(CrmSnapshot(contacts=crm), OutlookSnapshot(contacts=outlook))
    b = plan(CrmSnapshot(contacts=crm[::-1]), OutlookSnapshot(contacts=outlook[::-1]))
    assert crmsync.dumps(a) == crmsync.dumps(b)


def test_a_first_sync_converges_in_one_round() -> None:
    crm, outlook = contacts(3)
    crm = [attrs.evolve(c, job_title="t") for c in crm] + [CrmContact(key="only-crm")]
    converge(CrmSnapshot(contacts=crm), OutlookSnapshot(contacts=outlook))


def test_a_pair_given_one_key_again_after_an_unlink_is_linked_again_in_one_update() -> None:
    crm = CrmContact(key="k", job_title="A")
    outlook = OutlookContact(key="k", job_title="B")
    baseline = Baseline(unlinked=frozenset({(Domain.CONTACT, "k")}))
    planned = plan(CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), None, baseline)
    [update] = planned.baseline_updates
    assert update.unlinked is False
    assert update.crm is not None
    synced = converge(
        CrmSnapshot(contacts=[crm]), OutlookSnapshot(contacts=[outlook]), None, baseline
    )
    assert synced.baseline.unlinked == frozenset()


# --- no baseline over linked records, possible duplicates ------------------------------------


def test_a_plan_without_a_baseline_over_linked_records_says_deletes_cannot_be_seen() -> None:
    """Keys on both sides mean an earlier sync linked them; its baseline was lost."""
    crm = CrmSnapshot(contacts=[CrmContact(key="a"), CrmContact(key="b"), CrmContact(key="c")])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key="a")])
    planned = plan(crm, outlook)
    [notice] = [n for n in planned.notices if n.code == "no_baseline"]
    assert (notice.domain, notice.key, notice.severity) == (Domain.CONTACT, "", Severity.DATA_LOSS)
    assert "2" in notice.message  # the two contacts it would re-create
    assert planned.has_data_loss
    # Nothing to re-create: a warning, not data loss.
    calm = plan(crm, OutlookSnapshot(contacts=[OutlookContact(key=k) for k in "abc"]))
    [notice] = [n for n in calm.notices if n.code == "no_baseline"]
    assert notice.severity is Severity.WARNING
    assert not calm.has_data_loss


def test_a_true_first_sync_has_no_no_baseline_notice() -> None:
    crm = CrmSnapshot(contacts=[CrmContact(key="a")])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key="o")])
    assert "no_baseline" not in codes(plan(crm, outlook))
    # ...and a plan with a baseline never has one.
    synced = converge(crm, outlook)
    assert "no_baseline" not in codes(plan(synced.crm, synced.outlook, None, synced.baseline))


def test_a_record_created_beside_an_untracked_one_with_the_same_natural_key_is_flagged() -> None:
    crm = CrmSnapshot(contacts=[CrmContact(key="c1", emails=["Ann@Contoso.com"])])
    outlook = OutlookSnapshot(
        contacts=[OutlookContact(key="o9", emails=[" ann@contoso.com"], tracked=False)]
    )
    planned = plan(crm, outlook)
    assert ops(planned) == [("contact", "outlook", "c1", "create")]  # tracking is the user's call
    [notice] = [n for n in planned.notices if n.code == "possible_duplicate"]
    assert (notice.key, notice.side, notice.severity) == ("c1", Side.OUTLOOK, Severity.INFO)
    assert "o9" in notice.message
    assert sorted(codes(planned)) == ["not_tracked", "possible_duplicate"]


def test_no_possible_duplicate_without_a_match_or_for_a_tracked_record() -> None:
    crm = CrmSnapshot(contacts=[CrmContact(key="c1", emails=["ann@contoso.com"])])
    other = OutlookSnapshot(
        contacts=[OutlookContact(key="o9", emails=["lee@contoso.com"], tracked=False)]
    )
    assert "possible_duplicate" not in codes(plan(crm, other))
    no_email = CrmSnapshot(contacts=[CrmContact(key="c1")])
    empty = OutlookSnapshot(contacts=[OutlookContact(key="o9", tracked=False)])
    assert "possible_duplicate" not in codes(plan(no_email, empty))


def test_an_edit_made_before_an_address_mode_switch_wins_over_a_delete() -> None:
    """Rule 3 across a switch: the home address Outlook edited under all three addresses is an
    unpropagated change, so a CRM delete recreates the contact instead of deleting it."""
    home = crmsync.Address(street="1 Home Rd", city="Lyon")
    all_three = Settings(address_sync=crmsync.AddressSync.ALL_THREE)
    baseline = attrs.evolve(
        baseline_of([CrmContact(key="k")], [OutlookContact(key="k")]), settings=all_three
    )
    edited = OutlookSnapshot(contacts=[OutlookContact(key="k", home_address=home)])
    planned = plan(CrmSnapshot(), edited, Settings(), baseline)
    assert ops(planned) == [("contact", "crm", "k", "create")]
    assert planned.ops[0].reason == "recreated_after_delete"


def test_a_change_that_cannot_reach_the_deleted_side_does_not_stop_the_delete() -> None:
    """Rule 3 protects changes that could travel; one against its field's direction goes with
    the delete, reported as data loss (Safety)."""
    to_outlook = Settings(field_directions={"contact.job_title": "to_outlook"})
    baseline = attrs.evolve(
        baseline_of([CrmContact(key="k")], [OutlookContact(key="k")]), settings=to_outlook
    )
    edited = OutlookSnapshot(contacts=[OutlookContact(key="k", job_title="Chef")])
    planned, synced = sync(CrmSnapshot(), edited, to_outlook, baseline)
    assert ops(planned) == [("contact", "outlook", "k", "delete")]
    [notice] = planned.notices
    assert (notice.code, notice.side, notice.severity) == (
        "field_not_synced",
        Side.OUTLOOK,
        Severity.DATA_LOSS,
    )
    assert "job title to 'Chef'" in notice.message
    converge(synced.crm, synced.outlook, to_outlook, synced.baseline)


def test_a_change_that_can_reach_the_deleted_side_still_wins_over_the_delete() -> None:
    to_outlook = Settings(field_directions={"contact.job_title": "to_outlook"})
    baseline = attrs.evolve(
        baseline_of([CrmContact(key="k")], [OutlookContact(key="k")]), settings=to_outlook
    )
    edited = OutlookSnapshot(
        contacts=[OutlookContact(key="k", job_title="Chef", department="Kitchen")]
    )
    planned = plan(CrmSnapshot(), edited, to_outlook, baseline)
    assert ops(planned) == [("contact", "crm", "k", "create")]
    assert planned.ops[0].reason == "recreated_after_delete"
    assert not planned.has_data_loss


@pytest.mark.parametrize("edited", [0, 5, 10])
def test_mass_delete_guard_counts_records_the_other_side_changed_as_lost_too(edited: int) -> None:
    # The scan counts the linked keys each side still holds in one pass; a pair
    # changed on either side takes the slow path and must be counted there too.
    crm, outlook = contacts(12)
    baseline = baseline_of(crm, outlook)

    def edit(records: list, keep: range) -> list:  # type: ignore[type-arg]
        # The first `edited` records (deleted on the other side) and both survivors change.
        return [
            attrs.evolve(r, job_title="Edited") if i < edited or i >= 10 else r
            for i, r in enumerate(records)
            if i < 10 or i in keep
        ]

    for now_crm, now_outlook, side in (
        (edit(crm, range(10, 12)), outlook[10:], Side.OUTLOOK),
        (crm[10:], edit(outlook, range(10, 12)), Side.CRM),
    ):
        planned = plan(
            CrmSnapshot(contacts=now_crm), OutlookSnapshot(contacts=now_outlook), None, baseline
        )
        guard = guard_of(planned)
        assert guard.side is side
        assert "lost 10 of 12" in guard.message


def test_records_deleted_on_both_sides_leave_the_baseline_beside_records_deleted_on_one() -> None:
    crm, outlook = contacts(6)
    baseline = baseline_of(crm, outlook)
    # c0, c1: gone from both; c2: gone from Outlook; c3: gone from the CRM; c4, c5: kept.
    planned = plan(
        CrmSnapshot(contacts=[crm[2], crm[4], crm[5]]),
        OutlookSnapshot(contacts=[outlook[3], outlook[4], outlook[5]]),
        None,
        baseline,
    )
    gone = left_baseline(planned)
    assert gone >= {crm[0].key, crm[1].key}
    assert {(op.action, op.key) for op in planned.ops} == {
        (Action.UNLINK, crm[2].key),
        (Action.DELETE, outlook[3].key),
    }


def test_a_rules_subclass_with_its_own_refusals_sees_every_record() -> None:
    from crmsync.contacts import ContactRules
    from crmsync.merge import DomainPolicy
    from crmsync.policy import SyncInput

    class NoVips(ContactRules):
        def refusals(self, record, side, inp):  # type: ignore[no-untyped-def]
            found = super().refusals(record, side, inp)
            if side is Side.CRM and record.job_title == "VIP":
                found.append(self.notice(record.key, "vip", "Never synced.", Severity.INFO, side))
            return found

    crm, outlook = contacts(2)
    vip = attrs.evolve(crm[0], job_title="VIP")
    inp = SyncInput(
        crm=CrmSnapshot(contacts=[vip, crm[1]]),
        outlook=OutlookSnapshot(contacts=outlook),
        baseline=baseline_of(crm, outlook),
        now=T1,
    )
    planned = DomainPolicy(NoVips())(inp)
    assert [(n.code, n.key) for n in planned.notices] == [("vip", vip.key)]
    assert planned.ops == ()


# With the baseline's settings the scan compares records; with others it plans every key.
SCANS = pytest.mark.parametrize("settings", [None, Settings(conflict=ConflictPolicy.OUTLOOK_WINS)])


@SCANS
def test_linked_records_deleted_on_both_sides_are_found_when_the_crm_holds_as_many_new_ones(
    settings: Settings | None,
) -> None:
    # The scan skips looking for linked pairs gone from both sides when every
    # key of the CRM's baseline is still in the CRM; as many new CRM records as
    # deleted ones must not look like that.
    crm, outlook = contacts(4)
    baseline = baseline_of(crm, outlook)
    new = new_crm_contacts(2)
    planned = plan(
        CrmSnapshot(contacts=crm[2:] + new),
        OutlookSnapshot(contacts=outlook[2:]),
        settings,
        baseline,
    )
    gone = left_baseline(planned)
    assert gone == {"k0", "k1"}
    assert {(op.action, op.side, op.key) for op in planned.ops} == {
        (Action.CREATE, Side.OUTLOOK, "new0"),
        (Action.CREATE, Side.OUTLOOK, "new1"),
    }


@SCANS
def test_mass_delete_guard_counts_every_linked_pair_when_the_crm_holds_as_many_new_ones(
    settings: Settings | None,
) -> None:
    crm, outlook = contacts(12)
    baseline = baseline_of(crm, outlook)
    new = new_crm_contacts(10)
    planned = plan(
        CrmSnapshot(contacts=crm[10:] + new), OutlookSnapshot(contacts=outlook), settings, baseline
    )
    guard = guard_of(planned)
    assert guard.side is Side.CRM
    assert "lost 10 of 12" in guard.message
    assert Action.DELETE not in {op.action for op in planned.ops}


def lopsided(n: int) -> tuple[list[CrmContact], list[OutlookContact], Baseline]:
    """`n` linked contacts, and solo0..solo2 in the CRM's baseline only (an application's)."""
    crm, outlook = contacts(n)
    solos = [CrmContact(key=f"solo{i}", first_name="Alone") for i in range(3)]
    baseline = Baseline(
        crm=CrmSnapshot(contacts=crm + solos), outlook=OutlookSnapshot(contacts=outlook)
    )
    return crm, outlook, baseline


@SCANS
def test_a_key_the_baseline_holds_on_one_side_only_is_not_counted_as_linked(
    settings: Settings | None,
) -> None:
    crm, outlook, baseline = lopsided(12)
    planned = plan(
        CrmSnapshot(contacts=crm[10:]), OutlookSnapshot(contacts=outlook), settings, baseline
    )
    guard = guard_of(planned)
    assert guard.side is Side.CRM
    assert "lost 10 of 12" in guard.message


@SCANS
def test_a_key_the_baseline_holds_on_one_side_only_is_no_pair_deleted_on_both_sides(
    settings: Settings | None,
) -> None:
    crm, outlook, baseline = lopsided(12)
    planned = plan(
        CrmSnapshot(contacts=crm[2:]), OutlookSnapshot(contacts=outlook[2:]), settings, baseline
    )
    gone = left_baseline(planned)
    assert gone == {"k0", "k1"}  # the solo keys are left as they are


# --- a first sync's manual conflict, moved records, narrowed directions, creates ----------

MANUAL = Settings(conflict=ConflictPolicy.MANUAL)


def manual_first_sync() -> crmsync.Synced:
    """A pair first synced under MANUAL: job title differs, department agrees."""
    crm = CrmSnapshot(contacts=[CrmContact(key="k", job_title="CEO", department="Sales")])
    outlook = OutlookSnapshot(
        contacts=[OutlookContact(key="k", job_title="CTO", department="Sales")]
    )
    planned, synced = sync(crm, outlook, MANUAL)
    assert "conflict" in codes(planned)
    return synced


def test_a_first_sync_conflict_left_for_a_person_still_links_the_pair() -> None:
    """The pair enters the baseline on both sides; the conflict is reported again, alone."""
    synced = manual_first_sync()
    assert [c.key for c in synced.baseline.crm.contacts] == ["k"]
    assert [c.key for c in synced.baseline.outlook.contacts] == ["k"]
    again = plan(synced.crm, synced.outlook, MANUAL, synced.baseline)
    assert again.is_empty
    assert codes(again) == ["conflict"]
    assert again.baseline_updates == ()


def test_a_crm_delete_after_a_first_sync_conflict_deletes_the_outlook_contact() -> None:
    synced = manual_first_sync()
    planned = plan(CrmSnapshot(), synced.outlook, MANUAL, synced.baseline)
    assert ops(planned) == [("contact", "outlook", "k", "delete")]
    assert planned.ops[0].reason == "deleted_in_crm"
    # Outlook's side of the conflict goes with the delete: said, as a value nowhere else now.
    [notice] = planned.notices
    assert (notice.code, notice.severity) == ("field_not_synced", Severity.DATA_LOSS)
    assert "job title to 'CTO', which the CRM held too" in notice.message


def test_an_outlook_delete_after_a_first_sync_conflict_unlinks_the_crm_contact() -> None:
    synced = manual_first_sync()
    planned = plan(synced.crm, OutlookSnapshot(), MANUAL, synced.baseline)
    assert ops(planned) == [("contact", "crm", "k", "unlink")]
    assert codes(planned) == ["delete_not_propagated"]


def test_after_a_first_sync_conflict_another_field_s_edit_is_a_one_sided_change() -> None:
    synced = manual_first_sync()
    edited = OutlookSnapshot(
        contacts=[attrs.evolve(synced.outlook.contacts[0], department="Support")]
    )
    planned, after = sync(synced.crm, edited, MANUAL, synced.baseline)
    [op] = planned.ops
    assert (op.side, op.action, op.reason) == (Side.CRM, Action.UPDATE, "changed_in_outlook")
    assert [(c.field, c.new) for c in op.changes] == [("department", "Support")]
    assert codes(planned) == ["conflict"]  # job title only, still
    assert [n.message.split()[:2] for n in planned.notices] == [["job", "title"]]
    assert plan(after.crm, after.outlook, MANUAL, after.baseline).is_empty


def test_a_switch_to_crm_wins_resolves_a_first_sync_conflict_and_keeps_outlook_s_edits() -> None:
    synced = manual_first_sync()
    edited = OutlookSnapshot(
        contacts=[attrs.evolve(synced.outlook.contacts[0], department="Support")]
    )
    planned = plan(synced.crm, edited, Settings(), synced.baseline)
    changes = {(op.side, c.field, c.new) for op in planned.ops for c in op.changes}
    assert changes == {(Side.OUTLOOK, "job_title", "CEO"), (Side.CRM, "department", "Support")}
    assert codes(planned) == ["conflict_resolved"]


def test_a_first_sync_conflict_is_settled_when_the_sides_agree() -> None:
    synced = manual_first_sync()
    agreed = CrmSnapshot(contacts=[attrs.evolve(synced.crm.contacts[0], job_title="CTO")])
    planned, after = sync(agreed, synced.outlook, MANUAL, synced.baseline)
    assert (planned.ops, planned.notices) == ((), ())
    again = plan(after.crm, after.outlook, MANUAL, after.baseline)
    assert (again.ops, again.notices) == ((), ())


def test_a_first_sync_conflict_of_a_linked_by_e_mail_pair_links_it_in_the_next_round() -> None:
    crm = CrmSnapshot(contacts=[CrmContact(key="c1", emails=["a@x.com"], job_title="CEO")])
    outlook = OutlookSnapshot(
        contacts=[OutlookContact(key="o1", emails=["a@x.com"], job_title="CTO")]
    )
    _, linked = sync(crm, outlook, MANUAL)
    planned, synced = sync(linked.crm, linked.outlook, MANUAL, linked.baseline)
    assert codes(planned) == ["conflict"]
    assert [c.key for c in synced.baseline.outlook.contacts] == ["c1"]
    gone = plan(CrmSnapshot(), synced.outlook, MANUAL, synced.baseline)
    assert ops(gone) == [("contact", "outlook", "c1", "delete")]


def test_a_first_sync_conflict_links_tasks_and_appointments_too() -> None:
    soon = T1 + dt.timedelta(days=60)
    crm = CrmSnapshot(
        tasks=[crmsync.Task(key="t", subject="Call")],
        appointments=[crmsync.Appointment(key="a", subject="Demo", start=soon, end=soon)],
    )
    outlook = OutlookSnapshot(
        tasks=[crmsync.Task(key="t", subject="Call back")],
        appointments=[crmsync.Appointment(key="a", subject="Demo day", start=soon, end=soon)],
    )
    _, synced = sync(crm, outlook, MANUAL)
    for field in ("tasks", "appointments"):
        assert len(getattr(synced.baseline.crm, field)) == 1, field
        assert len(getattr(synced.baseline.outlook, field)) == 1, field
    planned = plan(CrmSnapshot(), synced.outlook, MANUAL, synced.baseline)
    assert {(op.domain.value, op.action.value) for op in planned.ops} == {
        ("task", "delete"),
        ("appointment", "unlink"),  # the user is not the organizer: Outlook keeps it
    }


def moved(synced: crmsync.Synced, old: str, new: str, **changes: object) -> OutlookSnapshot:
    """Outlook's contact `old` comes back under key `new` (a move to another folder)."""
    return OutlookSnapshot(
        contacts=[
            attrs.evolve(c, key=new, **changes) if c.key == old else c
            for c in synced.outlook.contacts
        ]
    )


def test_a_contact_moved_in_outlook_is_linked_again_not_duplicated() -> None:
    crm = CrmSnapshot(contacts=[CrmContact(key="k1", first_name="Ann", emails=["ann@x.com"])])
    _, first = sync(crm, OutlookSnapshot())
    planned, synced = sync(first.crm, moved(first, "k1", "m1"), Settings(), first.baseline)
    assert ops(planned) == [("contact", "outlook", "m1", "link")]
    assert planned.notices == ()
    assert [c.key for c in synced.outlook.contacts] == ["k1"]
    converge(synced.crm, synced.outlook, Settings(), synced.baseline)


def test_a_moved_contact_s_edit_merges_three_ways_after_the_link() -> None:
    """The pair keeps its baseline, so the edit is a one-sided change, not a first-sync clash."""
    crm = CrmSnapshot(contacts=[CrmContact(key="k1", emails=["ann@x.com"], job_title="CEO")])
    _, first = sync(crm, OutlookSnapshot())
    outlook = moved(first, "k1", "m1", job_title="CTO")
    _, linked = sync(first.crm, outlook, Settings(), first.baseline)
    planned = plan(linked.crm, linked.outlook, Settings(), linked.baseline)
    [op] = planned.ops
    assert (op.side, op.reason, op.changes[0].new) == (Side.CRM, "changed_in_outlook", "CTO")
    assert planned.notices == ()


def test_a_crm_contact_replaced_by_one_like_it_takes_over_the_outlook_contact() -> None:
    crm = CrmSnapshot(contacts=[CrmContact(key="k1", emails=["ann@x.com"])])
    _, first = sync(crm, OutlookSnapshot())
    replaced = CrmSnapshot(contacts=[CrmContact(key="c9", emails=["Ann@x.com"])])
    planned, synced = sync(replaced, first.outlook, Settings(), first.baseline)
    assert ops(planned) == [("contact", "outlook", "k1", "link")]
    assert [c.key for c in synced.outlook.contacts] == ["c9"]
    assert "k1" not in {c.key for c in synced.baseline.crm.contacts}
    converge(synced.crm, synced.outlook, Settings(), synced.baseline)


def test_two_pairs_that_each_lost_a_side_are_not_linked_to_each_other() -> None:
    crm = CrmSnapshot(
        contacts=[
            CrmContact(key="k1", emails=["a@x.com"]),
            CrmContact(key="k2", emails=["a@x.com"]),
        ]
    )
    _, first = sync(crm, OutlookSnapshot())
    crm_left = CrmSnapshot(contacts=[first.crm.contacts[0]])
    outlook_left = OutlookSnapshot(contacts=[first.outlook.contacts[1]])
    planned = plan(crm_left, outlook_left, Settings(), first.baseline)
    assert ops(planned) == [
        ("contact", "crm", "k1", "unlink"),
        ("contact", "outlook", "k2", "delete"),
    ]


def test_contacts_moved_to_another_folder_together_are_not_a_mass_delete() -> None:
    crm_contacts, _ = contacts(12)
    crm = CrmSnapshot(contacts=[attrs.evolve(c, emails=[f"{c.key}@x.com"]) for c in crm_contacts])
    _, first = sync(crm, OutlookSnapshot())
    outlook = OutlookSnapshot(
        contacts=[attrs.evolve(c, key=f"m-{c.key}") for c in first.outlook.contacts]
    )
    planned = plan(first.crm, outlook, Settings(), first.baseline)
    assert {op.action for op in planned.ops} == {Action.LINK}
    assert len(planned.ops) == 12
    assert planned.notices == ()


def test_an_appointment_moved_in_outlook_is_linked_again_by_its_uid() -> None:
    soon = T1 + dt.timedelta(days=60)
    crm = CrmSnapshot(
        appointments=[crmsync.Appointment(key="a1", uid="UID-1", start=soon, end=soon)]
    )
    _, first = sync(crm, OutlookSnapshot())
    outlook = OutlookSnapshot(appointments=[attrs.evolve(first.outlook.appointments[0], key="m1")])
    planned = plan(first.crm, outlook, Settings(), first.baseline)
    assert ops(planned) == [("appointment", "outlook", "m1", "link")]


@pytest.mark.parametrize(
    ("deleted_on", "direction", "expected"),
    [
        (Side.CRM, "to_outlook", ("contact", "outlook", "k", "delete")),
        (Side.OUTLOOK, "to_crm", ("contact", "crm", "k", "unlink")),
    ],
)
def test_a_change_against_today_s_direction_does_not_undo_a_delete(
    deleted_on: Side, direction: str, expected: tuple[str, str, str, str]
) -> None:
    """The plan is made with the settings it is given: a direction narrowed since the last
    sync decides whether the survivor's change can travel, not the old one."""
    crm = CrmSnapshot(contacts=[CrmContact(key="k", job_title="CEO")])
    _, first = sync(crm, OutlookSnapshot())
    narrowed = Settings(field_directions={"contact.job_title": direction})
    survivor = deleted_on.other
    store = first.crm if survivor is Side.CRM else first.outlook
    edited = attrs.evolve(store, contacts=[attrs.evolve(store.contacts[0], job_title="CTO")])
    now = (edited, OutlookSnapshot()) if survivor is Side.CRM else (CrmSnapshot(), edited)
    planned = plan(*now, narrowed, first.baseline)
    assert ops(planned) == [expected]
    assert "field_not_synced" in codes(planned) or expected[3] == "unlink"


def test_a_task_change_against_today_s_direction_goes_with_the_delete_as_data_loss() -> None:
    crm = CrmSnapshot(tasks=[crmsync.Task(key="t", subject="Call")])
    _, first = sync(crm, OutlookSnapshot())
    narrowed = Settings(field_directions={"task.subject": "to_crm"})
    edited = CrmSnapshot(tasks=[attrs.evolve(first.crm.tasks[0], subject="Call Ann")])
    planned = plan(edited, OutlookSnapshot(), narrowed, first.baseline)
    assert ops(planned) == [("task", "crm", "t", "delete")]
    assert planned.has_data_loss


def test_a_survivor_holding_what_the_deleted_side_held_is_no_unseen_change() -> None:
    """Changed to the value the deleted side had at the last sync: nothing to protect."""
    settings = Settings(field_directions={"contact.notes": "to_crm"})
    baseline = attrs.evolve(
        baseline_of([CrmContact(key="k")], [OutlookContact(key="k", notes="Ann")]),
        settings=settings,
    )
    crm = CrmSnapshot(contacts=[CrmContact(key="k", notes="Ann")])
    planned = plan(crm, OutlookSnapshot(), Settings(), baseline)
    assert ops(planned) == [("contact", "crm", "k", "unlink")]


@pytest.mark.parametrize(
    ("crm", "outlook", "field", "direction", "side"),
    [
        (
            CrmSnapshot(contacts=[CrmContact(key="c", first_name="Ann")]),
            OutlookSnapshot(),
            "contact.first_name",
            "to_crm",
            Side.CRM,
        ),
        (
            CrmSnapshot(),
            OutlookSnapshot(contacts=[OutlookContact(key="c", job_title="CTO")]),
            "contact.job_title",
            "to_outlook",
            Side.OUTLOOK,
        ),
        (
            CrmSnapshot(tasks=[crmsync.Task(key="t", subject="Call")]),
            OutlookSnapshot(),
            "task.subject",
            "none",
            Side.CRM,
        ),
        (
            CrmSnapshot(),
            OutlookSnapshot(
                appointments=[crmsync.Appointment(key="a", location="Room 1", start=T1, end=T1)]
            ),
            "appointment.location",
            "to_outlook",
            Side.OUTLOOK,
        ),
    ],
)
def test_a_create_that_leaves_a_value_behind_says_so_once(
    crm: CrmSnapshot, outlook: OutlookSnapshot, field: str, direction: str, side: Side
) -> None:
    settings = Settings(field_directions={field: direction})
    planned, synced = sync(crm, outlook, settings)
    [create] = planned.ops
    assert (create.action, create.side) == (Action.CREATE, side.other)
    [notice] = planned.notices
    assert (notice.code, notice.severity, notice.side) == ("field_not_synced", Severity.INFO, side)
    assert field.split(".")[1].replace("_", " ") in notice.message
    again = plan(synced.crm, synced.outlook, settings, synced.baseline)
    assert (again.ops, again.notices) == ((), ())


def test_a_create_whose_values_all_travel_has_no_notice() -> None:
    planned = plan(
        CrmSnapshot(contacts=[CrmContact(key="c", first_name="Ann")]),
        OutlookSnapshot(),
        Settings(field_directions={"contact.first_name": "to_outlook"}),
    )
    assert planned.notices == ()


def unlinked_contact() -> crmsync.Synced:
    """A pair whose Outlook contact was deleted: the CRM contact is kept and unlinked."""
    crm = CrmSnapshot(contacts=[CrmContact(key="k", emails=["ann@x.com"])])
    _, first = sync(crm, OutlookSnapshot())
    _, synced = sync(first.crm, OutlookSnapshot(), Settings(), first.baseline)
    assert synced.baseline.unlinked == {(Domain.CONTACT, "k")}
    return synced


def test_an_unlinked_record_says_what_makes_it_sync_again_and_how_to_retire_it() -> None:
    synced = unlinked_contact()
    [notice] = plan(synced.crm, synced.outlook, Settings(), synced.baseline).notices
    assert notice.code == "unlinked"
    assert "same first e-mail address" in notice.message
    assert "Delete it to retire it" in notice.message


def test_an_unlinked_key_whose_record_is_gone_leaves_the_baseline_with_one_notice() -> None:
    synced = unlinked_contact()
    planned, after = sync(CrmSnapshot(), synced.outlook, Settings(), synced.baseline)
    assert codes(planned) == ["unlinked_gone"]
    assert planned.ops == ()
    assert after.baseline.unlinked == frozenset()
    again = plan(after.crm, after.outlook, Settings(), after.baseline)
    assert (again.ops, again.notices, again.baseline_updates) == ((), (), ())


def test_an_unlinked_key_absent_from_a_partial_snapshot_is_not_gone() -> None:
    """A partial snapshot leaves out what did not change; only `removed` says a record is gone."""
    synced = unlinked_contact()
    partial = CrmSnapshot(complete=False)
    outlook = OutlookSnapshot(complete=False)
    assert plan(partial, outlook, Settings(), synced.baseline).baseline_updates == ()
    removed = CrmSnapshot(complete=False, removed=frozenset({"k"}))
    planned = plan(removed, outlook, Settings(), synced.baseline)
    assert codes(planned) == ["unlinked_gone"]
