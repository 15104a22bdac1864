"""A model-based test: two stores and a baseline, edited and synced over many rounds.

Rules edit, create and delete contacts and tasks on either side, flip
settings, and sync (plan, then apply). Invariants after each sync: the next
plan writes nothing, both sides agree on every two-way field of every linked
pair, the baseline matches the stores, and nothing a rule wrote was lost
without a notice.
"""

from __future__ import annotations

from typing import Any

import attrs
import hypothesis
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import crmsync
from crmsync import (
    AddressSync,
    ConflictPolicy,
    CrmContact,
    CrmSnapshot,
    Domain,
    OutlookContact,
    OutlookSnapshot,
    Settings,
    Side,
    Task,
)
from crmsync.contacts import RULES as CONTACTS
from crmsync.strategies import NOW, USER, addresses
from crmsync.tasks import RULES as TASKS

KEYS = st.sampled_from(["k1", "k2", "k3", "k4"])
VALUES = st.sampled_from(["", "a", "b", "c"])
SIDES = st.sampled_from(list(Side))


class SyncModel(RuleBasedStateMachine):
    """Two stores that people edit, and a sync that runs now and then."""

    def __init__(self) -> None:
        super().__init__()
        self.crm = CrmSnapshot()
        self.outlook = OutlookSnapshot()
        self.baseline: crmsync.Baseline | None = None
        self.settings = Settings()
        self.synced = True
        self.written: list[tuple[Side, Domain, str, str, Any]] = []

    # --- people ---------------------------------------------------------------
    def _store(self, side: Side) -> Any:
        return self.crm if side is Side.CRM else self.outlook

    def _put(self, side: Side, field: str, records: tuple[Any, ...]) -> None:
        store = attrs.evolve(self._store(side), **{field: records})
        if side is Side.CRM:
            self.crm = store
        else:
            self.outlook = store
        self.synced = False

    @rule(side=SIDES, key=KEYS, title=VALUES, email=st.sampled_from(["", "x@y.com", "z@y.com"]))
    def create_or_replace_contact(self, side: Side, key: str, title: str, email: str) -> None:
        cls = CrmContact if side is Side.CRM else OutlookContact
        contact = cls(key=key, job_title=title, emails=(email,) if email else ())
        others = tuple(c for c in self._store(side).contacts if c.key != key)
        self._put(side, "contacts", (*others, contact))
        self.written.append((side, Domain.CONTACT, key, "job_title", title))

    @rule(side=SIDES, key=KEYS, title=VALUES, notes=VALUES)
    def edit_contact(self, side: Side, key: str, title: str, notes: str) -> None:
        contacts = self._store(side).contacts
        if any(c.key == key for c in contacts):
            edited = tuple(
                attrs.evolve(c, job_title=title, notes=notes) if c.key == key else c
                for c in contacts
            )
            self._put(side, "contacts", edited)
            self.written.append((side, Domain.CONTACT, key, "job_title", title))

    @rule(key=KEYS, address=addresses())
    def edit_crm_address(self, key: str, address: crmsync.Address) -> None:
        contacts = self.crm.contacts
        if any(c.key == key for c in contacts):
            edited = tuple(
                attrs.evolve(c, address2=address) if c.key == key else c for c in contacts
            )
            self._put(Side.CRM, "contacts", edited)

    @rule(side=SIDES, key=KEYS)
    def delete_contact(self, side: Side, key: str) -> None:
        self._put(side, "contacts", tuple(c for c in self._store(side).contacts if c.key != key))

    @rule(side=SIDES, key=KEYS, subject=VALUES, percent=st.sampled_from([0, 50, 100]))
    def create_or_edit_task(self, side: Side, key: str, subject: str, percent: int) -> None:
        task = Task(
            key=key, subject=subject, percent_complete=percent, start=NOW if percent == 50 else None
        )
        others = tuple(t for t in self._store(side).tasks if t.key != key)
        self._put(side, "tasks", (*others, task))
        self.written.append((side, Domain.TASK, key, "subject", subject))

    @rule(side=SIDES, key=KEYS)
    def delete_task(self, side: Side, key: str) -> None:
        self._put(side, "tasks", tuple(t for t in self._store(side).tasks if t.key != key))

    @rule(
        mode=st.sampled_from(list(AddressSync)),
        conflict=st.sampled_from(
            [ConflictPolicy.CRM_WINS, ConflictPolicy.OUTLOOK_WINS, ConflictPolicy.NEWEST_WINS]
        ),
    )
    def flip_settings(self, mode: AddressSync, conflict: ConflictPolicy) -> None:
        self.settings = Settings(address_sync=mode, conflict=conflict)
        self.synced = False

    # --- the sync -----------------------------------------------------------------
    @rule()
    def sync(self) -> None:
        for _ in range(3):  # a LINK merges in the next round
            plan = crmsync.plan(
                self.crm, self.outlook, self.settings, self.baseline, user=USER, now=NOW
            )
            self._check_nothing_lost(plan)
            synced = crmsync.apply(plan, self.crm, self.outlook, self.baseline)
            self.crm, self.outlook, self.baseline = synced.crm, synced.outlook, synced.baseline
            if plan.is_empty:
                break
        self.synced = True
        self.written.clear()

    def _base_value(self, side: Side, domain: Domain, key: str, field: str) -> Any:
        if self.baseline is None or not self._linked(domain, key):
            return object()  # nothing to compare with
        snapshot = self.baseline.crm if side is Side.CRM else self.baseline.outlook
        record = next(r for r in getattr(snapshot, f"{domain.value}s") if r.key == key)
        return getattr(record, field)

    def _linked(self, domain: Domain, key: str) -> bool:
        if self.baseline is None:
            return False
        field = f"{domain.value}s"
        return all(
            any(r.key == key for r in getattr(snapshot, field))
            for snapshot in (self.baseline.crm, self.baseline.outlook)
        )

    def _check_nothing_lost(self, plan: crmsync.Plan) -> None:
        """A value a rule wrote and that still stands is overwritten only with a notice."""
        for side, domain, key, field, value in self.written:
            records = {r.key: r for r in getattr(self._store(side), f"{domain.value}s")}
            if key not in records or getattr(records[key], field) != value:
                continue  # written over by a later rule, or deleted by a person
            if not value and not self._linked(domain, key):
                continue  # on a pair's first sync a value fills an empty field (docs/settings.md)
            if self._base_value(side, domain, key, field) == value:
                continue  # the same value written again is no change since the last sync
            for op in plan.ops:
                if op.side is not side or op.domain is not domain or op.key != key:
                    continue
                assert op.action.value != "delete", f"{domain} {key} edited and deleted"
                if any(c.field == field for c in op.changes):
                    assert any(
                        n.key == key and n.code == "conflict_resolved" for n in plan.notices
                    ), f"{domain} {key}.{field} = {value!r} overwritten without a notice"

    # --- invariants ------------------------------------------------------------------
    @invariant()
    @precondition(lambda self: self.synced)
    def the_next_plan_writes_nothing(self) -> None:
        again = crmsync.plan(
            self.crm, self.outlook, self.settings, self.baseline, user=USER, now=NOW
        )
        assert again.is_empty, again.render()

    @invariant()
    @precondition(lambda self: self.synced and self.baseline is not None)
    def linked_pairs_agree_on_every_two_way_field_and_match_the_baseline(self) -> None:
        assert self.baseline is not None
        for rules, field in ((CONTACTS, "contacts"), (TASKS, "tasks")):
            crm = {r.key: r for r in getattr(self.crm, field)}
            outlook = {r.key: r for r in getattr(self.outlook, field)}
            base_crm = {r.key: r for r in getattr(self.baseline.crm, field)}
            base_outlook = {r.key: r for r in getattr(self.baseline.outlook, field)}
            for key in base_crm.keys() & base_outlook.keys():
                assert crm.get(key) == base_crm[key]
                assert outlook.get(key) == base_outlook[key]
                if key in self.baseline.pending_remap:
                    continue
                cv = rules.view(crm[key], Side.CRM, self.settings)
                ov = rules.view(outlook[key], Side.OUTLOOK, self.settings)
                for rule_ in rules.fields:
                    if rule_.name in cv and rule_.name in ov:
                        assert rule_.same(cv[rule_.name], ov[rule_.name]), (key, rule_.name)


TestSyncModel = SyncModel.TestCase
TestSyncModel.settings = hypothesis.settings(
    hypothesis.settings.default, stateful_step_count=30, deadline=None
)
