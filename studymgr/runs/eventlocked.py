"""Event-locked synchrony: time-resolved coherence around moments of interest, with a
random-window permutation test.

For one session's two fNIRS recordings (preprocessed as for the session's synchrony, see
:mod:`studymgr.runs.synchrony`):

1. the squared wavelet coherence map of every channel pair
   (:func:`studymgr.compute.synchrony.coherence.wavelet_coherence`, same convention and band as the synchrony run)
   is averaged over the band's rows *inside the cone of influence*, giving a coherence value per
   sample (:func:`time_resolved_coherence`; NaN where no cell of the band is valid, i.e. near the
   ends of the recording). Its time average weighted by the number of valid cells is exactly the
   session's band coherence (:func:`studymgr.compute.synchrony.coherence.band_coherence`);
2. channel-pair time courses are averaged (NaN-aware) into ROI pairs, and homologous ROI pairs
   into the session's time course;
3. per label (``MOI``, ``MONI``, ...) the time course is averaged in a window around each moment,
   the moments' means are averaged, and that statistic is compared with randomly placed windows
   (:func:`studymgr.compute.events.agreement.random_window_test`, seeded); the "rest" is every defined sample
   outside all moments' windows.

Onsets count from the start of the therapist's recording: the two recordings are aligned on their
start times as in the synchrony pipeline (:func:`studymgr.runs.synchrony.align`).

Storage (no schema change): values go to ``synchrony_results`` with measure ``wtc@<label>`` or
``wtc@rest`` and ``n_cells`` = the number of windows; the tests go to ``synchrony_tests`` with the
same measure, ``true_value`` = the observed statistic, ``pseudo_mean/pseudo_sd`` = the random-window
null and ``n_pseudo`` = the number of permutations. The run's kind is ``eventlocked``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studymgr.compute.events.agreement import (
    DEFAULT_LABELS,
    check_window,
    outside_windows,
    random_window_test,
    window_means,
)
from studymgr.compute.synchrony.montage import channel_base
from studymgr.errors import InputError, StudyError
from studymgr.provenance import config_hash

logger = logging.getLogger(__name__)

__all__ = [
    "EventLockedConfig",
    "EventLockedResult",
    "compute_eventlocked",
    "eventlocked_session",
    "eventlocked_table",
    "moments_figure",
    "session_timecourse",
    "session_timecourses",
    "time_resolved_coherence",
]

KIND = "eventlocked"
EVENT_SOURCES = ("consensus", "rater", "any")
REST = "rest"
RESULT_COLUMNS = ["chromophore", "level", "therapist_unit", "patient_unit", "condition", "value",
                  "n_windows"]
TEST_COLUMNS = ["chromophore", "level", "therapist_unit", "patient_unit", "condition",
                "observed", "null_mean", "null_sd", "n_permutations", "p_value", "n_dropped"]
SUMMARY_COLUMNS = ["dyad", "session", "status", "n_events", "moi", "rest", "p_moi", "message"]
LABEL_COLORS = {"MOI": "#D55E00", "MONI": "#0072B2"}
_OTHER_COLORS = ["#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]


def _default_synchrony() -> Any:
    from studymgr.compute.synchrony.config import SynchronyConfig

    return SynchronyConfig(pseudo=False)


@dataclass(frozen=True)
class EventLockedConfig:
    """Settings of the event-locked analysis (stored and hashed with every result).

    Parameters
    ----------
    labels : tuple of str
        Event labels analysed as conditions (default ``MOI``, ``MONI``); 1-27 characters each
        (the stored measure is ``wtc@<label>``).
    source : str
        Which events: ``consensus`` (default; see ``studymgr events agreement``), ``rater`` (every
        rater's marks pooled) or ``any``.
    window : (float, float)
        Window around each onset (s), default (-15, 15).
    n_permutations : int
        Random window placements of the permutation test.
    seed : int
        Seed of the placements.
    synchrony : SynchronyConfig
        Band, convention, channel pairs, chromophores, montage and preprocessing (the pseudo-dyad
        settings are not used).
    """

    labels: tuple[str, ...] = DEFAULT_LABELS
    source: str = "consensus"
    window: tuple[float, float] = (-15.0, 15.0)
    n_permutations: int = 1000
    seed: int = 0
    synchrony: Any = field(default_factory=_default_synchrony)

    def __post_init__(self) -> None:
        labels = tuple(dict.fromkeys(str(lab) for lab in self.labels))
        if not labels:
            raise InputError("give at least one event label (e.g. MOI)")
        for lab in labels:
            if not 1 <= len(lab) <= 27 or lab == REST:
                raise InputError(f"label {lab!r} cannot be a condition: use 1-27 characters, not "
                                 f"'{REST}'")
        object.__setattr__(self, "labels", labels)
        if self.source not in EVENT_SOURCES:
            raise InputError(f"invalid event source {self.source!r}: use one of "
                             f"{', '.join(EVENT_SOURCES)}")
        object.__setattr__(self, "window", check_window(self.window))
        if isinstance(self.n_permutations, bool) or not isinstance(self.n_permutations, int) \
                or self.n_permutations < 1:
            raise InputError(f"n_permutations must be a whole number >= 1, got "
                             f"{self.n_permutations!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what is stored and hashed)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["labels"] = list(self.labels)
        out["window"] = list(self.window)
        out["synchrony"] = self.synchrony.to_dict()
        return out

    def config_hash(self) -> str:
        """sha256 of :meth:`to_dict`'s canonical JSON."""
        return config_hash(self.to_dict())


# -- time-resolved coherence -----------------------------------------------------------------------
def time_resolved_coherence(x: Any, y: Any, sfreq: float, *,
                            band: tuple[float, float] = (0.05, 0.10),
                            convention: str = "grinsted") -> tuple[np.ndarray, np.ndarray]:
    """Band-averaged squared wavelet coherence at every sample.

    Parameters
    ----------
    x, y : array_like, shape (n_times,)
        The two signals (same rate, same instants).
    sfreq : float
        Sampling rate (Hz).
    band : (float, float)
        Frequency band (Hz).
    convention : {"grinsted", "pycwt"}
        See :func:`studymgr.compute.synchrony.coherence.wavelet_coherence`.

    Returns
    -------
    values : ndarray, shape (n_times,)
        Mean R2 (0-1, dimensionless) over the band's rows inside the cone of influence; NaN
        where none is inside.
    n_cells : ndarray of int, shape (n_times,)
        How many band rows are inside the cone at each sample (the weights that make the
        time average equal :func:`studymgr.compute.synchrony.coherence.band_coherence`).
    """
    from studymgr.compute.synchrony.coherence import wavelet_coherence

    lo, hi = (float(v) for v in band)
    coh = wavelet_coherence(x, y, sfreq, fmin=lo, fmax=hi, convention=convention)
    valid = coh.coi_mask
    n = valid.sum(axis=0)
    total = np.where(valid, coh.coherence, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    return values, n.astype(int)


@dataclass
class Timecourses:
    """Time courses of one session, per chromophore.

    Attributes
    ----------
    times : ndarray
        Time of each sample (s from the start of the therapist's recording).
    sfreq : float
        Sampling rate (Hz).
    series : dict
        ``{(chromophore, level, therapist_unit, patient_unit): values}`` with level ``channel``,
        ``roi`` or ``session`` (the session's unit pair is ``("all", "all")``).
    notes : list of str
        What was left out and why.
    """

    times: np.ndarray
    sfreq: float
    series: dict[tuple[str, str, str, str], np.ndarray]
    notes: list[str]

    def frame(self, level: str = "session") -> pd.DataFrame:
        """Tidy ``time_s, chromophore, therapist_unit, patient_unit, value`` of one level."""
        parts = [pd.DataFrame({"time_s": self.times, "chromophore": k[0], "therapist_unit": k[2],
                               "patient_unit": k[3], "value": v})
                 for k, v in self.series.items() if k[1] == level]
        if not parts:
            return pd.DataFrame(columns=["time_s", "chromophore", "therapist_unit",
                                         "patient_unit", "value"])
        return pd.concat(parts, ignore_index=True)


def _nanmean_rows(rows: Sequence[np.ndarray]) -> np.ndarray:
    stack = np.vstack(rows)
    finite = np.isfinite(stack)
    n = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(finite, stack, 0.0).sum(axis=0) / np.maximum(n, 1),
                        np.nan)


def session_timecourses(therapist: Any, patient: Any, config: Any) -> Timecourses:
    """Time-resolved coherence of a session's channel pairs, ROI pairs and the session.

    Parameters
    ----------
    therapist, patient : PreparedScan
        The two preprocessed recordings (see :func:`studymgr.runs.synchrony.prepare_scan`).
    config : SynchronyConfig
        Band, convention, pairs, chromophores and montage.

    Returns
    -------
    Timecourses
    """
    from studymgr.runs.synchrony import align

    st, sp, notes = align(therapist, patient, by_time=True)
    sfreq = therapist.sfreq
    n = st.stop - st.start
    times = (st.start + np.arange(n)) / sfreq
    series: dict[tuple[str, str, str, str], np.ndarray] = {}
    for chroma in config.chromophores:
        t_names = [c for c in therapist.names.get(chroma, []) if c not in therapist.bads]
        p_names = [c for c in patient.names.get(chroma, []) if c not in patient.bads]
        if config.pairs == "homologous":
            p_by_base = {channel_base(c): c for c in p_names}
            pairs = [(c, p_by_base[channel_base(c)]) for c in t_names
                     if channel_base(c) in p_by_base]
        else:
            pairs = [(a, b) for a in t_names for b in p_names]
        if not pairs:
            notes.append(f"{chroma}: no channel pair usable in both recordings")
            continue
        by_roi: dict[tuple[str, str], list[np.ndarray]] = {}
        for tn, pn in pairs:
            x = therapist.data[chroma][therapist.names[chroma].index(tn), st]
            y = patient.data[chroma][patient.names[chroma].index(pn), sp]
            values, _ = time_resolved_coherence(x, y, sfreq, band=config.band,
                                                convention=config.convention)
            series[(chroma, "channel", channel_base(tn), channel_base(pn))] = values
            rt, rp = config.roi_of(tn), config.roi_of(pn)
            if rt is not None and rp is not None:
                by_roi.setdefault((rt, rp), []).append(values)
        homologous = []
        for (rt, rp), rows in sorted(by_roi.items()):
            series[(chroma, "roi", rt, rp)] = roi = _nanmean_rows(rows)
            if rt == rp:
                homologous.append(roi)
        if homologous:
            series[(chroma, "session", "all", "all")] = _nanmean_rows(homologous)
    return Timecourses(times=times, sfreq=sfreq, series=series, notes=notes)


# -- statistics of one session -----------------------------------------------------------------
@dataclass
class EventLockedResult:
    """Event-locked results of one session (tidy frames, see ``RESULT_COLUMNS`` and
    ``TEST_COLUMNS``), the time courses they came from and notes."""

    results: pd.DataFrame
    tests: pd.DataFrame
    timecourses: Timecourses
    warnings: list[str]


def condition_statistics(times: np.ndarray, series: dict[tuple, np.ndarray],
                         events: pd.DataFrame, *, labels: Sequence[str],
                         window: tuple[float, float], n_permutations: int,
                         seed: int) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Window means per label and the rest, and random-window tests, for many time courses.

    Parameters
    ----------
    times : ndarray
        Sample times (s).
    series : dict
        ``{key tuple: values}``; the key's items become the first columns of the result.
    events : DataFrame
        ``onset_s, label``.
    labels, window, n_permutations, seed
        As in :class:`EventLockedConfig`.

    Returns
    -------
    results, tests : DataFrame
        ``*key, condition, value, n_windows`` and ``*key, condition, observed, null_mean,
        null_sd, n_permutations, p_value, n_dropped``.
    notes : list of str
    """
    window = check_window(window)
    notes: list[str] = []
    onsets = {lab: events.loc[events["label"] == lab, "onset_s"].to_numpy(dtype=float)
              for lab in labels}
    for lab, on in onsets.items():
        if on.size == 0:
            notes.append(f"no {lab} events")
    every = np.concatenate([on for on in onsets.values()]) if onsets else np.array([])
    rest_mask = outside_windows(times, every, window)
    results, tests = [], []
    for index, (key, values) in enumerate(series.items()):
        for lab in labels:
            if onsets[lab].size == 0:
                continue
            means = window_means(times, values, onsets[lab], window)
            kept = means[np.isfinite(means)]
            results.append((*key, lab, float(kept.mean()) if kept.size else math.nan,
                            int(kept.size)))
            # one independent stream per time course and label, fixed by the seed
            rng = np.random.default_rng([int(seed), index, labels.index(lab)])
            test = random_window_test(times, values, onsets[lab], window,
                                      n_permutations=n_permutations, seed=rng)
            tests.append((*key, lab, test["observed"], test["null_mean"], test["null_sd"],
                          test["n_permutations"], test["p_value"], test["n_dropped"]))
        rest = values[rest_mask & np.isfinite(values)]
        results.append((*key, REST, float(rest.mean()) if rest.size else math.nan, 0))
    return results, tests, notes


def eventlocked_session(therapist: Any, patient: Any, events: pd.DataFrame,
                        config: EventLockedConfig | None = None) -> EventLockedResult:
    """Event-locked coherence of one session (pure: prepared recordings and events in).

    Parameters
    ----------
    therapist, patient : PreparedScan
        The preprocessed recordings.
    events : DataFrame
        ``onset_s, label`` (s from the start of the therapist's recording); labels not in
        ``config.labels`` are ignored.
    config : EventLockedConfig | None

    Returns
    -------
    EventLockedResult
        ``results``: window means per condition (each label and ``rest``) at channel, ROI and
        session level; ``tests``: the random-window permutation test per label.

    Raises
    ------
    InputError
        No event of the configured labels, onsets outside the aligned recordings, no usable
        channel pair.
    """
    config = config or EventLockedConfig()
    if not {"onset_s", "label"} <= set(events.columns):
        raise InputError("events need the columns onset_s and label")
    events = events[events["label"].isin(config.labels)]
    if events.empty:
        raise InputError(f"no {' or '.join(config.labels)} events in this session: mark moments "
                         "and run 'studymgr events agreement' first")
    tc = session_timecourses(therapist, patient, config.synchrony)
    if not tc.series:
        raise InputError("; ".join(tc.notes) or "no channel pair could be computed")
    end = tc.times[-1] if tc.times.size else 0.0
    outside = events[(events["onset_s"] < tc.times[0]) | (events["onset_s"] > end)]
    if len(outside):
        raise InputError(f"{len(outside)} event(s) lie outside the recordings' common span "
                         f"({tc.times[0]:.1f}-{end:.1f} s), e.g. {outside['onset_s'].iloc[0]:g} s")
    rows, tests, notes = condition_statistics(
        tc.times, tc.series, events, labels=list(config.labels), window=config.window,
        n_permutations=config.n_permutations, seed=config.seed)
    results = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    test_frame = pd.DataFrame(tests, columns=TEST_COLUMNS)
    dropped = int(test_frame.loc[test_frame["level"] == "session", "n_dropped"].max()) \
        if len(test_frame) else 0
    if dropped:
        notes.append(f"{dropped} event window(s) fall where coherence is undefined (cone of "
                     "influence near the ends) and were left out")
    return EventLockedResult(results=results, tests=test_frame, timecourses=tc,
                             warnings=tc.notes + notes)


# -- orchestration over a study --------------------------------------------------------------
def events_hash(events: pd.DataFrame) -> str:
    """sha256 of the events an analysis used (onset, duration, label, rater, source)."""
    cols = ["onset_s", "duration_s", "label", "rater", "source"]
    rows = sorted((float(r[0]), float(r[1]), str(r[2]), str(r[3]), str(r[4]))
                  for r in events[cols].itertuples(index=False, name=None))
    return hashlib.sha256(json.dumps(rows).encode("utf-8")).hexdigest()


def select_events(events: pd.DataFrame, source: str, labels: Sequence[str]) -> pd.DataFrame:
    """Events of the configured source and labels (``any``: every source)."""
    keep = events["label"].isin(labels)
    if source != "any":
        keep &= events["source"] == source
    return events[keep].reset_index(drop=True)


ProgressFn = Callable[[str, int, int], None]


def compute_eventlocked(study: Any, config: EventLockedConfig | None = None, *,
                        dyad: str | None = None, session: int | None = None,
                        force: bool = False, progress: ProgressFn | None = None
                        ) -> pd.DataFrame:
    """Compute and store event-locked synchrony of every session with events and both scans.

    A session is skipped when its stored run has the same configuration and inputs (the two
    recordings' hashes and the events used); ``force`` recomputes.

    Parameters
    ----------
    study : Study
        The open study.
    config : EventLockedConfig | None
    dyad, session : str, int | None
        Restrict to one dyad and/or session number.
    force : bool
        Recompute up-to-date sessions.
    progress : callable | None
        ``progress("compute", done, total)``.

    Returns
    -------
    DataFrame
        One row per session: ``dyad, session, status`` (``computed``, ``up to date``,
        ``no events``, ``incomplete``, ``failed``), ``n_events``, ``moi`` and ``rest`` (HbO session
        coherence around the first label's moments and elsewhere), ``p_moi``, ``message``.
    """
    from studymgr.provenance import versions
    from studymgr.runs.synchrony import ScanInput, prepare_scan

    config = config or EventLockedConfig()
    sessions = study.synchrony_inputs(dyad=dyad, session=session)
    if sessions.empty:
        raise InputError("no scanned session matches: add sessions and import scans first")
    chash = config.config_hash()
    vers = versions()
    first = config.labels[0]
    summary = []
    rows = list(sessions.itertuples(index=False))
    for done, row in enumerate(rows, start=1):
        base = {"dyad": row.dyad, "session": int(row.number), "n_events": 0, "moi": None,
                "rest": None, "p_moi": None, "message": ""}
        events = select_events(study.events(row.dyad, int(row.number)), config.source,
                               config.labels)
        base["n_events"] = len(events)
        if pd.isna(row.therapist_scan) or pd.isna(row.patient_scan):
            summary.append({**base, "status": "incomplete",
                            "message": "both recordings are needed"})
        elif events.empty:
            summary.append({**base, "status": "no events", "message":
                            f"no {config.source} {'/'.join(config.labels)} events"})
        else:
            inputs = {"therapist": row.therapist_sha256, "patient": row.patient_sha256,
                      "events": events_hash(events)}
            run = study.current_run(KIND, int(row.session_id))
            if not force and run is not None and run["config_hash"] == chash \
                    and run["input_hashes"] == inputs:
                summary.append({**base, "status": "up to date",
                                **_stored_summary(study, int(row.session_id), first)})
            else:
                summary.append({**base, **_compute_one(study, row, events, config, chash, vers,
                                                       inputs, ScanInput, prepare_scan)})
        if progress:
            progress("compute", done, len(rows))
    frame = pd.DataFrame(summary, columns=SUMMARY_COLUMNS)
    frame["session"] = frame["session"].astype(int)
    return frame


def _compute_one(study: Any, row: Any, events: pd.DataFrame, config: EventLockedConfig,
                 chash: str, vers: dict[str, str], inputs: dict[str, str], scan_input: Any,
                 prepare: Callable) -> dict[str, Any]:
    label = f"{row.dyad}/{int(row.number)}"
    sync = config.synchrony
    sfreq = sync.resample_sfreq or min(float(row.therapist_sfreq), float(row.patient_sfreq))
    try:
        prepared = [prepare(scan_input(scan_id=int(getattr(row, f"{r}_scan")),
                                       path=Path(study.data_dir) / getattr(row, f"{r}_path"),
                                       sha256=getattr(row, f"{r}_sha256"),
                                       sfreq=float(getattr(row, f"{r}_sfreq")),
                                       meas_date=getattr(row, f"{r}_meas_date")), sync, sfreq)
                    for r in ("therapist", "patient")]
        result = eventlocked_session(prepared[0], prepared[1], events, config)
    except StudyError as exc:
        logger.warning("event-locked %s failed: %s", label, exc)
        return {"status": "failed", "message": str(exc)}
    study.save_eventlocked(session_id=int(row.session_id), label=label, config=config.to_dict(),
                           config_hash=chash, input_hashes=inputs, versions=vers,
                           therapist_scan=prepared[0].scan_id, patient_scan=prepared[1].scan_id,
                           results=result.results, tests=result.tests, seed=config.seed,
                           warnings=result.warnings)
    return {"status": "computed", "message": "; ".join(result.warnings),
            **_summary_values(result.results, result.tests, config.labels[0])}


def session_timecourse(study: Any, dyad: str, session: int,
                       config: EventLockedConfig | None = None, *, level: str = "session",
                       chromophore: str = "hbo") -> pd.DataFrame:
    """The time-resolved coherence of one stored session (for :func:`moments_figure`).

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
        :func:`eventlocked_config`); default settings when None.
    level : {"session", "roi", "channel"}
        Which time courses.
    chromophore : str
        ``hbo`` or ``hbr``.

    Returns
    -------
    DataFrame
        ``time_s, chromophore, therapist_unit, patient_unit, value`` of one level and
        chromophore.

    Raises
    ------
    InputError
        A recording is missing, not where the study expects it, or changed since import.
    """
    from studymgr.runs.synchrony import ScanInput, prepare_scan

    config = config or EventLockedConfig()
    rows = study.synchrony_inputs(dyad=dyad, session=session)
    if rows.empty or rows[["therapist_scan", "patient_scan"]].isna().any(axis=None):
        raise InputError(f"session {dyad}/{session} needs both fNIRS recordings")
    row = next(rows.itertuples(index=False))
    for r in ("therapist", "patient"):
        # a moved data folder is a user's situation, not a bug: say so in one line
        path = Path(study.data_dir) / getattr(row, f"{r}_path")
        if not path.exists():
            raise InputError(f"the {r}'s recording of {dyad}/{session} is not at {path}: "
                             "restore it, or give the data folder with 'studymgr --data-dir "
                             "DIR'")
    sync = config.synchrony
    sfreq = sync.resample_sfreq or min(float(row.therapist_sfreq), float(row.patient_sfreq))
    prepared = [prepare_scan(ScanInput(scan_id=int(getattr(row, f"{r}_scan")),
                                       path=Path(study.data_dir) / getattr(row, f"{r}_path"),
                                       sha256=getattr(row, f"{r}_sha256"),
                                       sfreq=float(getattr(row, f"{r}_sfreq")),
                                       meas_date=getattr(row, f"{r}_meas_date")), sync, sfreq)
                for r in ("therapist", "patient")]
    frame = session_timecourses(prepared[0], prepared[1], sync).frame(level)
    return frame[frame["chromophore"] == chromophore].reset_index(drop=True)


def _summary_values(results: pd.DataFrame, tests: pd.DataFrame, label: str) -> dict[str, Any]:
    def pick(frame: pd.DataFrame, condition: str, column: str) -> float | None:
        sel = frame[(frame["chromophore"] == "hbo") & (frame["level"] == "session")
                    & (frame["condition"] == condition)]
        if sel.empty or pd.isna(sel[column].iloc[0]):
            return None
        return float(sel[column].iloc[0])

    return {"moi": pick(results, label, "value"), "rest": pick(results, REST, "value"),
            "p_moi": pick(tests, label, "p_value")}


def _stored_summary(study: Any, session_id: int, label: str) -> dict[str, Any]:
    frame = study.eventlocked_results(session_id=session_id, level="session")
    if frame.empty:
        return {}
    return _summary_values(frame, frame, label)


# -- report and export helpers (pure) ------------------------------------------------------------
def eventlocked_table(results: pd.DataFrame, *, labels: Sequence[str] | None = None,
                      chromophore: str | None = "hbo") -> pd.DataFrame:
    """A wide table of event-locked results: one row per session and unit pair.

    Parameters
    ----------
    results : DataFrame
        Tidy results as :meth:`Study.eventlocked_results` returns them: ``dyad, session,
        measure, chromophore, level, therapist_unit, patient_unit, condition, value, n_windows,
        null_mean, p_value``.
    labels : sequence of str | None
        Conditions to show, in this order (default: every label found, then ``rest``).
    chromophore : str | None
        Keep one chromophore (default ``hbo``; None keeps all).

    Returns
    -------
    DataFrame
        ``dyad, session, measure, chromophore, level, therapist_unit, patient_unit`` then, per
        label L: ``L`` (mean in its windows), ``n_L`` (windows), ``null_L`` (mean of the random
        windows), ``p_L`` (permutation p); then ``rest`` (mean outside every window).
    """
    keys = ["dyad", "session", "measure", "chromophore", "level", "therapist_unit",
            "patient_unit"]
    needed = [*keys, "condition", "value", "n_windows", "null_mean", "p_value"]
    missing = [c for c in needed if c not in results.columns]
    if missing:
        raise InputError(f"event-locked results lack column(s) {', '.join(missing)}")
    frame = results if chromophore is None else results[results["chromophore"] == chromophore]
    found = [c for c in dict.fromkeys(frame["condition"]) if c != REST]
    wanted = list(labels) if labels is not None else sorted(found)
    out = frame[keys].drop_duplicates().reset_index(drop=True)
    for lab in [*wanted, REST]:
        part = frame[frame["condition"] == lab].set_index(keys)
        cols = {"value": lab} if lab == REST else {"value": lab, "n_windows": f"n_{lab}",
                                                   "null_mean": f"null_{lab}",
                                                   "p_value": f"p_{lab}"}
        out = out.merge(part[list(cols)].rename(columns=cols), left_on=keys, right_index=True,
                        how="left")
        for col in cols.values():
            if col.startswith("n_"):
                out[col] = out[col].astype("Int64")
    return out.sort_values(keys, kind="stable", ignore_index=True)


def moments_figure(events: pd.DataFrame, timecourse: pd.DataFrame | None = None, *,
                   window: tuple[float, float] = (-15.0, 15.0), title: str | None = None,
                   duration_s: float | None = None) -> Any:
    """A session timeline: the coherence time course above, the raters' marks under it.

    Parameters
    ----------
    events : DataFrame
        The session's events as :meth:`Study.events` returns them (``onset_s, duration_s, label,
        rater, source``); rater marks are drawn one row per rater, consensus moments on their
        own row and as shaded windows on the time course.
    timecourse : DataFrame | None
        ``time_s, value`` (e.g. :meth:`Timecourses.frame` of the session level, one
        chromophore); None draws the marks only.
    window : (float, float)
        The analysis window around each moment (s), shaded on the time course.
    title : str | None
        Figure title.
    duration_s : float | None
        Right end of the time axis (default: the time course's or the last event's end).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    window = check_window(window)
    marks = events[events["source"].isin(["rater", "consensus"])].copy()
    raters = sorted(marks.loc[marks["source"] == "rater", "rater"].dropna().unique())
    rows = [*raters, "consensus"]
    labels = sorted(marks["label"].unique())
    colors = {lab: LABEL_COLORS.get(lab, _OTHER_COLORS[i % len(_OTHER_COLORS)])
              for i, lab in enumerate(labels)}
    has_tc = timecourse is not None and len(timecourse) > 0
    fig = Figure(figsize=(8.0, 2.2 + 0.25 * len(rows) + (1.8 if has_tc else 0.0)), dpi=110,
                 layout="constrained")
    if has_tc:
        ax_tc, ax_marks = fig.subplots(2, 1, sharex=True,
                                       gridspec_kw={"height_ratios": [2.0, 0.6 + 0.2 * len(rows)]})
    else:
        ax_tc, ax_marks = None, fig.subplots(1, 1)
    consensus = marks[marks["source"] == "consensus"]
    if ax_tc is not None:
        ax_tc.plot(timecourse["time_s"], timecourse["value"], color="#333333", lw=0.8)
        for r in consensus.itertuples():
            ax_tc.axvspan(r.onset_s + window[0], r.onset_s + window[1],
                          color=colors.get(r.label, "#999999"), alpha=0.18, lw=0)
        ax_tc.set_ylabel("Coherence (R²)")
        ax_tc.set_ylim(0, 1)
        ax_tc.spines[["top", "right"]].set_visible(False)
    for i, who in enumerate(rows):
        part = consensus if who == "consensus" else marks[(marks["source"] == "rater")
                                                          & (marks["rater"] == who)]
        for r in part.itertuples():
            color = colors.get(r.label, "#999999")
            if r.duration_s and r.duration_s > 0:
                ax_marks.plot([r.onset_s, r.onset_s + r.duration_s], [i, i], color=color, lw=4)
            ax_marks.plot([r.onset_s], [i], marker="D" if who == "consensus" else "|",
                          ms=7 if who == "consensus" else 12, mew=2, color=color, ls="none")
    ax_marks.set_yticks(range(len(rows)), rows)
    ax_marks.set_ylim(len(rows) - 0.5, -0.5)
    ax_marks.set_xlabel("Time from the start of the recording (s)")
    ax_marks.spines[["top", "right"]].set_visible(False)
    end = duration_s
    if end is None:
        ends = [float((marks["onset_s"] + marks["duration_s"]).max())] if len(marks) else [1.0]
        if has_tc:
            ends.append(float(timecourse["time_s"].max()))
        end = max(ends)
    ax_marks.set_xlim(0, max(end, 1.0))
    if labels:
        handles = [Line2D([], [], color=colors[lab], marker="|", ls="none", ms=10, mew=2,
                          label=lab) for lab in labels]
        ax_marks.legend(handles=handles, loc="upper right", frameon=False, ncols=len(labels),
                        bbox_to_anchor=(1.0, 1.35))
    if title:
        fig.suptitle(title)
    return fig


# -- EEG sessions ----------------------------------------------------------------------------------
EEG_SUMMARY_COLUMNS = ["dyad", "session", "status", "n_events", "measure", "value",
                       "faa_therapist", "faa_patient", "message"]


def _eeg_bads(quality: dict[str, Any] | None) -> list[str]:
    return [c["name"] for c in (quality or {}).get("channels", []) if c.get("usable") is False]


def compute_eeg(study: Any, config: Any = None, *, dyad: str | None = None,
                session: int | None = None, force: bool = False,
                progress: ProgressFn | None = None) -> pd.DataFrame:
    """Compute and store EEG coupling (PLV, AEC per band) and frontal alpha asymmetry.

    Every session with an EEG recording of both people is computed (skipped when its stored run
    has the same configuration and inputs, unless ``force``). Before anything is computed, every
    selected recording is checked for the asymmetry electrodes: a missing or unusable one (flat
    or saturated at import) stops the command with nothing stored.

    Parameters
    ----------
    study : Study
        The open study.
    config : EEGConfig | None
        See :class:`studymgr.compute.eeg.EEGConfig`.
    dyad, session : str, int | None
        Restrict to one dyad and/or session number.
    force : bool
        Recompute up-to-date sessions.
    progress : callable | None
        ``progress("compute", done, total)``.

    Returns
    -------
    DataFrame
        One row per session: ``dyad, session, status`` (``computed``, ``up to date``,
        ``incomplete``, ``failed``), ``n_events``, ``measure`` and ``value`` (its session-level
        value, by default ``plv_alpha``), ``faa_therapist``, ``faa_patient`` (session means),
        ``message``.
    """
    from studymgr.compute.eeg import EEGConfig, eeg_session, prepare_eeg
    from studymgr.io.recordings import parse_iso
    from studymgr.provenance import versions

    config = config or EEGConfig()
    sessions = study.synchrony_inputs(dyad=dyad, session=session, modality="eeg")
    sessions = sessions[sessions["therapist_scan"].notna() | sessions["patient_scan"].notna()]
    if sessions.empty:
        raise InputError("no session has an EEG recording: import them with 'studymgr scans "
                         "import DYAD N FILE --role ROLE --modality eeg'")
    complete = sessions[sessions["therapist_scan"].notna() & sessions["patient_scan"].notna()]
    infos = {}
    for row in complete.itertuples(index=False):
        for role in ("therapist", "patient"):
            info = study.scan_info(row.dyad, int(row.number), role, "eeg")
            names = {c["name"] for c in info["channels"] if c["type"] == "eeg"}
            missing = [c for c in config.channels_needed if c not in names]
            unusable = [c for c in config.channels_needed if c in set(_eeg_bads(info["quality"]))]
            if missing or unusable:
                what = (f"lacks {', '.join(missing)}" if missing
                        else f"has flat or saturated {', '.join(unusable)}")
                raise InputError(f"the {role}'s EEG of {row.dyad}/{int(row.number)} {what} "
                                 "(frontal alpha asymmetry channels): choose other pairs with "
                                 "--asymmetry LEFT:RIGHT; nothing was computed")
            infos[(row.dyad, int(row.number), role)] = info
    chash = config.config_hash()
    vers = versions()
    measure = f"{config.measures[0]}_{config.bands[-1][0]}"
    summary = []
    rows = list(sessions.itertuples(index=False))
    for done, row in enumerate(rows, start=1):
        number = int(row.number)
        base = {"dyad": row.dyad, "session": number, "n_events": 0, "measure": measure,
                "value": None, "faa_therapist": None, "faa_patient": None, "message": ""}
        if pd.isna(row.therapist_scan) or pd.isna(row.patient_scan):
            summary.append({**base, "status": "incomplete",
                            "message": "both people's EEG recordings are needed"})
            continue
        events = select_events(study.events(row.dyad, number), config.source, config.labels)
        base["n_events"] = len(events)
        inputs = {"therapist": row.therapist_sha256, "patient": row.patient_sha256,
                  "events": events_hash(events)}
        run = study.current_run("eeg", int(row.session_id))
        if not force and run is not None and run["config_hash"] == chash \
                and run["input_hashes"] == inputs:
            summary.append({**base, "status": "up to date",
                            **_eeg_stored(study, row.dyad, number, measure)})
        else:
            try:
                prepared = []
                for role in ("therapist", "patient"):
                    info = infos[(row.dyad, number, role)]
                    raw = study.load_scan(row.dyad, number, role, "eeg")
                    prepared.append(prepare_eeg(raw, config, scan_id=int(info["id"]),
                                                bads=_eeg_bads(info["quality"]),
                                                start=parse_iso(info["meas_date"])))
                    del raw
                result = eeg_session(prepared[0], prepared[1], events, config)
            except StudyError as exc:
                logger.warning("EEG %s/%s failed: %s", row.dyad, number, exc)
                summary.append({**base, "status": "failed", "message": str(exc)})
            else:
                notes = [*prepared[0].steps, *result.warnings]
                study.save_eeg(session_id=int(row.session_id), label=f"{row.dyad}/{number}",
                               config=config.to_dict(), config_hash=chash, input_hashes=inputs,
                               versions=vers, therapist_scan=prepared[0].scan_id,
                               patient_scan=prepared[1].scan_id, results=result.results,
                               asymmetry=result.asymmetry, warnings=notes)
                summary.append({**base, "status": "computed", "message": "; ".join(notes),
                                **_eeg_values(result.results, result.asymmetry, measure)})
        if progress:
            progress("compute", done, len(rows))
    frame = pd.DataFrame(summary, columns=EEG_SUMMARY_COLUMNS)
    frame["session"] = frame["session"].astype(int)
    return frame


def _eeg_values(results: pd.DataFrame, asymmetry: pd.DataFrame, measure: str
                ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    sel = results[(results["measure"] == measure) & (results["level"] == "session")
                  & (results["condition"] == "session")]
    if len(sel) and pd.notna(sel["value"].iloc[0]):
        out["value"] = float(sel["value"].iloc[0])
    for role in ("therapist", "patient"):
        part = asymmetry[(asymmetry["role"] == role) & (asymmetry["condition"] == "session")]
        if len(part) and pd.notna(part["value"].iloc[0]):
            out[f"faa_{role}"] = float(part["value"].iloc[0])
    return out


def _eeg_stored(study: Any, dyad: str, number: int, measure: str) -> dict[str, Any]:
    results = study.eeg_results(dyad=dyad)
    results = results[results["session"] == number]
    asym = study.eeg_asymmetry(dyad=dyad)
    return _eeg_values(results, asym[asym["session"] == number], measure)


# -- stored configurations (pure) ----------------------------------------------------------------
def eventlocked_config(data: dict[str, Any]) -> EventLockedConfig:
    """Rebuild an :class:`EventLockedConfig` from its stored form (:meth:`~EventLockedConfig.
    to_dict`, as kept in ``analysis_runs.config``).

    Keys this version does not know are ignored (a configuration stored by a newer studymgr
    still gives the settings this one can reproduce); missing keys take their defaults.

    Parameters
    ----------
    data : dict
        The stored configuration.

    Returns
    -------
    EventLockedConfig

    Raises
    ------
    InputError
        A stored value is invalid.
    """
    from studymgr.compute.preprocess import PreprocessConfig
    from studymgr.compute.synchrony.config import SynchronyConfig

    def known(cls: Any, values: dict[str, Any]) -> dict[str, Any]:
        names = {f.name for f in dataclasses.fields(cls)}
        return {k: v for k, v in values.items() if k in names}

    sync = dict(known(SynchronyConfig, data.get("synchrony") or {}))
    if "preprocess" in sync:
        sync["preprocess"] = PreprocessConfig(**known(PreprocessConfig, sync["preprocess"]))
    for key in ("band", "chromophores"):
        if key in sync:
            sync[key] = tuple(sync[key])
    if sync.get("montage") is not None:
        sync["montage"] = tuple(tuple(m) for m in sync["montage"])
    out = known(EventLockedConfig, data)
    out["synchrony"] = SynchronyConfig(**sync)
    for key in ("labels", "window"):
        if key in out:
            out[key] = tuple(out[key])
    return EventLockedConfig(**out)
