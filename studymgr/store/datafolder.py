"""One data folder, one study: the marker file that names the study a data folder belongs to.

A study's data folder holds ``.studymgr-study.json`` with the study's random id (``study.uid``)
and name. It is written when the study is created and checked whenever the folder is used (every
open, ``--data-dir``, :meth:`~studymgr.store.study.Store.set_data_dir`), so that a study never
takes another study's recordings for leftovers of its own. It lives in the store layer because
creating and opening a study must write and check it, and the store may not import ``io``; it is
plain I/O of one small JSON file (the store already creates the data folder itself).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from studymgr.errors import ConflictError, InputError

MARKER = ".studymgr-study.json"
QUARANTINE = ".quarantine"  # where check --fix and imports move files instead of deleting them

__all__ = ["MARKER", "QUARANTINE", "read_marker", "write_marker", "check_folder",
           "unknown_files"]


def read_marker(folder: Path) -> dict[str, str] | None:
    """The marker of ``folder`` (``{"uid", "name"}``), or None when it has none."""
    path = Path(folder) / MARKER
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
        uid, name = data["uid"], data["name"]
        if not (isinstance(uid, str) and uid and isinstance(name, str)):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{path} is not a studymgr data-folder marker (damaged?): restore it "
                         "from a backup, or move it away if the folder is this study's") from None
    return {"uid": uid, "name": name}


def write_marker(folder: Path, uid: str, name: str) -> None:
    """Write the marker atomically (temporary file, fsync, rename), readable by its owner only."""
    path = Path(folder) / MARKER
    tmp = path.with_name(f"{MARKER}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"uid": uid, "name": name,
                       "note": "this folder holds the recordings of the studymgr study named "
                               "here; do not use it as another study's data folder"}, fh)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def unknown_files(folder: Path, known: Iterable[str]) -> list[str]:
    """Files under ``folder`` (relative POSIX paths) that are not, and are not inside, one of
    the ``known`` relative paths; the marker is not counted, empty folders are ignored."""
    known = set(known)
    out = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            rel = (Path(root) / name).relative_to(folder).as_posix()
            if rel == MARKER:
                continue
            parts = rel.split("/")
            if not any("/".join(parts[:i]) in known for i in range(1, len(parts) + 1)):
                out.append(rel)
    return sorted(out)


def check_folder(folder: Path, *, uid: str | None, name: str, known: Callable[[], set[str]],
                 claim: bool) -> None:
    """Refuse a data folder that belongs to another study; mark an unmarked one as this study's.

    Parameters
    ----------
    folder : Path
        The data folder (a missing one is accepted: commands that need it say so).
    uid : str | None
        This study's id (None: an older schema opened as it is, whose id is not known yet; only
        the folder's contents are checked then).
    name : str
        This study's name (for messages and the marker).
    known : callable
        Returns the relative paths of this study's recordings (asked only when needed).
    claim : bool
        Write the marker into an unmarked folder that holds nothing but this study's recordings
        (the upgrade path of a study older than markers); False leaves the folder unchanged.

    Raises
    ------
    ConflictError
        The folder's marker names another study, or an unmarked folder holds files this study
        does not know.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return
    marker = read_marker(folder)
    if marker is not None:
        if uid is None or marker["uid"] == uid:
            return
        raise ConflictError(
            f"the data folder {folder} belongs to another study ('{marker['name']}', id "
            f"{marker['uid'][:8]}), not to '{name}': pass this study's own data folder with "
            "--data-dir (nothing was changed)")
    if not any(folder.iterdir()):
        if claim and uid:
            write_marker(folder, uid, name)
        return
    foreign = unknown_files(folder, known())
    if foreign:
        raise ConflictError(
            f"the data folder {folder} has no study marker and holds {len(foreign)} file(s) "
            f"study '{name}' does not know (e.g. {foreign[0]}): it may be another study's. "
            "Pass this study's own data folder with --data-dir, or, if it is this study's, "
            "move those files out of it (nothing was changed)")
    if claim and uid:
        write_marker(folder, uid, name)
