"""The outputs docs/adapters.md shows are what the command prints for its example files."""

from __future__ import annotations

import importlib
import io
import pkgutil
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from crmsync import Settings
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


def _public_modules() -> list[str]:
    """Every module of the package whose dotted name has no part starting with `_`."""
    import crmsync

    found = pkgutil.walk_packages(crmsync.__path__, "crmsync.")
    return ["crmsync", *sorted(m.name for m in found if "._" not in m.name)]


def _public_names(module: ModuleType) -> list[str]:
    """A module's `__all__`, or the names it defines without a leading `_`."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    ]


def _listed_as(entry: str, name: str) -> object:
    """What the API reference entry `module.name` stands for, or None."""
    module_name, _, last = entry.rpartition(".")
    if last != name:
        return None
    try:
        return getattr(importlib.import_module(module_name), name, None)
    except ImportError:
        return None


def test_the_api_reference_lists_every_public_name_of_every_public_module() -> None:
    """A name is listed by its own entry (under any module that holds it) or by its module's."""
    page = (ROOT / "docs" / "api.md").read_text("utf-8")
    listed = set(re.findall(r"^::: ([\w.]+)$", page, re.M))
    missing = []
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        for name in _public_names(module):
            value = getattr(module, name)
            if (
                module_name not in listed
                and getattr(value, "__module__", None) not in listed
                and not any(_listed_as(entry, name) is value for entry in listed)
            ):
                missing.append(f"{module_name}.{name}")
    assert missing == []
    assert {
        "crmsync.http",
        "crmsync.strategies",
        "crmsync.batch",
        "crmsync.files",
        "crmsync.adapters.requests",
        "crmsync.policy.Policy",
    } <= listed


def test_the_sync_service_in_the_adapters_page_is_complete_in_under_60_lines() -> None:
    """The service block reads, plans, executes and keeps the baseline; the next block runs it."""
    blocks = _python_blocks(DOC)
    [service] = [b for b in blocks if "def sync_once(" in b]
    assert len(service.splitlines()) < 60
    for step in (
        "read_outlook(baseline, crm=",
        "read_dataverse(baseline, state=",
        "state=crm.state",
        "write_in_order(",
        "graph_etags=",
        "crmsync.plan(",
        ".execute(",
        ".baseline(",
    ):
        assert step in service
    assert any("sync_once(" in b and "MockTransport(" in b for b in blocks)
    assert not [b for b in blocks if re.search(r"^(from|import) (fake_microsoft|tests)\b", b, re.M)]


def test_the_sync_service_in_the_adapters_page_converges_against_the_stateful_fake(
    tmp_path: Path,
) -> None:
    """Two rounds against `crmsync.testing`: everything done, then nothing to do."""
    from crmsync.http import Connection
    from crmsync.testing import DATAVERSE_TOKEN, GRAPH_TOKEN, FakeMicrosoft

    [service] = [b for b in _python_blocks(DOC) if "def sync_once(" in b]
    namespace: dict[str, Any] = {"__name__": "docs.adapters"}
    exec(compile(service, str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
    with FakeMicrosoft() as fake:
        fake.add("dataverse", "contacts", {"firstname": "Ann", "emailaddress1": "ann@x.org"})
        fake.add("graph", "tasks", {"title": "Call Ann", "categories": ["Tracked to Dynamics 365"]})
        with Connection(
            graph_token=lambda: GRAPH_TOKEN,
            dataverse_url=fake.url,
            dataverse_token=lambda: DATAVERSE_TOKEN,
            graph_url=fake.graph_url,
            allow_loopback_http=True,  # the fake serves plain http on 127.0.0.1
        ) as connection:
            first = namespace["sync_once"](connection, tmp_path, "ann@contoso.com", Settings())
            again = namespace["sync_once"](connection, tmp_path, "ann@contoso.com", Settings())
    assert first is not None
    assert first.complete
    assert len(first.done) == 2
    assert again is not None
    assert again.plan.is_empty
    assert [c["givenName"] for c in fake.graph["contacts"].values()] == ["Ann"]


# -- docs that stand alone -----------------------------------------------------------

OUTSIDE = ("DESIGN" + ".md", "../" + "shared")  # spelled apart, so this file does not match
ALLOWED = {(".ci/run", "python ../" + "shared/tools/check_api.py")}  # CI's public API check


def _tracked_files() -> list[str]:
    """The files git tracks (every file but build output, outside a git checkout)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"],  # noqa: S607 - the developer's git, on PATH
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        skipped = {".git", ".venv", "site", "__pycache__", "mutants"}
        return [
            str(path.relative_to(ROOT))
            for path in ROOT.rglob("*")
            if path.is_file() and not skipped & set(path.relative_to(ROOT).parts)
        ]
    return [name for name in listed.decode().split("\0") if name]


def test_no_file_in_the_repository_points_outside_it() -> None:
    """Docs, code and tests stand alone: nothing names a file or folder beside the checkout."""
    found = []
    for name in _tracked_files():
        try:
            text = (ROOT / name).read_text("utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # a binary file (the report's screenshot)
        found += [
            f"{name}:{number}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), 1)
            if any(word in line for word in OUTSIDE) and (name, line.strip()) not in ALLOWED
        ]
    assert found == []


def test_the_design_page_is_linked_and_names_every_code_setting_and_public_name() -> None:
    import attrs

    import crmsync
    from crmsync.plan import NOTICE_CODES

    design = (ROOT / "docs" / "design.md").read_text("utf-8")
    assert "(docs/design.md)" in (ROOT / "README.md").read_text("utf-8")
    assert re.search(r"^  - .*: design\.md$", (ROOT / "mkdocs.yml").read_text("utf-8"), re.M)
    quoted = set(re.findall(r"`([\w.]+)`", design))
    assert [code for code in NOTICE_CODES if code not in quoted] == []
    assert [f.name for f in attrs.fields(crmsync.Settings) if f.name not in quoted] == []
    assert [name for name in crmsync.__all__ if name not in quoted] == []
