"""Tests for crmsync.fieldmerge: which rule an op's `reason` names when several moved its fields.

Every domain's merge runs through fieldmerge, so the rules are checked on contacts through
`crmsync.plan`, as a user reads them.
"""

from __future__ import annotations

import pytest

from crmsync import (
    Baseline,
    ConflictPolicy,
    CrmContact,
    CrmSnapshot,
    OutlookContact,
    OutlookSnapshot,
    Settings,
    Side,
)
from support import plan


def _linked() -> Baseline:
    return Baseline(
        crm=CrmSnapshot(contacts=[CrmContact(key="k", job_title="A", department="D")]),
        outlook=OutlookSnapshot(contacts=[OutlookContact(key="k", job_title="A", department="D")]),
    )


@pytest.mark.parametrize(
    ("policy", "loser"),
    [(ConflictPolicy.CRM_WINS, Side.OUTLOOK), (ConflictPolicy.OUTLOOK_WINS, Side.CRM)],
)
def test_an_op_that_carries_a_resolved_conflict_names_the_conflict_policy_as_its_reason(
    policy: ConflictPolicy, loser: Side
) -> None:
    """The losing side also receives a plain one-sided edit (the job title, merged before
    the department): the op's reason is still the conflict's, the stronger rule."""
    winner = loser.other
    titles = {winner: "B", loser: "A"}
    departments = {winner: "Sales", loser: "Support"}
    crm = CrmSnapshot(
        contacts=[CrmContact(key="k", job_title=titles[Side.CRM], department=departments[Side.CRM])]
    )
    outlook = OutlookSnapshot(
        contacts=[
            OutlookContact(
                key="k", job_title=titles[Side.OUTLOOK], department=departments[Side.OUTLOOK]
            )
        ]
    )
    planned = plan(crm, outlook, Settings(conflict=policy), _linked())
    [op] = planned.ops
    assert op.side is loser
    assert [(c.field, c.new) for c in op.changes] == [("job_title", "B"), ("department", "Sales")]
    assert op.reason == f"conflict_{policy.value}"
    assert [n.code for n in planned.notices] == ["conflict_resolved"]


@pytest.mark.parametrize("side", list(Side))
def test_an_op_that_carries_only_one_sided_edits_names_the_side_that_changed(side: Side) -> None:
    edited = {Side.CRM: CrmContact, Side.OUTLOOK: OutlookContact}[side](
        key="k", job_title="B", department="Sales"
    )
    base = _linked()
    crm = CrmSnapshot(contacts=[edited]) if side is Side.CRM else base.crm
    outlook = OutlookSnapshot(contacts=[edited]) if side is Side.OUTLOOK else base.outlook
    [op] = plan(crm, outlook, None, base).ops
    assert (op.side, op.reason) == (side.other, f"changed_in_{side.value}")
