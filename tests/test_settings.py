"""Tests for crmsync.settings: documented defaults and validation."""

from __future__ import annotations

import pickle

import attrs
import pytest

from crmsync import (
    AddressRemap,
    AddressSync,
    ConflictPolicy,
    Direction,
    Settings,
    SettingsError,
)


def test_defaults_are_the_documented_ones() -> None:
    s = Settings()
    assert s.sync_appointment_attachments is False
    assert s.address_sync is AddressSync.MAILING_ONLY
    assert s.address_remap is AddressRemap.PRESERVE
    assert s.sync_assigned_tasks is False
    assert s.organization_domains == frozenset()
    assert s.conflict is ConflictPolicy.CRM_WINS
    assert dict(s.field_directions) == {}
    assert s.max_attachment_bytes == 5120 * 1024
    assert s.attachment_budget_bytes is None
    assert (s.mass_delete_threshold, s.allow_mass_delete) == (0.5, False)


def test_a_direction_on_a_fixed_field_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match=r"appointment.priority: this field has a fixed"):
        Settings(field_directions={"appointment.priority": "to_crm"})


def test_a_direction_on_an_unknown_field_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match=r"contact.shoe_size: unknown field"):
        Settings(field_directions={"contact.shoe_size": "none"})


def test_settable_fields_take_a_direction_as_enum_or_plain_value() -> None:
    s = Settings(field_directions={"contact.job_title": "to_crm", "task.due": Direction.NONE})
    assert s.direction("contact.job_title") is Direction.TO_CRM
    assert s.direction("task.due") is Direction.NONE
    assert s.direction("contact.notes") is Direction.TWO_WAY


def test_every_bad_value_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as exc:
        Settings(
            address_sync="some",
            mass_delete_threshold=2.0,
            max_attachment_bytes=-1,
            attachment_budget_bytes=-5,
            field_directions={"contact.notes": "sideways"},
        )
    assert len(exc.value.problems) == 5


@pytest.mark.parametrize("threshold", [True, False, -0.1, 1.5, "0.5", None])
def test_the_mass_delete_threshold_is_a_share_between_0_and_1_never_a_bool(
    threshold: object,
) -> None:
    """`True` is the number 1 to Python, but a yes/no is not a share of records."""
    with pytest.raises(SettingsError) as exc:
        Settings(mass_delete_threshold=threshold)  # type: ignore[arg-type]
    assert [p.path for p in exc.value.problems] == [("mass_delete_threshold",)]


@pytest.mark.parametrize("threshold", [0, 1, 0.0, 0.25, 1.0])
def test_the_mass_delete_threshold_takes_any_share_from_0_to_1(threshold: float) -> None:
    assert Settings(mass_delete_threshold=threshold).mass_delete_threshold == threshold


def test_organization_domains_are_casefolded() -> None:
    assert Settings(organization_domains=frozenset({" Contoso.COM"})).organization_domains == {
        "contoso.com"
    }


def test_settings_are_hashable_and_comparable() -> None:
    a = Settings(field_directions={"contact.notes": "none"})
    b = Settings(field_directions={"contact.notes": Direction.NONE})
    assert a == b
    assert hash(a) == hash(b)


def test_a_misspelled_keyword_is_a_settings_error_naming_the_setting_meant() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings(adress_sync="all_three")  # type: ignore[call-arg]
    assert caught.value.lines() == [
        "Settings.adress_sync: unknown field; did you mean 'address_sync'?"
    ]
    assert isinstance(caught.value, ValueError)


def test_every_unknown_keyword_is_named_with_a_suggestion_when_one_is_close() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings(confict="manual", zzz=1)  # type: ignore[call-arg]
    first, second = caught.value.lines()
    assert first == "Settings.confict: unknown field; did you mean 'conflict'?"
    assert second == "Settings.zzz: unknown field"


def test_known_keywords_still_construct_evolve_and_pickle() -> None:
    settings = Settings(address_sync="all_three", conflict="manual")
    assert attrs.evolve(settings, conflict="crm_wins").address_sync is AddressSync.ALL_THREE
    assert pickle.loads(pickle.dumps(settings)) == settings  # noqa: S301 - our own bytes


def test_a_lone_surrogate_a_huge_number_or_a_deep_value_is_a_settings_error() -> None:
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(SettingsError) as exc:
        Settings(
            organization_domains=frozenset({"contoso\ud800.com"}),
            max_attachment_bytes=10**5000,
            conflict=deep,  # type: ignore[arg-type]
            field_directions={"contact.job_title": deep},  # type: ignore[dict-item]
        )
    paths = sorted(p.path for p in exc.value.problems)
    assert paths == [
        ("conflict",),
        ("field_directions", "contact.job_title"),
        ("max_attachment_bytes",),
        ("organization_domains",),
    ]
