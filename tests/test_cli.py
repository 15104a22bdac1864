"""Tests for crmsync.cli: the `crmsync` command."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import crmsync
from crmsync import (
    Address,
    Baseline,
    CrmContact,
    CrmSnapshot,
    OutlookContact,
    OutlookSnapshot,
    Plan,
    Settings,
)
from crmsync.cli import main
from support import NOW


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def write(folder: Path, name: str, value: object) -> str:
    path = folder / name
    path.write_text(value if isinstance(value, str) else crmsync.dumps(value), encoding="utf-8")
    return str(path)


def test_plan_example_shows_every_kind_of_outcome() -> None:
    code, text = run("plan", "--example")
    assert code == 0
    for expected in (
        "create  c-nora",
        "conflict_resolved c-chloe",
        "not_tracked o-dad",
        "(address_remap)",
        "address_remap_conflict c-eli",
        "agenda.pdf",
        "recurring_appointment_attachment_unsupported",
        "attachment_too_large",
        "create  t-proposal",
        "assigned_task_sync_disabled t-slides",
    ):
        assert expected in text


def test_plan_prints_json_that_loads_as_a_plan(tmp_path: Path) -> None:
    crm = write(tmp_path, "crm.json", CrmSnapshot(contacts=[CrmContact(key="a")]))
    outlook = write(tmp_path, "outlook.json", OutlookSnapshot())
    code, text = run(
        "plan", "--crm", crm, "--outlook", outlook, "--now", NOW.isoformat(), "--format", "json"
    )
    assert code == 0
    planned = crmsync.loads(text, Plan)
    assert [op.key for op in planned.ops] == ["a"]
    assert planned.now == NOW


def test_bad_input_prints_every_problem_with_its_path_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crm = write(tmp_path, "crm.json", '{"contacts": [{"key": "a", "emails": 5}, {"key": 3}]}')
    outlook = write(tmp_path, "outlook.json", "{}")
    code, _ = run("plan", "--crm", crm, "--outlook", outlook)
    err = capsys.readouterr().err
    assert code == 1
    assert "$.contacts[0].emails" in err
    assert "$.contacts[1].key" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--crm", "/nonexistent/crm.json"], "cannot read /nonexistent/crm.json"),
        (["--now", "2026-01-01T10:00:00"], "has no UTC offset"),
    ],
)
def test_unusable_arguments_exit_1_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    files = {"--crm": write(tmp_path, "c.json", "{}"), "--outlook": write(tmp_path, "o.json", "{}")}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        files[flag] = value
    code, _ = run("plan", *[x for kv in files.items() for x in kv])
    assert code == 1
    assert message in capsys.readouterr().err


def test_fail_on_data_loss_exits_3(tmp_path: Path) -> None:
    x, y = Address(city="Paris"), Address(city="Lyon")
    crm = CrmSnapshot(contacts=[CrmContact(key="k", address1=x)])
    outlook = OutlookSnapshot(
        contacts=[OutlookContact(key="k", business_address=x, home_address=y)]
    )
    baseline = Baseline(crm=crm, outlook=outlook)
    settings = Settings(address_sync="all_three", address_remap="crm_wins")
    args = [
        "plan",
        "--crm",
        write(tmp_path, "c.json", crm),
        "--outlook",
        write(tmp_path, "o.json", outlook),
        "--baseline",
        write(tmp_path, "b.json", baseline),
        "--settings",
        write(tmp_path, "s.json", settings),
        "--now",
        NOW.isoformat(),
    ]
    assert run(*args)[0] == 0
    code, text = run(*args, "--fail-on-data-loss")
    assert code == 3
    assert "address_remap_data_loss" in text


def test_apply_writes_new_snapshots_and_baseline_and_the_next_plan_is_empty(tmp_path: Path) -> None:
    crm = write(tmp_path, "crm.json", CrmSnapshot(contacts=[CrmContact(key="a", first_name="A")]))
    outlook = write(tmp_path, "outlook.json", OutlookSnapshot())
    _, plan_json = run(
        "plan", "--crm", crm, "--outlook", outlook, "--format", "json", "--now", NOW.isoformat()
    )
    plan_file = write(tmp_path, "plan.json", plan_json)
    code, _ = run(
        "apply", plan_file, "--crm", crm, "--outlook", outlook, "--out", str(tmp_path / "out")
    )
    assert code == 0
    out = tmp_path / "out"
    code, again = run(
        "plan",
        "--crm",
        str(out / "crm.json"),
        "--outlook",
        str(out / "outlook.json"),
        "--baseline",
        str(out / "baseline.json"),
        "--now",
        NOW.isoformat(),
    )
    assert code == 0
    assert "Nothing to write" in again


def test_apply_refuses_a_stale_plan_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crm = write(tmp_path, "crm.json", CrmSnapshot(contacts=[CrmContact(key="a")]))
    outlook = write(tmp_path, "outlook.json", OutlookSnapshot())
    _, plan_json = run("plan", "--crm", crm, "--outlook", outlook, "--format", "json")
    plan_file = write(tmp_path, "plan.json", plan_json)
    taken = write(tmp_path, "taken.json", OutlookSnapshot(contacts=[OutlookContact(key="a")]))
    code, _ = run("apply", plan_file, "--crm", crm, "--outlook", taken, "--out", str(tmp_path))
    assert code == 1
    assert "plan again" in capsys.readouterr().err


def test_the_installed_command_runs_the_example() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crmsync.cli", "plan", "--example", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["format_version"] == "1.0"


GRAPH_FILE = {
    "contacts": {
        "value": [
            {
                "id": "g-1",
                "givenName": "Ann",
                "jobTitle": "Buyer",
                "emailAddresses": [{"address": "ann@contoso.com"}],
                "categories": ["Tracked to Dynamics 365"],
            }
        ]
    }
}
DATAVERSE_FILE = {
    "contacts": {
        "value": [
            {
                "@odata.etag": 'W/"1"',
                "contactid": "d-1",
                "firstname": "Ann",
                "jobtitle": "Head of Purchasing",
                "emailaddress1": "ann@contoso.com",
            }
        ]
    }
}


def _foreign(folder: Path, graph: object, dataverse: object) -> list[str]:
    crm = write(folder, "dataverse.json", json.dumps(dataverse))
    outlook = write(folder, "graph.json", json.dumps(graph))
    return ["plan", "--crm", crm, "--crm-format", "dataverse", "--outlook", outlook]


def test_plan_reads_dataverse_and_graph_files(tmp_path: Path) -> None:
    code, text = run(*_foreign(tmp_path, GRAPH_FILE, DATAVERSE_FILE), "--outlook-format", "graph")

    assert code == 0
    assert (
        "link    g-1  (same_natural_key)" in text
    )  # the same first e-mail: linked, not created twice


def test_emit_prints_each_request_with_method_url_and_body(tmp_path: Path) -> None:
    args = _foreign(tmp_path, {"contacts": []}, DATAVERSE_FILE)
    code, text = run(*args, "--outlook-format", "graph", "--emit", "graph,dataverse")

    assert code == 0
    assert text.startswith("POST /me/contacts\n# id: outlook:contact:create:")
    assert '"jobTitle": "Head of Purchasing"' in text


def test_emit_as_json_is_a_list_of_requests(tmp_path: Path) -> None:
    args = _foreign(tmp_path, {"contacts": []}, DATAVERSE_FILE)
    code, text = run(*args, "--outlook-format", "graph", "--emit", "graph", "--format", "json")

    assert code == 0
    [request] = json.loads(text)
    assert (request["service"], request["method"], request["url"]) == (
        "graph",
        "POST",
        "/me/contacts",
    )
    assert request["op"]["action"] == "create"
    assert request["id"].startswith("outlook:contact:create:")
    assert (request["depends_on"], request["fills"]) == ([], [])


def test_a_bad_graph_file_prints_every_path_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {"contacts": [{"id": "g", "emailAddresses": "ann"}], "events": [{"id": "e"}]}
    code, _ = run(*_foreign(tmp_path, bad, DATAVERSE_FILE), "--outlook-format", "graph")

    err = capsys.readouterr().err
    assert code == 1
    assert "$.contacts[0].emailAddresses: expected a list, got a string" in err
    assert "$.events[0].start: is required" in err
    assert "Traceback" not in err


def test_emit_with_an_unknown_service_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(*_foreign(tmp_path, GRAPH_FILE, DATAVERSE_FILE), "--emit", "ews")

    assert code == 2
    assert "--emit takes graph, dataverse or both" in capsys.readouterr().err


def test_plan_format_html_writes_one_self_contained_page_to_the_output_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "plan.html"
    code, text = run("plan", "--example", "--format", "html", "-o", str(target))
    assert code == 0
    assert text == ""
    page = target.read_text("utf-8")
    assert page.startswith("<!doctype html>")
    assert 'id="total-ops">7<' in page


def test_plan_output_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "plan.txt"
    target.write_text("the previous plan", encoding="utf-8")

    with target.open(encoding="utf-8") as reader:
        code, _ = run("plan", "--example", "-o", str(target))
        # Renamed over, never rewritten in place: a reader still has the old file whole.
        assert reader.read() == "the previous plan"

    assert code == 0
    assert "c-nora" in target.read_text("utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["plan.txt"]


def test_plan_summary_prints_the_counts_and_no_ops() -> None:
    code, text = run("plan", "--example", "--summary")
    assert code == 0
    assert "contact.outlook.update 3" in text
    assert "create  c-nora" not in text
    code, text = run("plan", "--example", "--summary", "--format", "json")
    assert json.loads(text)["ops"]["contact.outlook.update"] == 3


def test_plan_summary_is_text_or_json_only(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("plan", "--example", "--summary", "--format", "html")
    assert code == 2
    assert "--summary" in capsys.readouterr().err


def _no_baseline_world(tmp_path: Path) -> list[str]:
    # The same key on both sides without a baseline, and a record to create: data loss.
    crm = write(
        tmp_path, "crm.json", CrmSnapshot(contacts=[CrmContact(key="a"), CrmContact(key="b")])
    )
    outlook = write(tmp_path, "outlook.json", OutlookSnapshot(contacts=[OutlookContact(key="a")]))
    return ["plan", "--crm", crm, "--outlook", outlook, "--now", NOW.isoformat()]


def test_quiet_prints_nothing_and_the_exit_code_speaks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _no_baseline_world(tmp_path)
    code, text = run(*args, "--quiet", "--fail-on-data-loss")
    assert (code, text, capsys.readouterr().err) == (3, "", "")
    target = tmp_path / "plan.json"
    code, text = run(*args, "--quiet", "--format", "json", "-o", str(target))
    assert (code, text) == (0, "")
    assert crmsync.loads(target.read_text("utf-8"), Plan).has_data_loss


def test_no_progress_is_drawn_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(*_no_baseline_world(tmp_path))
    assert code == 0
    assert capsys.readouterr().err == ""


def test_progress_is_drawn_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    code, _ = run(*_no_baseline_world(tmp_path))
    assert code == 0
    drawn = err.getvalue()
    assert "reading " in drawn
    assert "planning" in drawn
    assert "3/4 writing" in drawn  # three steps done, the last one running
    assert drawn.endswith("\r")  # the bar's line is cleared at the end


def test_every_row_invalid_prints_a_capped_list_of_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = ",".join(f'{{"key": "k{i}", "emails": 5}}' for i in range(1000))
    crm = write(tmp_path, "crm.json", '{"contacts": [' + rows + "]}")
    outlook = write(tmp_path, "outlook.json", "{}")
    code, _ = run("plan", "--crm", crm, "--outlook", outlook)
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert len(err) <= 1 + 120 + 1
    assert "$.contacts[0].emails" in err[1]
    assert "more problem" in err[-1] or len(err) <= 102


def test_explain_shows_one_records_values_and_the_verdict_per_field() -> None:
    code, text = run("explain", "c-chloe", "--example")
    assert code == 0
    assert text.startswith("contact c-chloe (Chloe Martin): update in Outlook (conflict_crm_wins)")
    (row,) = [line for line in text.splitlines() if line.startswith("  mobile_phone ")]
    assert row.endswith("conflict_won")
    assert "'+33 6 00 00 00 09'" in row
    assert "'+33 6 11 11 11 11'" in row


def test_explain_reads_the_same_files_as_plan(tmp_path: Path) -> None:
    args = _no_baseline_world(tmp_path)
    code, text = run("explain", "b", *args[1:], "--domain", "contact")
    assert code == 0
    assert text.startswith("contact b: create in Outlook (new_in_crm)")


def test_explain_of_an_unknown_key_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run("explain", "nobody", "--example")
    assert (code, text) == (1, "")
    assert "no record 'nobody'" in capsys.readouterr().err


@pytest.mark.parametrize("query", ["Ben", "ben@fabrikam.com", "Ben Okafor"])
def test_explain_finds_a_contact_by_name_or_e_mail(query: str) -> None:
    code, text = run("explain", query, "--example")
    assert code == 0
    assert text.startswith("contact c-ben (Ben Okafor): update in Outlook (changed_in_crm)")


def test_explain_finds_a_meeting_by_subject_and_says_why_its_attachment_does_not_sync() -> None:
    code, text = run("explain", "Site visit", "--example")
    assert code == 0
    first = text.splitlines()[0]
    assert first.startswith("appointment a-visit (Site visit): no op: nothing to write; ")
    assert "attachment site-photos.zip does not sync (attachment_too_large)" in first
    assert "to sync it: raise max_attachment_bytes" in first


def test_explain_of_a_name_several_records_share_lists_them_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crm = CrmSnapshot(
        contacts=[
            CrmContact(key="c1", first_name="Ann", last_name="Lee", emails=["ann@a.example"]),
            CrmContact(key="c2", first_name="Ann", last_name="Roe"),
        ]
    )
    args = ["--crm", write(tmp_path, "crm.json", crm)]
    args += ["--outlook", write(tmp_path, "outlook.json", OutlookSnapshot())]
    code, text = run("explain", "ann", *args, "--now", NOW.isoformat())
    assert (code, text) == (1, "")
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "crmsync explain: 'ann' names 2 records; give one's key (or --domain):"
    assert err[1:] == ["  contact c1  Ann Lee <ann@a.example>", "  contact c2  Ann Roe"]


def test_explain_of_an_unknown_name_suggests_the_closest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _ = run("explain", "Okafr", "--example")
    assert code == 1
    err = capsys.readouterr().err.splitlines()
    assert "no record 'Okafr'" in err[0]
    assert err[1:3] == ["the closest:", "  contact c-ben  Ben Okafor <ben@fabrikam.com>"]


@pytest.mark.parametrize(
    ("option", "content", "hint"),
    [
        ("--crm", DATAVERSE_FILE, "add --crm-format dataverse"),
        ("--outlook", GRAPH_FILE, "add --outlook-format graph"),
    ],
)
def test_a_service_file_read_as_crmsync_json_gets_a_hint_on_the_format_option(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    content: object,
    hint: str,
) -> None:
    files = {
        "--crm": write(tmp_path, "crm.json", CrmSnapshot()),
        "--outlook": write(tmp_path, "outlook.json", OutlookSnapshot()),
    }
    files[option] = write(tmp_path, "service.json", json.dumps(content))
    code, _ = run("plan", "--crm", files["--crm"], "--outlook", files["--outlook"])
    assert code == 1
    err = capsys.readouterr().err
    assert "service.json is not valid" in err
    assert err.rstrip().splitlines()[-1].startswith("hint: ")
    assert hint in err


def test_a_crmsync_file_that_is_merely_invalid_gets_no_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crm = write(tmp_path, "crm.json", json.dumps({"contacts": [{"key": 1}]}))
    outlook = write(tmp_path, "outlook.json", OutlookSnapshot())
    assert run("plan", "--crm", crm, "--outlook", outlook)[0] == 1
    assert "hint" not in capsys.readouterr().err


def test_plan_text_opens_with_the_settings_change() -> None:
    code, text = run("plan", "--example")
    assert code == 0
    lines = text.splitlines()
    assert lines[0] == "Settings change (last sync → this plan):"
    assert "  sync_appointment_attachments: off → on" in lines
    assert "  address_sync: mailing_only → all_three" in lines


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib import metadata

    assert run("--version")[0] == 0
    assert capsys.readouterr().out.strip() == f"crmsync {metadata.version('crmsync')}"


def _applied_once(tmp_path: Path) -> tuple[list[str], Path]:
    crm = write(tmp_path, "crm.json", CrmSnapshot(contacts=[CrmContact(key="a", first_name="A")]))
    outlook = write(tmp_path, "outlook.json", OutlookSnapshot())
    _, plan_json = run(
        "plan", "--crm", crm, "--outlook", outlook, "--format", "json", "--now", NOW.isoformat()
    )
    out = tmp_path / "out"
    args = ["apply", write(tmp_path, "plan.json", plan_json), "--crm", crm, "--outlook", outlook]
    return [*args, "--out", str(out)], out


def _folder(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())} if path.exists() else {}


def _fail_on_second_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    import crmsync.cli

    calls = []
    real = os.fsync

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(crmsync.cli.os, "fsync", fsync)


def test_apply_writes_nothing_when_the_second_file_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args, out = _applied_once(tmp_path)
    _fail_on_second_fsync(monkeypatch)
    assert run(*args)[0] == 1
    assert "No space left on device" in capsys.readouterr().err
    assert not out.exists()  # the folder it made is gone again, no temporary file left


def test_a_failed_second_apply_into_the_same_folder_keeps_the_first_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, out = _applied_once(tmp_path)
    assert run(*args)[0] == 0
    first = _folder(out)
    assert sorted(first) == ["baseline.json", "crm.json", "outlook.json"]
    _fail_on_second_fsync(monkeypatch)
    assert run(*args)[0] == 1
    assert _folder(out) == first


def test_a_rename_that_fails_midway_puts_back_the_files_already_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, out = _applied_once(tmp_path)
    assert run(*args)[0] == 0
    (out / "crm.json").write_text("previous crm", encoding="utf-8")
    first = _folder(out)
    import crmsync.cli

    real = os.replace

    def replace(src: str | Path, dst: str | Path) -> None:
        if Path(dst).name == "outlook.json":
            raise OSError(errno.EIO, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(crmsync.cli.os, "replace", replace)
    assert run(*args)[0] == 1
    assert _folder(out) == first


def test_apply_refuses_an_altered_plan_with_exit_1_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, out = _applied_once(tmp_path)
    plan_file = Path(args[1])
    data = json.loads(plan_file.read_text(encoding="utf-8"))
    data["ops"][0]["record"]["first_name"] = "Mallory"
    plan_file.write_text(json.dumps(data), encoding="utf-8")
    assert run(*args)[0] == 1
    assert "the plan was altered after it was made" in capsys.readouterr().err
    assert not out.exists()


def test_emit_of_a_regarding_change_from_outlook_prints_what_it_lacks(tmp_path: Path) -> None:
    before = crmsync.Task(key="t1", subject="s", regarding="acc1")
    crm = crmsync.CrmSnapshot(tasks=[before])
    baseline = Baseline(crm=crm, outlook=crmsync.OutlookSnapshot(tasks=[before]))
    edited = crmsync.OutlookSnapshot(tasks=[crmsync.Task(key="t1", subject="s", regarding="acc2")])
    files = [
        *("--crm", write(tmp_path, "crm.json", crm)),
        *("--outlook", write(tmp_path, "out.json", edited)),
        *("--baseline", write(tmp_path, "base.json", baseline)),
    ]

    code, text = run("plan", *files, "--now", NOW.isoformat(), "--emit", "dataverse")

    assert code == 0
    assert "PUT /api/data/v9.2/tasks(t1)/{regardingobjectid}/$ref" in text
    assert "cannot be carried out" in text
