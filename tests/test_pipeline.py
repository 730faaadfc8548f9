"""Session synchrony orchestration: alignment, pseudo-dyads, permutation p-values, caching.

Pure pieces are checked against hand computations; the whole pipeline runs on a simulated study
(planted coupling) and on the real recordings in ../shared/data.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from studymgr.errors import InputError
from studymgr.runs.synchrony import (
    PreparedScan,
    SynchronyConfig,
    align,
    pair_synchrony,
    permutation_tests,
    plan_jobs,
    pseudo_partners,
)

T0 = dt.datetime(2025, 3, 3, 10, 0, 0, tzinfo=dt.UTC)


def prepared(scan_id, data, *, sfreq=10.0, start=T0, names=None, bads=()):
    names = names or [f"S{i + 1}_D{i + 1} hbo" for i in range(data.shape[0])]
    hbr = [n.replace("hbo", "hbr") for n in names]
    return PreparedScan(scan_id=scan_id, sha256="0" * 64, sfreq=sfreq, start=start,
                        names={"hbo": names, "hbr": hbr}, data={"hbo": data, "hbr": -data},
                        bads=set(bads), steps=[])


def test_config_validation_and_hash():
    a, b = SynchronyConfig(), SynchronyConfig(band=(0.05, 0.1))
    assert a.config_hash() == b.config_hash()
    assert SynchronyConfig(band=(0.04, 0.1)).config_hash() != a.config_hash()
    assert SynchronyConfig(montage=(("S2_D2", "r"), ("S1_D1", "l"))).montage == (
        ("S1_D1", "l"), ("S2_D2", "r"))
    for bad in ({"band": (0.1, 0.05)}, {"pairs": "some"}, {"convention": "x"},
                {"chromophores": ("oxy",)}, {"max_pseudo": 0}):
        with pytest.raises(InputError):
            SynchronyConfig(**bad)


def test_align_on_start_times_by_hand():
    t = prepared(1, np.zeros((1, 100)))                       # 0 .. 10 s
    p = prepared(2, np.zeros((1, 80)), start=T0 + dt.timedelta(seconds=3))  # 3 .. 11 s
    st, sp, notes = align(t, p, by_time=True)
    assert (st.start, st.stop) == (30, 100) and (sp.start, sp.stop) == (0, 70)
    assert "offset +3.00 s" in notes[0]
    # pseudo pairs are recorded at different times: truncated to the common length
    st, sp, _ = align(t, p, by_time=False)
    assert (st.start, st.stop, sp.start, sp.stop) == (0, 80, 0, 80)
    late = prepared(3, np.zeros((1, 50)), start=T0 + dt.timedelta(seconds=60))
    with pytest.raises(InputError, match="do not overlap"):
        align(t, late, by_time=True)
    undated = prepared(4, np.zeros((1, 60)), start=None)
    st, sp, notes = align(t, undated, by_time=True)
    assert st.stop == 60 and "assumed simultaneous" in notes[0]


def test_permutation_p_values_by_hand():
    rows = [("true", 1.0, 0.50)] + [("pseudo", 1.0, v) for v in (0.1, 0.2, 0.5, 0.6)]
    frame = pd.DataFrame(
        [(pair, 1, 2, "hbo", "session", "all", "all", v) for pair, _, v in rows],
        columns=["pair", "therapist_scan", "patient_scan", "chromophore", "level",
                 "therapist_unit", "patient_unit", "value"])
    tests = permutation_tests(frame)
    row = tests.iloc[0]
    assert row["n_pseudo"] == 4
    assert row["p_value"] == pytest.approx((1 + 2) / (1 + 4))  # 0.5 and 0.6 are >= 0.5
    assert row["pseudo_mean"] == pytest.approx(0.35)
    assert row["pseudo_sd"] == pytest.approx(np.std([0.1, 0.2, 0.5, 0.6], ddof=1))


def _sessions(n_dyads, numbers=(1,)):
    rows, scan = [], 0
    for d in range(1, n_dyads + 1):
        for n in numbers:
            rows.append({"session_id": len(rows) + 1, "dyad": f"D{d:02d}", "number": n,
                         "therapist_scan": scan + 1, "therapist_sha256": f"t{scan + 1}",
                         "patient_scan": scan + 2, "patient_sha256": f"p{scan + 2}"})
            scan += 2
    return pd.DataFrame(rows)


def test_pseudo_partners_are_other_dyads_same_session_number():
    sessions = _sessions(4, numbers=(1, 2))
    row = sessions.iloc[0]  # D01 session 1: therapist scan 1, patient scan 2
    pairs = pseudo_partners(row, sessions, SynchronyConfig())
    same_number = sessions[(sessions["number"] == 1) & (sessions["dyad"] != "D01")]
    expected = {(1, p) for p in same_number["patient_scan"]}
    expected |= {(t, 2) for t in same_number["therapist_scan"]}
    assert set(pairs) == expected and len(pairs) == 2 * 3
    # a seeded subset when there are more than max_pseudo
    few = SynchronyConfig(max_pseudo=3, seed=7)
    first = pseudo_partners(row, sessions, few)
    assert len(first) == 3 and set(first) <= expected
    assert pseudo_partners(row, sessions, few) == first
    jobs = plan_jobs(sessions, SynchronyConfig())
    assert len(jobs) == 8 and jobs[0].input_hashes["therapist"] == "t1"


def _coupled(n, coupling, seed, sfreq=10.0, band=(0.05, 0.10)):
    """Two signals sharing a band-limited component (FFT brick-wall) plus independent noise."""
    rng = np.random.default_rng(seed)
    freqs = np.fft.rfftfreq(n, 1 / sfreq)
    inband = (freqs >= band[0]) & (freqs <= band[1])

    def bandlimited():
        spec = np.fft.rfft(rng.standard_normal(n))
        spec[~inband] = 0
        return np.fft.irfft(spec, n)

    shared = bandlimited()
    x = coupling * shared + (1 - coupling) * bandlimited() + 0.05 * rng.standard_normal(n)
    y = coupling * shared + (1 - coupling) * bandlimited() + 0.05 * rng.standard_normal(n)
    return x, y


def test_pair_synchrony_levels_rois_and_bad_channels():
    n = 3000
    xs, ys = zip(*(_coupled(n, 0.9, seed=i) for i in range(3)), strict=True)
    t = prepared(1, np.array(xs), bads={"S3_D3 hbo"})
    p = prepared(2, np.array(ys))
    config = SynchronyConfig(chromophores=("hbo",),
                             montage=(("S1_D1", "left"), ("S2_D2", "left"), ("S3_D3", "right")))
    frame, notes = pair_synchrony(t, p, config, by_time=True)
    channel = frame[frame["level"] == "channel"]
    assert set(channel["therapist_unit"]) == {"S1_D1", "S2_D2"}  # the bad channel is left out
    assert (channel["therapist_unit"] == channel["patient_unit"]).all()
    roi = frame[frame["level"] == "roi"]
    assert list(roi["therapist_unit"]) == ["left"]
    assert roi["value"].iloc[0] == pytest.approx(channel["value"].mean())
    session = frame[frame["level"] == "session"]["value"].iloc[0]
    assert session == pytest.approx(roi["value"].iloc[0]) and session > 0.7
    allpairs, _ = pair_synchrony(t, p, SynchronyConfig(chromophores=("hbo",), pairs="all"),
                                 by_time=True)
    assert (allpairs["level"] == "channel").sum() == 2 * 3


# -- the whole pipeline on a simulated study -------------------------------------------------------
def build_study(tmp_path, *, n_dyads=3, n_sessions=2, coupling=0.6, growth=0.3, seed=3):
    """A real study with simulated SNIRF recordings imported through the scans API."""
    import studymgr
    from studymgr.compute.simulate.study import simulate_study

    sim = simulate_study(tmp_path / "sim", n_dyads=n_dyads, n_sessions=n_sessions,
                         baseline_coupling=coupling, growth=growth, coupling_sd_dyad=0.0,
                         coupling_sd_growth=0.0, coupling_sd_session=0.0, duration_s=360,
                         sfreq=5.0, n_channels=3, motion_spikes=0, seed=seed)
    study = studymgr.create_study(tmp_path / "study.db", user="tester")
    for dyad, members in sim.recordings.groupby("dyad"):
        roles = dict(zip(members["role"], members["person"], strict=False))
        study.add_dyad(dyad, therapist=roles["therapist"], patient=roles["patient"])
    for row in sim.sessions.itertuples():
        study.add_session(row.dyad, int(row.session), date=str(row.date)[:10])
    for row in sim.recordings.itertuples():
        study.import_scan(row.dyad, int(row.session), row.role, sim.out_dir / row.path)
    return study, sim


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("pipeline")
    import os

    os.environ.setdefault("STUDYMGR_USER", "tester")
    study, sim = build_study(tmp_path)
    summary = study.compute_synchrony()
    yield study, sim, summary
    study.close()


def test_computes_every_session_with_pseudo_dyads(computed):
    study, sim, summary = computed
    assert list(summary["status"]) == ["computed"] * 6
    assert (summary["pseudo_pairs"] == 4).all()  # 2 other dyads x (therapist, patient)
    true = study.synchrony(pair="true", chromophore="hbo")
    assert len(true) == 6 and true["value"].between(0, 1).all()
    pseudo = study.synchrony(pair="pseudo", chromophore="hbo")
    assert len(pseudo) == 6 * 4
    tests = study.synchrony_tests()
    assert len(tests) == 12 and tests["p_value"].between(0, 1).all()
    # the planted coupling (0.9 in session 2 vs 0.6 in session 1) shows in the measured index,
    # and true pairs beat pseudo pairs (which share nothing)
    by_session = true.groupby("session")["value"].mean()
    assert by_session[2] > by_session[1]
    assert true["value"].mean() > pseudo["value"].mean() + 0.05
    run = study.current_run("synchrony", study.session_id("D01", 1))
    assert run is not None and set(run["input_hashes"]) == {"therapist", "patient", "pseudo"}
    stored = study.db.conn.execute("SELECT config, versions FROM analysis_runs LIMIT 1").fetchone()
    assert '"band": [0.05, 0.1]' in stored[0] and '"mne"' in stored[1]


def test_rerun_skips_unchanged_and_recomputes_on_change(computed):
    study, _, _ = computed
    before = study.synchrony(level="channel")
    again = study.compute_synchrony()
    assert set(again["status"]) == {"up to date"}
    pd.testing.assert_frame_equal(study.synchrony(level="channel"), before)
    forced = study.compute_synchrony(dyad="D01", session=1, force=True)
    assert list(forced["status"]) == ["computed"]
    after = study.synchrony(level="channel")
    # same inputs and config: identical numbers (only the run id changes)
    cols = ["dyad", "session", "pair", "therapist", "patient", "chromophore",
            "therapist_unit", "patient_unit", "value"]
    pd.testing.assert_frame_equal(after[cols].reset_index(drop=True),
                                  before[cols].reset_index(drop=True))
    changed = study.compute_synchrony(SynchronyConfig(band=(0.04, 0.1)), dyad="D02")
    assert set(changed["status"]) == {"computed"}


def test_status_shows_the_synchrony_index(computed):
    study, _, _ = computed
    status = study.status()
    assert status["synchrony"].notna().sum() == 6
    assert status["mark_sync"].str.startswith("s").all()


def test_changed_file_and_missing_recording_are_reported(tmp_path):
    study, sim = build_study(tmp_path, n_dyads=2, n_sessions=1)
    scans = study.scans()
    victim = study.data_dir / scans.iloc[0]["path"]
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    study.add_session("D01", 2)
    rows_before = study.db.conn.execute("SELECT count(*) FROM synchrony_results").fetchone()[0]
    summary = study.compute_synchrony()
    by = {(r.dyad, r.session): r for r in summary.itertuples()}
    failed = [r for r in summary.itertuples() if r.status == "failed"]
    assert len(failed) == 1 and "changed since import" in failed[0].message
    assert by[("D01", 2)].status == "incomplete" and "import" in by[("D01", 2)].message
    assert study.db.conn.execute("SELECT count(*) FROM synchrony_results").fetchone()[0] >= \
        rows_before
    study.close()


def test_parallel_jobs_give_identical_results(tmp_path):
    study, _ = build_study(tmp_path, n_dyads=2, n_sessions=1, seed=5)
    serial = study.compute_synchrony(jobs=1)
    first = study.synchrony(level="channel")[["dyad", "pair", "chromophore",
                                              "therapist_unit", "value"]]
    parallel = study.compute_synchrony(jobs=2, force=True)
    second = study.synchrony(level="channel")[["dyad", "pair", "chromophore",
                                               "therapist_unit", "value"]]
    assert list(serial["status"]) == list(parallel["status"]) == ["computed"] * 2
    pd.testing.assert_frame_equal(first.reset_index(drop=True), second.reset_index(drop=True))
    study.close()


def test_real_recordings_end_to_end(shared_data, tmp_path):
    """Two real recordings of different rates and montages through preprocessing and synchrony
    (a technical pair: no true coupling is expected, only finite values in [0, 1])."""
    from studymgr.io.recordings import hash_path
    from studymgr.runs.synchrony import ScanInput, prepare_scan

    files = [shared_data / "fnirs" / "pysnirf2-test" / "v120dev-sub-A_task-test_run-1.snirf",
             shared_data / "fnirs" / "snirf-samples" / "neuro_run01.snirf"]
    config = SynchronyConfig()
    scans = [ScanInput(scan_id=i, path=f, sha256=hash_path(f)[0], sfreq=0)
             for i, f in enumerate(files)]
    prepared_scans = [prepare_scan(s, config, sfreq=5.0) for s in scans]
    assert prepared_scans[0].sfreq == prepared_scans[1].sfreq == 5.0
    assert any("short-channel regression" in s for s in prepared_scans[0].steps)
    frame, notes = pair_synchrony(prepared_scans[0], prepared_scans[0], config, by_time=False)
    # a recording with itself: coherence 1 in every homologous pair
    assert np.allclose(frame["value"], 1.0, atol=1e-6)
    config_all = SynchronyConfig(pairs="all")
    frame, _ = pair_synchrony(*prepared_scans, config_all, by_time=False)
    values = frame[frame["level"] == "channel"]["value"]
    assert len(values) > 10 and np.isfinite(values).all() and values.between(0, 1).all()
