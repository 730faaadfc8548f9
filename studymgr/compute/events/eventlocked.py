"""Event-locked synchrony of one session: time-resolved coherence around moments of interest,
with a random-window permutation test.

Pure: two preprocessed recordings and a table of events in, tidy frames out (no study, no
files, no plotting; the run over a study is :func:`studymgr.runs.eventlocked.compute_eventlocked`).

1. the squared wavelet coherence map of every channel pair
   (:func:`studymgr.compute.synchrony.coherence.wavelet_coherence`, same convention and band as
   the synchrony run) is averaged over the band's rows *inside the cone of influence*, giving a
   coherence value per sample (:func:`time_resolved_coherence`; NaN where no cell of the band is
   valid, i.e. near the ends of the recording). Its time average weighted by the number of valid
   cells is exactly the session's band coherence
   (:func:`studymgr.compute.synchrony.coherence.band_coherence`);
2. channel-pair time courses are averaged (NaN-aware) into ROI pairs, and homologous ROI pairs
   into the session's time course (:func:`session_timecourses`);
3. per label (``MOI``, ``MONI``, ...) the time course is averaged in a window around each moment,
   the moments' means are averaged, and that statistic is compared with randomly placed windows
   (:func:`studymgr.compute.events.agreement.random_window_test`, seeded); the "rest" is every
   defined sample outside all moments' windows (:func:`condition_statistics`).

Onsets count from the start of the therapist's recording: the two recordings are aligned on their
start times as in the synchrony run (:func:`studymgr.compute.synchrony.prepared.align`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
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
from studymgr.compute.preprocess import PreprocessConfig
from studymgr.compute.synchrony.config import SynchronyConfig
from studymgr.compute.synchrony.montage import channel_base
from studymgr.compute.synchrony.prepared import PreparedScan, align
from studymgr.errors import InputError
from studymgr.provenance import config_hash

__all__ = [
    "EVENT_SOURCES",
    "REST",
    "RESULT_COLUMNS",
    "TEST_COLUMNS",
    "EventLockedConfig",
    "EventLockedResult",
    "Timecourses",
    "condition_statistics",
    "eventlocked_config",
    "eventlocked_session",
    "events_hash",
    "select_events",
    "session_timecourses",
    "time_resolved_coherence",
]

#: Which events an analysis uses: consensus moments, every rater's marks, or both.
EVENT_SOURCES = ("consensus", "rater", "any")
#: The condition of every sample outside all moments' windows.
REST = "rest"
RESULT_COLUMNS = ["chromophore", "level", "therapist_unit", "patient_unit", "condition", "value",
                  "n_windows"]
TEST_COLUMNS = ["chromophore", "level", "therapist_unit", "patient_unit", "condition",
                "observed", "null_mean", "null_sd", "n_permutations", "p_value", "n_dropped"]


def _default_synchrony() -> SynchronyConfig:
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
    synchrony: SynchronyConfig = field(default_factory=_default_synchrony)

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


# -- the events an analysis uses -----------------------------------------------------------------
def select_events(events: pd.DataFrame, source: str, labels: Sequence[str]) -> pd.DataFrame:
    """Events of the configured source and labels.

    Parameters
    ----------
    events : DataFrame
        A session's events (``onset_s, duration_s, label, rater, source``).
    source : {"consensus", "rater", "any"}
        Keep this source (``any``: every source).
    labels : sequence of str
        Keep these labels.

    Returns
    -------
    DataFrame
        The kept rows, re-indexed from 0.
    """
    keep = events["label"].isin(labels)
    if source != "any":
        keep &= events["source"] == source
    return events[keep].reset_index(drop=True)


def events_hash(events: pd.DataFrame) -> str:
    """sha256 of the events an analysis used (onset, duration, label, rater, source), whatever
    their row order (an input hash of the stored run)."""
    cols = ["onset_s", "duration_s", "label", "rater", "source"]
    rows = sorted((float(r[0]), float(r[1]), str(r[2]), str(r[3]), str(r[4]))
                  for r in events[cols].itertuples(index=False, name=None))
    return hashlib.sha256(json.dumps(rows).encode("utf-8")).hexdigest()


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
        ``roi`` or ``session`` (the session's unit pair is ``("all", "all")``); values are
        coherence (R², 0-1) per sample.
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


def session_timecourses(therapist: PreparedScan, patient: PreparedScan,
                        config: SynchronyConfig) -> Timecourses:
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
    """Event-locked results of one session.

    Attributes
    ----------
    results : DataFrame
        Window means per condition (``RESULT_COLUMNS``).
    tests : DataFrame
        Random-window permutation tests per label (``TEST_COLUMNS``).
    timecourses : Timecourses
        The time courses they came from.
    warnings : list of str
        What was left out and why.
    """

    results: pd.DataFrame
    tests: pd.DataFrame
    timecourses: Timecourses
    warnings: list[str]


def condition_statistics(times: np.ndarray, series: dict[tuple, np.ndarray],
                         events: pd.DataFrame, *, labels: Sequence[str],
                         window: tuple[float, float], n_permutations: int,
                         seed: int) -> tuple[list[tuple], list[tuple], list[str]]:
    """Window means per label and the rest, and random-window tests, for many time courses.

    Parameters
    ----------
    times : ndarray
        Sample times (s).
    series : dict
        ``{key tuple: values}``; the key's items become the first items of each row.
    events : DataFrame
        ``onset_s, label``.
    labels, window, n_permutations, seed
        As in :class:`EventLockedConfig`.

    Returns
    -------
    results, tests : list of tuple
        Rows ``*key, condition, value, n_windows`` and ``*key, condition, observed, null_mean,
        null_sd, n_permutations, p_value, n_dropped`` (``RESULT_COLUMNS`` and ``TEST_COLUMNS``
        when the key is ``chromophore, level, therapist_unit, patient_unit``).
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


def eventlocked_session(therapist: PreparedScan, patient: PreparedScan, events: pd.DataFrame,
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
