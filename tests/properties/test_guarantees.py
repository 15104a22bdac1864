"""Property tests for docs/design.md's guarantees, all three domains and random settings together.

Laws: convergence, determinism, safety (no lost update), maximality, no
duplicates, settings honoured, JSON round trip. Each law is checked by
comparing the inputs with the applied result, not by trusting the plan.
"""

from __future__ import annotations

import random
from typing import Any

import attrs
from hypothesis import given, note
from hypothesis import strategies as st

import crmsync
from crmsync import Action, Domain, Plan, Severity, Side
from crmsync.appointments import RULES as APPOINTMENTS
from crmsync.contacts import ADDRESS_FIELDS
from crmsync.contacts import RULES as CONTACTS
from crmsync.plan import NOTICE_CODES
from crmsync.records import SNAPSHOT_FIELD
from crmsync.strategies import World, worlds
from crmsync.tasks import RULES as TASKS

DOMAIN_RULES = {Domain.CONTACT: CONTACTS, Domain.APPOINTMENT: APPOINTMENTS, Domain.TASK: TASKS}


def plan_world(world: World) -> Plan:
    return crmsync.plan(
        world.crm, world.outlook, world.settings, world.baseline, user=world.user, now=world.now
    )


def sync_world(world: World) -> tuple[Plan, crmsync.Synced]:
    planned = plan_world(world)
    note(planned.render())
    return planned, crmsync.apply(planned, world.crm, world.outlook, world.baseline)


def next_world(world: World, synced: crmsync.Synced) -> World:
    return attrs.evolve(world, crm=synced.crm, outlook=synced.outlook, baseline=synced.baseline)


def settles(planned: Plan) -> bool:
    """After applying this plan, the next one must be empty.

    docs/design.md's two by-design exceptions: a LINK merges the pair in the next
    round, and attachments deferred by the budget move in later rounds. And an
    UNLINK makes its survivor a candidate for a LINK by natural key next round.
    """
    if planned.is_empty:
        return True
    waits = (Action.LINK, Action.UNLINK)
    return not any(op.action in waits for op in planned.ops) and not any(
        n.code == "attachment_deferred" for n in planned.notices
    )


def assert_converges(world: World, max_rounds: int = 8) -> None:
    current = world
    for _ in range(max_rounds):
        planned, synced = sync_world(current)
        current = next_world(current, synced)
        if settles(planned):
            final = plan_world(current)
            assert final.is_empty, final.render()
            return
    raise AssertionError(f"still not settled after {max_rounds} rounds")


@given(worlds())
def test_convergence_plan_apply_plan_again_gives_no_ops(world: World) -> None:
    """Convergence: within the rounds docs/design.md allows, planning again writes nothing."""
    assert_converges(world)


@given(worlds(switch_address_mode=True, first_sync=False))
def test_convergence_after_an_address_mode_switch(world: World) -> None:
    assert_converges(world)


@given(worlds(), st.randoms(use_true_random=False))
def test_determinism_any_input_order_gives_the_same_json_plan(
    world: World, rnd: random.Random
) -> None:
    def shuffled(snapshot: Any) -> Any:
        fields = {}
        for name in SNAPSHOT_FIELD.values():
            records = list(getattr(snapshot, name))
            rnd.shuffle(records)
            fields[name] = tuple(records)
        return attrs.evolve(snapshot, **fields)

    other = attrs.evolve(world, crm=shuffled(world.crm), outlook=shuffled(world.outlook))
    assert crmsync.dumps(plan_world(other)) == crmsync.dumps(plan_world(world))


@given(worlds())
def test_json_round_trip_of_plans_snapshots_baselines_and_settings(world: World) -> None:
    planned = plan_world(world)
    for value, cls in (
        (planned, Plan),
        (world.crm, crmsync.CrmSnapshot),
        (world.outlook, crmsync.OutlookSnapshot),
        (world.settings, crmsync.Settings),
    ):
        assert crmsync.loads(crmsync.dumps(value), cls) == value
    if world.baseline is not None:
        assert crmsync.loads(crmsync.dumps(world.baseline), crmsync.Baseline) == world.baseline


def views(domain: Domain, record: Any, side: Side, settings: crmsync.Settings) -> dict[str, Any]:
    return DOMAIN_RULES[domain].view(record, side, settings)


def index(snapshot: Any, domain: Domain) -> dict[str, Any]:
    return {r.key: r for r in getattr(snapshot, SNAPSHOT_FIELD[domain])}


def excused(planned: Plan, domain: Domain, key: str, field: str) -> bool:
    """A notice records the overwrite, or an address remap op reports it."""
    remapped = field in ADDRESS_FIELDS and any(
        op.domain is domain and op.key == key and op.reason == "address_remap" for op in planned.ops
    )
    return remapped or any(
        n.severity is Severity.DATA_LOSS
        or (n.domain is domain and n.key == key and n.code == "conflict_resolved")
        for n in planned.notices
    )


@given(worlds(first_sync=False))
def test_safety_no_changed_value_is_lost_without_a_notice(world: World) -> None:
    """No lost update: a value changed since the baseline survives, wins, or is reported."""
    assert world.baseline is not None
    planned, synced = sync_world(world)
    for domain, rules in DOMAIN_RULES.items():
        for side, before, after, base in (
            (Side.CRM, world.crm, synced.crm, world.baseline.crm),
            (Side.OUTLOOK, world.outlook, synced.outlook, world.baseline.outlook),
        ):
            now_records, after_records = index(before, domain), index(after, domain)
            base_records = index(base, domain)
            # A LINK re-keys a record; its values stay (the next plan merges them).
            rekeyed = {
                op.key: str(change.new)
                for op in planned.ops
                if op.action is Action.LINK and op.side is side and op.domain is domain
                for change in op.changes
                if change.field == "key"
            }
            for key, record in now_records.items():
                old = base_records.get(key)
                if old is None:
                    continue
                view_now = views(domain, record, side, world.settings)
                view_base = views(domain, old, side, world.settings)
                if not rules.changed(view_now, view_base):
                    continue
                # A changed record is never deleted without a data-loss notice (a change
                # that cannot travel to the deleted side goes with the delete, reported).
                if key in rekeyed:
                    moved = views(domain, after_records[rekeyed[key]], side, world.settings)
                    assert not rules.changed(moved, view_now), f"{domain} {key} re-keyed changed"
                    continue
                if key not in after_records:
                    assert any(
                        n.severity is Severity.DATA_LOSS
                        and ((n.key == key and n.domain is domain) or not n.key)
                        for n in planned.notices
                    ), f"{domain} {key} changed in {side} and was deleted"
                    continue
                view_after = views(domain, after_records[key], side, world.settings)
                for rule in rules.fields:
                    name = rule.name
                    if name not in view_now or rule.same(view_now[name], view_base.get(name)):
                        continue
                    if not rule.same(view_after[name], view_now[name]):
                        assert excused(planned, domain, key, name), (
                            f"{domain} {key}: {name} changed in {side} to {view_now[name]!r} "
                            f"and was overwritten with {view_after[name]!r} without a notice"
                        )


@given(worlds(first_sync=False))
def test_maximality_every_non_conflicting_allowed_change_travels(world: World) -> None:
    assert world.baseline is not None
    planned, synced = sync_world(world)
    # Notices that explain why a change may not travel; field_not_synced and attachment
    # notices concern one field or the attachments only, so they excuse nothing here.
    noticed = {
        (n.domain, n.key)
        for n in planned.notices
        if n.code != "field_not_synced"
        and not n.code.startswith("attachment")
        and "attachment" not in n.code
    }
    switched = world.baseline.settings.address_sync is not world.settings.address_sync
    for domain, rules in DOMAIN_RULES.items():
        crm_now, out_now = index(world.crm, domain), index(world.outlook, domain)
        crm_base, out_base = (
            index(world.baseline.crm, domain),
            index(world.baseline.outlook, domain),
        )
        crm_after, out_after = index(synced.crm, domain), index(synced.outlook, domain)
        for key in crm_now.keys() & out_now.keys() & crm_base.keys() & out_base.keys():
            if (domain, key) in noticed or key in world.baseline.pending_remap:
                continue  # refused, in conflict, remapped...: other laws cover those
            c, o = crm_now[key], out_now[key]
            cv, ov = (
                views(domain, c, Side.CRM, world.settings),
                views(domain, o, Side.OUTLOOK, world.settings),
            )
            bc = views(domain, crm_base[key], Side.CRM, world.settings)
            bo = views(domain, out_base[key], Side.OUTLOOK, world.settings)
            directions = rules.directions(c, o, world.settings)
            ca = views(domain, crm_after[key], Side.CRM, world.settings)
            oa = views(domain, out_after[key], Side.OUTLOOK, world.settings)
            for rule in rules.fields:
                name = rule.name
                if name not in cv or name not in ov or (switched and name in ADDRESS_FIELDS):
                    continue
                crm_changed = not rule.same(cv[name], bc[name])
                out_changed = not rule.same(ov[name], bo[name])
                direction = directions[name]
                if crm_changed and not out_changed and direction.to_outlook:
                    assert rule.same(oa[name], cv[name]), f"{domain} {key} {name} did not travel"
                if out_changed and not crm_changed and direction.to_crm:
                    assert rule.same(ca[name], ov[name]), f"{domain} {key} {name} did not travel"


def natural_counts(snapshot: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for contact in snapshot.contacts:
        if contact.emails and getattr(contact, "tracked", True):  # untracked ones never sync
            first = contact.emails[0].strip().casefold()
            counts[first] = counts.get(first, 0) + 1
    return counts


@given(worlds())
def test_no_duplicates_a_create_never_lands_on_a_taken_key_or_doubles_a_contact(
    world: World,
) -> None:
    planned, synced = sync_world(world)
    for op in planned.ops:
        if op.action is Action.CREATE and op.domain is not Domain.ATTACHMENT:
            side = world.crm if op.side is Side.CRM else world.outlook
            assert op.key not in index(side, op.domain)
    # Contacts new on both sides with one e-mail address are linked, never doubled. (Judged
    # only where every holder of the address is new and tracked: docs/design.md's duplicate rule.)
    linked_keys: set[str] = set()
    if world.baseline is not None:
        linked_keys = {c.key for c in world.baseline.crm.contacts} & {
            c.key for c in world.baseline.outlook.contacts
        }
    both_sides = {c.key for c in world.crm.contacts} & {c.key for c in world.outlook.contacts}
    linked_keys |= both_sides  # paired by key: not new on both sides
    judged = {
        first
        for first in natural_counts(world.crm).keys() | natural_counts(world.outlook).keys()
        if not any(
            c.emails
            and c.emails[0].strip().casefold() == first
            and (c.key in linked_keys or not getattr(c, "tracked", True))
            for c in (*world.crm.contacts, *world.outlook.contacts)
        )
    }
    before_crm, before_out = natural_counts(world.crm), natural_counts(world.outlook)
    for snapshot in (synced.crm, synced.outlook):
        for email, count in natural_counts(snapshot).items():
            if email in judged:
                assert count <= max(before_crm.get(email, 0), before_out.get(email, 0)), email
    second = plan_world(next_world(world, synced))
    assert not any(
        op.action is Action.CREATE
        and op.domain is Domain.CONTACT
        and op.reason.startswith("new_in")
        for op in second.ops
    )


@given(worlds())
def test_settings_are_honoured_nothing_a_setting_turns_off_appears_in_an_op(world: World) -> None:
    planned = plan_world(world)
    s = world.settings
    attachment_ops = [op for op in planned.ops if op.domain is Domain.ATTACHMENT]
    if not s.sync_appointment_attachments:
        assert attachment_ops == []  # and so nothing is ever deleted when it is off
    if s.attachment_budget_bytes is not None:
        moved = sum(op.record.size for op in attachment_ops if op.action is Action.CREATE)
        assert moved <= s.attachment_budget_bytes
    assert all(
        op.record.size <= s.max_attachment_bytes
        for op in attachment_ops
        if op.action is Action.CREATE
    )
    off = {tuple(name.split(".", 1)) for name, d in s.field_directions.items() if d.value == "none"}
    for op in planned.ops:
        for change in op.changes:
            assert (op.domain.value, change.field) not in off
    refused_tasks = {
        t.key
        for snapshot in (world.crm, world.outlook)
        for t in snapshot.tasks
        if t.recurrence is not None or (t.assigned_to and not s.sync_assigned_tasks)
    }
    assert not any(op.domain is Domain.TASK and op.key in refused_tasks for op in planned.ops)
    assert {n.code for n in planned.notices} <= set(NOTICE_CODES)
