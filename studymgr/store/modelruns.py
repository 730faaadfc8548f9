"""Study-level model runs in the store: ``analysis_runs`` (kind ``models``), ``model_fits`` and
``model_terms``.

A study keeps one models run, the latest: saving a new one deletes the previous run (its fits and
terms go with it by ``ON DELETE CASCADE``) in the same transaction, with one audit row saying
which run replaced which. Fitting is done by :mod:`studymgr.runs.models`; this module holds the SQL.

What is stored where (no schema change was needed):

- ``analysis_runs``: ``config`` (the resolved configuration incl. which instrument, scale,
  role and timing feed each construct; runs stored before schema v4 say ``respondent`` for
  ``role`` and are read with the new name), ``input_hashes`` (``analysis_table``: sha256 of
  the table's canonical CSV; ``synchrony_runs``: config hashes of the synchrony runs used),
  ``versions``, ``message`` (the run's notes: what was skipped or failed and why, one per line).
- ``model_fits``: one row per model; ``fit`` JSON holds ``status`` (``ok`` or ``failed``),
  ``message`` (why it failed), sample sizes, convergence, singularity, fallback, R², ICC,
  warnings, the model's own configuration, and for some models ``p_fdr`` (Benjamini-Hochberg
  adjusted p-values by term) and ``extra`` values by term; ``random`` JSON holds the random
  effects (lme4 ``VarCorr`` layout).
- ``model_terms``: fixed effects, contrasts (as extra terms) and, for the fit named
  ``rm_corr``, one row per repeated-measures correlation (term ``synchrony~symptoms``,
  ``estimate`` = r, ``df``, ``p``, CI; ``se`` and ``t`` empty).
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import pandas as pd

from studymgr.ids import CONSTRUCTS, utcnow

logger = logging.getLogger(__name__)

MODELS = "models"
TERM_COLUMNS = ["model", "term", "estimate", "se", "df", "t", "p", "ci_low", "ci_high", "p_fdr"]
FIT_COLUMNS = ["model", "status", "formula", "n_obs", "n_groups", "converged", "singular",
               "fallback", "r2_marginal", "r2_conditional", "icc", "aic", "message", "notes"]
RANDOM_COLUMNS = ["model", "group", "var1", "var2", "vcov", "sdcor"]
RUN_COLUMNS = ["run_id", "status", "started_by", "started_at", "finished_at", "config_hash",
               "analysis_table", "synchrony_runs", "n_fits", "n_failed", "notes", "config"]
SOURCE_COLUMNS = ["construct", "instrument", "version", "scale", "role", "timing",
                  "n_responses", "n_in_table", "chosen"]
ROI_COLUMNS = ["therapist_roi", "patient_roi", "model", "status", "slope", "se", "df", "p",
               "p_fdr", "message"]


def _rename_respondent(config: dict[str, Any]) -> None:
    """Read a run stored before schema v4: its construct sources say ``respondent`` for
    ``role`` (the stored JSON and its config hash stay as they were)."""
    for key in ("constructs", "sources"):
        for source in (config.get(key) or {}).values():
            if isinstance(source, dict) and "respondent" in source:
                source.setdefault("role", source.pop("respondent"))


def _num(value: Any) -> float | None:
    """A finite float, or None (NaN/inf/missing are stored as NULL)."""
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _p(value: Any) -> float | None:
    out = _num(value)
    # the CHECK refuses p outside [0, 1]; rounding can leave 1 + 1e-16
    return None if out is None else min(max(out, 0.0), 1.0)


class ModelRunsMixin:
    """Study methods for study-level model runs (see :mod:`studymgr.runs.models`)."""

    # -- writing ---------------------------------------------------------------------------
    def _save_model_run(self, *, config: dict[str, Any], config_hash: str,
                        input_hashes: dict[str, Any], versions: dict[str, str],
                        notes: list[str], fits: list[dict[str, Any]],
                        started_at: str) -> int:
        """Store a models run and replace the previous one, in one transaction.

        Parameters
        ----------
        fits : list of dict
            Each ``{"name", "formula", "fit": dict, "random": list of dict, "terms": list of
            dict with term, estimate, se, df, t, p, ci_low, ci_high}``.

        Returns
        -------
        int
            The new run's id.
        """
        with self.transaction():
            old = [r[0] for r in self.db.conn.execute(
                "SELECT id FROM analysis_runs WHERE kind = ? AND session_id IS NULL "
                "ORDER BY id", (MODELS,))]
            for run_id in old:
                self.db.conn.execute("DELETE FROM analysis_runs WHERE id = ?", (run_id,))
            cur = self.db.conn.execute(
                "INSERT INTO analysis_runs (kind, session_id, config, config_hash, input_hashes,"
                " versions, status, message, started_by, started_at, finished_at) VALUES "
                "(?, NULL, ?, ?, ?, ?, 'done', ?, ?, ?, ?)",
                (MODELS, json.dumps(config, sort_keys=True), config_hash,
                 json.dumps(input_hashes, sort_keys=True), json.dumps(versions, sort_keys=True),
                 "\n".join(notes) or None, self.user, started_at, utcnow()),
            )
            run_id = int(cur.lastrowid)
            for fit in fits:
                fit_id = int(self.db.conn.execute(
                    "INSERT INTO model_fits (run_id, name, formula, fit, random) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (run_id, fit["name"], fit["formula"],
                     json.dumps(fit["fit"], sort_keys=True, allow_nan=False),
                     json.dumps(fit["random"], sort_keys=True, allow_nan=False)),
                ).lastrowid)
                self.db.conn.executemany(
                    "INSERT INTO model_terms (fit_id, term, estimate, se, df, t, p, ci_low, "
                    "ci_high) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(fit_id, str(t["term"]), _num(t.get("estimate")), _num(t.get("se")),
                      _num(t.get("df")), _num(t.get("t")), _p(t.get("p")),
                      _num(t.get("ci_low")), _num(t.get("ci_high"))) for t in fit["terms"]],
                )
            n_failed = sum(1 for f in fits if f["fit"].get("status") != "ok")
            self.log("fit", "models", "study", old={"runs": old} if old else None,
                     new={"run": run_id, "config_hash": config_hash,
                          "analysis_table": input_hashes.get("analysis_table"),
                          "fits": len(fits), "failed": n_failed})
        logger.info("stored models run %d (%d fits, %d failed)", run_id, len(fits), n_failed)
        return run_id

    # -- reading -----------------------------------------------------------------------------
    def model_run(self) -> dict[str, Any] | None:
        """The stored models run as a dict (None when models were never fitted)."""
        row = self.db.conn.execute(
            "SELECT id, status, started_by, started_at, finished_at, config, config_hash, "
            "input_hashes, versions, message FROM analysis_runs WHERE kind = ? AND "
            "session_id IS NULL ORDER BY id DESC LIMIT 1", (MODELS,)).fetchone()
        if row is None:
            return None
        keys = ["run_id", "status", "started_by", "started_at", "finished_at", "config",
                "config_hash", "input_hashes", "versions", "message"]
        out = dict(zip(keys, row, strict=True))
        for key in ("config", "input_hashes", "versions"):
            out[key] = json.loads(out[key])
        _rename_respondent(out["config"])
        out["notes"] = out.pop("message").splitlines() if out["message"] else []
        return out

    def model_results(self) -> dict[str, pd.DataFrame]:
        """The stored models run as tidy tables.

        Returns
        -------
        dict of str to DataFrame
            ``run`` (one row: id, status, who and when, config hash, analysis-table hash,
            synchrony run hashes, counts, notes, config JSON), ``fits`` (one row per model:
            status, formula, sample sizes, convergence, singularity, fallback, R², ICC, AIC,
            failure message, notes), ``terms`` (``model, term, estimate, se, df, t, p, ci_low,
            ci_high, p_fdr``), ``random`` (``model, group, var1, var2, vcov, sdcor``),
            ``roi`` (growth slope per ROI pair with Benjamini-Hochberg ``p_fdr``) and
            ``constructs`` (which scores fed each construct). All empty when no models were
            fitted.
        """
        run = self.model_run()
        empty = {
            "run": pd.DataFrame(columns=RUN_COLUMNS),
            "fits": pd.DataFrame(columns=FIT_COLUMNS),
            "terms": pd.DataFrame(columns=TERM_COLUMNS),
            "random": pd.DataFrame(columns=RANDOM_COLUMNS),
            "roi": pd.DataFrame(columns=ROI_COLUMNS),
            "constructs": pd.DataFrame(columns=SOURCE_COLUMNS),
        }
        if run is None:
            return empty
        fit_rows = self.db.conn.execute(
            "SELECT id, name, formula, fit, random FROM model_fits WHERE run_id = ? "
            "ORDER BY id", (run["run_id"],)).fetchall()
        fits, randoms, terms, rois = [], [], [], []
        by_id: dict[int, tuple[str, dict[str, Any]]] = {}
        for fit_id, name, formula, fit_json, random_json in fit_rows:
            fit = json.loads(fit_json)
            by_id[fit_id] = (name, fit)
            r2 = fit.get("r2") or {}
            fits.append({
                "model": name, "status": fit.get("status"), "formula": formula,
                "n_obs": fit.get("n_obs"), "n_groups": fit.get("n_groups"),
                "converged": fit.get("converged"), "singular": fit.get("singular"),
                "fallback": fit.get("fallback"), "r2_marginal": r2.get("marginal"),
                "r2_conditional": r2.get("conditional"), "icc": fit.get("icc"),
                "aic": fit.get("aic"), "message": fit.get("message"),
                "notes": "\n".join(fit.get("warnings") or []),
            })
            randoms += [{"model": name, **r} for r in json.loads(random_json)]
        term_rows = self.db.conn.execute(
            "SELECT t.fit_id, t.term, t.estimate, t.se, t.df, t.t, t.p, t.ci_low, t.ci_high "
            "FROM model_terms t JOIN model_fits f ON f.id = t.fit_id WHERE f.run_id = ? "
            "ORDER BY f.id, t.rowid", (run["run_id"],)).fetchall()
        for fit_id, term, *numbers in term_rows:
            name, fit = by_id[fit_id]
            p_fdr = (fit.get("p_fdr") or {}).get(term)
            terms.append(dict(zip(TERM_COLUMNS, [name, term, *numbers, p_fdr], strict=True)))
        term_frame = pd.DataFrame(terms, columns=TERM_COLUMNS)
        for name, fit in by_id.values():
            if fit.get("kind") != "growth_roi":
                continue
            row = term_frame.loc[(term_frame["model"] == name)
                                 & (term_frame["term"] == fit.get("time", "session"))]
            first = row.iloc[0] if len(row) else None
            rt, rp = fit.get("roi_pair") or [None, None]
            rois.append({
                "therapist_roi": rt, "patient_roi": rp, "model": name,
                "status": fit.get("status"),
                "slope": None if first is None else first["estimate"],
                "se": None if first is None else first["se"],
                "df": None if first is None else first["df"],
                "p": None if first is None else first["p"],
                "p_fdr": None if first is None else first["p_fdr"],
                "message": fit.get("message"),
            })
        found = run["config"].get("sources") or {}
        order = [c for c in CONSTRUCTS if c in found] + sorted(set(found) - set(CONSTRUCTS))
        sources = [{"construct": c, **(found[c] or {})} for c in order]
        hashes = run["input_hashes"]
        run_frame = pd.DataFrame([{
            "run_id": run["run_id"], "status": run["status"], "started_by": run["started_by"],
            "started_at": run["started_at"], "finished_at": run["finished_at"],
            "config_hash": run["config_hash"], "analysis_table": hashes.get("analysis_table"),
            "synchrony_runs": ", ".join(hashes.get("synchrony_runs") or []),
            "n_fits": sum(f["status"] == "ok" for f in fits),
            "n_failed": sum(f["status"] != "ok" for f in fits),
            "notes": "\n".join(run["notes"]),
            "config": json.dumps(run["config"], sort_keys=True),
        }], columns=RUN_COLUMNS)
        out = {
            "run": run_frame,
            "fits": pd.DataFrame(fits, columns=FIT_COLUMNS),
            "terms": term_frame,
            "random": pd.DataFrame(randoms, columns=RANDOM_COLUMNS),
            "roi": pd.DataFrame(rois, columns=ROI_COLUMNS),
            "constructs": pd.DataFrame(sources, columns=SOURCE_COLUMNS),
        }
        for key in ("terms", "roi"):
            frame = out[key]
            for col in frame.columns:
                if col in {"estimate", "se", "df", "t", "p", "ci_low", "ci_high", "p_fdr",
                           "slope"}:
                    frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
        return out
