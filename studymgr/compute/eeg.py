"""EEG hyperscanning measures (pure: numpy arrays or an MNE Raw in, arrays and tidy frames out).

Inter-brain coupling per frequency band (the definitions HyPyP uses, ``hypyp.analyses``:
``compute_freq_bands`` then ``compute_sync``):

* each channel is band-passed with :func:`mne.filter.filter_data` (FIR, zero phase, MNE's default
  transition bands) and turned into its analytic signal with :func:`scipy.signal.hilbert`; the
  whole recording is filtered at once (no edge effects at epoch boundaries), then cut into
  epochs of ``epoch_s`` seconds;
* **phase-locking value** of an epoch: ``PLV = |mean_t exp(i (phi_a(t) - phi_b(t)))|`` (0-1);
* **amplitude envelope correlation** of an epoch: the Pearson correlation of the two envelopes
  ``|z_a(t)|`` and ``|z_b(t)|`` (-1 to 1; HyPyP's ``envelope_corr``);
* a session's value is the mean over its epochs (HyPyP's ``epochs_average=True``). PLV is biased
  upwards for short epochs (two independent signals give about ``sqrt(pi / (4 n_eff))`` with
  ``n_eff`` ~ bandwidth x epoch length independent samples): compare sessions, conditions or
  pseudo pairs computed with the same settings, never PLV with zero.

Frontal alpha asymmetry (FAA; Davidson 1988, Allen et al. 2004): ``ln P_right - ln P_left`` with
``P`` the alpha-band power of a Hann-windowed periodogram in sliding windows (default F4 and F3,
8-12 Hz, 2-s windows every 1 s). Positive values mean more right-sided alpha power, i.e. relatively
more left-frontal activity (alpha is inversely related to cortical activity).

Quality of an EEG recording at import (:func:`assess_eeg_quality`): flat channels (no change for
at least ``flat_min_run_s`` over ``flat_max_share`` of the recording), saturated channels (a
plateau of repeated samples at the channel's maximum or minimum, i.e. clipping at an amplifier's
rail, over ``saturation_max_share`` of the samples), line noise at 50 and 60 Hz (the excess of the
Welch spectrum at the line frequency over its neighbourhood, in dB) and the alpha peak (the
largest excess over a 1/f fit between 7 and 14 Hz).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import signal

from studymgr.compute._checks import positive
from studymgr.compute.events.agreement import (
    DEFAULT_LABELS,
    check_window,
    outside_windows,
    window_means,
)
from studymgr.compute.events.eventlocked import EVENT_SOURCES
from studymgr.errors import InputError
from studymgr.provenance import config_hash

logger = logging.getLogger(__name__)

__all__ = [
    "EEGConfig",
    "EEGQualityConfig",
    "PreparedEEG",
    "alpha_peak",
    "analytic_signal",
    "assess_eeg_quality",
    "band_power_windows",
    "coupling",
    "eeg_session",
    "envelope_correlation",
    "frontal_alpha_asymmetry",
    "line_noise",
    "phase_locking_value",
    "prepare_eeg",
]

MEASURES = ("plv", "aec")
REFERENCES = ("as-recorded", "average")
ALIGNMENTS = ("meas_date", "start")
_BAND_NAME = re.compile(r"[a-z][a-z0-9]{0,11}")
RESULT_COLUMNS = ["measure", "level", "therapist_unit", "patient_unit", "condition", "value",
                  "n_cells"]
ASYMMETRY_COLUMNS = ["role", "left", "right", "condition", "value", "sd", "n_windows"]


# -- configuration ---------------------------------------------------------------------------------
def _band(band: Any, what: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in band)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be (low Hz, high Hz), got {band!r}") from None
    if not 0 < lo < hi:
        raise InputError(f"{what} ({lo:g}, {hi:g}) Hz must have 0 < low < high")
    return lo, hi


@dataclass(frozen=True)
class EEGConfig:
    """Settings of the EEG measures (stored and hashed with every result).

    Parameters
    ----------
    bands : tuple of (name, low Hz, high Hz)
        Frequency bands of the coupling measures (default theta 4-8 Hz, alpha 8-12 Hz). Names are
        1-12 lower-case letters or digits; the stored measure is ``<measure>_<band>``.
    measures : tuple of str
        ``plv`` (phase-locking value) and/or ``aec`` (amplitude envelope correlation).
    pairs : str
        ``homologous`` (the same electrode in both people) or ``all`` electrode pairs.
    epoch_s : float
        Epoch length (s) of the coupling measures.
    asymmetry : tuple of (left, right)
        Electrode pairs of the frontal alpha asymmetry (default F3, F4).
    asymmetry_band : (float, float)
        Alpha band of the asymmetry (Hz).
    asymmetry_window_s, asymmetry_step_s : float
        Sliding windows of the asymmetry (s).
    reference : str
        ``as-recorded`` (default) or ``average`` (common average reference).
    resample_sfreq : float | None
        Resample above this rate (Hz) before the measures (default 250 Hz; None keeps the rate).
    labels : tuple of str
        Event labels summarised as conditions (default MOI, MONI).
    source : str
        Which events: ``consensus`` (default), ``rater`` or ``any``.
    window : (float, float)
        Window around each event onset (s).
    alignment : str
        ``meas_date`` (default): the two recordings are aligned on their measurement start
        times; ``start``: they are assumed to start together (devices started by a common
        trigger but with unsynchronised clocks).
    """

    bands: tuple[tuple[str, float, float], ...] = (("theta", 4.0, 8.0), ("alpha", 8.0, 12.0))
    measures: tuple[str, ...] = MEASURES
    pairs: str = "homologous"
    epoch_s: float = 2.0
    asymmetry: tuple[tuple[str, str], ...] = (("F3", "F4"),)
    asymmetry_band: tuple[float, float] = (8.0, 12.0)
    asymmetry_window_s: float = 2.0
    asymmetry_step_s: float = 1.0
    reference: str = "as-recorded"
    resample_sfreq: float | None = 250.0
    labels: tuple[str, ...] = DEFAULT_LABELS
    source: str = "consensus"
    window: tuple[float, float] = (-15.0, 15.0)
    alignment: str = "meas_date"

    def __post_init__(self) -> None:
        if self.alignment not in ALIGNMENTS:
            raise InputError(f"invalid alignment {self.alignment!r}: meas_date or start")
        bands = []
        for item in self.bands:
            try:
                name, lo, hi = item
            except (TypeError, ValueError):
                raise InputError(f"a band must be (name, low Hz, high Hz), got {item!r}") from None
            if not isinstance(name, str) or not _BAND_NAME.fullmatch(name):
                raise InputError(f"band name {name!r} must be 1-12 lower-case letters or digits")
            bands.append((name, *_band((lo, hi), f"band {name}")))
        if not bands or len({b[0] for b in bands}) != len(bands):
            raise InputError("give at least one band, each name once")
        object.__setattr__(self, "bands", tuple(bands))
        measures = tuple(dict.fromkeys(self.measures))
        bad = [m for m in measures if m not in MEASURES]
        if bad or not measures:
            raise InputError(f"invalid measure(s) {bad or measures}: choose from plv, aec")
        object.__setattr__(self, "measures", measures)
        if self.pairs not in ("homologous", "all"):
            raise InputError(f"invalid pairs {self.pairs!r}: homologous or all")
        object.__setattr__(self, "epoch_s", positive(self.epoch_s, "epoch length (s)"))
        pairs = []
        for item in self.asymmetry:
            if isinstance(item, str) or len(item) != 2 or not all(
                    isinstance(c, str) and c for c in item):
                raise InputError(f"an asymmetry pair must be (left, right) channel names, got "
                                 f"{item!r}")
            pairs.append((item[0], item[1]))
        object.__setattr__(self, "asymmetry", tuple(pairs))
        object.__setattr__(self, "asymmetry_band", _band(self.asymmetry_band, "asymmetry band"))
        for name in ("asymmetry_window_s", "asymmetry_step_s"):
            object.__setattr__(self, name, positive(getattr(self, name), name))
        if self.reference not in REFERENCES:
            raise InputError(f"invalid reference {self.reference!r}: as-recorded or average")
        if self.resample_sfreq is not None:
            object.__setattr__(self, "resample_sfreq",
                               positive(self.resample_sfreq, "resample rate (Hz)"))
        labels = tuple(dict.fromkeys(str(lab) for lab in self.labels))
        longest = max(len(f"{m}_{b[0]}") for m in measures for b in bands)
        for lab in labels:
            if not lab or lab == "rest" or longest + 1 + len(lab) > 32:
                raise InputError(f"label {lab!r} cannot be a condition: use a shorter label, "
                                 "not 'rest'")
        object.__setattr__(self, "labels", labels)
        if self.source not in EVENT_SOURCES:
            raise InputError(f"invalid event source {self.source!r}: use one of "
                             f"{', '.join(EVENT_SOURCES)}")
        object.__setattr__(self, "window", check_window(self.window))

    @property
    def channels_needed(self) -> list[str]:
        """The asymmetry electrodes (each recording must have them)."""
        return sorted({c for pair in self.asymmetry for c in pair})

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what is stored and hashed)."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = [list(v) if isinstance(v, tuple) else v for v in value]
        return out

    def config_hash(self) -> str:
        """sha256 of :meth:`to_dict`'s canonical JSON."""
        return config_hash(self.to_dict())


# -- signals -------------------------------------------------------------------------------------
def _signals(data: Any, what: str) -> np.ndarray:
    arr = np.asarray(data, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise InputError(f"{what} must be (n_channels, n_times) with at least 2 samples")
    if not np.isfinite(arr).all():
        raise InputError(f"{what} holds missing (NaN) or infinite samples")
    return arr


def analytic_signal(data: Any, sfreq: float, band: tuple[float, float]) -> np.ndarray:
    """Band-pass (MNE FIR, zero phase) then Hilbert transform: the analytic signal.

    Parameters
    ----------
    data : array_like, shape (n_channels, n_times)
        Signals (V).
    sfreq : float
        Sampling rate (Hz).
    band : (float, float)
        Pass band (Hz).

    Returns
    -------
    ndarray of complex, shape (n_channels, n_times)
    """
    import mne

    x = _signals(data, "data")
    sfreq = positive(sfreq, "sampling rate (Hz)")
    lo, hi = _band(band, "band")
    if hi >= sfreq / 2:
        raise InputError(f"band {lo:g}-{hi:g} Hz needs a sampling rate above {2 * hi:g} Hz "
                         f"(have {sfreq:g} Hz)")
    filtered = mne.filter.filter_data(x, sfreq, lo, hi, verbose="error")
    return signal.hilbert(filtered, axis=-1)


def _analytic_rows(x: np.ndarray, rows: Sequence[int], sfreq: float,
                   band: tuple[float, float], chunk: int = 8) -> np.ndarray:
    """Analytic signals of some rows, a few channels at a time (bounds the temporaries)."""
    out = np.empty((len(rows), x.shape[1]), dtype=complex)
    for k in range(0, len(rows), chunk):
        out[k:k + chunk] = analytic_signal(x[list(rows[k:k + chunk])], sfreq, band)
    return out


def _epochs(z: np.ndarray, n_per: int) -> np.ndarray:
    n_epochs = z.shape[-1] // n_per
    if n_epochs < 1:
        raise InputError(f"the recording ({z.shape[-1]} samples) is shorter than one epoch "
                         f"({n_per} samples)")
    return z[..., : n_epochs * n_per].reshape(*z.shape[:-1], n_epochs, n_per)


def phase_locking_value(za: np.ndarray, zb: np.ndarray) -> np.ndarray:
    """PLV over the last axis of two analytic signals of equal shape: ``|mean exp(i dphi)|``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ua = za / np.abs(za)
        ub = zb / np.abs(zb)
    return np.abs(np.nanmean(ua * np.conj(ub), axis=-1))


def envelope_correlation(za: np.ndarray, zb: np.ndarray) -> np.ndarray:
    """Pearson correlation of the envelopes ``|za|`` and ``|zb|`` over the last axis."""
    ea = np.abs(za) - np.abs(za).mean(axis=-1, keepdims=True)
    eb = np.abs(zb) - np.abs(zb).mean(axis=-1, keepdims=True)
    den = np.sqrt(np.sum(ea**2, axis=-1) * np.sum(eb**2, axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, np.sum(ea * eb, axis=-1) / np.where(den > 0, den, 1.0), np.nan)


@dataclass
class Coupling:
    """Per-epoch coupling of channel pairs.

    Attributes
    ----------
    times : ndarray, shape (n_epochs,)
        Centre of each epoch (s from the first sample).
    pairs : list of (int, int)
        (channel of a, channel of b) of each column.
    values : dict
        ``{(measure, band name): ndarray (n_epochs, n_pairs)}``.
    """

    times: np.ndarray
    pairs: list[tuple[int, int]]
    values: dict[tuple[str, str], np.ndarray]


def coupling(a: Any, b: Any, sfreq: float, *, pairs: str | Sequence[tuple[int, int]] =
             "homologous", bands: Sequence[tuple[str, float, float]] = (("alpha", 8.0, 12.0),),
             measures: Sequence[str] = MEASURES, epoch_s: float = 2.0) -> Coupling:
    """Phase-locking value and envelope correlation per epoch, band and channel pair.

    Parameters
    ----------
    a, b : array_like, shape (n_channels, n_times)
        The two people's EEG (same rate, same instants).
    sfreq : float
        Sampling rate (Hz).
    pairs : "homologous", "all" or sequence of (int, int)
        Channel i of a with channel i of b, every pair, or explicit (index in a, index in b).
    bands : sequence of (name, low, high)
        Frequency bands (Hz).
    measures : sequence of str
        ``plv`` and/or ``aec``.
    epoch_s : float
        Epoch length (s); a last incomplete epoch is dropped.

    Returns
    -------
    Coupling
    """
    xa, xb = _signals(a, "a"), _signals(b, "b")
    if xa.shape[1] != xb.shape[1]:
        raise InputError(f"a and b must have the same number of samples ({xa.shape[1]} vs "
                         f"{xb.shape[1]})")
    if isinstance(pairs, str):
        if pairs == "homologous":
            if xa.shape[0] != xb.shape[0]:
                raise InputError("homologous pairs need the same channels in both recordings")
            pair_list = [(i, i) for i in range(xa.shape[0])]
        elif pairs == "all":
            pair_list = [(i, j) for i in range(xa.shape[0]) for j in range(xb.shape[0])]
        else:
            raise InputError(f"invalid pairs {pairs!r}: homologous, all or a list of (i, j)")
    else:
        pair_list = [(int(i), int(j)) for i, j in pairs]
        if not pair_list or any(not (0 <= i < xa.shape[0] and 0 <= j < xb.shape[0])
                                for i, j in pair_list):
            raise InputError("channel pairs must be a non-empty list of valid (i, j) indices")
    bad = [m for m in measures if m not in MEASURES]
    if bad:
        raise InputError(f"invalid measure(s) {bad}: choose from plv, aec")
    n_per = int(round(positive(epoch_s, "epoch length (s)") * sfreq))
    ia = np.array([p[0] for p in pair_list])
    ib = np.array([p[1] for p in pair_list])
    ua, ub = sorted(set(ia.tolist())), sorted(set(ib.tolist()))
    values: dict[tuple[str, str], np.ndarray] = {}
    times = None
    for name, lo, hi in bands:
        za = _epochs(_analytic_rows(xa, ua, sfreq, (lo, hi)), n_per)  # (ch, epochs, n_per)
        zb = _epochs(_analytic_rows(xb, ub, sfreq, (lo, hi)), n_per)
        ra = np.searchsorted(ua, ia)
        rb = np.searchsorted(ub, ib)
        if times is None:
            times = (np.arange(za.shape[1]) + 0.5) * n_per / sfreq
        # pairs in blocks of about 4e6 samples bound the memory of long recordings
        block = max(1, 4_000_000 // max(1, za.shape[1] * n_per))
        for measure in measures:
            func = phase_locking_value if measure == "plv" else envelope_correlation
            out = np.empty((za.shape[1], len(pair_list)))
            for k in range(0, len(pair_list), block):
                sl = slice(k, k + block)
                out[:, sl] = func(za[ra[sl]], zb[rb[sl]]).T
            values[(measure, name)] = out
    return Coupling(times=np.asarray(times), pairs=pair_list, values=values)


def band_power_windows(x: Any, sfreq: float, band: tuple[float, float], *,
                       window_s: float = 2.0, step_s: float = 1.0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Band power of one signal in sliding windows (Hann-windowed periodogram).

    Returns
    -------
    times : ndarray, shape (n_windows,)
        Window centres (s from the first sample).
    power : ndarray, shape (n_windows,)
        Power in the band (signal unit squared): the one-sided periodogram density summed over
        the band's bins times the bin width.
    """
    sig = _signals(x, "signal")[0]
    sfreq = positive(sfreq, "sampling rate (Hz)")
    lo, hi = _band(band, "band")
    n_win = int(round(positive(window_s, "window (s)") * sfreq))
    n_step = max(1, int(round(positive(step_s, "step (s)") * sfreq)))
    if n_win > sig.size:
        raise InputError(f"the signal ({sig.size / sfreq:.1f} s) is shorter than one window "
                         f"({window_s:g} s)")
    if hi >= sfreq / 2:
        raise InputError(f"band {lo:g}-{hi:g} Hz needs a sampling rate above {2 * hi:g} Hz")
    starts = np.arange(0, sig.size - n_win + 1, n_step)
    segments = np.lib.stride_tricks.sliding_window_view(sig, n_win)[starts]
    freqs, pxx = signal.periodogram(segments, fs=sfreq, window="hann", detrend="constant",
                                    axis=-1)
    sel = (freqs >= lo) & (freqs <= hi)
    if not sel.any():
        raise InputError(f"the {window_s:g}-s windows resolve no frequency in {lo:g}-{hi:g} Hz")
    power = pxx[:, sel].sum(axis=1) * (freqs[1] - freqs[0])
    return (starts + n_win / 2) / sfreq, power


def frontal_alpha_asymmetry(left: Any, right: Any, sfreq: float, *,
                            band: tuple[float, float] = (8.0, 12.0), window_s: float = 2.0,
                            step_s: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Frontal alpha asymmetry ``ln P_right - ln P_left`` in sliding windows.

    Parameters
    ----------
    left, right : array_like, shape (n_times,)
        The left (e.g. F3) and right (F4) electrode's signal (V).
    sfreq : float
        Sampling rate (Hz).
    band : (float, float)
        Alpha band (Hz).
    window_s, step_s : float
        Window length and step (s).

    Returns
    -------
    times : ndarray
        Window centres (s).
    faa : ndarray
        ln(right alpha power) - ln(left alpha power) (dimensionless; NaN where a power is 0).

    Examples
    --------
    Twice the alpha amplitude on the right is four times the power: FAA = ln 4 ~ 1.386.
    """
    tl, pl = band_power_windows(left, sfreq, band, window_s=window_s, step_s=step_s)
    _, pr = band_power_windows(right, sfreq, band, window_s=window_s, step_s=step_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        faa = np.log(pr) - np.log(pl)
    return tl, np.where(np.isfinite(faa), faa, np.nan)


def alpha_peak(data: Any, sfreq: float, *, band: tuple[float, float] = (7.0, 14.0),
               fit_range: tuple[float, float] = (2.0, 30.0), segment_s: float = 4.0
               ) -> dict[str, Any]:
    """The alpha peak of a recording: the largest excess over a 1/f fit inside ``band``.

    The Welch spectra (``segment_s`` segments) of the channels are log-transformed, mean-centred
    and their median taken; a straight line is fitted in log-log coordinates over ``fit_range``
    outside ``band`` (the aperiodic part) and the largest residual inside ``band`` is the peak.

    Returns
    -------
    dict
        ``frequency_hz`` (Hz) and ``prominence_db`` (dB over the fit); None when the recording is
        too short or too slowly sampled.
    """
    x = _signals(data, "data")
    sfreq = positive(sfreq, "sampling rate (Hz)")
    hi_fit = min(fit_range[1], 0.45 * sfreq)
    nperseg = min(x.shape[1], int(round(segment_s * sfreq)))
    none = {"frequency_hz": None, "prominence_db": None}
    if hi_fit <= band[1] or nperseg < 16:
        return none
    freqs, psd = signal.welch(x, fs=sfreq, nperseg=nperseg, axis=-1)
    sel = (freqs >= fit_range[0]) & (freqs <= hi_fit)
    freqs, psd = freqs[sel], psd[:, sel]
    with np.errstate(divide="ignore"):
        logp = np.log10(psd)
    logp = logp[np.all(np.isfinite(logp), axis=1)]
    inside = (freqs >= band[0]) & (freqs <= band[1])
    if logp.shape[0] == 0 or inside.sum() < 1 or (~inside).sum() < 2:
        return none
    median = np.median(logp - logp.mean(axis=1, keepdims=True), axis=0)
    logf = np.log10(freqs)
    design = np.column_stack([np.ones_like(logf), logf])
    coef = np.linalg.lstsq(design[~inside], median[~inside], rcond=None)[0]
    residual = median - design @ coef
    idx = int(np.argmax(np.where(inside, residual, -np.inf)))
    return {"frequency_hz": round(float(freqs[idx]), 4),
            "prominence_db": round(float(10.0 * residual[idx]), 2)}


# -- quality -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EEGQualityConfig:
    """Thresholds of the EEG quality measures (stored with the result).

    Attributes
    ----------
    flat_min_run_s : float
        A stretch without any change lasting at least this long (s) counts as flat.
    flat_max_share : float
        A channel with at least this share of its samples in flat stretches is flagged flat.
    saturation_max_share : float
        A channel with at least this share of its samples on plateaus at its maximum or minimum
        is flagged saturated.
    line_freqs : tuple of float
        Mains frequencies examined (Hz).
    line_noise_max_db : float
        A channel whose line-frequency excess reaches this (dB) is flagged (reported, not
        excluded: the band-pass of the measures removes it).
    """

    flat_min_run_s: float = 1.0
    flat_max_share: float = 0.1
    saturation_max_share: float = 0.01
    line_freqs: tuple[float, ...] = (50.0, 60.0)
    line_noise_max_db: float = 20.0

    def __post_init__(self) -> None:
        for name in ("flat_max_share", "saturation_max_share"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise InputError(f"{name} must lie in (0, 1]")
        positive(self.flat_min_run_s, "flat_min_run_s")


def _rail_share(x: np.ndarray) -> float:
    """Share of samples on plateaus (>= 2 equal samples) at the maximum or the minimum."""
    if x.size < 2 or np.max(x) == np.min(x):
        return 0.0
    share = 0
    for extreme in (np.max(x), np.min(x)):
        at = np.concatenate(([False], x == extreme, [False]))
        edges = np.flatnonzero(np.diff(at.astype(np.int8)))
        lengths = edges[1::2] - edges[0::2]
        share += int(np.sum(lengths[lengths >= 2]))
    return share / x.size


def line_noise(data: Any, sfreq: float, freqs: Sequence[float] = (50.0, 60.0)
               ) -> dict[float, np.ndarray]:
    """Excess (dB) of each channel's Welch spectrum at each line frequency over its surround.

    The peak is the largest density within +-1 Hz of the line frequency; the surround is the
    median density 2-5 Hz away on both sides. Frequencies the rate cannot resolve are left out.

    Returns
    -------
    dict
        ``{line frequency: ndarray (n_channels,) of dB}``.
    """
    x = _signals(data, "data")
    nperseg = min(x.shape[1], int(round(2.0 * sfreq)))
    fr, psd = signal.welch(x, fs=sfreq, nperseg=nperseg, axis=-1)
    out = {}
    for f0 in freqs:
        if f0 + 5.0 >= sfreq / 2:
            continue
        peak_sel = np.abs(fr - f0) <= 1.0
        ring = (np.abs(fr - f0) >= 2.0) & (np.abs(fr - f0) <= 5.0)
        if not peak_sel.any() or ring.sum() < 2:
            continue
        peak = psd[:, peak_sel].max(axis=1)
        base = np.median(psd[:, ring], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[float(f0)] = 10.0 * np.log10(np.where(base > 0, peak / np.where(base > 0, base, 1),
                                                      np.nan))
    return out


def assess_eeg_quality(raw: Any, config: EEGQualityConfig | None = None) -> dict[str, Any]:
    """Quality of one EEG recording, as a JSON-able dict.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A loaded recording with at least one EEG channel.
    config : EEGQualityConfig | None

    Returns
    -------
    dict
        ``config``, ``modality`` ("eeg"), ``n_eeg``, ``n_usable``, ``usable_share`` (channels
        neither flat nor saturated), ``n_flat``, ``n_saturated``, ``line_noise``
        (``frequency_hz`` of the stronger mains peak, its median ``excess_db`` over channels and
        ``n_channels`` at or above the threshold; None values when the rate is too low),
        ``alpha`` (see :func:`alpha_peak`) and ``channels`` (per channel ``name, sci`` (None),
        ``flat_share, flat, saturated_share, saturated, line_noise_db, usable``).
    """
    from studymgr.compute.quality import QualityConfig, flat_and_saturated

    config = config or EEGQualityConfig()
    picks = [i for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
    if not picks:
        raise InputError("the recording has no EEG channels")
    names = [raw.ch_names[i] for i in picks]
    data = raw.get_data(picks=picks)
    sfreq = float(raw.info["sfreq"])
    flats = flat_and_saturated(
        data, sfreq, intensity=np.zeros(len(picks), dtype=bool),
        config=QualityConfig(flat_min_run_s=config.flat_min_run_s,
                             flat_max_share=config.flat_max_share))
    noise = line_noise(data, sfreq, config.line_freqs)
    line_f = max(noise, key=lambda f: np.nanmedian(noise[f])) if noise else None
    channels = []
    for k, (name, flag) in enumerate(zip(names, flats, strict=True)):
        sat = _rail_share(data[k])
        saturated = sat >= config.saturation_max_share
        db = None if line_f is None or not np.isfinite(noise[line_f][k]) else \
            round(float(noise[line_f][k]), 2)
        channels.append({"name": name, "sci": None, "flat_share": flag["flat_share"],
                         "flat": flag["flat"], "saturated_share": round(sat, 6),
                         "saturated": bool(saturated), "line_noise_db": db,
                         "usable": bool(not flag["flat"] and not saturated)})
    usable = [c for c in channels if c["usable"]]
    alpha = alpha_peak(data[[i for i, c in enumerate(channels) if c["usable"]]], sfreq) \
        if usable else {"frequency_hz": None, "prominence_db": None}
    line = {"frequency_hz": line_f, "excess_db": None, "n_channels": 0}
    if line_f is not None:
        line["excess_db"] = round(float(np.nanmedian(noise[line_f])), 2)
        line["n_channels"] = int(np.sum(noise[line_f] >= config.line_noise_max_db))
    return {
        "config": {k: list(v) if isinstance(v, tuple) else v
                   for k, v in dataclasses.asdict(config).items()},
        "modality": "eeg",
        "n_eeg": len(channels),
        "n_usable": len(usable),
        "usable_share": round(len(usable) / len(channels), 6),
        "n_flat": sum(c["flat"] for c in channels),
        "n_saturated": sum(c["saturated"] for c in channels),
        "line_noise": line,
        "alpha": alpha,
        "channels": channels,
    }


# -- a session -----------------------------------------------------------------------------------
@dataclass
class PreparedEEG:
    """An EEG recording ready for the measures: EEG channels only, referenced, resampled."""

    scan_id: int
    sfreq: float
    start: dt.datetime | None
    names: list[str]
    data: np.ndarray
    steps: list[str] = field(default_factory=list)


def prepare_eeg(raw: Any, config: EEGConfig, *, scan_id: int = 0,
                bads: Sequence[str] = (), start: dt.datetime | None = None) -> PreparedEEG:
    """EEG channels of a recording, without ``bads``, re-referenced and resampled as configured.

    Raises
    ------
    InputError
        The recording lacks an asymmetry electrode (or it is bad), or has no EEG channel.
    """
    raw = raw.copy().pick("eeg", exclude=[])
    names = list(raw.ch_names)
    missing = [c for c in config.channels_needed if c not in names]
    if missing:
        raise InputError(f"the recording lacks the asymmetry channel(s) {', '.join(missing)} "
                         f"(it has {', '.join(names[:8])}{'...' if len(names) > 8 else ''}): "
                         "choose other pairs with --asymmetry LEFT:RIGHT")
    unusable = [c for c in config.channels_needed if c in set(bads)]
    if unusable:
        raise InputError(f"the asymmetry channel(s) {', '.join(unusable)} are flat or saturated "
                         "in this recording: choose other pairs with --asymmetry LEFT:RIGHT")
    steps = []
    drop = [c for c in bads if c in names]
    if drop:
        raw.drop_channels(drop)
        steps.append(f"left out {len(drop)} flat or saturated channel(s)")
    if config.reference == "average":
        raw.set_eeg_reference("average", projection=False, verbose="error")
        steps.append("common average reference")
    if config.resample_sfreq is not None and raw.info["sfreq"] > config.resample_sfreq + 1e-9:
        raw.resample(config.resample_sfreq, verbose="error")
        steps.append(f"resampled to {config.resample_sfreq:g} Hz")
    return PreparedEEG(scan_id=scan_id, sfreq=float(raw.info["sfreq"]), start=start,
                       names=list(raw.ch_names), data=raw.get_data(), steps=steps)


def _align(t: PreparedEEG, p: PreparedEEG, by_time: bool = True
           ) -> tuple[slice, slice, float, list[str]]:
    """Common span of the two recordings (on their start times when both have one and
    ``by_time``; otherwise from their first samples)."""
    notes = []
    if abs(t.sfreq - p.sfreq) > 1e-9:
        raise InputError(f"the two EEG recordings have different rates after preparation "
                         f"({t.sfreq:g} and {p.sfreq:g} Hz): set a common resample rate")
    sfreq = t.sfreq
    offset = 0.0
    if not by_time:
        notes.append("the recordings were assumed to start together (alignment 'start')")
    elif t.start is not None and p.start is not None:
        offset = (p.start - t.start).total_seconds()
    else:
        notes.append("no measurement date on one recording: assumed simultaneous start")
    start = max(0.0, offset)
    end = min(t.data.shape[1] / sfreq, offset + p.data.shape[1] / sfreq)
    if end <= start:
        raise InputError("the two EEG recordings do not overlap in time: check their dates")
    i_t, i_p = round(start * sfreq), round((start - offset) * sfreq)
    n = min(int((end - start) * sfreq), t.data.shape[1] - i_t, p.data.shape[1] - i_p)
    return slice(i_t, i_t + n), slice(i_p, i_p + n), i_t / sfreq, notes


def _condition_rows(times: np.ndarray, values: np.ndarray, events: pd.DataFrame | None,
                    config: EEGConfig) -> list[tuple[str, float, int]]:
    """(condition, mean, n) for the session, each label's windows and the rest."""
    finite = values[np.isfinite(values)]
    rows = [("session", float(finite.mean()) if finite.size else math.nan, int(finite.size))]
    if events is None or events.empty:
        return rows
    every = []
    for lab in config.labels:
        on = events.loc[events["label"] == lab, "onset_s"].to_numpy(dtype=float)
        if on.size == 0:
            continue
        every.append(on)
        means = window_means(times, values, on, config.window)
        kept = means[np.isfinite(means)]
        rows.append((lab, float(kept.mean()) if kept.size else math.nan, int(kept.size)))
    if every:
        rest = values[outside_windows(times, np.concatenate(every), config.window)
                      & np.isfinite(values)]
        rows.append(("rest", float(rest.mean()) if rest.size else math.nan, int(rest.size)))
    return rows


@dataclass
class EEGResult:
    """Tidy results of one EEG session: ``results`` (``RESULT_COLUMNS``; coupling per channel
    pair and session, whole session and per condition), ``asymmetry`` (``ASYMMETRY_COLUMNS``)
    and notes."""

    results: pd.DataFrame
    asymmetry: pd.DataFrame
    warnings: list[str]


def eeg_session(therapist: PreparedEEG, patient: PreparedEEG,
                events: pd.DataFrame | None = None,
                config: EEGConfig | None = None) -> EEGResult:
    """Coupling (PLV, AEC per band) and frontal alpha asymmetry of one session.

    Parameters
    ----------
    therapist, patient : PreparedEEG
        The prepared recordings (see :func:`prepare_eeg`).
    events : DataFrame | None
        ``onset_s, label`` (s from the start of the therapist's recording).
    config : EEGConfig | None

    Returns
    -------
    EEGResult
        ``results``: ``measure`` (``<measure>_<band>``), ``level`` (``channel`` or ``session``:
        the mean over homologous electrode pairs), units, ``condition`` (``session``, a label or
        ``rest``), ``value`` and ``n_cells`` (what was averaged: epochs for ``session`` and
        ``rest``, moments for a label; a moment's value is the mean over the epochs whose centre
        lies in its window). ``asymmetry``: per person and electrode pair, FAA means over the
        session, each label's moments and the rest, with SD (session) and the count as for
        ``results`` (windows instead of epochs).
    """
    config = config or EEGConfig()
    st, sp, t0, notes = _align(therapist, patient, config.alignment == "meas_date")
    if events is not None and not events.empty:
        end = t0 + (st.stop - st.start) / therapist.sfreq
        late = events[(events["onset_s"] < t0) | (events["onset_s"] > end)]
        if len(late):
            raise InputError(f"{len(late)} event(s) lie outside the recordings' common span "
                             f"({t0:.1f}-{end:.1f} s), e.g. {late['onset_s'].iloc[0]:g} s")
    if config.pairs == "homologous":
        common = [c for c in therapist.names if c in set(patient.names)]
        pairs = [(therapist.names.index(c), patient.names.index(c)) for c in common]
        if not pairs:
            raise InputError("the two EEG recordings share no electrode name: use --pairs all")
    else:
        pairs = [(i, j) for i in range(len(therapist.names)) for j in range(len(patient.names))]
    a, b = therapist.data[:, st], patient.data[:, sp]
    found = coupling(a, b, therapist.sfreq, pairs=pairs, bands=config.bands,
                     measures=config.measures, epoch_s=config.epoch_s)
    times = found.times + t0
    rows = []
    homologous = [k for k, (i, j) in enumerate(found.pairs)
                  if therapist.names[i] == patient.names[j]]
    for (measure, band), values in found.values.items():
        name = f"{measure}_{band}"
        for k, (i, j) in enumerate(found.pairs):
            for cond, value, n in _condition_rows(times, values[:, k], events, config):
                rows.append((name, "channel", therapist.names[i], patient.names[j], cond, value,
                             n))
        if homologous:
            series = np.nanmean(values[:, homologous], axis=1)
            for cond, value, n in _condition_rows(times, series, events, config):
                rows.append((name, "session", "all", "all", cond, value, n))
    results = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    asym = []
    for role, rec, sl in (("therapist", therapist, st), ("patient", patient, sp)):
        for left, right in config.asymmetry:
            tl, faa = frontal_alpha_asymmetry(
                rec.data[rec.names.index(left), sl], rec.data[rec.names.index(right), sl],
                rec.sfreq, band=config.asymmetry_band, window_s=config.asymmetry_window_s,
                step_s=config.asymmetry_step_s)
            for cond, value, n in _condition_rows(tl + t0, faa, events, config):
                sd = math.nan
                if cond == "session":
                    sd = float(np.nanstd(faa, ddof=1)) if np.isfinite(faa).sum() > 1 else math.nan
                asym.append((role, left, right, cond, value, sd, n))
    return EEGResult(results=results, asymmetry=pd.DataFrame(asym, columns=ASYMMETRY_COLUMNS),
                     warnings=notes)
