"""Tests for crmsync.contacts: the field map, address modes, the remap, contact rules."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import crmsync
from crmsync import (
    Action,
    Address,
    AddressKind,
    AddressRemap,
    AddressSync,
    Baseline,
    CrmContact,
    CrmSnapshot,
    Direction,
    OutlookContact,
    OutlookSnapshot,
    Settings,
    Severity,
    Side,
)
from support import NOW, USER, codes, converge, ops, plan, sync

X = Address(street="1 Main St", city="Paris")
Y = Address(street="2 Side St", city="Lyon")
Z = Address(street="3 Lake Rd", city="Annecy")
W = Address(street="4 Hill Rd", city="Nice")
V = Address(street="5 Bay Rd", city="Brest")

MAILING = Settings()
ALL_THREE = Settings(address_sync=AddressSync.ALL_THREE)


def linked(crm: CrmContact, outlook: OutlookContact, settings: Settings) -> Baseline:
    return Baseline(
        crm=CrmSnapshot(contacts=[crm]),
        outlook=OutlookSnapshot(contacts=[outlook]),
        settings=settings,
    )


def one(
    crm: CrmContact | None, outlook: OutlookContact | None
) -> tuple[CrmSnapshot, OutlookSnapshot]:
    return (
        CrmSnapshot(contacts=[crm] if crm else []),
        OutlookSnapshot(contacts=[outlook] if outlook else []),
    )


def contact_pair(**fields: object) -> tuple[CrmContact, OutlookContact]:
    return CrmContact(key="k", first_name="Ann", **fields), OutlookContact(
        key="k", first_name="Ann"
    )


# --- the field map -------------------------------------------------------------


def test_a_contact_new_in_the_crm_is_created_in_outlook_with_its_mailing_address() -> None:
    crm, outlook = one(CrmContact(key="k", first_name="Ann", emails=["a@x.com"], address1=X), None)
    planned = plan(crm, outlook)
    [op] = planned.ops
    assert (op.action, op.side, op.reason) == (Action.CREATE, Side.OUTLOOK, "new_in_crm")
    assert op.record.business_address == X
    assert op.record.mailing_address is AddressKind.BUSINESS
    converge(crm, outlook)


def test_a_tracked_contact_new_in_outlook_is_created_in_the_crm_owned_by_the_user() -> None:
    crm, outlook = one(
        None, OutlookContact(key="o", last_name="Lee", home_address=Y, mailing_address="home")
    )
    [op] = plan(crm, outlook).ops
    assert (op.action, op.side) == (Action.CREATE, Side.CRM)
    assert op.record.owner == USER
    assert op.record.address1 == Y


def test_an_untracked_outlook_contact_does_not_sync_and_gets_a_not_tracked_notice() -> None:
    crm, outlook = one(None, OutlookContact(key="o", first_name="Dad", tracked=False))
    planned = plan(crm, outlook)
    assert planned.is_empty
    [notice] = planned.notices
    assert (notice.code, notice.key, notice.side) == ("not_tracked", "o", Side.OUTLOOK)


def test_a_refused_record_changes_nothing_else_in_the_plan() -> None:
    base_crm, base_outlook = one(CrmContact(key="k", first_name="A"), None)
    with_refused = OutlookSnapshot(contacts=[OutlookContact(key="o", tracked=False)])
    without = plan(base_crm, base_outlook)
    with_it = plan(base_crm, with_refused)
    assert without.ops == with_it.ops
    assert codes(with_it) == ["not_tracked"]


def test_a_field_changed_in_one_side_travels_to_the_other() -> None:
    crm, outlook = contact_pair(job_title="Buyer")
    outlook = attrs.evolve(outlook, job_title="Buyer")
    baseline = linked(crm, outlook, MAILING)
    now_crm, now_outlook = one(attrs.evolve(crm, job_title="Head of Purchasing"), outlook)
    [op] = plan(now_crm, now_outlook, MAILING, baseline).ops
    assert (op.side, op.action, op.reason) == (Side.OUTLOOK, Action.UPDATE, "changed_in_crm")
    assert [(c.field, c.old, c.new) for c in op.changes] == [
        ("job_title", "Buyer", "Head of Purchasing")
    ]
    converge(now_crm, now_outlook, MAILING, baseline)


def test_email_addresses_compare_case_insensitively() -> None:
    crm = CrmContact(key="k", emails=["Ann@Contoso.com"])
    outlook = OutlookContact(key="k", emails=["ann@contoso.com"])
    assert plan(*one(crm, outlook)).is_empty


def test_address_equality_ignores_case_and_white_space() -> None:
    crm = CrmContact(key="k", address1=Address(street="1  Main St ", city="PARIS"))
    outlook = OutlookContact(key="k", business_address=X)
    assert plan(*one(crm, outlook)).is_empty


# --- the mailing address -----------------------------------------------------------


def test_mailing_only_maps_address1_to_the_outlook_mailing_address() -> None:
    crm = CrmContact(key="k", address1=X)
    outlook = OutlookContact(key="k", business_address=Y, home_address=X, mailing_address="home")
    assert plan(*one(crm, outlook)).is_empty  # address1 == the mailing (home) address


def test_mailing_only_other_addresses_do_not_travel() -> None:
    crm = CrmContact(key="k", address1=X, address2=Z)
    outlook = OutlookContact(key="k", business_address=X, other_address=W)
    baseline = linked(
        CrmContact(key="k", address1=X), OutlookContact(key="k", business_address=X), MAILING
    )
    assert plan(*one(crm, outlook), MAILING, baseline).is_empty


def test_changing_the_mailing_address_choice_in_outlook_travels_as_an_address1_change() -> None:
    crm = CrmContact(key="k", address1=X)
    outlook = OutlookContact(key="k", business_address=X, home_address=Y)
    baseline = linked(crm, outlook, MAILING)
    moved = attrs.evolve(outlook, mailing_address=AddressKind.HOME)
    [op] = plan(*one(crm, moved), MAILING, baseline).ops
    assert (op.side, op.changes[0].field, op.changes[0].new) == (Side.CRM, "address1", Y)


def test_all_three_maps_address1_2_3_to_business_home_other() -> None:
    crm = CrmContact(key="k", address1=X, address2=Y, address3=Z)
    [op] = plan(*one(crm, None), ALL_THREE).ops
    record = op.record
    assert (record.business_address, record.home_address, record.other_address) == (X, Y, Z)


# --- the address remap -------------------------------------------------------------


def test_preserve_remap_to_all_three_moves_every_address_to_both_sides() -> None:
    crm = CrmContact(key="k", address1=X, address2=Y)
    outlook = OutlookContact(key="k", business_address=X, other_address=Z)
    baseline = linked(crm, outlook, MAILING)
    planned = plan(*one(crm, outlook), ALL_THREE, baseline)
    changes = {(op.side, c.field, c.new) for op in planned.ops for c in op.changes}
    assert changes == {(Side.OUTLOOK, "home_address", Y), (Side.CRM, "address3", Z)}
    assert {op.reason for op in planned.ops} == {"address_remap"}
    assert not planned.has_data_loss
    synced = converge(*one(crm, outlook), ALL_THREE, baseline)
    [c], [o] = synced.crm.contacts, synced.outlook.contacts
    assert (c.address1, c.address2, c.address3) == (X, Y, Z)
    assert (o.business_address, o.home_address, o.other_address) == (X, Y, Z)


def test_preserve_remap_to_mailing_only_swaps_crm_slots_to_keep_every_address() -> None:
    crm = CrmContact(key="k", address1=X, address2=Y)
    outlook = OutlookContact(key="k", business_address=X, home_address=Y, mailing_address="home")
    baseline = linked(crm, outlook, ALL_THREE)
    planned = plan(*one(crm, outlook), MAILING, baseline)
    [op] = planned.ops
    assert op.side is Side.CRM
    assert {(c.field, c.new) for c in op.changes} == {("address1", Y), ("address2", X)}
    converge(*one(crm, outlook), MAILING, baseline)


def test_preserve_remap_that_would_lose_an_address_leaves_the_addresses_alone() -> None:
    crm = CrmContact(key="k", address1=X, address2=Y, address3=Z)
    outlook = OutlookContact(key="k", business_address=X, home_address=W, other_address=V)
    baseline = linked(crm, outlook, MAILING)
    planned = plan(*one(crm, outlook), ALL_THREE, baseline)
    assert planned.is_empty
    [notice] = planned.notices
    assert (notice.code, notice.severity) == ("address_remap_conflict", Severity.WARNING)
    synced = crmsync.apply(planned, *one(crm, outlook), baseline)
    assert synced.baseline.pending_remap == {"k"}
    # Reported again until the addresses fit...
    again = plan(synced.crm, synced.outlook, ALL_THREE, synced.baseline)
    assert codes(again) == ["address_remap_conflict"]
    # ...then the remap runs and the contact leaves pending_remap.
    fixed = OutlookSnapshot(contacts=[attrs.evolve(outlook, home_address=Y, other_address=Z)])
    resolved, after = sync(synced.crm, fixed, ALL_THREE, synced.baseline)
    assert "address_remap_conflict" not in codes(resolved)
    assert after.baseline.pending_remap == frozenset()
    converge(after.crm, after.outlook, ALL_THREE, after.baseline)


def test_remap_merges_edits_under_the_old_mode_first() -> None:
    """An address a user replaced is not revived from the other side's stale copy."""
    crm = CrmContact(key="k", address1=X)
    outlook = OutlookContact(key="k", business_address=X)
    baseline = linked(crm, outlook, MAILING)
    edited = attrs.evolve(outlook, business_address=Y)  # replaced X in Outlook
    planned = plan(*one(crm, edited), ALL_THREE, baseline)
    [op] = planned.ops
    assert (op.side, [(c.field, c.new) for c in op.changes]) == (Side.CRM, [("address1", Y)])
    synced = converge(*one(crm, edited), ALL_THREE, baseline)
    assert all(
        not a.same_as(X)
        for a in (
            synced.crm.contacts[0].address1,
            synced.crm.contacts[0].address2,
            synced.crm.contacts[0].address3,
        )
    )


@pytest.mark.parametrize(
    ("policy", "side", "lost"),
    [(AddressRemap.CRM_WINS, Side.OUTLOOK, W), (AddressRemap.OUTLOOK_WINS, Side.CRM, Y)],
)
def test_crm_wins_and_outlook_wins_remaps_report_each_lost_address(
    policy: AddressRemap, side: Side, lost: Address
) -> None:
    crm = CrmContact(key="k", address1=X, address2=Y)
    outlook = OutlookContact(key="k", business_address=X, home_address=W)
    baseline = linked(crm, outlook, MAILING)
    settings = Settings(address_sync=AddressSync.ALL_THREE, address_remap=policy)
    planned = plan(*one(crm, outlook), settings, baseline)
    [notice] = [n for n in planned.notices if n.code == "address_remap_data_loss"]
    assert notice.severity is Severity.DATA_LOSS
    assert notice.side is side
    assert lost.one_line() in notice.message
    assert planned.has_data_loss
    converge(*one(crm, outlook), settings, baseline)


def test_remap_never_writes_where_a_direction_forbids_it() -> None:
    crm = CrmContact(key="k", address1=X, address2=Y)
    outlook = OutlookContact(key="k", business_address=X)
    baseline = linked(crm, outlook, MAILING)
    settings = Settings(address_sync="all_three", field_directions={"contact.address2": "to_crm"})
    planned = plan(*one(crm, outlook), settings, baseline)
    assert planned.is_empty
    assert codes(planned) == ["address_remap_conflict"]


def test_a_switch_that_leaves_the_pair_in_step_needs_no_remap() -> None:
    crm = CrmContact(key="k", address1=X)
    outlook = OutlookContact(key="k", business_address=X)
    baseline = linked(crm, outlook, MAILING)
    assert plan(*one(crm, outlook), ALL_THREE, baseline).is_empty


# --- deletes and duplicates -------------------------------------------------------------


def test_a_contact_deleted_in_the_crm_is_removed_from_the_mailbox() -> None:
    crm, outlook = contact_pair()
    baseline = linked(crm, outlook, MAILING)
    planned = plan(*one(None, outlook), MAILING, baseline)
    assert ops(planned) == [("contact", "outlook", "k", "delete")]
    converge(*one(None, outlook), MAILING, baseline)


def test_an_outlook_delete_does_not_delete_the_crm_contact_but_unlinks_it() -> None:
    crm, outlook = contact_pair()
    baseline = linked(crm, outlook, MAILING)
    planned = plan(*one(crm, None), MAILING, baseline)
    assert ops(planned) == [("contact", "crm", "k", "unlink")]
    assert codes(planned) == ["delete_not_propagated"]
    synced = crmsync.apply(planned, *one(crm, None), baseline)
    assert synced.crm.contacts == (crm,)
    assert (crmsync.Domain.CONTACT, "k") in synced.baseline.unlinked
    # Unlinked: it no longer syncs, and is not recreated in Outlook.
    again = plan(synced.crm, synced.outlook, MAILING, synced.baseline)
    assert again.is_empty
    assert codes(again) == ["unlinked"]


def test_a_delete_never_destroys_an_unpropagated_change() -> None:
    crm, outlook = contact_pair()
    baseline = linked(crm, outlook, MAILING)
    changed = attrs.evolve(crm, job_title="New title")
    planned = plan(*one(changed, None), MAILING, baseline)
    [op] = planned.ops
    assert (op.action, op.side, op.reason) == (
        Action.CREATE,
        Side.OUTLOOK,
        "recreated_after_delete",
    )
    assert op.record.job_title == "New title"


def test_a_contact_new_on_both_sides_with_the_same_email_is_linked_not_duplicated() -> None:
    crm = CrmContact(key="c1", first_name="Ann", emails=["ann@x.com"])
    outlook = OutlookContact(key="o1", first_name="Annie", emails=[" ANN@x.com"])
    planned = plan(*one(crm, outlook))
    [op] = planned.ops
    assert (op.action, op.side, op.key) == (Action.LINK, Side.OUTLOOK, "o1")
    assert [(c.field, c.old, c.new) for c in op.changes] == [("key", "o1", "c1")]
    # The next plan merges the pair as a first sync would; then it converges.
    synced = converge(*one(crm, outlook), rounds=2)
    assert len(synced.crm.contacts) == len(synced.outlook.contacts) == 1
    assert synced.outlook.contacts[0].first_name == "Ann"


def test_an_ambiguous_match_links_nothing_and_creates_nothing() -> None:
    crm = CrmSnapshot(
        contacts=[
            CrmContact(key="c1", emails=["a@x.com"]),
            CrmContact(key="c2", emails=["A@x.com"]),
        ]
    )
    outlook = OutlookSnapshot(contacts=[OutlookContact(key="o1", emails=["a@x.com"])])
    planned = plan(crm, outlook)
    assert planned.is_empty
    assert codes(planned) == ["ambiguous_match"] * 3


def test_an_empty_email_never_matches() -> None:
    crm, outlook = one(CrmContact(key="c1"), OutlookContact(key="o1"))
    assert sorted(op.action for op in plan(crm, outlook).ops) == [Action.CREATE, Action.CREATE]


def test_an_unlinked_contact_is_linked_again_by_its_email() -> None:
    crm = CrmContact(key="c1", emails=["a@x.com"])
    baseline = Baseline(unlinked=frozenset({(crmsync.Domain.CONTACT, "c1")}))
    outlook = OutlookContact(key="o9", emails=["a@x.com"])
    planned = plan(*one(crm, outlook), MAILING, baseline)
    assert ops(planned) == [("contact", "outlook", "o9", "link")]
    synced = crmsync.apply(planned, *one(crm, outlook), baseline)
    assert synced.baseline.unlinked == frozenset()


# --- conflicts and directions ----------------------------------------------------------


def test_a_field_changed_on_both_sides_differently_follows_the_conflict_policy() -> None:
    crm, outlook = contact_pair()
    baseline = linked(crm, outlook, MAILING)
    c2, o2 = attrs.evolve(crm, department="Sales"), attrs.evolve(outlook, department="Ops")
    for policy, side, new in (
        ("crm_wins", Side.OUTLOOK, "Sales"),
        ("outlook_wins", Side.CRM, "Ops"),
    ):
        settings = Settings(conflict=policy)
        planned = plan(*one(c2, o2), settings, attrs.evolve(baseline, settings=settings))
        [op] = planned.ops
        assert (op.side, op.changes[0].new) == (side, new)
        [notice] = planned.notices
        assert notice.code == "conflict_resolved"


def test_a_none_direction_field_never_appears_in_an_op() -> None:
    crm, outlook = contact_pair()
    settings = Settings(field_directions={"contact.job_title": Direction.NONE})
    baseline = linked(crm, outlook, settings)
    planned = plan(*one(attrs.evolve(crm, job_title="CEO"), outlook), settings, baseline)
    assert planned.is_empty
    assert codes(planned) == ["field_not_synced"]


# --- properties -------------------------------------------------------------------------

ADDRESSES = st.sampled_from([Address(), X, Y, Z, W, Address(street="1 MAIN st ", city="paris")])
SLOTS = st.tuples(ADDRESSES, ADDRESSES, ADDRESSES)
KINDS = st.sampled_from(list(AddressKind))
MODES = st.sampled_from(list(AddressSync))
NONE = Address()
EDITS = st.tuples(*[st.none() | ADDRESSES] * 3)


def remap_world(
    c: tuple[Address, ...], o: tuple[Address, ...], kind: AddressKind, old: AddressSync
) -> tuple[CrmContact, OutlookContact, Baseline]:
    """A linked pair as a first sync under the old mode leaves it, with its baseline."""
    crm = CrmContact(key="k", address1=c[0], address2=c[1], address3=c[2])
    outlook = OutlookContact(
        key="k", business_address=o[0], home_address=o[1], other_address=o[2], mailing_address=kind
    )
    _, synced = sync(*one(crm, outlook), Settings(address_sync=old))
    return synced.crm.contacts[0], synced.outlook.contacts[0], synced.baseline


def addresses_of(crm: CrmContact, outlook: OutlookContact) -> tuple[list[Address], list[Address]]:
    return (
        [crm.address1, crm.address2, crm.address3],
        [outlook.business_address, outlook.home_address, outlook.other_address],
    )


def distinct(addresses: list[Address]) -> set[tuple[str, ...]]:
    return {a.normalized for a in addresses if not a.is_empty}


@settings(max_examples=300)
@given(c=SLOTS, o=SLOTS, kind=KINDS, old=MODES)
def test_property_a_preserve_remap_never_loses_a_distinct_non_empty_address(
    c: tuple[Address, ...], o: tuple[Address, ...], kind: AddressKind, old: AddressSync
) -> None:
    """Conservation: every address of either side before is on both sides after (or a conflict)."""
    new = AddressSync.ALL_THREE if old is AddressSync.MAILING_ONLY else AddressSync.MAILING_ONLY
    crm, outlook, baseline = remap_world(c, o, kind, old)
    settings = Settings(address_sync=new)
    planned, synced = sync(*one(crm, outlook), settings, baseline)
    before = distinct([*addresses_of(crm, outlook)[0], *addresses_of(crm, outlook)[1]])
    after_crm, after_outlook = addresses_of(synced.crm.contacts[0], synced.outlook.contacts[0])
    if "address_remap_conflict" in codes(planned):
        assert planned.is_empty
    else:
        assert before <= distinct(after_crm)
        assert before <= distinct(after_outlook)
    assert not planned.has_data_loss
    again = plan(synced.crm, synced.outlook, settings, synced.baseline)
    assert again.is_empty, again.render()


@settings(max_examples=300)
@given(
    c=SLOTS,
    o=SLOTS,
    kind=KINDS,
    old=MODES,
    policy=st.sampled_from([AddressRemap.CRM_WINS, AddressRemap.OUTLOOK_WINS]),
)
def test_property_crm_wins_and_outlook_wins_report_every_address_they_overwrite(
    c: tuple[Address, ...],
    o: tuple[Address, ...],
    kind: AddressKind,
    old: AddressSync,
    policy: AddressRemap,
) -> None:
    new = AddressSync.ALL_THREE if old is AddressSync.MAILING_ONLY else AddressSync.MAILING_ONLY
    crm, outlook, baseline = remap_world(c, o, kind, old)
    settings = Settings(address_sync=new, address_remap=policy)
    planned, synced = sync(*one(crm, outlook), settings, baseline)
    after_crm, after_outlook = addresses_of(synced.crm.contacts[0], synced.outlook.contacts[0])
    lost = distinct([*addresses_of(crm, outlook)[0], *addresses_of(crm, outlook)[1]])
    lost -= distinct(after_crm) | distinct(after_outlook)
    reported = [n for n in planned.notices if n.code == "address_remap_data_loss"]
    assert len(reported) == len(lost)
    for address in lost:
        first_line = address[0]
        assert any(first_line in n.message.casefold() for n in reported)
    again = plan(synced.crm, synced.outlook, settings, synced.baseline)
    assert again.is_empty, again.render()


TEXT = st.sampled_from(["", "a", "b"])


@st.composite
def contact_worlds(draw: st.DrawFn) -> tuple[CrmSnapshot, OutlookSnapshot, Baseline, Settings]:
    keys = draw(st.lists(st.sampled_from(["k1", "k2", "k3", "k4"]), unique=True, max_size=4))
    base_crm, base_out, crm, out = [], [], [], []
    for key in keys:
        c = CrmContact(
            key=key,
            job_title=draw(TEXT),
            notes=draw(TEXT),
            address1=draw(ADDRESSES),
            address2=draw(ADDRESSES),
        )
        o = OutlookContact(
            key=key,
            job_title=c.job_title,
            notes=c.notes,
            business_address=c.address1,
            home_address=c.address2,
        )
        if draw(st.booleans()):
            base_crm.append(c)
            base_out.append(o)
        if draw(st.integers(0, 4)):
            crm.append(attrs.evolve(c, job_title=draw(TEXT), address1=draw(ADDRESSES)))
        if draw(st.integers(0, 4)):
            out.append(
                attrs.evolve(
                    o,
                    job_title=draw(TEXT),
                    home_address=draw(ADDRESSES),
                    mailing_address=draw(KINDS),
                    tracked=draw(st.integers(0, 5)) > 0,
                )
            )
    settings = Settings(
        address_sync=draw(MODES),
        address_remap=draw(st.sampled_from(list(AddressRemap))),
        conflict=draw(st.sampled_from(["crm_wins", "outlook_wins", "newest_wins", "manual"])),
        field_directions={"contact.job_title": draw(st.sampled_from(list(Direction)))},
    )
    baseline = Baseline(
        crm=CrmSnapshot(contacts=base_crm),
        outlook=OutlookSnapshot(contacts=base_out),
        settings=Settings(address_sync=draw(MODES)),
    )
    return CrmSnapshot(contacts=crm), OutlookSnapshot(contacts=out), baseline, settings


@settings(max_examples=200)
@given(world=contact_worlds(), shuffle=st.randoms(use_true_random=False))
def test_property_contacts_converge_in_one_round_and_plans_are_deterministic(
    world: tuple[CrmSnapshot, OutlookSnapshot, Baseline, Settings], shuffle: object
) -> None:
    crm, outlook, baseline, settings = world
    planned = plan(crm, outlook, settings, baseline)
    shuffled_crm = list(crm.contacts)
    shuffle.shuffle(shuffled_crm)  # type: ignore[attr-defined]
    shuffled = plan(CrmSnapshot(contacts=shuffled_crm), outlook, settings, baseline)
    assert crmsync.dumps(shuffled) == crmsync.dumps(planned)
    assert crmsync.loads(crmsync.dumps(planned), crmsync.Plan) == planned
    synced = crmsync.apply(planned, crm, outlook, baseline)
    again = plan(synced.crm, synced.outlook, settings, synced.baseline)
    assert again.is_empty, planned.render() + "\n---\n" + again.render()
    job_title_off = settings.direction("contact.job_title") is Direction.NONE
    if job_title_off:
        assert all(c.field != "job_title" for op in planned.ops for c in op.changes)


def test_no_clock_is_read_the_plan_carries_the_given_now() -> None:
    assert plan(*one(CrmContact(key="k"), None)).now == NOW


def test_a_remap_keeps_a_manual_conflict_on_another_field_pending() -> None:
    crm = CrmContact(key="k", job_title="A", address1=X, address2=Y)
    outlook = OutlookContact(key="k", job_title="A", business_address=X)
    baseline = linked(crm, outlook, Settings(conflict="manual"))
    settings = Settings(address_sync="all_three", conflict="manual")
    c2, o2 = attrs.evolve(crm, job_title="B"), attrs.evolve(outlook, job_title="C")
    planned, synced = sync(*one(c2, o2), settings, baseline)
    assert sorted(codes(planned)) == ["conflict"]
    assert {op.reason for op in planned.ops} == {"address_remap"}
    again = plan(synced.crm, synced.outlook, settings, synced.baseline)
    assert again.is_empty
    assert codes(again) == ["conflict"]


# --- a mode switch merges every linked contact's edits under the old mode first ---------


def _slots(crm: CrmContact, outlook: OutlookContact) -> tuple[set[Address], set[Address]]:
    return (
        {a for a in _held(crm) if not a.is_empty},
        {a for a in _held(outlook) if not a.is_empty},
    )


def test_a_switch_merges_edits_to_different_fields_without_a_conflict() -> None:
    """Under the old mode, address1 in the CRM and home in Outlook are different fields."""
    b, x1, x2 = X, Y, Z
    crm = CrmContact(key="k", address1=b)
    outlook = OutlookContact(key="k", business_address=b)
    baseline = linked(crm, outlook, ALL_THREE)
    edited_crm = attrs.evolve(crm, address1=x2)
    edited_outlook = attrs.evolve(outlook, home_address=x1, mailing_address="home")
    planned, synced = sync(*one(edited_crm, edited_outlook), MAILING, baseline)
    assert "conflict_resolved" not in codes(planned)
    assert not planned.has_data_loss
    [c], [o] = synced.crm.contacts, synced.outlook.contacts
    crm_slots, outlook_slots = _slots(c, o)
    assert {x1, x2} <= crm_slots
    assert {x1, x2} <= outlook_slots
    assert c.address1 == o.home_address == x1  # address1 is the mailing address now
    converge(synced.crm, synced.outlook, MAILING, synced.baseline)


def test_a_switch_carries_an_address_edited_under_the_old_mode_to_the_other_side() -> None:
    """The baseline reads the same under both modes, yet the CRM's new address3 must travel."""
    crm = CrmContact(key="k", first_name="Ann")
    outlook = OutlookContact(key="k", first_name="Ann")
    baseline = linked(crm, outlook, ALL_THREE)
    edited = attrs.evolve(crm, address3=X)
    planned, synced = sync(*one(edited, outlook), MAILING, baseline)
    assert [(op.side, c.field, c.new) for op in planned.ops for c in op.changes] == [
        (Side.OUTLOOK, "other_address", X)
    ]
    assert synced.outlook.contacts[0].other_address == X
    converge(synced.crm, synced.outlook, MAILING, synced.baseline)


def test_a_preserve_switch_to_mailing_only_never_overwrites_a_filled_slot() -> None:
    # The CRM holds X and Y in address1 and address2; Outlook's mailing address is Z.
    # Z must become address1, and X, the address it displaces, takes the free slot
    # address3, not Y's.
    crm = CrmContact(key="k", address1=X, address2=Y)
    outlook = OutlookContact(
        key="k", business_address=X, home_address=Y, other_address=Z, mailing_address="other"
    )
    baseline = linked(crm, outlook, ALL_THREE)
    planned, synced = sync(*one(crm, outlook), MAILING, baseline)
    assert not planned.has_data_loss
    [c], [o] = synced.crm.contacts, synced.outlook.contacts
    assert (c.address1, c.address2, c.address3) == (Z, Y, X)
    assert (o.business_address, o.home_address, o.other_address) == (X, Y, Z)


def test_a_preserve_switch_places_an_outlook_only_address_in_a_free_crm_slot() -> None:
    crm = CrmContact(key="k", address1=X, address2=Y)
    outlook = OutlookContact(key="k", business_address=X, home_address=Z)
    baseline = linked(crm, outlook, MAILING)
    planned, synced = sync(*one(crm, outlook), ALL_THREE, baseline)
    [c], [o] = synced.crm.contacts, synced.outlook.contacts
    assert not planned.has_data_loss
    assert _slots(c, o) == ({X, Y, Z}, {X, Y, Z})


def _norm(address: Address) -> tuple[str, ...]:
    """The docs' address equality, written here, not borrowed from crmsync."""
    return tuple(
        " ".join(part.split()).casefold()
        for part in (
            address.street,
            address.city,
            address.state,
            address.postal_code,
            address.country,
        )
    )


def _synced_slots(record: CrmContact | OutlookContact, mode: AddressSync) -> list[int]:
    """Which address slots (0..2 in field order) sync under `mode`, as address1..3."""
    if mode is AddressSync.ALL_THREE:
        return [0, 1, 2]
    if isinstance(record, CrmContact):
        return [0]
    return [list(AddressKind).index(record.mailing_address)]


def _held(record: CrmContact | OutlookContact) -> list[Address]:
    if isinstance(record, CrmContact):
        return [record.address1, record.address2, record.address3]
    return [record.business_address, record.home_address, record.other_address]


@settings(max_examples=300)
@given(
    c=SLOTS,
    o=SLOTS,
    kind=KINDS,
    old=MODES,
    new_c=EDITS,
    new_o=EDITS,
    new_kind=st.none() | KINDS,
    settled=st.booleans(),
    conflict=st.sampled_from(["crm_wins", "manual"]),
)
@example(  # the case: CRM edits address1, Outlook edits home and makes it the mailing one
    c=(X, NONE, NONE),
    o=(X, NONE, NONE),
    kind=AddressKind.BUSINESS,
    old=AddressSync.ALL_THREE,
    new_c=(Z, None, None),
    new_o=(None, Y, None),
    new_kind=AddressKind.HOME,
    settled=True,
    conflict="crm_wins",
)
def test_property_a_preserve_switch_keeps_every_address_edited_or_held_before_it(
    c: tuple[Address, ...],
    o: tuple[Address, ...],
    kind: AddressKind,
    old: AddressSync,
    new_c: tuple[Address | None, ...],
    new_o: tuple[Address | None, ...],
    new_kind: AddressKind | None,
    settled: bool,
    conflict: str,
) -> None:
    """Conservation over values: edits since the baseline, then a switch under PRESERVE.

    Every address either side holds is on both sides afterwards, except a value
    that the other side replaced under the old mode (a stale copy) or that lost a
    conflict, which a conflict_resolved notice names. With an address_remap_conflict
    it is still on at least one side. An unsettled baseline holds standing
    differences (slots the old mode did not sync, or a direction held back).
    """
    old_settings = Settings(address_sync=old, conflict=conflict)
    if settled:
        crm, outlook, baseline = remap_world(c, o, kind, old)
        baseline = attrs.evolve(baseline, settings=old_settings)
    else:
        crm = CrmContact(key="k", address1=c[0], address2=c[1], address3=c[2])
        outlook = OutlookContact(
            key="k",
            business_address=o[0],
            home_address=o[1],
            other_address=o[2],
            mailing_address=kind,
        )
        baseline = linked(crm, outlook, old_settings)
    # Each slot is kept (None) or replaced since the baseline; so is the mailing choice.
    crm_slots = [n if n is not None else a for n, a in zip(new_c, _held(crm), strict=True)]
    crm = CrmContact(key="k", address1=crm_slots[0], address2=crm_slots[1], address3=crm_slots[2])
    out_slots = [n if n is not None else a for n, a in zip(new_o, _held(outlook), strict=True)]
    outlook = OutlookContact(
        key="k",
        business_address=out_slots[0],
        home_address=out_slots[1],
        other_address=out_slots[2],
        mailing_address=new_kind or outlook.mailing_address,
    )
    new = AddressSync.ALL_THREE if old is AddressSync.MAILING_ONLY else AddressSync.MAILING_ONLY
    new_settings = Settings(address_sync=new, conflict=conflict)
    planned, synced = sync(*one(crm, outlook), new_settings, baseline)
    [base_crm], [base_outlook] = baseline.crm.contacts, baseline.outlook.contacts
    now = {Side.CRM: crm, Side.OUTLOOK: outlook}
    base = {Side.CRM: base_crm, Side.OUTLOOK: base_outlook}
    # Under the old mode, field i of a side is its slot slots[side][i].
    slots = {side: _synced_slots(now[side], old) for side in Side}
    base_slots = {side: _synced_slots(base[side], old) for side in Side}

    def value(side: Side, i: int, *, at_base: bool = False) -> tuple[str, ...]:
        record, where = (base[side], base_slots) if at_base else (now[side], slots)
        return _norm(_held(record)[where[side][i]])

    changed = {
        side: [value(side, i) != value(side, i, at_base=True) for i in range(len(slots[side]))]
        for side in Side
    }
    replaced: dict[Side, set[int]] = {Side.CRM: set(), Side.OUTLOOK: set()}
    for i in range(len(slots[Side.CRM])):
        crm_moved, outlook_moved = changed[Side.CRM][i], changed[Side.OUTLOOK][i]
        if crm_moved and outlook_moved and value(Side.CRM, i) != value(Side.OUTLOOK, i):
            if conflict == "manual":
                continue  # left for a person, and under PRESERVE both values stay
            replaced[Side.OUTLOOK].add(slots[Side.OUTLOOK][i])  # the CRM wins the conflict
        elif crm_moved and not outlook_moved:
            replaced[Side.OUTLOOK].add(slots[Side.OUTLOOK][i])  # a stale copy
        elif outlook_moved and not crm_moved:
            replaced[Side.CRM].add(slots[Side.CRM][i])
    expected = {
        _norm(address)
        for side in Side
        for j, address in enumerate(_held(now[side]))
        if j not in replaced[side] and any(_norm(address))
    }
    [after_crm], [after_outlook] = synced.crm.contacts, synced.outlook.contacts
    crm_after = {_norm(a) for a in _held(after_crm)}
    outlook_after = {_norm(a) for a in _held(after_outlook)}
    assert not planned.has_data_loss
    # Three slots a side: a conflict is reported exactly when the addresses cannot fit.
    waits = len(expected) > 3
    assert ("address_remap_conflict" in codes(planned)) == waits, planned.render()
    if waits:
        assert expected <= crm_after | outlook_after, planned.render()
    else:
        assert expected <= crm_after, planned.render()
        assert expected <= outlook_after, planned.render()
    again = plan(synced.crm, synced.outlook, new_settings, synced.baseline)
    assert again.is_empty, planned.render() + "\n---\n" + again.render()


def test_a_preserve_switch_to_all_three_never_moves_an_outlook_address() -> None:
    """Outlook's Business and Home mean something; the CRM's address slots are only an order."""
    home, business = Y, X
    crm = CrmContact(key="k", address1=home)
    outlook = OutlookContact(
        key="k", business_address=business, home_address=home, mailing_address="home"
    )
    baseline = linked(crm, outlook, MAILING)
    planned, synced = sync(*one(crm, outlook), ALL_THREE, baseline)
    assert [op.side for op in planned.ops] == [Side.CRM]
    [c], [o] = synced.crm.contacts, synced.outlook.contacts
    assert (o.business_address, o.home_address, o.other_address) == (business, home, NONE)
    assert (c.address1, c.address2, c.address3) == (business, home, NONE)
    converge(synced.crm, synced.outlook, ALL_THREE, synced.baseline)


def test_a_manual_address_conflict_settled_by_a_preserve_switch_says_so() -> None:
    """Both addresses end on both sides; the notice must not claim the conflict still waits."""
    crm = CrmContact(key="k", address1=X)
    outlook = OutlookContact(key="k", business_address=X)
    manual = Settings(conflict="manual")
    baseline = linked(crm, outlook, manual)
    edited = one(attrs.evolve(crm, address1=Y), attrs.evolve(outlook, business_address=Z))
    switched = Settings(conflict="manual", address_sync="all_three")
    planned, synced = sync(*edited, switched, baseline)
    [notice] = [n for n in planned.notices if n.code == "conflict"]
    assert "left for a person" not in notice.message
    assert "keeps both addresses" in notice.message
    [c], [o] = synced.crm.contacts, synced.outlook.contacts
    assert _slots(c, o) == ({Y, Z}, {Y, Z})
    converge(synced.crm, synced.outlook, switched, synced.baseline)
    # Without a switch, the same conflict is left for a person.
    waiting = plan(*edited, manual, baseline)
    assert all("left for a person" in n.message for n in waiting.notices if n.code == "conflict")


def test_a_crm_delete_reports_an_outlook_address_edit_that_never_syncs_as_lost() -> None:
    """Mailing only: a new home address cannot travel, so the delete destroys it, and says so."""
    crm = CrmContact(key="k", first_name="Ann")
    outlook = OutlookContact(key="k", first_name="Ann")
    baseline = linked(crm, outlook, MAILING)
    edited = attrs.evolve(outlook, home_address=Y)
    planned = plan(*one(None, edited), MAILING, baseline)
    assert ops(planned) == [("contact", "outlook", "k", "delete")]
    [notice] = planned.notices
    assert (notice.code, notice.severity, notice.side) == (
        "field_not_synced",
        Severity.DATA_LOSS,
        Side.OUTLOOK,
    )
    assert "home address" in notice.message
    # Choosing another (empty) mailing address holds no data: nothing to report.
    chosen = attrs.evolve(outlook, mailing_address="other")
    assert plan(*one(None, chosen), MAILING, baseline).notices == ()


def test_a_crm_wins_switch_writes_the_mailing_address_only_if_address1_may() -> None:
    """Under mailing only, Outlook's mailing address pairs with address1, whatever its slot."""
    crm = CrmContact(key="k", address1=X, address2=Y)
    outlook = OutlookContact(key="k", business_address=X, home_address=Y, mailing_address="home")
    baseline = linked(crm, outlook, ALL_THREE)
    held = Settings(address_remap="crm_wins", field_directions={"contact.address1": "to_crm"})
    planned = plan(*one(crm, outlook), held, baseline)
    assert not any(op.side is Side.OUTLOOK for op in planned.ops)
    assert any(n.code == "field_not_synced" and "address1" in n.message for n in planned.notices)
    free = Settings(address_remap="crm_wins", field_directions={"contact.address2": "to_crm"})
    written = plan(*one(crm, outlook), free, baseline)
    changes = [(op.side, c.field, c.new) for op in written.ops for c in op.changes]
    assert (Side.OUTLOOK, "home_address", X) in changes


def test_a_crm_wins_switch_to_all_three_writes_outlooks_home_address_only_if_address2_may() -> None:
    """Under all three addresses, Outlook's home address pairs with address2, even when it is
    the mailing address (which pairs with address1 under mailing only)."""
    crm = CrmContact(key="k", address1=X, address2=Y)
    outlook = OutlookContact(key="k", home_address=X, mailing_address="home")
    baseline = linked(crm, outlook, MAILING)
    held = Settings(
        address_sync="all_three",
        address_remap="crm_wins",
        field_directions={"contact.address2": "to_crm"},
    )
    planned = plan(*one(crm, outlook), held, baseline)
    changes = [(op.side, c.field, c.new) for op in planned.ops for c in op.changes]
    assert changes == [(Side.OUTLOOK, "business_address", X)]
    [notice] = [n for n in planned.notices if n.code == "field_not_synced"]
    assert (notice.side, "address2" in notice.message) == (Side.OUTLOOK, True)
    free = attrs.evolve(held, field_directions={"contact.address1": "to_crm"})
    written = plan(*one(crm, outlook), free, baseline)
    moved = [(op.side, c.field, c.new) for op in written.ops for c in op.changes]
    assert moved == [(Side.OUTLOOK, "home_address", Y)]
