"""Synthetic hyperscanning studies with planted, known effects.

Three levels, all deterministic for a seed:

- :func:`simulate_recording_pair` — one therapist and one patient continuous-wave fNIRS recording
  (raw intensity, 760/850 nm, MNE channel names and optode positions). Haemoglobin changes are
  simulated first and turned into light intensity with the inverse of MNE's modified Beer–Lambert
  law, so ``optical_density`` + ``beer_lambert_law`` recover them. Inter-brain coupling is planted
  *only* inside a frequency band: a band-limited component shared by homologous channels of the two
  people, whose share of the band-limited neural variance is ``coupling``.
- :func:`simulate_study` — a whole longitudinal study on disk: SNIRF recordings per person and
  scanned session (BIDS-like paths), a questionnaire CSV (one row per response) and ``truth.json``
  with every planted value.
- :func:`simulate_synchrony_table` — the same planted model without recordings (dyad × session
  synchrony and outcomes), fast enough for power analysis by repetition.

Model of the planted effects (latent outcomes are z-scores; positive = more of the construct)::

    coupling[d, s] = clip(baseline_coupling + u0[d] + (growth + u1[d]) * (s - 1) + e[d, s], 0, 1)
    symptoms[d, s] = a[d] + symptom_slope * (coupling[d, s] - baseline_coupling) + e
    wellbeing[d, s] = b[d] + wellbeing_slope * (coupling[d, s] - baseline_coupling) + e
    session_quality[d, s] = q[d] + session_quality_slope * (coupling[d, s] - baseline_coupling) + e
    alliance[d, s] = al[d] + alliance_effect * (coupling[d, s] - baseline_coupling) + e

so by default symptoms fall, wellbeing and session quality rise as coupling rises, and alliance is
unrelated to coupling (``alliance_effect=0``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mne
import numpy as np
import pandas as pd

from studymgr.errors import ConflictError, InputError

logger = logging.getLogger(__name__)

__all__ = [
    "INSTRUMENTS",
    "SimulatedStudy",
    "simulate_rater_marks",
    "simulate_recording_pair",
    "simulate_study",
    "simulate_synchrony_table",
]

WAVELENGTHS_NM = (760, 850)
LONG_DISTANCE_M = 0.030
SHORT_DISTANCE_M = 0.008
HEAD_RADIUS_M = 0.09
MAX_CHANNELS = 36
MAX_PER_ROW = 6

# Standard deviations of the simulated haemoglobin components (HbO, mol/L; HbR as a ratio of HbO).
# Magnitudes follow the real recordings in ../shared/data (HbO SD ~0.5-1 uM, cardiac ~0.15 uM).
_AMP = {
    "neural": 0.20e-6,  # band-limited neural component (shared + independent parts)
    "background": 0.15e-6,  # independent pink neural background, 0.01-0.5 Hz
    "drift": 0.30e-6,  # slow drift below 0.01 Hz
    "mayer": 0.12e-6,  # systemic Mayer wave, ~0.1 Hz
    "respiration": 0.06e-6,  # systemic, ~0.25 Hz
    "cardiac": 0.15e-6,  # systemic, ~1.1 Hz
}
_HBR_RATIO = {
    "neural": -0.3,
    "background": -0.3,
    "drift": -0.2,
    "mayer": -0.2,
    "respiration": -0.2,
    "cardiac": 0.1,
}
_SYSTEMIC = ("drift_systemic", "mayer", "respiration", "cardiac")

# Questionnaire instruments used by the simulator: item count and allowed range, the construct,
# and the item mean and SD at latent z = 0 (patients with test anxiety). Names, item counts,
# ranges, respondents and timings agree with the built-in definitions in schemas/instruments.
INSTRUMENTS: dict[str, dict[str, Any]] = {
    "gad7": {"n_items": 7, "min": 0, "max": 3, "construct": "symptoms", "mean": 1.6, "sd": 0.8},
    "who5": {"n_items": 5, "min": 0, "max": 5, "construct": "wellbeing", "mean": 2.3, "sd": 1.0},
    "state-test-anxiety": {"n_items": 6, "min": 0, "max": 6, "construct": "symptoms",
                           "mean": 3.2, "sd": 1.3},
    "srs": {"n_items": 4, "min": 0, "max": 10, "construct": "session_quality", "mean": 7.2,
            "sd": 1.5},
    "wai-sr": {"n_items": 12, "min": 1, "max": 5, "construct": "alliance", "mean": 3.8,
               "sd": 0.7},
}
# Who answers what, when, reflecting which latent score (and the item mean if not the default).
# The built-in WAI-SR is the client form, so only the patient rates alliance; the therapist rates
# their own wellbeing (WHO-5) before each session, unrelated to coupling.
_RESPONSES: tuple[tuple[str, str, str, str, float | None], ...] = (
    ("patient", "pre", "gad7", "symptoms", None),
    ("patient", "pre", "who5", "wellbeing", None),
    ("patient", "post", "state-test-anxiety", "symptoms", None),
    ("patient", "post", "srs", "session_quality", None),
    ("patient", "post", "wai-sr", "alliance", None),
    ("therapist", "pre", "who5", "wellbeing_therapist", 3.5),
)
_ITEM_LOADING = 0.8  # correlation of each item with the latent score before rounding
_MAX_ITEMS = max(spec["n_items"] for spec in INSTRUMENTS.values())


# --------------------------------------------------------------------------------------------
# small validation helpers
# --------------------------------------------------------------------------------------------


def _check_real(value: object, name: str, *, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name} must be a number, got {value!r}")
    out = float(value)
    if not np.isfinite(out):
        raise InputError(f"{name} must be finite, got {value!r}")
    if lo is not None and (out < lo or (lo_open and out == lo)):
        sign = ">" if lo_open else ">="
        raise InputError(f"{name} must be {sign} {lo}, got {out}")
    if hi is not None and out > hi:
        raise InputError(f"{name} must be <= {hi}, got {out}")
    return out


def _check_int(value: object, name: str, *, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an integer, got {value!r}")
    out = int(value)
    if out < lo or (hi is not None and out > hi):
        rng = f">= {lo}" if hi is None else f"between {lo} and {hi}"
        raise InputError(f"{name} must be {rng}, got {out}")
    return out


def _check_band(band: object, sfreq: float, duration_s: float) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in band)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InputError(f"band must be a pair (fmin, fmax) in Hz, got {band!r}") from None
    if not (0 < lo < hi < sfreq / 2):
        raise InputError(
            f"band must satisfy 0 < fmin < fmax < sfreq/2 = {sfreq / 2:g} Hz, got ({lo:g}, {hi:g})"
        )
    if (hi - lo) * duration_s < 2:
        raise InputError(
            f"a {duration_s:g} s recording resolves the {lo:g}-{hi:g} Hz band with fewer than 2 "
            f"frequency bins: use duration_s >= {2 / (hi - lo):g}"
        )
    return lo, hi


def _rng(seed: int | np.random.Generator | np.random.SeedSequence | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, bool):
        raise InputError("seed must be an integer (simulations are reproducible by design)")
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    return np.random.default_rng(_check_int(seed, "seed", lo=0))


def _seed_sequence(seed: object) -> np.random.SeedSequence:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(int(seed))


# --------------------------------------------------------------------------------------------
# signals
# --------------------------------------------------------------------------------------------


def _bandlimited(rng: np.random.Generator, n_signals: int, n_times: int, sfreq: float,
                 lo: float, hi: float, *, pink: bool = False) -> np.ndarray:
    """Gaussian noise with power only in ``lo <= f <= hi`` Hz, unit SD per row.

    Built in the frequency domain (a brick-wall mask on the FFT), so no power at all leaks outside
    the band: that is what makes the planted coupling band-limited.
    """
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    mask = (freqs >= lo) & (freqs <= hi)
    spec = rng.standard_normal((n_signals, freqs.size)) + 1j * rng.standard_normal(
        (n_signals, freqs.size)
    )
    weights = np.zeros(freqs.size)
    weights[mask] = 1.0 / np.sqrt(freqs[mask]) if pink else 1.0
    out = np.fft.irfft(spec * weights, n=n_times, axis=-1)
    sd = out.std(axis=-1, keepdims=True)
    return out / np.where(sd > 0, sd, 1.0)


def _cardiac(rng: np.random.Generator, n_times: int, sfreq: float) -> tuple[np.ndarray, float]:
    """Quasi-periodic pulse (~1.0-1.3 Hz with heart-rate variability), unit SD."""
    f0 = rng.uniform(1.0, 1.3)
    # heart-rate variability: the instantaneous rate wanders by ~0.05 Hz at 0.02-0.3 Hz
    hrv = 0.05 * _bandlimited(rng, 1, n_times, sfreq, 0.02, min(0.3, sfreq / 2 * 0.9))[0]
    phase = 2 * np.pi * np.cumsum(f0 + hrv) / sfreq + rng.uniform(0, 2 * np.pi)
    wave = np.sin(phase)
    if 2.4 * f0 < sfreq / 2:  # add the harmonic only when it is below Nyquist
        wave = wave + 0.4 * np.sin(2 * phase + 0.5)
    return wave / wave.std(), float(f0)


# --------------------------------------------------------------------------------------------
# montage
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Montage:
    pairs: tuple[str, ...]  # "S1_D1", long channels first, then short channels
    is_short: tuple[bool, ...]
    src_pos: np.ndarray  # (n_pairs, 3) m, head coordinates
    det_pos: np.ndarray


def _on_head(u: float, v: float) -> np.ndarray:
    """Map tangent-plane coordinates (m) around the forehead onto a sphere of HEAD_RADIUS_M."""
    alpha = np.deg2rad(25.0)
    centre = np.array([0.0, np.cos(alpha), np.sin(alpha)])
    e_u = np.array([1.0, 0.0, 0.0])
    e_v = np.array([0.0, -np.sin(alpha), np.cos(alpha)])
    r = float(np.hypot(u, v))
    if r == 0:
        return HEAD_RADIUS_M * centre
    theta = r / HEAD_RADIUS_M
    direction = np.cos(theta) * centre + np.sin(theta) * (u * e_u + v * e_v) / r
    return HEAD_RADIUS_M * direction


@functools.lru_cache(maxsize=16)
def _make_montage(n_channels: int, short_channels: bool) -> _Montage:
    """Rows of alternating sources and detectors 30 mm apart over the forehead.

    Each neighbouring source–detector pair in a row is a long channel; with ``short_channels`` each
    source gets its own short-separation detector 8 mm away.
    """
    n_rows = int(np.ceil(n_channels / MAX_PER_ROW))
    per_row = [n_channels // n_rows + (1 if r < n_channels % n_rows else 0) for r in range(n_rows)]
    sources: dict[tuple[int, int], int] = {}
    detectors: dict[tuple[int, int], int] = {}
    positions: dict[tuple[str, int], np.ndarray] = {}
    pairs: list[tuple[int, int]] = []
    for r, n_ch in enumerate(per_row):
        v = (r - (n_rows - 1) / 2) * LONG_DISTANCE_M
        for i in range(n_ch + 1):
            u = (i - n_ch / 2) * LONG_DISTANCE_M
            if (i + r) % 2 == 0:
                sources[(r, i)] = len(sources) + 1
                positions[("S", sources[(r, i)])] = _on_head(u, v)
            else:
                detectors[(r, i)] = len(detectors) + 1
                positions[("D", detectors[(r, i)])] = _on_head(u, v)
        for i in range(n_ch):
            a, b = (r, i), (r, i + 1)
            s, d = (sources[a], detectors[b]) if a in sources else (sources[b], detectors[a])
            pairs.append((s, d))
    pairs.sort()
    names = [f"S{s}_D{d}" for s, d in pairs]
    src = [positions[("S", s)] for s, _ in pairs]
    det = [positions[("D", d)] for _, d in pairs]
    short = [False] * len(pairs)
    if short_channels:
        n_det = len(detectors)
        for s in sorted(sources.values()):
            p = positions[("S", s)]
            # 8 mm away on the sphere, in the tangent direction "up" (towards the vertex)
            up = np.array([0.0, 0.0, 1.0]) - p[2] * p / HEAD_RADIUS_M**2
            up /= np.linalg.norm(up)
            theta = SHORT_DISTANCE_M / HEAD_RADIUS_M
            q = HEAD_RADIUS_M * (np.cos(theta) * p / HEAD_RADIUS_M + np.sin(theta) * up)
            # keep the chord exactly 8 mm
            q = p + (q - p) * SHORT_DISTANCE_M / np.linalg.norm(q - p)
            names.append(f"S{s}_D{n_det + s}")
            src.append(p)
            det.append(q)
            short.append(True)
    src_pos, det_pos = np.array(src), np.array(det)
    src_pos.setflags(write=False)  # cached: shared by every call
    det_pos.setflags(write=False)
    return _Montage(tuple(names), tuple(short), src_pos, det_pos)


def _make_info(montage: _Montage, sfreq: float, ch_type: str) -> mne.Info:
    ch_names = [f"{pair} {wl}" for pair in montage.pairs for wl in WAVELENGTHS_NM]
    info = mne.create_info(ch_names, sfreq, ch_types=ch_type, verbose=False)
    for i, ch in enumerate(info["chs"]):
        k, w = divmod(i, len(WAVELENGTHS_NM))
        ch["loc"][3:6] = montage.src_pos[k]
        ch["loc"][6:9] = montage.det_pos[k]
        ch["loc"][0:3] = (montage.src_pos[k] + montage.det_pos[k]) / 2
        ch["loc"][9] = WAVELENGTHS_NM[w]
        ch["coord_frame"] = mne.io.constants.FIFF.FIFFV_COORD_HEAD
    return info


@functools.lru_cache(maxsize=16)
def _od_per_concentration(montage: _Montage, ppf: float) -> np.ndarray:
    """Matrices F (n_pairs, 2, 2) with ΔOD[760, 850] = F @ Δc[HbO, HbR] (c in mol/L).

    Obtained from MNE itself, not re-derived: ``beer_lambert_law`` is run on unit impulses in
    optical density, which gives its conversion matrix M per pair (Δc = M @ ΔOD); F = M⁻¹. This
    uses MNE's extinction coefficients, distances and unit conventions, so that
    ``optical_density`` + ``beer_lambert_law`` recover the simulated concentrations exactly.
    """
    info = _make_info(montage, 1.0, "fnirs_od")
    n_pairs = len(montage.pairs)
    data = np.zeros((2 * n_pairs, 2))
    data[0::2, 0] = 1.0  # first sample: unit OD at 760 nm
    data[1::2, 1] = 1.0  # second sample: unit OD at 850 nm
    raw = mne.io.RawArray(data, info, verbose=False)
    hb = mne.preprocessing.nirs.beer_lambert_law(raw, ppf=ppf)
    conc = hb.get_data()
    row = {name: i for i, name in enumerate(hb.ch_names)}
    out = np.empty((n_pairs, 2, 2))
    for k, pair in enumerate(montage.pairs):
        m = conc[[row[f"{pair} hbo"], row[f"{pair} hbr"]]]
        out[k] = np.linalg.inv(m)
    out.setflags(write=False)
    return out


# --------------------------------------------------------------------------------------------
# one person, one pair
# --------------------------------------------------------------------------------------------


def _simulate_person(rng: np.random.Generator, shared: np.ndarray, coupling: float,
                     montage: _Montage, sfreq: float, n_times: int, band: tuple[float, float],
                     bad_channels: int, motion_spikes: int, od_matrix: np.ndarray,
                     measurement_noise: float) -> tuple[np.ndarray, dict[str, Any]]:
    """Intensity (2 * n_pairs, n_times) for one person, and what was planted."""
    is_short = np.array(montage.is_short)
    n_pairs = len(montage.pairs)
    n_long = int((~is_short).sum())
    nyq = sfreq / 2

    # --- haemoglobin (mol/L), long channels: neural + systemic; short channels: systemic only ---
    indep = _bandlimited(rng, n_long, n_times, sfreq, *band)
    neural = np.sqrt(coupling) * shared + np.sqrt(1.0 - coupling) * indep  # unit SD, corr = c
    background = _bandlimited(rng, n_long, n_times, sfreq, 0.01, min(0.5, 0.9 * nyq), pink=True)
    drift_local = _bandlimited(rng, n_pairs, n_times, sfreq, 0.5 / (n_times / sfreq), 0.01)
    f_mayer = rng.uniform(0.085, 0.115)
    f_resp = rng.uniform(0.2, 0.3)
    systemic = {
        "drift_systemic": _bandlimited(rng, 1, n_times, sfreq, 0.5 / (n_times / sfreq), 0.01)[0],
        "mayer": _bandlimited(rng, 1, n_times, sfreq, f_mayer - 0.015, f_mayer + 0.015)[0],
        "respiration": _bandlimited(rng, 1, n_times, sfreq, f_resp - 0.02, f_resp + 0.02)[0],
    }
    cardiac, f_card = _cardiac(rng, n_times, sfreq)
    systemic["cardiac"] = cardiac
    gain = rng.uniform(0.6, 1.0, n_pairs)  # per-channel coupling to the systemic (scalp) signals
    gain[is_short] = 1.0

    hbo = np.zeros((n_pairs, n_times))
    hbr = np.zeros((n_pairs, n_times))
    long_idx = np.flatnonzero(~is_short)
    for name, sig in (("neural", neural), ("background", background)):
        hbo[long_idx] += _AMP[name] * sig
        hbr[long_idx] += _HBR_RATIO[name] * _AMP[name] * sig
    # HbR keeps a little independent variance so the two chromophores are not collinear
    hbr[long_idx] += 0.03e-6 * _bandlimited(rng, n_long, n_times, sfreq, 0.01, min(0.5, 0.9 * nyq))
    hbo += _AMP["drift"] * 0.5 * drift_local
    hbr += _HBR_RATIO["drift"] * _AMP["drift"] * 0.5 * drift_local
    for name, sig in systemic.items():
        key = "drift" if name == "drift_systemic" else name
        scale = 0.5 if name == "drift_systemic" else 1.0
        hbo += scale * _AMP[key] * gain[:, None] * sig
        hbr += scale * _HBR_RATIO[key] * _AMP[key] * gain[:, None] * sig

    # --- optical density via the inverse of MNE's modified Beer-Lambert law ---
    od = np.einsum("pwc,pct->pwt", od_matrix, np.stack([hbo, hbr], axis=1))  # (pairs, 2, times)

    # motion: spikes and baseline shifts shared by all channels (the cap moves as a whole)
    spike_times = np.sort(rng.uniform(0.05, 0.95, motion_spikes) * n_times / sfreq)
    t = np.arange(n_times) / sfreq
    for t0 in spike_times:
        amp = rng.uniform(0.05, 0.25) * rng.uniform(0.5, 1.5, (n_pairs, 1))
        tau = rng.uniform(0.5, 2.0)
        shape = np.exp(-np.abs(t - t0) / tau)
        od += amp[:, :, None] * rng.uniform(0.8, 1.2, (n_pairs, 2, 1)) * shape
        if rng.random() < 0.5:  # half of the movements leave the optodes slightly displaced
            od += rng.uniform(-0.05, 0.05, (n_pairs, 2, 1)) * (t >= t0)

    # measurement (shot) noise in optical density, different per channel
    noise_sd = np.exp(rng.uniform(np.log(5e-4), np.log(2e-3), (n_pairs, 2, 1)))
    od += measurement_noise * noise_sd * rng.standard_normal(od.shape)

    # bad channels: a noisy contact (large independent noise) or no light at all (dark noise only)
    bad = sorted(rng.choice(long_idx, size=bad_channels, replace=False).tolist())
    bad_kind = {}
    for j, k in enumerate(bad):
        if j % 2 == 0:
            od[k] += 0.05 * rng.standard_normal((2, n_times))
            bad_kind[montage.pairs[k]] = "noisy"
        else:
            od[k] = 0.01 * rng.standard_normal((2, n_times))
            bad_kind[montage.pairs[k]] = "flat"

    i0 = np.exp(rng.uniform(np.log(2e4), np.log(2e5), (n_pairs, 2, 1)))
    i0[is_short] *= 5.0  # short channels see more light
    intensity = (i0 * np.exp(-od)).reshape(2 * n_pairs, n_times)
    truth = {
        "hbo": hbo, "hbr": hbr, "neural": neural,
        "bad_channels": [f"{montage.pairs[k]} {wl}" for k in bad for wl in WAVELENGTHS_NM],
        "bad_kind": bad_kind,
        "motion_spikes_s": [float(x) for x in spike_times],
        "mayer_hz": float(f_mayer), "respiration_hz": float(f_resp), "cardiac_hz": f_card,
    }
    return intensity, truth


def simulate_recording_pair(
    coupling: float,
    *,
    duration_s: float = 360.0,
    sfreq: float = 10.0,
    n_channels: int = 8,
    seed: int | np.random.Generator = 0,
    band: tuple[float, float] = (0.05, 0.10),
    short_channels: bool = False,
    bad_channels: int = 0,
    motion_spikes: int = 2,
    meas_date: dt.datetime | None = None,
    subjects: tuple[str, str] = ("T01", "P01"),
    ppf: float = 6.0,
    measurement_noise: float = 1.0,
    return_truth: bool = False,
) -> tuple[mne.io.BaseRaw, mne.io.BaseRaw] | tuple[mne.io.BaseRaw, mne.io.BaseRaw, dict]:
    """Simulate a simultaneous therapist–patient fNIRS recording with planted coupling.

    Parameters
    ----------
    coupling : float
        Inter-brain coupling in [0, 1]: the share of each person's band-limited neural variance
        that is common to homologous channels of the two people (so the two neural components
        correlate with r = ``coupling``). Planted only inside ``band``.
    duration_s : float
        Recording length (s).
    sfreq : float
        Sampling frequency (Hz), at least 4 Hz (the cardiac band must be sampled for the scalp
        coupling index).
    n_channels : int
        Number of long (30 mm) source–detector pairs, 1-36; each gives two channels (760, 850 nm).
    seed : int | numpy.random.Generator
        Seed (or generator) for every random draw.
    band : tuple of float
        (fmin, fmax) of the coupling band (Hz); default 0.05-0.10 Hz (periods 10-20 s).
    short_channels : bool
        Add one 8 mm short-separation channel per source, carrying the systemic (scalp) signals
        only, for short-channel regression.
    bad_channels : int
        Number of long source–detector pairs per person made unusable (alternately a noisy contact
        and no light), which the scalp coupling index should flag.
    motion_spikes : int
        Number of head movements per person (spikes, half with a baseline shift).
    meas_date : datetime.datetime | None
        Measurement start (UTC); default 2025-01-06 10:00 UTC.
    subjects : tuple of str
        Pseudonymous codes written as subject IDs (therapist, patient).
    ppf : float
        Partial pathlength factor of the inverse Beer–Lambert law; use the same value when
        preprocessing to recover the planted concentrations (MNE's default is 6.0).
    measurement_noise : float
        Scale of the optical-density measurement noise (1: SD 0.5-2 × 10⁻³ per channel, drawn
        log-uniformly; 0: none, so the planted concentrations are recovered exactly).
    return_truth : bool
        Also return a dict of what was planted (concentrations in mol/L per person, the shared
        component, bad channels, motion times, physiological frequencies).

    Returns
    -------
    raw_therapist, raw_patient : mne.io.RawArray
        Raw intensity (``fnirs_cw_amplitude``) recordings with channel names ``"S1_D1 760"`` …
        and source/detector positions (m, head coordinates) in ``info["chs"][i]["loc"]``.
    truth : dict
        Only with ``return_truth=True``.
    """
    coupling = _check_real(coupling, "coupling", lo=0.0, hi=1.0)
    duration_s = _check_real(duration_s, "duration_s", lo=0.0, lo_open=True)
    sfreq = _check_real(sfreq, "sfreq", lo=4.0)
    n_channels = _check_int(n_channels, "n_channels", lo=1, hi=MAX_CHANNELS)
    band = _check_band(band, sfreq, duration_s)
    bad_channels = _check_int(bad_channels, "bad_channels", lo=0, hi=n_channels)
    motion_spikes = _check_int(motion_spikes, "motion_spikes", lo=0)
    ppf = _check_real(ppf, "ppf", lo=0.0, lo_open=True)
    measurement_noise = _check_real(measurement_noise, "measurement_noise", lo=0.0)
    if meas_date is None:
        meas_date = dt.datetime(2025, 1, 6, 10, 0, tzinfo=dt.UTC)
    elif not isinstance(meas_date, dt.datetime):
        raise InputError(f"meas_date must be a datetime, got {meas_date!r}")
    elif meas_date.tzinfo is None:
        meas_date = meas_date.replace(tzinfo=dt.UTC)
    if len(subjects) != 2 or not all(isinstance(s, str) and s for s in subjects):
        raise InputError(f"subjects must be two codes (therapist, patient), got {subjects!r}")
    rng = _rng(seed)
    n_times = int(round(duration_s * sfreq))

    montage = _make_montage(n_channels, short_channels)
    od_matrix = _od_per_concentration(montage, ppf)
    n_long = int(np.sum(~np.array(montage.is_short)))
    shared = _bandlimited(rng, n_long, n_times, sfreq, *band)
    raws = []
    truth: dict[str, Any] = {
        "coupling": coupling, "band": list(band), "sfreq": sfreq, "n_times": n_times, "ppf": ppf,
        "pairs": list(montage.pairs), "short_pairs": [
            p for p, s in zip(montage.pairs, montage.is_short, strict=True) if s
        ],
        "shared": shared, "persons": {},
    }
    for code in subjects:
        data, person_truth = _simulate_person(
            rng, shared, coupling, montage, sfreq, n_times, band, bad_channels, motion_spikes,
            od_matrix, measurement_noise,
        )
        info = _make_info(montage, sfreq, "fnirs_cw_amplitude")
        info["subject_info"] = {"his_id": code}
        info.set_meas_date(meas_date)
        raws.append(mne.io.RawArray(data, info, verbose=False))
        truth["persons"][code] = person_truth
    logger.debug("simulated pair %s with coupling %.3f", subjects, coupling)
    if return_truth:
        return raws[0], raws[1], truth
    return raws[0], raws[1]


# --------------------------------------------------------------------------------------------
# the planted study-level model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    n_dyads: int
    n_sessions: int
    scanned: tuple[int, ...]
    baseline_coupling: float
    growth: float
    coupling_sd_dyad: float
    coupling_sd_growth: float
    coupling_sd_session: float
    symptom_slope: float
    wellbeing_slope: float
    session_quality_slope: float
    alliance_effect: float
    outcome_sd_dyad: float
    outcome_sd_session: float

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["scanned"] = list(self.scanned)
        return out


def _make_plan(n_dyads: object, n_sessions: object, scanned: object, **kw: object) -> _Plan:
    n_dyads = _check_int(n_dyads, "n_dyads", lo=1, hi=99)
    n_sessions = _check_int(n_sessions, "n_sessions", lo=1, hi=999)
    if scanned is None:
        scanned_t = tuple(range(1, n_sessions + 1))
    else:
        try:
            scanned_t = tuple(sorted({_check_int(s, "scanned session", lo=1) for s in scanned}))
        except TypeError:
            raise InputError(
                f"scanned must be a list of session numbers, got {scanned!r}"
            ) from None
        beyond = [s for s in scanned_t if s > n_sessions]
        if beyond:
            raise InputError(
                f"scanned sessions {beyond} do not exist: sessions are numbered 1..{n_sessions}"
            )
    values = {
        "baseline_coupling": _check_real(kw["baseline_coupling"], "baseline_coupling", lo=0, hi=1),
        "growth": _check_real(kw["growth"], "growth", lo=-1, hi=1),
    }
    for name in ("coupling_sd_dyad", "coupling_sd_growth", "coupling_sd_session",
                 "outcome_sd_dyad", "outcome_sd_session"):
        values[name] = _check_real(kw[name], name, lo=0.0)
    for name in ("symptom_slope", "wellbeing_slope", "session_quality_slope", "alliance_effect"):
        values[name] = _check_real(kw[name], name)
    return _Plan(n_dyads=n_dyads, n_sessions=n_sessions, scanned=scanned_t, **values)


def _latent_table(plan: _Plan, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dyad × session table of planted coupling and latent outcomes, and the dyad effects."""
    n_d, n_s = plan.n_dyads, plan.n_sessions
    dyads = [f"D{d + 1:02d}" for d in range(n_d)]
    u0 = rng.normal(0.0, plan.coupling_sd_dyad, n_d)
    u1 = rng.normal(0.0, plan.coupling_sd_growth, n_d)
    e = rng.normal(0.0, plan.coupling_sd_session, (n_d, n_s))
    s = np.arange(n_s)
    coupling = np.clip(
        plan.baseline_coupling + u0[:, None] + (plan.growth + u1[:, None]) * s[None, :] + e, 0, 1
    )
    centred = coupling - plan.baseline_coupling
    effects = {"coupling_intercept": u0, "coupling_slope": u1}
    latent = {}
    slopes = {"symptoms": plan.symptom_slope, "wellbeing": plan.wellbeing_slope,
              "session_quality": plan.session_quality_slope, "alliance": plan.alliance_effect}
    for name, slope in slopes.items():
        dyad_eff = rng.normal(0.0, plan.outcome_sd_dyad, n_d)
        effects[name] = dyad_eff
        latent[name] = (dyad_eff[:, None] + slope * centred
                        + rng.normal(0.0, plan.outcome_sd_session, (n_d, n_s)))
    # the therapist's own wellbeing: a dyad-level offset and session noise, no coupling effect
    wb_t = rng.normal(0.0, plan.outcome_sd_dyad, n_d)
    effects["wellbeing_therapist"] = wb_t
    latent["wellbeing_therapist"] = wb_t[:, None] + rng.normal(0.0, plan.outcome_sd_session,
                                                               (n_d, n_s))
    rows = {
        "dyad": np.repeat(dyads, n_s),
        "session": np.tile(s + 1, n_d),
        "scanned": np.isin(np.tile(s + 1, n_d), plan.scanned),
        "coupling": coupling.ravel(),
    }
    rows.update({k: v.ravel() for k, v in latent.items()})
    table = pd.DataFrame(rows)
    dyad_effects = pd.DataFrame({"dyad": dyads, **effects})
    return table, dyad_effects


def simulate_synchrony_table(
    *,
    n_dyads: int = 8,
    n_sessions: int = 6,
    scanned: Sequence[int] | None = None,
    baseline_coupling: float = 0.2,
    growth: float = 0.08,
    coupling_sd_dyad: float = 0.05,
    coupling_sd_growth: float = 0.02,
    coupling_sd_session: float = 0.08,
    symptom_slope: float = -2.0,
    wellbeing_slope: float = 1.5,
    session_quality_slope: float = 1.5,
    alliance_effect: float = 0.0,
    outcome_sd_dyad: float = 0.7,
    outcome_sd_session: float = 0.4,
    synchrony_noise_sd: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Model-only simulation: dyad × session synchrony and outcomes, no recordings.

    Uses exactly the planted model of :func:`simulate_study` (same parameters, same seed → the same
    coupling and latent outcomes), for power analysis by repetition over seeds.

    Parameters
    ----------
    n_dyads, n_sessions : int
        Study size.
    scanned : sequence of int | None
        Session numbers with recordings (default all); ``synchrony`` is NaN elsewhere.
    baseline_coupling : float
        Mean coupling at session 1, in [0, 1].
    growth : float
        Mean change in coupling per session.
    coupling_sd_dyad, coupling_sd_growth, coupling_sd_session : float
        SDs of the dyad random intercept, dyad random slope and session residual of coupling.
    symptom_slope, wellbeing_slope, session_quality_slope : float
        Change of the latent outcome (z units) per unit of coupling.
    alliance_effect : float
        Change of latent alliance per unit of coupling (0: alliance unrelated to coupling).
    outcome_sd_dyad, outcome_sd_session : float
        SDs of the dyad intercepts and session residuals of the latent outcomes (z units).
    synchrony_noise_sd : float
        SD of the measurement error added to coupling to give the observed ``synchrony``.
    seed : int
        Seed.

    Returns
    -------
    pandas.DataFrame
        One row per dyad × session: ``dyad, session, scanned, coupling, synchrony, symptoms,
        wellbeing, session_quality, alliance, wellbeing_therapist`` (latent outcomes, z units;
        alliance is patient-rated; the therapist's wellbeing is unrelated to coupling).
    """
    plan = _make_plan(
        n_dyads, n_sessions, scanned, baseline_coupling=baseline_coupling, growth=growth,
        coupling_sd_dyad=coupling_sd_dyad, coupling_sd_growth=coupling_sd_growth,
        coupling_sd_session=coupling_sd_session, symptom_slope=symptom_slope,
        wellbeing_slope=wellbeing_slope, session_quality_slope=session_quality_slope,
        alliance_effect=alliance_effect, outcome_sd_dyad=outcome_sd_dyad,
        outcome_sd_session=outcome_sd_session,
    )
    noise_sd = _check_real(synchrony_noise_sd, "synchrony_noise_sd", lo=0.0)
    ss_table, _, _, ss_noise = _seed_sequence(seed).spawn(4)
    table, _ = _latent_table(plan, np.random.default_rng(ss_table))
    noise = np.random.default_rng(ss_noise).normal(0.0, noise_sd, len(table))
    synchrony = (table["coupling"] + noise).where(table["scanned"])
    table.insert(4, "synchrony", synchrony.astype(float))
    return table


# --------------------------------------------------------------------------------------------
# questionnaires
# --------------------------------------------------------------------------------------------


def _questionnaire_rows(table: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per response, items generated from the latent scores with noise, then rounded."""
    records = []
    for rec in table.itertuples(index=False):
        for respondent, timing, instrument, latent, mean in _RESPONSES:
            spec = INSTRUMENTS[instrument]
            z = float(getattr(rec, latent))
            k = spec["n_items"]
            noise = rng.standard_normal(k)
            raw = (spec["mean"] if mean is None else mean) + spec["sd"] * (
                _ITEM_LOADING * z + np.sqrt(1 - _ITEM_LOADING**2) * noise
            )
            items = np.clip(np.rint(raw), spec["min"], spec["max"]).astype(int)
            row: dict[str, Any] = {"dyad": rec.dyad, "session": int(rec.session),
                                   "respondent": respondent, "timing": timing,
                                   "instrument": instrument}
            row.update({f"i{j + 1}": int(v) for j, v in enumerate(items)})
            records.append(row)
    frame = pd.DataFrame.from_records(records)
    for j in range(_MAX_ITEMS):
        col = f"i{j + 1}"
        if col not in frame:
            frame[col] = pd.NA
        frame[col] = frame[col].astype("Int64")
    return frame[["dyad", "session", "respondent", "timing", "instrument"]
                 + [f"i{j + 1}" for j in range(_MAX_ITEMS)]]


# --------------------------------------------------------------------------------------------
# a whole study on disk
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SimulatedStudy:
    """What :func:`simulate_study` wrote.

    Attributes
    ----------
    out_dir : pathlib.Path
        The study folder.
    sessions : pandas.DataFrame
        Dyad × session: ``dyad, session, date, scanned, coupling`` and latent outcomes.
    recordings : pandas.DataFrame
        One row per SNIRF file: ``dyad, session, role, person, path`` (path relative to
        ``out_dir``, POSIX separators), ``bad_channels`` (list of channel names).
    questionnaires : pandas.DataFrame
        The questionnaire CSV as written.
    truth : dict
        The content of ``truth.json``.
    """

    out_dir: Path
    sessions: pd.DataFrame
    recordings: pd.DataFrame
    questionnaires: pd.DataFrame
    truth: dict[str, Any] = field(repr=False)

    @property
    def questionnaires_path(self) -> Path:
        """Path of ``questionnaires.csv``."""
        return self.out_dir / "questionnaires.csv"

    @property
    def truth_path(self) -> Path:
        """Path of ``truth.json``."""
        return self.out_dir / "truth.json"


def _recording_path(person: str, session: int, dyad: str, shared: bool) -> str:
    # a shared therapist has several session-n recordings (one per dyad): the BIDS acq entity
    # keeps the file names unique; every other file follows sub-<person>_ses-<n>_task-therapy
    acq = f"_acq-{dyad}" if shared else ""
    return (f"recordings/sub-{person}/ses-{session}/nirs/"
            f"sub-{person}_ses-{session}_task-therapy{acq}_nirs.snirf")


def simulate_study(
    out_dir: str | Path,
    *,
    n_dyads: int = 8,
    n_sessions: int = 6,
    scanned: Sequence[int] | None = None,
    shared_therapist: bool = True,
    baseline_coupling: float = 0.2,
    growth: float = 0.08,
    coupling_sd_dyad: float = 0.05,
    coupling_sd_growth: float = 0.02,
    coupling_sd_session: float = 0.08,
    symptom_slope: float = -2.0,
    wellbeing_slope: float = 1.5,
    session_quality_slope: float = 1.5,
    alliance_effect: float = 0.0,
    outcome_sd_dyad: float = 0.7,
    outcome_sd_session: float = 0.4,
    duration_s: float = 360.0,
    sfreq: float = 10.0,
    n_channels: int = 8,
    band: tuple[float, float] = (0.05, 0.10),
    short_channels: bool = False,
    bad_channels: int = 0,
    motion_spikes: int = 2,
    start_date: str | dt.date = "2025-01-06",
    session_interval_days: int = 7,
    seed: int = 0,
    overwrite: bool = False,
) -> SimulatedStudy:
    """Write a synthetic longitudinal hyperscanning study with planted effects.

    Writes, under ``out_dir``:

    - ``recordings/sub-<person>/ses-<n>/nirs/sub-<person>_ses-<n>_task-therapy_nirs.snirf`` for
      each person and scanned session (raw intensity SNIRF; with a shared therapist the therapist's
      files carry ``_acq-<dyad>`` before ``_nirs`` because one therapist has a session *n* in every
      dyad);
    - ``questionnaires.csv``: one row per response with ``dyad, session, respondent, timing,
      instrument, i1..i12`` (patient before the session: gad7, who5; after:
      state-test-anxiety, srs, wai-sr; therapist before: who5);
    - ``truth.json``: seed, every parameter, per dyad × session coupling and latent outcomes,
      dyad random effects, and per recording its path, bad channels and motion times.

    Parameters
    ----------
    out_dir : str | pathlib.Path
        Folder to write into; must be empty or absent unless ``overwrite``.
    n_dyads, n_sessions : int
        Study size (dyads ``D01``…, patients ``P01``…, therapists ``T01``…).
    scanned : sequence of int | None
        Session numbers recorded with fNIRS (default all).
    shared_therapist : bool
        One therapist (``T01``) in every dyad, as in Sened et al. (2025); else one per dyad.
    baseline_coupling, growth, coupling_sd_dyad, coupling_sd_growth, coupling_sd_session : float
        Planted coupling model (see the module docstring).
    symptom_slope, wellbeing_slope, session_quality_slope, alliance_effect : float
        Change of each latent outcome (z units) per unit of coupling.
    outcome_sd_dyad, outcome_sd_session : float
        SDs of outcome dyad intercepts and session residuals (z units).
    duration_s, sfreq, n_channels, band, short_channels, bad_channels, motion_spikes
        Passed to :func:`simulate_recording_pair` for every scanned session. The defaults (360 s
        at 10 Hz, 8 channel pairs) keep the demo quick while leaving the recordings long enough for
        the default 0.01 Hz high-pass of :mod:`studymgr.compute.preprocess`.
    start_date : str | datetime.date
        Date of session 1 (``YYYY-MM-DD``); sessions follow every ``session_interval_days``.
    seed : int
        Seed; the same seed gives identical files (and the same table as
        :func:`simulate_synchrony_table`).
    overwrite : bool
        Allow writing into a non-empty folder.

    Returns
    -------
    SimulatedStudy
    """
    plan = _make_plan(
        n_dyads, n_sessions, scanned, baseline_coupling=baseline_coupling, growth=growth,
        coupling_sd_dyad=coupling_sd_dyad, coupling_sd_growth=coupling_sd_growth,
        coupling_sd_session=coupling_sd_session, symptom_slope=symptom_slope,
        wellbeing_slope=wellbeing_slope, session_quality_slope=session_quality_slope,
        alliance_effect=alliance_effect, outcome_sd_dyad=outcome_sd_dyad,
        outcome_sd_session=outcome_sd_session,
    )
    # validate the recording parameters once, before anything is written
    duration_s = _check_real(duration_s, "duration_s", lo=0.0, lo_open=True)
    sfreq = _check_real(sfreq, "sfreq", lo=4.0)
    n_channels = _check_int(n_channels, "n_channels", lo=1, hi=MAX_CHANNELS)
    band = _check_band(band, sfreq, duration_s)
    bad_channels = _check_int(bad_channels, "bad_channels", lo=0, hi=n_channels)
    motion_spikes = _check_int(motion_spikes, "motion_spikes", lo=0)
    interval = _check_int(session_interval_days, "session_interval_days", lo=1)
    try:
        start = dt.date.fromisoformat(str(start_date))
    except ValueError:
        raise InputError(f"invalid start_date {start_date!r}: expected YYYY-MM-DD") from None
    ss_table, ss_rec, ss_quest, _ = _seed_sequence(seed).spawn(4)

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder: choose a folder for the study")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConflictError(f"{out} is not empty: choose a new folder or pass overwrite=True")

    from mne_nirs.io import write_raw_snirf  # slow import (~4 s): only when writing files

    table, dyad_effects = _latent_table(plan, np.random.default_rng(ss_table))
    table.insert(2, "date", [(start + dt.timedelta(days=interval * (s - 1))).isoformat()
                             for s in table["session"]])
    dyads = [f"D{d + 1:02d}" for d in range(plan.n_dyads)]
    therapist = {d: ("T01" if shared_therapist else f"T{i + 1:02d}") for i, d in enumerate(dyads)}
    patient = {d: f"P{i + 1:02d}" for i, d in enumerate(dyads)}

    # one independent seed per dyad × session, fixed whatever the scanned set is
    rec_seeds = ss_rec.spawn(plan.n_dyads * plan.n_sessions)
    recordings = []
    for idx, rec in enumerate(table.itertuples(index=False)):
        if not rec.scanned:
            continue
        date = dt.date.fromisoformat(rec.date)
        meas_date = dt.datetime(date.year, date.month, date.day, 10, 0, tzinfo=dt.UTC)
        codes = (therapist[rec.dyad], patient[rec.dyad])
        raw_t, raw_p, truth = simulate_recording_pair(
            float(rec.coupling), duration_s=duration_s, sfreq=sfreq, n_channels=n_channels,
            seed=np.random.default_rng(rec_seeds[idx]), band=band, short_channels=short_channels,
            bad_channels=bad_channels, motion_spikes=motion_spikes, meas_date=meas_date,
            subjects=codes, return_truth=True,
        )
        for role, code, raw in (("therapist", codes[0], raw_t), ("patient", codes[1], raw_p)):
            rel = _recording_path(code, int(rec.session), rec.dyad,
                                  shared_therapist and role == "therapist")
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            write_raw_snirf(raw, str(path))
            person = truth["persons"][code]
            recordings.append({
                "dyad": rec.dyad, "session": int(rec.session), "role": role, "person": code,
                "path": rel, "bad_channels": person["bad_channels"],
                "motion_spikes_s": person["motion_spikes_s"],
                "mayer_hz": person["mayer_hz"], "cardiac_hz": person["cardiac_hz"],
            })
    logger.info("wrote %d recordings under %s", len(recordings), out / "recordings")

    out.mkdir(parents=True, exist_ok=True)
    questionnaires = _questionnaire_rows(table, np.random.default_rng(ss_quest))
    questionnaires.to_csv(out / "questionnaires.csv", index=False)

    people = sorted({(c, "therapist") for c in therapist.values()}) + [
        (patient[d], "patient") for d in dyads
    ]
    truth_doc = {
        "generator": "studymgr.compute.simulate.study.simulate_study",
        "seed": int(seed),
        "parameters": {
            **plan.as_dict(), "shared_therapist": bool(shared_therapist),
            "duration_s": duration_s, "sfreq": sfreq, "n_channels": n_channels,
            "band": list(band), "short_channels": bool(short_channels),
            "bad_channels": bad_channels, "motion_spikes": motion_spikes,
            "start_date": start.isoformat(), "session_interval_days": interval,
            "ppf": 6.0, "wavelengths_nm": list(WAVELENGTHS_NM),
        },
        "people": [{"person": c, "role": r} for c, r in people],
        "dyads": [{"dyad": d, "therapist": therapist[d], "patient": patient[d]} for d in dyads],
        "instruments": INSTRUMENTS,
        "responses": [{"respondent": r, "timing": t, "instrument": i, "latent": latent,
                       "item_mean": INSTRUMENTS[i]["mean"] if m is None else m}
                      for r, t, i, latent, m in _RESPONSES],
        "dyad_effects": dyad_effects.to_dict(orient="records"),
        "sessions": table.to_dict(orient="records"),
        "recordings": recordings,
    }
    with open(out / "truth.json", "w", encoding="utf-8") as fh:
        json.dump(_jsonable(truth_doc), fh, indent=1, sort_keys=True)
    return SimulatedStudy(
        out_dir=out, sessions=table, recordings=pd.DataFrame.from_records(recordings),
        questionnaires=questionnaires, truth=_jsonable(truth_doc),
    )


def _jsonable(obj: Any) -> Any:
    """Plain JSON types (numpy scalars → Python, tuples → lists)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def simulate_rater_marks(duration_s: float, *, moi: int = 4, moni: int = 3,
                         raters: Sequence[str] = ("R1", "R2", "R3"), jitter_s: float = 6.0,
                         margin_s: float = 40.0,
                         seed: int | np.random.Generator | None = 0) -> pd.DataFrame:
    """Marks of several raters of one session: moments of interest (MOI) and of no interest
    (MONI), as a CSV for ``studymgr events import`` holds them.

    The true moments alternate MOI and MONI at even spacing between ``margin_s`` and
    ``duration_s - margin_s``; each rater marks each moment with a uniform jitter of up to
    ``jitter_s`` seconds, misses one moment in ten and adds one stray mark of their own (so
    that agreement is high but not perfect, as with real raters).

    Parameters
    ----------
    duration_s : float
        Length of the session's recording (s).
    moi, moni : int
        Number of true moments of each label.
    raters : sequence of str
        Rater codes.
    jitter_s, margin_s : float
        Largest timing error of a mark; distance of the moments from the ends (s).
    seed : int | Generator | None

    Returns
    -------
    DataFrame
        ``onset, duration, label, rater`` (s), sorted by rater and onset; ``attrs["truth"]``
        holds the true moments (``onset, label``).
    """
    duration_s = _check_real(duration_s, "duration_s", lo=0.0)
    moi = _check_int(moi, "moi", lo=0)
    moni = _check_int(moni, "moni", lo=0)
    jitter_s = _check_real(jitter_s, "jitter_s", lo=0.0)
    margin_s = _check_real(margin_s, "margin_s", lo=0.0)
    if moi + moni == 0 or not raters:
        raise InputError("simulated marks need at least one moment and one rater")
    if duration_s <= 2 * margin_s:
        raise InputError(f"a {duration_s:g}-s session leaves no room for moments "
                         f"{margin_s:g} s from its ends")
    rng = _rng(seed)
    n = moi + moni
    onsets = np.linspace(margin_s, duration_s - margin_s, n)
    # alternate the labels while both are left, so that the two kinds are interleaved
    labels: list[str] = []
    left = {"MOI": moi, "MONI": moni}
    while len(labels) < n:
        label = "MOI" if left["MOI"] and (len(labels) % 2 == 0 or not left["MONI"]) else "MONI"
        labels.append(label)
        left[label] -= 1
    rows = []
    for rater in raters:
        for onset, label in zip(onsets, labels, strict=True):
            if rng.random() < 0.1:
                continue
            mark = float(np.clip(onset + rng.uniform(-jitter_s, jitter_s), 0.0, duration_s))
            rows.append((round(mark, 1), 0.0, label, str(rater)))
        stray = float(rng.uniform(margin_s, duration_s - margin_s))
        rows.append((round(stray, 1), 0.0, str(rng.choice(["MOI", "MONI"])), str(rater)))
    frame = pd.DataFrame(rows, columns=["onset", "duration", "label", "rater"])
    frame = frame.sort_values(["rater", "onset"], kind="stable").reset_index(drop=True)
    frame.attrs["truth"] = pd.DataFrame({"onset": onsets, "label": labels})
    return frame
