"""Tests for crmsync.cli: service pages, delta rounds (`--partial`) and `crmsync convert`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import crmsync
from crmsync import Baseline, CrmSnapshot, OutlookSnapshot
from crmsync.cli import main
from samples import delta_sample

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
WHEN = ["--user", "ann@contoso.com", "--now", "2026-11-24T09:00:00Z"]


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def dump(folder: Path, name: str, value: object) -> str:
    path = folder / name
    path.write_text(json.dumps(value), encoding="utf-8")
    return str(path)


def test_plan_reads_several_graph_pages_in_order(tmp_path: Path) -> None:
    first = delta_sample("graph_calendarview_delta_final.json")
    first["@odata.nextLink"] = "https://graph.microsoft.com/page2"
    del first["@odata.deltaLink"]
    second = delta_sample("graph_calendarview_delta_next_round.json")
    second["value"] = second["value"][1:]  # the whole calendar, no removed entry
    pages = [
        dump(tmp_path, "p1.json", {"events": first}),
        dump(tmp_path, "p2.json", {"events": second}),
    ]

    code, text = run(
        "plan", "--crm", str(EXAMPLES / "dataverse.json"), "--crm-format", "dataverse",
        "--outlook", *pages, "--outlook-format", "graph", *WHEN, "--format", "json",
    )  # fmt: skip

    assert code == 0
    planned = crmsync.loads(text, crmsync.Plan)
    assert {n.key for n in planned.notices if n.code == "not_tracked"} == {
        "AAMkADj1HuAAA=",
        "AAMkADj1HvAAA=",
    }


def test_a_page_with_a_next_link_alone_is_refused_naming_it(tmp_path: Path, capsys: object) -> None:
    page = delta_sample("dataverse_contacts_page1.json")
    crm = dump(tmp_path, "p1.json", {"contacts": page})

    code, _ = run(
        "plan", "--crm", crm, "--crm-format", "dataverse",
        "--outlook", str(EXAMPLES / "graph.json"), "--outlook-format", "graph", *WHEN,
    )  # fmt: skip

    assert code == 1
    assert "$.contacts.@odata.nextLink: more pages follow" in capsys.readouterr().err  # type: ignore[attr-defined]


def test_several_crmsync_files_are_a_usage_error(tmp_path: Path) -> None:
    crm = str(tmp_path / "crm.json")
    Path(crm).write_text(crmsync.dumps(CrmSnapshot()), encoding="utf-8")
    outlook = str(tmp_path / "outlook.json")
    Path(outlook).write_text(crmsync.dumps(OutlookSnapshot()), encoding="utf-8")

    code, _ = run("plan", "--crm", crm, crm, "--outlook", outlook, *WHEN)

    assert code == 2


def test_convert_writes_a_partial_snapshot_and_the_delta_links(tmp_path: Path) -> None:
    out, links = tmp_path / "outlook.json", tmp_path / "links.json"

    code, _ = run(
        "convert", "--from", "graph", str(EXAMPLES / "graph-delta.json"), "--partial",
        "--out", str(out), "--links", str(links),
    )  # fmt: skip

    assert code == 0
    snapshot = crmsync.loads(out.read_text(encoding="utf-8"), OutlookSnapshot)
    assert (snapshot.complete, snapshot.removed) == (False, {"AAMkAGIAAAoZDOFAAA="})
    assert json.loads(links.read_text(encoding="utf-8"))["delta_links"] == {
        "events": "https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=R0usmcFuQtZdtpk4"
    }


def test_apply_works_on_converted_service_data(tmp_path: Path) -> None:
    crm, outlook = tmp_path / "crm.json", tmp_path / "outlook.json"
    assert (
        run("convert", "--from", "dataverse", str(EXAMPLES / "dataverse.json"), "--out", str(crm))[
            0
        ]
        == 0
    )
    assert (
        run("convert", "--from", "graph", str(EXAMPLES / "graph.json"), "--out", str(outlook))[0]
        == 0
    )
    code, text = run(
        "plan", "--crm", str(crm), "--outlook", str(outlook), *WHEN, "--format", "json"
    )
    assert code == 0
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(text, encoding="utf-8")

    code, _ = run(
        "apply", str(plan_file), "--crm", str(crm), "--outlook", str(outlook),
        "--out", str(tmp_path / "synced"),
    )  # fmt: skip

    assert code == 0
    baseline = crmsync.loads((tmp_path / "synced" / "baseline.json").read_text("utf-8"), Baseline)
    assert [t.subject for t in baseline.outlook.tasks] == ["Send the proposal"]


def test_a_removed_entry_names_the_key_of_a_linked_item_with_known_ids(tmp_path: Path) -> None:
    crmid = "String {00020329-0000-0000-C000-000000000046} Name crmid"
    event = delta_sample("graph_calendarview_delta_final.json")["value"][0]
    linked = event | {"singleValueExtendedProperties": [{"id": crmid, "value": "crm-7"}]}
    links = tmp_path / "links.json"
    first = dump(tmp_path, "first.json", {"events": [linked]})
    assert run("convert", "--from", "graph", first, "--links", str(links))[0] == 0
    gone = dump(tmp_path, "round.json", {"events": [{"id": event["id"], "@removed": {}}]})

    code, text = run("convert", "--from", "graph", gone, "--partial", "--known-ids", str(links))

    assert code == 0
    assert crmsync.loads(text, OutlookSnapshot).removed == {"crm-7"}


def test_convert_and_plan_read_a_to_do_task_s_percent_from_the_baseline(tmp_path: Path) -> None:
    task = crmsync.Task(key="g1", subject="Call back", percent_complete=50)
    baseline = Baseline(crm=CrmSnapshot(tasks=[task]), outlook=OutlookSnapshot(tasks=[task]))
    todo = dump(tmp_path, "graph.json", {"tasks": [{"id": "g1", "title": "Call back"}]})
    base, crm = tmp_path / "baseline.json", tmp_path / "crm.json"
    base.write_text(crmsync.dumps(baseline), encoding="utf-8")
    crm.write_text(crmsync.dumps(baseline.crm), encoding="utf-8")

    code, text = run("convert", "--from", "graph", todo, "--baseline", str(base))
    [read] = crmsync.loads(text, OutlookSnapshot).tasks
    sides = ("--crm", str(crm), "--outlook", todo, "--outlook-format", "graph")
    planned = run("plan", *sides, "--baseline", str(base), "--format", "json")

    assert code == planned[0] == 0
    assert read.percent_complete == 50
    assert json.loads(planned[1])["ops"] == []


def test_convert_writes_the_snapshot_before_its_delta_links(tmp_path: Path) -> None:
    """A snapshot that could not be written leaves the old links: its changes are read again."""
    links = tmp_path / "links.json"
    links.write_text('{"delta_links": {"events": "old"}}\n', encoding="utf-8")
    out = tmp_path / "no such folder" / "outlook.json"

    code, _ = run(
        "convert", "--from", "graph", str(EXAMPLES / "graph-delta.json"), "--partial",
        "--out", str(out), "--links", str(links),
    )  # fmt: skip

    assert code == 1
    assert links.read_text(encoding="utf-8") == '{"delta_links": {"events": "old"}}\n'


def test_convert_replaces_its_output_files_whole(tmp_path: Path) -> None:
    out, links = tmp_path / "outlook.json", tmp_path / "links.json"
    out.write_text("old snapshot", encoding="utf-8")
    links.write_text("old links", encoding="utf-8")

    with out.open(encoding="utf-8") as snapshot, links.open(encoding="utf-8") as old_links:
        code, _ = run(
            "convert", "--from", "graph", str(EXAMPLES / "graph-delta.json"), "--partial",
            "--out", str(out), "--links", str(links),
        )  # fmt: skip
        # Renamed over, never rewritten in place: a reader still has the old files whole.
        assert (snapshot.read(), old_links.read()) == ("old snapshot", "old links")

    assert code == 0
    assert crmsync.loads(out.read_text(encoding="utf-8"), OutlookSnapshot).complete is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["links.json", "outlook.json"]
