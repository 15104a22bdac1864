"""Tests for crmsync.cli: the `crmsync` command."""

from __future__ import annotations

import io
import json
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
