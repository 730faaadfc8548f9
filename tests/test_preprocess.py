"""Tests of studymgr.compute.preprocess.

The independent peer is MNE / MNE-NIRS called directly, step by step, in the test: the chain must
give the same numbers (within 1e-12, relative). Real recordings from ../shared/data/fnirs are used
when present (skipped otherwise); synthetic recordings from studymgr.compute.simulate.study
cover every path, and their planted truth (bad channels, systemic signals) checks what the steps
are for.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields, replace
from pathlib import Path

import mne
import numpy as np
import pytest
from mne.preprocessing.nirs import (
    beer_lambert_law,
    optical_density,
    scalp_coupling_index,
    source_detector_distances,
    temporal_derivative_distribution_repair,
)

from studymgr.compute.preprocess import PreprocessConfig, preprocess, sci_quality
from studymgr.compute.simulate.study import simulate_recording_pair
from studymgr.errors import InputError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fnirs"
SAMPLE_1 = DATA / "hypyp-samples" / "sample_1.snirf"
PYSNIRF2 = DATA / "pysnirf2-test" / "v120dev-sub-A_task-test_run-1.snirf"
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason="shared fNIRS test data (../shared/data/fnirs) not present"
)


def _read(path: Path, preload: bool = True) -> mne.io.BaseRaw:
    return mne.io.read_raw_snirf(path, preload=preload, verbose=False)


def _mne_chain(raw, *, sci_threshold=0.5, tddr=True, short_max=0.015, ppf=6.0, l_freq=0.01,
               h_freq=0.5, h_trans=0.2, regress=True):
    """The default chain written out with MNE / MNE-NIRS calls only (the reference)."""
    from mne_nirs.signal_enhancement import short_channel_regression

    od = optical_density(raw)
    sci = scalp_coupling_index(od)
    od.info["bads"] = [n for n, v in zip(od.ch_names, sci, strict=True) if v < sci_threshold]
    if tddr:
        od = temporal_derivative_distribution_repair(od)
    short = [n for n, d in zip(od.ch_names, source_detector_distances(od.info), strict=True)
             if d < short_max]
    if short and regress:
        od = short_channel_regression(od, max_dist=short_max)
    od.drop_channels(short)
    hb = beer_lambert_law(od, ppf=ppf)
    hb.filter(l_freq, h_freq, h_trans_bandwidth=h_trans, verbose=False)
    return hb, sci


def _assert_same(got: mne.io.BaseRaw, want: mne.io.BaseRaw) -> None:
    assert got.ch_names == want.ch_names
    assert got.get_channel_types() == want.get_channel_types()
    assert sorted(got.info["bads"]) == sorted(want.info["bads"])
    a, b = got.get_data(), want.get_data()
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max())


@pytest.fixture(scope="module")
def sim_pair():
    """Therapist recording with short channels, 2 bad pairs and motion; 360 s at 10 Hz."""
    raw, _, truth = simulate_recording_pair(0.5, duration_s=360, sfreq=10.0, n_channels=8,
                                            seed=7, short_channels=True, bad_channels=2,
                                            motion_spikes=3, return_truth=True)
    return raw, truth


# ------------------------------------------------------------------------------------------
# real recordings
# ------------------------------------------------------------------------------------------


@needs_data
def test_real_short_channel_file_matches_mne_step_by_step():
    """pysnirf2 file (15 short pairs): same numbers as MNE/MNE-NIRS by hand; short-channel
    regression runs, changes the data, and the short channels are gone."""
    raw = _read(PYSNIRF2)
    res = preprocess(raw)
    want, sci = _mne_chain(raw)
    _assert_same(res.raw, want)
    np.testing.assert_array_equal(res.sci.to_numpy(), sci)
    assert any(s.startswith("short-channel regression: nearest of 30") for s in res.steps)
    assert len(res.dropped_channels) == 30 and len(res.raw.ch_names) == 72
    assert source_detector_distances(res.raw.info).min() > 0.015
    unregressed, _ = _mne_chain(raw, regress=False)
    assert not np.allclose(res.raw.get_data(), unregressed.get_data())


@needs_data
def test_real_sample_bads_and_input_unchanged():
    """HyPyP sample_1 (100 s): bad channels are exactly MNE's SCI < 0.5 pairs (as hbo/hbr), the
    data equal MNE step by step, and the input Raw is left untouched."""
    raw = _read(SAMPLE_1)
    before = raw.get_data().copy()
    config = PreprocessConfig(l_freq=0.04)  # 100 s cannot hold the 330 s 0.01 Hz FIR filter
    res = preprocess(raw, config)
    want, sci = _mne_chain(raw, l_freq=0.04)
    _assert_same(res.raw, want)
    low_pairs = {n.split()[0] for n, v in zip(raw.ch_names, sci, strict=True) if v < 0.5}
    assert low_pairs  # this recording has poorly coupled optodes
    assert sorted(res.bad_channels) == sorted(f"{p} {c}" for p in low_pairs for c in ("hbo", "hbr"))
    np.testing.assert_array_equal(raw.get_data(), before)
    assert raw.info["bads"] == []
    assert set(raw.get_channel_types()) == {"fnirs_cw_amplitude"}


@needs_data
def test_real_sample_too_short_for_default_high_pass():
    """Default 0.01 Hz high-pass needs ~330 s: a 100 s recording gets a clear InputError."""
    with pytest.raises(InputError, match=r"100\.\d s long .* 0\.01 Hz high-pass .* 330"):
        preprocess(_read(SAMPLE_1))


@needs_data
def test_real_sci_quality_matches_mne():
    """sci_quality: MNE's SCI per channel; usable share = 1 - bad/all; lazy Raw untouched."""
    raw = _read(SAMPLE_1, preload=False)
    q = sci_quality(raw)
    sci = scalp_coupling_index(optical_density(_read(SAMPLE_1)))
    np.testing.assert_array_equal(list(q["sci"].values()), sci)
    n_bad = int((sci < 0.5).sum())
    assert q["usable_share"] == pytest.approx(1 - n_bad / len(sci))
    assert not raw.preload


# ------------------------------------------------------------------------------------------
# synthetic recordings: every path
# ------------------------------------------------------------------------------------------


def test_synthetic_matches_mne_and_finds_planted_bad_channels(sim_pair):
    """Default chain on a simulated recording = MNE by hand; bads = the planted bad pairs."""
    raw, truth = sim_pair
    before = raw.get_data().copy()
    res = preprocess(raw)
    np.testing.assert_array_equal(raw.get_data(), before)  # the input is left as it was
    assert raw.info["bads"] == [] and raw.ch_names[-1] == "S5_D10 850"
    want, _ = _mne_chain(raw)
    _assert_same(res.raw, want)
    planted = {n.split()[0] for n in truth["persons"]["T01"]["bad_channels"]}
    assert {n.split()[0] for n in res.bad_channels} == planted
    assert res.input_kind == "cw_amplitude"
    assert set(res.raw.get_channel_types()) == {"hbo", "hbr"}
    assert len(res.raw.ch_names) == 16  # 8 long pairs; 5 short pairs dropped
    assert np.isfinite(res.raw.get_data()).all()
    assert [s.split(":")[0] for s in res.steps] == [
        "optical density", "scalp coupling index", "motion correction",
        "short-channel regression", "short channels", "Beer-Lambert law", "band-pass",
    ]
    summary = res.summary()
    json.dumps(summary)
    assert summary["config_hash"] == PreprocessConfig().config_hash()
    assert summary["usable_share"] == pytest.approx(12 / 16)


def test_short_channel_regression_removes_planted_systemic_signal(sim_pair):
    """Planted truth: long channels = neural + systemic (Mayer, respiration, cardiac, drift);
    short channels = systemic only. After regression the preprocessed HbO correlates better with
    the planted neural HbO than without it."""
    raw, truth = sim_pair
    cfg = PreprocessConfig(motion_correction=None)
    with_scr = preprocess(raw, cfg).raw
    without = preprocess(raw, replace(cfg, short_channel_regression=False)).raw
    person = truth["persons"]["T01"]
    neural = mne.io.RawArray(0.2e-6 * person["neural"],
                             mne.create_info(len(person["neural"]), 10.0, "misc"), verbose=False)
    neural.filter(0.01, 0.5, h_trans_bandwidth=0.2, picks="all", verbose=False)
    gains = []
    for k, pair in enumerate(truth["pairs"][: len(person["neural"])]):
        name = f"{pair} hbo"
        if name in with_scr.info["bads"]:
            continue
        ref = neural.get_data()[k]
        r_with = np.corrcoef(with_scr.get_data(picks=[name])[0], ref)[0, 1]
        r_without = np.corrcoef(without.get_data(picks=[name])[0], ref)[0, 1]
        gains.append(r_with - r_without)
    assert len(gains) == 6
    assert np.mean(gains) > 0.05 and min(gains) > 0


def test_tddr_removes_planted_motion(sim_pair):
    """TDDR (MNE) undoes most of the planted head movements: within +-5 s of each planted motion
    event, the residual (preprocessed - planted HbO) of the good channels varies far less with
    TDDR than without (short-channel regression off, so it cannot remove the motion instead)."""
    raw, truth = sim_pair
    person = truth["persons"]["T01"]
    base = PreprocessConfig(l_freq=None, h_freq=None, short_channel_regression=False)
    spread = {}
    for mc in ("tddr", None):
        res = preprocess(raw, replace(base, motion_correction=mc))
        sds = []
        for k, pair in enumerate(truth["pairs"]):
            name = f"{pair} hbo"
            if name not in res.raw.ch_names or name in res.bad_channels:
                continue
            resid = res.raw.get_data(picks=[name])[0] - person["hbo"][k]
            for t0 in person["motion_spikes_s"]:
                sds.append(np.std(resid[int((t0 - 5) * 10): int((t0 + 5) * 10)]))
        spread[mc] = np.mean(sds)
    assert spread["tddr"] < 0.6 * spread[None]
    assert any(s.startswith("band-pass: skipped") for s in res.steps)


def test_planted_coupling_survives_default_chain():
    """End to end: after the default chain (SCI, TDDR, short-channel regression, band-pass) the
    Welch coherence (scipy) of the two people's good HbO channels still rises with the planted
    coupling inside 0.05-0.10 Hz and stays at the independent-noise level at 0.15-0.45 Hz."""
    from scipy.signal import coherence

    in_band, outside = [], []
    for coupling in (0.0, 0.45, 0.9):
        raw_t, raw_p = simulate_recording_pair(coupling, duration_s=400, n_channels=6, seed=5,
                                               short_channels=True, bad_channels=1)
        a, b = preprocess(raw_t).raw, preprocess(raw_p).raw
        good = [n for n in a.ch_names
                if n.endswith("hbo") and n not in a.info["bads"] and n not in b.info["bads"]]
        f, coh = coherence(a.get_data(picks=good), b.get_data(picks=good), fs=10.0, nperseg=512)
        in_band.append(coh[:, (f >= 0.05) & (f <= 0.10)].mean())
        outside.append(coh[:, (f >= 0.15) & (f <= 0.45)].mean())
    assert in_band[0] < in_band[1] < in_band[2]
    assert in_band[2] > 4 * outside[0]
    assert max(outside) - min(outside) < 0.02


def test_optical_density_input_gives_same_result(sim_pair):
    """OD input: the optical-density step is skipped and everything else is identical."""
    raw, _ = sim_pair
    from_cw = preprocess(raw)
    from_od = preprocess(optical_density(raw))
    _assert_same(from_od.raw, from_cw.raw)
    assert from_od.input_kind == "od"
    assert from_od.steps[0] == "optical density: skipped (input is already optical density)"


def test_haemoglobin_input_skips_earlier_steps(sim_pair):
    """Hb input: SCI, TDDR, regression and Beer-Lambert skipped (and said so); short channels
    dropped; band-pass = MNE's filter on the same data."""
    raw, _ = sim_pair
    hb = beer_lambert_law(optical_density(raw))
    res = preprocess(hb)
    want = hb.copy()
    short = [n for n, d in zip(want.ch_names, source_detector_distances(want.info), strict=True)
             if d < 0.015]
    want.drop_channels(short)
    want.filter(0.01, 0.5, h_trans_bandwidth=0.2, verbose=False)
    _assert_same(res.raw, want)
    text = "\n".join(res.steps)
    for step in ("scalp coupling index: skipped", "motion correction: skipped",
                 "short-channel regression: skipped (input is already haemoglobin",
                 "Beer-Lambert law: skipped"):
        assert step in text
    assert res.sci.empty
    with pytest.raises(InputError, match="needs optical density"):
        preprocess(hb, PreprocessConfig(short_channel_regression=True))
    with pytest.raises(InputError, match="not haemoglobin"):
        sci_quality(hb)


def test_short_channel_options(sim_pair):
    """False: skipped but short channels still dropped (unless drop_short_channels=False);
    True without short channels: InputError; 'auto' without: skipped."""
    raw, _ = sim_pair
    res = preprocess(raw, PreprocessConfig(short_channel_regression=False))
    assert "short-channel regression: skipped (short_channel_regression=False)" in res.steps
    assert len(res.raw.ch_names) == 16
    kept = preprocess(raw, PreprocessConfig(drop_short_channels=False))
    assert len(kept.raw.ch_names) == 26 and not kept.dropped_channels
    no_short, _ = simulate_recording_pair(0.2, duration_s=360, n_channels=2, seed=1)
    with pytest.raises(InputError, match="no channel is shorter than 15 mm"):
        preprocess(no_short, PreprocessConfig(short_channel_regression=True))
    res = preprocess(no_short)
    assert "short-channel regression: skipped (no short channels < 15 mm)" in res.steps


def test_all_short_channels_bad_skips_regression(sim_pair):
    """If every short channel is already bad, 'auto' skips the regression and says why."""
    raw, _ = sim_pair
    raw = raw.copy()
    raw.info["bads"] = [n for n, d in zip(raw.ch_names, source_detector_distances(raw.info),
                                          strict=True) if d < 0.015]
    res = preprocess(raw)
    assert "short-channel regression: skipped (all 10 short channels bad)" in res.steps
    with pytest.raises(InputError, match="all 10 short channels are bad"):
        preprocess(raw, PreprocessConfig(short_channel_regression=True))


def test_resample_and_motion_off(sim_pair):
    """Resampling gives the new rate (MNE's resample after the same filter); motion_correction
    None matches MNE's chain without TDDR."""
    raw, _ = sim_pair
    res = preprocess(raw, PreprocessConfig(resample_sfreq=2.0))
    want, _ = _mne_chain(raw)
    want.resample(2.0)
    _assert_same(res.raw, want)
    assert res.steps[-1] == "resample: 10 Hz -> 2 Hz (mne.io.Raw.resample)"
    off = preprocess(raw, PreprocessConfig(motion_correction=None))
    _assert_same(off.raw, _mne_chain(raw, tddr=False)[0])
    assert "motion correction: skipped (motion_correction=None)" in off.steps


def test_existing_bads_are_kept_and_spread_to_pairs(sim_pair):
    """A channel marked bad in the input stays bad, with its other wavelength."""
    raw, _ = sim_pair
    raw = raw.copy()
    raw.info["bads"] = ["S1_D1 760"]
    res = preprocess(raw)
    assert {"S1_D1 hbo", "S1_D1 hbr"} <= set(res.bad_channels)


def test_lazy_raw_is_accepted_and_unchanged(sim_pair, tmp_path):
    """A non-preloaded Raw (SNIRF read lazily) is processed; the caller's object stays lazy."""
    from mne_nirs.io import write_raw_snirf

    raw, _ = sim_pair
    path = tmp_path / "r.snirf"
    write_raw_snirf(raw, str(path))
    lazy = _read(path, preload=False)
    res = preprocess(lazy, verbose="error")
    assert not lazy.preload
    _assert_same(res.raw, preprocess(raw).raw)
    assert sci_quality(lazy) == sci_quality(optical_density(raw))  # OD input: same SCI


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------


def test_not_fnirs_refused():
    """EEG and non-Raw input raise InputError naming what was found."""
    eeg = mne.io.RawArray(np.zeros((2, 100)), mne.create_info(["a", "b"], 10.0, "eeg"),
                          verbose=False)
    with pytest.raises(InputError, match=r"not an fNIRS recording.*found: eeg"):
        preprocess(eeg)
    with pytest.raises(InputError, match="expected an MNE Raw"):
        preprocess(np.zeros((2, 100)))
    with pytest.raises(InputError, match="config must be a PreprocessConfig"):
        preprocess(eeg, {"l_freq": 0.01})


def test_malformed_fnirs_refused_and_extra_channels_dropped(sim_pair):
    """Mixed data kinds and MNE-invalid channel names give one-line InputErrors; non-fNIRS
    channels are dropped (and said so) without changing the result."""
    mixed = mne.io.RawArray(np.ones((2, 4000)), mne.create_info(
        ["S1_D1 760", "S1_D1 850"], 10.0, ["fnirs_cw_amplitude", "fnirs_od"]), verbose=False)
    with pytest.raises(InputError, match="mixes fNIRS data kinds"):
        preprocess(mixed)
    rng = np.random.default_rng(0)
    unnamed = mne.io.RawArray(1 + 0.01 * rng.random((2, 4000)), mne.create_info(
        ["x", "y"], 10.0, "fnirs_cw_amplitude"), verbose=False)
    with pytest.raises(InputError, match=r"2 fNIRS channel names do not follow MNE's convention"):
        preprocess(unnamed)
    lonely = mne.io.RawArray(np.ones((3, 4000)), mne.create_info(
        ["S1_D1 760", "S1_D1 850", "S2_D1 760"], 10.0, "fnirs_od"), verbose=False)
    with pytest.raises(InputError, match="same two or more wavelengths"):
        preprocess(lonely)
    raw, _ = sim_pair
    extra = raw.copy().add_channels([mne.io.RawArray(
        np.zeros((1, raw.n_times)), mne.create_info(["resp"], raw.info["sfreq"], "misc"),
        verbose=False)], force_update_info=True)
    res = preprocess(extra)
    assert res.steps[0] == "dropped 1 non-fNIRS channels" and "resp" in res.dropped_channels
    _assert_same(res.raw, preprocess(raw).raw)


def test_all_channels_bad_refused():
    """Every long pair planted bad: 'all N channels ... nothing to analyse'."""
    raw, _ = simulate_recording_pair(0.5, duration_s=360, n_channels=3, seed=2, bad_channels=3)
    with pytest.raises(InputError, match=r"all 6 channels have scalp coupling index below 0\.5: "
                                         r"nothing to analyse"):
        preprocess(raw)
    marked = simulate_recording_pair(0.5, duration_s=360, n_channels=1, seed=2)[0]
    marked.info["bads"] = ["S1_D1 760"]
    with pytest.raises(InputError, match="all 2 channels are marked bad in the input"):
        preprocess(marked, PreprocessConfig(sci_threshold=None))
    two = simulate_recording_pair(0.5, duration_s=360, n_channels=2, seed=4, bad_channels=1)[0]
    sci = sci_quality(two)["sci"]
    good_pair = next(n for n, v in sci.items() if v >= 0.5).split()[0]
    two.info["bads"] = [f"{good_pair} 760", f"{good_pair} 850"]
    with pytest.raises(InputError, match=r"all 4 channels are bad \(2 with scalp coupling index"):
        preprocess(two)


def test_low_sampling_rate_and_nyquist_checks():
    """Too slow for the SCI cardiac band, or h_freq above Nyquist: clear errors with the fix."""
    raw, _ = simulate_recording_pair(0.5, duration_s=400, n_channels=2, seed=3)
    slow = raw.copy().resample(3.0, verbose=False)
    with pytest.raises(InputError, match="sci_threshold=None"):
        preprocess(slow)
    res = preprocess(slow, PreprocessConfig(sci_threshold=None, h_trans_bandwidth="auto"))
    assert "scalp coupling index: skipped (sci_threshold=None)" in res.steps
    slower = raw.copy().resample(0.8, verbose=False)
    with pytest.raises(InputError, match="Nyquist"):
        preprocess(slower, PreprocessConfig(sci_threshold=None))
    with pytest.raises(InputError, match="resample to more than 1 Hz"):
        preprocess(raw, PreprocessConfig(resample_sfreq=0.8))
    edge = raw.copy().resample(1.3, verbose=False)  # 0.5 + 0.2 Hz > Nyquist 0.65 Hz
    with pytest.raises(InputError, match="h_trans_bandwidth"):
        preprocess(edge, PreprocessConfig(sci_threshold=None))
    short = raw.copy().crop(0, 5)
    with pytest.raises(InputError, match="scalp coupling index filter needs"):
        preprocess(short, PreprocessConfig(l_freq=None, h_freq=None))
    with pytest.raises(InputError, match="scalp coupling index filter needs"):
        sci_quality(short)


def test_nan_and_missing_positions_refused(sim_pair):
    """NaN samples and optodes without positions are refused before MNE fails obscurely."""
    raw, _ = sim_pair
    bad = raw.copy()
    bad._data[0, 10] = np.nan
    with pytest.raises(InputError, match="NaN"):
        preprocess(bad)
    nopos = raw.copy()
    for ch in nopos.info["chs"]:
        ch["loc"][3:9] = 0.0
    with pytest.raises(InputError, match="no source-detector distance"):
        preprocess(nopos, PreprocessConfig(short_channel_regression=False))


# ------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------


def test_config_hash_is_sha256_of_canonical_json_and_stable():
    """Hash = sha256 of sorted compact JSON (computed here with hashlib); equal configs, equal
    hashes; to_dict round-trips."""
    cfg = PreprocessConfig()
    d = cfg.to_dict()
    assert list(d) == sorted(d)
    canonical = json.dumps(d, sort_keys=True, separators=(",", ":")).encode()
    assert cfg.config_hash() == hashlib.sha256(canonical).hexdigest()
    assert PreprocessConfig().config_hash() == cfg.config_hash()
    assert PreprocessConfig(**d).config_hash() == cfg.config_hash()
    two = PreprocessConfig(ppf=[6.0, 5.5])
    assert two.ppf == (6.0, 5.5)
    assert PreprocessConfig(**two.to_dict()).config_hash() == two.config_hash()


ALTERNATIVES = {
    "sci_threshold": 0.6, "sci_l_freq": 0.6, "sci_h_freq": 1.6, "motion_correction": None,
    "ppf": 0.1, "short_channel_regression": False, "short_channel_max_distance_m": 0.01,
    "drop_short_channels": False, "l_freq": 0.02, "h_freq": 0.4, "l_trans_bandwidth": 0.005,
    "h_trans_bandwidth": "auto", "resample_sfreq": 4.0,
}


def test_config_hash_changes_with_every_parameter():
    """Each field changed on its own gives a different hash (and the table covers every field)."""
    assert set(ALTERNATIVES) == {f.name for f in fields(PreprocessConfig)}
    base = PreprocessConfig().config_hash()
    hashes = {name: replace(PreprocessConfig(), **{name: value}).config_hash()
              for name, value in ALTERNATIVES.items()}
    assert base not in hashes.values()
    assert len(set(hashes.values())) == len(hashes)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"motion_correction": "pca"}, "motion_correction"),
        ({"sci_threshold": 2.0}, "sci_threshold"),
        ({"l_freq": 0.6, "h_freq": 0.5}, "l_freq"),
        ({"ppf": 0.0}, "ppf"),
        ({"short_channel_regression": "yes"}, "short_channel_regression"),
        ({"short_channel_max_distance_m": -1}, "short_channel_max_distance_m"),
        ({"resample_sfreq": 0}, "resample_sfreq"),
        ({"sci_l_freq": 2.0}, "sci_l_freq"),
    ],
)
def test_config_validation(kwargs, message):
    """Impossible settings are refused when the config is made."""
    with pytest.raises(InputError, match=message):
        PreprocessConfig(**kwargs)
