"""Analysis runs and synchrony results in the store."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from studymgr.ids import check_session_number, utcnow

SYNCHRONY = "synchrony"


class AnalysesMixin:
    """Study methods for analysis runs and synchrony results."""

    status_legend = "s.42 = session synchrony index (HbO wavelet coherence, true pair)."

    # -- inputs ------------------------------------------------------------------------------
    def synchrony_inputs(self, dyad: str | None = None, session: int | None = None,
                         modality: str = "nirs") -> pd.DataFrame:
        """Scanned sessions with their two recordings (scan id, path, hash, rate, start).

        One row per session marked as scanned or holding a recording; a missing recording
        leaves its columns empty.
        """
        where, params = ["(s.scanned = 1 OR EXISTS (SELECT 1 FROM scans x WHERE "
                         "x.session_id = s.id AND x.modality = :modality))"], {
            "modality": modality}
        self._where_dyad(dyad, where, params)
        if session is not None:
            params["number"] = check_session_number(session)
            where.append("s.number = :number")
        sql = f"""
            SELECT s.id AS session_id, d.code AS dyad, s.number AS number,
                   t.id AS therapist_scan, t.path AS therapist_path,
                   t.sha256 AS therapist_sha256, t.sfreq AS therapist_sfreq,
                   t.meas_date AS therapist_meas_date,
                   p.id AS patient_scan, p.path AS patient_path, p.sha256 AS patient_sha256,
                   p.sfreq AS patient_sfreq, p.meas_date AS patient_meas_date
            FROM sessions s JOIN dyads d ON d.id = s.dyad_id
            LEFT JOIN scans t ON t.session_id = s.id AND t.role = 'therapist'
                               AND t.modality = :modality
            LEFT JOIN scans p ON p.session_id = s.id AND p.role = 'patient'
                               AND p.modality = :modality
            WHERE {' AND '.join(where)} ORDER BY d.code, s.number"""
        frame = pd.DataFrame(list(self.db.query(sql, params)))
        if frame.empty:
            frame = pd.DataFrame(columns=[
                "session_id", "dyad", "number", "therapist_scan", "therapist_path",
                "therapist_sha256", "therapist_sfreq", "therapist_meas_date", "patient_scan",
                "patient_path", "patient_sha256", "patient_sfreq", "patient_meas_date"])
        for col in ("therapist_scan", "patient_scan"):
            frame[col] = frame[col].astype("Int64")
        return frame

    def current_run(self, kind: str, session_id: int | None) -> dict[str, Any] | None:
        """The latest finished run of a kind for a session (None if there is none)."""
        row = self.db.conn.execute(
            "SELECT id, config_hash, input_hashes FROM analysis_runs WHERE kind = ? AND "
            "session_id IS ? AND status = 'done' ORDER BY id DESC LIMIT 1",
            (kind, session_id),
        ).fetchone()
        if row is None:
            return None
        return {"id": row[0], "config_hash": row[1], "input_hashes": json.loads(row[2])}

    def synchrony_index(self, session_id: int, chromophore: str = "hbo") -> float | None:
        """A session's stored synchrony index: the true pair's session-level wavelet coherence
        (R², 0-1) of one chromophore; None when none is stored."""
        row = self.db.conn.execute(
            "SELECT value FROM synchrony_results WHERE session_id = ? AND pair = 'true' AND "
            "level = 'session' AND chromophore = ? AND measure = 'wtc'",
            (session_id, chromophore)).fetchone()
        return row[0] if row else None

    # -- a session's run and its rows (synchrony here; event-locked and EEG in moments.py) -----
    def _replace_run(self, kind: str, session_id: int, config: dict[str, Any], config_hash: str,
                     input_hashes: dict[str, Any], versions: dict[str, str],
                     warnings: list[str]) -> tuple[int, list[int]]:
        """Delete a session's runs of ``kind`` (their rows cascade) and insert the new, finished
        one; returns its id and the ids removed. Inside the caller's transaction."""
        old = [r[0] for r in self.db.conn.execute(
            "SELECT id FROM analysis_runs WHERE kind = ? AND session_id = ?", (kind, session_id))]
        for run_id in old:
            self.db.conn.execute("DELETE FROM analysis_runs WHERE id = ?", (run_id,))
        now = utcnow()
        cur = self.db.conn.execute(
            "INSERT INTO analysis_runs (kind, session_id, config, config_hash, input_hashes, "
            "versions, status, message, started_by, started_at, finished_at) VALUES "
            "(?, ?, ?, ?, ?, ?, 'done', ?, ?, ?, ?)",
            (kind, session_id, json.dumps(config, sort_keys=True), config_hash,
             json.dumps(input_hashes, sort_keys=True), json.dumps(versions, sort_keys=True),
             "; ".join(warnings) or None, self.user, now, utcnow()))
        return int(cur.lastrowid), old

    def _insert_pair_results(self, rows: Iterable[tuple]) -> None:
        """Insert ``synchrony_results`` rows: ``(run_id, session_id, pair, therapist_scan,
        patient_scan, measure, chromophore, level, therapist_unit, patient_unit, value,
        n_cells)`` each."""
        self.db.conn.executemany(
            "INSERT INTO synchrony_results (run_id, session_id, pair, therapist_scan, "
            "patient_scan, measure, chromophore, level, therapist_unit, patient_unit, value, "
            "n_cells) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def _insert_pair_tests(self, rows: Iterable[tuple]) -> None:
        """Insert ``synchrony_tests`` rows: ``(run_id, session_id, measure, chromophore, level,
        therapist_unit, patient_unit, true_value, pseudo_mean, pseudo_sd, n_pseudo, p_value,
        seed)`` each."""
        self.db.conn.executemany(
            "INSERT INTO synchrony_tests (run_id, session_id, measure, chromophore, level, "
            "therapist_unit, patient_unit, true_value, pseudo_mean, pseudo_sd, n_pseudo, "
            "p_value, seed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def _log_run(self, kind: str, label: str, run_id: int, old: list[int], config_hash: str,
                 **rows: int) -> None:
        """The audit row of a stored run: the runs it replaced, and how many rows it wrote."""
        self.log("compute", kind, label, old={"runs": old} if old else None,
                 new={"run": run_id, "config_hash": config_hash, **rows})

    # -- results -----------------------------------------------------------------------------
    def save_synchrony(self, *, session_id: int, label: str, config: dict[str, Any],
                       config_hash: str, input_hashes: dict[str, Any],
                       versions: dict[str, str], results: pd.DataFrame,
                       tests: pd.DataFrame | None, warnings: list[str]) -> int:
        """Replace a session's synchrony results in one transaction; returns the run id."""
        with self.transaction():
            run_id, old = self._replace_run(SYNCHRONY, session_id, config, config_hash,
                                            input_hashes, versions, warnings)
            self._insert_pair_results(
                (run_id, session_id, r.pair, int(r.therapist_scan), int(r.patient_scan), "wtc",
                 r.chromophore, r.level, r.therapist_unit, r.patient_unit,
                 None if pd.isna(r.value) else float(r.value), None)
                for r in results.itertuples(index=False))
            if tests is not None and len(tests):
                seed = int(config.get("seed", 0))
                self._insert_pair_tests(
                    (run_id, session_id, "wtc", r.chromophore, r.level, r.therapist_unit,
                     r.patient_unit, _num(r.true_value), _num(r.pseudo_mean), _num(r.pseudo_sd),
                     int(r.n_pseudo), _num(r.p_value), seed)
                    for r in tests.itertuples(index=False))
            self._log_run(SYNCHRONY, label, run_id, old, config_hash, rows=int(len(results)))
        return run_id

    def synchrony(self, *, dyad: str | None = None, level: str = "session",
                  pair: str | None = None, chromophore: str | None = None,
                  measure: str | None = "wtc") -> pd.DataFrame:
        """Stored synchrony, tidy: one row per session × pair × chromophore × unit pair.

        Columns: ``dyad, session, pair, therapist, patient, chromophore, level,
        therapist_unit, patient_unit, value, run_id, config_hash``; ``therapist`` and
        ``patient`` name whose recordings were paired (for pseudo pairs, other dyads').
        ``measure`` selects the measure (default ``wtc``, the fNIRS wavelet coherence; EEG
        coupling is e.g. ``plv_alpha`` with chromophore ``eeg``; None: every measure).
        """
        where, params = ["r.level = :level"], {"level": level}
        if measure is not None:
            where.append("r.measure = :measure")
            params["measure"] = measure
        self._where_dyad(dyad, where, params)
        if pair is not None:
            where.append("r.pair = :pair")
            params["pair"] = pair
        if chromophore is not None:
            where.append("r.chromophore = :chromophore")
            params["chromophore"] = chromophore
        sql = f"""
            SELECT d.code AS dyad, s.number AS session, r.pair,
                   (SELECT pd.code || '/' || ps.number FROM scans x JOIN sessions ps
                      ON ps.id = x.session_id JOIN dyads pd ON pd.id = ps.dyad_id
                      WHERE x.id = r.therapist_scan) AS therapist,
                   (SELECT pd.code || '/' || ps.number FROM scans x JOIN sessions ps
                      ON ps.id = x.session_id JOIN dyads pd ON pd.id = ps.dyad_id
                      WHERE x.id = r.patient_scan) AS patient,
                   r.chromophore, r.level, r.therapist_unit, r.patient_unit, r.value,
                   r.run_id, a.config_hash
            FROM synchrony_results r JOIN analysis_runs a ON a.id = r.run_id
            JOIN sessions s ON s.id = r.session_id JOIN dyads d ON d.id = s.dyad_id
            WHERE {' AND '.join(where)}
            ORDER BY d.code, s.number, r.pair DESC, r.chromophore, r.therapist_unit,
                     r.patient_unit, r.therapist_scan, r.patient_scan"""
        columns = ["dyad", "session", "pair", "therapist", "patient", "chromophore", "level",
                   "therapist_unit", "patient_unit", "value", "run_id", "config_hash"]
        return pd.DataFrame(list(self.db.query(sql, params)), columns=columns)

    def synchrony_tests(self, *, dyad: str | None = None, level: str = "session",
                        measure: str | None = "wtc") -> pd.DataFrame:
        """True synchrony against the pseudo-dyad baseline with permutation p-values
        (``measure`` as in :meth:`synchrony`)."""
        where, params = ["t.level = :level"], {"level": level}
        if measure is not None:
            where.append("t.measure = :measure")
            params["measure"] = measure
        self._where_dyad(dyad, where, params)
        sql = f"""
            SELECT d.code AS dyad, s.number AS session, t.chromophore, t.level,
                   t.therapist_unit, t.patient_unit, t.true_value, t.pseudo_mean, t.pseudo_sd,
                   t.n_pseudo, t.p_value, t.seed
            FROM synchrony_tests t JOIN sessions s ON s.id = t.session_id
            JOIN dyads d ON d.id = s.dyad_id WHERE {' AND '.join(where)}
            ORDER BY d.code, s.number, t.chromophore, t.therapist_unit, t.patient_unit"""
        columns = ["dyad", "session", "chromophore", "level", "therapist_unit", "patient_unit",
                   "true_value", "pseudo_mean", "pseudo_sd", "n_pseudo", "p_value", "seed"]
        return pd.DataFrame(list(self.db.query(sql, params)), columns=columns)

    def _extend_status(self, frame: pd.DataFrame) -> pd.DataFrame:
        rows = self.db.query(
            "SELECT d.code AS dyad, s.number AS session, r.value AS synchrony "
            "FROM synchrony_results r JOIN sessions s ON s.id = r.session_id "
            "JOIN dyads d ON d.id = s.dyad_id WHERE r.level = 'session' AND r.pair = 'true' "
            "AND r.chromophore = 'hbo' AND r.measure = 'wtc'")
        found = {(r["dyad"], r["session"]): r["synchrony"] for r in rows}
        values = [found.get(key) for key in self._status_keys(frame)]
        frame = frame.copy()
        frame["synchrony"] = pd.array(values, dtype="Float64")
        frame["mark_sync"] = ["" if v is None else f"s{v:.2f}".replace("s0.", "s.")
                              for v in values]
        return frame


def _num(value: Any) -> float | None:
    """A float, or None for a missing value (stored as NULL)."""
    return None if value is None or pd.isna(value) else float(value)
