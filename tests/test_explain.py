"""Tests for crmsync.explain: why a record does (or doesn't) sync, field by field."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from crmsync import (
    Address,
    AddressSync,
    Appointment,
    Attachment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    Domain,
    OutlookContact,
    OutlookSnapshot,
    Plan,
    Settings,
    Side,
    Task,
)
from crmsync.explain import REFUSAL_CODES, REMEDIES, Explanation, explain, find
from support import NOW, USER, plan

OLD = CrmContact(key="a", first_name="Ann", job_title="Buyer")
OLD_O = OutlookContact(key="a", first_name="Ann", job_title="Buyer")


def contacts(
    crm: list[CrmContact], outlook: list[OutlookContact]
) -> tuple[CrmSnapshot, OutlookSnapshot]:
    return CrmSnapshot(contacts=crm), OutlookSnapshot(contacts=outlook)


def linked(crm: CrmContact = OLD, outlook: OutlookContact = OLD_O, **settings: object) -> Baseline:
    crm_side, outlook_side = contacts([crm], [outlook])
    return Baseline(crm=crm_side, outlook=outlook_side, settings=Settings(**settings))  # type: ignore[arg-type]


def explain_one(
    crm: CrmSnapshot,
    outlook: OutlookSnapshot,
    settings: Settings | None = None,
    baseline: Baseline | None = None,
    key: str = "a",
) -> tuple[Plan, Explanation]:
    planned = plan(crm, outlook, settings, baseline)
    (found,) = explain(planned, key, crm=crm, outlook=outlook, baseline=baseline)
    return planned, found


def test_a_change_on_one_side_travelled_to_the_other_for_the_ops_reason() -> None:
    crm, outlook = contacts([attrs.evolve(OLD, job_title="CEO")], [OLD_O])
    _, found = explain_one(crm, outlook, None, linked())
    verdict = found.field("job_title")
    assert (verdict.decision, verdict.to, verdict.rule) == (
        "travelled",
        Side.OUTLOOK,
        "changed_in_crm",
    )
    assert (verdict.crm, verdict.outlook, verdict.base_crm) == ("'CEO'", "'Buyer'", "'Buyer'")
    assert found.field("first_name").decision == "in_sync"
    assert found.outcome == "update in Outlook (changed_in_crm)"


@pytest.mark.parametrize(
    ("policy", "winner", "loser"),
    [("crm_wins", Side.CRM, Side.OUTLOOK), ("outlook_wins", Side.OUTLOOK, Side.CRM)],
)
def test_a_conflict_says_whose_value_won_and_where_it_was_written(
    policy: str, winner: Side, loser: Side
) -> None:
    crm, outlook = contacts(
        [attrs.evolve(OLD, job_title="CEO")], [attrs.evolve(OLD_O, job_title="CTO")]
    )
    settings = Settings(conflict=policy)
    _, found = explain_one(crm, outlook, settings, linked(conflict=policy))
    verdict = found.field("job_title")
    assert (verdict.decision, verdict.winner, verdict.to) == ("conflict_won", winner, loser)
    assert verdict.rule == f"conflict_{policy}"


def test_a_manual_conflict_is_pending_for_a_person() -> None:
    crm, outlook = contacts(
        [attrs.evolve(OLD, job_title="CEO")], [attrs.evolve(OLD_O, job_title="CTO")]
    )
    planned, found = explain_one(
        crm, outlook, Settings(conflict="manual"), linked(conflict="manual")
    )
    assert planned.is_empty
    assert found.field("job_title").decision == "conflict_pending"
    assert found.outcome.startswith("no op: a conflict waits for a person; to sync it: ")


def test_an_edit_on_the_wrong_side_of_a_one_way_field_is_held_by_its_direction() -> None:
    directions = {"contact.job_title": "to_crm"}
    settings = Settings(field_directions=directions)
    crm, outlook = contacts([attrs.evolve(OLD, job_title="CEO")], [OLD_O])
    _, found = explain_one(crm, outlook, settings, linked(field_directions=directions))
    verdict = found.field("job_title")
    assert (verdict.decision, verdict.rule) == ("held_by_direction", "field_not_synced")
    assert "to_crm" in verdict.why


def test_a_standing_difference_on_a_one_way_field_is_not_a_change() -> None:
    directions = {"contact.job_title": "to_crm"}
    settings = Settings(field_directions=directions)
    crm_record = attrs.evolve(OLD, job_title="CEO")
    crm, outlook = contacts([crm_record], [OLD_O])
    _, found = explain_one(crm, outlook, settings, linked(crm_record, field_directions=directions))
    assert found.field("job_title").decision == "standing_difference"


def test_a_field_a_direction_keeps_off_a_created_record_is_held_by_it() -> None:
    settings = Settings(field_directions={"contact.job_title": "to_crm"})
    _, found = explain_one(*contacts([OLD], []), settings)
    assert found.field("job_title").decision == "held_by_direction"
    verdict = found.field("first_name")
    assert (verdict.decision, verdict.to, verdict.rule) == ("travelled", Side.OUTLOOK, "new_in_crm")
    assert found.outcome == "create in Outlook (new_in_crm)"


def test_a_refused_record_names_the_rule_that_refused_it() -> None:
    untracked = attrs.evolve(OLD_O, tracked=False)
    _, found = explain_one(*contacts([], [untracked]))
    assert {v.decision for v in found.fields} == {"refused"}
    assert {v.rule for v in found.fields} == {"not_tracked"}
    assert found.outcome.startswith("not synced: not_tracked")


def test_a_recurring_task_is_refused_by_its_rule() -> None:
    from crmsync import Recurrence

    task = Task(
        key="t",
        subject="Weekly report",
        recurrence=Recurrence(pattern="weekly", days_of_week=["monday"], start_date=NOW.date()),
    )
    crm, outlook = CrmSnapshot(), OutlookSnapshot(tasks=[task])
    _, found = explain_one(crm, outlook, key="t")
    assert found.domain is Domain.TASK
    assert {v.rule for v in found.fields} == {"recurring_task_unsupported"}


def test_a_delete_that_travelled_says_so() -> None:
    _, found = explain_one(*contacts([], [OLD_O]), None, linked())
    assert {v.decision for v in found.fields} == {"deleted"}
    assert found.outcome == "delete in Outlook (deleted_in_crm)"


def test_a_delete_a_rule_keeps_unlinks_the_pair() -> None:
    start = NOW - dt.timedelta(days=2)  # an Outlook delete is not applied to a past appointment
    past = Appointment(
        key="m", subject="Past", start=start, end=start + dt.timedelta(hours=1), organizer=USER
    )
    crm, outlook = CrmSnapshot(appointments=[past]), OutlookSnapshot()
    baseline = Baseline(
        crm=CrmSnapshot(appointments=[past]),
        outlook=OutlookSnapshot(appointments=[past]),
        settings=Settings(),
    )
    _, found = explain_one(crm, outlook, None, baseline, key="m")
    assert {v.decision for v in found.fields} == {"unlinked"}
    assert [n.code for n in found.notices] == ["delete_not_propagated"]


def test_partial_snapshots_explain_as_the_complete_ones_they_stand_for() -> None:
    """A record a partial snapshot does not hold is the baseline's: its values show, and only
    the field that changed travelled."""
    edited = attrs.evolve(OLD_O, job_title="CEO")
    baseline = linked()
    crm, outlook = CrmSnapshot(complete=False), OutlookSnapshot(contacts=[edited], complete=False)
    planned = plan(crm, outlook, None, baseline)
    (found,) = explain(planned, "a", crm=crm, outlook=outlook, baseline=baseline)
    _, whole = explain_one(*contacts([OLD], [edited]), None, baseline)
    assert found == whole
    assert found.field("first_name").crm == "'Ann'"
    assert [v.field for v in found.fields if v.decision == "travelled"] == ["job_title"]


def test_the_plan_alone_explains_what_its_ops_and_notices_say() -> None:
    crm, outlook = contacts(
        [attrs.evolve(OLD, job_title="CEO", first_name="Anna")],
        [attrs.evolve(OLD_O, job_title="CTO")],
    )
    planned = plan(crm, outlook, None, linked())
    (found,) = explain(planned, "a")
    assert found.field("job_title").decision == "conflict_won"
    assert found.field("first_name").decision == "travelled"
    assert found.field("first_name").outlook == "'Ann'"  # as it was before the op
    assert found.field("first_name").base_crm == "—"  # the baseline is not in the plan


def test_a_key_nobody_knows_has_no_explanation_and_a_domain_narrows_the_search() -> None:
    crm, outlook = contacts([OLD], [OLD_O])
    planned = plan(crm, outlook, None, linked())
    assert explain(planned, "nobody", crm=crm, outlook=outlook) == ()
    assert explain(planned, "a", crm=crm, outlook=outlook, domain=Domain.TASK) == ()
    (found,) = explain(planned, "a", crm=crm, outlook=outlook)
    assert found.outcome == "no op: nothing to write"
    assert {v.decision for v in found.fields} == {"in_sync"}


def test_the_rendered_explanation_shows_values_side_by_side_and_each_decision() -> None:
    crm, outlook = contacts([attrs.evolve(OLD, job_title="CEO")], [OLD_O])
    _, found = explain_one(crm, outlook, None, linked())
    text = found.render()
    assert text.splitlines()[0] == "contact a (Ann): update in Outlook (changed_in_crm)"
    (row,) = [line for line in text.splitlines() if line.startswith("  job_title ")]
    assert row.split() == ["job_title", "'CEO'", "'Buyer'", "'Buyer'", "'Buyer'", "travelled"]
    assert "job_title: travelled to Outlook (written; changed_in_crm)" in text


# --- finding a record by name, e-mail or subject ------------------------------------

BEN = CrmContact(key="c-ben", first_name="Ben", last_name="Okafor", emails=["ben@fabrikam.com"])
REVIEW = Appointment(
    key="a-review",
    subject="Quarterly review",
    start=NOW + dt.timedelta(days=2),
    end=NOW + dt.timedelta(days=2, hours=1),
    organizer=USER,
)


def people() -> tuple[CrmSnapshot, OutlookSnapshot, Plan]:
    other_ben = CrmContact(key="c-ben2", first_name="Ben", last_name="Stone")
    crm = CrmSnapshot(contacts=[BEN, other_ben], appointments=[REVIEW])
    outlook = OutlookSnapshot()
    return crm, outlook, plan(crm, outlook)


@pytest.mark.parametrize(
    "query", ["c-ben", "ben@fabrikam.com", "BEN@fabrikam.com ", "Ben Okafor", "okafor"]
)
def test_a_record_is_found_by_its_key_name_or_e_mail(query: str) -> None:
    crm, outlook, planned = people()
    found = find(planned, query, crm=crm, outlook=outlook)
    assert [c.key for c in found.matches] == ["c-ben"]
    (match,) = found.matches
    assert (match.name, match.emails) == ("Ben Okafor", ("ben@fabrikam.com",))
    (story,) = explain(planned, match.key, crm=crm, outlook=outlook, domain=match.domain)
    assert story.name == "Ben Okafor"


def test_an_appointment_is_found_by_its_subject() -> None:
    crm, outlook, planned = people()
    (match,) = find(planned, "quarterly review", crm=crm, outlook=outlook).matches
    assert (match.domain, match.key) == (Domain.APPOINTMENT, "a-review")


def test_a_name_several_records_share_lists_them_all() -> None:
    crm, outlook, planned = people()
    found = find(planned, "ben", crm=crm, outlook=outlook)
    assert [(c.key, c.name) for c in found.matches] == [
        ("c-ben", "Ben Okafor"),
        ("c-ben2", "Ben Stone"),
    ]
    assert found.closest == ()


def test_a_query_nothing_matches_suggests_the_closest_records() -> None:
    crm, outlook, planned = people()
    found = find(planned, "Okafr", crm=crm, outlook=outlook)
    assert found.matches == ()
    assert found.closest[0].key == "c-ben"
    assert find(planned, "zzzz", crm=crm, outlook=outlook) == find(planned, "zzzz")


def test_the_plan_alone_finds_the_records_its_ops_write() -> None:
    _, _, planned = people()
    (match,) = find(planned, "ben@fabrikam.com").matches
    assert match.key == "c-ben"


# --- verdicts that agree with the plan ------------------------------------------------

HOME = Address(street="12 Home Street", city="Lyon")
WORK = Address(street="1 Rue de la Paix", city="Paris")
DEPOT = Address(street="8 Depot Lane", city="Lille")
LAKE = Address(street="3 Lake Road", city="Annecy")
QUAI = Address(street="40 Quai Sud", city="Nantes")


def test_an_address_remap_conflict_is_a_conflict_not_a_standing_difference() -> None:
    """Five distinct addresses cannot fit three slots: the plan holds them for a person."""
    crm_record = CrmContact(key="a", first_name="Eli", address1=WORK, address2=HOME, address3=DEPOT)
    outlook_record = OutlookContact(
        key="a", first_name="Eli", business_address=WORK, home_address=LAKE, other_address=QUAI
    )
    baseline = linked(crm_record, outlook_record, address_sync="mailing_only")
    crm, outlook = contacts([crm_record], [outlook_record])
    settings = Settings(address_sync=AddressSync.ALL_THREE)
    planned, found = explain_one(crm, outlook, settings, baseline)
    assert "address_remap_conflict" in {n.code for n in planned.notices}
    for name in ("address2", "address3"):
        verdict = found.field(name)
        assert (verdict.decision, verdict.rule) == ("conflict_pending", "address_remap_conflict")
        assert verdict.why.endswith(REMEDIES["address_remap_conflict"])
    assert found.field("address1").decision == "in_sync"
    assert "addresses wait for a person" in found.outcome
    assert found.outcome.endswith(REMEDIES["address_remap_conflict"])


AGENDA = Attachment(name="agenda.pdf", size=48_213, content_hash="sha256:agenda")


def meeting_world(**settings: object) -> tuple[CrmSnapshot, OutlookSnapshot, Baseline, Settings]:
    crm = CrmSnapshot(appointments=[attrs.evolve(REVIEW, attachments=[AGENDA])])
    outlook = OutlookSnapshot(appointments=[REVIEW])
    baseline = Baseline(
        crm=CrmSnapshot(appointments=[REVIEW]),
        outlook=OutlookSnapshot(appointments=[REVIEW]),
        settings=Settings(**settings),  # type: ignore[arg-type]
    )
    return crm, outlook, baseline, Settings(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings", "code"),
    [
        ({"sync_appointment_attachments": False}, "attachment_sync_disabled"),
        (
            {"sync_appointment_attachments": True, "max_attachment_bytes": 1_000},
            "attachment_too_large",
        ),
        (
            {"sync_appointment_attachments": True, "attachment_budget_bytes": 1_000},
            "attachment_deferred",
        ),
    ],
)
def test_an_attachment_that_does_not_sync_says_why_and_what_would_sync_it(
    settings: dict[str, object], code: str
) -> None:
    crm, outlook, baseline, chosen = meeting_world(**settings)
    planned, found = explain_one(crm, outlook, chosen, baseline, key="a-review")
    assert not planned.ops
    (agenda,) = found.attachments
    assert (agenda.name, agenda.crm, agenda.outlook) == ("agenda.pdf", True, False)
    assert (agenda.decision, agenda.rule) == ("not_synced", code)
    assert agenda.why.endswith(REMEDIES[code])
    assert f"attachment agenda.pdf does not sync ({code})" in found.outcome
    assert found.outcome.endswith(REMEDIES[code])
    assert "agenda.pdf" in found.render()


def test_an_attachment_that_moves_says_where() -> None:
    crm, outlook, baseline, chosen = meeting_world(sync_appointment_attachments=True)
    _, found = explain_one(crm, outlook, chosen, baseline, key="a-review")
    (agenda,) = found.attachments
    assert (agenda.decision, agenda.to, agenda.rule) == (
        "travelled",
        Side.OUTLOOK,
        "attachment_added_in_crm",
    )


def test_an_untracked_contact_says_how_to_make_it_sync() -> None:
    _, found = explain_one(*contacts([], [attrs.evolve(OLD_O, tracked=False)]))
    assert found.outcome.endswith(
        "to sync it: track it in Outlook (the Dynamics 365 category, or the Track button of "
        "the Dynamics 365 App for Outlook)"
    )


def test_every_refusal_code_has_a_remedy() -> None:
    assert set(REFUSAL_CODES) <= set(REMEDIES)


def test_the_rendered_explanation_shows_long_addresses_whole() -> None:
    long = Address(street="1234 Very Long Boulevard of the Republic, Building C", city="Lyon")
    crm, outlook = contacts([attrs.evolve(OLD, address1=long)], [OLD_O])
    _, found = explain_one(crm, outlook, None, linked())
    assert long.one_line() in found.render()
