"""A multi-round soak of `crmsync.http` against crmsync.testing, with invariants.

Each round is the documented service loop (docs/adapters.md): `read_dataverse`,
`read_outlook(baseline, crm=...)`, `crmsync.plan`, `crmsync.hold` when the
plan reports data loss, `execute` with the etags of the reads, and
`Executed.baseline`. Before a round, a user creates, edits and deletes
contacts, appointments and tasks on either side and attaches files to
appointments (attachment sync is on). During the round the fake answers at
random with 429 and `Retry-After`, 503, 504, connection resets and writes
that commit and lose their answer (alone and inside `$batch`), Dataverse
answers creates with the row or with 204 alone, and the user edits or
deletes a record the plan is about to write (between the read and the write).

Every `quiet_every` rounds, and at the end, faults and edits stop and fault-free
rounds run until the plan is empty; the invariants are checked there:

- **convergence**: a plan is empty within `QUIET_ROUNDS` fault-free rounds, and
  each of them is done completely;
- **no duplicates**: no contact twice (by e-mail address), no appointment twice
  (by the marker in its subject, and by iCalendar UID), no task twice (by the
  marker in its subject), on either side;
- **no lost edit without a notice**: each edit's value is on both sides, or on
  the sides that still hold the record after a user's delete, or a later edit
  or delete superseded it, or a `conflict_resolved` or data-loss notice named
  the record in some round (or a MANUAL `conflict` left it for a person, or a
  `field_not_synced` said that its direction keeps it on its side);
  every file attached is on both sides' appointment unless a later delete
  took the appointment;
- **the baseline describes both sides**: a fresh read holds, for every linked
  pair, the records the baseline holds (`modified` aside, which is metadata),
  and every record it reads is in the baseline or `unlinked` (the records the
  last plan left pending keep their previous entries on purpose);
- **no crash**: a read returns or raises `ServiceError`; `execute` and
  `Executed.baseline` return.

tests/test_soak.py runs a short seeded soak; scripts/soak.py runs thousands of rounds.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import random
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import attrs

import crmsync
from crmsync import Baseline, Domain, Plan, Settings, Severity, Side
from crmsync.adapters import DataverseRead, GraphRead
from crmsync.adapters.graph import TRACKED_CATEGORY
from crmsync.http import Connection, Executed, ServiceError
from crmsync.testing import DATAVERSE_TOKEN, GRAPH_TOKEN, FakeMicrosoft, organizer_party

USER = "ann@contoso.com"
NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
MAILBOX_SIZE = 25  # records per folder above which the user deletes more than creates
QUIET_ROUNDS = 5  # a LINK merges in the next round; a lost answer is found one read later
DOMAINS = (Domain.CONTACT, Domain.APPOINTMENT, Domain.TASK)
_GRAPH = {Domain.CONTACT: "contacts", Domain.APPOINTMENT: "events", Domain.TASK: "tasks"}
_DATAVERSE = {Domain.CONTACT: "contacts", Domain.APPOINTMENT: "appointments", Domain.TASK: "tasks"}
_FIELD = {Domain.CONTACT: "job_title", Domain.APPOINTMENT: "location", Domain.TASK: "subject"}
_NAMING = {"conflict", "conflict_resolved", "field_not_synced"}
_MARKER = re.compile(r"^[A-Z]\d+")


@dataclasses.dataclass
class Report:
    """What a soak did and what it found."""

    rounds: int = 0
    quiet_rounds: int = 0
    quiet_points: int = 0
    failed_reads: int = 0
    held: int = 0
    actions: Counter[str] = dataclasses.field(default_factory=Counter)
    ops: Counter[str] = dataclasses.field(default_factory=Counter)
    faults: Counter[str] = dataclasses.field(default_factory=Counter)
    notices: Counter[str] = dataclasses.field(default_factory=Counter)
    violations: list[str] = dataclasses.field(default_factory=list)

    def render(self) -> str:
        """The figures, one line per kind."""

        def counts(counter: Counter[str]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "none"

        lines = [
            f"rounds: {self.rounds} with edits and faults, {self.quiet_rounds} quiet "
            f"({self.quiet_points} quiet points), {self.failed_reads} reads failed (ServiceError)",
            f"records held for a data-loss notice (summed over rounds): {self.held}",
            f"user actions: {counts(self.actions)}",
            f"ops done by action: {counts(self.ops)}",
            f"faults by kind: {counts(self.faults)}",
            f"notices by code: {counts(self.notices)}",
            f"violations: {len(self.violations)}",
        ]
        lines += [f"  {v}" for v in self.violations[:50]]
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class _Edit:
    seq: int
    domain: Domain
    marker: str
    value: str
    side: Side


def _marker(domain: Domain, record: Any) -> str:
    """The unique marker a soak record carries from its creation on (its name or subject)."""
    text = record.first_name if domain is Domain.CONTACT else record.subject
    found = _MARKER.match(text or "")
    return found.group(0) if found else ""


def _raw_marker(domain: Domain, side: Side, item: dict[str, Any]) -> str:
    if domain is Domain.CONTACT:
        text = item.get("firstname" if side is Side.CRM else "givenName")
    else:
        text = item.get("subject" if side is Side.CRM or domain is Domain.APPOINTMENT else "title")
    found = _MARKER.match(str(text or ""))
    return found.group(0) if found else ""


def _when(moment: dt.datetime) -> dict[str, str]:
    return {"dateTime": moment.replace(tzinfo=None).isoformat(), "timeZone": "UTC"}


class Soak:
    """One soak: a fake, a connection, the baseline the service keeps, and what was done."""

    def __init__(
        self,
        fake: FakeMicrosoft,
        *,
        seed: int,
        fault_rate: float,
        edit_between_rate: float = 0.2,
        settings: Settings | None = None,
        connection_options: dict[str, Any] | None = None,
    ) -> None:
        self.fake = fake
        self.rng = random.Random(seed)  # noqa: S311 - a seeded soak, not cryptography
        self.chaos = random.Random(seed + 1)  # noqa: S311
        self.fault_rate = fault_rate
        self.edit_between_rate = edit_between_rate
        self.settings = settings or Settings(sync_appointment_attachments=True)
        self.waits: list[float] = []
        self.connection = Connection(
            graph_token=lambda: GRAPH_TOKEN,
            dataverse_url=fake.url,
            dataverse_token=lambda: DATAVERSE_TOKEN,
            graph_url=fake.graph_url,
            sleep=self.waits.append,
            max_retries=3,
            allow_loopback_http=True,
            **(connection_options or {}),
        )
        self.baseline: Baseline | None = None
        self.report = Report()
        self.seq = 0
        self.edits: list[_Edit] = []
        self.attached: list[tuple[int, str, str]] = []  # (seq, appointment marker, file name)
        self.deletes: list[tuple[int, Domain, str, Side]] = []
        # The last moment (`seq`) a conflict_resolved or data-loss notice named a record.
        self.noticed: dict[tuple[Domain, str], int] = {}

    def close(self) -> None:
        """Closes the connection."""
        self.connection.close()

    # -- the user ---------------------------------------------------------------

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def _create(self, domain: Domain, side: Side) -> None:
        n, fake = self._next(), self.fake
        start = NOW + dt.timedelta(days=30, hours=n)  # future, so deletes travel both ways
        if side is Side.CRM:
            body: dict[str, Any] = {
                Domain.CONTACT: {
                    "firstname": f"C{n}",
                    "lastname": "Soak",
                    "emailaddress1": f"c{n}@x.org",
                },
                Domain.APPOINTMENT: {
                    "subject": f"A{n}",
                    "scheduledstart": start.isoformat(),
                    "scheduledend": (start + dt.timedelta(hours=1)).isoformat(),
                    "appointment_activity_parties": [organizer_party(USER)],
                },
                Domain.TASK: {"subject": f"T{n}"},
            }[domain]
            fake.add("dataverse", _DATAVERSE[domain], body)
        else:
            tracked = {"categories": [TRACKED_CATEGORY]}
            body = {
                Domain.CONTACT: {
                    "givenName": f"O{n}",
                    "surname": "Soak",
                    "emailAddresses": [{"address": f"o{n}@x.org"}],
                },
                Domain.APPOINTMENT: {
                    "subject": f"E{n}",
                    "start": _when(start),
                    "end": _when(start + dt.timedelta(hours=1)),
                    "organizer": {"emailAddress": {"address": USER}},
                },
                Domain.TASK: {"title": f"U{n}"},
            }[domain]
            fake.add("graph", _GRAPH[domain], body | tracked)
        self.report.actions[f"create {domain.value} in {side.value}"] += 1

    def _pick(self, domain: Domain, side: Side) -> tuple[str, str] | None:
        """A random item of the side that carries a soak marker: (id, marker)."""
        store = (self.fake.dataverse if side is Side.CRM else self.fake.graph)[
            (_DATAVERSE if side is Side.CRM else _GRAPH)[domain]
        ]
        items = [(i, _raw_marker(domain, side, store[i])) for i in sorted(store)]
        items = [(i, m) for i, m in items if m]
        return self.rng.choice(items) if items else None

    def _edit_item(self, domain: Domain, side: Side, item_id: str, marker: str) -> None:
        n = self._next()
        value = {Domain.CONTACT: f"J{n}", Domain.APPOINTMENT: f"L{n}"}.get(domain, f"{marker} e{n}")
        if side is Side.CRM:
            column = {Domain.CONTACT: "jobtitle", Domain.APPOINTMENT: "location"}
            self.fake.edit(
                "dataverse", _DATAVERSE[domain], item_id, **{column.get(domain, "subject"): value}
            )
        else:
            change: dict[str, Any] = {
                Domain.CONTACT: {"jobTitle": value},
                Domain.APPOINTMENT: {"location": {"displayName": value}},
                Domain.TASK: {"title": value},
            }[domain]
            self.fake.edit("graph", _GRAPH[domain], item_id, **change)
        self.edits.append(_Edit(n, domain, marker, value, side))

    def act(self) -> None:
        """One random user action: create, edit or delete a record on either side."""
        domain = self.rng.choice(DOMAINS)
        side = self.rng.choice(list(Side))
        # Turnover keeps a long soak's mailbox at a few dozen records per folder, so a
        # round's reads stay a few pages long however many rounds run.
        store = (self.fake.dataverse if side is Side.CRM else self.fake.graph)[
            (_DATAVERSE if side is Side.CRM else _GRAPH)[domain]
        ]
        crowded = len(store) > MAILBOX_SIZE
        weights = [1, 4, 4] if crowded else [4, 4, 1]
        what = self.rng.choices(["create", "edit", "delete"], weights=weights)[0]
        picked = self._pick(domain, side) if what != "create" else None
        if picked is None:
            self._create(domain, side)
            return
        item_id, marker = picked
        if what == "edit" and domain is Domain.APPOINTMENT and self.rng.random() < 0.3:
            self._attach(side, item_id, marker)
            what = "attach a file to"
        elif what == "edit":
            self._edit_item(domain, side, item_id, marker)
        else:
            collection = (_DATAVERSE if side is Side.CRM else _GRAPH)[domain]
            self.fake.remove("dataverse" if side is Side.CRM else "graph", collection, item_id)
            self.deletes.append((self._next(), domain, marker, side))
        self.report.actions[f"{what} {domain.value} in {side.value}"] += 1

    def _attach(self, side: Side, item_id: str, marker: str) -> None:
        n = self._next()
        name, content = f"F{n}.txt", base64.b64encode(f"file {n}".encode()).decode()
        if side is Side.OUTLOOK:
            self.fake.attach(item_id, name, content)
        else:
            self.fake.add(
                "dataverse",
                "activitymimeattachments",
                {
                    "filename": name,
                    "mimetype": "text/plain",
                    "objecttypecode": "appointment",
                    "body": content,
                    "objectid_appointment@odata.bind": f"/appointments({item_id})",
                },
            )
        self.attached.append((n, marker, name))

    def _edit_between(self, plan: Plan, crm: DataverseRead, outlook: GraphRead) -> None:
        """A user's edit or delete of a record the plan is about to write, after the read."""
        targets = [
            op
            for op in plan.ops
            if op.action in (crmsync.Action.UPDATE, crmsync.Action.DELETE) and op.domain in DOMAINS
        ]
        if not targets:
            return
        op = self.rng.choice(targets)
        if op.side is Side.CRM:
            item_id = op.key
            store = self.fake.dataverse[_DATAVERSE[op.domain]]
        else:
            item_id = outlook.ids.get((op.domain, op.key), op.key)
            store = self.fake.graph[_GRAPH[op.domain]]
        if item_id not in store:
            return
        marker = _raw_marker(op.domain, op.side, store[item_id])
        if not marker:
            return
        if self.rng.random() < 0.25:
            service = "dataverse" if op.side is Side.CRM else "graph"
            collection = (_DATAVERSE if op.side is Side.CRM else _GRAPH)[op.domain]
            self.fake.remove(service, collection, item_id)
            self.deletes.append((self._next(), op.domain, marker, op.side))
            self.report.faults["delete_between_read_and_write"] += 1
        else:
            self._edit_item(op.domain, op.side, item_id, marker)
            self.report.faults["edit_between_read_and_write"] += 1

    # -- the service ------------------------------------------------------------

    def _read(self) -> tuple[DataverseRead, GraphRead]:
        crm = self.connection.read_dataverse()
        return crm, self.connection.read_outlook(self.baseline, crm=crm.snapshot)

    def _plan(self, crm: DataverseRead, outlook: GraphRead) -> Plan:
        plan = crmsync.plan(
            crm.snapshot, outlook.snapshot, self.settings, self.baseline, user=USER, now=NOW
        )
        self._remember_notices(plan, crm, outlook)
        if plan.has_data_loss:  # the documented service loop: hold the records, not the mailbox
            self.report.held += len(plan.data_loss_records)
            plan = crmsync.hold(plan, crm.snapshot, outlook.snapshot, self.baseline)
        return plan

    def _remember_notices(self, plan: Plan, crm: DataverseRead, outlook: GraphRead) -> None:
        by_key = self._markers(crm, outlook)
        for notice in plan.notices:
            self.report.notices[notice.code] += 1
            # A MANUAL `conflict` leaves the edit pending, a `conflict_resolved` records
            # the value that lost: either way a person can see it.
            if notice.code in _NAMING or notice.severity is Severity.DATA_LOSS:
                domain = Domain.APPOINTMENT if notice.domain is Domain.ATTACHMENT else notice.domain
                marker = by_key.get((domain, notice.key))
                if marker:
                    self.noticed[(domain, marker)] = self.seq
                elif not notice.key:  # a whole domain: every record of it was named
                    self.noticed.update(
                        {(d, m): self.seq for (d, _), m in by_key.items() if d is domain}
                    )

    def _markers(self, crm: DataverseRead, outlook: GraphRead) -> dict[tuple[Domain, str], str]:
        found: dict[tuple[Domain, str], str] = {}
        snapshots: list[Any] = [crm.snapshot, outlook.snapshot]
        if self.baseline is not None:
            snapshots += [self.baseline.crm, self.baseline.outlook]
        for snapshot in snapshots:
            for domain, records in _records(snapshot):
                for record in records:
                    found.setdefault((domain, record.key), _marker(domain, record))
        return found

    def _execute(self, plan: Plan, crm: DataverseRead, outlook: GraphRead) -> Executed | None:
        try:
            executed = self.connection.execute(
                plan,
                crm.snapshot,
                outlook.snapshot,
                graph_ids=outlook.ids,
                graph_etags=outlook.etags,
                dataverse_etags=crm.etags,
            )
        except Exception as error:
            self._violation(f"execute raised {type(error).__name__}: {error}")
            return None
        for op in executed.done:
            self.report.ops[op.action.value] += 1
        self.report.ops["not done"] += len(executed.not_done)
        try:
            self.baseline = executed.baseline(self.baseline)
        except Exception as error:
            self._violation(f"Executed.baseline raised {type(error).__name__}: {error}")
        return executed

    def _violation(self, text: str) -> None:
        self.report.violations.append(f"round {self.report.rounds}: {text}")

    def round(self) -> None:
        """One round with user actions and faults."""
        self.report.rounds += 1
        self.fake.representation = True  # the user's creates (`add`) want the row back
        for _ in range(self.rng.randint(0, 3)):
            self.act()
        # Dataverse answers a create with the row or with 204 alone (then crmsync reads it back).
        self.fake.representation = self.rng.random() < 0.7
        self.fake.chaos, self.fake.chaos_rate, self.fake.chaos_lose = (
            self.chaos,
            self.fault_rate,
            True,
        )
        try:
            try:
                crm, outlook = self._read()
            except ServiceError:
                self.report.failed_reads += 1
                return
            except Exception as error:
                self._violation(f"a read raised {type(error).__name__}: {error}")
                return
            plan = self._plan(crm, outlook)
            if self.rng.random() < self.edit_between_rate:
                self._edit_between(plan, crm, outlook)
            self._execute(plan, crm, outlook)
        finally:
            self.fake.chaos = None
            for kind, count in self.fake.faults.items():
                self.report.faults[kind] += count
            self.fake.faults.clear()

    def quiet_point(self) -> None:
        """Fault-free rounds until the plan is empty, then every invariant."""
        self.report.quiet_points += 1
        self.fake.representation = True
        for _ in range(QUIET_ROUNDS):
            try:
                crm, outlook = self._read()
            except Exception as error:
                self._violation(f"a quiet read raised {type(error).__name__}: {error}")
                return
            plan = self._plan(crm, outlook)
            # An empty plan is executed too: its baseline updates settle pairs that agree.
            executed = self._execute(plan, crm, outlook)
            if plan.is_empty:
                break
            self.report.quiet_rounds += 1
            if executed is not None and not executed.complete:
                for outcome in executed.not_done:
                    self._violation(
                        f"quiet round: {outcome.op.target[:3]} not done: {outcome.error}"
                    )
        else:
            self._violation(f"no empty plan after {QUIET_ROUNDS} quiet rounds:\n{plan.render()}")
            return
        self._check_duplicates()
        self._check_edits(crm, outlook)
        self._check_attachments(crm, outlook)
        self._check_baseline(crm, outlook, plan.reread | plan.data_loss_records)

    # -- invariants ---------------------------------------------------------------

    def _check_duplicates(self) -> None:
        for side, stores, tables in (
            (Side.CRM, self.fake.dataverse, _DATAVERSE),
            (Side.OUTLOOK, self.fake.graph, _GRAPH),
        ):
            for domain in DOMAINS:
                items = list(stores[tables[domain]].values())
                markers = Counter(_raw_marker(domain, side, i) for i in items)
                keys: Counter[str] = Counter()
                if domain is Domain.CONTACT:
                    keys = Counter(_email(side, i) for i in items)
                elif domain is Domain.APPOINTMENT:
                    keys = Counter(
                        i.get("globalobjectid" if side is Side.CRM else "iCalUId") for i in items
                    )
                twice = [m for m, c in markers.items() if c > 1 and m] + [
                    k for k, c in keys.items() if c > 1 and k
                ]
                if twice:
                    self._violation(f"duplicate {domain.value}s in {side.value}: {sorted(twice)}")
        files = Counter(
            (a.get("_objectid_value"), a.get("filename"))
            for a in self.fake.dataverse["activitymimeattachments"].values()
        ) + Counter(
            (event, a.get("name"))
            for event, held in self.fake.attachments.items()
            for a in held.values()
        )
        twice = sorted(str(k) for k, c in files.items() if c > 1)
        if twice:
            self._violation(f"duplicate attachments: {twice}")

    def _check_edits(self, crm: DataverseRead, outlook: GraphRead) -> None:
        values: dict[Side, dict[tuple[Domain, str], Any]] = {}
        for side, snapshot in ((Side.CRM, crm.snapshot), (Side.OUTLOOK, outlook.snapshot)):
            values[side] = {
                (domain, _marker(domain, r)): getattr(r, _FIELD[domain])
                for domain, records in _records(snapshot)
                for r in records
                if getattr(r, "tracked", True)
            }
        deleted = {(d, m) for _, d, m, _ in self.deletes}
        for edit in self.edits:
            target = (edit.domain, edit.marker)
            later = any(
                e.seq > edit.seq and (e.domain, e.marker) == target for e in self.edits
            ) or any(seq > edit.seq and (d, m) == target for seq, d, m, _ in self.deletes)
            if later or self.noticed.get(target, -1) >= edit.seq:
                continue
            held = [values[side].get(target) for side in Side if target in values[side]]
            # One side only: a user's delete there unlinked the pair (an Outlook contact delete).
            if (
                held
                and all(v == edit.value for v in held)
                and (len(held) == 2 or target in deleted)
            ):
                continue
            self._violation(
                f"edit lost without a notice: {edit.domain.value} {edit.marker} "
                f"{_FIELD[edit.domain]} = {edit.value!r} (made in {edit.side.value}); "
                f"CRM has {values[Side.CRM].get(target)!r}, "
                f"Outlook {values[Side.OUTLOOK].get(target)!r}"
            )
        # Each edit is settled or reported once; a later edit or delete is judged on its own.
        self.edits = []

    def _check_attachments(self, crm: DataverseRead, outlook: GraphRead) -> None:
        """Every file attached is on both sides' appointment, unless a later delete took it."""
        names = {
            side: {
                _marker(Domain.APPOINTMENT, a): {f.name for f in a.attachments}
                for a in snapshot.appointments
            }
            for side, snapshot in ((Side.CRM, crm.snapshot), (Side.OUTLOOK, outlook.snapshot))
        }
        for seq, marker, name in self.attached:
            target = (Domain.APPOINTMENT, marker)
            if any(later > seq and (d, m) == target for later, d, m, _ in self.deletes):
                continue
            if self.noticed.get(target, -1) >= seq:
                continue
            if not all(marker in names[side] for side in Side):
                # The appointment itself is on one side only (unlinked after a delete the
                # domain rules kept from the other side): its files have no pair to go to.
                continue
            where = [side for side in Side if name in names[side].get(marker, set())]
            if len(where) != 2:
                self._violation(
                    f"file {name} attached to {marker} is only in {[s.value for s in where]}"
                )
        self.attached = []

    def _check_baseline(
        self, crm: DataverseRead, outlook: GraphRead, pending: frozenset[tuple[Domain, str]]
    ) -> None:
        """Every record read is in the baseline as read, but for those the last plan left pending.

        A pending record (a MANUAL `conflict`, a held data loss) keeps its previous
        baseline values on purpose, so the next plan proposes the same work again.
        """
        baseline = self.baseline
        if baseline is None:
            return
        for side, fresh, kept in (
            (Side.CRM, crm.snapshot, baseline.crm),
            (Side.OUTLOOK, outlook.snapshot, baseline.outlook),
        ):
            other = baseline.outlook if side is Side.CRM else baseline.crm
            for domain, records in _records(fresh):
                name = crmsync.records.SNAPSHOT_FIELD[domain]
                known = kept.by_key[name]
                linked = other.by_key[name]
                for record in records:
                    if not getattr(record, "tracked", True):
                        continue
                    if (domain, record.key) in baseline.unlinked | pending:
                        continue
                    held = known.get(record.key)
                    if held is None or record.key not in linked:
                        self._violation(
                            f"{side.value} {domain.value} {record.key} ({_marker(domain, record)}) "
                            "is read but is no linked pair in the baseline"
                        )
                    elif _plain(held) != _plain(record):
                        self._violation(
                            f"the baseline's {side.value} {domain.value} {record.key} is "
                            f"{_plain(held)!r}, a fresh read gives {_plain(record)!r}"
                        )


def _records(snapshot: Any) -> Iterator[tuple[Domain, tuple[Any, ...]]]:
    yield Domain.CONTACT, snapshot.contacts
    yield Domain.APPOINTMENT, snapshot.appointments
    yield Domain.TASK, snapshot.tasks


def _plain(record: Any) -> Any:
    """A record without `modified`, which is metadata and never a change."""
    return attrs.evolve(record, modified=None)


def _email(side: Side, item: dict[str, Any]) -> str:
    if side is Side.CRM:
        return str(item.get("emailaddress1") or "").casefold()
    addresses = item.get("emailAddresses") or [{}]
    return str(addresses[0].get("address") or "").casefold()


def run(
    *,
    rounds: int,
    seed: int,
    fault_rate: float = 0.08,
    quiet_every: int = 10,
    page_size: int = 7,
    settings: Settings | None = None,
) -> Report:
    """Runs a soak of `rounds` rounds with edits and faults and returns its report.

    Args:
        rounds: rounds with user actions and faults (quiet rounds come on top).
        seed: the seed of every random choice (actions and faults).
        fault_rate: the share of requests the fake answers with a fault.
        quiet_every: rounds between quiet points (and one at the end).
        page_size: the fake's page size (small, so reads page).
        settings: the sync settings (Dynamics' defaults: the CRM wins a conflict).
    """
    with FakeMicrosoft(page_size=page_size) as fake:
        soak = Soak(fake, seed=seed, fault_rate=fault_rate, settings=settings)
        try:
            for number in range(1, rounds + 1):
                soak.round()
                if number % quiet_every == 0 or number == rounds:
                    soak.quiet_point()
        finally:
            soak.close()
        return soak.report
