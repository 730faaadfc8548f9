"""Integrity checks over a whole study: is everything stored still what it was when stored?

:func:`check_study` verifies, in this order (the ``check`` column of its result):

``schema``
    The database's schema version is the one this studymgr writes, and its tables, columns,
    constraints, indexes and triggers are exactly those of ``schemas/study.sql`` (a trigger
    dropped to tamper with the audit trail shows here).
``integrity``
    SQLite's ``PRAGMA integrity_check`` (the file's pages, indexes and records).
``foreign_keys``
    ``PRAGMA foreign_key_check``: no row refers to a missing row.
``audit``
    The audit trail's hash chain (:meth:`Study.verify_audit`): an edited, removed or inserted row
    breaks it.
``scores``
    Every stored instrument definition still matches its content hash, and every stored score is
    recomputed from its response's item values with that definition.
``scans``
    Every stored recording is hashed again and compared with its SHA-256 from import; files in
    the data folder that no scan refers to (left by an interrupted import) are listed.
``synchrony``
    Session results whose inputs changed since they were computed: synchrony (the session's pair
    and its pseudo partners, by their stored SHA-256), event-locked synchrony and EEG results
    (the pair's recordings, and the events they used: another consensus, a re-imported rater
    file).
``runs``
    Analysis runs left in state ``running`` (a computation that never finished).
``permissions``
    The database (and its ``-wal``/``-shm`` files) and everything in the data folder are
    readable by their owner only.

Each problem comes with the command that fixes it. Only leftovers (orphan files, partial copies)
and permissions are fixed by :func:`check_study` itself (``fix=True``); everything else needs a
person's decision (re-import, recompute, or restore from a backup).

This module reads the store (through its methods: no SQL here); it writes nothing to the
database.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from studymgr.errors import StudyError
from studymgr.store import (
    DatabaseError,
    open_store_as_is,
    shipped_schema_fingerprint,
    shipped_schema_version,
)

if TYPE_CHECKING:
    from studymgr.runs.study import Study

logger = logging.getLogger(__name__)

__all__ = ["CHECKS", "COLUMNS", "check_study", "n_problems", "open_for_check"]

COLUMNS = ["check", "status", "where", "detail", "fix"]
CHECKS = ("schema", "integrity", "foreign_keys", "audit", "scores", "scans", "synchrony", "runs",
          "permissions")
RESTORE = "restore the study from a backup ('studymgr restore BACKUP --to NEW.db')"
FIX_LEFTOVERS = "studymgr check --fix"


def _row(check: str, status: str, where: str, detail: str, fix: str = "") -> dict[str, str]:
    return {"check": check, "status": status, "where": where, "detail": detail, "fix": fix}


def open_for_check(path: str | os.PathLike[str], *, data_dir: str | os.PathLike[str] | None = None,
                   user: str | None = None) -> Study:
    """Open a study for checking, without upgrading an older schema (unlike ``open_study``).

    Parameters
    ----------
    path : path-like
        The study database.
    data_dir : path-like | None
        Use this data folder instead of the stored one.
    user : str | None
        Who runs the check (default ``$STUDYMGR_USER`` or the OS login name).

    Returns
    -------
    Study
        Close it when done.

    Raises
    ------
    NotFoundError, InputError
        No such file, not SQLite, not a study, or so damaged that it cannot be opened.
    """
    from studymgr.runs.study import Study

    return open_store_as_is(path, user=user, data_dir=data_dir, factory=Study,
                            damaged_hint=RESTORE)


def check_study(study: Study, *, fix: bool = False,
                progress: Callable[[str, int, int], None] | None = None) -> pd.DataFrame:
    """Run every check over an open study.

    Parameters
    ----------
    study : Study
        The open study (e.g. from :func:`open_for_check`).
    fix : bool
        Remove leftovers of interrupted imports (orphan files, partial copies; done under the
        write lock, so that a running import is never disturbed) and make files readable by
        their owner only. Nothing in the database is changed.
    progress : callable | None
        Called as ``progress(check, index, total)`` before each check.

    Returns
    -------
    pandas.DataFrame
        ``check, status, where, detail, fix``: one ``ok`` row per check without problems (its
        ``detail`` says what was verified), and one row per finding with status ``problem``,
        ``warning`` (harmless but unexpected) or ``fixed`` (by ``fix=True``).
    """
    runners: dict[str, Callable[[Study, bool], list[dict[str, str]]]] = {
        "schema": _schema, "integrity": _integrity, "foreign_keys": _foreign_keys,
        "audit": _audit, "scores": _scores, "scans": _scans, "synchrony": _synchrony,
        "runs": _runs, "permissions": _permissions,
    }
    rows: list[dict[str, str]] = []
    for index, name in enumerate(CHECKS):
        if progress is not None:
            progress(name, index, len(CHECKS))
        try:
            found = runners[name](study, fix)
        except (DatabaseError, StudyError, OSError, ValueError) as exc:
            # A damaged database can fail any query: report it instead of stopping.
            found = [_row(name, "problem", "", f"could not be checked ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())})", RESTORE)]
        rows += found
    frame = pd.DataFrame(rows, columns=COLUMNS)
    logger.info("checked %s: %d problem(s)", study.path, n_problems(frame))
    return frame


def n_problems(frame: pd.DataFrame) -> int:
    """Number of findings with status ``problem`` in a :func:`check_study` result."""
    return int((frame["status"] == "problem").sum())


# -- the checks ----------------------------------------------------------------------------------
def _schema(study: Study, fix: bool) -> list[dict[str, str]]:
    found = study.schema_version
    current = shipped_schema_version()
    if found < current:
        return [_row("schema", "problem", f"schema v{found}",
                     f"schema version {found} is older than this studymgr's ({current})",
                     "open the study with any command (e.g. 'studymgr status'): it is upgraded "
                     "in place (audited)")]
    if found > current:
        return [_row("schema", "problem", f"schema v{found}",
                     f"schema version {found} is newer than this studymgr's ({current})",
                     "upgrade studymgr (pip install -U studymgr)")]
    expected = shipped_schema_fingerprint()
    actual = study.schema_fingerprint()
    rows = []
    for key in sorted((set(expected) | set(actual)) - {"user_version"}):
        kind, _, name = key.partition(":")
        where = f"{kind} {name}"
        if key not in actual:
            rows.append(_row("schema", "problem", where, f"the {kind} {name} of schema "
                             f"v{current} is missing (dropped outside studymgr?)", RESTORE))
        elif key not in expected:
            harmless = kind in ("index", "view")
            rows.append(_row("schema", "warning" if harmless else "problem", where,
                             f"{kind} {name} is not part of schema v{current} (added outside "
                             "studymgr)", f"remove it, or {RESTORE}"))
        elif actual[key] != expected[key]:
            rows.append(_row("schema", "problem", where, f"the {kind} {name} differs from "
                             f"schema v{current} (changed outside studymgr)", RESTORE))
    if not any(r["status"] == "problem" for r in rows):
        n_tables = sum(k.startswith("table:") for k in expected)
        n_triggers = sum(k.startswith("trigger:") for k in expected)
        rows.insert(0, _row("schema", "ok", "", f"schema version {current}: {n_tables} tables "
                            f"and {n_triggers} triggers as shipped"))
    return rows


def _integrity(study: Study, fix: bool) -> list[dict[str, str]]:
    result = study.integrity_check()
    if result == ["ok"]:
        return [_row("integrity", "ok", "", "SQLite integrity_check: ok")]
    return [_row("integrity", "problem", "", f"SQLite integrity_check: {line}", RESTORE)
            for line in result]


def _foreign_keys(study: Study, fix: bool) -> list[dict[str, str]]:
    counts: dict[tuple[str, str], int] = {}
    for table, _rowid, parent in study.foreign_key_problems():
        counts[(table, parent)] = counts.get((table, parent), 0) + 1
    if not counts:
        return [_row("foreign_keys", "ok", "", "every reference points at an existing row")]
    return [_row("foreign_keys", "problem", table, f"{n} row(s) of {table} refer to missing "
                 f"{parent} rows", RESTORE) for (table, parent), n in sorted(counts.items())]


def _audit(study: Study, fix: bool) -> list[dict[str, str]]:
    n_rows = study.row_counts(["audit_log"])["audit_log"]
    problems = study.verify_audit()
    if not problems:
        return [_row("audit", "ok", "", f"{n_rows} audit rows, hash chain intact")]
    return [_row("audit", "problem", p.split(":")[0], p + ": the audit trail was changed "
                 "outside studymgr", RESTORE) for p in problems]


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def _scores(study: Study, fix: bool) -> list[dict[str, str]]:
    from studymgr.compute.instruments import load_instrument

    rows: list[dict[str, str]] = []
    # name@version -> the validated definition, or None when the stored one is not usable
    definitions: dict[str, Any] = {}
    for stored_def in study.instrument_definitions():
        where = f"{stored_def['name']}@{stored_def['version']}"
        try:
            inst = load_instrument(json.loads(stored_def["definition"]))
        except (StudyError, ValueError) as exc:
            rows.append(_row("scores", "problem", where, f"the stored definition is invalid "
                             f"({exc})", RESTORE))
            definitions[where] = None
            continue
        if inst.content_hash != stored_def["content_hash"]:
            rows.append(_row("scores", "problem", where, "the stored definition does not match "
                             "its content hash (edited outside studymgr)", RESTORE))
            definitions[where] = None
            continue
        definitions[where] = inst
    n_checked = 0
    for r in study.response_records():
        spec = f"{r['instrument']}@{r['version']}"
        inst = definitions.get(spec)
        if inst is None:
            continue
        where = f"{r['dyad']}/{r['session']} {spec} {r['role']} {r['timing']}"
        problem = _score_problem(inst, r["items"], r["scores"])
        if problem:
            rows.append(_row("scores", "problem", where, problem,
                             RESTORE + "; 'studymgr audit' shows the values as entered"))
        n_checked += 1
    if not any(r["status"] == "problem" for r in rows):
        rows.insert(0, _row("scores", "ok", "", f"{n_checked} responses: every score "
                            "recomputed from its items with the stored definition"))
    return rows


def _score_problem(inst: Any, values: dict[str, Any], stored: dict[str, tuple]) -> str | None:
    if set(values) != set(inst.item_ids):
        absent = sorted(set(inst.item_ids) - set(values))
        extra = sorted(set(values) - set(inst.item_ids))
        parts = ([f"item(s) {', '.join(absent)} missing"] if absent else []) + (
            [f"unknown item(s) {', '.join(extra)}"] if extra else [])
        return "the stored item values do not fit the instrument: " + "; ".join(parts)
    try:
        scores = inst.score(inst.parse_mapping(values))
    except StudyError as exc:
        return f"a stored item value is not allowed by the instrument ({exc})"
    if set(stored) != {s.scale for s in scores}:
        return (f"stored scales {', '.join(sorted(stored)) or '(none)'} differ from the "
                f"instrument's {', '.join(s.scale for s in scores)}")
    for s in scores:
        value, n_answered, n_items, prorated, band = stored[s.scale]
        if not (_same(value, s.value) and n_answered == s.n_answered and n_items == s.n_items
                and prorated == s.prorated and band == s.band):
            return (f"stored {s.scale} = {value} ({n_answered}/{n_items} items, band {band}) but "
                    f"its items give {s.value} ({s.n_answered}/{s.n_items}, band {s.band})")
    return None


def _scans(study: Study, fix: bool) -> list[dict[str, str]]:
    if not study.data_dir.is_dir():
        n = study.row_counts(["scans"])["scans"]
        return [_row("scans", "problem" if n else "warning", str(study.data_dir),
                     f"the data folder does not exist ({n} recordings are stored)",
                     "restore the folder from a backup, or give its place with --data-dir")]
    frame = study.check_scans(clean=fix)
    rows = []
    n_ok = int((frame["status"] == "ok").sum())
    for r in frame.itertuples(index=False):
        if r.status == "ok":
            continue
        if r.status in ("missing", "changed"):
            what = ("is missing from the data folder" if r.status == "missing"
                    else "changed since import (its SHA-256 differs)")
            rows.append(_row("scans", "problem", r.path,
                             f"the {r.role} recording of {r.dyad}/{r.session} {what}",
                             "restore the file from a backup, or re-import it with 'studymgr "
                             f"scans import {r.dyad} {r.session} --role {r.role} FILE --replace "
                             "--reason ...'"))
        else:
            what = ("a file no recording refers to" if r.status == "orphan"
                    else "a temporary copy")
            moved = r.detail[r.detail.find(": moved to "):] if fix else ""
            rows.append(_row("scans", "fixed" if fix else "problem", r.path,
                             f"{what}, left by an interrupted import (or another study's?)"
                             + moved, "" if fix else FIX_LEFTOVERS))
    if not any(r["status"] == "problem" for r in rows):
        rows.insert(0, _row("scans", "ok", "", f"{n_ok} recordings hashed: all as imported"))
    return rows


# What recomputes each kind of session run, and the modality of its recordings.
SESSION_RUNS = {"synchrony": ("nirs", "studymgr synchrony compute"),
                "eventlocked": ("nirs", "studymgr eventlocked compute"),
                "eeg": ("eeg", "studymgr eeg compute")}


def _events_changed(study: Study, dyad: str, number: int, settings: dict[str, Any],
                    stored: str | None) -> bool:
    """Whether the events a run used (by the run's source and labels, from its configuration)
    differ from those stored now."""
    from studymgr.runs.eventlocked import events_hash, select_events

    events = select_events(study.events(dyad, number), settings.get("source", "consensus"),
                           settings.get("labels", ["MOI", "MONI"]))
    return stored is not None and events_hash(events) != stored


def _synchrony(study: Study, fix: bool) -> list[dict[str, str]]:
    # (dyad, session, modality) -> {role: sha256} of the recordings stored now
    current: dict[tuple[str, int, str], dict[str, str]] = {}
    for scan in study.scans().itertuples(index=False):
        current.setdefault((scan.dyad, int(scan.session), scan.modality), {})[scan.role] = (
            scan.sha256)
    every = {sha for (_, _, modality), by_role in current.items() if modality == "nirs"
             for sha in by_role.values()}
    rows = []
    n_runs: dict[str, int] = {}
    for run in study.session_runs(list(SESSION_RUNS)).itertuples(index=False):
        run_id, kind, dyad, number = run.run, run.kind, run.dyad, int(run.session)
        modality, command = SESSION_RUNS[kind]
        n_runs[kind] = n_runs.get(kind, 0) + 1
        stored = run.input_hashes
        now = current.get((dyad, number, modality), {})
        changed = [f"the {role}'s recording" for role in ("therapist", "patient")
                   if stored.get(role) != now.get(role)]
        stale = sum(1 for pair in stored.get("pseudo") or [] for sha in pair if sha not in every)
        if stale:
            changed.append(f"{stale} pseudo-partner recording(s)")
        if kind != "synchrony" and _events_changed(study, dyad, number, run.config,
                                                   stored.get("events")):
            changed.append("the events")
        if changed:
            what = {"synchrony": "synchrony", "eventlocked": "event-locked synchrony",
                    "eeg": "EEG coupling and asymmetry"}[kind]
            rows.append(_row("synchrony", "problem", f"{dyad}/{number}",
                             f"{what} (run {run_id}) was computed from other inputs: "
                             f"{' and '.join(changed)} changed since",
                             f"{command} --dyad {dyad} --session {number}"))
    if not rows:
        counts = ", ".join(f"{n} {kind}" for kind, n in n_runs.items()) or "0"
        rows.append(_row("synchrony", "ok", "", f"session runs ({counts}): computed from the "
                         "recordings and events stored now"))
    return rows


def _runs(study: Study, fix: bool) -> list[dict[str, str]]:
    rows = [_row("runs", "problem", f"run {r.run}", f"the {r.kind} run started {r.started_at} "
                 "never finished (interrupted?)", f"run 'studymgr {r.kind} ...' again")
            for r in study.unfinished_runs().itertuples(index=False)]
    return rows or [_row("runs", "ok", "", "no unfinished analysis run")]


def _private_paths(study: Study) -> list[Path]:
    paths = [study.path] + [Path(f"{study.path}{suffix}") for suffix in ("-wal", "-shm",
                                                                         "-journal")]
    paths = [p for p in paths if p.exists()]
    if study.data_dir.is_dir():
        paths.append(study.data_dir)
        for root, dirs, files in os.walk(study.data_dir):
            paths += [Path(root) / name for name in [*dirs, *files]]
    return paths


def _permissions(study: Study, fix: bool) -> list[dict[str, str]]:
    rows = []
    n = 0
    for path in _private_paths(study):
        try:
            st = path.lstat()
        except FileNotFoundError:  # removed meanwhile (e.g. a -wal file at close)
            continue
        if path.is_symlink():
            continue
        n += 1
        mode = st.st_mode & 0o777
        if not mode & 0o077:
            continue
        wanted = 0o700 if path.is_dir() else 0o600
        shown = (path.relative_to(study.data_dir).as_posix()
                 if path.is_relative_to(study.data_dir) else str(path))
        if fix:
            os.chmod(path, wanted)
            rows.append(_row("permissions", "fixed", shown, f"was mode {mode:o}: now "
                             f"{wanted:o} (owner only)"))
        else:
            rows.append(_row("permissions", "problem", shown, f"mode {mode:o}: others can "
                             "read or change it", f"{FIX_LEFTOVERS} (owner only: chmod "
                             f"{wanted:o})"))
    if not any(r["status"] == "problem" for r in rows):
        rows.insert(0, _row("permissions", "ok", "", f"{n} files and folders readable by "
                            "their owner only"))
    return rows
