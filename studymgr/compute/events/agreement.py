"""Moments of interest: rater agreement, consensus moments and event-locked window statistics.

Pure computation on tidy frames and numpy arrays: no store, no file I/O.

Raters (therapist, client, experts; Fachner, Maidhof et al. 2019) mark *moments* in a session
with a label (``MOI`` = moment of interest, ``MONI`` = moment of no interest, or any free label)
and an onset in seconds from the start of the session's recording.

Consensus moments (:func:`consensus_moments`)
    Marks of one label are grouped greedily in time order: the earliest mark not yet grouped
    opens a group; every other rater contributes their earliest ungrouped mark that lies within
    ``tolerance_s`` seconds after it (so all marks of a group lie within ``tolerance_s`` of each
    other, and a rater counts once per group). A group marked by at least ``min_raters`` raters is
    a consensus moment; its onset is the median of the raters' onsets and its duration the median
    of their durations.

Chance-corrected agreement (:func:`fleiss_kappa`, :func:`rater_agreement`)
    Fleiss' kappa (Fleiss 1971) over time bins: the session is cut into bins of ``bin_s``
    seconds (default: the tolerance, so that marks of the same moment mostly share a bin; 1-s
    bins suit long, interval-like marks), and each rater rates each bin *marked* (one of their
    marks of that label overlaps the bin; a mark without duration counts in the bin that holds
    its onset) or *not marked*. Kappa is computed per label. It is chance-corrected with the
    overall marking rate, so it is low when raters mark different moments even if every bin
    without marks agrees. Bins cut moments: two marks 1 s apart on either side of a bin edge
    disagree. Krippendorff's alpha for nominal data gives nearly the same number with many bins.

Event-locked window statistics (:func:`window_means`, :func:`random_window_test`)
    A time course (e.g. band-averaged wavelet coherence over time, per-epoch EEG coupling, or
    frontal alpha asymmetry) is averaged in a window ``[onset + window[0], onset + window[1]]``
    around each moment (only finite samples count); the statistic of a label is the mean over its
    moments' window means. Its null distribution places the same number of windows of the same
    length uniformly at random inside the span where the time course is defined (seeded), and
    ``p = (1 + #{null >= observed}) / (1 + n_permutations)`` (one-sided: more than chance).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from studymgr.compute._checks import positive
from studymgr.errors import InputError

logger = logging.getLogger(__name__)

#: Largest spread (s) of the marks of one consensus moment, unless a caller says otherwise.
DEFAULT_TOLERANCE_S = 30.0

__all__ = [
    "DEFAULT_LABELS",
    "Agreement",
    "binned_marks",
    "check_window",
    "consensus_moments",
    "fleiss_kappa",
    "outside_windows",
    "random_window_test",
    "rater_agreement",
    "window_means",
]

#: The two labels of the reference study: moments of interest and of no interest.
DEFAULT_LABELS = ("MOI", "MONI")
MARK_COLUMNS = ["rater", "label", "onset_s", "duration_s"]
MOMENT_COLUMNS = ["label", "onset_s", "duration_s", "n_raters", "raters", "first_s", "last_s",
                  "spread_s"]
SUMMARY_COLUMNS = ["label", "n_raters", "n_marks", "n_consensus", "n_unmatched", "bin_s",
                   "n_bins", "n_marked_bins", "observed_agreement", "chance_agreement", "kappa"]


# -- input checks ----------------------------------------------------------------------------------
def _marks(marks: pd.DataFrame) -> pd.DataFrame:
    """Validated copy of a marks frame: ``rater, label, onset_s, duration_s``."""
    if not isinstance(marks, pd.DataFrame):
        raise InputError(f"marks must be a pandas DataFrame, got {type(marks).__name__}")
    missing = [c for c in ("rater", "label", "onset_s") if c not in marks.columns]
    if missing:
        raise InputError(f"marks lack column(s) {', '.join(missing)}")
    out = marks.copy()
    if "duration_s" not in out.columns:
        out["duration_s"] = 0.0
    out = out[MARK_COLUMNS]
    if out["rater"].isna().any():
        raise InputError("every mark needs a rater (import rater files with --rater CODE)")
    onset = pd.to_numeric(out["onset_s"], errors="coerce").astype(float)
    duration = pd.to_numeric(out["duration_s"], errors="coerce").fillna(0.0).astype(float)
    if not np.isfinite(onset).all() or (onset < 0).any():
        raise InputError("every onset must be a number of seconds >= 0")
    if not np.isfinite(duration).all() or (duration < 0).any():
        raise InputError("every duration must be a number of seconds >= 0")
    out["onset_s"], out["duration_s"] = onset, duration
    out["rater"] = out["rater"].astype(str)
    out["label"] = out["label"].astype(str)
    return out.reset_index(drop=True)


# -- consensus -------------------------------------------------------------------------------------
def consensus_moments(marks: pd.DataFrame, *, tolerance_s: float = DEFAULT_TOLERANCE_S,
                      min_raters: int = 2) -> pd.DataFrame:
    """Moments that several raters marked within a tolerance window.

    Parameters
    ----------
    marks : DataFrame
        ``rater, label, onset_s[, duration_s]`` (seconds from the start of the recording).
    tolerance_s : float
        Largest spread (s) between the marks of one moment.
    min_raters : int
        Raters needed for a consensus moment (>= 2).

    Returns
    -------
    DataFrame
        One row per consensus moment, ordered by label and onset: ``label``, ``onset_s`` (median
        of the raters' onsets, s), ``duration_s`` (median duration, s), ``n_raters``, ``raters``
        (sorted codes joined by ``,``), ``first_s``, ``last_s`` (earliest and latest onset, s)
        and ``spread_s`` (their difference, s).

    Examples
    --------
    >>> m = pd.DataFrame({"rater": ["R1", "R2", "R3"], "label": "MOI",
    ...                   "onset_s": [100.0, 110.0, 125.0]})
    >>> consensus_moments(m)[["onset_s", "n_raters"]].values.tolist()
    [[110.0, 3.0]]
    """
    tolerance_s = positive(tolerance_s, "tolerance", "seconds")
    if isinstance(min_raters, bool) or not isinstance(min_raters, int | np.integer) \
            or min_raters < 2:
        raise InputError(f"min_raters must be a whole number >= 2, got {min_raters!r}")
    rows = [group for group in _groups(_marks(marks), tolerance_s) if len(group) >= min_raters]
    out = []
    for group in rows:
        onsets = np.array([m[2] for m in group])
        out.append({"label": group[0][1], "onset_s": float(np.median(onsets)),
                    "duration_s": float(np.median([m[3] for m in group])),
                    "n_raters": len(group), "raters": ",".join(sorted(m[0] for m in group)),
                    "first_s": float(onsets.min()), "last_s": float(onsets.max()),
                    "spread_s": float(onsets.max() - onsets.min())})
    frame = pd.DataFrame(out, columns=MOMENT_COLUMNS)
    frame["n_raters"] = frame["n_raters"].astype("int64")
    return frame.sort_values(["label", "onset_s"], kind="stable", ignore_index=True)


def _groups(marks: pd.DataFrame, tolerance_s: float) -> list[list[tuple[str, str, float, float]]]:
    """Greedy time-ordered groups of marks, per label (see the module docstring)."""
    groups = []
    # a tiny slack keeps marks exactly ``tolerance_s`` apart together despite rounding
    slack = 1e-9 * max(1.0, tolerance_s)
    for label in sorted(marks["label"].unique()):
        part = marks[marks["label"] == label].sort_values(["onset_s", "rater"], kind="stable")
        items = list(part.itertuples(index=False, name=None))  # (rater, label, onset, duration)
        used = [False] * len(items)
        for i, anchor in enumerate(items):
            if used[i]:
                continue
            used[i] = True
            group = [anchor]
            taken = {anchor[0]}
            for j in range(i + 1, len(items)):
                if items[j][2] - anchor[2] > tolerance_s + slack:
                    break
                if not used[j] and items[j][0] not in taken:
                    used[j] = True
                    taken.add(items[j][0])
                    group.append(items[j])
            groups.append(group)
    return groups


# -- chance-corrected agreement ------------------------------------------------------------------
def fleiss_kappa(counts: Any) -> float:
    """Fleiss' kappa of a subjects x categories table of rating counts.

    Parameters
    ----------
    counts : array_like, shape (n_subjects, n_categories)
        How many raters put each subject (here: a time bin) in each category; every row sums to
        the same number of raters n >= 2.

    Returns
    -------
    float
        ``(P_bar - P_e) / (1 - P_e)`` with ``P_bar`` the mean over subjects of
        ``sum_j n_ij (n_ij - 1) / (n (n - 1))`` and ``P_e = sum_j p_j ** 2`` (``p_j`` the share
        of all ratings in category j). NaN when ``P_e == 1`` (every rating in one category:
        agreement is perfect but chance explains it all).
    """
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] < 2:
        raise InputError("counts must be a (subjects x categories) table with >= 2 categories")
    n = table.sum(axis=1)
    if not np.allclose(n, n[0]) or n[0] < 2:
        raise InputError("every subject must be rated by the same number (>= 2) of raters")
    raters = n[0]
    p_i = (np.sum(table * (table - 1), axis=1)) / (raters * (raters - 1))
    p_bar = float(p_i.mean())
    p_j = table.sum(axis=0) / table.sum()
    p_e = float(np.sum(p_j**2))
    if math.isclose(p_e, 1.0):
        return math.nan
    return (p_bar - p_e) / (1.0 - p_e)


def binned_marks(marks: pd.DataFrame, *, label: str, raters: Sequence[str], duration_s: float,
                 bin_s: float) -> np.ndarray:
    """Which bins each rater marked with ``label``.

    Returns
    -------
    ndarray of bool, shape (n_bins, n_raters)
        ``n_bins = ceil(duration_s / bin_s)``; bin k covers ``[k bin_s, (k + 1) bin_s)``. A mark
        covers the bins its interval ``[onset, onset + duration]`` overlaps (a mark without
        duration: the bin holding its onset).
    """
    duration_s = positive(duration_s, "session duration", "seconds")
    bin_s = positive(bin_s, "bin width", "seconds")
    frame = _marks(marks)
    n_bins = max(1, math.ceil(duration_s / bin_s - 1e-9))
    out = np.zeros((n_bins, len(raters)), dtype=bool)
    index = {r: i for i, r in enumerate(raters)}
    part = frame[frame["label"] == label]
    for rater, _, onset, duration in part.itertuples(index=False, name=None):
        if rater not in index:
            continue
        first = min(int(onset // bin_s), n_bins - 1)
        last = first if duration <= 0 else min(int(math.ceil((onset + duration) / bin_s)) - 1,
                                               n_bins - 1)
        out[first:max(first, last) + 1, index[rater]] = True
    return out


@dataclass(frozen=True)
class Agreement:
    """Result of :func:`rater_agreement`.

    Attributes
    ----------
    moments : DataFrame
        The consensus moments (see :func:`consensus_moments`).
    summary : DataFrame
        One row per label: ``label, n_raters, n_marks, n_consensus, n_unmatched`` (marks in no
        consensus moment), ``bin_s, n_bins, n_marked_bins`` (bins marked by any rater),
        ``observed_agreement`` (Fleiss' P_bar), ``chance_agreement`` (P_e) and ``kappa``.
    config : dict
        ``tolerance_s, min_raters, bin_s, duration_s, statistic``.
    """

    moments: pd.DataFrame
    summary: pd.DataFrame
    config: dict[str, Any]


def rater_agreement(marks: pd.DataFrame, *, duration_s: float,
                    tolerance_s: float = DEFAULT_TOLERANCE_S,
                    min_raters: int = 2, bin_s: float | None = None,
                    labels: Iterable[str] | None = None) -> Agreement:
    """Consensus moments and Fleiss' kappa over time bins, per label.

    Parameters
    ----------
    marks : DataFrame
        ``rater, label, onset_s[, duration_s]`` of one session (s).
    duration_s : float
        Length of the session (s): the bins cover ``[0, duration_s)``.
    tolerance_s : float
        Largest spread (s) of the marks of one consensus moment.
    min_raters : int
        Raters needed for a consensus moment.
    bin_s : float | None
        Bin width for kappa (s); default ``tolerance_s``.
    labels : iterable of str | None
        Labels to analyse (default: every label marked).

    Returns
    -------
    Agreement

    Raises
    ------
    InputError
        Fewer than two raters, a mark after the end of the session, a label nobody marked,
        bad numbers.
    """
    frame = _marks(marks)
    duration_s = positive(duration_s, "session duration", "seconds")
    tolerance_s = positive(tolerance_s, "tolerance", "seconds")
    bin_s = tolerance_s if bin_s is None else positive(bin_s, "bin width", "seconds")
    raters = sorted(frame["rater"].unique())
    if len(raters) < 2:
        found = f" (only {raters[0]})" if raters else ""
        raise InputError(f"agreement needs marks from at least 2 raters{found}: import each "
                         "rater's file with 'studymgr events import ... --rater CODE'")
    late = frame[frame["onset_s"] > duration_s]
    if len(late):
        raise InputError(f"{len(late)} mark(s) lie after the end of the session "
                         f"({duration_s:g} s), e.g. {late['onset_s'].iloc[0]:g} s by rater "
                         f"{late['rater'].iloc[0]}: onsets must be seconds within the session")
    wanted = sorted(frame["label"].unique()) if labels is None else list(dict.fromkeys(labels))
    unknown = [lab for lab in wanted if lab not in set(frame["label"])]
    if unknown:
        raise InputError(f"no rater marked label(s) {', '.join(unknown)} (marked: "
                         f"{', '.join(sorted(frame['label'].unique())) or 'none'})")
    frame = frame[frame["label"].isin(wanted)]
    moments = consensus_moments(frame, tolerance_s=tolerance_s, min_raters=min_raters)
    rows = []
    for label in wanted:
        part = frame[frame["label"] == label]
        marked = binned_marks(part, label=label, raters=raters, duration_s=duration_s,
                              bin_s=bin_s)
        k = marked.sum(axis=1)
        counts = np.column_stack([len(raters) - k, k])
        p_i = np.sum(counts * (counts - 1), axis=1) / (len(raters) * (len(raters) - 1))
        p_j = counts.sum(axis=0) / counts.sum()
        in_consensus = int(moments.loc[moments["label"] == label, "n_raters"].sum())
        rows.append({"label": label, "n_raters": len(set(part["rater"])),
                     "n_marks": len(part), "n_consensus": int((moments["label"] == label).sum()),
                     "n_unmatched": len(part) - in_consensus, "bin_s": bin_s,
                     "n_bins": marked.shape[0], "n_marked_bins": int((k > 0).sum()),
                     "observed_agreement": float(p_i.mean()),
                     "chance_agreement": float(np.sum(p_j**2)),
                     "kappa": fleiss_kappa(counts)})
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    config = {"tolerance_s": tolerance_s, "min_raters": int(min_raters), "bin_s": bin_s,
              "duration_s": duration_s, "statistic": "fleiss_kappa", "raters": raters}
    logger.debug("agreement of %d raters over %d label(s)", len(raters), len(wanted))
    return Agreement(moments=moments, summary=summary, config=config)


# -- event-locked window statistics ------------------------------------------------------------
def check_window(window: Any) -> tuple[float, float]:
    """``(start, end)`` in seconds relative to an onset, with start < end."""
    try:
        start, end = (float(v) for v in window)
    except (TypeError, ValueError):
        raise InputError(f"window must be (start s, end s) relative to the onset, got "
                         f"{window!r}") from None
    if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
        raise InputError(f"window ({start:g}, {end:g}) s must have start < end")
    return start, end


def _series(times: Any, values: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.ndim != 1 or v.shape != t.shape:
        raise InputError(f"times and values must be 1-D of the same length (got {t.shape} and "
                         f"{v.shape})")
    if t.size and np.any(np.diff(t) <= 0):
        raise InputError("times must increase strictly")
    return t, v


def _cumulative(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    finite = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    return sums, counts


def _means(times: np.ndarray, sums: np.ndarray, counts: np.ndarray, starts: np.ndarray,
           length: float) -> np.ndarray:
    i0 = np.searchsorted(times, starts, side="left")
    i1 = np.searchsorted(times, starts + length, side="right")
    n = counts[i1] - counts[i0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[i1] - sums[i0]) / np.maximum(n, 1), np.nan)


def window_means(times: Any, values: Any, onsets: Any,
                 window: tuple[float, float] = (-15.0, 15.0)) -> np.ndarray:
    """Mean of a time course in a window around each onset.

    Parameters
    ----------
    times : array_like, shape (n,)
        Time of each value (s), increasing.
    values : array_like, shape (n,)
        The time course; NaN samples (e.g. outside the cone of influence) are left out.
    onsets : array_like, shape (k,)
        Event onsets (s).
    window : (float, float)
        Window ``[onset + window[0], onset + window[1]]`` (s, both ends included).

    Returns
    -------
    ndarray, shape (k,)
        The mean of the finite values in each window (NaN when a window holds none).
    """
    t, v = _series(times, values)
    start, end = check_window(window)
    on = np.atleast_1d(np.asarray(onsets, dtype=float))
    sums, counts = _cumulative(v)
    return _means(t, sums, counts, on + start, end - start)


def outside_windows(times: Any, onsets: Any,
                    window: tuple[float, float] = (-15.0, 15.0)) -> np.ndarray:
    """True for the samples that lie in no event's window (the "rest" of the session)."""
    t = np.asarray(times, dtype=float)
    start, end = check_window(window)
    inside = np.zeros(t.shape, dtype=bool)
    for onset in np.atleast_1d(np.asarray(onsets, dtype=float)):
        inside |= (t >= onset + start) & (t <= onset + end)
    return ~inside


def random_window_test(times: Any, values: Any, onsets: Any,
                       window: tuple[float, float] = (-15.0, 15.0), *,
                       n_permutations: int = 1000,
                       seed: int | np.random.Generator = 0) -> dict[str, Any]:
    """Is the time course higher around the events than in randomly placed windows?

    Parameters
    ----------
    times, values : array_like, shape (n,)
        The time course (s; NaN = undefined).
    onsets : array_like, shape (k,)
        The events' onsets (s).
    window : (float, float)
        Window around each onset (s).
    n_permutations : int
        Random placements.
    seed : int | numpy.random.Generator
        Seed of the placements.

    Returns
    -------
    dict
        ``observed`` (mean of the window means of the events whose window holds a finite value),
        ``n_windows`` (those events), ``null_mean``, ``null_sd`` (of the random-placement
        statistic), ``n_permutations``, ``p_value`` (``(1 + #{null >= observed}) / (1 + n)``,
        one-sided) and ``n_dropped`` (events whose window holds no finite value). The statistics
        are NaN (and p None) when no window holds a value.
    """
    t, v = _series(times, values)
    start, end = check_window(window)
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, int | np.integer) \
            or n_permutations < 1:
        raise InputError(f"n_permutations must be a whole number >= 1, got {n_permutations!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    on = np.atleast_1d(np.asarray(onsets, dtype=float))
    sums, counts = _cumulative(v)
    means = _means(t, sums, counts, on + start, end - start)
    kept = means[np.isfinite(means)]
    out: dict[str, Any] = {"observed": math.nan, "n_windows": int(kept.size),
                           "null_mean": math.nan, "null_sd": math.nan,
                           "n_permutations": int(n_permutations), "p_value": None,
                           "n_dropped": int(on.size - kept.size)}
    finite = np.flatnonzero(np.isfinite(v))
    if kept.size == 0 or finite.size == 0:
        return out
    length = end - start
    lo, hi = t[finite[0]], t[finite[-1]] - length
    if hi < lo:
        raise InputError(f"the window ({length:g} s) is longer than the span where the time "
                         f"course is defined ({t[finite[-1]] - t[finite[0]]:.1f} s): use a "
                         "shorter window")
    starts = rng.uniform(lo, hi, size=(int(n_permutations), kept.size))
    null = _means(t, sums, counts, starts.ravel(), length).reshape(starts.shape)
    null_stat = np.nanmean(null, axis=1)
    observed = float(kept.mean())
    out.update(observed=observed, null_mean=float(np.mean(null_stat)),
               null_sd=float(np.std(null_stat, ddof=1)) if n_permutations > 1 else math.nan,
               p_value=float((1 + np.sum(null_stat >= observed)) / (1 + n_permutations)))
    return out
