"""Event-locked results in the store: consensus events, event-locked synchrony and EEG results
(SQL only; rater agreement itself is :mod:`studymgr.runs.events`, rater marks are
:mod:`studymgr.store.recordings`).

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

from typing import Any

import pandas as pd

from studymgr._docs import fill_doc
from studymgr.errors import ConflictError
from studymgr.ids import check_session_number, utcnow
from studymgr.store.analyses import _num
from studymgr.store.recordings import roles_mark

EVENTLOCKED = "eventlocked"
EEG = "eeg"


class EventLockedMixin:
    """Store methods for rater marks, consensus events, event-locked synchrony and EEG results."""

    status_legend = ("EEG: eT, eP, eTP = the therapist's, the patient's or both EEG recordings "
                     "imported; mN = N consensus moments (any label); rN = marks of N raters "
                     "without a consensus yet.")

    def _extend_status(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add ``eeg_therapist, eeg_patient, n_raters, n_consensus`` and the grid marks
        ``mark_eeg`` and ``mark_moments``."""
        eeg = self._recordings_by_role("eeg")
        counts = {(r["dyad"], r["session"]): (r["raters"], r["consensus"]) for r in self.db.query(
            "SELECT d.code AS dyad, s.number AS session, "
            "count(DISTINCT CASE WHEN e.source = 'rater' THEN e.rater END) AS raters, "
            "sum(e.source = 'consensus') AS consensus FROM events e "
            "JOIN sessions s ON s.id = e.session_id JOIN dyads d ON d.id = s.dyad_id "
            "WHERE e.source IN ('rater', 'consensus') GROUP BY s.id")}
        frame = frame.copy()
        keys = self._status_keys(frame)
        for role in ("therapist", "patient"):
            frame[f"eeg_{role}"] = pd.array(
                [None if n is None else (d, n, role) in eeg for d, n in keys], dtype="boolean")
        raters = [counts.get(k, (0, 0))[0] if k[1] is not None else None for k in keys]
        consensus = [counts.get(k, (0, 0))[1] if k[1] is not None else None for k in keys]
        frame["n_raters"] = pd.array(raters, dtype="Int64")
        frame["n_consensus"] = pd.array(consensus, dtype="Int64")
        marks_eeg, marks_moments = [], []
        for (d, n), n_r, n_c in zip(keys, raters, consensus, strict=True):
            who = roles_mark(eeg, d, n)
            marks_eeg.append(f"e{who}" if who else "")
            marks_moments.append(f"m{n_c}" if n_c else (f"r{n_r}" if n_r else ""))
        frame["mark_eeg"] = marks_eeg
        frame["mark_moments"] = marks_moments
        return frame

    # -- rater marks and consensus events -------------------------------------------------------
    def _rater_marks(self, session_id: int) -> pd.DataFrame:
        """The raters' marks of a session (events of source ``rater``): ``rater, label,
        onset_s, duration_s``, by onset."""
        return pd.DataFrame(list(self.db.query(
            "SELECT rater, label, onset_s, duration_s FROM events WHERE session_id = ? AND "
            "source = 'rater' AND scan_id IS NULL ORDER BY onset_s, id", (session_id,))),
            columns=["rater", "label", "onset_s", "duration_s"])

    @fill_doc
    def _save_consensus(self, dyad: str, session: int, *, labels: list[str],
                       moments: list[tuple[float, float, str]], config: dict[str, Any],
                       kappas: dict[str, float | None], replace: bool = False,
                       reason: str | None = None) -> tuple[str, int]:
        """Store a session's consensus moments of ``labels`` as events, in one transaction.

        Parameters
        ----------
        %(dyad)s
        %(session)s
        labels : list of str
            The labels analysed: the stored consensus events of these labels are compared and
            replaced.
        moments : list of (onset_s, duration_s, label)
            The new consensus moments.
        config, kappas : dict
            The agreement's configuration and Fleiss' kappa per label (for the audit trail).
        replace : bool
            Replace stored consensus events of these labels that differ.
        reason : str | None
            Why (audited).

        Returns
        -------
        tuple of (str, int)
            ``("unchanged", 0)`` when the same moments are stored already, else
            ``("stored", number of consensus events removed)``.

        Raises
        ------
        ConflictError
            A locked session, or other consensus events of these labels stored (without
            ``replace``).
        """
        session = check_session_number(session)
        with self.transaction():
            sid = self.require_unlocked(dyad, session)
            marks_q = ",".join("?" * len(labels))
            old = [(float(r[0]), float(r[1]), str(r[2])) for r in self.db.conn.execute(
                "SELECT onset_s, duration_s, label FROM events WHERE session_id = ? AND "
                f"source = 'consensus' AND scan_id IS NULL AND label IN ({marks_q})",
                (sid, *labels))]
            if sorted(old) == sorted(moments):
                return "unchanged", 0
            if old and not replace:
                raise ConflictError(
                    f"session {dyad}/{session} already has {len(old)} other consensus event(s) "
                    f"labelled {', '.join(labels)}: to replace them, add --replace --reason "
                    "\"...\" (or --no-store to only report)")
            removed = self.db.conn.execute(
                "DELETE FROM events WHERE session_id = ? AND source = 'consensus' AND "
                f"scan_id IS NULL AND label IN ({marks_q})", (sid, *labels)).rowcount
            now = utcnow()
            self.db.conn.executemany(
                "INSERT INTO events (session_id, scan_id, onset_s, duration_s, label, rater, "
                "source, created_at) VALUES (?, NULL, ?, ?, ?, NULL, 'consensus', ?)",
                [(sid, onset, dur, label, now) for onset, dur, label in moments])
            self.log("agreement", "events", f"{dyad}/{session}",
                     old={"n_consensus": removed} if removed else None,
                     new={"config": config, "kappa": kappas, "n_consensus": len(moments),
                          "events": [{"onset_s": o, "duration_s": d, "label": lab}
                                     for o, d, lab in moments]},
                     reason=reason)
        return "stored", removed

    # -- event-locked synchrony (runs and their rows are written by store.analyses' helpers) -----
    def save_eventlocked(self, *, session_id: int, label: str, config: dict[str, Any],
                         config_hash: str, input_hashes: dict[str, Any],
                         versions: dict[str, str], therapist_scan: int, patient_scan: int,
                         results: pd.DataFrame, tests: pd.DataFrame, seed: int,
                         warnings: list[str]) -> int:
        """Replace a session's event-locked results in one transaction; returns the run id."""
        with self.transaction():
            run_id, old = self._replace_run(EVENTLOCKED, session_id, config, config_hash,
                                            input_hashes, versions, warnings)
            self._insert_pair_results(
                (run_id, session_id, "true", therapist_scan, patient_scan, f"wtc@{r.condition}",
                 r.chromophore, r.level, r.therapist_unit, r.patient_unit, _num(r.value),
                 int(r.n_windows)) for r in results.itertuples(index=False))
            self._insert_pair_tests(
                (run_id, session_id, f"wtc@{r.condition}", r.chromophore, r.level,
                 r.therapist_unit, r.patient_unit, _num(r.observed), _num(r.null_mean),
                 _num(r.null_sd), int(r.n_permutations), _num(r.p_value), int(seed))
                for r in tests.itertuples(index=False))
            self._log_run(EVENTLOCKED, label, run_id, old, config_hash, rows=int(len(results)))
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
        self._where_dyad(dyad, where, params)
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
                                            versions, warnings)
            scans = {"therapist": therapist_scan, "patient": patient_scan}
            self.db.conn.executemany(
                "INSERT INTO person_measures (run_id, session_id, scan_id, role, measure, unit, "
                "condition, value, sd, n_windows) VALUES (?, ?, ?, ?, 'faa', ?, ?, ?, ?, ?)",
                [(run_id, session_id, scans[r.role], r.role, f"{r.left}:{r.right}",
                  r.condition, _num(r.value), _num(r.sd), int(r.n_windows))
                 for r in asymmetry.itertuples(index=False)])
            self._insert_pair_results(
                (run_id, session_id, "true", therapist_scan, patient_scan,
                 r.measure if r.condition == "session" else f"{r.measure}@{r.condition}", "eeg",
                 r.level, r.therapist_unit, r.patient_unit, _num(r.value), int(r.n_cells))
                for r in results.itertuples(index=False))
            self._log_run(EEG, label, run_id, old, config_hash, rows=int(len(results)),
                          asymmetry_rows=int(len(asymmetry)))
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
        self._where_dyad(dyad, where, params)
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
        self._where_dyad(dyad, where, params)
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
