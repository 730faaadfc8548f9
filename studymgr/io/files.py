"""Small file-system helpers shared by the io modules (recordings, backups)."""

from __future__ import annotations

import contextlib
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from studymgr.store.datafolder import QUARANTINE

__all__ = ["fsync_dir", "quarantine", "quarantine_folder", "remove_path"]


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk; best effort."""
    with contextlib.suppress(OSError):  # not every file system lets a folder be fsynced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_path(path: Path) -> None:
    """Remove a file or a folder tree (missing is fine)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def quarantine_folder(data_dir: Path) -> Path:
    """A new dated folder ``<data_dir>/.quarantine/<UTC time>`` (not created yet)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%S")
    base = Path(data_dir) / QUARANTINE / stamp
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{stamp}-{n}")
    return folder


def quarantine(path: Path, data_dir: Path, folder: Path) -> Path:
    """Move ``path`` (a file or folder inside ``data_dir``) to the same relative place under the
    quarantine ``folder`` instead of deleting it; returns where it now is."""
    target = folder / Path(path).relative_to(data_dir)
    missing = [p for p in target.parents if p.is_relative_to(data_dir) and not p.exists()]
    for parent in reversed(missing):  # owner-only at every level, like the rest of the folder
        parent.mkdir(mode=0o700, exist_ok=True)
        os.chmod(parent, 0o700)
    os.replace(path, target)
    fsync_dir(Path(path).parent)
    fsync_dir(target.parent)
    return target
