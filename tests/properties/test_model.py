"""crmsync.plan compared with the reference model (reference_model.py, contacts), on random worlds.

Law: model equivalence. For every world the model covers, the plan applied with
`crmsync.apply` leaves the records the model predicts (per field, which side won),
creates, deletes, links and unlinks what it predicts, and gives the notices it predicts,
counted by code.
"""

from __future__ import annotations

import collections
from typing import Any

import attrs
import reference_model as model
from hypothesis import given, note, settings
from model_worlds import ModelWorld, appointment_worlds, contact_worlds, task_worlds

import crmsync
from crmsync import (
    Domain,
    Settings,
)
from crmsync.strategies import NOW, USER


def projection(record: Any) -> dict[str, Any]:
    """A record's attributes, addresses as sync compares them, `modified` left out."""
    out = {}
    for field in attrs.fields(type(record)):
        value = getattr(record, field.name)
        if field.name == "modified":
            continue
        out[field.name] = model.address_key(value) if isinstance(value, crmsync.Address) else value
    return out


ADDRESS_ATTRS = {*model.ADDRESSES, *model.OUTLOOK_SLOTS, "mailing_address"}


def check_remap(
    key: str, expected: model.Remapped, crm: Any, outlook: Any, settings: Settings
) -> None:
    """A PRESERVE remap: other fields exact, every address kept on both sides, modes agree."""
    for before, after in ((expected.crm, crm), (expected.outlook, outlook)):
        plain = {k: v for k, v in projection(before).items() if k not in ADDRESS_ATTRS}
        assert plain == {k: v for k, v in projection(after).items() if k not in ADDRESS_ATTRS}, key
    c, o = model.crm_slots(crm), model.outlook_slots(outlook)
    assert model.distinct(c) == expected.kept, f"{key}: the CRM holds {c}"
    assert model.distinct(o) == expected.kept, f"{key}: Outlook holds {o}"
    if model.all_three(settings):
        assert [model.address_key(a) for a in c] == [model.address_key(a) for a in o], key
    else:
        mailing = getattr(outlook, model.mailing_slot(outlook))
        assert model.address_key(crm.address1) == model.address_key(mailing), key


def assert_matches_model(world: ModelWorld) -> None:
    planned = crmsync.plan(
        world.crm, world.outlook, world.settings, world.baseline, user=USER, now=NOW
    )
    note(planned.render())
    synced = crmsync.apply(planned, world.crm, world.outlook, world.baseline)
    expected = model.plan_contacts(
        world.crm.contacts, world.outlook.contacts, world.baseline, world.settings, USER
    )
    got_ops = {
        (str(op.action), str(op.side), op.key)
        for op in planned.ops
        if op.domain is Domain.CONTACT and str(op.action) != "update"
    }
    assert got_ops == expected.ops
    got_notices = collections.Counter(
        (n.key, n.code) for n in planned.notices if n.domain is Domain.CONTACT
    )
    assert got_notices == expected.notices
    for side, snapshot in (("crm", synced.crm), ("outlook", synced.outlook)):
        held = {r.key: r for r in snapshot.contacts}
        want = getattr(expected, side)
        assert held.keys() == want.keys(), side
        for key, record in held.items():
            if key in expected.remapped:
                continue
            assert projection(record) == projection(want[key]), f"{side} {key}"
    for key, remapped in expected.remapped.items():
        crm = next(r for r in synced.crm.contacts if r.key == key)
        outlook = next(r for r in synced.outlook.contacts if r.key == key)
        check_remap(key, remapped, crm, outlook, world.settings)


# Examples cost milliseconds: three times the profile's count (450 under ci, about ten seconds).
MODEL = settings(max_examples=3 * settings().max_examples)


@MODEL
@given(contact_worlds(switch=False))
def test_model_contacts_without_an_address_mode_switch(world: ModelWorld) -> None:
    """Model equivalence: fields, conflicts, directions, creates, deletes, links."""
    assert_matches_model(world)


@MODEL
@given(contact_worlds(first_sync=False, switch=True))
def test_model_contacts_across_an_address_mode_switch(world: ModelWorld) -> None:
    """Model equivalence across a switch: merged under the old mode, then remapped."""
    assert_matches_model(world)


def assert_domain_matches_model(world: ModelWorld, domain: Domain) -> None:
    planned = crmsync.plan(
        world.crm, world.outlook, world.settings, world.baseline, user=USER, now=NOW
    )
    note(planned.render())
    synced = crmsync.apply(planned, world.crm, world.outlook, world.baseline)
    if domain is Domain.TASK:
        expected = model.plan_tasks(
            world.crm.tasks, world.outlook.tasks, world.baseline, world.settings, USER
        )
    else:
        expected = model.plan_appointments(
            world.crm.appointments,
            world.outlook.appointments,
            world.baseline,
            world.settings,
            USER,
            NOW,
        )
    got_ops = {
        (str(op.action), str(op.side), op.key)
        for op in planned.ops
        if op.domain is domain and str(op.action) != "update"
    }
    assert got_ops == expected.ops
    got_notices = collections.Counter(
        (n.key, n.code) for n in planned.notices if n.domain is domain
    )
    assert got_notices == expected.notices
    name = "tasks" if domain is Domain.TASK else "appointments"
    for side, snapshot in (("crm", synced.crm), ("outlook", synced.outlook)):
        held = {r.key: projection(r) for r in getattr(snapshot, name)}
        assert held == {k: projection(r) for k, r in getattr(expected, side).items()}, side


@MODEL
@given(task_worlds())
def test_model_tasks(world: ModelWorld) -> None:
    """Model equivalence for tasks: fields, due dates, conflicts, creates, deletes, refusals."""
    assert_domain_matches_model(world, Domain.TASK)


@MODEL
@given(appointment_worlds())
def test_model_appointments(world: ModelWorld) -> None:
    """Model equivalence for appointments: fields, one-way service activities and closed
    appointments, conflicts, creates, Dynamics' delete rules, links by UID."""
    assert_domain_matches_model(world, Domain.APPOINTMENT)
