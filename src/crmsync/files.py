"""Files written whole or not at all: the shell's one way to write results.

Every file crmsync writes goes through this module. `crmsync apply` writes
its three files with `write_all`, and `crmsync.batch.write_mailbox` its
mailbox files, so a crash or a full disk never leaves half a result beside
the previous one; `crmsync plan -o` writes with `write_file`, and `crmsync
convert --out --links` with `write_in_order` (the snapshot before the links
that say which changes it holds).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["write_all", "write_file", "write_in_order"]


def _sync_folder(folder: Path) -> None:
    """Makes the renames in `folder` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def write_file(path: Path, data: bytes) -> None:
    """Writes one file whole or not at all.

    The bytes go to a temporary file in the same folder (a rename is atomic
    only within one file system), are flushed and fsynced, and the file is
    renamed over `path` with `os.replace`: a reader, a crash or a full disk
    sees the previous file or the new one, never a mixture or a truncated
    one. An existing file's permissions are kept.

    Args:
        path: the file to write.
        data: its new content.

    Raises:
        OSError: the file could not be written; `path` is as it was.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.crmsync-tmp")
    try:
        with temporary.open("xb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def write_in_order(files: Sequence[tuple[Path, bytes]]) -> None:
    """Writes several files, each whole or not at all, one after the other, stopping at a failure.

    For files that may live in different folders (so no one rename can
    replace them together), in the order that cannot lose a change: a file
    that says what another holds comes after it. `crmsync convert --out O
    --links L` writes the snapshot O first: if writing it fails, the old
    delta link in L still points before the changes, which the next round
    reads again; written the other way round, those changes would be skipped
    for good.

    Args:
        files: (path, content) pairs, in the order to write them.

    Raises:
        OSError: a file could not be written; it and the files after it are
            as they were, the files before it are written.
    """
    for path, data in files:
        write_file(path, data)


def write_all(folder: Path, files: Mapping[str, bytes]) -> None:
    """Writes several files into `folder` all together, or not at all.

    Each file goes to a temporary file in the same folder, is flushed and
    fsynced, and only when every one is written are they renamed over their
    targets. On any failure the temporary files are removed, targets already
    replaced get their previous content back, and a folder this call made is
    removed again, so the folder is exactly as it was. If putting a previous
    file back fails too, its previous content is kept where it was saved
    (`folder/.crmsync-*/NAME.previous`, named in a note on the exception),
    never deleted: it may be the last good copy.

    Raises:
        OSError: a file could not be written or renamed.
    """
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder, prefix=".crmsync-"))
    backups: dict[Path, Path] = {}
    replaced: list[Path] = []
    kept: list[Path] = []
    done = False
    try:
        for name, data in files.items():
            with (work / name).open("xb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
        for name in files:
            target = folder / name
            if target.is_file():
                backups[target] = work / f"{name}.previous"
                try:
                    os.link(target, backups[target])
                except OSError:  # a file system without hard links
                    shutil.copy2(target, backups[target])
        for name in files:
            os.replace(work / name, folder / name)
            replaced.append(folder / name)
        _sync_folder(folder)
        done = True
    except BaseException as exc:
        for target in reversed(replaced):
            try:
                if target in backups:
                    os.replace(backups[target], target)
                else:
                    target.unlink(missing_ok=True)
            except OSError:
                if target in backups:
                    kept.append(backups[target])
        for backup in kept:
            exc.add_note(
                f"the previous {backup.name.removesuffix('.previous')} is kept in {backup}"
            )
        raise
    finally:
        if kept:  # the only good copy of a file: remove everything else of the work folder
            for leftover in work.iterdir():
                if leftover not in kept:
                    with contextlib.suppress(OSError):
                        leftover.unlink()
        else:
            shutil.rmtree(work, ignore_errors=True)
        if created and not done:
            with contextlib.suppress(OSError):
                folder.rmdir()
