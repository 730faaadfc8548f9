"""Backups of a live study, and restoring them after checking them.

A backup is a folder (see :mod:`studymgr.io.backup` for its files)::

    DEST/
      manifest.json        what was copied: every file with its SHA-256, counts, versions
      study.db             the database (SQLite backup API: one consistent snapshot)
      study_data/          the recordings the snapshot refers to (same layout as the data folder)

It is made while other processes keep writing: the store copies the database in one step of
SQLite's backup API (:meth:`Study.write_snapshot`), which reads one consistent snapshot without
blocking writers; then every recording that snapshot refers to is copied and its SHA-256 compared
with the one stored at import. A recording replaced meanwhile (its file removed by the replacing
import) makes the whole backup start again from a new snapshot. Files of the data folder that no
recording refers to (leftovers of interrupted imports, anything else put there by hand) are
not copied; the manifest lists them as ``skipped``. The backup is assembled under a temporary
name and renamed into place at the end, so ``DEST`` is either complete or absent.

Restoring (:func:`restore_study`) never overwrites anything: the database and data folder are
copied to temporary names beside the new database, every file is compared with the manifest, the
copy is opened (an older schema is upgraded) and checked with
:func:`studymgr.runs.check.check_study`; only a copy without problems (results to recompute are
only reported) is moved into place, with one audit row ``restore`` saying where it came from (and
where its data folder now is).

:func:`read_manifest` and :func:`verify_backup` (file work only) live in
:mod:`studymgr.io.backup` and are importable from here too.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studymgr._version import __version__
from studymgr.errors import ConflictError, InputError, NotFoundError
from studymgr.ids import utcnow
from studymgr.io.backup import (
    FORMAT,
    MANIFEST,
    copy_backup,
    copy_hashed,
    data_files,
    fsync_dir,
    move_into_place,
    read_manifest,
    remove_path,
    sha256_file,
    verify_backup,
    write_manifest,
)

if TYPE_CHECKING:
    from studymgr.runs.study import Study

logger = logging.getLogger(__name__)

__all__ = ["FORMAT", "MANIFEST", "backup_study", "read_manifest", "restore_study",
           "verify_backup"]

#: A backup starts again (new snapshot) at most this many times when recordings change meanwhile.
ATTEMPTS = 5
#: Problems that do not stop a restore (reported as warnings): results to recompute.
SOFT_CHECKS = ("synchrony", "runs")


class _Changed(Exception):
    """A recording of the snapshot was replaced while the backup copied it."""


# -- backup --------------------------------------------------------------------------------------
def _snapshot(study: Study, target: Path) -> dict[str, Any]:
    """Copy the database in one backup step; return what the snapshot holds."""
    return study.write_snapshot(target)


def _copy_recordings(study: Study, scans: list[dict[str, str]], data_out: Path) -> list[dict]:
    """Copy the snapshot's recordings, verifying each against its stored SHA-256."""
    from studymgr.io.recordings import hash_path

    copied = []
    for scan in scans:
        src = study.data_dir / scan["path"]
        dst = data_out / scan["path"]
        try:
            if src.is_dir():
                for rel in data_files(src):
                    copy_hashed(src / rel, dst / rel)
                sha, size = hash_path(dst)
            else:
                sha, size = copy_hashed(src, dst)
        except FileNotFoundError:
            sha, size = None, 0
        if sha != scan["sha256"]:
            # Replaced meanwhile (the live study no longer refers to this file) or damaged.
            live = study.scans()
            live_sha = set(live.loc[live["path"] == scan["path"], "sha256"])
            if live_sha != {scan["sha256"]}:
                raise _Changed(scan["path"])
            what = "is missing" if sha is None else "changed since import (SHA-256 differs)"
            raise InputError(f"the recording {scan['path']} {what}: nothing was backed up; run "
                             "'studymgr check' and restore or re-import it first")
        copied.append({"path": scan["path"], "sha256": sha, "size": size, "kind": "recording"})
    return copied


def backup_study(study: Study, dest: str | os.PathLike[str]) -> dict[str, Any]:
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
        remove_path(leftover)
    db_name = study.path.name
    data_name = f"{study.path.stem}_data"
    tmp = partial_path(dest)
    try:
        for attempt in range(1, ATTEMPTS + 1):  # noqa: B007 (reported below)
            remove_path(tmp)
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
        inside = set(data_files(study.data_dir)) if study.data_dir.is_dir() else set()
        skipped = sorted(p for p in inside if not any(
            p == r or p.startswith(r + "/") for r in recorded))
        created_at = utcnow()
        write_manifest(tmp, {
            "format": FORMAT, "created_at": created_at, "created_with": __version__,
            "source": str(study.path.resolve()), "study": info["study"],
            "schema_version": info["schema_version"], "database": db_name,
            "database_sha256": sha256_file(tmp / db_name), "data_dir": data_name,
            "counts": info["counts"], "audit_head": list(info["audit_head"]),
            "files": files, "skipped": skipped,
        })
        move_into_place(tmp, dest)
    except BaseException:
        remove_path(tmp)
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
            remove_path(leftover)
        copy_backup(folder, manifest, tmp_db, tmp_data)
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
        remove_path(tmp_db)
        fsync_dir(to.parent)
    except BaseException:
        if study is not None:
            study.close()
        for leftover in (tmp_db, Path(f"{tmp_db}-wal"), Path(f"{tmp_db}-shm"), tmp_data):
            remove_path(leftover)
        raise
    logger.info("restored %s to %s", folder, to)
    return {"db": str(to), "data_dir": str(final_data), "study": manifest["study"],
            "schema_version": schema_version, "backup_created_at": manifest["created_at"],
            "n_recordings": len(manifest["files"]),
            "checks": int((report["status"] == "ok").sum()),
            "warnings": [f"{r.check} {r.where}: {r.detail} ({r.fix})"
                         for r in soft.itertuples(index=False)]}


def _record_restore(study: Study, manifest: dict[str, Any], folder: Path,
                    stored_dir: str) -> None:
    """Point the restored study at its data folder and audit the restore (one transaction).

    Done by the store (:meth:`Study.set_data_dir`) on the restored copy, never on a live study.
    """
    study.set_data_dir(stored_dir, action="restore",
                       extra={"backup": folder.name,
                              "backup_created_at": manifest["created_at"],
                              "audit_head": manifest.get("audit_head")},
                       reason=f"restored from backup {folder.name}")
