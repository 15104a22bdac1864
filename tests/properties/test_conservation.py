"""Conservation, stated over values (contacts): nothing a person holds disappears unnamed.

Law: every distinct non-empty address, e-mail address and field value that either side
holds before a sync is held by at least one side after the plan is applied with
`crmsync.apply`, unless a person's later edit replaces it (the other side changed that
field since the last sync, or deleted the record while this side left it unchanged), or a
notice names it: a `data_loss` notice, or the `conflict_resolved` notice that records the
losing value. Values are
compared with this file's own normalization (reference_model), never crmsync's helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs
import pytest
import reference_model as model
from hypothesis import given, note, settings
from model_worlds import ModelWorld, contact_worlds

import crmsync
from crmsync import ConflictPolicy, Domain, Severity
from crmsync.strategies import NOW, USER

Value = tuple[str, Any]
"""(what, normalized value): ("address", parts), ("email", text), ("job_title", text)..."""


def values(contact: Any) -> set[Value]:
    out: set[Value] = set()
    for name in ("address1", "address2", "address3", *model.OUTLOOK_SLOTS):
        if hasattr(contact, name):
            key = model.address_key(getattr(contact, name))
            if key is not None:
                out.add(("address", key))
    out |= {("email", e) for e in model.email_key(contact.emails) if e}
    for name in model.PLAIN:
        value = getattr(contact, name)
        if name != "emails" and value:
            out.add((name, value))
    return out


def held(contacts: Iterable[Any]) -> set[Value]:
    return {v for contact in contacts for v in values(contact)}


def named(value: Value, message: str) -> bool:
    """True when a notice's sentence names the value."""
    text = model.text_key(message)
    what, normalized = value
    if what == "address":
        return all(part in text for part in normalized if part)
    return model.text_key(str(normalized)) in text


def field_values(name: str, value: Any) -> set[Value]:
    """One view field's values as this law counts them."""
    if name in model.ADDRESSES:
        key = model.address_key(value)
        return {("address", key)} if key is not None else set()
    if name == "emails":
        return {("email", e) for e in model.email_key(value) if e}
    return {(name, value)} if value else set()


def superseded(world: ModelWorld) -> set[Value]:
    """Values a person's later edit may replace, by docs/design.md.

    For a linked pair, a field one side changed since the last sync travels to the other
    side and replaces what that side holds there (fields are read as the last sync's
    address mode pairs them: edits are merged under the old mode). For a pair deleted on
    one side, the other side's values that are unchanged since the last sync go with it.
    """
    out: set[Value] = set()
    if world.baseline is None:
        return out
    mode = world.baseline.settings
    now = {"crm": {c.key: c for c in world.crm.contacts}}
    now["outlook"] = {c.key: c for c in world.outlook.contacts}
    base = {"crm": {c.key: c for c in world.baseline.crm.contacts}}
    base["outlook"] = {c.key: c for c in world.baseline.outlook.contacts}
    for key in base["crm"].keys() & base["outlook"].keys():
        for side, other in (("crm", "outlook"), ("outlook", "crm")):
            record = now[side].get(key)
            if record is None:
                continue
            if key not in now[other]:
                out |= values(record) & values(base[side][key])
                continue
            view = model.view(record, side, mode)
            changed, was = (
                model.view(now[other][key], other, mode),
                model.view(base[other][key], other, mode),
            )
            for name, value in view.items():
                if not model.same(name, changed[name], was[name]):
                    out |= field_values(name, value)
    return out


def assert_conserved(world: ModelWorld, kinds: Callable[[Value], bool]) -> None:
    planned = crmsync.plan(
        world.crm, world.outlook, world.settings, world.baseline, user=USER, now=NOW
    )
    note(planned.render())
    synced = crmsync.apply(planned, world.crm, world.outlook, world.baseline)
    before = held([*world.crm.contacts, *world.outlook.contacts])
    after = held([*synced.crm.contacts, *synced.outlook.contacts])
    excuses = [
        n.message
        for n in planned.notices
        if n.domain is Domain.CONTACT
        and (n.severity is Severity.DATA_LOSS or n.code == "conflict_resolved")
    ]
    gone = {v for v in before - after - superseded(world) if kinds(v)}
    unnamed = sorted((v for v in gone if not any(named(v, m) for m in excuses)), key=repr)
    assert not unnamed, f"lost without a notice naming it: {unnamed}"


def is_address_or_email(value: Value) -> bool:
    return value[0] in ("address", "email")


# Examples cost milliseconds: three times the profile's count (450 under ci, about ten seconds).
CONSERVATION = settings(max_examples=3 * settings().max_examples)


@CONSERVATION
@given(contact_worlds())
def test_conservation_every_address_and_email_survives_or_a_data_loss_notice_names_it(
    world: ModelWorld,
) -> None:
    assert_conserved(world, is_address_or_email)


@CONSERVATION
@given(contact_worlds(first_sync=False, switch=True))
def test_conservation_of_addresses_across_an_address_mode_switch(world: ModelWorld) -> None:
    assert_conserved(world, is_address_or_email)


@pytest.mark.parametrize("policy", list(ConflictPolicy))
@CONSERVATION
@given(world=contact_worlds())
def test_conservation_every_field_value_survives_or_the_losing_value_is_named(
    policy: ConflictPolicy, world: ModelWorld
) -> None:
    world = attrs.evolve(world, settings=attrs.evolve(world.settings, conflict=policy))
    assert_conserved(world, lambda value: True)
