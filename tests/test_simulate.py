"""Tests of studymgr.compute.simulate.study: synthetic fNIRS pairs and studies with planted effects.

Independent peers used: MNE's SNIRF reader (read-back), MNE's optical_density + beer_lambert_law
(recovery of the planted concentrations), MNE's scalp_coupling_index (planted bad channels),
scipy.signal.coherence (Welch; the planted band-limited coupling), scipy.stats.spearmanr and
ordinary least squares (the planted study-level relations).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest
from mne.preprocessing.nirs import (
    beer_lambert_law,
    optical_density,
    scalp_coupling_index,
    source_detector_distances,
)
from scipy.signal import coherence
from scipy.stats import spearmanr

from studymgr.compute.simulate.study import (
    INSTRUMENTS,
    Design,
    Effects,
    Recording,
    simulate_recording_pair,
    simulate_study,
    simulate_synchrony_table,
)
from studymgr.errors import ConflictError, InputError

ITEMS = [f"i{j}" for j in range(1, 13)]
CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")


@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    """3 dyads x 3 sessions (sessions 1 and 3 scanned), 60 s recordings: quick to write."""
    out = tmp_path_factory.mktemp("sim") / "study"
    return simulate_study(out, n_dyads=3, n_sessions=3, scanned=(1, 3), duration_s=60.0,
                          n_channels=4, seed=11)


# ------------------------------------------------------------------------------------------
# recordings
# ------------------------------------------------------------------------------------------


def test_pair_is_mne_fnirs_raw_intensity_with_montage():
    """Channel names/types/positions follow MNE's fNIRS conventions (checked with MNE itself)."""
    raw_t, raw_p = simulate_recording_pair(0.5, duration_s=60, sfreq=8.0, n_channels=8, seed=0,
                                           short_channels=True)
    for raw in (raw_t, raw_p):
        assert raw.info["sfreq"] == 8.0
        assert raw.n_times == 480
        assert set(raw.get_channel_types()) == {"fnirs_cw_amplitude"}
        assert raw.ch_names[:2] == ["S1_D1 760", "S1_D1 850"]
        assert len(raw.ch_names) == 2 * (8 + 5)  # 8 long pairs + one short pair per source
        dist = source_detector_distances(raw.info)
        long_d, short_d = dist[dist > 0.015], dist[dist < 0.015]
        assert len(long_d) == 16 and len(short_d) == 10
        np.testing.assert_allclose(long_d, 0.030, atol=0.001)  # ~30 mm on the head sphere
        np.testing.assert_allclose(short_d, 0.008, atol=1e-9)
        assert np.all(raw.get_data() > 0)  # light intensity
    assert raw_t.info["subject_info"]["his_id"] == "T01"
    assert raw_p.info["subject_info"]["his_id"] == "P01"


def test_snirf_written_reads_back_identically(tmp_path):
    """write_raw_snirf output read by mne.io.read_raw_snirf gives the same data and metadata."""
    from mne_nirs.io import write_raw_snirf

    raw, _ = simulate_recording_pair(0.3, duration_s=60, n_channels=3, seed=4, short_channels=True,
                                     bad_channels=1)
    path = tmp_path / "x.snirf"
    write_raw_snirf(raw, str(path))
    back = mne.io.read_raw_snirf(path, preload=True, verbose=False)
    assert back.ch_names == raw.ch_names
    assert back.get_channel_types() == raw.get_channel_types()
    assert back.info["sfreq"] == pytest.approx(raw.info["sfreq"], rel=1e-9)
    np.testing.assert_allclose(back.get_data(), raw.get_data(), rtol=1e-12)
    np.testing.assert_allclose(source_detector_distances(back.info),
                               source_detector_distances(raw.info), rtol=1e-9)
    assert back.info["meas_date"] == raw.info["meas_date"]
    assert back.info["subject_info"]["his_id"] == "T01"


def test_deterministic_per_seed():
    """Same seed, same data; another seed, other data."""
    a = simulate_recording_pair(0.4, duration_s=60, n_channels=2, seed=5)
    b = simulate_recording_pair(0.4, duration_s=60, n_channels=2, seed=5)
    c = simulate_recording_pair(0.4, duration_s=60, n_channels=2, seed=6)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.get_data(), y.get_data())
    assert not np.allclose(a[0].get_data(), c[0].get_data())


def test_mne_recovers_planted_concentrations_exactly():
    """Noise-free intensity -> MNE optical_density + beer_lambert_law = planted HbO/HbR.

    MNE's optical density is relative to each channel's mean intensity, so the recovered
    concentrations equal the planted ones up to one constant per channel.
    """
    raw, _, truth = simulate_recording_pair(0.5, duration_s=60, n_channels=4, seed=2,
                                            short_channels=True, motion_spikes=0,
                                            measurement_noise=0.0, return_truth=True)
    hb = beer_lambert_law(optical_density(raw), ppf=6.0)
    person = truth["persons"]["T01"]
    for k, pair in enumerate(truth["pairs"]):
        for chroma in ("hbo", "hbr"):
            got = hb.get_data(picks=[f"{pair} {chroma}"])[0]
            want = person[chroma][k]
            scale = np.abs(want - want.mean()).max()
            np.testing.assert_allclose(got - got.mean(), want - want.mean(), rtol=0,
                                       atol=1e-9 * scale)


def test_default_noise_keeps_recovery_close():
    """With measurement noise, recovered HbO still tracks the planted HbO closely (r > 0.98)."""
    raw, _, truth = simulate_recording_pair(0.5, duration_s=120, n_channels=4, seed=3,
                                            motion_spikes=0, return_truth=True)
    hbo = beer_lambert_law(optical_density(raw)).get_data(picks="hbo")
    for k in range(4):
        assert np.corrcoef(hbo[k], truth["persons"]["T01"]["hbo"][k])[0, 1] > 0.98


def test_planted_bad_channels_have_low_scalp_coupling_index():
    """MNE's SCI is < 0.5 exactly on the planted bad pairs and high elsewhere."""
    raw, _, truth = simulate_recording_pair(0.5, duration_s=120, n_channels=8, seed=9,
                                            bad_channels=3, short_channels=True,
                                            return_truth=True)
    sci = scalp_coupling_index(optical_density(raw))
    bad = set(truth["persons"]["T01"]["bad_channels"])
    assert len(bad) == 6
    low = {n for n, v in zip(raw.ch_names, sci, strict=True) if v < 0.5}
    assert low == bad
    good = [v for n, v in zip(raw.ch_names, sci, strict=True) if n not in bad]
    assert min(good) > 0.75


def test_shared_component_has_no_power_outside_band():
    """The planted shared component is band-limited: its spectrum is zero outside the band."""
    _, _, truth = simulate_recording_pair(0.7, duration_s=200, sfreq=10.0, n_channels=2, seed=1,
                                          band=(0.05, 0.10), return_truth=True)
    spec = np.abs(np.fft.rfft(truth["shared"], axis=-1)) ** 2
    freqs = np.fft.rfftfreq(truth["shared"].shape[-1], 0.1)
    outside = (freqs < 0.05) | (freqs > 0.10)
    assert spec[:, outside].sum() < 1e-20 * spec.sum()


def _band_coherence(coupling: float) -> tuple[float, float]:
    raw_t, raw_p = simulate_recording_pair(coupling, duration_s=600, sfreq=10.0, n_channels=8,
                                           seed=21, motion_spikes=0)
    x = beer_lambert_law(optical_density(raw_t)).get_data(picks="hbo")
    y = beer_lambert_law(optical_density(raw_p)).get_data(picks="hbo")
    f, coh = coherence(x, y, fs=10.0, nperseg=512, detrend="linear")
    in_band = (f >= 0.05) & (f <= 0.10)
    outside = (f >= 0.15) & (f <= 0.45)  # >= 2.5 frequency bins away from the band edges
    return float(coh[:, in_band].mean()), float(coh[:, outside].mean())


def test_planted_coupling_measured_by_welch_coherence_only_in_band():
    """scipy.signal.coherence (Welch) on recovered HbO: the in-band coherence rises with the
    coupling parameter; outside the band it stays at the level of coupling 0 (independent noise,
    bias ~1/number of Welch segments ~ 0.05)."""
    levels = [0.0, 0.3, 0.6, 0.9]
    results = [_band_coherence(c) for c in levels]
    in_band = [r[0] for r in results]
    outside = [r[1] for r in results]
    assert all(a < b for a, b in zip(in_band, in_band[1:], strict=False)), in_band
    assert in_band[-1] > 0.35 and in_band[-1] > 5 * outside[0]
    assert in_band[0] < 0.12  # coupling 0: no more than the independent-noise level
    for value in outside:
        assert abs(value - outside[0]) < 0.01
        assert value < 0.1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"coupling": -0.1}, "coupling must be >= 0"),
        ({"coupling": 1.5}, "coupling must be <= 1"),
        ({"coupling": float("nan")}, "finite"),
        ({"coupling": 0.5, "sfreq": 2.0}, "sfreq"),
        ({"coupling": 0.5, "n_channels": 0}, "n_channels"),
        ({"coupling": 0.5, "bad_channels": 9, "n_channels": 8}, "bad_channels"),
        ({"coupling": 0.5, "band": (0.1, 0.05)}, "band"),
        ({"coupling": 0.5, "duration_s": 10.0}, "duration_s"),
        ({"coupling": 0.5, "seed": -1}, "seed"),
        ({"coupling": "strong"}, "coupling must be a number"),
        ({"coupling": 0.5, "meas_date": "2025-01-01"}, "meas_date"),
        ({"coupling": 0.5, "subjects": ("T01",)}, "subjects"),
        ({"coupling": 0.5, "measurement_noise": -1.0}, "measurement_noise"),
    ],
)
def test_pair_bad_inputs(kwargs, message):
    """Out-of-range parameters raise InputError with a message naming the parameter."""
    with pytest.raises(InputError, match=message):
        simulate_recording_pair(**kwargs)


# ------------------------------------------------------------------------------------------
# study on disk
# ------------------------------------------------------------------------------------------


def test_study_layout_and_truth(small_study):
    """Files exist where documented; truth.json agrees with what was written."""
    st = small_study
    truth = json.loads(st.truth_path.read_text())
    assert truth["seed"] == 11
    assert truth["parameters"]["scanned"] == [1, 3]
    assert [d["therapist"] for d in truth["dyads"]] == ["T01"] * 3
    assert [d["patient"] for d in truth["dyads"]] == ["P01", "P02", "P03"]
    assert len(truth["sessions"]) == 9
    # 3 dyads x 2 scanned sessions x 2 people
    assert len(st.recordings) == 12 and len(truth["recordings"]) == 12
    for rec in truth["recordings"]:
        assert (st.out_dir / rec["path"]).is_file()
        assert rec["session"] in (1, 3)
        parts = rec["path"].split("/")
        assert parts[1] == f"sub-{rec['person']}" and parts[2] == f"ses-{rec['session']}"
        if rec["role"] == "patient":
            assert parts[-1] == f"sub-{rec['person']}_ses-{rec['session']}_task-therapy_nirs.snirf"
        else:  # the shared therapist's files are told apart by the dyad
            assert parts[-1].endswith(f"_acq-{rec['dyad']}_nirs.snirf")
    for code in [p["person"] for p in truth["people"]] + [d["dyad"] for d in truth["dyads"]]:
        assert CODE.fullmatch(code)
    couplings = {(s["dyad"], s["session"]): s["coupling"] for s in truth["sessions"]}
    table = st.sessions.set_index(["dyad", "session"])["coupling"]
    for key, value in couplings.items():
        assert table[key] == pytest.approx(value, rel=1e-12)
        assert 0.0 <= value <= 1.0


def test_study_recordings_read_back(small_study):
    """Every SNIRF file reads with MNE: raw intensity, 4 pairs x 2 wavelengths, 10 Hz, 60 s, the
    person's code as subject ID and the session date as measurement date."""
    st = small_study
    dates = st.sessions.set_index(["dyad", "session"])["date"]
    for rec in st.recordings.itertuples():
        raw = mne.io.read_raw_snirf(st.out_dir / rec.path, preload=True, verbose=False)
        assert set(raw.get_channel_types()) == {"fnirs_cw_amplitude"}
        assert len(raw.ch_names) == 8
        assert raw.info["sfreq"] == pytest.approx(10.0)
        assert raw.n_times == 600
        assert raw.info["subject_info"]["his_id"] == rec.person
        assert raw.info["meas_date"].date().isoformat() == dates[(rec.dyad, rec.session)]


def test_study_deterministic(small_study, tmp_path):
    """Same seed: byte-identical files."""
    again = simulate_study(tmp_path / "again", n_dyads=3, n_sessions=3, scanned=(1, 3),
                           duration_s=60.0, n_channels=4, seed=11)
    assert again.questionnaires_path.read_bytes() == small_study.questionnaires_path.read_bytes()
    assert again.truth_path.read_bytes() == small_study.truth_path.read_bytes()
    for rel in small_study.recordings["path"]:
        assert (again.out_dir / rel).read_bytes() == (small_study.out_dir / rel).read_bytes()


def test_questionnaire_csv_valid(small_study):
    """One row per response; item counts and values within each instrument's range."""
    q = pd.read_csv(small_study.questionnaires_path)
    assert list(q.columns) == ["dyad", "session", "role", "timing", "instrument", *ITEMS]
    assert len(q) == 3 * 3 * 6  # every session (scanned or not) has 6 responses
    assert not q.duplicated(["dyad", "session", "role", "timing", "instrument"]).any()
    assert set(q["role"]) == {"patient", "therapist"}
    assert set(q["timing"]) == {"pre", "post"}
    for name, spec in INSTRUMENTS.items():
        rows = q[q["instrument"] == name]
        assert len(rows) > 0
        filled = rows[ITEMS[: spec["n_items"]]]
        assert filled.notna().all().all()
        assert rows[ITEMS[spec["n_items"]:]].isna().all().all()
        values = filled.to_numpy()
        assert np.all(values == np.round(values))
        assert values.min() >= spec["min"] and values.max() <= spec["max"]


def test_questionnaires_fit_builtin_instrument_definitions(small_study):
    """Every response names a built-in instrument (schemas/instruments/*.json, written
    independently of the simulator), a role and timing it allows, exactly its items,
    and values within each item's min..max."""
    folder = Path(__file__).resolve().parents[1] / "schemas" / "instruments"
    if not folder.is_dir():
        pytest.skip("built-in instrument definitions (schemas/instruments) not present")
    defs = {d["name"]: d for d in (json.loads(f.read_text()) for f in folder.glob("*.json"))}
    q = small_study.questionnaires
    assert set(q["role"]) == {"patient", "therapist"}
    for row in q.itertuples(index=False):
        spec = defs[row.instrument]
        assert row.role in spec["roles"], (row.instrument, row.role)
        assert row.timing in spec["timings"], (row.instrument, row.timing)
        items = spec["items"]
        values = [getattr(row, f"i{j}") for j in range(1, 13)]
        assert all(pd.notna(v) for v in values[: len(items)])
        assert all(pd.isna(v) for v in values[len(items):])
        for item, value in zip(items, values, strict=False):
            assert item["min"] <= value <= item["max"], (row.instrument, item["id"], value)


def test_questionnaires_carry_planted_relations(tmp_path):
    """Spearman (scipy) across dyad x session: symptom scores fall as coupling rises, wellbeing
    and session quality rise; with alliance_effect > 0 alliance rises too."""

    def rho(study, instrument, role="patient"):
        q = study.questionnaires
        rows = q[(q["instrument"] == instrument) & (q["role"] == role)]
        score = rows[ITEMS].sum(axis=1, skipna=True).to_numpy(float)
        merged = rows[["dyad", "session"]].merge(study.sessions, on=["dyad", "session"])
        return spearmanr(score, merged["coupling"])

    st = simulate_study(tmp_path / "a", scanned=(1,), n_channels=1, duration_s=40.0, seed=0)
    for instrument in ("gad7", "state-test-anxiety"):
        res = rho(st, instrument)
        assert res.statistic < 0 and res.pvalue < 0.05, (instrument, res)
    for instrument in ("who5", "srs"):
        assert rho(st, instrument).statistic > 0
    allied = simulate_study(tmp_path / "b", scanned=(1,), n_channels=1, duration_s=40.0, seed=0,
                            alliance_effect=4.0)
    res = rho(allied, "wai-sr")
    assert res.statistic > 0.3 and res.pvalue < 0.05


def test_study_without_shared_therapist(tmp_path):
    """One therapist per dyad: codes T01..Tn, plain sub-<person>_ses-<n> file names."""
    st = simulate_study(tmp_path / "s", n_dyads=2, n_sessions=1, shared_therapist=False,
                        duration_s=40.0, n_channels=1, seed=1)
    assert sorted(st.recordings["person"]) == ["P01", "P02", "T01", "T02"]
    assert not st.recordings["path"].str.contains("acq-").any()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_dyads": 0}, InputError, "n_dyads"),
        ({"n_sessions": 0}, InputError, "n_sessions"),
        ({"scanned": (1, 7)}, InputError, "do not exist"),
        ({"baseline_coupling": 1.2}, InputError, "baseline_coupling"),
        ({"start_date": "2025-02-30"}, InputError, "start_date"),
        ({"sfreq": 1.0}, InputError, "sfreq"),
    ],
)
def test_study_bad_inputs(tmp_path, kwargs, error, message):
    """Bad parameters are refused before anything is written."""
    with pytest.raises(error, match=message):
        simulate_study(tmp_path / "s", **kwargs)
    assert not (tmp_path / "s").exists()


def test_study_refuses_non_empty_folder(tmp_path):
    """An existing non-empty folder is not overwritten silently; a file is not a folder;
    scanned must be a list of numbers."""
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(ConflictError, match="not empty"):
        simulate_study(tmp_path, n_dyads=1, n_sessions=1)
    with pytest.raises(InputError, match="not a folder"):
        simulate_study(tmp_path / "keep.txt", n_dyads=1, n_sessions=1)
    with pytest.raises(InputError, match="scanned must be a list"):
        simulate_study(tmp_path / "new", scanned=3)


# ------------------------------------------------------------------------------------------
# model-only table
# ------------------------------------------------------------------------------------------


def test_synchrony_table_matches_study(small_study):
    """Same seed and parameters: the model-only table has the study's coupling and outcomes."""
    table = simulate_synchrony_table(n_dyads=3, n_sessions=3, scanned=(1, 3), seed=11)
    cols = ["coupling", "symptoms", "wellbeing", "session_quality", "alliance"]
    np.testing.assert_allclose(table[cols].to_numpy(), small_study.sessions[cols].to_numpy(),
                               rtol=1e-12)
    assert table.loc[table["session"] == 2, "synchrony"].isna().all()
    assert table.loc[table["session"] != 2, "synchrony"].notna().all()


def test_synchrony_table_recovers_planted_parameters():
    """With many dyads, least squares (numpy.polyfit) recovers the planted growth, symptom slope
    and a null alliance effect; synchrony = coupling + noise of the planted SD."""
    table = simulate_synchrony_table(n_dyads=99, n_sessions=6, growth=0.05,
                                     baseline_coupling=0.3, symptom_slope=-2.0,
                                     alliance_effect=0.0, synchrony_noise_sd=0.05, seed=3)
    growth = np.polyfit(table["session"], table["coupling"], 1)[0]
    assert growth == pytest.approx(0.05, abs=0.005)
    assert np.polyfit(table["coupling"], table["symptoms"], 1)[0] == pytest.approx(-2.0, abs=0.35)
    assert abs(np.polyfit(table["coupling"], table["alliance"], 1)[0]) < 0.35
    assert np.std(table["synchrony"] - table["coupling"]) == pytest.approx(0.05, rel=0.1)


def test_synchrony_table_bad_inputs():
    """Zero dyads, negative SDs and bad seeds are refused."""
    with pytest.raises(InputError, match="n_dyads"):
        simulate_synchrony_table(n_dyads=0)
    with pytest.raises(InputError, match="synchrony_noise_sd"):
        simulate_synchrony_table(synchrony_noise_sd=-1.0)
    with pytest.raises(InputError, match="seed"):
        simulate_synchrony_table(seed=-3)


def test_simulated_rater_marks_agree_on_the_true_moments():
    """Each rater's marks lie within the jitter of a true moment (at most one stray mark each);
    the pure agreement (tolerance 30 s, 2 raters) recovers every true moment with its label,
    compared with the truth the simulator returns; bad arguments are refused."""
    from studymgr.compute.events.agreement import rater_agreement
    from studymgr.compute.simulate.study import simulate_rater_marks

    for seed in range(5):
        marks = simulate_rater_marks(360.0, seed=seed)
        truth = marks.attrs["truth"]
        assert list(truth["label"]) == ["MOI", "MONI", "MOI", "MONI", "MOI", "MONI", "MOI"]
        assert np.allclose(np.diff(truth["onset"]), 280 / 6)
        for _rater, own in marks.groupby("rater"):
            near = [np.min(np.abs(truth["onset"] - t)) <= 6.0 for t in own["onset"]]
            assert sum(not n for n in near) <= 1
        found = rater_agreement(marks.rename(columns={"onset": "onset_s",
                                                      "duration": "duration_s"}),
                                duration_s=360.0, tolerance_s=30.0).moments
        for onset, label in zip(truth["onset"], truth["label"], strict=True):
            assert any(lab == label and abs(t - onset) <= 6.0 for t, lab in
                       zip(found["onset_s"], found["label"], strict=True)), (seed, onset)
    with pytest.raises(InputError, match="no room for moments"):
        simulate_rater_marks(60.0)
    with pytest.raises(InputError, match="at least one moment"):
        simulate_rater_marks(360.0, moi=0, moni=0)


# ------------------------------------------------------------------------------------------
# parameter groups (Design, Effects, Recording) and the keyword arguments that build them
# ------------------------------------------------------------------------------------------


def test_groups_and_keyword_arguments_give_the_same_table():
    """The grouped form, the flat keywords of earlier versions and a mix of both agree."""
    grouped = simulate_synchrony_table(design=Design(n_dyads=4, n_sessions=3, scanned=(1, 3)),
                                       effects=Effects(growth=0.05, alliance_effect=0.5),
                                       seed=2)
    flat = simulate_synchrony_table(n_dyads=4, n_sessions=3, scanned=[3, 1, 3], growth=0.05,
                                    alliance_effect=0.5, seed=2)
    mixed = simulate_synchrony_table(design=Design(n_dyads=4), effects=Effects(growth=0.05),
                                     n_sessions=3, scanned=(1, 3), alliance_effect=0.5, seed=2)
    pd.testing.assert_frame_equal(grouped, flat)
    pd.testing.assert_frame_equal(grouped, mixed)
    with pytest.raises(TypeError, match="unexpected keyword argument 'n_dyad'"):
        simulate_synchrony_table(n_dyad=3)
    with pytest.raises(InputError, match="design must be a Design"):
        simulate_synchrony_table(design={"n_dyads": 3})


def test_recording_group_and_keywords_give_the_same_pair():
    kwargs = {"duration_s": 40.0, "sfreq": 8.0, "n_channels": 2, "motion_spikes": 1}
    flat = simulate_recording_pair(0.3, seed=5, **kwargs)
    grouped = simulate_recording_pair(0.3, recording=Recording(**kwargs), seed=5)
    mixed = simulate_recording_pair(0.3, recording=Recording(duration_s=40.0, sfreq=8.0),
                                    n_channels=2, motion_spikes=1, seed=5)
    for other in (grouped, mixed):
        for a, b in zip(flat, other, strict=True):
            np.testing.assert_array_equal(a.get_data(), b.get_data())
    with pytest.raises(TypeError, match="growth"):
        simulate_recording_pair(0.3, growth=0.1)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Design(n_dyads=0), "n_dyads"),
    (lambda: Design(n_dyads=True), "n_dyads must be an integer"),
    (lambda: Design(n_sessions=2, scanned=(3,)), "do not exist"),
    (lambda: Design(scanned=3), "scanned must be a list"),
    (lambda: Effects(baseline_coupling=1.5), "baseline_coupling must be <= 1"),
    (lambda: Effects(growth=-2), "growth must be >= -1"),
    (lambda: Effects(coupling_sd_dyad=-0.1), "coupling_sd_dyad must be >= 0"),
    (lambda: Effects(outcome_sd_session=-1), "outcome_sd_session"),
    (lambda: Effects(symptom_slope=float("nan")), "symptom_slope must be finite"),
    (lambda: Effects(alliance_effect="0"), "alliance_effect must be a number"),
    (lambda: Recording(sfreq=2.0), "sfreq"),
    (lambda: Recording(n_channels=37), "n_channels"),
    (lambda: Recording(n_channels=2, bad_channels=3), "bad_channels"),
    (lambda: Recording(band=(0.2, 0.1)), "band"),
    (lambda: Recording(duration_s=10.0), "duration_s >= 40"),
])
def test_parameter_groups_check_their_values(make, message):
    with pytest.raises(InputError, match=message):
        make()


def test_parameter_groups_normalise_their_values():
    design = Design(n_sessions=4, scanned=[3, 1, 3])
    assert design.scanned == (1, 3) and design.scanned_sessions == (1, 3)
    assert Design(n_sessions=3).scanned_sessions == (1, 2, 3)
    assert Design(n_dyads=2).dyads == ["D01", "D02"]
    assert Design(n_sessions=3).as_dict() == {"n_dyads": 8, "n_sessions": 3,
                                              "scanned": [1, 2, 3]}
    effects = Effects(growth=np.int64(1))
    assert type(effects.growth) is float and effects.slope("alliance") == 0.0
    assert list(effects.as_dict()) == [
        "baseline_coupling", "growth", "coupling_sd_dyad", "coupling_sd_growth",
        "coupling_sd_session", "symptom_slope", "wellbeing_slope", "session_quality_slope",
        "alliance_effect", "outcome_sd_dyad", "outcome_sd_session"]
    recording = Recording(short_channels=1, band=[0.05, 0.1], duration_s=60)
    assert recording.short_channels is True and recording.band == (0.05, 0.1)
    assert recording.n_times == 600 and recording.as_dict()["band"] == [0.05, 0.1]


def test_truth_records_every_group_field(small_study):
    """truth.json's parameters hold the design, effects and recording of the study."""
    params = small_study.truth["parameters"]
    for group in (Design(n_dyads=3, n_sessions=3, scanned=(1, 3)), Effects(),
                  Recording(duration_s=60.0, n_channels=4)):
        for key, value in group.as_dict().items():
            assert params[key] == value, key
