"""Everything the report shows, read from the study once (through its public methods).

The stored runs and the models run's settings come from :mod:`studymgr.present.results`
(:func:`~studymgr.present.results.analysis_runs`,
:func:`~studymgr.present.results.stored_model_config`), which the exports read too.

Moments of interest (:func:`gather_moments`) are read only when the study has rater or
consensus events. Their timelines recompute the coherence time course from the recordings
(:func:`studymgr.runs.eventlocked.session_timecourse`, seconds per session), so at most
``max_timelines`` sessions are drawn.

:func:`gather` also refits the main models from the analysis table with
:mod:`studymgr.compute.models` (for residuals, random effects and the confidence band of the mean
trajectory) and compares the refitted numbers with the stored ones.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from studymgr.errors import StudyError
from studymgr.ids import OUTCOMES
from studymgr.present.report.options import MAX_TIMELINES
from studymgr.present.results import analysis_runs, stored_model_config

if TYPE_CHECKING:
    from studymgr.compute.models.table import AnalysisTable
    from studymgr.runs.study import Study

logger = logging.getLogger(__name__)

TIME, GROUP = "session", "dyad"
#: Event sources that make the moments section: the raters' marks and their consensus.
MOMENT_SOURCES = ("rater", "consensus")
#: Default tolerance of ``Study.rater_agreement`` (used when no consensus was stored).
AGREEMENT_COLUMNS = ["dyad", "session", "label", "raters", "marks", "consensus", "recomputed",
                     "kappa", "observed_agreement", "tolerance_s", "bin_s", "settings"]
# Relative tolerance of the refit check: the refit runs the same deterministic code on the
# same table, so any difference beyond rounding means the data or the software changed.
REFIT_RTOL = 1e-6


@dataclass
class Refit:
    """The refitted models and how they compare with the stored run.

    Attributes
    ----------
    results : dict
        Model name -> :class:`~studymgr.compute.models.ModelResult`.
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
class Timeline:
    """One session's timeline: its marks and, when it could be recomputed, the time course.

    Attributes
    ----------
    dyad, session : str, int
    events : DataFrame
        The session's rater and consensus events (as :meth:`Study.events` returns them).
    timecourse : DataFrame or None
        ``time_s, value`` (session level, one chromophore); None when it could not be
        recomputed.
    note : str or None
        Why the time course is missing.
    window : (float, float)
        The stored analysis window (s).
    """

    dyad: str
    session: int
    events: pd.DataFrame
    timecourse: pd.DataFrame | None
    note: str | None
    window: tuple[float, float]


@dataclass
class MomentsData:
    """Moments of interest: marks, agreement, event-locked fNIRS and EEG results.

    Attributes
    ----------
    events : DataFrame
        Rater and consensus events of every session.
    agreement : DataFrame
        Per session and label (:data:`AGREEMENT_COLUMNS`): raters, marks, stored consensus
        moments, the consensus moments the marks give now (``recomputed``), Fleiss' kappa
        recomputed with ``Study.rater_agreement(store=False)``, the tolerance and bin width
        used and whether they are the ``stored`` ones (audit trail of the consensus) or the
        ``default``.
    agreement_failed : list of str
        ``"D01/2: why"`` for sessions whose agreement could not be recomputed.
    agreement_configs : list of dict
        The stored agreement settings (one per session with a consensus in the audit trail).
    eventlocked : DataFrame
        ``Study.eventlocked_results(level="session")`` (every chromophore).
    runs : DataFrame
        The stored event-locked runs (see :func:`analysis_runs`).
    chromophore : str
        The chromophore the timelines and the report's table show.
    timelines : list of Timeline
        The sessions drawn, most consensus moments first.
    candidates : list of (str, int, int)
        Every session with event-locked results: ``(dyad, session, consensus moments)`` in
        drawing order.
    max_timelines : int or None
        The limit asked for (None: all).
    eeg : DataFrame
        ``Study.eeg_results(level="session")``.
    asymmetry : DataFrame
        ``Study.eeg_asymmetry()``.
    eeg_runs : DataFrame
        The stored EEG runs.
    """

    events: pd.DataFrame
    agreement: pd.DataFrame
    agreement_failed: list[str]
    agreement_configs: list[dict[str, Any]]
    eventlocked: pd.DataFrame
    runs: pd.DataFrame
    chromophore: str
    timelines: list[Timeline]
    candidates: list[tuple[str, int, int]]
    max_timelines: int | None
    eeg: pd.DataFrame
    asymmetry: pd.DataFrame
    eeg_runs: pd.DataFrame


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
    table: AnalysisTable | None = None
    table_note: str | None = None
    refit: Refit = field(default_factory=Refit)
    moments: MomentsData | None = None


def synchrony_runs(study: Study) -> pd.DataFrame:
    """Stored synchrony runs, one per session (see :func:`analysis_runs`)."""
    return analysis_runs(study, "synchrony")


def channel_quality(study: Study, scans: pd.DataFrame) -> pd.DataFrame:
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


def gather(study: Study, *, max_timelines: int | None = MAX_TIMELINES) -> ReportData:
    """Read everything the report needs and refit the main models.

    Parameters
    ----------
    study : Study
        The open study.
    max_timelines : int or None
        At most this many moments timelines (each reloads a session's recordings); None: all.
    """
    from studymgr.runs.models import analysis_table

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
    data.moments = gather_moments(study, data.table.config.chromophore, max_timelines)
    return data


def refit_models(table: AnalysisTable, run: dict[str, Any] | None,
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
    from studymgr.compute.models import growth_model, outcome_model

    out = Refit()
    frame = table.frame
    have = table.available
    var = table.config.variable
    if run is not None:
        out.same_table = run["input_hashes"].get("analysis_table") == table.sha256
    jobs: dict[str, Any] = {}
    if have[var]:
        jobs["growth"] = lambda: growth_model(frame, var, TIME, GROUP)
    for o in OUTCOMES:
        if not have[o]:
            continue
        if have[var]:
            jobs[f"outcome:{o}"] = lambda o=o: outcome_model(frame, o, var, TIME, GROUP)
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


# --------------------------------------------------------------------------------------------
# moments of interest
# --------------------------------------------------------------------------------------------


def stored_agreement_settings(study: Study) -> dict[tuple[str, int], dict[str, Any]]:
    """The settings each session's stored consensus was made with, from the audit trail.

    ``Study.rater_agreement`` logs action ``agreement`` on entity ``events`` (key
    ``DYAD/N``) with the configuration and the kappa per label; the newest entry of a session
    counts.

    Returns
    -------
    dict
        ``(dyad, session) -> {tolerance_s, min_raters, bin_s, ..., labels}``.
    """
    audit = study.audit(limit=None)
    found = audit.loc[(audit["action"] == "agreement") & (audit["entity"] == "events")]
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for row in found.itertuples(index=False):  # newest first
        dyad, _, number = str(row.entity_key).rpartition("/")
        if not number.isdigit() or (dyad, int(number)) in out:
            continue
        new = json.loads(row.new) if isinstance(row.new, str) else {}
        config = dict(new.get("config") or {})
        if "tolerance_s" not in config:
            continue
        config["labels"] = sorted(new.get("kappa") or {})
        out[(dyad, int(number))] = config
    return out


def agreement_rows(study: Study, events: pd.DataFrame,
                   stored: dict[tuple[str, int], dict[str, Any]]
                   ) -> tuple[pd.DataFrame, list[str]]:
    """Marks, stored consensus moments and Fleiss' kappa per session and label.

    Kappa is recomputed (nothing stored) with the tolerance, minimum raters and bin width the
    session's consensus was stored with when the audit trail has them, else with the defaults.

    Parameters
    ----------
    study : Study
    events : DataFrame
        The rater and consensus events (:meth:`Study.events`).
    stored : dict
        From :func:`stored_agreement_settings`.

    Returns
    -------
    rows : DataFrame
        :data:`AGREEMENT_COLUMNS`; ``recomputed`` is the number of consensus moments the
        current marks give with those settings; ``settings`` is ``stored``, ``default`` or
        empty (no rater marks: the consensus was imported).
    failed : list of str
        ``"D01/2: why"`` for sessions whose agreement could not be computed.
    """
    rows, failed = [], []
    for (dyad, number), ev in events.groupby(["dyad", "session"], sort=True):
        number = int(number)
        marks = ev.loc[ev["source"] == "rater"]
        consensus = ev.loc[ev["source"] == "consensus"].groupby("label").size()
        summary = pd.DataFrame(columns=["n_consensus", "kappa", "observed_agreement"])
        tolerance = bin_s = math.nan
        settings = ""
        if len(marks):
            config = stored.get((dyad, number)) if len(consensus) else None
            kwargs: dict[str, Any] = {}
            settings = "default"
            if config is not None:
                # the labels are not passed: each label's kappa uses every rater of the
                # session whichever labels are analysed
                kwargs = {k: config[k] for k in ("tolerance_s", "min_raters", "bin_s")
                          if config.get(k) is not None}
                settings = "stored"
            try:
                result = study.rater_agreement(dyad, number, store=False, **kwargs)
            except StudyError as exc:
                failed.append(f"{dyad}/{number}: {exc}")
            else:
                summary = result["summary"].set_index("label")
                tolerance = float(result["config"]["tolerance_s"])
                bin_s = float(result["config"]["bin_s"])
        for label in sorted(set(marks["label"]) | set(consensus.index)):
            mine = marks.loc[marks["label"] == label]
            have = label in summary.index
            rows.append({"dyad": dyad, "session": number, "label": label,
                         "raters": int(mine["rater"].nunique()), "marks": len(mine),
                         "consensus": int(consensus.get(label, 0)),
                         "recomputed": int(summary.loc[label, "n_consensus"]) if have else None,
                         "kappa": float(summary.loc[label, "kappa"]) if have else math.nan,
                         "observed_agreement": float(summary.loc[label, "observed_agreement"])
                         if have else math.nan,
                         "tolerance_s": tolerance, "bin_s": bin_s, "settings": settings})
    frame = pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
    frame["recomputed"] = frame["recomputed"].astype("Int64")
    return frame, failed


def timeline_order(eventlocked: pd.DataFrame, events: pd.DataFrame,
                   chromophore: str) -> list[tuple[str, int, int]]:
    """Sessions with event-locked results, most consensus moments first (then by dyad and
    session): ``[(dyad, session, consensus moments)]``."""
    sel = eventlocked.loc[eventlocked["chromophore"] == chromophore, ["dyad", "session"]]
    counts = events.loc[events["source"] == "consensus"].groupby(["dyad", "session"]).size()
    items = [(str(d), int(n), int(counts.get((d, n), 0)))
             for d, n in sel.drop_duplicates().itertuples(index=False)]
    return sorted(items, key=lambda t: (-t[2], t[0], t[1]))


def _timeline(study: Study, dyad: str, number: int, events: pd.DataFrame, runs: pd.DataFrame,
              chromophore: str) -> Timeline:
    from studymgr.runs.eventlocked import eventlocked_config, session_timecourse

    mine = events.loc[(events["dyad"] == dyad) & (events["session"] == number)]
    run = runs.loc[(runs["dyad"] == dyad) & (runs["session"] == number)]
    window, timecourse, note = (-15.0, 15.0), None, None
    try:
        config = eventlocked_config(run.iloc[0]["config"]) if len(run) else None
        if config is not None:
            window = config.window
        frame = session_timecourse(study, dyad, number, config, chromophore=chromophore)
        if frame.empty:
            note = f"no {chromophore} channel pair was usable in both recordings"
        else:
            timecourse = frame[["time_s", "value"]]
    except StudyError as exc:
        note = str(exc)
    except OSError as exc:  # unreadable file: the marks are still worth showing
        note = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a reader or preprocessing bug must not take the report down
        logger.exception("report: timeline %s/%s", dyad, number)
        note = f"unexpected {type(exc).__name__}: {exc}; please report this as a bug"
    if note:
        logger.info("report: timeline %s/%s without time course: %s", dyad, number, note)
    return Timeline(dyad=dyad, session=number, events=mine.reset_index(drop=True),
                    timecourse=timecourse, note=note, window=tuple(window))


def gather_moments(study: Study, chromophore: str = "hbo",
                   max_timelines: int | None = MAX_TIMELINES) -> MomentsData | None:
    """Everything the moments section shows (None when the study has no rater or consensus
    events).

    Parameters
    ----------
    study : Study
    chromophore : str
        The report's chromophore (used when event-locked results exist for it).
    max_timelines : int or None
        At most this many timelines, most consensus moments first; None: every session.
    """
    events = study.events()
    events = events.loc[events["source"].isin(MOMENT_SOURCES)].reset_index(drop=True)
    if events.empty:
        return None
    stored = stored_agreement_settings(study)
    agreement, failed = agreement_rows(study, events, stored)
    with_consensus = set(zip(agreement.loc[agreement["consensus"] > 0, "dyad"],
                             agreement.loc[agreement["consensus"] > 0, "session"], strict=True))
    configs = [stored[k] for k in sorted(stored) if k in with_consensus]
    eventlocked = study.eventlocked_results(level="session")
    available = set(eventlocked["chromophore"])
    if chromophore not in available:
        chromophore = "hbo" if "hbo" in available or not available else sorted(available)[0]
    runs = analysis_runs(study, "eventlocked")
    candidates = timeline_order(eventlocked, events, chromophore)
    chosen = candidates if max_timelines is None else candidates[:max_timelines]
    timelines = [_timeline(study, d, n, events, runs, chromophore) for d, n, _ in chosen]
    return MomentsData(events=events, agreement=agreement, agreement_failed=failed,
                       agreement_configs=configs, eventlocked=eventlocked, runs=runs,
                       chromophore=chromophore, timelines=timelines, candidates=candidates,
                       max_timelines=max_timelines, eeg=study.eeg_results(level="session"),
                       asymmetry=study.eeg_asymmetry(), eeg_runs=analysis_runs(study, "eeg"))
