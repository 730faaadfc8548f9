"""Tests for studymgr.compute.synchrony.coherence: wavelet transform coherence and its band
averages.

What each test compares with is said in its docstring. The references are:

* ``pycwt.wct`` (regeirk/pycwt), an independent implementation, for ``convention="pycwt"``
  (skipped with a reason when pycwt is not installed; it is a test dependency);
* numbers produced by the MATLAB code of grinsted/wavelet-coherence (``private/wavelet.m``,
  ``private/wave_bases.m``, ``smoothwavelet.m`` and the analysis section of ``wtc.m`` with its
  default arguments), run in GNU Octave 7.3 on the deterministic inputs built by ``_matlab_case``
  (an integer LCG, so the inputs are bit-identical wherever they are built);
* analytic properties (Cauchy-Schwarz equality, invariances, symmetry, hand-computed axes);
* the package's own full-rate computation (``method="exact"``, itself checked against both
  references above) for the fast path of ``band_coherence``.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import numpy as np
import pytest

from studymgr.compute.synchrony import coherence as synchrony
from studymgr.compute.synchrony.coherence import (
    FOURIER_FACTOR,
    Coherence,
    _layout,
    _smooth_time_exact,
    band_coherence,
    wavelet_coherence,
)
from studymgr.errors import InputError, StudyError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def _lcg(n: int, seed: int) -> np.ndarray:
    """Uniform noise in [-0.5, 0.5) from the Numerical Recipes 32-bit LCG (exactly reproducible)."""
    out = np.empty(n)
    state = seed
    for i in range(n):
        state = (1664525 * state + 1013904223) % 2**32
        out[i] = state / 2**32 - 0.5
    return out


def _red(u: np.ndarray, a: float) -> np.ndarray:
    out = np.empty_like(u)
    acc = 0.0
    for i, v in enumerate(u):
        acc = a * acc + v
        out[i] = acc
    return out


def _matlab_case(name: str) -> tuple[float, np.ndarray, np.ndarray]:
    """The inputs the MATLAB reference values below were computed from (dt in s, x, y)."""
    if name == "A":  # shared 16 s oscillation, phase-shifted, plus a 5 s one in y only
        t = np.arange(600) * 0.5
        x = np.sin(2 * np.pi * t / 16) + _lcg(600, 1)
        y = 0.8 * np.sin(2 * np.pi * t / 16 + 1) + _lcg(600, 2) + 0.5 * np.sin(2 * np.pi * t / 5)
        return 0.5, x, y
    if name == "B":  # coupled red noise
        return 0.1, _red(_lcg(1000, 3), 0.9), _red(_lcg(1000, 4), 0.9) + 0.3 * _red(_lcg(1000, 3),
                                                                                    0.9)
    # "C": a power-of-two length (no padding in the time smoothing, so its FFT wraps around)
    t = np.arange(1024) * 1.0
    x = np.sin(2 * np.pi * t / 40) * np.exp(-(((t - 500) / 200) ** 2)) + _lcg(1024, 5)
    y = _lcg(1024, 6) + np.sin(2 * np.pi * t / 40 + 2)
    return 1.0, x, y


# Octave 7.3 output of the grinsted/wavelet-coherence code on _matlab_case(name): number of
# scales, first Fourier period (s), coi at sample 7 (s), Rsq at (scale row, sample), and band
# averages of Rsq over the cells with period in [1/hi, 1/lo] and period <= coi.
MATLAB_REFERENCE = {
    "A": dict(
        n_scales=81, period0=1.0330436477492537, coi7=2.556652590048145,
        spots={(5, 10): 0.39181439144960906, (20, 300): 0.12036285399338541,
               (40, 200): 0.7546712917407036, (60, 500): 0.056099562044351},
        bands={(1 / 24, 1 / 8): 0.8541543498286922, (1 / 10, 1 / 3): 0.28592141570703905},
    ),
    "B": dict(
        n_scales=90, period0=0.20660872954985077, coi7=0.511330518009629,
        spots={(5, 10): 0.40374921948034087, (20, 300): 0.48753285196630725,
               (40, 200): 0.01355446902889505, (60, 500): 0.8445721160907441},
        bands={(0.1, 0.5): 0.37795250036710243, (0.5, 2.0): 0.3640498305883349},
    ),
    "C": dict(
        n_scales=90, period0=2.0660872954985074, coi7=5.11330518009629,
        spots={(5, 10): 0.38550445322221233, (20, 300): 0.6525324957408183,
               (40, 200): 0.2579611350494694, (60, 500): 0.3650732212098072},
        bands={(1 / 60, 1 / 20): 0.6072750508465031, (1 / 15, 1 / 4): 0.30184341957785543},
    ),
}


def _noise_channels(rng: np.random.Generator, kind: str, k: int, n: int, sfreq: float):
    """Two k-channel recordings of one kind of test signal."""
    t = np.arange(n) / sfreq
    if kind == "white":
        return rng.standard_normal((k, n)), rng.standard_normal((k, n))
    if kind == "red_shared":  # strong low-frequency drift, partly shared
        def red(m: np.ndarray) -> np.ndarray:
            out = np.empty_like(m)
            acc = np.zeros(m.shape[0])
            for i in range(m.shape[1]):
                acc = 0.99 * acc + m[:, i]
                out[:, i] = acc
            return out

        a = red(rng.standard_normal((k, n)))
        return a, red(rng.standard_normal((k, n))) + 0.5 * a
    if kind == "chirp":
        c = np.sin(2 * np.pi * (0.1 + 0.4 * t / t[-1]) * t)
        return (c + 0.1 * rng.standard_normal((k, n)),
                np.roll(c, 30) + 0.1 * rng.standard_normal((k, n)))
    if kind == "spikes":
        a = 0.1 * rng.standard_normal((k, n))
        a[:, :: n // 7] += 50
        return a, a[::-1] + 0.1 * rng.standard_normal((k, n))
    raise AssertionError(kind)


def _pycwt_band_average(x, y, dt, band):
    """Band average from pycwt's own map, period axis and cone of influence."""
    pycwt = pytest.importorskip("pycwt", reason="pycwt (a test dependency) is not installed")
    wct, _, coi, freq, _ = pycwt.wct(x, y, dt, dj=1 / 12, s0=-1, J=-1, sig=False)
    period = 1 / freq
    rows = (period >= 1 / band[1]) & (period <= 1 / band[0])
    valid = period[rows][:, None] <= coi[None, :]
    return wct[rows][valid].mean()


# ---------------------------------------------------------------------------------------------
# The grinsted convention against the MATLAB code
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_grinsted_map_matches_matlab_reference(name):
    """Rows, axes and map values equal the MATLAB wtc code's output (Octave) to 1e-10."""
    dt, x, y = _matlab_case(name)
    ref = MATLAB_REFERENCE[name]
    c = wavelet_coherence(x, y, 1 / dt)
    assert isinstance(c, Coherence)
    assert c.convention == "grinsted" and c.s0 == pytest.approx(2 * dt)
    assert c.coherence.shape == (ref["n_scales"], len(x)) == c.coi_mask.shape
    assert c.periods[0] == pytest.approx(ref["period0"], rel=1e-12)
    assert c.coi[7] == pytest.approx(ref["coi7"], rel=1e-12)
    for (row, col), value in ref["spots"].items():
        assert c.coherence[row, col] == pytest.approx(value, abs=1e-10)


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_grinsted_band_averages_match_matlab_reference(name):
    """Band averages over the cone of influence equal those of the MATLAB map to 1e-10."""
    dt, x, y = _matlab_case(name)
    for band, value in MATLAB_REFERENCE[name]["bands"].items():
        got = band_coherence(x[None], y[None], 1 / dt, band=band, method="exact")
        assert got.shape == (1,)
        assert got[0] == pytest.approx(value, abs=1e-10)
        c = wavelet_coherence(x, y, 1 / dt, fmin=band[0], fmax=band[1])
        assert c.coherence[c.coi_mask].mean() == pytest.approx(value, abs=1e-10)
        # "auto" falls back to the full-rate path when the recording is too short for the
        # fast one, or uses the fast one; either way the reference value
        auto = band_coherence(x, y, 1 / dt, band=band)
        assert auto[0] == pytest.approx(value, abs=1e-8)


def test_grinsted_axes_by_hand():
    """Scales, periods and cone of influence follow the formulas of wavelet.m, by hand."""
    n, dt = 1000, 0.1
    c = wavelet_coherence(_lcg(n, 9), _lcg(n, 10), 1 / dt)
    # J1 = round(log2(0.17 n) / dj) = round(12 * log2(170)) = round(88.91) = 89 -> 90 scales
    assert len(c.scales) == 90
    assert c.scales[0] == pytest.approx(2 * dt)
    np.testing.assert_allclose(c.scales[1:] / c.scales[:-1], 2 ** (1 / 12), rtol=1e-12)
    # Fourier factor of the omega0 = 6 Morlet: 4 pi / (6 + sqrt(38)) = 1.0330436...
    assert FOURIER_FACTOR == pytest.approx(4 * math.pi / (6 + math.sqrt(38)))
    np.testing.assert_allclose(c.periods, 1.0330436477492537 * c.scales, rtol=1e-12)
    np.testing.assert_allclose(c.freqs, 1 / c.periods, rtol=1e-12)
    # coi: ff / sqrt(2) * dt * [1e-5, 1, 2, ..., 2, 1, 1e-5]
    k = 1.0330436477492537 / math.sqrt(2) * dt
    assert c.coi[0] == pytest.approx(k * 1e-5) and c.coi[-1] == pytest.approx(k * 1e-5)
    assert c.coi[3] == pytest.approx(3 * k) and c.coi[n - 4] == pytest.approx(3 * k)
    assert c.coi.max() == pytest.approx((n / 2 - 1) * k)
    np.testing.assert_array_equal(c.coi_mask, c.periods[:, None] <= c.coi[None, :])
    np.testing.assert_allclose(c.times, np.arange(n) * dt)


def test_smoothing_operators_by_hand():
    """Time smoothing is a unit-area Gaussian of width scale / dt samples; the scale boxcars are
    [0.6, 1 x 7, 0.6] / 8.2 (smoothwavelet.m) and [0.5, 1 x 12, 0.5] / 13 with offsets -7..6
    (pycwt's even kernel under convolve2d 'same')."""
    n, dt = 2000, 0.5
    lay = _layout(n, dt, "grinsted")
    ks = np.array([30, 45])
    delta = np.zeros((2, n))
    delta[:, 1000] = 1.0
    got = _smooth_time_exact(lay, delta, ks)
    d = np.arange(n) - 1000
    for r, k in enumerate(ks):
        sigma = lay.scales[k] / dt
        want = np.exp(-(d**2) / (2 * sigma**2)) / (math.sqrt(2 * math.pi) * sigma)
        np.testing.assert_allclose(got[r], want, atol=1e-14)
    np.testing.assert_allclose(lay.box_weights, np.r_[0.6, np.ones(7), 0.6] / 8.2)
    np.testing.assert_array_equal(lay.box_offsets, np.arange(-4, 5))
    lay_p = _layout(n, dt, "pycwt")
    np.testing.assert_allclose(lay_p.box_weights, np.r_[0.5, np.ones(12), 0.5] / 13)
    np.testing.assert_array_equal(lay_p.box_offsets, np.arange(-7, 7))
    # pycwt: smallest period exactly 2 dt, J = round(log2(n dt / s0) / dj)
    assert lay_p.periods[0] == pytest.approx(2 * dt)
    assert len(lay_p.scales) == round(math.log2(n * FOURIER_FACTOR / 2) * 12) + 1


# ---------------------------------------------------------------------------------------------
# The pycwt convention against pycwt
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "dt", "coupling"),
    [(1000, 0.1, 1.0), (777, 0.5, 0.0), (2048, 0.2, 0.5), (3001, 0.05, 1.0)],
)
def test_pycwt_map_matches_pycwt(n, dt, coupling):
    """wavelet_coherence(convention="pycwt") equals pycwt.wct to 1e-8 on every cell, for coupled
    and independent signals of several lengths (padded and power-of-two) and sampling rates."""
    pycwt = pytest.importorskip("pycwt", reason="pycwt (a test dependency) is not installed")
    rng = np.random.default_rng(n)
    t = np.arange(n) * dt
    x = rng.standard_normal(n) + coupling * np.sin(2 * np.pi * t / (40 * dt))
    y = rng.standard_normal(n) + coupling * np.sin(2 * np.pi * t / (40 * dt) + 1)
    wct, _, coi, freq, _ = pycwt.wct(x, y, dt, dj=1 / 12, s0=-1, J=-1, sig=False)
    c = wavelet_coherence(x, y, 1 / dt, convention="pycwt")
    assert c.coherence.shape == wct.shape
    np.testing.assert_allclose(c.coherence, wct, rtol=0, atol=1e-8)
    np.testing.assert_allclose(c.freqs, freq, rtol=1e-12)
    np.testing.assert_allclose(c.coi, coi, rtol=1e-12)


@pytest.mark.parametrize(("n", "sfreq", "band"), [(3000, 10.0, (0.2, 0.5)),
                                                   (4096, 5.0, (0.1, 0.25))])
def test_pycwt_band_fast_path_matches_pycwt(n, sfreq, band):
    """The fast path's band averages equal the same average of pycwt's maps to 1e-8 (cells with
    period in [1/fmax, 1/fmin] and period <= coi), for coupled and independent channel pairs;
    n = 4096 makes pycwt's time-smoothing FFT wrap around the recording."""
    rng = np.random.default_rng(int(n + sfreq))
    t = np.arange(n) / sfreq
    shared = np.sin(2 * np.pi * np.mean(band) * t)
    a = np.vstack([rng.standard_normal(n) + shared, rng.standard_normal(n)])
    b = np.vstack([rng.standard_normal(n) + np.roll(shared, 3), rng.standard_normal(n)])
    got = band_coherence(a, b, sfreq, band=band, pairs="all", convention="pycwt", method="fast")
    for i in range(2):
        for j in range(2):
            want = _pycwt_band_average(a[i], b[j], 1 / sfreq, band)
            assert got[i, j] == pytest.approx(want, abs=1e-8)


# ---------------------------------------------------------------------------------------------
# Fast path against the full-rate computation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("convention", "n", "band"),
    [("grinsted", 3000, (0.2, 0.5)), ("grinsted", 4096, (0.25, 0.3)), ("pycwt", 5000, (0.2, 0.5))],
)
@pytest.mark.parametrize("kind", ["white", "red_shared", "chirp", "spikes"])
def test_fast_path_matches_exact(convention, n, band, kind):
    """Fast band averages equal the full-rate maps' averages (method="exact") to 1e-8."""
    rng = np.random.default_rng(zlib.crc32(f"{convention}{n}{kind}".encode()))
    a, b = _noise_channels(rng, kind, 2, n, 10.0)
    exact = band_coherence(a, b, 10.0, band=band, pairs="all", convention=convention,
                           method="exact")
    fast = band_coherence(a, b, 10.0, band=band, pairs="all", convention=convention,
                          method="fast")
    np.testing.assert_allclose(fast, exact, rtol=0, atol=1e-8)


@pytest.mark.parametrize("convention", ["grinsted", "pycwt"])
def test_fast_path_matches_wavelet_coherence_map(convention):
    """Fast band averages equal the mean of wavelet_coherence's map over its cone-of-influence
    mask, restricted to the band's rows, to 1e-8."""
    rng = np.random.default_rng(21)
    a, b = _noise_channels(rng, "red_shared", 2, 3000, 10.0)
    fast = band_coherence(a, b, 10.0, band=(0.2, 0.5), convention=convention, method="fast")
    for i in range(2):
        c = wavelet_coherence(a[i], b[i], 10.0, fmin=0.2, fmax=0.5, convention=convention)
        assert fast[i] == pytest.approx(c.coherence[c.coi_mask].mean(), abs=1e-8)


def test_pairs_modes_agree():
    """Homologous and explicit pairs pick the matching entries of the all-pairs matrix."""
    rng = np.random.default_rng(5)
    a, b = _noise_channels(rng, "red_shared", 3, 3000, 10.0)
    full = band_coherence(a, b, 10.0, band=(0.2, 0.5), pairs="all", method="fast")
    assert full.shape == (3, 3)
    homo = band_coherence(a, b, 10.0, band=(0.2, 0.5), method="fast")
    np.testing.assert_allclose(homo, np.diag(full), rtol=0, atol=1e-13)
    pairs = [(0, 2), (2, 1), (1, 1), (0, 2)]
    listed = band_coherence(a, b, 10.0, band=(0.2, 0.5), pairs=pairs, method="fast")
    np.testing.assert_allclose(listed, [full[i, j] for i, j in pairs], rtol=0, atol=1e-13)
    one = band_coherence(a[1], b[1], 10.0, band=(0.2, 0.5))  # 1-D input is one channel
    np.testing.assert_allclose(one, [full[1, 1]], rtol=0, atol=1e-8)  # "auto": either path


def test_threads_and_blocking_do_not_change_results(monkeypatch):
    """Several threads, or edge coefficients computed per block instead of for all pairs at
    once, give the single-thread numbers (to rounding)."""
    rng = np.random.default_rng(8)
    a, b = _noise_channels(rng, "white", 3, 3000, 10.0)
    one = band_coherence(a, b, 10.0, band=(0.2, 0.5), pairs="all", method="fast", workers=1)
    two = band_coherence(a, b, 10.0, band=(0.2, 0.5), pairs="all", method="fast", workers=2)
    np.testing.assert_array_equal(one, two)
    monkeypatch.setattr(synchrony, "_ZALL_MAX", 0)
    blocked = band_coherence(a, b, 10.0, band=(0.2, 0.5), pairs="all", method="fast",
                             workers=1)
    np.testing.assert_allclose(blocked, one, rtol=0, atol=1e-13)


# ---------------------------------------------------------------------------------------------
# Known cases
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("convention", ["grinsted", "pycwt"])
def test_identical_signals_have_coherence_one(convention):
    """Cauchy-Schwarz equality: a signal with itself has R2 = 1 in every cell."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal(3000)
    c = wavelet_coherence(x, x, 10.0, convention=convention)
    np.testing.assert_allclose(c.coherence, 1.0, rtol=0, atol=1e-12)
    for method in ("fast", "exact"):
        v = band_coherence(x, x, 10.0, band=(0.2, 0.5), convention=convention, method=method)
        assert v[0] == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("convention", ["grinsted", "pycwt"])
def test_shared_oscillation_in_band_is_detected(convention):
    """A shared 0.3 Hz oscillation (any phase) gives band coherence > 0.8 in 0.2-0.5 Hz;
    independent noise stays low; a strong shared 2 Hz oscillation, far outside the band,
    moves the band values by less than 0.01."""
    rng = np.random.default_rng(11)
    n, sf = 3000, 10.0
    t = np.arange(n) / sf
    na, nb = rng.standard_normal((4, n)), rng.standard_normal((4, n))
    phase = rng.uniform(0, 2 * np.pi, (4, 1))
    a = na + 2 * np.sin(2 * np.pi * 0.3 * t)
    b = nb + 2 * np.sin(2 * np.pi * 0.3 * t + phase)
    coupled = band_coherence(a, b, sf, band=(0.2, 0.5), convention=convention)
    assert coupled.min() > 0.8
    independent = band_coherence(na, nb, sf, band=(0.2, 0.5), convention=convention)
    assert independent.max() < 0.45
    out = 2 * np.sin(2 * np.pi * 2.0 * t)
    np.testing.assert_allclose(
        band_coherence(a + out, b + out, sf, band=(0.2, 0.5), convention=convention),
        coupled, atol=0.01)
    np.testing.assert_allclose(
        band_coherence(na + out, nb + out, sf, band=(0.2, 0.5), convention=convention),
        independent, atol=0.01)


def test_phase_shifted_tones_are_coherent_in_the_interior():
    """Two tones of one frequency, any phase, have R2 = 1 far from the edges (analytic: the
    cross-transform is the auto-transform times a constant phase)."""
    n, sf = 4000, 10.0
    t = np.arange(n) / sf
    c = wavelet_coherence(np.sin(2 * np.pi * 0.3 * t), np.sin(2 * np.pi * 0.3 * t + 2.0), sf,
                          fmin=0.2, fmax=0.5)
    np.testing.assert_allclose(c.coherence[:, 1000:3000], 1.0, atol=1e-6)


def test_symmetric_and_invariant():
    """R2(x, y) = R2(y, x); R2 does not change when a signal is scaled or offset."""
    rng = np.random.default_rng(3)
    a, b = _noise_channels(rng, "red_shared", 2, 3000, 10.0)
    ab = band_coherence(a, b, 10.0, band=(0.2, 0.5), pairs="all", method="fast")
    ba = band_coherence(b, a, 10.0, band=(0.2, 0.5), pairs="all", method="fast")
    np.testing.assert_allclose(ab, ba.T, rtol=0, atol=1e-12)
    scaled = band_coherence(3.5 * a + 7.0, b - 2.0, 10.0, band=(0.2, 0.5), pairs="all",
                            method="fast")
    np.testing.assert_allclose(scaled, ab, rtol=0, atol=1e-10)
    c1 = wavelet_coherence(a[0], b[0], 10.0)
    c2 = wavelet_coherence(b[0], a[0], 10.0)
    np.testing.assert_allclose(c1.coherence, c2.coherence, rtol=0, atol=1e-12)


def test_float32_close_to_float64():
    """Single precision keeps band averages within 1e-6 of double precision."""
    rng = np.random.default_rng(4)
    for kind in ("red_shared", "white"):
        a, b = _noise_channels(rng, kind, 3, 3000, 10.0)
        d = band_coherence(a, b, 10.0, band=(0.2, 0.5), pairs="all", method="fast")
        s = band_coherence(a, b, 10.0, band=(0.2, 0.5), pairs="all", method="fast",
                           dtype=np.float32)
        assert s.dtype == np.float64
        np.testing.assert_allclose(s, d, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Real recordings (shared data)
# ---------------------------------------------------------------------------------------------


SNIRF = DATA / "fnirs" / "snirf-samples" / "neuro_run01.snirf"


@pytest.mark.skipif(not SNIRF.exists(), reason=f"shared test data not found at {SNIRF}")
def test_real_fnirs_fast_path_matches_exact():
    """On a real recording (fNIRS/snirf-samples neuro_run01, 20 Hz, 399 s), channel-pair band
    averages of the fast path equal the full-rate computation to 1e-8."""
    mne = pytest.importorskip("mne", reason="MNE is needed to read SNIRF")
    raw = mne.io.read_raw_snirf(SNIRF, preload=True, verbose="error")
    od = mne.preprocessing.nirs.optical_density(raw, verbose="error")
    data = od.get_data()
    a, b = data[[0, 2]], data[[4, 6]]
    sf = od.info["sfreq"]
    exact = band_coherence(a, b, sf, band=(0.1, 0.2), pairs="all", method="exact")
    fast = band_coherence(a, b, sf, band=(0.1, 0.2), pairs="all", method="fast")
    np.testing.assert_allclose(fast, exact, rtol=0, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


def _ok(n: int = 3000) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((2, n))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: band_coherence(_ok(3000), _ok(2999), 10.0), "align them first"),
        (lambda: wavelet_coherence(_ok()[0], _ok(2500)[0], 10.0), "align them first"),
        (lambda: band_coherence(_ok(), _ok(), (10.0, 12.5)), "different sampling rates"),
        (lambda: wavelet_coherence(_ok()[0], _ok()[1], (10.0, 10.0, 5.0)), "sfreq"),
        (lambda: band_coherence(_ok(), _ok(), -1.0), "positive"),
        (lambda: band_coherence(np.r_[_ok()[0, :-1], np.nan][None], _ok()[:1], 10.0),
         "non-finite"),
        (lambda: wavelet_coherence(np.r_[np.inf, _ok()[0, 1:]], _ok()[0], 10.0), "non-finite"),
        (lambda: band_coherence(_ok(10), _ok(10), 10.0), "at least 16"),
        (lambda: band_coherence(np.ones((2, 3000)), _ok(), 10.0), "constant"),
        (lambda: band_coherence(_ok(), _ok(), 10.0, band=(0.2, 6.0)), "2 samples"),
        (lambda: band_coherence(_ok(), _ok(), 10.0, band=(0.001, 0.1)), "cone of influence"),
        (lambda: band_coherence(_ok(), _ok(), 10.0, band=(0.3, 0.2)), "below"),
        (lambda: band_coherence(_ok(), _ok(), 10.0, band=(0.2, 0.2001)), "no wavelet scale"),
        (lambda: band_coherence(_ok(), _ok(), 10.0, band="0.1-0.2"), "band"),
        (lambda: band_coherence(_ok(), _ok(), 10.0, pairs="diagonal"), "unknown pairs"),
        (lambda: band_coherence(_ok(), _ok(), 10.0, pairs=[(0, 1, 2)]), "(i, j)"),
        (lambda: band_coherence(_ok(), _ok(), 10.0, pairs=[]), "(i, j)"),
        (lambda: band_coherence(_ok(), _ok(), 10.0, pairs=[(0, 2)]), "out of range"),
        (lambda: band_coherence(_ok(), _ok(), 10.0, pairs=[(0.5, 1)]), "integer"),
        (lambda: band_coherence(_ok(), _ok(), 10.0, pairs=5), "pairs"),
        (lambda: band_coherence(_ok(), _ok()[:1], 10.0), "same number of channels"),
        (lambda: band_coherence(_ok(), _ok(), 10.0, convention="matlab"), "convention"),
        (lambda: wavelet_coherence(_ok()[0], _ok()[1], 10.0, convention="x"), "convention"),
        (lambda: band_coherence(_ok(), _ok(), 10.0, dtype=np.int32), "dtype"),
        (lambda: band_coherence(_ok(), _ok(), 10.0, method="quick"), "method"),
        (lambda: band_coherence(_ok(), _ok(), 10.0, workers=0), "workers"),
        (lambda: band_coherence(_ok(500), _ok(500), 10.0, band=(0.2, 0.5), method="fast"),
         "fast path does not apply"),
        (lambda: band_coherence(np.zeros((2, 3, 4)), _ok(), 10.0), "2-D"),
        (lambda: band_coherence([["a"] * 20], _ok()[:1], 10.0), "numeric"),
        (lambda: wavelet_coherence(_ok(), _ok(), 10.0), "1-D"),
    ],
)
def test_bad_input_raises_clear_error(call, message):
    """Each bad input raises InputError (a StudyError) whose one-line message says what to do."""
    with pytest.raises(InputError) as info:
        call()
    assert isinstance(info.value, StudyError)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
