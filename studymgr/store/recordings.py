"""Scans (recordings), their pairing and events in the store.

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
finds a file no row refers to, logs whether its hash matches the new recording, and replaces it
either way with its own verified copy. A process killed after a replacement's commit leaves the old
file unreferenced. :meth:`RecordingsMixin.check_scans` lists all such leftovers (and recordings that
are missing or changed on disk) and removes the leftovers with ``clean=True``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from studymgr.errors import ConflictError, InputError, NotFoundError, StudyError
from studymgr.ids import ROLES, check_choice, check_code, check_session_number, utcnow

logger = logging.getLogger(__name__)

MODALITIES = ("nirs", "eeg")
SCAN_COLUMNS = ["dyad", "session", "role", "person", "modality", "format", "path", "sha256",
                "size_bytes", "sfreq", "n_channels", "duration_s", "meas_date", "usable_share",
                "n_usable", "n_fnirs", "cardiac", "cardiac_hz", "n_events", "imported_by",
                "imported_at"]
EVENT_COLUMNS = ["dyad", "session", "onset_s", "duration_s", "label", "rater", "source",
                 "recording"]
PAIR_COLUMNS = ["dyad", "session", "modality", "status", "start_offset_s", "overlap_s",
                "therapist_sfreq", "patient_sfreq", "messages", "checked_at"]
SUMMARY_COLUMNS = ["path", "dyad", "session", "role", "outcome", "detail"]


def _check_modality(modality: str) -> str:
    if modality not in MODALITIES:
        raise InputError(f"modality {modality!r} is not supported: use 'nirs' or 'eeg'")
    return modality


def _check_reason(replace: bool, reason: str | None) -> None:
    if replace and (reason is None or not reason.strip()):
        raise InputError("replacing needs --reason \"...\" (kept in the audit trail)")


class RecordingsMixin:
    """Study methods for scans and events (mixed into :class:`studymgr.store.Study`)."""

    status_legend = ("Scans: T = therapist's, P = patient's recording imported; ! = the pair "
                     "has a warning or error (see 'studymgr scans pairs').")

    # -- importing -----------------------------------------------------------------------------
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
        dyad : str
            Dyad code.
        session : int
            Session number.
        role : str
            ``therapist`` or ``patient``: whose recording it is.
        path : path-like
            SNIRF file, NIRx folder (or its ``.hdr``), Hitachi ``.csv``, BOXY ``.txt`` or a
            ``.fif`` file with fNIRS channels; for EEG an EDF, BDF or FIF file, or a BrainVision
            or EEGLAB folder (see :mod:`studymgr.io.recordings`).
        modality : str
            ``nirs`` (fNIRS) or ``eeg``. An EEG recording's quality is
            :func:`studymgr.compute.eeg.assess_eeg_quality` (flat, saturated, line noise, alpha peak).
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
        from studymgr.compute.quality import QualityConfig, assess_quality
        from studymgr.io import recordings as scans
        from studymgr.io.privacy import identifying_metadata

        check_code(dyad, "dyad")
        number = check_session_number(session)
        check_choice(role, ROLES, "role")
        _check_modality(modality)
        _check_reason(replace, reason)
        config = QualityConfig(sci_threshold=float(sci_threshold))
        sid = self.require_unlocked(dyad, number)
        person = self.dyad_members(dyad)[role]
        fmt_found, source = scans.detect_format(path, modality)
        sha, size = scans.hash_path(source)
        existing = self._scan_row(sid, role, modality)
        base = {"dyad": dyad, "session": number, "role": role, "person": person}
        if existing is not None:
            if existing["sha256"] == sha:
                logger.info("%s/%s %s: the same recording is already stored", dyad, number, role)
                return {**base, "outcome": "skipped", **self._scan_summary(existing)}
            if not replace:
                raise ConflictError(
                    f"session {dyad}/{number} already has a {role} recording "
                    f"({existing['path']}, imported {existing['imported_at'][:10]}): to replace "
                    "it, add --replace --reason \"...\"")
        raw, fmt, notes = scans.read_recording(path, fmt, modality=modality)
        identifying = identifying_metadata(raw, source)  # names of fields, never their values
        meta = scans.describe_recording(raw)
        events, event_notes = scans.recording_events(raw)
        if modality == "eeg":
            from studymgr.compute.eeg import assess_eeg_quality

            quality = assess_eeg_quality(raw)
        else:
            quality = assess_quality(raw, config)
        quality["notes"] = notes + event_notes
        del raw

        if not self.data_dir.is_dir():
            raise NotFoundError(f"the study's data folder {self.data_dir} does not exist: "
                                "restore it or pass --data-dir")
        rel = self._free_scan_path(dyad, number, person, fmt, modality)
        final = self.data_dir / rel
        created = _make_parents(final.parent, self.data_dir)
        tmp: Path | None = None
        placed = False
        try:
            tmp = scans.stage_copy(source, final, sha)
            with self.transaction():
                self._recheck(dyad, number, sid, role, modality, existing, rel)
                if final.exists():
                    orphan_sha, _ = scans.hash_path(final)
                    logger.warning(
                        "%s was left by an interrupted import (no database row; %s): replacing "
                        "it", rel, "same content" if orphan_sha == sha else "other content")
                scans.place(tmp, final)
                placed = True
                row = {
                    "format": fmt, "path": rel, "sha256": sha, "size_bytes": size,
                    "sfreq": meta["sfreq"], "n_channels": meta["n_channels"],
                    "channels": json.dumps(meta["channels"]), "duration_s": meta["duration_s"],
                    "meas_date": meta["meas_date"], "quality": json.dumps(quality),
                    "usable_share": quality["usable_share"], "imported_by": self.user,
                    "imported_at": utcnow(),
                }
                scan_id = self._write_scan(sid, role, modality, person, row, existing)
                summary = _audit_summary(row, quality, Path(source).name, len(events))
                if identifying:
                    summary["identifying_metadata"] = identifying
                key = f"{dyad}/{number}/{role}"
                self.log("replace" if existing else "import", "scan", key,
                         old=None if existing is None else _audit_summary(existing),
                         new=summary, reason=reason)
                self._write_recording_events(sid, scan_id, key, events, existing is not None)
                pair = self._update_pair(dyad, number, sid, modality)
        except BaseException:
            if tmp is not None and not placed:
                scans.remove_path(tmp)
            if placed:
                scans.remove_path(final)
            _remove_empty(created)
            raise
        if existing is not None and existing["path"] != rel:
            scans.remove_path(self.data_dir / existing["path"])
        stored = self._scan_row(sid, role, modality)
        logger.info("stored %s/%s %s as %s (pair: %s)", dyad, number, role, rel, pair)
        return {**base, "outcome": "replaced" if existing else "imported",
                **self._scan_summary(stored), "identifying_metadata": identifying}

    def _scan_row(self, sid: int, role: str, modality: str) -> dict[str, Any] | None:
        rows = list(self.db.query(
            "SELECT * FROM scans WHERE session_id = ? AND role = ? AND modality = ?",
            (sid, role, modality)))
        return rows[0] if rows else None

    def _scan_summary(self, row: dict[str, Any]) -> dict[str, Any]:
        quality = json.loads(row["quality"]) if row.get("quality") else {}
        cardiac = quality.get("cardiac", {})
        n_events = self.db.conn.execute("SELECT count(*) FROM events WHERE scan_id = ?",
                                        (row["id"],)).fetchone()[0]
        pair = self.db.conn.execute(
            "SELECT status FROM scan_pairs WHERE session_id = ? AND modality = ?",
            (row["session_id"], row["modality"])).fetchone()
        line, alpha = quality.get("line_noise") or {}, quality.get("alpha") or {}
        return {"modality": row["modality"], "path": row["path"], "sha256": row["sha256"],
                "format": row["format"],
                "sfreq": row["sfreq"], "n_channels": row["n_channels"],
                "duration_s": row["duration_s"], "meas_date": row["meas_date"],
                "usable_share": row["usable_share"], "sci_threshold":
                quality.get("config", {}).get("sci_threshold"),
                "cardiac": cardiac.get("status"), "cardiac_hz": cardiac.get("frequency_hz"),
                "cardiac_db": cardiac.get("prominence_db"), "n_events": n_events,
                "line_noise_hz": line.get("frequency_hz"), "line_noise_db": line.get("excess_db"),
                "alpha_hz": alpha.get("frequency_hz"),
                "pair_status": None if pair is None else pair[0]}

    def _free_scan_path(self, dyad: str, number: int, person: str, fmt: str,
                        modality: str) -> str:
        """The first stored-path candidate that no scan row refers to."""
        from studymgr.io import recordings as scans

        kind = self.db.conn.execute(
            "SELECT s.kind FROM sessions s JOIN dyads d ON d.id = s.dyad_id "
            "WHERE d.code = ? AND s.number = ?", (dyad, number)).fetchone()[0]
        n_dyads = self.db.conn.execute(
            "SELECT count(*) FROM dyads d JOIN people p ON p.id IN (d.therapist_id, "
            "d.patient_id) WHERE p.code = ?", (person,)).fetchone()[0]
        acq = dyad if n_dyads > 1 else None
        rep = None
        while True:
            rel = scans.bids_relpath(person, number, task=kind, acq=acq, fmt=fmt,
                                     modality=modality, rep=rep)
            taken = self.db.conn.execute("SELECT 1 FROM scans WHERE path = ?",
                                         (rel,)).fetchone()
            if not taken:
                return rel
            rep = 2 if rep is None else rep + 1

    def _recheck(self, dyad: str, number: int, sid: int, role: str, modality: str,
                 existing: dict[str, Any] | None, rel: str) -> None:
        # inside the write transaction: nobody else can change these until we commit
        self.require_unlocked(dyad, number)
        now = self._scan_row(sid, role, modality)
        changed = (now is None) != (existing is None) or (
            now is not None and existing is not None and now["sha256"] != existing["sha256"])
        taken = self.db.conn.execute("SELECT 1 FROM scans WHERE path = ?", (rel,)).fetchone()
        if changed or taken:
            raise ConflictError(f"another import changed session {dyad}/{number} ({role}) "
                                "meanwhile: run the command again")

    def _write_scan(self, sid: int, role: str, modality: str, person: str,
                    row: dict[str, Any], existing: dict[str, Any] | None) -> int:
        if existing is not None:
            # update in place: the scan keeps its id, so results that refer to it stay linked
            # (their stored input hashes show they are out of date)
            sets = ", ".join(f"{k} = :{k}" for k in row)
            self.db.conn.execute(f"UPDATE scans SET {sets} WHERE id = :id",
                                 {**row, "id": existing["id"]})
            return int(existing["id"])
        person_id = self.db.conn.execute("SELECT id FROM people WHERE code = ?",
                                         (person,)).fetchone()[0]
        cols = ["session_id", "person_id", "role", "modality", *row]
        cur = self.db.conn.execute(
            f"INSERT INTO scans ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            (sid, person_id, role, modality, *row.values()))
        return int(cur.lastrowid)

    def _write_recording_events(self, sid: int, scan_id: int, key: str,
                                events: list[dict[str, Any]], replacing: bool) -> None:
        old = 0
        if replacing:
            old = self.db.conn.execute("DELETE FROM events WHERE scan_id = ?",
                                       (scan_id,)).rowcount
        if not events and not old:
            return
        now = utcnow()
        self.db.conn.executemany(
            "INSERT INTO events (session_id, scan_id, onset_s, duration_s, label, rater, source,"
            " created_at) VALUES (?, ?, ?, ?, ?, NULL, 'recording', ?)",
            [(sid, scan_id, e["onset_s"], e["duration_s"], e["label"], now) for e in events])
        self.log("import", "events", f"{key}/recording", old={"n_events": old} if old else None,
                 new={"source": "recording", "n_events": len(events), "events": events})

    def _update_pair(self, dyad: str, number: int, sid: int, modality: str) -> str | None:
        """Check and store the pair of a session when both recordings exist."""
        from studymgr.io.recordings import check_pair

        rows = {r["role"]: r for r in self.db.query(
            "SELECT id, role, sfreq, duration_s, meas_date, channels FROM scans "
            "WHERE session_id = ? AND modality = ?", (sid, modality))}
        if set(rows) != set(ROLES):
            return None
        sides = {}
        for role, r in rows.items():
            channels = json.loads(r["channels"])
            sides[role] = {"sfreq": r["sfreq"], "duration_s": r["duration_s"],
                           "meas_date": r["meas_date"],
                           "channels": [c["name"] for c in channels
                                        if (c["type"] == "eeg") == (modality == "eeg")
                                        and c["type"].startswith(("fnirs", "hb", "eeg"))]}
        result = check_pair(sides["therapist"], sides["patient"])
        old = list(self.db.query(
            "SELECT status, start_offset_s, overlap_s, messages FROM scan_pairs "
            "WHERE session_id = ? AND modality = ?", (sid, modality)))
        self.db.conn.execute(
            "INSERT INTO scan_pairs (session_id, modality, therapist_scan, patient_scan, "
            "start_offset_s, overlap_s, status, messages, checked_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, modality) DO UPDATE SET "
            "therapist_scan = excluded.therapist_scan, patient_scan = excluded.patient_scan, "
            "start_offset_s = excluded.start_offset_s, overlap_s = excluded.overlap_s, "
            "status = excluded.status, messages = excluded.messages, "
            "checked_at = excluded.checked_at",
            (sid, modality, rows["therapist"]["id"], rows["patient"]["id"],
             result["start_offset_s"], result["overlap_s"], result["status"],
             json.dumps(result["messages"]), utcnow()))
        if old:
            old[0]["messages"] = json.loads(old[0]["messages"])
        self.log("check", "scan_pair", f"{dyad}/{number}", old=old[0] if old else None,
                 new=result)
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

        people = {r["code"]: r["role"] for r in self.db.query("SELECT code, role FROM people")}
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
        dyads = [r[0] for r in self.db.conn.execute(
            "SELECT d.code FROM dyads d JOIN people p ON p.id IN (d.therapist_id, d.patient_id)"
            " WHERE p.code = ? ORDER BY d.code", (person,))]
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

    # -- reading back --------------------------------------------------------------------------
    def scans(self, dyad: str | None = None, *, modality: str | None = None) -> pd.DataFrame:
        """Stored recordings, one row each (see ``SCAN_COLUMNS``), by dyad, session, role."""
        where, params = [], []
        if dyad is not None:
            check_code(dyad, "dyad")
            self._dyad_id(dyad)
            where.append("d.code = ?")
            params.append(dyad)
        if modality is not None:
            where.append("sc.modality = ?")
            params.append(_check_modality(modality))
        rows = list(self.db.query(
            "SELECT d.code AS dyad, s.number AS session, sc.role, p.code AS person, sc.modality,"
            " sc.format, sc.path, sc.sha256, sc.size_bytes, sc.sfreq, sc.n_channels, "
            "sc.duration_s, sc.meas_date, sc.usable_share, sc.quality, sc.imported_by, "
            "sc.imported_at, (SELECT count(*) FROM events e WHERE e.scan_id = sc.id) AS n_events"
            " FROM scans sc JOIN sessions s ON s.id = sc.session_id "
            "JOIN dyads d ON d.id = s.dyad_id JOIN people p ON p.id = sc.person_id "
            + ("WHERE " + " AND ".join(where) + " " if where else "")
            + "ORDER BY d.code, s.number, sc.role DESC, sc.modality", params))
        for r in rows:
            quality = json.loads(r.pop("quality") or "{}")
            cardiac = quality.get("cardiac", {})
            r.update(n_usable=quality.get("n_usable"), n_fnirs=quality.get("n_fnirs"),
                     cardiac=cardiac.get("status"), cardiac_hz=cardiac.get("frequency_hz"))
        frame = pd.DataFrame(rows, columns=SCAN_COLUMNS)
        for col in ("n_usable", "n_fnirs"):
            frame[col] = frame[col].astype("Int64")
        frame["usable_share"] = frame["usable_share"].astype("Float64")
        frame["cardiac_hz"] = frame["cardiac_hz"].astype("Float64")
        return frame

    def _scan_for(self, dyad: str, session: int, role: str, modality: str) -> dict[str, Any]:
        check_choice(role, ROLES, "role")
        _check_modality(modality)
        sid = self.session_id(dyad, session)
        row = self._scan_row(sid, role, modality)
        if row is None:
            raise NotFoundError(f"session {dyad}/{session} has no {role} recording (import one "
                                f"with 'studymgr scans import {dyad} {session} --role {role} "
                                "FILE')")
        return row

    def scan_quality(self, dyad: str, session: int, role: str,
                     modality: str = "nirs") -> pd.DataFrame:
        """Quality of each fNIRS channel of a stored recording.

        Columns: ``channel, type, wavelength_nm, distance_m, sci, flat_share, flat,
        saturated_share, saturated, usable``.
        """
        row = self._scan_for(dyad, session, role, modality)
        quality = json.loads(row["quality"] or "{}")
        info = {c["name"]: c for c in json.loads(row["channels"])}
        out = []
        for c in quality.get("channels", []):
            ch = info.get(c["name"], {})
            out.append({"channel": c["name"], "type": ch.get("type"),
                        "wavelength_nm": ch.get("wavelength_nm"),
                        "distance_m": ch.get("distance_m"), "sci": c["sci"],
                        "flat_share": c["flat_share"], "flat": c["flat"],
                        "saturated_share": c["saturated_share"], "saturated": c["saturated"],
                        "usable": c["usable"]})
        columns = ["channel", "type", "wavelength_nm", "distance_m", "sci", "flat_share", "flat",
                   "saturated_share", "saturated", "usable"]
        return pd.DataFrame(out, columns=columns)

    def scan_info(self, dyad: str, session: int, role: str,
                  modality: str = "nirs") -> dict[str, Any]:
        """Everything stored about one recording (channels and quality decoded)."""
        row = self._scan_for(dyad, session, role, modality)
        out = dict(row)
        out["channels"] = json.loads(row["channels"])
        out["quality"] = json.loads(row["quality"] or "null")
        return out

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

    def scan_pairs(self, dyad: str | None = None) -> pd.DataFrame:
        """The checked pairs (both recordings present), one row per session and modality."""
        params: list[Any] = []
        where = ""
        if dyad is not None:
            check_code(dyad, "dyad")
            self._dyad_id(dyad)
            where, params = "WHERE d.code = ? ", [dyad]
        rows = list(self.db.query(
            "SELECT d.code AS dyad, s.number AS session, sp.modality, sp.status, "
            "sp.start_offset_s, sp.overlap_s, t.sfreq AS therapist_sfreq, "
            "p.sfreq AS patient_sfreq, sp.messages, sp.checked_at FROM scan_pairs sp "
            "JOIN sessions s ON s.id = sp.session_id JOIN dyads d ON d.id = s.dyad_id "
            "JOIN scans t ON t.id = sp.therapist_scan JOIN scans p ON p.id = sp.patient_scan "
            + where + "ORDER BY d.code, s.number, sp.modality", params))
        for r in rows:
            r["messages"] = "; ".join(json.loads(r["messages"]))
        frame = pd.DataFrame(rows, columns=PAIR_COLUMNS)
        frame["start_offset_s"] = frame["start_offset_s"].astype("Float64")
        return frame

    def check_scans(self, *, clean: bool = False) -> pd.DataFrame:
        """Compare the data folder with the database.

        Every stored recording is hashed again (``ok``, ``missing`` or ``changed``); files in
        the recording folders that no scan refers to (``orphan``, e.g. left by an import killed
        before its commit) and temporary copies of ended processes (``partial``) are listed.

        Parameters
        ----------
        clean : bool
            Remove the orphans and partial copies (never a stored recording).

        Returns
        -------
        pandas.DataFrame
            ``path, dyad, session, role, status, detail``.
        """
        from studymgr.io import recordings as scans

        rows = []
        for r in self.db.query(
            "SELECT d.code AS dyad, s.number AS session, sc.role, sc.path, sc.sha256 "
            "FROM scans sc JOIN sessions s ON s.id = sc.session_id JOIN dyads d "
            "ON d.id = s.dyad_id ORDER BY d.code, s.number, sc.role DESC"):
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
        with self.transaction() if clean else contextlib.nullcontext():
            stored = {r[0] for r in self.db.conn.execute("SELECT path FROM scans")}
            for entry in sorted(self.data_dir.glob("sub-*/ses-*/*/*")):
                rel = entry.relative_to(self.data_dir).as_posix()
                if entry.name.startswith(".") or rel in stored:
                    continue
                rows.append({"path": rel, "dyad": None, "session": None, "role": None,
                             "status": "orphan", "detail": "no scan refers to it"
                             + (": removed" if clean else "")})
                if clean:
                    scans.remove_path(entry)
            for entry in scans.all_partials(self.data_dir):
                rows.append({"path": entry.relative_to(self.data_dir).as_posix(), "dyad": None,
                             "session": None, "role": None, "status": "partial",
                             "detail": "copy left by an interrupted import"
                             + (": removed" if clean else "")})
                if clean:
                    scans.remove_path(entry)
        frame = pd.DataFrame(rows, columns=["path", "dyad", "session", "role", "status",
                                            "detail"])
        frame["session"] = frame["session"].astype("Int64")
        return frame

    # -- events --------------------------------------------------------------------------------
    def import_events(
        self,
        dyad: str,
        session: int,
        path: str | os.PathLike[str],
        *,
        rater: str | None = None,
        consensus: bool = False,
        replace: bool = False,
        reason: str | None = None,
        labels: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Import time-stamped events of a session from a CSV (all or nothing).

        Parameters
        ----------
        dyad : str
            Dyad code.
        session : int
            Session number.
        path : path-like
            CSV with columns ``onset,duration,label[,rater]`` (seconds from the start of the
            session's recording; see :func:`studymgr.io.recordings.read_events_csv`).
        rater : str | None
            Rater code for every row.
        consensus : bool
            The events are the raters' consensus (source ``consensus``); otherwise rows with a
            rater have source ``rater`` and the others ``csv``.
        replace : bool
            First remove the session's events of the same source and rater(s) (needs
            ``reason``).
        reason : str | None
            Why (kept in the audit trail).
        labels : sequence of str | None
            A strict label set (e.g. ``("MOI", "MONI")``): a row with another label refuses the
            file. None accepts any label.

        Returns
        -------
        dict
            ``n_events`` imported and ``n_removed`` (by ``replace``); ``n_notes_dropped`` too
            when the file's ``note`` column held text (read and dropped, never stored).

        Raises
        ------
        ConflictError
            The events are already stored (same onset, duration, label, rater and source).
        InputError
            A bad row, or an onset after the end of the session's recordings (a unit error,
            e.g. milliseconds).
        """
        from studymgr.io.recordings import read_events_csv

        check_code(dyad, "dyad")
        number = check_session_number(session)
        _check_reason(replace, reason)
        self.require_unlocked(dyad, number)
        events, n_notes = read_events_csv(path, rater=rater, labels=labels,
                                          return_dropped=True)
        for e in events:
            e["source"] = "consensus" if consensus else "rater" if e["rater"] else "csv"
        name = Path(path).name
        with self.transaction():
            sid = self.require_unlocked(dyad, number)
            longest = self.db.conn.execute(
                "SELECT max(duration_s) FROM scans WHERE session_id = ?", (sid,)).fetchone()[0]
            if longest is not None:
                late = [e for e in events if e["onset_s"] > longest]
                if late:
                    raise InputError(
                        f"{name}: {len(late)} onset(s) lie after the end of the session's "
                        f"recordings ({longest:.1f} s), e.g. {late[0]['onset_s']:g} s: onsets "
                        "must be in seconds (milliseconds?)")
            removed = 0
            if replace:
                for src, who in sorted({(e["source"], e["rater"]) for e in events},
                                       key=lambda k: (k[0], k[1] or "")):
                    removed += self.db.conn.execute(
                        "DELETE FROM events WHERE session_id = ? AND scan_id IS NULL AND "
                        "source = ? AND rater IS ?", (sid, src, who)).rowcount
            else:
                dup = sum(1 for e in events if self.db.conn.execute(
                    "SELECT 1 FROM events WHERE session_id = ? AND scan_id IS NULL AND "
                    "onset_s = ? AND duration_s = ? AND label = ? AND rater IS ? AND source = ?",
                    (sid, e["onset_s"], e["duration_s"], e["label"], e["rater"], e["source"]),
                ).fetchone())
                if dup:
                    raise ConflictError(
                        f"{dup} of the {len(events)} events in {name} are already stored for "
                        f"{dyad}/{number}: to replace this rater's events, add --replace "
                        "--reason \"...\"")
            now = utcnow()
            self.db.conn.executemany(
                "INSERT INTO events (session_id, scan_id, onset_s, duration_s, label, rater, "
                "source, created_at) VALUES (?, NULL, ?, ?, ?, ?, ?, ?)",
                [(sid, e["onset_s"], e["duration_s"], e["label"], e["rater"], e["source"], now)
                 for e in events])
            self.log("replace" if replace else "import", "events", f"{dyad}/{number}",
                     old={"n_events": removed} if replace else None,
                     new={"file": name, "n_events": len(events), "events": events},
                     reason=reason)
        out = {"n_events": len(events), "n_removed": removed}
        if n_notes:
            out["n_notes_dropped"] = n_notes
        return out

    def events(self, dyad: str | None = None, session: int | None = None) -> pd.DataFrame:
        """Events, one row each: ``dyad, session, onset_s, duration_s, label, rater, source,
        recording`` (the role whose recording an event came from, for source ``recording``)."""
        where, params = [], []
        if dyad is not None:
            check_code(dyad, "dyad")
            self._dyad_id(dyad)
            where.append("d.code = ?")
            params.append(dyad)
        if session is not None:
            if dyad is None:
                raise InputError("give the dyad together with the session")
            where.append("s.id = ?")
            params.append(self.session_id(dyad, session))
        rows = self.db.query(
            "SELECT d.code AS dyad, s.number AS session, e.onset_s, e.duration_s, e.label, "
            "e.rater, e.source, sc.role AS recording FROM events e "
            "JOIN sessions s ON s.id = e.session_id JOIN dyads d ON d.id = s.dyad_id "
            "LEFT JOIN scans sc ON sc.id = e.scan_id "
            + ("WHERE " + " AND ".join(where) + " " if where else "")
            + "ORDER BY d.code, s.number, e.onset_s, e.id", params)
        return pd.DataFrame(list(rows), columns=EVENT_COLUMNS)

    # -- status --------------------------------------------------------------------------------
    def _extend_status(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add ``scans_therapist, scans_patient, usable_therapist, usable_patient, pair_status``
        and the grid mark ``mark_scan``."""
        scans = {(r["dyad"], r["session"], r["role"]): r["usable_share"] for r in self.db.query(
            "SELECT d.code AS dyad, s.number AS session, sc.role, sc.usable_share FROM scans sc "
            "JOIN sessions s ON s.id = sc.session_id JOIN dyads d ON d.id = s.dyad_id "
            "WHERE sc.modality = 'nirs'")}
        pairs = {(r["dyad"], r["session"]): r["status"] for r in self.db.query(
            "SELECT d.code AS dyad, s.number AS session, sp.status FROM scan_pairs sp "
            "JOIN sessions s ON s.id = sp.session_id JOIN dyads d ON d.id = s.dyad_id "
            "WHERE sp.modality = 'nirs'")}
        frame = frame.copy()
        keys = [(d, None if pd.isna(n) else int(n)) for d, n in
                zip(frame["dyad"], frame["session"], strict=True)]
        for role in ROLES:
            frame[f"scans_{role}"] = pd.array(
                [None if n is None else (d, n, role) in scans for d, n in keys], dtype="boolean")
            frame[f"usable_{role}"] = pd.array(
                [scans.get((d, n, role)) for d, n in keys], dtype="Float64")
        frame["pair_status"] = [pairs.get(k) for k in keys]
        marks = []
        for (d, n), status in zip(keys, frame["pair_status"], strict=True):
            mark = ("T" if (d, n, "therapist") in scans else "") + (
                "P" if (d, n, "patient") in scans else "")
            if status in ("warning", "error"):
                mark += "!"
            marks.append(mark)
        frame["mark_scan"] = marks
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
