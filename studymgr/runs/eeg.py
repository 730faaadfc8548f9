"""EEG coupling and frontal alpha asymmetry over a study: every session with both people's EEG.

The measures of one session are pure and live in :mod:`studymgr.compute.eeg` (phase locking,
envelope correlation, asymmetry, around the session's moments). This module runs them over a
study on the session-job runner (:func:`studymgr.runs.jobs.run_sessions`): it checks the
asymmetry electrodes of every selected recording first, skips sessions whose stored run has the
same configuration and inputs, reads and prepares each session's two recordings inside its task
(EEG recordings are large: a local run holds only the sessions in flight), computes, and stores.
The run's kind is ``eeg``.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from studymgr._docs import fill_doc
from studymgr.compute.eeg import EEGConfig, EEGResult, PreparedEEG, eeg_session, prepare_eeg
from studymgr.compute.events.eventlocked import events_hash, select_events
from studymgr.errors import InputError, StudyError
from studymgr.runs.executors import Executor, ProgressFn
from studymgr.runs.jobs import (
    SessionAnalysis,
    SessionFailure,
    SessionPlan,
    compute_pair,
    run_sessions,
)
from studymgr.runs.synchrony import ScanInput, read_scan

if TYPE_CHECKING:
    # the study's type as the runner names it: this module reads and writes through its methods
    from studymgr.runs.jobs import Store

logger = logging.getLogger(__name__)

__all__ = ["EEG_SUMMARY_COLUMNS", "KIND", "EEGAnalysis", "EEGRecording", "EEGTask",
           "compute_eeg"]

#: ``analysis_runs.kind`` of the stored runs.
KIND = "eeg"
EEG_SUMMARY_COLUMNS = ["dyad", "session", "status", "n_events", "measure", "value",
                       "faa_therapist", "faa_patient", "message"]
_ROLES = ("therapist", "patient")


@dataclass(frozen=True)
class EEGRecording:
    """One EEG recording as a worker needs it.

    Attributes
    ----------
    scan : ScanInput
        The stored file (path, hash, format).
    bads : tuple of str
        Channels found flat or saturated at import (left out).
    """

    scan: ScanInput
    bads: tuple[str, ...]


@dataclass
class EEGTask:
    """One session to compute.

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
    therapist, patient : EEGRecording
        The two recordings.
    events : DataFrame
        The selected events (``onset_s, duration_s, label, rater, source``).
    input_hashes : dict
        ``therapist``, ``patient`` (recording sha256) and ``events``.
    """

    session_id: int
    label: str
    dyad: str
    session: int
    therapist: EEGRecording
    patient: EEGRecording
    events: pd.DataFrame
    input_hashes: dict[str, str]


def _prepare_recording(args: tuple[EEGRecording, EEGConfig]) -> PreparedEEG | str:
    """Read (hash-checked) and prepare one EEG recording, or say why it cannot be (in a
    worker)."""
    from studymgr.io.recordings import parse_iso

    recording, config = args
    scan = recording.scan
    try:
        raw = read_scan(scan)
        return prepare_eeg(raw, config, scan_id=scan.scan_id, bads=recording.bads,
                           start=parse_iso(scan.meas_date))
    except StudyError as exc:
        return str(exc)


def _compute_session(payload: tuple[EEGTask, EEGConfig],
                     prepared: dict[int, PreparedEEG | str]) -> EEGResult | SessionFailure:
    """One session on its two prepared recordings (in a worker); the therapist's preparation
    steps lead the result's notes."""
    task, config = payload
    therapist = prepared[task.therapist.scan.scan_id]
    result = compute_pair(eeg_session, therapist, prepared[task.patient.scan.scan_id],
                          task.events, config)
    if isinstance(result, SessionFailure):
        return result
    return dataclasses.replace(result, warnings=[*therapist.steps, *result.warnings])


def _bads(quality: dict[str, Any] | None) -> list[str]:
    """Channels found flat or saturated at import."""
    return [c["name"] for c in (quality or {}).get("channels", []) if c.get("usable") is False]


def _check_asymmetry_channels(info: dict[str, Any], config: EEGConfig, role: str,
                              label: str) -> None:
    names = {c["name"] for c in info["channels"] if c["type"] == "eeg"}
    missing = [c for c in config.channels_needed if c not in names]
    unusable = [c for c in config.channels_needed if c in set(_bads(info["quality"]))]
    if missing or unusable:
        what = (f"lacks {', '.join(missing)}" if missing
                else f"has flat or saturated {', '.join(unusable)}")
        raise InputError(f"the {role}'s EEG of {label} {what} (frontal alpha asymmetry "
                         "channels): choose other pairs with --asymmetry LEFT:RIGHT; nothing "
                         "was computed")


@fill_doc
class EEGAnalysis(SessionAnalysis):
    """EEG coupling and asymmetry as a :class:`~studymgr.runs.jobs.SessionAnalysis`: one task
    per session with both people's EEG.

    Parameters
    ----------
    config : EEGConfig
        The settings.
    %(dyad_session_filter)s
    """

    kind = KIND
    summary_columns = EEG_SUMMARY_COLUMNS
    prepare = staticmethod(_prepare_recording)
    compute = staticmethod(_compute_session)

    @property
    def measure(self) -> str:
        """The session-level value shown in the summary, e.g. ``plv_alpha``."""
        return f"{self.config.measures[0]}_{self.config.bands[-1][0]}"

    def plan(self, study: Store) -> SessionPlan:
        """The sessions with an EEG recording; every complete one's asymmetry electrodes are
        checked before anything is computed (a missing or unusable one stops the run)."""
        config = self.config
        sessions = study.synchrony_inputs(dyad=self.dyad, session=self.session,
                                          modality="eeg")
        sessions = sessions[sessions["therapist_scan"].notna() | sessions["patient_scan"].notna()]
        if sessions.empty:
            raise InputError("no session has an EEG recording: import them with 'studymgr scans "
                             "import DYAD N FILE --role ROLE --modality eeg'")
        complete = sessions[sessions["therapist_scan"].notna() & sessions["patient_scan"].notna()]
        recordings: dict[tuple[str, int, str], EEGRecording] = {}
        for row in complete.itertuples(index=False):
            number = int(row.number)
            for role in _ROLES:
                info = study.scan_info(row.dyad, number, role, "eeg")
                _check_asymmetry_channels(info, config, role, f"{row.dyad}/{number}")
                recordings[(row.dyad, number, role)] = EEGRecording(
                    scan=ScanInput(scan_id=int(info["id"]),
                                   path=Path(study.data_dir) / info["path"],
                                   sha256=info["sha256"], sfreq=float(info["sfreq"]),
                                   meas_date=info["meas_date"], format=info["format"],
                                   modality="eeg"),
                    bads=tuple(_bads(info["quality"])))
        plan = SessionPlan()
        for row in sessions.itertuples(index=False):
            number = int(row.number)
            if pd.isna(row.therapist_scan) or pd.isna(row.patient_scan):
                plan.settled.append({**self._row(row.dyad, number, 0), "status": "incomplete",
                                     "message": "both people's EEG recordings are needed"})
                continue
            events = select_events(study.events(row.dyad, number), config.source, config.labels)
            plan.tasks.append(EEGTask(
                session_id=int(row.session_id), label=f"{row.dyad}/{number}", dyad=row.dyad,
                session=number, therapist=recordings[(row.dyad, number, "therapist")],
                patient=recordings[(row.dyad, number, "patient")], events=events,
                input_hashes={"therapist": row.therapist_sha256, "patient": row.patient_sha256,
                              "events": events_hash(events)}))
        return plan

    def recordings(self, task: EEGTask) -> dict[int, tuple[EEGRecording, EEGConfig]]:
        return {r.scan.scan_id: (r, self.config) for r in (task.therapist, task.patient)}

    def up_to_date_row(self, study: Store, task: EEGTask) -> dict[str, Any]:
        results = study.eeg_results(dyad=task.dyad)
        asymmetry = study.eeg_asymmetry(dyad=task.dyad)
        return {**self._row(task.dyad, task.session, len(task.events)), "status": "up to date",
                **_session_values(results[results["session"] == task.session],
                                  asymmetry[asymmetry["session"] == task.session],
                                  self.measure)}

    def store(self, study: Store, task: EEGTask, result: EEGResult,
              versions: dict[str, str]) -> dict[str, Any]:
        study.save_eeg(session_id=task.session_id, label=task.label,
                       config=self.config.to_dict(), config_hash=self.config_hash,
                       input_hashes=task.input_hashes, versions=versions,
                       therapist_scan=task.therapist.scan.scan_id,
                       patient_scan=task.patient.scan.scan_id, results=result.results,
                       asymmetry=result.asymmetry, warnings=result.warnings)
        return {**self._row(task.dyad, task.session, len(task.events)), "status": "computed",
                "message": "; ".join(result.warnings),
                **_session_values(result.results, result.asymmetry, self.measure)}

    def failed_row(self, task: EEGTask, message: str) -> dict[str, Any]:
        return {**self._row(task.dyad, task.session, len(task.events)), "status": "failed",
                "message": message}

    def _row(self, dyad: str, session: int, n_events: int) -> dict[str, Any]:
        """A summary row before its status and values."""
        return {"dyad": dyad, "session": session, "n_events": n_events, "measure": self.measure,
                "value": None, "faa_therapist": None, "faa_patient": None, "message": ""}


def _session_values(results: pd.DataFrame, asymmetry: pd.DataFrame, measure: str
                    ) -> dict[str, Any]:
    """The whole-session coupling value of ``measure`` and each person's asymmetry."""
    out: dict[str, Any] = {}
    sel = results[(results["measure"] == measure) & (results["level"] == "session")
                  & (results["condition"] == "session")]
    if len(sel) and pd.notna(sel["value"].iloc[0]):
        out["value"] = float(sel["value"].iloc[0])
    for role in _ROLES:
        part = asymmetry[(asymmetry["role"] == role) & (asymmetry["condition"] == "session")]
        if len(part) and pd.notna(part["value"].iloc[0]):
            out[f"faa_{role}"] = float(part["value"].iloc[0])
    return out


@fill_doc
def compute_eeg(study: Store, config: EEGConfig | None = None, *, dyad: str | None = None,
                session: int | None = None, force: bool = False,
                progress: ProgressFn | None = None,
                executor: Executor | None = None) -> pd.DataFrame:
    """Compute and store EEG coupling (PLV, AEC per band) and frontal alpha asymmetry.

    Every session with an EEG recording of both people is computed (skipped when its stored run
    has the same configuration and inputs, unless ``force``). Before anything is computed, every
    selected recording is checked for the asymmetry electrodes: a missing or unusable one (flat
    or saturated at import) stops the command with nothing stored. A session whose recording is
    missing or changed, or whose recordings do not overlap, is reported as failed and the others
    go on.

    Parameters
    ----------
    %(study)s
    config : EEGConfig | None
        See :class:`studymgr.compute.eeg.EEGConfig`.
    %(dyad_session_filter)s
    %(force)s
    %(progress_compute)s
    %(executor_sessions)s

    Returns
    -------
    DataFrame
        One row per session: ``dyad, session, status`` (``computed``, ``up to date``,
        ``incomplete``, ``failed``), ``n_events``, ``measure`` and ``value`` (its session-level
        value, by default ``plv_alpha``), ``faa_therapist``, ``faa_patient`` (session means of
        the asymmetry ln P_right - ln P_left, dimensionless), ``message``.
    """
    analysis = EEGAnalysis(config or EEGConfig(), dyad=dyad, session=session)
    return run_sessions(study, analysis, force=force, executor=executor, progress=progress)
