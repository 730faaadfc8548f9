"""Backups of a live study, and restoring them after checking them.

A backup is a folder::

    DEST/
      manifest.json        what was copied: every file with its SHA-256, counts, versions
      study.db             the database (SQLite backup API: one consistent snapshot)
      study_data/          the recordings the snapshot refers to (same layout as the data folder)

It is made while other processes keep writing: the database is copied in one step of SQLite's
backup API (:meth:`sqlite3.Connection.backup`), which reads one consistent snapshot without
blocking writers; then every recording that snapshot refers to is copied and its SHA-256 compared
with the one stored at import. A recording replaced meanwhile (its file removed by the replacing
import) makes the whole backup start again from a new snapshot. Files of the data folder that no
recording refers to (leftovers of interrupted imports, anything else put there by hand) are
not copied; the manifest lists them as ``skipped``. The backup is assembled under a temporary
name and renamed into place at the end, so ``DEST`` is either complete or absent.

Restoring (:func:`restore_study`) never overwrites anything: the database and data folder are
copied to temporary names beside the new database, every file is compared with the manifest, the
copy is opened (an older schema is upgraded) and checked with :func:`studymgr.runs.check.check_study`;
only a copy without problems (results to recompute are only reported) is moved into place, with
one audit row ``restore`` saying where it came from (and where its data folder now is).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from studymgr._version import __version__
from studymgr.errors import ConflictError, InputError, NotFoundError
from studymgr.ids import utcnow

logger = logging.getLogger(__name__)

__all__ = ["MANIFEST", "backup_study", "read_manifest", "restore_study", "verify_backup"]

MANIFEST = "manifest.json"
FORMAT = "studymgr-backup/1"
#: A backup starts again (new snapshot) at most this many times when recordings change meanwhile.
ATTEMPTS = 5
CHUNK = 1 << 20
#: Problems that do not stop a restore (reported as warnings): results to recompute.
SOFT_CHECKS = ("synchrony", "runs")


class _Changed(Exception):
    """A recording of the snapshot was replaced while the backup copied it."""


# -- small file helpers ----------------------------------------------------------------------------
def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _copy_hashed(src: Path, dst: Path) -> tuple[str, int]:
    """Copy one file (owner-only, fsynced), returning the SHA-256 and size of what was read."""
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _private_tree(root: Path) -> None:
    """Owner-only modes for a folder tree we created."""
    os.chmod(root, 0o700)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(Path(folder) / name, 0o700)
        for name in files:
            os.chmod(Path(folder) / name, 0o600)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _data_files(folder: Path) -> list[str]:
    """Relative POSIX paths of the regular, non-hidden files under ``folder``."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            path = Path(root) / name
            if not name.startswith(".") and path.is_file() and not path.is_symlink():
                out.append(path.relative_to(folder).as_posix())
    return sorted(out)


# -- backup --------------------------------------------------------------------------------------
def _snapshot(study: Any, target: Path) -> dict[str, Any]:
    """Copy the database in one backup step; return what the snapshot holds."""
    dst = sqlite3.connect(target)
    try:
        study.db.conn.backup(dst)  # pages=-1: the whole database in one read transaction
    finally:
        dst.close()
    snap = sqlite3.connect(target)
    try:
        q = snap.execute
        info = {
            "study": q("SELECT name FROM study").fetchone()[0],
            "schema_version": q("PRAGMA user_version").fetchone()[0],
            "scans": [{"path": p, "sha256": h} for p, h in
                      q("SELECT path, sha256 FROM scans ORDER BY path")],
            "counts": {t: q(f"SELECT count(*) FROM {t}").fetchone()[0] for t in (
                "dyads", "sessions", "responses", "scans", "events", "analysis_runs",
                "audit_log")},
            "audit_head": (q("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
                           .fetchone() or (0, None)),
        }
    finally:
        snap.close()
    return info


def _copy_recordings(study: Any, scans: list[dict[str, str]], data_out: Path) -> list[dict]:
    """Copy the snapshot's recordings, verifying each against its stored SHA-256."""
    from studymgr.io.recordings import hash_path

    copied = []
    for scan in scans:
        src = study.data_dir / scan["path"]
        dst = data_out / scan["path"]
        try:
            if src.is_dir():
                for rel in _data_files(src):
                    _copy_hashed(src / rel, dst / rel)
                sha, size = hash_path(dst)
            else:
                sha, size = _copy_hashed(src, dst)
        except FileNotFoundError:
            sha, size = None, 0
        if sha != scan["sha256"]:
            # Replaced meanwhile (the live study no longer refers to this file) or damaged.
            live = study.db.conn.execute("SELECT sha256 FROM scans WHERE path = ?",
                                         (scan["path"],)).fetchone()
            if live is None or live[0] != scan["sha256"]:
                raise _Changed(scan["path"])
            what = "is missing" if sha is None else "changed since import (SHA-256 differs)"
            raise InputError(f"the recording {scan['path']} {what}: nothing was backed up; run "
                             "'studymgr check' and restore or re-import it first")
        copied.append({"path": scan["path"], "sha256": sha, "size": size, "kind": "recording"})
    return copied


def backup_study(study: Any, dest: str | os.PathLike[str]) -> dict[str, Any]:
    """Make a consistent, verified copy of a (possibly live) study in a new folder.

    Parameters
    ----------
    study : Study
        The open study; other processes may keep writing to it meanwhile.
    dest : path-like
        The backup folder: must not exist, or be empty. Its parent must exist.

    Returns
    -------
    dict
        ``dest, study, schema_version, created_at, database`` (file name), ``data_dir``
        (folder name inside the backup), ``n_recordings, n_files, bytes, counts`` (rows per
        table in the snapshot), ``skipped`` (files of the data folder not copied: leftovers no
        recording refers to) and ``attempts`` (snapshots taken).

    Raises
    ------
    ConflictError
        ``dest`` exists and is not an empty folder.
    NotFoundError
        The parent folder of ``dest`` does not exist.
    InputError
        A recording is missing or changed in the live data folder (nothing is written), or
        the study kept changing under the backup.
    """
    from studymgr.io.recordings import partial_path, stale_partials

    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ConflictError(f"{dest} already exists and is not empty: give a new folder for the "
                            "backup")
    if not dest.parent.is_dir():
        raise NotFoundError(f"folder {dest.parent} does not exist: create it first")
    for leftover in stale_partials(dest):
        logger.info("removing %s, left by an interrupted backup", leftover)
        _remove(leftover)
    db_name = study.path.name
    data_name = f"{study.path.stem}_data"
    tmp = partial_path(dest)
    try:
        for attempt in range(1, ATTEMPTS + 1):  # noqa: B007 (reported below)
            _remove(tmp)
            tmp.mkdir(mode=0o700)
            (tmp / data_name).mkdir(mode=0o700)
            info = _snapshot(study, tmp / db_name)
            try:
                files = _copy_recordings(study, info["scans"], tmp / data_name)
                break
            except _Changed as exc:
                logger.info("recording %s was replaced during the backup: starting again", exc)
        else:
            raise InputError(f"the study's recordings kept changing during {ATTEMPTS} backup "
                             "attempts: run the backup again when imports have finished")
        recorded = {f["path"] for f in files}
        inside = {p for p in _data_files(study.data_dir)} if study.data_dir.is_dir() else set()
        skipped = sorted(p for p in inside if not any(
            p == r or p.startswith(r + "/") for r in recorded))
        created_at = utcnow()
        manifest = {
            "format": FORMAT, "created_at": created_at, "created_with": __version__,
            "source": str(study.path.resolve()), "study": info["study"],
            "schema_version": info["schema_version"], "database": db_name,
            "database_sha256": _sha256(tmp / db_name), "data_dir": data_name,
            "counts": info["counts"], "audit_head": list(info["audit_head"]),
            "files": files, "skipped": skipped,
        }
        with open(tmp / MANIFEST, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        _private_tree(tmp)
        for folder, _dirs, _files in os.walk(tmp):
            _fsync_dir(Path(folder))
        if dest.exists():
            dest.rmdir()  # empty (checked above)
        os.rename(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        _remove(tmp)
        raise
    if skipped:
        logger.warning("%d file(s) of the data folder were not backed up: no recording refers "
                       "to them (see 'studymgr check')", len(skipped))
    logger.info("backed up %s to %s (%d recordings)", study.path, dest, len(files))
    return {"dest": str(dest), "study": info["study"], "schema_version": info["schema_version"],
            "created_at": created_at, "database": db_name, "data_dir": data_name,
            "n_recordings": len(files), "n_files": len(files) + 2,
            "bytes": sum(f["size"] for f in files) + (dest / db_name).stat().st_size,
            "counts": info["counts"], "skipped": skipped, "attempts": attempt}


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
    elif _sha256(db) != manifest["database_sha256"]:
        problems.append(f"the database {manifest['database']} differs from the manifest")
    data = folder / manifest["data_dir"]
    for entry in manifest["files"]:
        path = data / entry["path"]
        if not path.exists():
            problems.append(f"{entry['path']} is missing")
        elif hash_path(path)[0] != entry["sha256"]:
            problems.append(f"{entry['path']} differs from the manifest (SHA-256)")
    return problems


# -- restore ---------------------------------------------------------------------------------------
def _stored_data_dir(data: Path, db_path: Path) -> str:
    # as create_study stores it: relative to the database's folder when below it
    rel = os.path.relpath(data.resolve(), db_path.parent.resolve())
    return str(data.resolve()) if rel.startswith("..") else rel


def restore_study(backup: str | os.PathLike[str], to: str | os.PathLike[str], *,
                  data_dir: str | os.PathLike[str] | None = None,
                  user: str | None = None) -> dict[str, Any]:
    """Restore a backup as a new study, after verifying and checking it.

    Parameters
    ----------
    backup : path-like
        A folder written by :func:`backup_study`.
    to : path-like
        The new study database (must not exist; its folder must).
    data_dir : path-like | None
        Where the recordings go (must not exist); default ``<stem>_data`` beside ``to``.
    user : str | None
        Recorded in the audit trail (default ``$STUDYMGR_USER`` or the OS login name).

    Returns
    -------
    dict
        ``db, data_dir, study, schema_version`` (after an upgrade of an older backup),
        ``backup_created_at, n_recordings, checks`` (number of checks passed) and ``warnings``
        (problems that do not stop a restore: synchrony to recompute, unfinished runs).

    Raises
    ------
    ConflictError
        ``to`` or the data folder already exists (nothing is ever overwritten).
    InputError
        The backup differs from its manifest, or fails a check (the message names the first
        problem; ``studymgr --db BACKUP/<db> check`` lists all). Nothing is written.
    """
    from studymgr.io.recordings import partial_path
    from studymgr.runs.check import check_study
    from studymgr.runs.study import open_study
    from studymgr.store.study import default_data_dir

    folder = Path(backup)
    to = Path(to)
    final_data = Path(data_dir) if data_dir is not None else default_data_dir(to)
    if to.exists():
        raise ConflictError(f"{to} already exists: restore refuses to overwrite a study; give "
                            "a new --to path")
    if not to.parent.is_dir():
        raise NotFoundError(f"folder {to.parent} does not exist: create it first")
    if final_data.exists() and (not final_data.is_dir() or any(final_data.iterdir())):
        raise ConflictError(f"the data folder {final_data} already exists: restore refuses to "
                            "overwrite it; give another --to path (or --data-dir)")
    manifest = read_manifest(folder)
    problems = verify_backup(folder)
    if problems:
        raise InputError(f"the backup {folder} is damaged ({len(problems)} problem(s), e.g. "
                         f"{problems[0]}): nothing was restored; use another backup")
    tmp_db = partial_path(to)
    tmp_data = partial_path(final_data)
    study = None
    try:
        for leftover in (tmp_db, Path(f"{tmp_db}-wal"), Path(f"{tmp_db}-shm"), tmp_data):
            _remove(leftover)
        _copy_hashed(folder / manifest["database"], tmp_db)
        tmp_data.mkdir(mode=0o700)
        for entry in manifest["files"]:
            src = folder / manifest["data_dir"] / entry["path"]
            if src.is_dir():
                for rel in _data_files(src):
                    _copy_hashed(src / rel, tmp_data / entry["path"] / rel)
            else:
                _copy_hashed(src, tmp_data / entry["path"])
        _private_tree(tmp_data)
        study = open_study(tmp_db, user=user, data_dir=tmp_data)  # upgrades an older schema
        report = check_study(study)
        hard = report[(report["status"] == "problem") & ~report["check"].isin(SOFT_CHECKS)]
        if len(hard):
            first = hard.iloc[0]
            raise InputError(
                f"the backup {folder} fails {len(hard)} check(s), e.g. {first['check']}: "
                f"{first['where']} {first['detail']}: nothing was restored (see 'studymgr --db "
                f"{folder / manifest['database']} --data-dir {folder / manifest['data_dir']} "
                "check')")
        soft = report[report["status"] == "problem"]
        for r in soft.itertuples(index=False):
            logger.warning("restored study: %s %s: %s (%s)", r.check, r.where, r.detail, r.fix)
        _record_restore(study, manifest, folder, _stored_data_dir(final_data, to))
        schema_version = study.schema_version
        study.close()
        study = None
        if final_data.exists():
            final_data.rmdir()  # empty (checked above)
        os.rename(tmp_data, final_data)
        try:
            os.link(tmp_db, to)  # fails if someone created `to` meanwhile (no overwrite)
        except FileExistsError:
            os.rename(final_data, tmp_data)
            raise ConflictError(f"{to} was created meanwhile: nothing was restored") from None
        _remove(tmp_db)
        _fsync_dir(to.parent)
    except BaseException:
        if study is not None:
            study.close()
        for leftover in (tmp_db, Path(f"{tmp_db}-wal"), Path(f"{tmp_db}-shm"), tmp_data):
            _remove(leftover)
        raise
    logger.info("restored %s to %s", folder, to)
    return {"db": str(to), "data_dir": str(final_data), "study": manifest["study"],
            "schema_version": schema_version, "backup_created_at": manifest["created_at"],
            "n_recordings": len(manifest["files"]),
            "checks": int((report["status"] == "ok").sum()),
            "warnings": [f"{r.check} {r.where}: {r.detail} ({r.fix})"
                         for r in soft.itertuples(index=False)]}


def _record_restore(study: Any, manifest: dict[str, Any], folder: Path, stored_dir: str) -> None:
    """Point the restored study at its data folder and audit the restore (one transaction).

    Done by the store (:meth:`Study.set_data_dir`) on the restored copy, never on a live study.
    """
    study.set_data_dir(stored_dir, action="restore",
                       extra={"backup": folder.name,
                              "backup_created_at": manifest["created_at"],
                              "audit_head": manifest.get("audit_head")},
                       reason=f"restored from backup {folder.name}")
