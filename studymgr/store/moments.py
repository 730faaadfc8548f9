"""Moments of interest in the store: rater agreement and consensus events, event-locked
synchrony and EEG results.

No schema change was needed (schema v2):

* consensus moments are ``events`` rows with source ``consensus`` and no rater;
* event-locked fNIRS results are ``synchrony_results`` rows of an ``eventlocked`` run with
  measure ``wtc@<label>`` / ``wtc@rest`` (``n_cells`` = windows averaged) and ``synchrony_tests``
  rows (the random-window permutation test: ``true_value`` = observed, ``pseudo_*`` = the null,
  ``n_pseudo`` = permutations);
* EEG coupling is ``synchrony_results`` rows of an ``eeg`` run with chromophore ``eeg`` and
  measure ``<plv|aec>_<band>`` (whole session) or ``<plv|aec>_<band>@<condition>``;
* frontal alpha asymmetry (a measure of one person, not bounded by [-1, 1]) is
  ``person_measures`` rows of the ``eeg`` run with measure ``faa``, unit ``<left>:<right>``
  (schema v3; v2 kept them as JSON in the run's message and the upgrade moves them).

Readers of ``synchrony_results`` for the fNIRS synchrony index select ``measure = 'wtc'``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import pandas as pd

from studymgr.errors import ConflictError, InputError
from studymgr.ids import check_code, check_session_number, utcnow

logger = logging.getLogger(__name__)

EVENTLOCKED = "eventlocked"
EEG = "eeg"
AGREEMENT_KEYS = ["moments", "summary", "config", "outcome", "n_stored", "n_removed"]


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


class MomentsMixin:
    """Study methods for rater agreement, event-locked synchrony and EEG results."""

    status_legend = ("EEG: eT, eP, eTP = the therapist's, the patient's or both EEG recordings "
                     "imported; mN = N consensus moments (any label); rN = marks of N raters "
                     "without a consensus yet.")

    def _extend_status(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add ``eeg_therapist, eeg_patient, n_raters, n_consensus`` and the grid marks
        ``mark_eeg`` and ``mark_moments``."""
        eeg = {(r["dyad"], r["session"], r["role"]) for r in self.db.query(
            "SELECT d.code AS dyad, s.number AS session, sc.role FROM scans sc "
            "JOIN sessions s ON s.id = sc.session_id JOIN dyads d ON d.id = s.dyad_id "
            "WHERE sc.modality = 'eeg'")}
        counts = {(r["dyad"], r["session"]): (r["raters"], r["consensus"]) for r in self.db.query(
            "SELECT d.code AS dyad, s.number AS session, "
            "count(DISTINCT CASE WHEN e.source = 'rater' THEN e.rater END) AS raters, "
            "sum(e.source = 'consensus') AS consensus FROM events e "
            "JOIN sessions s ON s.id = e.session_id JOIN dyads d ON d.id = s.dyad_id "
            "WHERE e.source IN ('rater', 'consensus') GROUP BY s.id")}
        frame = frame.copy()
        keys = [(d, None if pd.isna(n) else int(n)) for d, n in
                zip(frame["dyad"], frame["session"], strict=True)]
        for role in ("therapist", "patient"):
            frame[f"eeg_{role}"] = pd.array(
                [None if n is None else (d, n, role) in eeg for d, n in keys], dtype="boolean")
        raters = [counts.get(k, (0, 0))[0] if k[1] is not None else None for k in keys]
        consensus = [counts.get(k, (0, 0))[1] if k[1] is not None else None for k in keys]
        frame["n_raters"] = pd.array(raters, dtype="Int64")
        frame["n_consensus"] = pd.array(consensus, dtype="Int64")
        marks_eeg, marks_moments = [], []
        for (d, n), n_r, n_c in zip(keys, raters, consensus, strict=True):
            who = ("T" if (d, n, "therapist") in eeg else "") + (
                "P" if (d, n, "patient") in eeg else "")
            marks_eeg.append(f"e{who}" if who else "")
            marks_moments.append(f"m{n_c}" if n_c else (f"r{n_r}" if n_r else ""))
        frame["mark_eeg"] = marks_eeg
        frame["mark_moments"] = marks_moments
        return frame

    # -- rater agreement -----------------------------------------------------------------------
    def rater_agreement(self, dyad: str, session: int, *, tolerance_s: float = 30.0,
                        min_raters: int = 2, bin_s: float | None = None,
                        labels: Iterable[str] | None = None, store: bool = True,
                        replace: bool = False, reason: str | None = None) -> dict[str, Any]:
        """Agreement of the raters' marks of a session, and its consensus moments as events.

        Parameters
        ----------
        dyad : str
            Dyad code.
        session : int
            Session number.
        tolerance_s : float
            Largest spread (s) of the marks of one consensus moment.
        min_raters : int
            Raters needed for a consensus moment.
        bin_s : float | None
            Bin width of Fleiss' kappa (s; default the tolerance).
        labels : iterable of str | None
            Labels to analyse (default every label the raters used).
        store : bool
            Store the consensus moments as events (source ``consensus``, no rater, onset =
            median of the raters' onsets).
        replace : bool
            Replace stored consensus events of these labels that differ (needs ``reason``).
        reason : str | None
            Why (audited).

        Returns
        -------
        dict
            ``moments`` and ``summary`` (DataFrames, see :func:`studymgr.compute.events.agreement.
            rater_agreement`), ``config``, ``outcome`` (``stored``, ``unchanged`` or
            ``not stored``), ``n_stored``, ``n_removed``.

        Raises
        ------
        InputError, ConflictError, NotFoundError
            Fewer than two raters, marks after the end of the session's recordings, different
            consensus events already stored (without ``replace``), a locked session.
        """
        from studymgr.compute.events.agreement import rater_agreement

        check_code(dyad, "dyad")
        number = check_session_number(session)
        if replace and (reason is None or not reason.strip()):
            raise InputError("replacing needs --reason \"...\" (kept in the audit trail)")
        sid = self.session_id(dyad, number)
        marks = pd.DataFrame(list(self.db.query(
            "SELECT rater, label, onset_s, duration_s FROM events WHERE session_id = ? AND "
            "source = 'rater' AND scan_id IS NULL ORDER BY onset_s, id", (sid,))),
            columns=["rater", "label", "onset_s", "duration_s"])
        if marks.empty:
            raise InputError(f"session {dyad}/{number} has no rater marks: import each rater's "
                             "file with 'studymgr events import DYAD N FILE --rater CODE'")
        longest = self.db.conn.execute("SELECT max(duration_s) FROM scans WHERE session_id = ?",
                                       (sid,)).fetchone()[0]
        duration = float(longest) if longest is not None else \
            float((marks["onset_s"] + marks["duration_s"]).max()) or 1.0
        if longest is None:
            logger.info("%s/%s has no recording: the kappa bins end at the last mark", dyad,
                        number)
        result = rater_agreement(marks, duration_s=duration, tolerance_s=tolerance_s,
                                 min_raters=min_raters, bin_s=bin_s, labels=labels)
        config = {**result.config, "duration_from": "recording" if longest is not None
                  else "last mark"}
        out = {"moments": result.moments, "summary": result.summary, "config": config,
               "outcome": "not stored", "n_stored": 0, "n_removed": 0}
        if not store:
            return out
        analysed = sorted(result.summary["label"])
        new = [(float(r.onset_s), float(r.duration_s), str(r.label))
               for r in result.moments.itertuples()]
        with self.transaction():
            sid = self.require_unlocked(dyad, number)
            marks_q = ",".join("?" * len(analysed))
            old = [(float(r[0]), float(r[1]), str(r[2])) for r in self.db.conn.execute(
                "SELECT onset_s, duration_s, label FROM events WHERE session_id = ? AND "
                f"source = 'consensus' AND scan_id IS NULL AND label IN ({marks_q})",
                (sid, *analysed))]
            if sorted(old) == sorted(new):
                out["outcome"] = "unchanged"
                return out
            if old and not replace:
                raise ConflictError(
                    f"session {dyad}/{number} already has {len(old)} other consensus event(s) "
                    f"labelled {', '.join(analysed)}: to replace them, add --replace --reason "
                    "\"...\" (or --no-store to only report)")
            removed = self.db.conn.execute(
                "DELETE FROM events WHERE session_id = ? AND source = 'consensus' AND "
                f"scan_id IS NULL AND label IN ({marks_q})", (sid, *analysed)).rowcount
            now = utcnow()
            self.db.conn.executemany(
                "INSERT INTO events (session_id, scan_id, onset_s, duration_s, label, rater, "
                "source, created_at) VALUES (?, NULL, ?, ?, ?, NULL, 'consensus', ?)",
                [(sid, onset, dur, label, now) for onset, dur, label in new])
            kappas = {r.label: _num(r.kappa) for r in result.summary.itertuples()}
            self.log("agreement", "events", f"{dyad}/{number}",
                     old={"n_consensus": removed} if removed else None,
                     new={"config": config, "kappa": kappas, "n_consensus": len(new),
                          "events": [{"onset_s": o, "duration_s": d, "label": lab}
                                     for o, d, lab in new]},
                     reason=reason)
        out.update(outcome="stored", n_stored=len(new), n_removed=removed)
        return out

    # -- event-locked synchrony ------------------------------------------------------------------
    def _replace_run(self, kind: str, session_id: int, config: dict[str, Any], config_hash: str,
                     input_hashes: dict[str, Any], versions: dict[str, str],
                     message: str | None) -> tuple[int, list[int]]:
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
             message, self.user, now, utcnow()))
        return int(cur.lastrowid), old

    def save_eventlocked(self, *, session_id: int, label: str, config: dict[str, Any],
                         config_hash: str, input_hashes: dict[str, Any],
                         versions: dict[str, str], therapist_scan: int, patient_scan: int,
                         results: pd.DataFrame, tests: pd.DataFrame, seed: int,
                         warnings: list[str]) -> int:
        """Replace a session's event-locked results in one transaction; returns the run id."""
        with self.transaction():
            run_id, old = self._replace_run(EVENTLOCKED, session_id, config, config_hash,
                                            input_hashes, versions, "; ".join(warnings) or None)
            self.db.conn.executemany(
                "INSERT INTO synchrony_results (run_id, session_id, pair, therapist_scan, "
                "patient_scan, measure, chromophore, level, therapist_unit, patient_unit, value,"
                " n_cells) VALUES (?, ?, 'true', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, session_id, therapist_scan, patient_scan, f"wtc@{r.condition}",
                  r.chromophore, r.level, r.therapist_unit, r.patient_unit, _num(r.value),
                  int(r.n_windows)) for r in results.itertuples(index=False)])
            self.db.conn.executemany(
                "INSERT INTO synchrony_tests (run_id, session_id, measure, chromophore, level, "
                "therapist_unit, patient_unit, true_value, pseudo_mean, pseudo_sd, n_pseudo, "
                "p_value, seed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, session_id, f"wtc@{r.condition}", r.chromophore, r.level,
                  r.therapist_unit, r.patient_unit, _num(r.observed), _num(r.null_mean),
                  _num(r.null_sd), int(r.n_permutations), _num(r.p_value), int(seed))
                 for r in tests.itertuples(index=False)])
            self.log("compute", "eventlocked", label, old={"runs": old} if old else None,
                     new={"run": run_id, "config_hash": config_hash, "rows": int(len(results))})
        return run_id

    def eventlocked_results(self, *, dyad: str | None = None, session_id: int | None = None,
                            level: str = "session") -> pd.DataFrame:
        """Stored event-locked synchrony, tidy: one row per session, unit pair and condition.

        Columns: ``dyad, session, measure`` (``wtc``), ``chromophore, level, therapist_unit,
        patient_unit, condition`` (a label or ``rest``), ``value`` (mean coherence in the
        windows), ``n_windows``, ``null_mean``, ``null_sd``, ``n_permutations``, ``p_value``
        (random-window permutation test; empty for ``rest``), ``seed``, ``run_id``,
        ``config_hash``.
        """
        where, params = ["a.kind = :kind", "r.level = :level"], {"kind": EVENTLOCKED,
                                                                "level": level}
        if dyad is not None:
            check_code(dyad, "dyad")
            self._dyad_id(dyad)
            where.append("d.code = :dyad")
            params["dyad"] = dyad
        if session_id is not None:
            where.append("r.session_id = :sid")
            params["sid"] = int(session_id)
        sql = f"""
            SELECT d.code AS dyad, s.number AS session, r.measure, r.chromophore, r.level,
                   r.therapist_unit, r.patient_unit, r.value, r.n_cells AS n_windows,
                   t.pseudo_mean AS null_mean, t.pseudo_sd AS null_sd,
                   t.n_pseudo AS n_permutations, t.p_value, t.seed, r.run_id, a.config_hash
            FROM synchrony_results r JOIN analysis_runs a ON a.id = r.run_id
            JOIN sessions s ON s.id = r.session_id JOIN dyads d ON d.id = s.dyad_id
            LEFT JOIN synchrony_tests t ON t.run_id = r.run_id AND t.measure = r.measure
                 AND t.chromophore = r.chromophore AND t.level = r.level
                 AND t.therapist_unit = r.therapist_unit AND t.patient_unit = r.patient_unit
            WHERE {' AND '.join(where)}
            ORDER BY d.code, s.number, r.chromophore, r.therapist_unit, r.patient_unit, r.id"""
        rows = list(self.db.query(sql, params))
        for row in rows:
            row["measure"], _, row["condition"] = row["measure"].partition("@")
        columns = ["dyad", "session", "measure", "chromophore", "level", "therapist_unit",
                   "patient_unit", "condition", "value", "n_windows", "null_mean", "null_sd",
                   "n_permutations", "p_value", "seed", "run_id", "config_hash"]
        frame = pd.DataFrame(rows, columns=columns)
        for col in ("n_windows", "n_permutations", "seed"):
            frame[col] = frame[col].astype("Int64")
        return frame

    # -- EEG -------------------------------------------------------------------------------------
    def save_eeg(self, *, session_id: int, label: str, config: dict[str, Any], config_hash: str,
                 input_hashes: dict[str, Any], versions: dict[str, str], therapist_scan: int,
                 patient_scan: int, results: pd.DataFrame, asymmetry: pd.DataFrame,
                 warnings: list[str]) -> int:
        """Replace a session's EEG results in one transaction; returns the run id."""
        with self.transaction():
            run_id, old = self._replace_run(EEG, session_id, config, config_hash, input_hashes,
                                            versions, "; ".join(warnings) or None)
            scans = {"therapist": therapist_scan, "patient": patient_scan}
            self.db.conn.executemany(
                "INSERT INTO person_measures (run_id, session_id, scan_id, role, measure, unit, "
                "condition, value, sd, n_windows) VALUES (?, ?, ?, ?, 'faa', ?, ?, ?, ?, ?)",
                [(run_id, session_id, scans[r.role], r.role, f"{r.left}:{r.right}",
                  r.condition, _num(r.value), _num(r.sd), int(r.n_windows))
                 for r in asymmetry.itertuples(index=False)])
            self.db.conn.executemany(
                "INSERT INTO synchrony_results (run_id, session_id, pair, therapist_scan, "
                "patient_scan, measure, chromophore, level, therapist_unit, patient_unit, value,"
                " n_cells) VALUES (?, ?, 'true', ?, ?, ?, 'eeg', ?, ?, ?, ?, ?)",
                [(run_id, session_id, therapist_scan, patient_scan,
                  r.measure if r.condition == "session" else f"{r.measure}@{r.condition}",
                  r.level, r.therapist_unit, r.patient_unit, _num(r.value), int(r.n_cells))
                 for r in results.itertuples(index=False)])
            self.log("compute", "eeg", label, old={"runs": old} if old else None,
                     new={"run": run_id, "config_hash": config_hash, "rows": int(len(results)),
                          "asymmetry_rows": int(len(asymmetry))})
        return run_id

    def eeg_results(self, *, dyad: str | None = None, level: str = "session",
                    measure: str | None = None) -> pd.DataFrame:
        """Stored EEG coupling, tidy: one row per session, measure, unit pair and condition.

        Columns: ``dyad, session, measure`` (e.g. ``plv_alpha``), ``level, therapist_unit,
        patient_unit, condition`` (``session``, a label or ``rest``), ``value``, ``n`` (what
        was averaged: epochs for ``session`` and ``rest``, moments for a label), ``run_id,
        config_hash``.
        """
        where, params = ["a.kind = :kind", "r.level = :level", "r.chromophore = 'eeg'"], {
            "kind": EEG, "level": level}
        if dyad is not None:
            check_code(dyad, "dyad")
            self._dyad_id(dyad)
            where.append("d.code = :dyad")
            params["dyad"] = dyad
        sql = f"""
            SELECT d.code AS dyad, s.number AS session, r.measure, r.level, r.therapist_unit,
                   r.patient_unit, r.value, r.n_cells AS n, r.run_id, a.config_hash
            FROM synchrony_results r JOIN analysis_runs a ON a.id = r.run_id
            JOIN sessions s ON s.id = r.session_id JOIN dyads d ON d.id = s.dyad_id
            WHERE {' AND '.join(where)}
            ORDER BY d.code, s.number, r.id"""
        rows = list(self.db.query(sql, params))
        for row in rows:
            name, _, cond = row["measure"].partition("@")
            row["measure"], row["condition"] = name, cond or "session"
        columns = ["dyad", "session", "measure", "level", "therapist_unit", "patient_unit",
                   "condition", "value", "n", "run_id", "config_hash"]
        frame = pd.DataFrame(rows, columns=columns)
        if measure is not None:
            frame = frame[frame["measure"] == measure].reset_index(drop=True)
        frame["n"] = frame["n"].astype("Int64")
        return frame

    def eeg_asymmetry(self, *, dyad: str | None = None) -> pd.DataFrame:
        """Stored frontal alpha asymmetry, tidy: one row per session, person, electrode pair and
        condition.

        Columns: ``dyad, session, role, left, right, condition`` (``session``, a label or
        ``rest``), ``value`` (ln right - ln left alpha power; positive = relatively more right
        alpha power, i.e. less right-frontal activity), ``sd`` (over the windows of the session),
        ``n_windows``, ``run_id``, ``config_hash``.
        """
        where, params = ["a.kind = ?", "m.measure = 'faa'"], [EEG]
        if dyad is not None:
            check_code(dyad, "dyad")
            self._dyad_id(dyad)
            where.append("d.code = ?")
            params.append(dyad)
        rows = list(self.db.query(
            "SELECT d.code AS dyad, s.number AS session, m.role, m.unit, m.condition, m.value, "
            "m.sd, m.n_windows, m.run_id, a.config_hash FROM person_measures m "
            "JOIN analysis_runs a ON a.id = m.run_id JOIN sessions s ON s.id = m.session_id "
            f"JOIN dyads d ON d.id = s.dyad_id WHERE {' AND '.join(where)} "
            "ORDER BY d.code, s.number, m.role DESC, m.unit, m.rowid", params))
        for row in rows:
            row["left"], _, row["right"] = row.pop("unit").partition(":")
        columns = ["dyad", "session", "role", "left", "right", "condition", "value", "sd",
                   "n_windows", "run_id", "config_hash"]
        frame = pd.DataFrame(rows, columns=columns)
        frame["value"] = pd.to_numeric(frame["value"]).astype(float)
        frame["sd"] = pd.to_numeric(frame["sd"]).astype(float)
        frame["n_windows"] = frame["n_windows"].astype("Int64")
        return frame
