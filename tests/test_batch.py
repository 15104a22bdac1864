"""Tests for crmsync.batch: planning many mailboxes, in one process and on Dask."""

from __future__ import annotations

import datetime as dt
import os
import pickle
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given

import crmsync
from crmsync import (
    CrmContact,
    CrmSnapshot,
    InvalidInput,
    OutlookContact,
    OutlookSnapshot,
    Plan,
    Settings,
    SyncInput,
    Task,
)
from crmsync.batch import plan_bag, plan_many, read_mailbox, write_mailbox
from crmsync.strategies import World, worlds

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
USER = "ann@contoso.com"
NAMES = ["Ann", "Lee", "Kim", "Sam", "Jo", ""]


def _contact(rnd: random.Random, key: str, cls: type) -> CrmContact | OutlookContact:
    name = rnd.choice(NAMES)
    with_email = name and rnd.random() < 0.7
    emails = [f"{name.lower()}{rnd.randint(0, 3)}@contoso.com"] if with_email else []
    return cls(key=key, first_name=name, job_title=rnd.choice(["", "CEO", "CTO"]), emails=emails)


def _task(rnd: random.Random, key: str) -> Task:
    return Task(
        key=key,
        subject=rnd.choice(["Call", "Mail", "Visit"]),
        due=NOW + dt.timedelta(days=rnd.randint(-3, 9)),
        percent_complete=rnd.choice([0, 50, 100]),
    )


def mailbox(seed: int) -> SyncInput:
    """A mailbox as a second sync sees it: a first sync applied, then edits on both sides."""
    rnd = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    crm = CrmSnapshot(
        contacts=[_contact(rnd, f"c{i}", CrmContact) for i in range(rnd.randint(0, 6))],
        tasks=[_task(rnd, f"t{i}") for i in range(rnd.randint(0, 4))],
    )
    outlook = OutlookSnapshot(
        contacts=[_contact(rnd, f"o{i}", OutlookContact) for i in range(rnd.randint(0, 6))],
    )
    settings = Settings(conflict=rnd.choice(["crm_wins", "outlook_wins", "manual"]))
    first = crmsync.plan(crm, outlook, settings, None, user=USER, now=NOW)
    synced = crmsync.apply(first, crm, outlook)
    crm_contacts = [
        c if rnd.random() < 0.6 else _contact(rnd, c.key, CrmContact)
        for c in synced.crm.contacts
        if rnd.random() < 0.9
    ]
    outlook_contacts = [
        c if rnd.random() < 0.6 else _contact(rnd, c.key, OutlookContact)
        for c in synced.outlook.contacts
        if rnd.random() < 0.9
    ]
    return SyncInput(
        crm=CrmSnapshot(contacts=crm_contacts, tasks=synced.crm.tasks),
        outlook=OutlookSnapshot(contacts=outlook_contacts, tasks=synced.outlook.tasks),
        baseline=synced.baseline,
        settings=settings,
        user=USER,
        now=NOW,
    )


MAILBOXES = [mailbox(seed) for seed in range(50)]


def one_process(inp: SyncInput) -> str:
    planned = crmsync.plan(
        inp.crm, inp.outlook, inp.settings, inp.baseline, user=inp.user, now=inp.now
    )
    return crmsync.dumps(planned)


EXPECTED = [one_process(inp) for inp in MAILBOXES]


def test_the_generated_mailboxes_have_work_to_plan() -> None:
    assert sum(not crmsync.loads(text, Plan).is_empty for text in EXPECTED) >= 25


# --- plan_many ---------------------------------------------------------------------


def test_plan_many_gives_the_plans_crmsync_plan_gives() -> None:
    assert [crmsync.dumps(p) for p in plan_many(MAILBOXES)] == EXPECTED


def test_plan_many_streams_one_mailbox_at_a_time() -> None:
    taken: list[int] = []

    def lazily() -> Iterator[SyncInput]:
        for i, inp in enumerate(MAILBOXES):
            taken.append(i)
            yield inp

    plans = plan_many(lazily())
    assert taken == []
    next(plans)
    assert taken == [0]
    next(plans)
    assert taken == [0, 1]


def test_plan_many_reads_mailbox_files(tmp_path: Path) -> None:
    paths = []
    for i, inp in enumerate(MAILBOXES[:5]):
        path = tmp_path / f"mailbox-{i}.json"
        path.write_text(crmsync.dumps(inp), encoding="utf-8")
        paths.append(path)
    assert read_mailbox(paths[0]) == MAILBOXES[0]
    assert [crmsync.dumps(p) for p in plan_many([str(p) for p in paths])] == EXPECTED[:5]


def test_a_bad_mailbox_is_invalid_input_naming_its_position_after_the_good_ones(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"crm": 3}', encoding="utf-8")
    plans = plan_many([MAILBOXES[0], bad, MAILBOXES[1]])
    assert crmsync.dumps(next(plans)) == EXPECTED[0]
    with pytest.raises(InvalidInput) as caught:
        next(plans)
    text = str(caught.value)
    assert "$[1]" in text
    assert "bad.json" in text
    with pytest.raises(InvalidInput, match=r"\$\[0\].*cannot read"):
        next(plan_many([tmp_path / "missing.json"]))
    with pytest.raises(InvalidInput, match="expected a SyncInput"):
        next(plan_many([42]))  # type: ignore[list-item]


@given(worlds())
def test_every_record_input_and_plan_pickles_to_an_equal_value(world: World) -> None:
    inp = SyncInput(
        crm=world.crm,
        outlook=world.outlook,
        baseline=world.baseline,
        settings=world.settings,
        user=world.user,
        now=world.now,
    )
    assert pickle.loads(pickle.dumps(inp)) == inp  # noqa: S301 - our own bytes
    planned = crmsync.plan(
        world.crm, world.outlook, world.settings, world.baseline, user=world.user, now=world.now
    )
    assert pickle.loads(pickle.dumps(planned)) == planned  # noqa: S301 - our own bytes


def test_plan_bag_refuses_an_unknown_output() -> None:
    db = pytest.importorskip("dask.bag")
    with pytest.raises(ValueError, match="output"):
        plan_bag(db.from_sequence([]), output="xml")  # type: ignore[arg-type]


# --- Dask: a LocalCluster of two worker processes -----------------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster) as connected,
    ):
        yield connected


def test_on_a_local_cluster_50_mailboxes_give_the_plans_of_one_process(client: object) -> None:
    import dask.bag as db

    bag = db.from_sequence(MAILBOXES, npartitions=10)
    assert plan_bag(bag, output="json").compute() == EXPECTED
    plans = plan_bag(db.from_sequence(MAILBOXES[:5], npartitions=2)).compute()
    assert [crmsync.dumps(p) for p in plans] == EXPECTED[:5]


def test_on_a_local_cluster_mailbox_files_travel_as_paths(client: object, tmp_path: Path) -> None:
    import dask.bag as db

    paths = []
    for i, inp in enumerate(MAILBOXES):
        path = tmp_path / f"mailbox-{i}.json"
        path.write_text(crmsync.dumps(inp), encoding="utf-8")
        paths.append(str(path))
    assert plan_bag(db.from_sequence(paths, npartitions=10), output="json").compute() == EXPECTED


class DiesOnce:
    """A policy that kills its worker process the first time any worker runs it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __call__(self, inp: SyncInput) -> Plan:
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return crmsync.compose(*crmsync.default_policies())(inp)
        os.close(fd)
        os._exit(1)  # the worker dies mid-task, as a killed machine would


def test_a_worker_killed_mid_run_loses_no_plan(client: object, tmp_path: Path) -> None:
    import dask.bag as db

    marker = tmp_path / "died"
    bag = db.from_sequence(MAILBOXES, npartitions=10)
    assert plan_bag(bag, policy=DiesOnce(str(marker)), output="json").compute() == EXPECTED
    assert marker.exists()  # a worker did die


def test_write_mailbox_replaces_the_file_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ann.json"
    write_mailbox(path, MAILBOXES[0])
    assert read_mailbox(path) == MAILBOXES[0]

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_mailbox(path, MAILBOXES[1])
    assert read_mailbox(path) == MAILBOXES[0]  # the previous file, intact
    assert [p.name for p in tmp_path.iterdir()] == ["ann.json"]  # no temporary left
