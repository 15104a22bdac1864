"""Tests for crmsync.files: every file crmsync writes is written whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from crmsync.files import write_all, write_file, write_in_order


def _everything(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, hidden ones included, by relative path."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _failing_replace(monkeypatch: pytest.MonkeyPatch, failing: set[int]) -> None:
    """`os.replace` fails on the given calls (1 is the first)."""
    real = os.replace
    calls = 0

    def replace(source: Any, target: Any) -> None:
        nonlocal calls
        calls += 1
        if calls in failing:
            raise OSError(5, "injected I/O error")
        real(source, target)

    monkeypatch.setattr(os, "replace", replace)


def test_write_all_never_deletes_the_last_good_copy_when_putting_a_file_back_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.json").write_bytes(b"old a")
    (tmp_path / "b.json").write_bytes(b"old b")
    # 1: a.json is replaced; 2: b.json fails; 3: putting a.json back fails too.
    _failing_replace(monkeypatch, {2, 3})

    with pytest.raises(OSError, match="injected") as raised:
        write_all(tmp_path, {"a.json": b"new a", "b.json": b"new b"})

    files = _everything(tmp_path)
    assert files["b.json"] == b"old b"
    [kept] = [name for name, data in files.items() if data == b"old a"]
    assert any(kept in note for note in raised.value.__notes__)
    assert not [name for name, data in files.items() if data == b"new b" and name != "b.json"]


def test_write_all_puts_every_file_back_when_one_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.json").write_bytes(b"old a")
    _failing_replace(monkeypatch, {2})

    with pytest.raises(OSError, match="injected"):
        write_all(tmp_path, {"a.json": b"new a", "b.json": b"new b"})

    assert _everything(tmp_path) == {"a.json": b"old a"}


def test_write_file_replaces_the_file_and_a_reader_keeps_the_old_one_whole(
    tmp_path: Path,
) -> None:
    target = tmp_path / "plan.json"
    target.write_bytes(b"old plan " * 1000)
    target.chmod(0o640)

    with target.open("rb") as reader:
        write_file(target, b"new plan")
        assert reader.read() == b"old plan " * 1000

    assert _everything(tmp_path) == {"plan.json": b"new plan"}
    assert target.stat().st_mode & 0o777 == 0o640


def test_write_file_leaves_the_old_file_when_the_rename_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "plan.json"
    target.write_bytes(b"old plan")
    _failing_replace(monkeypatch, {1})

    with pytest.raises(OSError, match="injected"):
        write_file(target, b"new plan")

    assert _everything(tmp_path) == {"plan.json": b"old plan"}


def test_write_in_order_stops_at_the_first_file_that_fails(tmp_path: Path) -> None:
    first, links = tmp_path / "missing" / "snapshot.json", tmp_path / "links.json"
    links.write_bytes(b"old links")

    with pytest.raises(FileNotFoundError):
        write_in_order([(first, b"snapshot"), (links, b"new links")])

    assert _everything(tmp_path) == {"links.json": b"old links"}
