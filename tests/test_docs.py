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
