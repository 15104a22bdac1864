"""The outputs docs/adapters.md shows are what the command prints for its example files."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from crmsync.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "adapters.md"
ARGS = [
    "plan",
    "--crm",
    str(ROOT / "docs" / "examples" / "dataverse.json"),
    "--crm-format",
    "dataverse",
    "--outlook",
    str(ROOT / "docs" / "examples" / "graph.json"),
    "--outlook-format",
    "graph",
    "--user",
    "ann@contoso.com",
    "--now",
    "2026-11-24T09:00:00Z",
]


def _shown(name: str) -> str:
    match = re.search(
        rf"<!-- output: {name} -->\n```text\n(.*?)\n```", DOC.read_text("utf-8"), re.S
    )
    assert match, f"no output block {name!r} in {DOC.name}"
    return match.group(1)


@pytest.mark.parametrize(("name", "extra"), [("plan", []), ("emit", ["--emit", "graph,dataverse"])])
def test_the_adapters_page_shows_what_the_command_prints(name: str, extra: list[str]) -> None:
    out = io.StringIO()

    assert main([*ARGS, *extra], out=out) == 0
    assert out.getvalue().rstrip("\n") == _shown(name)


def test_the_settings_preview_on_the_cli_page_is_what_the_command_prints() -> None:
    """docs/cli.md's preview of a settings change is the bundled example's summary."""
    page = (ROOT / "docs" / "cli.md").read_text("utf-8")
    match = re.search(r"<!-- output: settings -->\n```text\n(.*?)\n```", page, re.S)
    assert match, "no output block 'settings' in cli.md"
    out = io.StringIO()

    assert main(["plan", "--example", "--summary"], out=out) == 0
    assert out.getvalue().rstrip("\n") == match.group(1)


def _python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text("utf-8"), re.S)


PAGES = sorted(p for p in (ROOT / "docs").glob("*.md") if _python_blocks(p))


def test_the_docs_have_python_examples_to_run() -> None:
    assert {p.name for p in PAGES} >= {"contacts.md", "quickstart.md", "testing.md"}


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_python_block_in_the_docs_runs_as_written(
    page: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A page's blocks run in order in one namespace; the tests a block defines run too."""
    monkeypatch.chdir(ROOT)  # blocks read files by their path in the repository
    namespace: dict[str, object] = {"__name__": f"docs.{page.stem}"}
    for block in _python_blocks(page):
        exec(compile(block, str(page), "exec"), namespace)  # noqa: S102 - our own docs
    for name, value in sorted(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()


def test_the_delta_round_on_the_adapters_page_is_what_the_command_prints(tmp_path: Path) -> None:
    """The documented flow: convert, plan and apply until in sync, then plan a delta round."""
    examples = ROOT / "docs" / "examples"
    quiet = io.StringIO()
    crm, outlook, plan_file = tmp_path / "crm.json", tmp_path / "outlook.json", tmp_path / "p.json"
    for source, path in (("dataverse", crm), ("graph", outlook)):
        assert (
            main(
                ["convert", "--from", source, str(examples / f"{source}.json"), "--out", str(path)]
            )
            == 0
        )
    when = ["--user", "ann@contoso.com", "--now", "2026-11-24T09:00:00Z"]
    baseline: list[str] = []
    for _ in range(2):
        planned = io.StringIO()
        sides = ["--crm", str(crm), "--outlook", str(outlook), *baseline]
        assert main(["plan", *sides, *when, "--format", "json"], out=planned) == 0
        plan_file.write_text(planned.getvalue(), encoding="utf-8")
        synced = tmp_path / "synced"
        assert main(["apply", str(plan_file), *sides, "--out", str(synced)], out=quiet) == 0
        for name in ("crm", "outlook", "baseline"):
            (tmp_path / f"{name}.json").write_text(
                (synced / f"{name}.json").read_text(encoding="utf-8"), encoding="utf-8"
            )
        baseline = ["--baseline", str(tmp_path / "baseline.json")]
    out = io.StringIO()

    code = main(
        [
            "plan",
            "--crm",
            str(examples / "dataverse-delta.json"),
            "--crm-format",
            "dataverse",
            "--outlook",
            str(examples / "graph-delta.json"),
            "--outlook-format",
            "graph",
            "--partial",
            *baseline,
            "--user",
            "ann@contoso.com",
            "--now",
            "2026-11-24T11:00:00Z",
        ],
        out=out,
    )

    assert code == 0
    assert out.getvalue().rstrip("\n") == _shown("delta")


def test_the_api_reference_lists_every_public_name() -> None:
    import crmsync

    page = (ROOT / "docs" / "api.md").read_text("utf-8")
    listed = set(re.findall(r"^::: ([\w.]+)$", page, re.M))
    missing = [
        name
        for name in crmsync.__all__
        if not any(entry.endswith(f".{name}") for entry in listed)
        and getattr(crmsync, name).__module__ not in listed
    ]
    assert missing == []
    assert {
        "crmsync.adapters.read_graph",
        "crmsync.adapters.GraphRead",
        "crmsync.adapters.requests.requests_for",
        "crmsync.policy.Policy",
    } <= listed


def test_the_sync_service_in_the_adapters_page_is_complete_in_under_60_lines() -> None:
    """The service block reads, plans, executes and keeps the baseline; the next block runs it."""
    blocks = _python_blocks(DOC)
    [service] = [b for b in blocks if "def sync_once(" in b]
    assert len(service.splitlines()) < 60
    for step in (
        "read_outlook(baseline, crm=",
        "read_dataverse()",
        "graph_etags=",
        "crmsync.plan(",
        ".execute(",
        ".baseline(",
    ):
        assert step in service
    assert any("sync_once(" in b and "FakeMicrosoft()" in b for b in blocks)
