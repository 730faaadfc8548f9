"""Event-locked synchrony over a study: every session with events and both fNIRS recordings.

The computation of one session is pure and lives in :mod:`studymgr.compute.events.eventlocked`
(time-resolved coherence, window means, random-window tests). This module runs it over a study
on the session-job runner (:func:`studymgr.runs.jobs.run_sessions`): it selects the sessions,
skips those whose stored run has the same configuration and inputs, prepares each session's two
recordings as the synchrony run does (:func:`studymgr.runs.synchrony.prepare_scan`), computes,
and stores.

Storage (no schema change): values go to ``synchrony_results`` with measure ``wtc@<label>`` or
``wtc@rest`` and ``n_cells`` = the number of windows; the tests go to ``synchrony_tests`` with the
same measure, ``true_value`` = the observed statistic, ``pseudo_mean/pseudo_sd`` = the random-window
null and ``n_pseudo`` = the number of permutations. The run's kind is ``eventlocked``.

The table and the figure of these results are in :mod:`studymgr.present`
(:func:`studymgr.present.tables.eventlocked_table`,
:func:`studymgr.present.figures.moments_figure`); EEG sessions are run by
:mod:`studymgr.runs.eeg`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from studymgr._docs import fill_doc
from studymgr.compute.events.eventlocked import (
    EVENT_SOURCES,
    REST,
    RESULT_COLUMNS,
    TEST_COLUMNS,
    EventLockedConfig,
    EventLockedResult,
    Timecourses,
    condition_statistics,
    eventlocked_config,
    eventlocked_session,
    events_hash,
    select_events,
    session_timecourses,
    time_resolved_coherence,
)
from studymgr.compute.synchrony.prepared import PreparedScan
from studymgr.errors import InputError
from studymgr.runs.eeg import EEG_SUMMARY_COLUMNS, compute_eeg
from studymgr.runs.executors import Executor, ProgressFn
from studymgr.runs.jobs import (
    SessionAnalysis,
    SessionFailure,
    SessionPlan,
    compute_pair,
    run_sessions,
)
from studymgr.runs.synchrony import (
    NO_SESSION_LEVEL,
    ScanInput,
    _prepare_job,
    check_montage,
    prepare_scan,
    scan_inputs,
)

if TYPE_CHECKING:
    # the study's type as the runner names it: this module reads and writes through its methods
    from studymgr.runs.jobs import Store

logger = logging.getLogger(__name__)

__all__ = [
    "EEG_SUMMARY_COLUMNS",
    "EVENT_SOURCES",
    "KIND",
    "REST",
    "RESULT_COLUMNS",
    "SUMMARY_COLUMNS",
    "TEST_COLUMNS",
    "EventLockedAnalysis",
    "EventLockedConfig",
    "EventLockedResult",
    "EventLockedTask",
    "Timecourses",
    "compute_eeg",
    "compute_eventlocked",
    "condition_statistics",
    "eventlocked_config",
    "eventlocked_session",
    "events_hash",
    "select_events",
    "session_timecourse",
    "session_timecourses",
    "time_resolved_coherence",
]

#: ``analysis_runs.kind`` of the stored runs.
KIND = "eventlocked"
SUMMARY_COLUMNS = ["dyad", "session", "status", "n_events", "moi", "rest", "p_moi", "message"]

@dataclass
class EventLockedTask:
    """One session to compute: its recordings, the events used and the input hashes.

    Attributes
    ----------
    session_id : int
        The session's id.
    label : str
        ``DYAD/N``.
    dyad : str
        The dyad's code.
    session : int
        The session number.
    therapist, patient : ScanInput
        The two fNIRS recordings.
    sfreq : float
        The session's common rate (Hz) the recordings are resampled to.
    events : DataFrame
        The selected events (``onset_s, duration_s, label, rater, source``).
    input_hashes : dict
        ``therapist``, ``patient`` (recording sha256) and ``events`` (:func:`events_hash`).
    """

    session_id: int
    label: str
    dyad: str
    session: int
    therapist: ScanInput
    patient: ScanInput
    sfreq: float
    events: pd.DataFrame
    input_hashes: dict[str, str]


def _compute_session(payload: tuple[EventLockedTask, EventLockedConfig],
                     prepared: dict[int, PreparedScan | str]
                     ) -> EventLockedResult | SessionFailure:
    """One session on its two prepared recordings (in a worker)."""
    task, config = payload
    result = compute_pair(eventlocked_session, prepared[task.therapist.scan_id],
                          prepared[task.patient.scan_id], task.events, config)
    if isinstance(result, EventLockedResult) and not (result.results["level"] == "session").any():
        # never let a computation without the session's values replace stored results
        return SessionFailure("; ".join([*result.warnings, NO_SESSION_LEVEL]))
    return result


@fill_doc
class EventLockedAnalysis(SessionAnalysis):
    """Event-locked synchrony as a :class:`~studymgr.runs.jobs.SessionAnalysis`: one task per
    session with both recordings and at least one selected event.

    Parameters
    ----------
    config : EventLockedConfig
        The analysis settings.
    %(dyad_session_filter)s
    """

    kind = KIND
    summary_columns = SUMMARY_COLUMNS
    prepare = staticmethod(_prepare_job)
    compute = staticmethod(_compute_session)

    def plan(self, study: Store) -> SessionPlan:
        config = self.config
        sessions = study.synchrony_inputs(dyad=self.dyad, session=self.session)
        if sessions.empty:
            raise InputError("no scanned session matches: add sessions and import scans first")
        scans = scan_inputs(study, sessions)
        misses = check_montage(study, sessions, config.synchrony)
        plan = SessionPlan()
        for row in sessions.itertuples(index=False):
            number = int(row.number)
            events = select_events(study.events(row.dyad, number), config.source, config.labels)
            base = _row(row.dyad, number, len(events))
            if pd.isna(row.therapist_scan) or pd.isna(row.patient_scan):
                plan.settled.append({**base, "status": "incomplete",
                                     "message": "both recordings are needed"})
            elif events.empty:
                plan.settled.append({**base, "status": "no events", "message":
                                     f"no {config.source} {'/'.join(config.labels)} events"})
            elif int(row.session_id) in misses:
                message = misses[int(row.session_id)]
                logger.warning("%s of %s/%d failed: %s", KIND, row.dyad, number, message)
                plan.settled.append({**base, "status": "failed", "message": message})
            else:
                therapist, patient = scans[int(row.therapist_scan)], scans[int(row.patient_scan)]
                plan.tasks.append(EventLockedTask(
                    session_id=int(row.session_id), label=f"{row.dyad}/{number}", dyad=row.dyad,
                    session=number, therapist=therapist, patient=patient,
                    sfreq=_session_sfreq(config, therapist, patient), events=events,
                    input_hashes={"therapist": row.therapist_sha256,
                                  "patient": row.patient_sha256, "events": events_hash(events)}))
        return plan

    def recordings(self, task: EventLockedTask
                   ) -> dict[int, tuple[ScanInput, Any, float]]:
        return {scan.scan_id: (scan, self.config.synchrony, task.sfreq)
                for scan in (task.therapist, task.patient)}

    def up_to_date_row(self, study: Store, task: EventLockedTask) -> dict[str, Any]:
        return {**_row(task.dyad, task.session, len(task.events)), "status": "up to date",
                **_stored_summary(study, task.session_id, self.config.labels[0])}

    def store(self, study: Store, task: EventLockedTask, result: EventLockedResult,
              versions: dict[str, str]) -> dict[str, Any]:
        config = self.config
        study.save_eventlocked(session_id=task.session_id, label=task.label,
                               config=config.to_dict(), config_hash=self.config_hash,
                               input_hashes=task.input_hashes, versions=versions,
                               therapist_scan=task.therapist.scan_id,
                               patient_scan=task.patient.scan_id, results=result.results,
                               tests=result.tests, seed=config.seed, warnings=result.warnings)
        return {**_row(task.dyad, task.session, len(task.events)), "status": "computed",
                "message": "; ".join(result.warnings),
                **_summary_values(result.results, result.tests, config.labels[0])}

    def failed_row(self, task: EventLockedTask, message: str) -> dict[str, Any]:
        return {**_row(task.dyad, task.session, len(task.events)), "status": "failed",
                "message": message}


@fill_doc
def compute_eventlocked(study: Store, config: EventLockedConfig | None = None, *,
                        dyad: str | None = None, session: int | None = None,
                        force: bool = False, progress: ProgressFn | None = None,
                        executor: Executor | None = None) -> pd.DataFrame:
    """Compute and store event-locked synchrony of every session with events and both scans.

    A session is skipped when its stored run has the same configuration and inputs (the two
    recordings' hashes and the events used); ``force`` recomputes. A session whose recording is
    missing or changed, or whose events lie outside its recordings, is reported as failed and
    the others go on.

    Parameters
    ----------
    %(study)s
    config : EventLockedConfig | None
        The settings (default: :class:`EventLockedConfig`'s defaults).
    %(dyad_session_filter)s
    %(force)s
    %(progress_compute)s
    %(executor_sessions)s

    Returns
    -------
    DataFrame
        One row per session: ``dyad, session, status`` (``computed``, ``up to date``,
        ``no events``, ``incomplete``, ``failed``), ``n_events``, ``moi`` and ``rest`` (HbO session
        coherence (R², 0-1) around the first label's moments and elsewhere), ``p_moi``,
        ``message``.
    """
    analysis = EventLockedAnalysis(config or EventLockedConfig(), dyad=dyad, session=session)
    return run_sessions(study, analysis, force=force, executor=executor, progress=progress)


def session_timecourse(study: Store, dyad: str, session: int,
                       config: EventLockedConfig | None = None, *, level: str = "session",
                       chromophore: str = "hbo") -> pd.DataFrame:
    """The time-resolved coherence of one stored session (for
    :func:`studymgr.present.figures.moments_figure`).

    Reads and preprocesses the session's two recordings (hash-checked) as
    :func:`compute_eventlocked` does; nothing is stored.

    Parameters
    ----------
    study : Study
        The open study.
    dyad, session : str, int
        The session.
    config : EventLockedConfig | None
        The configuration to reproduce (e.g. the stored run's, see
        :func:`~studymgr.compute.events.eventlocked.eventlocked_config`); default settings when
        None.
    level : {"session", "roi", "channel"}
        Which time courses.
    chromophore : str
        ``hbo`` or ``hbr``.

    Returns
    -------
    DataFrame
        ``time_s, chromophore, therapist_unit, patient_unit, value`` (coherence, R² 0-1) of one
        level and chromophore.

    Raises
    ------
    InputError
        A recording is missing, not where the study expects it, or changed since import.
    """
    config = config or EventLockedConfig()
    rows = study.synchrony_inputs(dyad=dyad, session=session)
    if rows.empty or rows[["therapist_scan", "patient_scan"]].isna().any(axis=None):
        raise InputError(f"session {dyad}/{session} needs both fNIRS recordings")
    row = next(rows.itertuples(index=False))
    scans = scan_inputs(study, rows)
    recordings = [scans[int(row.therapist_scan)], scans[int(row.patient_scan)]]
    for role, scan in zip(("therapist", "patient"), recordings, strict=True):
        # a moved data folder is a user's situation, not a bug: say so in one line
        if not scan.path.exists():
            raise InputError(f"the {role}'s recording of {dyad}/{session} is not at "
                             f"{scan.path}: restore it, or give the data folder with "
                             "'studymgr --data-dir DIR'")
    sync = config.synchrony
    sfreq = _session_sfreq(config, *recordings)
    therapist, patient = (prepare_scan(scan, sync, sfreq) for scan in recordings)
    frame = session_timecourses(therapist, patient, sync).frame(level)
    return frame[frame["chromophore"] == chromophore].reset_index(drop=True)


def _session_sfreq(config: EventLockedConfig, therapist: ScanInput, patient: ScanInput) -> float:
    """The rate a session's two recordings are resampled to (Hz): the configured one, else the
    lower of the two."""
    return config.synchrony.resample_sfreq or min(float(therapist.sfreq), float(patient.sfreq))


def _row(dyad: str, session: int, n_events: int) -> dict[str, Any]:
    """A summary row before its status and values."""
    return {"dyad": dyad, "session": session, "n_events": n_events, "moi": None, "rest": None,
            "p_moi": None, "message": ""}


def _summary_values(results: pd.DataFrame, tests: pd.DataFrame, label: str) -> dict[str, Any]:
    def pick(frame: pd.DataFrame, condition: str, column: str) -> float | None:
        sel = frame[(frame["chromophore"] == "hbo") & (frame["level"] == "session")
                    & (frame["condition"] == condition)]
        if sel.empty or pd.isna(sel[column].iloc[0]):
            return None
        return float(sel[column].iloc[0])

    return {"moi": pick(results, label, "value"), "rest": pick(results, REST, "value"),
            "p_moi": pick(tests, label, "p_value")}


def _stored_summary(study: Store, session_id: int, label: str) -> dict[str, Any]:
    frame = study.eventlocked_results(session_id=session_id, level="session")
    if frame.empty:
        return {}
    return _summary_values(frame, frame, label)
