"""The files of a backup: hashed copies, the manifest, and putting a finished folder in place.

A backup is a folder::

    DEST/
      manifest.json        what was copied: every file with its SHA-256, counts, versions
      study.db             the database (one consistent snapshot)
      study_data/          the recordings the snapshot refers to (same layout as the data folder)

This module does the file work only (no database): every copy is owner-only and fsynced, a
backup is assembled under a temporary name and moved into place at the end
(:func:`move_into_place`), and :func:`verify_backup` compares every file with the manifest.
Taking a backup of a study and restoring one (snapshot, check, audit) is
:mod:`studymgr.runs.backup`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from studymgr.errors import InputError, NotFoundError
from studymgr.io.files import fsync_dir, remove_path

__all__ = ["FORMAT", "MANIFEST", "copy_backup", "copy_hashed", "data_files", "fsync_dir",
           "move_into_place", "private_tree", "read_manifest", "remove_path", "sha256_file",
           "verify_backup", "write_manifest"]

MANIFEST = "manifest.json"
FORMAT = "studymgr-backup/1"
CHUNK = 1 << 20


# -- small file helpers (fsync_dir and remove_path: studymgr.io.files) -----------------------------
def copy_hashed(src: Path, dst: Path) -> tuple[str, int]:
    """Copy one file (owner-only, fsynced), returning the SHA-256 and size of what was read.

    ``dst`` must not exist; its missing parent folders are created (owner-only).
    """
    digest = hashlib.sha256()
    size = 0
    dst.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return digest.hexdigest(), size


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of one file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def private_tree(root: Path) -> None:
    """Owner-only modes for a folder tree we created."""
    os.chmod(root, 0o700)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(Path(folder) / name, 0o700)
        for name in files:
            os.chmod(Path(folder) / name, 0o600)


def data_files(folder: Path) -> list[str]:
    """Relative POSIX paths of the regular, non-hidden files under ``folder``."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            path = Path(root) / name
            if not name.startswith(".") and path.is_file() and not path.is_symlink():
                out.append(path.relative_to(folder).as_posix())
    return sorted(out)


# -- writing a backup ------------------------------------------------------------------------------
def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` into a backup folder (fsynced)."""
    with open(folder / MANIFEST, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())


def move_into_place(tmp: Path, dest: Path) -> None:
    """Move a finished backup folder into place: owner-only, on disk, then renamed to ``dest``.

    ``dest`` must be absent or an empty folder; the rename makes it complete or absent, never
    half-written.
    """
    private_tree(tmp)
    for folder, _dirs, _files in os.walk(tmp):
        fsync_dir(Path(folder))
    if dest.exists():
        dest.rmdir()  # empty (checked by the caller)
    os.rename(tmp, dest)
    fsync_dir(dest.parent)


# -- reading and verifying a backup ----------------------------------------------------------------
def read_manifest(backup: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and sanity-check a backup's ``manifest.json``.

    Raises
    ------
    NotFoundError, InputError
        No such folder, not a studymgr backup, or a manifest that names files outside it.
    """
    folder = Path(backup)
    if not folder.is_dir():
        raise NotFoundError(f"backup folder {folder} does not exist: check the path")
    path = folder / MANIFEST
    if not path.is_file():
        raise InputError(f"{folder} is not a studymgr backup (no {MANIFEST}): give the folder "
                         "'studymgr backup' wrote")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is damaged ({exc}): use another backup") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(f"{path} is not a {FORMAT} manifest: use a backup made by studymgr")
    names = [manifest.get("database"), manifest.get("data_dir"),
             *[f.get("path") if isinstance(f, dict) else None
               for f in manifest.get("files") or []]]
    for name in names:
        if (not isinstance(name, str) or not name or Path(name).is_absolute()
                or ".." in Path(name).parts):
            raise InputError(f"{path} names a file outside the backup ({name!r}): it was "
                             "edited; use another backup")
    return manifest


def verify_backup(backup: str | os.PathLike[str]) -> list[str]:
    """Compare every file of a backup with its manifest; return the problems (empty: intact)."""
    from studymgr.io.recordings import hash_path

    folder = Path(backup)
    manifest = read_manifest(folder)
    problems = []
    db = folder / manifest["database"]
    if not db.is_file():
        problems.append(f"the database {manifest['database']} is missing")
    elif sha256_file(db) != manifest["database_sha256"]:
        problems.append(f"the database {manifest['database']} differs from the manifest")
    data = folder / manifest["data_dir"]
    for entry in manifest["files"]:
        path = data / entry["path"]
        if not path.exists():
            problems.append(f"{entry['path']} is missing")
        elif hash_path(path)[0] != entry["sha256"]:
            problems.append(f"{entry['path']} differs from the manifest (SHA-256)")
    return problems


def copy_backup(backup: Path, manifest: dict[str, Any], db_to: Path, data_to: Path) -> None:
    """Copy a backup's database to ``db_to`` and its recordings into a new folder ``data_to``
    (owner-only, fsynced). Neither may exist; verify the backup first (:func:`verify_backup`)."""
    copy_hashed(backup / manifest["database"], db_to)
    data_to.mkdir(mode=0o700)
    for entry in manifest["files"]:
        src = backup / manifest["data_dir"] / entry["path"]
        if src.is_dir():
            for rel in data_files(src):
                copy_hashed(src / rel, data_to / entry["path"] / rel)
        else:
            copy_hashed(src, data_to / entry["path"])
    private_tree(data_to)
