"""Simulated therapist–patient fNIRS recordings with planted inter-brain coupling.

:func:`simulate_recording_pair` gives one therapist and one patient continuous-wave fNIRS
recording (raw intensity, 760/850 nm, MNE channel names and optode positions). Haemoglobin changes
are simulated first and turned into light intensity with the inverse of MNE's modified
Beer–Lambert law, so ``optical_density`` + ``beer_lambert_law`` recover them. Inter-brain coupling
is planted *only* inside a frequency band: a band-limited component shared by homologous channels
of the two people, whose share of the band-limited neural variance is ``coupling``.

Besides the neural signal, each person's recording carries what real recordings carry: a pink
neural background, slow drift, systemic Mayer waves, respiration and a cardiac pulse (shared by all
channels, strongest in short channels), head movements (spikes and baseline shifts), measurement
noise and, on request, unusable channels. :class:`~studymgr.compute.simulate.model.Recording`
groups the settings that a simulated study passes to every recording.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass
from typing import Any

import mne
import numpy as np

from studymgr._docs import fill_doc
from studymgr.compute.simulate._params import check_real, rng_from, with_overrides
from studymgr.compute.simulate.model import Recording
from studymgr.errors import InputError

logger = logging.getLogger(__name__)

__all__ = ["simulate_recording_pair"]

WAVELENGTHS_NM = (760, 850)
LONG_DISTANCE_M = 0.030
SHORT_DISTANCE_M = 0.008
HEAD_RADIUS_M = 0.09
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


def _haemoglobin(rng: np.random.Generator, shared: np.ndarray, coupling: float,
                 montage: _Montage, sfreq: float, n_times: int, band: tuple[float, float]
                 ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """HbO and HbR (mol/L, (n_pairs, n_times)) of one person, and the planted components.

    Long channels carry neural and systemic signals; short channels systemic signals only.
    """
    is_short = np.array(montage.is_short)
    n_pairs = len(montage.pairs)
    n_long = int((~is_short).sum())
    nyq = sfreq / 2
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
    planted = {"neural": neural, "mayer_hz": float(f_mayer), "respiration_hz": float(f_resp),
               "cardiac_hz": f_card}
    return hbo, hbr, planted


def _add_motion(rng: np.random.Generator, od: np.ndarray, motion_spikes: int,
                sfreq: float) -> np.ndarray:
    """Add head movements to ``od`` (in place): spikes and baseline shifts shared by all
    channels (the cap moves as a whole). Returns the movement times (s)."""
    n_pairs, _, n_times = od.shape
    spike_times = np.sort(rng.uniform(0.05, 0.95, motion_spikes) * n_times / sfreq)
    t = np.arange(n_times) / sfreq
    for t0 in spike_times:
        amp = rng.uniform(0.05, 0.25) * rng.uniform(0.5, 1.5, (n_pairs, 1))
        tau = rng.uniform(0.5, 2.0)
        shape = np.exp(-np.abs(t - t0) / tau)
        od += amp[:, :, None] * rng.uniform(0.8, 1.2, (n_pairs, 2, 1)) * shape
        if rng.random() < 0.5:  # half of the movements leave the optodes slightly displaced
            od += rng.uniform(-0.05, 0.05, (n_pairs, 2, 1)) * (t >= t0)
    return spike_times


def _add_bad_channels(rng: np.random.Generator, od: np.ndarray, montage: _Montage,
                      bad_channels: int) -> tuple[list[int], dict[str, str]]:
    """Spoil ``bad_channels`` long pairs of ``od`` (in place): a noisy contact (large independent
    noise) or no light at all (dark noise only), alternately. Returns the pairs and their kind."""
    long_idx = np.flatnonzero(~np.array(montage.is_short))
    n_times = od.shape[-1]
    bad = sorted(rng.choice(long_idx, size=bad_channels, replace=False).tolist())
    bad_kind = {}
    for j, k in enumerate(bad):
        if j % 2 == 0:
            od[k] += 0.05 * rng.standard_normal((2, n_times))
            bad_kind[montage.pairs[k]] = "noisy"
        else:
            od[k] = 0.01 * rng.standard_normal((2, n_times))
            bad_kind[montage.pairs[k]] = "flat"
    return bad, bad_kind


def _simulate_person(rng: np.random.Generator, shared: np.ndarray, coupling: float,
                     montage: _Montage, recording: Recording, od_matrix: np.ndarray,
                     measurement_noise: float) -> tuple[np.ndarray, dict[str, Any]]:
    """Intensity (2 * n_pairs, n_times) for one person, and what was planted."""
    sfreq, n_times = recording.sfreq, recording.n_times
    hbo, hbr, planted = _haemoglobin(rng, shared, coupling, montage, sfreq, n_times,
                                     recording.band)
    # optical density via the inverse of MNE's modified Beer-Lambert law
    od = np.einsum("pwc,pct->pwt", od_matrix, np.stack([hbo, hbr], axis=1))  # (pairs, 2, times)
    spike_times = _add_motion(rng, od, recording.motion_spikes, sfreq)
    # measurement (shot) noise in optical density, different per channel
    noise_sd = np.exp(rng.uniform(np.log(5e-4), np.log(2e-3), (len(montage.pairs), 2, 1)))
    od += measurement_noise * noise_sd * rng.standard_normal(od.shape)
    bad, bad_kind = _add_bad_channels(rng, od, montage, recording.bad_channels)
    i0 = np.exp(rng.uniform(np.log(2e4), np.log(2e5), (len(montage.pairs), 2, 1)))
    i0[np.array(montage.is_short)] *= 5.0  # short channels see more light
    intensity = (i0 * np.exp(-od)).reshape(2 * len(montage.pairs), n_times)
    truth = {
        "hbo": hbo, "hbr": hbr, "neural": planted["neural"],
        "bad_channels": [f"{montage.pairs[k]} {wl}" for k in bad for wl in WAVELENGTHS_NM],
        "bad_kind": bad_kind,
        "motion_spikes_s": [float(x) for x in spike_times],
        "mayer_hz": planted["mayer_hz"], "respiration_hz": planted["respiration_hz"],
        "cardiac_hz": planted["cardiac_hz"],
    }
    return intensity, truth


def _check_meas_date(meas_date: dt.datetime | None) -> dt.datetime:
    if meas_date is None:
        return dt.datetime(2025, 1, 6, 10, 0, tzinfo=dt.UTC)
    if not isinstance(meas_date, dt.datetime):
        raise InputError(f"meas_date must be a datetime, got {meas_date!r}")
    if meas_date.tzinfo is None:
        return meas_date.replace(tzinfo=dt.UTC)
    return meas_date


@fill_doc
def simulate_recording_pair(
    coupling: float,
    *,
    recording: Recording | None = None,
    seed: int | np.random.Generator = 0,
    meas_date: dt.datetime | None = None,
    subjects: tuple[str, str] = ("T01", "P01"),
    ppf: float = 6.0,
    measurement_noise: float = 1.0,
    return_truth: bool = False,
    **overrides: Any,
) -> tuple[mne.io.BaseRaw, mne.io.BaseRaw] | tuple[mne.io.BaseRaw, mne.io.BaseRaw, dict]:
    """Simulate a simultaneous therapist–patient fNIRS recording with planted coupling.

    Parameters
    ----------
    coupling : float
        Inter-brain coupling in [0, 1]: the share of each person's band-limited neural variance
        that is common to homologous channels of the two people (so the two neural components
        correlate with r = ``coupling``). Planted only inside ``recording.band``.
    %(sim_recording)s
    seed : int | numpy.random.Generator
        Seed (or generator) for every random draw.
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
    **overrides
        Fields of :class:`Recording` by name (``duration_s=60, n_channels=4``, the keyword
        arguments of earlier versions): replace that field.

    Returns
    -------
    raw_therapist, raw_patient : mne.io.RawArray
        Raw intensity (``fnirs_cw_amplitude``) recordings with channel names ``"S1_D1 760"`` …
        and source/detector positions (m, head coordinates) in ``info["chs"][i]["loc"]``.
    truth : dict
        Only with ``return_truth=True``.
    """
    coupling = check_real(coupling, "coupling", lo=0.0, hi=1.0)
    recording = with_overrides("simulate_recording_pair",
                               {"recording": (Recording, recording)}, overrides)["recording"]
    ppf = check_real(ppf, "ppf", lo=0.0, lo_open=True)
    measurement_noise = check_real(measurement_noise, "measurement_noise", lo=0.0)
    meas_date = _check_meas_date(meas_date)
    if len(subjects) != 2 or not all(isinstance(s, str) and s for s in subjects):
        raise InputError(f"subjects must be two codes (therapist, patient), got {subjects!r}")
    rng = rng_from(seed)
    sfreq, n_times = recording.sfreq, recording.n_times

    montage = _make_montage(recording.n_channels, recording.short_channels)
    od_matrix = _od_per_concentration(montage, ppf)
    n_long = int(np.sum(~np.array(montage.is_short)))
    shared = _bandlimited(rng, n_long, n_times, sfreq, *recording.band)
    raws = []
    truth: dict[str, Any] = {
        "coupling": coupling, "band": list(recording.band), "sfreq": sfreq, "n_times": n_times,
        "ppf": ppf, "pairs": list(montage.pairs), "short_pairs": [
            p for p, s in zip(montage.pairs, montage.is_short, strict=True) if s
        ],
        "shared": shared, "persons": {},
    }
    for code in subjects:
        data, person_truth = _simulate_person(rng, shared, coupling, montage, recording,
                                              od_matrix, measurement_noise)
        info = _make_info(montage, sfreq, "fnirs_cw_amplitude")
        info["subject_info"] = {"his_id": code}
        info.set_meas_date(meas_date)
        raws.append(mne.io.RawArray(data, info, verbose=False))
        truth["persons"][code] = person_truth
    logger.debug("simulated pair %s with coupling %.3f", subjects, coupling)
    if return_truth:
        return raws[0], raws[1], truth
    return raws[0], raws[1]
