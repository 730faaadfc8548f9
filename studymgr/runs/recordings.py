"""Recordings in and out: import them (checked, read, copied crash-safely, stored), read them
back, and compare the data folder with the database.

The files are handled by :mod:`studymgr.io.recordings`, the rows by
:mod:`studymgr.store.recordings`; this module is the protocol between them.

How an import stays safe when the process dies at any moment
------------------------------------------------------------
1. Everything is checked before the data folder is touched: the session (known, unlocked), the
   file (read with MNE, see :func:`studymgr.io.recordings.read_recording`), and whether the session
   already has a recording for that role.
2. The recording is copied to ``.<name>.partial-<pid>`` beside its final place, fsynced, and its
   hash compared with the source's (:func:`studymgr.io.recordings.stage_copy`).
3. One write transaction (``BEGIN IMMEDIATE``: other writers wait) re-checks the database, moves
   the copy into place with an atomic rename and inserts the scan, its events, the pair check and
   the audit rows; then it commits.
4. If the transaction fails, the file just moved is removed (and any folder the import created).
   A replaced recording's old file is removed only after the commit.

A process killed at step 2 leaves a ``.partial-<pid>`` copy: hidden, never referenced, and removed
by the next import of the same target (only when process ``pid`` has ended, so a parallel import
is never disturbed). A process killed inside step 3 leaves the final file without a database row
(SQLite rolls the transaction back): the next import of that target, inside its own transaction,
finds a file no row refers to, logs whether its hash matches the new recording, moves it into the
data folder's dated quarantine folder (``.quarantine/<time>/``; an import never overwrites a file
it did not write) and places its own verified copy. A process killed after a replacement's
commit leaves the old file unreferenced. :meth:`RecordingFilesMixin.check_scans` lists all such
leftovers (and recordings that are missing or changed on disk) and, with ``clean=True``, moves
them into quarantine (never deletes them).

:meth:`RecordingFilesMixin.import_scan` runs these steps as named methods: ``_incoming_scan``
(step 1, the database side), :func:`_read_and_assess` (step 1, the file), ``_store_scan`` (steps
2-4) with ``_write_scan_rows`` inside its transaction.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from studymgr._docs import fill_doc
from studymgr.errors import ConflictError, InputError, NotFoundError, StudyError
from studymgr.ids import ROLES, check_choice, check_code, check_session_number, utcnow
from studymgr.store.recordings import check_modality

if TYPE_CHECKING:
    from studymgr.compute.quality import QualityConfig
    from studymgr.store.study import Store

    #: The base of the Study mixins of this layer (here and :mod:`studymgr.runs.events`): what
    #: their methods find on ``self`` (a Study, so a Store) for the type checker; ``object`` at
    #: run time, where Study puts the mixins before Store among its bases.
    StudyMixinBase = Store
else:
    StudyMixinBase = object

logger = logging.getLogger(__name__)

SUMMARY_COLUMNS = ["path", "dyad", "session", "role", "outcome", "detail"]


def check_reason(replace: bool, reason: str | None) -> None:
    """Refuse ``replace`` without a reason (it is kept in the audit trail)."""
    if replace and (reason is None or not reason.strip()):
        raise InputError("replacing needs --reason \"...\" (kept in the audit trail)")


@dataclass(frozen=True)
class _Incoming:
    """A recording about to be imported, as checked before it is read in full."""

    dyad: str
    session: int
    role: str
    modality: str
    session_id: int
    person: str
    source: Path  # the file or folder the format was recognised from
    sha256: str
    size_bytes: int
    existing: dict[str, Any] | None  # the scan row it would replace

    @property
    def key(self) -> str:
        """``dyad/session/role``: the audit key of the scan."""
        return f"{self.dyad}/{self.session}/{self.role}"


@dataclass(frozen=True)
class _Reading:
    """What reading a recording gave."""

    fmt: str
    meta: dict[str, Any]  # see studymgr.io.recordings.describe_recording
    events: list[dict[str, Any]]  # the recording's own annotations
    quality: dict[str, Any]
    identifying: list[str]  # names of identifying fields found, never their values


def _read_and_assess(path: str | os.PathLike[str], fmt: str | None, modality: str,
                     config: QualityConfig, source: Path) -> _Reading:
    """Step 1, the file: read the recording with MNE, describe it, find its events and
    identifying metadata, assess its quality (fNIRS or EEG)."""
    from studymgr.io import recordings as scans
    from studymgr.io.privacy import identifying_metadata

    raw, fmt, notes = scans.read_recording(path, fmt, modality=modality)
    identifying = identifying_metadata(raw, source)  # names of fields, never their values
    meta = scans.describe_recording(raw)
    events, event_notes = scans.recording_events(raw)
    if modality == "eeg":
        from studymgr.compute.eeg import assess_eeg_quality

        quality = assess_eeg_quality(raw)
    else:
        from studymgr.compute.quality import assess_quality

        quality = assess_quality(raw, config)
    quality["notes"] = notes + event_notes
    return _Reading(fmt=fmt, meta=meta, events=events, quality=quality, identifying=identifying)


class RecordingFilesMixin(StudyMixinBase):
    """Study methods that bring recordings in and out of the data folder (mixed into
    :class:`studymgr.runs.study.Study`; the rows are :class:`studymgr.store.recordings.
    RecordingsMixin`'s)."""

    # -- importing -----------------------------------------------------------------------------
    @fill_doc
    def import_scan(
        self,
        dyad: str,
        session: int,
        role: str,
        path: str | os.PathLike[str],
        *,
        modality: str = "nirs",
        fmt: str | None = None,
        replace: bool = False,
        reason: str | None = None,
        sci_threshold: float = 0.5,
    ) -> dict[str, Any]:
        """Import one person's recording of a session: check, hash, copy, describe, assess.

        Parameters
        ----------
        %(dyad)s
        %(session)s
        role : str
            ``therapist`` or ``patient``: whose recording it is.
        path : path-like
            SNIRF file, NIRx folder (or its ``.hdr``), Hitachi ``.csv``, BOXY ``.txt`` or a
            ``.fif`` file with fNIRS channels; for EEG an EDF, BDF or FIF file, or a BrainVision
            or EEGLAB folder (see :mod:`studymgr.io.recordings`).
        modality : str
            ``nirs`` (fNIRS) or ``eeg``. An EEG recording's quality is
            :func:`studymgr.compute.eeg.assess_eeg_quality` (flat, saturated, line noise, alpha
            peak).
        fmt : str | None
            Force the format (default: recognised from the path).
        replace : bool
            Replace the session's existing recording for this role (needs ``reason``).
        reason : str | None
            Why (kept in the audit trail).
        sci_threshold : float
            Minimum scalp coupling index of a usable channel.

        Returns
        -------
        dict
            ``outcome`` ("imported", "replaced" or "skipped" when the same file is already
            stored), ``dyad, session, role, person, path, sha256, format, sfreq, n_channels,
            duration_s, meas_date, usable_share, cardiac, cardiac_hz, n_events, pair_status``
            and, when imported, ``identifying_metadata`` (names of identifying fields found in
            the file, see :mod:`studymgr.io.privacy`; also logged as a warning and audited).

        Raises
        ------
        NotFoundError, InputError, ConflictError
            Unknown dyad/session, bad file, locked session, another recording already stored.
        """
        from studymgr.compute.quality import QualityConfig

        check_code(dyad, "dyad")
        number = check_session_number(session)
        check_choice(role, ROLES, "role")
        check_modality(modality)
        check_reason(replace, reason)
        config = QualityConfig(sci_threshold=float(sci_threshold))
        new = self._incoming_scan(dyad, number, role, path, modality)
        base = {"dyad": dyad, "session": number, "role": role, "person": new.person}
        existing = new.existing
        if existing is not None:
            if existing["sha256"] == new.sha256:
                logger.info("%s/%s %s: the same recording is already stored", dyad, number, role)
                return {**base, "outcome": "skipped", **self._scan_summary(existing)}
            if not replace:
                raise ConflictError(
                    f"session {dyad}/{number} already has a {role} recording "
                    f"({existing['path']}, imported {existing['imported_at'][:10]}): to replace "
                    "it, add --replace --reason \"...\"")
        reading = _read_and_assess(path, fmt, modality, config, new.source)
        rel, pair = self._store_scan(new, reading, reason)
        stored = self._scan_row(new.session_id, role, modality)
        logger.info("stored %s/%s %s as %s (pair: %s)", dyad, number, role, rel, pair)
        return {**base, "outcome": "replaced" if existing else "imported",
                **self._scan_summary(stored), "identifying_metadata": reading.identifying}

    def _incoming_scan(self, dyad: str, number: int, role: str, path: str | os.PathLike[str],
                       modality: str) -> _Incoming:
        """Step 1, the database side: the session (known, unlocked), whose recording it is,
        the file's format, hash and size, and the recording it would replace."""
        from studymgr.io import recordings as scans

        sid = self.require_unlocked(dyad, number)
        person = self.dyad_members(dyad)[role]
        _, source = scans.detect_format(path, modality)
        sha, size = scans.hash_path(source)
        return _Incoming(dyad=dyad, session=number, role=role, modality=modality,
                         session_id=sid, person=person, source=source, sha256=sha,
                         size_bytes=size, existing=self._scan_row(sid, role, modality))

    def _store_scan(self, new: _Incoming, reading: _Reading,
                    reason: str | None) -> tuple[str, str | None]:
        """Steps 2-4: stage a verified copy, then one transaction places it and writes the rows;
        on failure remove what this import put in the data folder. Returns the stored path
        and the pair's status."""
        from studymgr.io import recordings as scans
        from studymgr.io.files import quarantine, quarantine_folder

        if not self.data_dir.is_dir():
            raise NotFoundError(f"the study's data folder {self.data_dir} does not exist: "
                                "restore it or pass --data-dir")
        rel = self._free_scan_path(new.dyad, new.session, new.person, reading.fmt, new.modality)
        final = self.data_dir / rel
        created = _make_parents(final.parent, self.data_dir)
        tmp: Path | None = None
        placed = False
        try:
            tmp = scans.stage_copy(new.source, final, new.sha256)
            with self.transaction():
                self._recheck(new, rel)
                if final.exists() or final.is_symlink():
                    orphan_sha, _ = scans.hash_path(final)
                    moved = quarantine(final, self.data_dir, quarantine_folder(self.data_dir))
                    logger.warning(
                        "%s has no database row (left by an interrupted import?; %s): moved it "
                        "to %s", rel, "same content" if orphan_sha == new.sha256
                        else "other content", moved.relative_to(self.data_dir).as_posix())
                scans.place(tmp, final)
                placed = True
                pair = self._write_scan_rows(new, reading, rel, reason)
        except BaseException:
            if tmp is not None and not placed:
                scans.remove_path(tmp)
            if placed:
                scans.remove_path(final)
            _remove_empty(created)
            raise
        if new.existing is not None and new.existing["path"] != rel:
            scans.remove_path(self.data_dir / new.existing["path"])
        return rel, pair

    def _recheck(self, new: _Incoming, rel: str) -> None:
        # inside the write transaction: nobody else can change these until we commit
        self.require_unlocked(new.dyad, new.session)
        now = self._scan_row(new.session_id, new.role, new.modality)
        existing = new.existing
        changed = (now is None) != (existing is None) or (
            now is not None and existing is not None and now["sha256"] != existing["sha256"])
        if changed or self._scan_path_taken(rel):
            raise ConflictError(f"another import changed session {new.dyad}/{new.session} "
                                f"({new.role}) meanwhile: run the command again")

    def _write_scan_rows(self, new: _Incoming, reading: _Reading, rel: str,
                         reason: str | None) -> str | None:
        """Inside the import's transaction: the scan row (a replacement keeps the scan's id),
        its audit row, its events and the pair check. Returns the pair's status."""
        meta, quality = reading.meta, reading.quality
        row = {
            "format": reading.fmt, "path": rel, "sha256": new.sha256,
            "size_bytes": new.size_bytes, "sfreq": meta["sfreq"],
            "n_channels": meta["n_channels"], "channels": json.dumps(meta["channels"]),
            "duration_s": meta["duration_s"], "meas_date": meta["meas_date"],
            "quality": json.dumps(quality), "usable_share": quality["usable_share"],
            "imported_by": self.user, "imported_at": utcnow(),
        }
        existing = new.existing
        scan_id = self._write_scan(new.session_id, new.role, new.modality, new.person, row,
                                   None if existing is None else int(existing["id"]))
        summary = _audit_summary(row, quality, Path(new.source).name, len(reading.events))
        if reading.identifying:
            summary["identifying_metadata"] = reading.identifying
        self.log("replace" if existing else "import", "scan", new.key,
                 old=None if existing is None else _audit_summary(existing),
                 new=summary, reason=reason)
        self._write_recording_events(new.session_id, scan_id, new.key, reading.events,
                                     existing is not None)
        return self._update_pair(new.dyad, new.session, new.session_id, new.modality)

    def _free_scan_path(self, dyad: str, number: int, person: str, fmt: str,
                        modality: str) -> str:
        """The first stored-path candidate that no scan row refers to."""
        from studymgr.io import recordings as scans

        kind = self.session(dyad, number)["kind"]
        acq = dyad if len(self._person_dyads(person)) > 1 else None
        rep = None
        while True:
            rel = scans.bids_relpath(person, number, task=kind, acq=acq, fmt=fmt,
                                     modality=modality, rep=rep)
            if not self._scan_path_taken(rel):
                return rel
            rep = 2 if rep is None else rep + 1

    def _update_pair(self, dyad: str, number: int, sid: int, modality: str) -> str | None:
        """Check and store the pair of a session when both recordings exist."""
        from studymgr.io.recordings import check_pair

        rows = self._pair_sides(sid, modality)
        if set(rows) != set(ROLES):
            return None
        sides = {}
        for role, r in rows.items():
            sides[role] = {"sfreq": r["sfreq"], "duration_s": r["duration_s"],
                           "meas_date": r["meas_date"],
                           "channels": [c["name"] for c in r["channels"]
                                        if (c["type"] == "eeg") == (modality == "eeg")
                                        and c["type"].startswith(("fnirs", "hb", "eeg"))]}
        result = check_pair(sides["therapist"], sides["patient"])
        self._save_scan_pair(sid, modality, f"{dyad}/{number}", rows["therapist"]["id"],
                             rows["patient"]["id"], result)
        if result["status"] != "ok":
            logger.warning("session %s/%s: the two recordings %s: %s", dyad, number,
                           "cannot be analysed together" if result["status"] == "error"
                           else "need care", "; ".join(result["messages"]))
        return str(result["status"])

    # -- batch import --------------------------------------------------------------------------
    def plan_scans_dir(self, folder: str | os.PathLike[str],
                       mapping: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
        """Which recording in ``folder`` belongs to which dyad, session and role.

        Without ``mapping``, a BIDS layout is expected: ``sub-<person>/ses-<n>/nirs/`` holding
        ``*.snirf`` files or NIRx folders. The person's code gives the role and the dyad (from the
        people and dyads tables); a person in several dyads (a shared therapist) needs the dyad
        in the name's ``acq`` entity, e.g. ``sub-T01_ses-1_task-therapy_acq-D02_nirs.snirf``.
        Other files (sidecars such as ``*_channels.tsv``, ``*.json``) are ignored.

        With ``mapping``, a CSV with columns ``path,dyad,session,role`` lists exactly the
        recordings to import (paths relative to ``folder``, or absolute).

        Returns
        -------
        list of dict
            ``{"path", "source", "dyad", "session", "role", "refused"}`` per recording;
            ``refused`` holds the reason a recording cannot be imported (else None).
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise NotFoundError(f"folder {folder} does not exist: check the path")
        plan = (self._plan_mapping(folder, Path(mapping)) if mapping is not None
                else self._plan_bids(folder))
        # two recordings for one dyad/session/role cannot both be imported: refuse both
        seen: dict[tuple, list[dict[str, Any]]] = {}
        for item in plan:
            if item["refused"] is None:
                seen.setdefault((item["dyad"], item["session"], item["role"]), []).append(item)
        for (dyad, number, role), items in seen.items():
            if len(items) > 1:
                names = ", ".join(i["path"] for i in items)
                for item in items:
                    item["refused"] = (f"{len(items)} recordings for {dyad}/{number} {role} "
                                       f"({names}): use --mapping to choose one")
        return plan

    def _plan_bids(self, folder: Path) -> list[dict[str, Any]]:
        from studymgr.io import recordings as scans

        known = self.people()
        people = dict(zip(known["code"], known["role"], strict=True))
        plan = []
        for nirs_dir in sorted(folder.glob("sub-*/ses-*/nirs")):
            for entry in sorted(nirs_dir.iterdir()):
                if entry.name.startswith("."):
                    continue
                is_nirx = entry.is_dir() and any(p.suffix == ".hdr" for p in entry.iterdir())
                if not (is_nirx or (entry.is_file() and entry.suffix == ".snirf")):
                    logger.debug("ignoring %s (not a recording)", entry)
                    continue
                rel = entry.relative_to(folder).as_posix()
                item = {"path": rel, "source": entry, "dyad": None, "session": None,
                        "role": None, "refused": None}
                plan.append(item)
                try:
                    entities = scans.parse_bids_path(rel)
                    person = check_code(entities["sub"], "person")
                    try:
                        item["session"] = int(entities["ses"])
                    except ValueError:
                        raise InputError(f"session label ses-{entities['ses']} is not a "
                                         "number: use --mapping") from None
                    if person not in people:
                        raise NotFoundError(f"person {person} is not in the study (add the "
                                            "dyad first)")
                    item["role"] = people[person]
                    item["dyad"] = self._dyad_of(person, entities.get("acq"))
                except StudyError as exc:
                    item["refused"] = str(exc)
        return plan

    def _dyad_of(self, person: str, acq: str | None) -> str:
        dyads = self._person_dyads(person)
        if acq in dyads:
            return str(acq)
        if len(dyads) == 1:
            return dyads[0]
        if not dyads:
            raise NotFoundError(f"person {person} is in no dyad")
        raise InputError(f"{person} is in dyads {', '.join(dyads)}: name the dyad in the file "
                         "name (acq-<dyad>) or use --mapping")

    def _plan_mapping(self, folder: Path, mapping: Path) -> list[dict[str, Any]]:
        if not mapping.is_file():
            raise NotFoundError(f"mapping file {mapping} does not exist: check the path")
        try:
            with open(mapping, newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                rows = list(reader)
                header = [(h or "").strip().lower() for h in reader.fieldnames or []]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InputError(f"{mapping.name} is not a readable CSV file ({exc})") from None
        if not rows:
            raise InputError(f"{mapping.name} has no rows: expected columns path,dyad,session,"
                             "role")
        need = ["path", "dyad", "session", "role"]
        if sorted(header) != sorted(need):
            raise InputError(f"{mapping.name}: columns must be path,dyad,session,role (found "
                             f"{','.join(header)})")
        plan, seen = [], set()
        for line_no, row in enumerate(rows, start=2):
            extra = row.pop(None, None)  # values beyond the header's columns
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items()}
            item = {"path": row["path"], "source": None, "dyad": row["dyad"] or None,
                    "session": None, "role": row["role"] or None, "refused": None}
            plan.append(item)
            try:
                if extra:
                    raise InputError(f"line {line_no}: {len(extra)} value(s) more than the "
                                     "columns path,dyad,session,role")
                if not row["path"]:
                    raise InputError(f"line {line_no}: empty path")
                source = Path(row["path"])
                source = source if source.is_absolute() else folder / source
                if source in seen:
                    raise InputError(f"line {line_no}: {row['path']} is listed twice")
                seen.add(source)
                item["source"] = source
                check_code(row["dyad"], "dyad")
                item["session"] = check_session_number(row["session"])
                check_choice(row["role"], ROLES, "role")
                self.session_id(row["dyad"], item["session"])
                try:
                    exists = source.exists()
                except (OSError, ValueError):  # e.g. a NUL character in the path
                    raise InputError(f"line {line_no}: {row['path']!r} is not a usable "
                                     "path") from None
                if not exists:
                    raise NotFoundError(f"{row['path']} does not exist")
            except StudyError as exc:
                item["refused"] = str(exc)
        return plan

    def import_scans_dir(
        self,
        folder: str | os.PathLike[str],
        *,
        mapping: str | os.PathLike[str] | None = None,
        sci_threshold: float = 0.5,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> pd.DataFrame:
        """Import every recording of a folder, each on its own (all-or-nothing per file).

        Parameters
        ----------
        folder : path-like
            The folder (see :meth:`plan_scans_dir` for the naming pattern).
        mapping : path-like | None
            CSV with columns ``path,dyad,session,role`` for any other layout.
        sci_threshold : float
            Minimum scalp coupling index of a usable channel.
        progress : callable | None
            Called as ``progress(index, total, path)`` before each recording.

        Returns
        -------
        pandas.DataFrame
            One row per recording: ``path, dyad, session, role, outcome, detail``; ``outcome``
            is ``imported``, ``skipped`` (already stored, same hash) or ``refused`` (``detail``
            says why). Nothing is stored for a refused recording.
        """
        plan = self.plan_scans_dir(folder, mapping)
        rows = []
        for index, item in enumerate(plan):
            if progress is not None:
                progress(index, len(plan), item["path"])
            row = {k: item[k] for k in ("path", "dyad", "session", "role")}
            if item["refused"] is not None:
                rows.append({**row, "outcome": "refused", "detail": item["refused"]})
                continue
            try:
                result = self.import_scan(item["dyad"], item["session"], item["role"],
                                          item["source"], sci_threshold=sci_threshold)
            except StudyError as exc:
                rows.append({**row, "outcome": "refused", "detail": str(exc)})
                continue
            detail = result["path"]
            if result["outcome"] == "skipped":
                detail = f"already stored (same sha256) as {result['path']}"
            rows.append({**row, "outcome": result["outcome"], "detail": detail})
        frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
        frame["session"] = frame["session"].astype("Int64")
        return frame

    # -- reading back and checking -------------------------------------------------------------
    def load_scan(self, dyad: str, session: int, role: str, modality: str = "nirs", *,
                  preload: bool = True) -> Any:
        """Read a stored recording back as an MNE Raw, after checking its hash.

        Raises
        ------
        NotFoundError
            No such recording, or its file is missing from the data folder.
        InputError
            The file changed since import (its SHA-256 differs from the stored one).
        """
        from studymgr.io import recordings as scans

        row = self._scan_for(dyad, session, role, modality)
        path = self.data_dir / row["path"]
        if not path.exists():
            raise NotFoundError(f"the {role} recording of {dyad}/{session} is missing from the "
                                f"data folder ({path}): run 'studymgr scans check'")
        sha, _ = scans.hash_path(path)
        if sha != row["sha256"]:
            raise InputError(f"the {role} recording of {dyad}/{session} ({row['path']}) changed "
                             "since import (its SHA-256 differs): run 'studymgr scans check' and "
                             "restore the file or re-import it with --replace")
        raw, _, _ = scans.read_recording(path, row["format"], preload=preload,
                                         modality=modality)
        return raw

    def check_scans(self, *, clean: bool = False) -> pd.DataFrame:
        """Compare the data folder with the database.

        Every stored recording is hashed again (``ok``, ``missing`` or ``changed``); files in
        the recording folders that no scan refers to (``orphan``, e.g. left by an import killed
        before its commit) and temporary copies of ended processes (``partial``) are listed.

        Parameters
        ----------
        clean : bool
            Move the orphans and partial copies into a new dated quarantine folder
            ``<data folder>/.quarantine/<UTC time>/`` (same relative paths); nothing is deleted
            and a stored recording is never touched.

        Returns
        -------
        pandas.DataFrame
            ``path, dyad, session, role, status, detail`` (``detail`` of a moved file says
            where it went).
        """
        from studymgr.io import recordings as scans
        from studymgr.io.files import quarantine, quarantine_folder

        rows = []
        for r in self._stored_scans():
            path = self.data_dir / r["path"]
            if not path.exists():
                status, detail = "missing", "restore the file, or re-import the recording"
            elif scans.hash_path(path)[0] != r["sha256"]:
                status, detail = "changed", "SHA-256 differs from import: restore the file"
            else:
                status, detail = "ok", ""
            rows.append({"path": r["path"], "dyad": r["dyad"], "session": r["session"],
                         "role": r["role"], "status": status, "detail": detail})
        # An import moves its file into place inside its write transaction: holding the write
        # lock while removing leftovers means no file of a running import is taken for one.
        folder = quarantine_folder(self.data_dir)

        def put_away(entry: Path) -> str:
            moved = quarantine(entry, self.data_dir, folder)
            return f": moved to {moved.relative_to(self.data_dir).as_posix()}"

        with self.transaction() if clean else contextlib.nullcontext():
            stored = {r["path"] for r in self._stored_scans()}
            for entry in sorted(self.data_dir.glob("sub-*/ses-*/*/*")):
                rel = entry.relative_to(self.data_dir).as_posix()
                if entry.name.startswith(".") or rel in stored:
                    continue
                rows.append({"path": rel, "dyad": None, "session": None, "role": None,
                             "status": "orphan", "detail": "no scan refers to it"
                             + (put_away(entry) if clean else "")})
            for entry in scans.all_partials(self.data_dir):
                rows.append({"path": entry.relative_to(self.data_dir).as_posix(), "dyad": None,
                             "session": None, "role": None, "status": "partial",
                             "detail": "copy left by an interrupted import"
                             + (put_away(entry) if clean else "")})
        frame = pd.DataFrame(rows, columns=["path", "dyad", "session", "role", "status",
                                            "detail"])
        frame["session"] = frame["session"].astype("Int64")
        return frame


def _audit_summary(row: dict[str, Any], quality: dict[str, Any] | None = None,
                   source_name: str | None = None, n_events: int | None = None
                   ) -> dict[str, Any]:
    if quality is None and row.get("quality"):
        quality = json.loads(row["quality"])
    out = {k: row[k] for k in ("format", "path", "sha256", "size_bytes", "sfreq", "n_channels",
                               "duration_s", "meas_date", "usable_share")}
    if quality:
        out["cardiac_hz"] = quality.get("cardiac", {}).get("frequency_hz")
    if source_name is not None:
        out["source"] = source_name
    if n_events is not None:
        out["n_events"] = n_events
    return out


def _make_parents(folder: Path, root: Path) -> list[Path]:
    """Create ``folder`` (under ``root``); return the folders created, deepest first."""
    created = []
    current = folder
    while current != root and not current.exists():
        created.append(current)
        current = current.parent
    for path in reversed(created):
        path.mkdir(mode=0o700, exist_ok=True)
    return created


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        with contextlib.suppress(OSError):
            folder.rmdir()
