"""Recordings (scans), their pairing and events in the store: SQL only, data in, data out.

The files themselves are handled by :mod:`studymgr.io.recordings`; importing a recording (check,
read, stage a copy, one transaction that places the file and writes these rows) is
:mod:`studymgr.runs.recordings`, whose module docstring describes how an import stays safe when
the process dies at any moment. The low-level helpers it calls here (``_scan_row``,
``_write_scan``, ``_save_scan_pair``, ...) take and return plain data; those that write run inside
the caller's transaction (:meth:`~studymgr.store.Store.transaction`).
"""

from __future__ import annotations

import json
from collections.abc import Container
from typing import Any

import pandas as pd

from studymgr._docs import fill_doc
from studymgr.errors import ConflictError, InputError, NotFoundError
from studymgr.ids import ROLES, check_choice, check_session_number, utcnow

MODALITIES = ("nirs", "eeg")
SCAN_COLUMNS = ["dyad", "session", "role", "person", "modality", "format", "path", "sha256",
                "size_bytes", "sfreq", "n_channels", "duration_s", "meas_date", "usable_share",
                "n_usable", "n_fnirs", "cardiac", "cardiac_hz", "n_events", "imported_by",
                "imported_at"]
EVENT_COLUMNS = ["dyad", "session", "onset_s", "duration_s", "label", "rater", "source",
                 "recording"]
PAIR_COLUMNS = ["dyad", "session", "modality", "status", "start_offset_s", "overlap_s",
                "therapist_sfreq", "patient_sfreq", "messages", "checked_at"]


def check_modality(modality: str) -> str:
    """Return ``modality`` if it is one of :data:`MODALITIES`, else raise :class:`InputError`."""
    if modality not in MODALITIES:
        raise InputError(f"modality {modality!r} is not supported: use 'nirs' or 'eeg'")
    return modality


def roles_mark(recordings: Container[tuple[str, int | None, str]], dyad: str,
               session: int | None) -> str:
    """``T``, ``P``, ``TP`` or empty: whose recording of a session ``recordings`` (keys
    ``(dyad, session, role)``) holds; the status grid's mark."""
    return (("T" if (dyad, session, "therapist") in recordings else "")
            + ("P" if (dyad, session, "patient") in recordings else ""))


def _where(conditions: list[str]) -> str:
    """The ``WHERE`` clause of a query's conditions (empty when there are none)."""
    return "WHERE " + " AND ".join(conditions) + " " if conditions else ""


class RecordingsMixin:
    """Store methods for scan rows, scan pairs and events (mixed into
    :class:`studymgr.store.Store`)."""

    status_legend = ("Scans: T = therapist's, P = patient's recording imported; ! = the pair "
                     "has a warning or error (see 'studymgr scans pairs').")

    # -- low-level helpers for studymgr.runs.recordings (writes: inside the caller's transaction)
    def _scan_row(self, session_id: int, role: str, modality: str) -> dict[str, Any] | None:
        """The raw ``scans`` row of a session's recording (None if there is none)."""
        rows = list(self.db.query(
            "SELECT * FROM scans WHERE session_id = ? AND role = ? AND modality = ?",
            (session_id, role, modality)))
        return rows[0] if rows else None

    def _scan_summary(self, row: dict[str, Any]) -> dict[str, Any]:
        """What :meth:`~studymgr.runs.study.Study.import_scan` reports about a stored ``row``:
        its description and quality, its number of events and its pair's status."""
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

    def _scan_path_taken(self, path: str) -> bool:
        """Whether a scan row refers to ``path`` (relative to the data folder)."""
        return self.db.conn.execute("SELECT 1 FROM scans WHERE path = ?",
                                    (path,)).fetchone() is not None

    def _person_dyads(self, person: str) -> list[str]:
        """Codes of the dyads a person belongs to, sorted."""
        return [r[0] for r in self.db.conn.execute(
            "SELECT d.code FROM dyads d JOIN people p ON p.id IN (d.therapist_id, d.patient_id)"
            " WHERE p.code = ? ORDER BY d.code", (person,))]

    def _stored_scans(self) -> list[dict[str, Any]]:
        """Every stored recording: ``dyad, session, role, path, sha256``, by dyad, session and
        role (therapist first)."""
        return list(self.db.query(
            "SELECT d.code AS dyad, s.number AS session, sc.role, sc.path, sc.sha256 "
            "FROM scans sc JOIN sessions s ON s.id = sc.session_id JOIN dyads d "
            "ON d.id = s.dyad_id ORDER BY d.code, s.number, sc.role DESC"))

    def _recording_length(self, session_id: int) -> float | None:
        """Duration (s) of a session's longest recording (None without recordings)."""
        longest = self.db.conn.execute("SELECT max(duration_s) FROM scans WHERE session_id = ?",
                                       (session_id,)).fetchone()[0]
        return None if longest is None else float(longest)

    def _write_scan(self, session_id: int, role: str, modality: str, person: str,
                   row: dict[str, Any], existing_id: int | None = None) -> int:
        """Insert a scan row (``row``: column -> value), or update scan ``existing_id`` in place;
        return the scan's id. Inside the caller's transaction; no audit row."""
        if existing_id is not None:
            # update in place: the scan keeps its id, so results that refer to it stay linked
            # (their stored input hashes show they are out of date)
            sets = ", ".join(f"{k} = :{k}" for k in row)
            self.db.conn.execute(f"UPDATE scans SET {sets} WHERE id = :id",
                                 {**row, "id": existing_id})
            return int(existing_id)
        person_id = self.db.conn.execute("SELECT id FROM people WHERE code = ?",
                                         (person,)).fetchone()[0]
        cols = ["session_id", "person_id", "role", "modality", *row]
        cur = self.db.conn.execute(
            f"INSERT INTO scans ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            (session_id, person_id, role, modality, *row.values()))
        return int(cur.lastrowid)

    def _write_recording_events(self, session_id: int, scan_id: int, key: str,
                               events: list[dict[str, Any]], replacing: bool) -> None:
        """Store the events read from a recording (source ``recording``), first removing the
        scan's old ones when ``replacing``; audited under ``<key>/recording``. Inside the
        caller's transaction."""
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
            [(session_id, scan_id, e["onset_s"], e["duration_s"], e["label"], now)
             for e in events])
        self.log("import", "events", f"{key}/recording", old={"n_events": old} if old else None,
                 new={"source": "recording", "n_events": len(events), "events": events})

    # -- pairs ---------------------------------------------------------------------------------
    def _pair_sides(self, session_id: int, modality: str) -> dict[str, dict[str, Any]]:
        """A session's recordings of a modality by role: ``id, role, sfreq, duration_s,
        meas_date, channels`` (the stored channel descriptions, decoded)."""
        rows = {r["role"]: r for r in self.db.query(
            "SELECT id, role, sfreq, duration_s, meas_date, channels FROM scans "
            "WHERE session_id = ? AND modality = ?", (session_id, modality))}
        for r in rows.values():
            r["channels"] = json.loads(r["channels"])
        return rows

    def _save_scan_pair(self, session_id: int, modality: str, key: str, therapist_scan: int,
                       patient_scan: int, result: dict[str, Any]) -> None:
        """Store (insert or update) the check of a session's pair of recordings: ``result``
        holds ``status, start_offset_s, overlap_s, messages``. Audited as ``scan_pair`` ``key``;
        inside the caller's transaction."""
        old = list(self.db.query(
            "SELECT status, start_offset_s, overlap_s, messages FROM scan_pairs "
            "WHERE session_id = ? AND modality = ?", (session_id, modality)))
        self.db.conn.execute(
            "INSERT INTO scan_pairs (session_id, modality, therapist_scan, patient_scan, "
            "start_offset_s, overlap_s, status, messages, checked_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, modality) DO UPDATE SET "
            "therapist_scan = excluded.therapist_scan, patient_scan = excluded.patient_scan, "
            "start_offset_s = excluded.start_offset_s, overlap_s = excluded.overlap_s, "
            "status = excluded.status, messages = excluded.messages, "
            "checked_at = excluded.checked_at",
            (session_id, modality, therapist_scan, patient_scan, result["start_offset_s"],
             result["overlap_s"], result["status"], json.dumps(result["messages"]), utcnow()))
        if old:
            old[0]["messages"] = json.loads(old[0]["messages"])
        self.log("check", "scan_pair", key, old=old[0] if old else None, new=result)

    # -- reading back --------------------------------------------------------------------------
    def scans(self, dyad: str | None = None, *, modality: str | None = None) -> pd.DataFrame:
        """Stored recordings, one row each (see ``SCAN_COLUMNS``), by dyad, session, role."""
        where: list[str] = []
        params: list[Any] = []
        self._where_dyad(dyad, where, params)
        if modality is not None:
            where.append("sc.modality = ?")
            params.append(check_modality(modality))
        rows = list(self.db.query(
            "SELECT d.code AS dyad, s.number AS session, sc.role, p.code AS person, sc.modality,"
            " sc.format, sc.path, sc.sha256, sc.size_bytes, sc.sfreq, sc.n_channels, "
            "sc.duration_s, sc.meas_date, sc.usable_share, sc.quality, sc.imported_by, "
            "sc.imported_at, (SELECT count(*) FROM events e WHERE e.scan_id = sc.id) AS n_events"
            " FROM scans sc JOIN sessions s ON s.id = sc.session_id "
            "JOIN dyads d ON d.id = s.dyad_id JOIN people p ON p.id = sc.person_id "
            + _where(where)
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
        check_modality(modality)
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

    def scan_pairs(self, dyad: str | None = None) -> pd.DataFrame:
        """The checked pairs (both recordings present), one row per session and modality."""
        where: list[str] = []
        params: list[Any] = []
        self._where_dyad(dyad, where, params)
        rows = list(self.db.query(
            "SELECT d.code AS dyad, s.number AS session, sp.modality, sp.status, "
            "sp.start_offset_s, sp.overlap_s, t.sfreq AS therapist_sfreq, "
            "p.sfreq AS patient_sfreq, sp.messages, sp.checked_at FROM scan_pairs sp "
            "JOIN sessions s ON s.id = sp.session_id JOIN dyads d ON d.id = s.dyad_id "
            "JOIN scans t ON t.id = sp.therapist_scan JOIN scans p ON p.id = sp.patient_scan "
            + _where(where)
            + "ORDER BY d.code, s.number, sp.modality", params))
        for r in rows:
            r["messages"] = "; ".join(json.loads(r["messages"]))
        frame = pd.DataFrame(rows, columns=PAIR_COLUMNS)
        frame["start_offset_s"] = frame["start_offset_s"].astype("Float64")
        return frame

    # -- events --------------------------------------------------------------------------------
    @fill_doc
    def _add_events(self, dyad: str, session: int, events: list[dict[str, Any]], *, name: str,
                   replace: bool = False, reason: str | None = None) -> int:
        """Store a file's events of a session in one transaction (all or nothing).

        Parameters
        ----------
        %(dyad)s
        %(session)s
        events : list of dict
            ``onset_s, duration_s, label, rater, source`` each.
        name : str
            The file's name (for messages and the audit trail).
        replace : bool
            First remove the session's events of the same source and rater(s).
        reason : str | None
            Why (kept in the audit trail).

        Returns
        -------
        int
            The number of events removed by ``replace``.

        Raises
        ------
        ConflictError
            A locked session, or (without ``replace``) events already stored (same onset,
            duration, label, rater and source).
        InputError
            An onset after the end of the session's longest recording (a unit error, e.g.
            milliseconds).
        """
        session = check_session_number(session)
        with self.transaction():
            sid = self.require_unlocked(dyad, session)
            longest = self._recording_length(sid)
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
                        f"{dyad}/{session}: to replace this rater's events, add --replace "
                        "--reason \"...\"")
            now = utcnow()
            self.db.conn.executemany(
                "INSERT INTO events (session_id, scan_id, onset_s, duration_s, label, rater, "
                "source, created_at) VALUES (?, NULL, ?, ?, ?, ?, ?, ?)",
                [(sid, e["onset_s"], e["duration_s"], e["label"], e["rater"], e["source"], now)
                 for e in events])
            self.log("replace" if replace else "import", "events", f"{dyad}/{session}",
                     old={"n_events": removed} if replace else None,
                     new={"file": name, "n_events": len(events), "events": events},
                     reason=reason)
        return removed

    def events(self, dyad: str | None = None, session: int | None = None) -> pd.DataFrame:
        """Events, one row each: ``dyad, session, onset_s, duration_s, label, rater, source,
        recording`` (the role whose recording an event came from, for source ``recording``)."""
        where: list[str] = []
        params: list[Any] = []
        self._where_dyad(dyad, where, params)
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
            + _where(where)
            + "ORDER BY d.code, s.number, e.onset_s, e.id", params)
        return pd.DataFrame(list(rows), columns=EVENT_COLUMNS)

    # -- status --------------------------------------------------------------------------------
    def _extend_status(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add ``scans_therapist, scans_patient, usable_therapist, usable_patient, pair_status``
        and the grid mark ``mark_scan``."""
        scans = self._recordings_by_role("nirs")
        pairs = {(r["dyad"], r["session"]): r["status"] for r in self.db.query(
            "SELECT d.code AS dyad, s.number AS session, sp.status FROM scan_pairs sp "
            "JOIN sessions s ON s.id = sp.session_id JOIN dyads d ON d.id = s.dyad_id "
            "WHERE sp.modality = 'nirs'")}
        frame = frame.copy()
        keys = self._status_keys(frame)
        for role in ROLES:
            frame[f"scans_{role}"] = pd.array(
                [None if n is None else (d, n, role) in scans for d, n in keys], dtype="boolean")
            frame[f"usable_{role}"] = pd.array(
                [scans.get((d, n, role)) for d, n in keys], dtype="Float64")
        frame["pair_status"] = [pairs.get(k) for k in keys]
        marks = []
        for (d, n), status in zip(keys, frame["pair_status"], strict=True):
            mark = roles_mark(scans, d, n)
            if status in ("warning", "error"):
                mark += "!"
            marks.append(mark)
        frame["mark_scan"] = marks
        return frame

    def _recordings_by_role(self, modality: str) -> dict[tuple[str, int, str], float | None]:
        """``{(dyad, session, role): usable share}`` of the stored recordings of a modality (for
        the status grid)."""
        return {(r["dyad"], r["session"], r["role"]): r["usable_share"] for r in self.db.query(
            "SELECT d.code AS dyad, s.number AS session, sc.role, sc.usable_share FROM scans sc "
            "JOIN sessions s ON s.id = sc.session_id JOIN dyads d ON d.id = s.dyad_id "
            "WHERE sc.modality = ?", (modality,))}
