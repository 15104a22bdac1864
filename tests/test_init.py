"""Tests for crmsync/__init__.py: the curated front door."""

from __future__ import annotations

import subprocess
import sys

import crmsync

CONTRACT = (
    "Settings",
    "AddressSync",
    "AddressRemap",
    "ConflictPolicy",
    "Direction",
    "Address",
    "AddressKind",
    "CrmContact",
    "OutlookContact",
    "Appointment",
    "Attachment",
    "Recurrence",
    "ActivityKind",
    "ShowAs",
    "Priority",
    "ActivityState",
    "Task",
    "TaskStatus",
    "CrmSnapshot",
    "OutlookSnapshot",
    "Baseline",
    "Plan",
    "Op",
    "FieldChange",
    "Notice",
    "Action",
    "Side",
    "Domain",
    "Severity",
    "SyncInput",
    "Synced",
    "InvalidInput",
    "SettingsError",
    "StalePlan",
    "plan",
    "apply",
    "dumps",
    "loads",
    "compose",
    "exclude",
)


def test_all_is_sorted_and_names_exactly_the_public_names() -> None:
    assert crmsync.__all__ == sorted(crmsync.__all__)
    public = {name for name in vars(crmsync) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(crmsync, name)).__name__ == "module"}
    assert set(crmsync.__all__) == public - modules - {"annotations"}


def test_the_design_contract_names_are_exported() -> None:
    assert set(CONTRACT) <= set(crmsync.__all__)


def test_every_error_inherits_from_the_root_and_the_matching_builtin() -> None:
    for error in (
        crmsync.AlteredPlan,
        crmsync.InvalidInput,
        crmsync.SettingsError,
        crmsync.StalePlan,
        crmsync.PolicyConflict,
    ):
        assert issubclass(error, crmsync.CrmsyncError)
        assert issubclass(error, ValueError)


def test_neither_strategies_nor_hypothesis_are_imported_by_the_package() -> None:
    code = (
        "import sys, crmsync; "
        "print('crmsync.strategies' in sys.modules, 'hypothesis' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["False", "False"]


def test_an_altered_plan_is_a_kind_of_stale_plan() -> None:
    assert issubclass(crmsync.AlteredPlan, crmsync.StalePlan)
