"""Event-locked synchrony: time-resolved coherence, planted coupling around chosen moments,
storage, the wide table and the timeline figure.

The time-resolved coherence is compared with the synchrony module's own band average (its time
average weighted by valid cells must equal ``band_coherence``, which the synchrony tests compare
with pycwt and the MATLAB toolbox). The planted-coupling test builds signals that share a
band-limited component only within 20 s of the chosen moments: coherence must be found there
(small permutation p) and not at other moments (large p).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studymgr.compute.events.agreement import window_means
from studymgr.compute.events.eventlocked import (
    EventLockedConfig,
    eventlocked_session,
    time_resolved_coherence,
)
from studymgr.compute.synchrony.coherence import band_coherence, wavelet_coherence
from studymgr.compute.synchrony.config import SynchronyConfig
from studymgr.compute.synchrony.prepared import PreparedScan
from studymgr.errors import InputError
from studymgr.present.figures import moments_figure
from studymgr.present.tables import eventlocked_table
from studymgr.runs.eventlocked import session_timecourse

T0 = dt.datetime(2025, 3, 3, 10, 0, 0, tzinfo=dt.UTC)
SFREQ = 5.0
MOI = [120.0, 250.0, 380.0, 510.0, 640.0, 770.0, 900.0, 1030.0]
MONI = [185.0, 315.0, 445.0, 575.0, 705.0, 835.0]


def _bandlimited(rng, n, band=(0.05, 0.10)):
    freqs = np.fft.rfftfreq(n, 1 / SFREQ)
    spec = np.fft.rfft(rng.standard_normal(n))
    spec[(freqs < band[0]) | (freqs > band[1])] = 0
    x = np.fft.irfft(spec, n)
    return x / x.std()


def planted_pair(seed=0, n_channels=3, duration=1200.0, gate_s=20.0):
    """Therapist and patient signals sharing a band-limited component only within ``gate_s``
    of the MOI onsets (independent band-limited activity everywhere else)."""
    rng = np.random.default_rng(seed)
    n = int(duration * SFREQ)
    t = np.arange(n) / SFREQ
    gate = np.zeros(n)
    for onset in MOI:
        gate[np.abs(t - onset) <= gate_s] = 1.0
    a, b = [], []
    for _ in range(n_channels):
        shared = _bandlimited(rng, n)
        a.append(_bandlimited(rng, n) + 3.0 * gate * shared + 0.05 * rng.standard_normal(n))
        b.append(_bandlimited(rng, n) + 3.0 * gate * shared + 0.05 * rng.standard_normal(n))
    names = [f"S{i + 1}_D{i + 1} hbo" for i in range(n_channels)]

    def prepared(scan_id, data):
        data = np.array(data)
        return PreparedScan(scan_id=scan_id, sha256="0" * 64, sfreq=SFREQ, start=T0,
                            names={"hbo": names}, data={"hbo": data}, bads=set(), steps=[])

    return prepared(1, a), prepared(2, b)


def test_time_resolved_coherence_averages_to_band_coherence():
    """Weighted by the number of valid cells, the time course's mean is the synchrony module's
    band coherence (exact path), for both conventions; undefined only near the ends."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal(1500)
    y = 0.7 * x + rng.standard_normal(1500)
    for convention in ("grinsted", "pycwt"):
        values, n = time_resolved_coherence(x, y, SFREQ, band=(0.05, 0.1),
                                            convention=convention)
        reference = band_coherence(x, y, SFREQ, band=(0.05, 0.1), convention=convention,
                                   method="exact")[0]
        assert np.nansum(values * n) / n.sum() == pytest.approx(reference, abs=1e-12)
        defined = np.flatnonzero(np.isfinite(values))
        # the band's shortest period P (the first scale at or above 10 s) leaves the cone of
        # influence (coi = 1.033 / sqrt(2) * t) at t = P * sqrt(2) / 1.033, within a sample
        shortest = wavelet_coherence(x, y, SFREQ, fmin=0.05, fmax=0.1,
                                     convention=convention).periods.min()
        assert 10.0 <= shortest < 10.0 * 2 ** (1 / 12)
        assert defined[0] / SFREQ == pytest.approx(shortest * np.sqrt(2) / 1.033, abs=0.25)
        assert np.all(np.isfinite(values[defined[0]:defined[-1] + 1]))
        assert np.all((values[defined] >= 0) & (values[defined] <= 1))


def test_planted_coupling_is_found_at_the_moments_only():
    """Coupling planted around the MOI onsets: MOI windows beat random windows (p small), MONI
    windows do not (p large), at every level; MOI > rest > MONI is not required, MOI > rest is."""
    therapist, patient = planted_pair()
    events = pd.DataFrame({"onset_s": MOI + MONI,
                           "label": ["MOI"] * len(MOI) + ["MONI"] * len(MONI)})
    config = EventLockedConfig(n_permutations=499, seed=1,
                               synchrony=SynchronyConfig(chromophores=("hbo",), pseudo=False))
    result = eventlocked_session(therapist, patient, events, config)
    tests = result.tests.set_index(["level", "therapist_unit", "condition"])
    session = tests.loc[("session", "all")]
    assert session.loc["MOI", "p_value"] < 0.01
    assert session.loc["MONI", "p_value"] > 0.2
    for unit in ("S1_D1", "S2_D2", "S3_D3"):
        assert tests.loc[("channel", unit, "MOI"), "p_value"] < 0.05
    values = result.results.set_index(["level", "condition"]).loc["session", "value"]
    assert values["MOI"] > values["rest"] + 0.2 and values["MOI"] > values["MONI"] + 0.2
    counts = result.results.set_index(["level", "condition"]).loc["session", "n_windows"]
    assert counts["MOI"] == 8 and counts["MONI"] == 6
    # seeded: the same config gives the same p-values
    again = eventlocked_session(therapist, patient, events, config)
    pd.testing.assert_frame_equal(again.tests, result.tests)
    # the ROI level with a montage: two channels in one ROI average their time courses
    roi_cfg = EventLockedConfig(n_permutations=99, synchrony=SynchronyConfig(
        chromophores=("hbo",), pseudo=False,
        montage=(("S1_D1", "front"), ("S2_D2", "front"), ("S3_D3", "back"))))
    roi = eventlocked_session(therapist, patient, events, roi_cfg).results
    roi = roi[roi["level"] == "roi"]
    assert sorted(set(roi["therapist_unit"])) == ["back", "front"]


def test_bad_events_are_refused():
    therapist, patient = planted_pair(duration=200.0)
    config = EventLockedConfig(n_permutations=9)
    with pytest.raises(InputError, match="no MOI or MONI events"):
        eventlocked_session(therapist, patient, pd.DataFrame({"onset_s": [50.0],
                                                              "label": ["other"]}), config)
    with pytest.raises(InputError, match="outside the recordings' common span"):
        eventlocked_session(therapist, patient, pd.DataFrame({"onset_s": [500.0],
                                                              "label": ["MOI"]}), config)
    for bad in ({"labels": ()}, {"labels": ("rest",)}, {"source": "video"},
                {"window": (5, -5)}, {"n_permutations": 0}):
        with pytest.raises(InputError):
            EventLockedConfig(**bad)


def test_eventlocked_table_by_hand():
    """The wide table puts each condition's mean, count, null mean and p side by side."""
    base = {"dyad": "D01", "session": 1, "measure": "wtc", "chromophore": "hbo",
            "level": "session", "therapist_unit": "all", "patient_unit": "all", "seed": 0}
    tidy = pd.DataFrame([
        {**base, "condition": "MOI", "value": 0.7, "n_windows": 3, "null_mean": 0.4,
         "p_value": 0.01},
        {**base, "condition": "MONI", "value": 0.3, "n_windows": 2, "null_mean": 0.4,
         "p_value": 0.9},
        {**base, "condition": "rest", "value": 0.35, "n_windows": 0, "null_mean": None,
         "p_value": None},
        {**base, "chromophore": "hbr", "condition": "MOI", "value": 0.5, "n_windows": 3,
         "null_mean": 0.4, "p_value": 0.2}])
    wide = eventlocked_table(tidy, labels=["MOI", "MONI"])
    assert len(wide) == 1
    row = wide.iloc[0]
    assert (row["MOI"], row["n_MOI"], row["null_MOI"], row["p_MOI"]) == (0.7, 3, 0.4, 0.01)
    assert (row["MONI"], row["p_MONI"], row["rest"]) == (0.3, 0.9, 0.35)
    assert len(eventlocked_table(tidy, chromophore=None)) == 2
    with pytest.raises(InputError, match="lack column"):
        eventlocked_table(tidy.drop(columns=["p_value"]))


def test_moments_figure_draws_marks_and_time_course():
    """A Figure with the time course on top and one row per rater plus consensus below."""
    events = pd.DataFrame({
        "onset_s": [100.0, 110.0, 105.0, 300.0], "duration_s": [0.0, 5.0, 0.0, 0.0],
        "label": ["MOI", "MOI", "MOI", "MONI"], "rater": ["R1", "R2", None, "R1"],
        "source": ["rater", "rater", "consensus", "rater"]})
    tc = pd.DataFrame({"time_s": np.arange(0, 400, 1.0), "value": np.full(400, 0.5)})
    fig = moments_figure(events, tc, title="D01 session 1")
    axes = fig.get_axes()
    assert len(axes) == 2
    assert [t.get_text() for t in axes[1].get_yticklabels()] == ["R1", "R2", "consensus"]
    only_marks = moments_figure(events)
    assert len(only_marks.get_axes()) == 1


def test_old_import_paths_keep_working():
    """Code written against the old module studymgr.eventlocked (now split into
    compute.events.eventlocked, runs.eventlocked and the presentation layer) still finds the same
    objects through the old path; the table and figure with a DeprecationWarning naming their
    new home."""
    import sys
    import warnings

    from studymgr.compute.events import eventlocked as pure
    from studymgr.runs.eeg import compute_eeg
    from studymgr.runs.eventlocked import compute_eventlocked

    sys.modules.pop("studymgr.eventlocked", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import studymgr.eventlocked as old

        assert old.EventLockedConfig is EventLockedConfig and old.compute_eeg is compute_eeg
        assert old.compute_eventlocked is compute_eventlocked
        assert old.eventlocked_session is pure.eventlocked_session
        assert old.eventlocked_table is eventlocked_table
        assert old.moments_figure is moments_figure
    assert [str(w.message).split(";")[0] for w in caught] == [
        "studymgr.eventlocked moved to studymgr.runs.eventlocked",
        "studymgr.eventlocked.eventlocked_table moved to "
        "studymgr.present.tables.eventlocked_table",
        "studymgr.eventlocked.moments_figure moved to "
        "studymgr.present.figures.moments_figure"]
    assert all(issubclass(w.category, DeprecationWarning) for w in caught)
    with pytest.raises(AttributeError):
        _ = old.no_such_name


# -- through a study -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def session_study(tmp_path_factory):
    import os

    from tests.test_pipeline import build_study

    os.environ.setdefault("STUDYMGR_USER", "tester")
    tmp = tmp_path_factory.mktemp("eventlocked")
    study, _ = build_study(tmp, n_dyads=2, n_sessions=1, coupling=0.6, growth=0.0)
    cons = tmp / "consensus.csv"
    cons.write_text("onset,duration,label\n100,0,MOI\n200,0,MOI\n150,0,MONI\n")
    study.import_events("D01", 1, cons, consensus=True)
    yield study, tmp
    study.close()


def test_compute_store_and_rerun(session_study):
    """Sessions with consensus events are computed and stored (measure wtc@<condition>), the
    others reported; a rerun is up to date; the fNIRS synchrony listing is unaffected."""
    study, _ = session_study
    config = EventLockedConfig(n_permutations=99)
    summary = study.compute_eventlocked(config).set_index("dyad")
    assert summary.loc["D01", "status"] == "computed" and summary.loc["D01", "n_events"] == 3
    assert summary.loc["D02", "status"] == "no events"
    assert 0 <= summary.loc["D01", "moi"] <= 1 and 0 < summary.loc["D01", "p_moi"] <= 1
    tidy = study.eventlocked_results()
    assert set(tidy["condition"]) == {"MOI", "MONI", "rest"}
    assert set(tidy["chromophore"]) == {"hbo", "hbr"} and (tidy["measure"] == "wtc").all()
    moi = tidy[(tidy["condition"] == "MOI") & (tidy["chromophore"] == "hbo")].iloc[0]
    assert moi["n_windows"] == 2 and moi["n_permutations"] == 99 and moi["p_value"] > 0
    assert tidy[tidy["condition"] == "rest"]["p_value"].isna().all()
    assert not study.eventlocked_results(level="channel").empty
    again = study.compute_eventlocked(config)
    assert set(again["status"]) == {"up to date", "no events"}
    assert again.set_index("dyad").loc["D01", "moi"] == pytest.approx(summary.loc["D01", "moi"])
    # the session synchrony readers only see the wavelet coherence itself
    assert study.synchrony(level="session").empty
    run = study.current_run("eventlocked", study.session_id("D01", 1))
    assert set(run["input_hashes"]) == {"therapist", "patient", "events"}
    # the figure's time course, recomputed from the stored recordings: its mean in the MOI
    # windows is the stored MOI value
    tc = session_timecourse(study, "D01", 1, config)
    means = window_means(tc["time_s"], tc["value"], [100.0, 200.0], config.window)
    assert np.mean(means) == pytest.approx(moi["value"], abs=1e-12)
    fig = moments_figure(study.events("D01", 1), tc)
    assert len(fig.get_axes()) == 2


def test_cli_eventlocked_compute_and_list(session_study):
    """The CLI runs the same computation and lists tidy and wide results."""
    from click.testing import CliRunner

    from studymgr.cli import cli

    study, _ = session_study
    runner = CliRunner()
    db = str(study.path)
    out = runner.invoke(cli, ["--db", db, "eventlocked", "compute", "--permutations", "49",
                              "--dyad", "D01", "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert rows[0]["status"] == "computed"
    wide = runner.invoke(cli, ["--db", db, "eventlocked", "list", "--wide", "--csv"],
                         catch_exceptions=False)
    header = wide.stdout.splitlines()[0].split(",")
    assert {"MOI", "p_MOI", "MONI", "p_MONI", "rest"} <= set(header)


def test_missing_recording_fails_its_session_only(session_study, tmp_path):
    """A recording file gone from the data folder: 'eventlocked compute' reports that session as
    failed in one line (what is missing, how to restore it) and stores nothing for it."""
    import studymgr
    from tests.test_report import copy_study

    study, _ = session_study
    study.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db = copy_study(Path(study.path).parent, tmp_path / "copy")
    with studymgr.open_study(db) as copy:
        victim = copy.data_dir / copy.scans().iloc[0]["path"]
        victim.unlink()
        before = copy.eventlocked_results()
        summary = copy.compute_eventlocked(EventLockedConfig(n_permutations=9), force=True)
        row = summary.set_index("dyad").loc["D01"]
        assert row["status"] == "failed"
        assert "missing from the data folder" in row["message"]
        pd.testing.assert_frame_equal(copy.eventlocked_results(), before)
