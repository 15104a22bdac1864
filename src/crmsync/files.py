"""Files written whole or not at all: the shell's one way to write results.

`crmsync apply` writes its three files with `write_all`, and
`crmsync.batch.write_mailbox` its mailbox files, so a crash or a full disk
never leaves half a result beside the previous one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["write_all"]


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


def write_all(folder: Path, files: Mapping[str, bytes]) -> None:
    """Writes several files into `folder` all together, or not at all.

    Each file goes to a temporary file in the same folder, is flushed and
    fsynced, and only when every one is written are they renamed over their
    targets. On any failure the temporary files are removed, targets already
    replaced get their previous content back, and a folder this call made is
    removed again, so the folder is exactly as it was.

    Raises:
        OSError: a file could not be written or renamed.
    """
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder, prefix=".crmsync-"))
    backups: dict[Path, Path] = {}
    replaced: list[Path] = []
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
    except BaseException:
        for target in reversed(replaced):
            if target in backups:
                os.replace(backups[target], target)
            else:
                target.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if created and not done:
            with contextlib.suppress(OSError):
                folder.rmdir()
