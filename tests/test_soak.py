"""A short seeded soak of crmsync.http against the fake services (tests/soak.py has the rules).

The service loop of docs/adapters.md runs round after round while a user
creates, edits and deletes contacts, appointments and tasks on both sides
and attaches files, and the services answer with 429s, 503s, 504s, resets,
writes that commit and lose their answer (alone and inside `$batch`) and
edits or deletes between the read and the write. scripts/soak.py runs the
same soak for thousands of rounds.
"""

from __future__ import annotations

import soak
from crmsync import ConflictPolicy, Direction, Settings

FAULTS = {
    "429",
    "503",
    "504",
    "reset",
    "lost",
    "lost_in_batch",
    "edit_between_read_and_write",
    "delete_between_read_and_write",
}


def test_a_seeded_soak_converges_and_never_duplicates_loses_an_edit_silently_or_crashes() -> None:
    """Convergence, no duplicates, no lost edit without a notice, a baseline of both sides,
    no crash: at every quiet point of 100 rounds, under every kind of fault."""
    report = soak.run(rounds=100, seed=24, fault_rate=0.1)

    assert report.violations == [], report.render()
    assert (report.rounds, report.quiet_points) == (100, 10)
    assert set(report.faults) >= FAULTS, report.render()
    assert all(report.ops[action] for action in ("create", "update", "delete")), report.render()
    assert report.notices["conflict_resolved"], report.render()
    assert any(action.startswith("attach") for action in report.actions), report.render()


def test_a_seeded_soak_under_the_manual_policy_leaves_conflicts_pending_and_loses_nothing() -> None:
    """Under MANUAL a conflict stays for a person: it never blocks convergence or the rest."""
    settings = Settings(conflict=ConflictPolicy.MANUAL, sync_appointment_attachments=True)
    report = soak.run(rounds=50, seed=25, fault_rate=0.1, settings=settings)

    assert report.violations == [], report.render()
    assert report.notices["conflict"], report.render()


def test_a_seeded_soak_with_one_way_fields_holds_data_loss_records_and_syncs_the_rest() -> None:
    """Hold records, not mailboxes: with one-way fields, a delete that takes an edit the
    other way is a data-loss notice; its records are held round after round, the rest
    of the mailbox keeps syncing, and every invariant still holds."""
    settings = Settings(
        sync_appointment_attachments=True,
        field_directions={
            "contact.job_title": Direction.TO_OUTLOOK,
            "task.subject": Direction.TO_CRM,
        },
    )
    report = soak.run(rounds=60, seed=42, fault_rate=0.1, settings=settings)

    assert report.violations == [], report.render()
    assert report.held, report.render()
    assert report.notices["field_not_synced"], report.render()
