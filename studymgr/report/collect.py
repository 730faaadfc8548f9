"""Everything the report shows, read from the study once (through its public methods).

One exception: the stored synchrony runs' configurations and package versions have no public
reader yet, so :func:`synchrony_runs` reads ``analysis_runs`` with a single SELECT (read only).

:func:`gather` also refits the main models from the analysis table with :mod:`studymgr.models`
(for residuals, random effects and the confidence band of the mean trajectory) and compares the
refitted numbers with the stored ones.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field, fields
from typing import Any

import pandas as pd

from studymgr.errors import StudyError

logger = logging.getLogger(__name__)

TIME, GROUP = "session", "dyad"
OUTCOMES = ("symptoms", "wellbeing", "session_quality")
# Relative tolerance of the refit check: the refit runs the same deterministic code on the
# same table, so any difference beyond rounding means the data or the software changed.
REFIT_RTOL = 1e-6


@dataclass
class Refit:
    """The refitted models and how they compare with the stored run.

    Attributes
    ----------
    results : dict
        Model name -> :class:`~studymgr.models.ModelResult`.
    failed : dict
        Model name -> message, for refits that raised.
    same_table : bool or None
        The analysis table has the sha256 stored with the models run (None: no run stored).
    compared : int
        Numbers compared (estimate, se, df, p of every fixed effect of every refitted model).
    max_rel_diff : float
        Largest relative difference found.
    mismatches : list of str
        ``model term column: stored vs refit`` beyond :data:`REFIT_RTOL`.
    """

    results: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    same_table: bool | None = None
    compared: int = 0
    max_rel_diff: float = 0.0
    mismatches: list[str] = field(default_factory=list)


@dataclass
class ReportData:
    """What the report is made of (frames as returned by the study's methods)."""

    name: str
    summary: dict[str, Any]
    status: pd.DataFrame
    legends: list[str]
    dyads: pd.DataFrame
    scans: pd.DataFrame
    channels: pd.DataFrame
    pairs: pd.DataFrame
    responses: pd.DataFrame
    synchrony: pd.DataFrame
    roi: pd.DataFrame
    tests: pd.DataFrame
    sync_runs: pd.DataFrame
    run: dict[str, Any] | None
    results: dict[str, pd.DataFrame]
    audit_problems: list[str] = field(default_factory=list)
    table: Any = None
    table_note: str | None = None
    refit: Refit = field(default_factory=Refit)


def stored_model_config(study: Any) -> Any:
    """The :class:`~studymgr.analysis_table.ModelConfig` of the stored models run (None when no
    run is stored)."""
    from studymgr.analysis_table import ModelConfig

    run = study.model_run()
    if run is None:
        return None
    allowed = {f.name for f in fields(ModelConfig)}
    return ModelConfig.from_dict({k: v for k, v in run["config"].items() if k in allowed})


def synchrony_runs(study: Any) -> pd.DataFrame:
    """Stored synchrony runs, one per session: ``dyad, session, config_hash, config``
    (dict), ``versions`` (dict), ``finished_at``, ``message``."""
    rows = list(study.db.query(
        "SELECT d.code AS dyad, s.number AS session, a.config_hash, a.config, a.versions, "
        "a.finished_at, a.message FROM analysis_runs a JOIN sessions s ON s.id = a.session_id "
        "JOIN dyads d ON d.id = s.dyad_id WHERE a.kind = 'synchrony' AND a.status = 'done' "
        "ORDER BY d.code, s.number"))
    for r in rows:
        r["config"] = json.loads(r["config"])
        r["versions"] = json.loads(r["versions"])
    return pd.DataFrame(rows, columns=["dyad", "session", "config_hash", "config", "versions",
                                       "finished_at", "message"])


def channel_quality(study: Any, scans: pd.DataFrame) -> pd.DataFrame:
    """Per-channel quality of every recording: ``dyad, session, role, channel, sci, usable``."""
    frames = []
    for s in scans.loc[scans["modality"] == "nirs"].itertuples(index=False):
        q = study.scan_quality(s.dyad, int(s.session), s.role, s.modality)
        if len(q):
            frames.append(q[["channel", "sci", "usable"]].assign(
                dyad=s.dyad, session=int(s.session), role=s.role))
    if not frames:
        return pd.DataFrame(columns=["dyad", "session", "role", "channel", "sci", "usable"])
    out = pd.concat(frames, ignore_index=True)
    out["sci"] = pd.to_numeric(out["sci"], errors="coerce").astype(float)
    return out[["dyad", "session", "role", "channel", "sci", "usable"]]


def gather(study: Any) -> ReportData:
    """Read everything the report needs and refit the main models."""
    from studymgr.modelrun import analysis_table

    scans = study.scans()
    data = ReportData(
        name=study.name,
        summary=study.summary(),
        status=study.status(),
        legends=study.status_legends(),
        dyads=study.dyads(),
        scans=scans,
        channels=channel_quality(study, scans),
        pairs=study.scan_pairs(),
        responses=study.responses(),
        synchrony=study.synchrony(level="session"),
        roi=study.synchrony(level="roi"),
        tests=study.synchrony_tests(),
        sync_runs=synchrony_runs(study),
        run=study.model_run(),
        results=study.model_results(),
        audit_problems=study.verify_audit(),
    )
    try:
        config = stored_model_config(study)
        data.table = analysis_table(study, config)
    except StudyError as exc:
        # e.g. the stored run names an instrument whose scores were removed since
        data.table_note = (f"the analysis table could not be built with the stored models "
                           f"run's settings ({exc}); the default settings are used instead")
        logger.info("report: %s", data.table_note)
        data.table = analysis_table(study, None)
    data.refit = refit_models(data.table, data.run, data.results)
    return data


def refit_models(table: Any, run: dict[str, Any] | None,
                 results: dict[str, pd.DataFrame]) -> Refit:
    """Refit growth, ``outcome:<o>`` and ``alliance:<o>`` from the analysis table and compare
    their fixed effects with the stored ones.

    Parameters
    ----------
    table : AnalysisTable
    run : dict or None
        The stored models run (for the table's sha256).
    results : dict of DataFrame
        The stored results (``terms``).
    """
    from studymgr.models import growth_model, outcome_model

    out = Refit()
    frame = table.frame
    have = table.available
    if run is not None:
        out.same_table = run["input_hashes"].get("analysis_table") == table.sha256
    jobs: dict[str, Any] = {}
    if have["synchrony"]:
        jobs["growth"] = lambda: growth_model(frame, "synchrony", TIME, GROUP)
    for o in OUTCOMES:
        if not have[o]:
            continue
        if have["synchrony"]:
            jobs[f"outcome:{o}"] = lambda o=o: outcome_model(frame, o, "synchrony", TIME, GROUP)
        if have["alliance"]:
            jobs[f"alliance:{o}"] = lambda o=o: outcome_model(frame, o, "alliance", TIME, GROUP)
    for name, job in jobs.items():
        try:
            out.results[name] = job()
        except StudyError as exc:
            out.failed[name] = str(exc)
        except (ArithmeticError, ValueError) as exc:  # numerically degenerate data
            out.failed[name] = f"{type(exc).__name__}: {exc}"
    stored = results.get("terms", pd.DataFrame())
    for name, res in out.results.items():
        mine = stored.loc[stored["model"] == name].set_index("term") if len(stored) else None
        if mine is None or mine.empty:
            continue
        for row in res.fixed.itertuples(index=False):
            if row.term not in mine.index:
                out.mismatches.append(f"{name} {row.term}: not in the stored run")
                continue
            for col in ("estimate", "se", "df", "p"):
                a, b = float(mine.loc[row.term, col]), float(getattr(row, col))
                out.compared += 1
                if math.isnan(a) and math.isnan(b):
                    continue
                rel = abs(a - b) / max(abs(a), abs(b), 1e-12)
                out.max_rel_diff = max(out.max_rel_diff, rel)
                if rel > REFIT_RTOL:
                    out.mismatches.append(f"{name} {row.term} {col}: stored {a:.6g}, refit "
                                          f"{b:.6g}")
    return out
