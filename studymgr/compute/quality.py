"""Signal quality of one fNIRS recording, computed at import (pure: an MNE Raw in, a dict out).

Four measures, each per channel unless said otherwise:

- **scalp coupling index** (SCI; Pollonini et al. 2014), from
  :func:`mne.preprocessing.nirs.scalp_coupling_index` on optical density: the correlation of the
  two wavelengths of a source-detector pair in the cardiac band (0.7-1.5 Hz). A channel with
  ``SCI >= sci_threshold`` (default 0.5) is coupled to the scalp.
- **flat line**: the share of the recording in which the signal does not change at all for at
  least ``flat_min_run_s`` seconds (a dead detector, a dropped connection). A channel with a share
  of at least ``flat_max_share`` is flagged.
- **saturation**: the share of samples that sit on a plateau at the channel's maximum (a
  detector clipping at its ceiling repeats its largest value). Raw intensity channels only.
- **cardiac peak** (per recording): a real scalp signal carries the heartbeat. The Welch power
  spectrum of the optical density of every non-flat channel is normalised, the median across
  channels is taken, a straight line is fitted in log-log coordinates outside the cardiac band
  (the aperiodic "1/f" part), and the largest excess over that line inside the band (0.6-2.0 Hz)
  gives the peak frequency and its prominence in dB. A peak of at least
  ``cardiac_min_prominence_db`` counts as present. It needs a sampling rate of at least
  ``cardiac_min_sfreq`` (3 Hz); below that the result is ``"n/a"``.

A channel is *usable* when it is coupled (SCI at or above the threshold), not flat and not
saturated; ``usable_share`` is the usable fraction of the fNIRS channels (None when the SCI cannot
be computed, e.g. haemoglobin data or a sampling rate too low for the 0.7-1.5 Hz band).
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import mne
import numpy as np
from scipy.signal import welch

from studymgr.errors import InputError

logger = logging.getLogger(__name__)

__all__ = [
    "FNIRS_TYPES",
    "QualityConfig",
    "assess_quality",
    "cardiac_peak",
    "flat_and_saturated",
    "scalp_coupling",
]

#: MNE channel types that hold fNIRS signals.
FNIRS_TYPES = ("fnirs_cw_amplitude", "fnirs_od", "hbo", "hbr", "fnirs_fd_ac_amplitude",
               "fnirs_fd_phase")


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the quality measures (all recorded with the result).

    Attributes
    ----------
    sci_threshold : float
        Minimum scalp coupling index of a usable channel (0-1).
    flat_min_run_s : float
        A stretch without any change lasting at least this long (s) counts as flat.
    flat_max_share : float
        A channel with at least this share of its samples in flat stretches is flagged flat.
    saturation_max_share : float
        A raw-intensity channel with at least this share of its samples on a plateau at its
        maximum is flagged saturated.
    cardiac_band : tuple of float
        Band searched for the heartbeat (Hz).
    cardiac_min_prominence_db : float
        Minimum excess over the aperiodic fit (dB) for the peak to count as present.
    cardiac_min_sfreq : float
        Lowest sampling rate (Hz) at which the cardiac band can be examined.
    cardiac_window_s : float
        Welch segment length (s); shorter recordings use one segment of their full length.
    """

    sci_threshold: float = 0.5
    flat_min_run_s: float = 1.0
    flat_max_share: float = 0.1
    saturation_max_share: float = 0.01
    cardiac_band: tuple[float, float] = (0.6, 2.0)
    cardiac_min_prominence_db: float = 3.0
    cardiac_min_sfreq: float = 3.0
    cardiac_window_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.sci_threshold <= 1.0:
            raise InputError(f"SCI threshold {self.sci_threshold} must lie between 0 and 1")
        for name in ("flat_max_share", "saturation_max_share"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise InputError(f"{name} must lie in (0, 1]")
        lo, hi = self.cardiac_band
        if not 0.0 < lo < hi:
            raise InputError(f"cardiac band {self.cardiac_band} must be (low, high) with "
                             "0 < low < high, in Hz")
        if self.flat_min_run_s <= 0 or self.cardiac_window_s <= 0:
            raise InputError("flat_min_run_s and cardiac_window_s must be positive (s)")


def _fnirs_picks(raw: mne.io.BaseRaw) -> np.ndarray:
    types = raw.get_channel_types()
    return np.array([i for i, t in enumerate(types) if t in FNIRS_TYPES], dtype=int)


def _run_lengths(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and lengths of the runs of True in a 1-D boolean array."""
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    return starts, ends - starts


def flat_and_saturated(
    data: np.ndarray, sfreq: float, *, intensity: np.ndarray | None = None,
    config: QualityConfig | None = None,
) -> list[dict[str, Any]]:
    """Flat-line and saturation shares of each channel.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        The signals (any unit).
    sfreq : float
        Sampling rate (Hz).
    intensity : ndarray of bool, shape (n_channels,) | None
        Which rows are raw light intensities (saturation is only meaningful for those);
        default: all rows.
    config : QualityConfig | None
        Thresholds (default :class:`QualityConfig`).

    Returns
    -------
    list of dict
        Per channel: ``flat_share`` and ``saturated_share`` (0-1; saturation None for rows that
        are not intensities) and the flags ``flat`` and ``saturated``.
    """
    config = config or QualityConfig()
    data = np.asarray(data, dtype=float)
    n_ch, n_times = data.shape
    if intensity is None:
        intensity = np.ones(n_ch, dtype=bool)
    # a run of k identical samples spans k-1 zero steps; "at least flat_min_run_s" long
    min_run = max(2, int(math.ceil(config.flat_min_run_s * sfreq)) + 1)
    out = []
    for i in range(n_ch):
        x = data[i]
        finite = np.isfinite(x)
        flat_share = 1.0
        if n_times > 1 and finite.any():
            same = np.diff(x) == 0
            starts, lengths = _run_lengths(same)
            # a run of m zero steps covers m + 1 samples
            flat_samples = int(np.sum(lengths[lengths + 1 >= min_run] + 1))
            flat_share = (flat_samples + int(np.sum(~finite))) / n_times
        sat_share: float | None = None
        if intensity[i] and finite.any() and np.nanmax(x) == np.nanmin(x):
            sat_share = 0.0  # constant: flat, not clipped (nothing to clip)
        elif intensity[i] and finite.any():
            top = np.nanmax(x)
            at_top = x == top
            starts, lengths = _run_lengths(at_top)
            # one touch of the maximum is normal; a plateau of >= 2 samples is clipping
            sat_share = float(np.sum(lengths[lengths >= 2])) / n_times
        out.append({
            "flat_share": round(float(min(flat_share, 1.0)), 6),
            "flat": bool(flat_share >= config.flat_max_share),
            "saturated_share": None if sat_share is None else round(sat_share, 6),
            "saturated": bool(sat_share is not None
                              and sat_share >= config.saturation_max_share),
        })
    return out


def _optical_density(raw: mne.io.BaseRaw) -> mne.io.BaseRaw | None:
    """Optical density of the recording (None for haemoglobin data)."""
    types = set(raw.get_channel_types())
    if "fnirs_od" in types:
        return raw.copy().pick("fnirs_od")
    if "fnirs_cw_amplitude" in types:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "negative intensities" is reported by flat/sat
            return mne.preprocessing.nirs.optical_density(
                raw.copy().pick("fnirs_cw_amplitude"), verbose="error")
    return None


def scalp_coupling(raw: mne.io.BaseRaw) -> tuple[dict[str, float] | None, str | None]:
    """Scalp coupling index of every raw-intensity or optical-density channel.

    Calls :func:`mne.preprocessing.nirs.scalp_coupling_index` on the optical density.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A loaded recording.

    Returns
    -------
    sci : dict | None
        ``{channel name: SCI}``; None when it cannot be computed.
    reason : str | None
        Why it could not be computed (None when it was).
    """
    od = _optical_density(raw)
    if od is None:
        return None, "SCI needs raw intensity or optical density (these are haemoglobin data)"
    nyquist = od.info["sfreq"] / 2
    if nyquist <= 1.5 + 0.3:  # MNE's default upper edge plus transition band
        return None, (f"SCI needs a sampling rate above 3.6 Hz (the 0.7-1.5 Hz band); "
                      f"this recording has {od.info['sfreq']:.3g} Hz")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = mne.preprocessing.nirs.scalp_coupling_index(od, verbose="error")
    except (ValueError, RuntimeError) as exc:  # e.g. channels not ordered in wavelength pairs
        return None, f"SCI could not be computed ({exc})"
    return {name: float(v) for name, v in zip(od.ch_names, values, strict=True)}, None


def cardiac_peak(raw: mne.io.BaseRaw, config: QualityConfig | None = None,
                 exclude: set[str] | None = None) -> dict[str, Any]:
    """Look for the heartbeat in the spectrum of the recording.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A loaded recording (raw intensity, optical density or haemoglobin).
    config : QualityConfig | None
        Band, window and thresholds.
    exclude : set of str | None
        Channels to leave out (e.g. flat ones).

    Returns
    -------
    dict
        ``status`` ("present", "absent" or "n/a"), ``frequency_hz`` (Hz) and ``prominence_db``
        (dB above the aperiodic fit; None when n/a), ``bpm`` (beats per minute) and ``reason``
        when n/a.
    """
    config = config or QualityConfig()
    sfreq = float(raw.info["sfreq"])
    na = {"status": "n/a", "frequency_hz": None, "prominence_db": None, "bpm": None}
    if sfreq < config.cardiac_min_sfreq:
        return {**na, "reason": f"sampling rate {sfreq:.3g} Hz is below "
                                f"{config.cardiac_min_sfreq:g} Hz"}
    od = _optical_density(raw)
    if od is None:
        od = raw.copy().pick([t for t in ("hbo", "hbr") if t in raw.get_channel_types()])
    keep = [n for n in od.ch_names if n not in (exclude or set())]
    x = od.get_data(picks=keep) if keep else np.empty((0, 0))
    x = x[np.all(np.isfinite(x), axis=1) & (np.ptp(x, axis=1) > 0)] if x.size else x
    if x.shape[0] == 0:
        return {**na, "reason": "no channel with a usable signal"}
    nyquist = sfreq / 2
    fmax = min(3.0, 0.9 * nyquist)
    lo, hi = config.cardiac_band[0], min(config.cardiac_band[1], fmax)
    nperseg = min(x.shape[1], int(round(config.cardiac_window_s * sfreq)))
    if lo >= hi or nperseg < 8:
        return {**na, "reason": "recording too short or sampling too slow for the cardiac band"}
    freqs, psd = welch(x, fs=sfreq, nperseg=nperseg, detrend="linear", axis=-1)
    sel = (freqs >= 0.25) & (freqs <= fmax)
    freqs, psd = freqs[sel], psd[:, sel]
    band = (freqs >= lo) & (freqs <= hi)
    outside = ~band
    if band.sum() < 1 or outside.sum() < 2:
        return {**na, "reason": "too few frequency bins around the cardiac band"}
    with np.errstate(divide="ignore"):
        logp = np.log10(psd)
    logp = logp[np.all(np.isfinite(logp), axis=1)]
    if logp.shape[0] == 0:
        return {**na, "reason": "no channel with a usable spectrum"}
    # channels differ in scale; the median of their mean-centred log spectra keeps the shape
    median = np.median(logp - logp.mean(axis=1, keepdims=True), axis=0)
    logf = np.log10(freqs)
    design = np.column_stack([np.ones_like(logf), logf])
    coef = np.linalg.lstsq(design[outside], median[outside], rcond=None)[0]
    residual = median - design @ coef
    idx = int(np.argmax(np.where(band, residual, -np.inf)))
    prominence = float(10.0 * residual[idx])
    freq = float(freqs[idx])
    present = prominence >= config.cardiac_min_prominence_db
    return {"status": "present" if present else "absent", "frequency_hz": round(freq, 4),
            "prominence_db": round(prominence, 2), "bpm": round(60.0 * freq, 1)}


def assess_quality(raw: mne.io.BaseRaw, config: QualityConfig | None = None) -> dict[str, Any]:
    """All quality measures of one recording, as a JSON-able dict.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A loaded recording with at least one fNIRS channel.
    config : QualityConfig | None
        Thresholds (default :class:`QualityConfig`); stored in the result.

    Returns
    -------
    dict
        ``config``; ``channels`` (one dict per fNIRS channel: ``name, sci, flat_share, flat,
        saturated_share, saturated, usable``); ``n_fnirs``, ``n_usable``, ``usable_share``
        (None when the SCI is unavailable); ``sci_reason``; ``cardiac`` (see
        :func:`cardiac_peak`); ``n_flat``, ``n_saturated``.
    """
    config = config or QualityConfig()
    picks = _fnirs_picks(raw)
    if picks.size == 0:
        raise InputError("the recording has no fNIRS channels")
    names = [raw.ch_names[i] for i in picks]
    types = [raw.get_channel_types()[i] for i in picks]
    data = raw.get_data(picks=picks)
    flags = flat_and_saturated(
        data, raw.info["sfreq"], config=config,
        intensity=np.array([t == "fnirs_cw_amplitude" for t in types]))
    sci, sci_reason = scalp_coupling(raw)
    channels = []
    for name, flag in zip(names, flags, strict=True):
        value = None if sci is None else sci.get(name)
        usable = None
        if sci is not None:
            usable = bool(value is not None and value >= config.sci_threshold
                          and not flag["flat"] and not flag["saturated"])
        channels.append({"name": name, "sci": None if value is None else round(value, 6),
                         **flag, "usable": usable})
    flat_names = {c["name"] for c in channels if c["flat"]}
    cardiac = cardiac_peak(raw, config, exclude=flat_names)
    n_usable = None if sci is None else sum(bool(c["usable"]) for c in channels)
    share = None if n_usable is None else n_usable / len(channels)
    return {
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
        "n_fnirs": len(channels),
        "n_usable": n_usable,
        "usable_share": None if share is None else round(share, 6),
        "n_flat": len(flat_names),
        "n_saturated": sum(c["saturated"] for c in channels),
        "sci_reason": sci_reason,
        "cardiac": cardiac,
        "channels": channels,
    }
