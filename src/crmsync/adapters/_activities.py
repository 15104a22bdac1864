"""The Dataverse activity model as Microsoft documents it: states, closing, series.

The request builders (`crmsync.adapters.requests`) ask this module how a
task or appointment row is written when its state matters:

- `statecode` is not valid for create (appointment and task table
  reference: "IsValidForCreate: False"), and a status reason must belong to
  the row's state. A row is created open, with a status reason of the open
  state or none, and then set to its state by a `PATCH` of `statecode` and
  `statuscode` (the Web API's form of the SetState message).
- "Completed and canceled tasks [appointments] are read-only and can't be
  edited" (the tables' `statecode` description). An edit of a closed row
  reopens it, writes the edit and closes it again, each a request that waits
  for the one before: the edit reaches the CRM, as Dynamics' own Reopen
  would let a person do, and the row ends in the state the plan wants.
- An appointment becomes a series through the `AddRecurrence` action, which
  copies it into a new `recurringappointmentmaster` row and deletes it
  ("Convert an appointment to a recurring appointment"): the series has a
  new id, which the executor reads from the answer like a create's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from crmsync.records import ActivityState, Appointment, Domain, Task, TaskStatus

JSON = dict[str, Any]

OPEN: Final = 0
"""`statecode` Open, the state every activity row is created in."""

_REOPENED: Final = {Domain.TASK: 2, Domain.APPOINTMENT: 1}
"""The default status reason of the Open state: task Not Started, appointment Free."""

ADD_RECURRENCE: Final = "Microsoft.Dynamics.CRM.AddRecurrence"
"""The action bound to an appointment that converts it to a series (AddRecurrence Action)."""

_STATE_COLUMNS: Final = ("statecode", "statuscode")


def is_closed(record: Any) -> bool:
    """Whether a task or appointment is completed or canceled (its row is read-only)."""
    if isinstance(record, Task):
        return record.status in (TaskStatus.COMPLETED, TaskStatus.CANCELED)
    if isinstance(record, Appointment):
        return record.state in (ActivityState.COMPLETED, ActivityState.CANCELED)
    return False


def create_open(body: Mapping[str, Any]) -> tuple[JSON, JSON | None]:
    """A create body without a state, and the state `PATCH` that follows it (or None).

    Args:
        body: the full body of the row, `statecode` and `statuscode` included.

    Returns:
        The body to `POST` (no `statecode`; the `statuscode` only when it is
        one of the Open state's), and `{"statecode", "statuscode"}` to set
        once the row exists, when its state is not Open.
    """
    out = dict(body)
    state = out.pop("statecode", None)
    if state in (None, OPEN):
        return out, None
    status = out.pop("statuscode", None)
    return out, {"statecode": state, "statuscode": status}


def update_steps(
    domain: Domain, before: Any, body: Mapping[str, Any], before_state: JSON
) -> list[JSON]:
    """The `PATCH` bodies that write `body` on a row now in the state of `before`, in order.

    Args:
        domain: task or appointment.
        before: the record as the plan read it.
        body: the columns the update writes (its state columns included when
            the state changes).
        before_state: `{"statecode", "statuscode"}` of `before`.

    Returns:
        One body for a row that stays open; for a closed row (or one that
        closes) the reopen, the edit and the close, leaving out the ones
        with nothing to write.
    """
    columns = {k: v for k, v in body.items() if k not in _STATE_COLUMNS}
    wanted = {k: body[k] for k in _STATE_COLUMNS if k in body}
    reopen = is_closed(before)
    final = wanted or (dict(before_state) if reopen else {})
    if not reopen and not wanted:
        return [columns] if columns else []
    steps: list[JSON] = []
    if reopen and columns:
        steps.append({"statecode": OPEN, "statuscode": _REOPENED[domain]})
    if final.get("statecode") == OPEN:
        steps.append(columns | final)  # an open row takes its status with the edit
        return steps
    if columns:
        steps.append(columns)
    if final and (columns or wanted):
        steps.append(final)
    return steps


def add_recurrence_target(series_body: Mapping[str, Any]) -> JSON:
    """The `Target` of `AddRecurrence`: the series' own columns (no parties, no state).

    The action copies the appointment's other data, its parties included, to
    the new series; the state is the appointment's.
    """
    target = {
        name: value
        for name, value in series_body.items()
        if not name.endswith("_activity_parties") and name not in _STATE_COLUMNS
    }
    return {"@odata.type": "Microsoft.Dynamics.CRM.recurringappointmentmaster", **target}
