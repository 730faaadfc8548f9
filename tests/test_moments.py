"""Rater agreement, consensus moments and event-locked window statistics.

Expected values are computed by hand in the comments (consensus onsets are medians of the marks
written into the rater files; Fleiss' kappa from its definition), checked against statsmodels'
independent ``fleiss_kappa`` and the published example of Fleiss' kappa (Wikipedia's table from
Fleiss 1971: 10 subjects, 14 raters, 5 categories, kappa = 0.210). Window statistics are checked
on time courses with planted bumps. Bad input leaves the study folder byte for byte unchanged.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from studymgr import ConflictError, InputError
from studymgr.compute.events.agreement import (
    binned_marks,
    consensus_moments,
    fleiss_kappa,
    outside_windows,
    random_window_test,
    rater_agreement,
    window_means,
)
from tests.conftest import snapshot
from tests.test_scans import write_snirf

# Three raters, one label. With a 30 s tolerance the hand-made groups are
#   100 (R1), 110 (R2), 125 (R3) -> consensus at the median 110 s, 3 raters, spread 25 s
#   400 (R1), 415 (R3)           -> consensus at 407.5 s, 2 raters
#   800 (R2), 1000 (R3)          -> single marks, no consensus
R1 = "onset,duration,label\n100,0,MOI\n400,0,MOI\n"
R2 = "onset,duration,label,note\n110,0,MOI,client cried\n800,0,MOI,\n"
R3 = "onset,duration,label\n125,0,MOI\n415,0,MOI\n1000,0,MOI\n"


def _marks():
    return pd.DataFrame({"rater": ["R1", "R1", "R2", "R2", "R3", "R3", "R3"], "label": "MOI",
                         "onset_s": [100.0, 400.0, 110.0, 800.0, 125.0, 415.0, 1000.0]})


# Kappa by hand for a 1200 s session in 30-s bins (40 bins, 3 raters, marked / not marked):
#   bin 3 (90-120 s): R1, R2 -> 2 marks; bin 4: R3 -> 1; bin 13 (390-420 s): R1, R3 -> 2;
#   bin 26: R2 -> 1; bin 33: R3 -> 1; 35 bins unmarked by all.
#   P_i = (m(m-1) + (3-m)(2-m)) / 6 -> 1 for m = 0, 1/3 for m = 1 or 2
#   P_bar = (35 + 5/3) / 40 = 0.9166667
#   p_marked = 7/120, p_not = 113/120, P_e = (49 + 12769) / 14400 = 0.8901389
#   kappa = (0.9166667 - 0.8901389) / (1 - 0.8901389) = 0.2414665
KAPPA_BY_HAND = (110 / 120 - 12818 / 14400) / (1 - 12818 / 14400)


def test_consensus_moments_by_hand():
    """Groups, medians, spreads and raters as worked out above."""
    moments = consensus_moments(_marks(), tolerance_s=30)
    assert moments[["onset_s", "n_raters", "raters", "spread_s"]].values.tolist() == [
        [110.0, 3, "R1,R2,R3", 25.0], [407.5, 2, "R1,R3", 15.0]]
    # a tighter tolerance splits the first moment: 100 and 110 stay together, 125 is alone
    tight = consensus_moments(_marks(), tolerance_s=12)
    assert tight["onset_s"].tolist() == [105.0]
    # every rater counts once per moment: two marks of R1 close together make no consensus
    same = pd.DataFrame({"rater": ["R1", "R1"], "label": "MOI", "onset_s": [10.0, 12.0]})
    assert consensus_moments(same).empty
    # labels never mix
    mixed = pd.DataFrame({"rater": ["R1", "R2"], "label": ["MOI", "MONI"],
                          "onset_s": [10.0, 12.0]})
    assert consensus_moments(mixed).empty
    assert consensus_moments(_marks(), min_raters=3)["onset_s"].tolist() == [110.0]
    with pytest.raises(InputError, match="min_raters"):
        consensus_moments(_marks(), min_raters=1)


def test_fleiss_kappa_against_hand_statsmodels_and_the_published_example():
    """The hand value above, statsmodels on random tables, and Fleiss' published example."""
    agreement = rater_agreement(_marks(), duration_s=1200, tolerance_s=30)
    row = agreement.summary.iloc[0]
    assert row["kappa"] == pytest.approx(KAPPA_BY_HAND, abs=1e-12)
    assert row["kappa"] == pytest.approx(0.2414665, abs=1e-7)
    assert (row["n_bins"], row["n_marked_bins"], row["n_consensus"], row["n_unmatched"]) == (
        40, 5, 2, 2)
    rng = np.random.default_rng(1)
    for _ in range(5):
        table = rng.multinomial(6, [0.5, 0.3, 0.2], size=30)
        assert fleiss_kappa(table) == pytest.approx(sm_fleiss_kappa(table), abs=1e-12)
    published = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
                          [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
                          [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])
    assert fleiss_kappa(published) == pytest.approx(0.210, abs=5e-4)
    assert np.isnan(fleiss_kappa([[3, 0], [3, 0]]))  # all in one category: chance explains all
    # identical raters agree perfectly
    twins = pd.DataFrame({"rater": ["A", "B"], "label": "MOI", "onset_s": [50.0, 50.0]})
    assert rater_agreement(twins, duration_s=300).summary["kappa"].iloc[0] == pytest.approx(1.0)


def test_binned_marks_with_durations():
    """A 25 s mark from 55 s covers 10-s bins 5-7; a point mark at 20 s only bin 2."""
    marks = pd.DataFrame({"rater": ["A", "B"], "label": "MOI", "onset_s": [55.0, 20.0],
                          "duration_s": [25.0, 0.0]})
    grid = binned_marks(marks, label="MOI", raters=["A", "B"], duration_s=100, bin_s=10)
    assert np.flatnonzero(grid[:, 0]).tolist() == [5, 6, 7]
    assert np.flatnonzero(grid[:, 1]).tolist() == [2]


def test_agreement_refuses_bad_input():
    with pytest.raises(InputError, match="at least 2 raters"):
        rater_agreement(_marks()[_marks()["rater"] == "R1"], duration_s=1200)
    with pytest.raises(InputError, match="after the end of the session"):
        rater_agreement(_marks(), duration_s=900)
    with pytest.raises(InputError, match="no rater marked label"):
        rater_agreement(_marks(), duration_s=1200, labels=["MONI"])
    with pytest.raises(InputError, match="tolerance"):
        rater_agreement(_marks(), duration_s=1200, tolerance_s=0)


def test_window_statistics_on_planted_bumps():
    """A time course of 0.2 with 0.8 inside planted 20-s bumps: the window means, the rest and
    the permutation p-values follow from the construction."""
    times = np.arange(0, 600, 0.5)
    values = np.full(times.shape, 0.2)
    bumps = [100.0, 250.0, 400.0, 520.0]
    for b in bumps:
        values[(times >= b - 10) & (times <= b + 10)] = 0.8
    values[:40] = np.nan  # undefined start (like the cone of influence)
    # window (-10, 10) around a bump holds 41 samples, all 0.8
    assert window_means(times, values, bumps, (-10, 10)) == pytest.approx([0.8] * 4)
    # a window half over a bump, by hand: (-20, 0) around 100 s covers 80..100 s, i.e.
    # 80..89.5 s -> 20 samples of 0.2 and 90..100 s -> 21 samples of 0.8
    assert window_means(times, values, [100.0], (-20, 0))[0] == pytest.approx(
        (20 * 0.2 + 21 * 0.8) / 41)
    assert np.isnan(window_means(times, values, [5.0], (-5, 5))[0])  # only undefined samples
    rest = outside_windows(times, bumps, (-10, 10))
    assert np.nanmean(values[rest]) == pytest.approx(0.2)
    hit = random_window_test(times, values, bumps, (-10, 10), n_permutations=999, seed=3)
    assert hit["observed"] == pytest.approx(0.8) and hit["n_windows"] == 4
    assert hit["p_value"] < 0.01 and hit["null_mean"] < 0.4
    miss = random_window_test(times, values, [180.0, 330.0, 460.0], (-10, 10),
                              n_permutations=999, seed=3)
    assert miss["observed"] == pytest.approx(0.2) and miss["p_value"] > 0.5
    again = random_window_test(times, values, bumps, (-10, 10), n_permutations=999, seed=3)
    assert again == hit  # seeded
    with pytest.raises(InputError, match="longer than the span"):
        random_window_test(times, values, bumps, (-400, 400))


# -- through the study -------------------------------------------------------------------------
@pytest.fixture
def rated(small_study, tmp_path):
    """D01 session 2 with a 1200 s recording and the three rater files above."""
    small_study.import_scan("D01", 2, "patient", write_snirf(tmp_path / "p.snirf",
                                                              duration=1200.0))
    for rater, text in (("R1", R1), ("R2", R2), ("R3", R3)):
        path = tmp_path / f"{rater}.csv"
        path.write_text(text)
        small_study.import_events("D01", 2, path, rater=rater, labels=["MOI", "MONI"])
    return small_study


def test_agreement_stores_consensus_events(rated):
    """The consensus moments become events (source consensus, no rater); the kappa is the hand
    value; running again changes nothing; different stored consensus needs --replace."""
    out = rated.rater_agreement("D01", 2, tolerance_s=30)
    assert out["outcome"] == "stored" and out["n_stored"] == 2
    assert out["summary"]["kappa"].iloc[0] == pytest.approx(KAPPA_BY_HAND)
    assert out["config"]["duration_s"] == pytest.approx(1200.0, abs=0.5)
    events = rated.events("D01", 2)
    cons = events[events["source"] == "consensus"]
    assert cons["onset_s"].tolist() == [110.0, 407.5] and cons["rater"].isna().all()
    assert set(cons["label"]) == {"MOI"}
    log = rated.audit(limit=1)
    assert log["action"][0] == "agreement"
    assert json.loads(log["new"][0])["kappa"]["MOI"] == pytest.approx(KAPPA_BY_HAND)
    assert rated.rater_agreement("D01", 2)["outcome"] == "unchanged"
    with pytest.raises(ConflictError, match="--replace"):
        rated.rater_agreement("D01", 2, tolerance_s=12)
    report = rated.rater_agreement("D01", 2, tolerance_s=12, store=False)
    assert report["outcome"] == "not stored" and report["moments"]["onset_s"].tolist() == [105.0]
    replaced = rated.rater_agreement("D01", 2, tolerance_s=12, replace=True, reason="tighter")
    assert (replaced["n_stored"], replaced["n_removed"]) == (1, 2)
    assert rated.events("D01", 2).query("source == 'consensus'")["onset_s"].tolist() == [105.0]


def test_notes_are_dropped_not_stored(rated):
    """R2's note column ('client cried') reaches neither the events nor the audit trail."""
    dump = "\n".join(rated.db.conn.iterdump())
    assert "client cried" not in dump and "note" not in rated.events().columns


def test_cli_agreement_and_notes(cli, tmp_path, monkeypatch):
    """Command line: import with --labels (the note is reported as dropped), agreement as a
    table and as JSON with the hand-computed kappa."""
    monkeypatch.chdir(tmp_path)
    for args in (["init"], ["dyad", "add", "D01", "--therapist", "T01", "--patient", "P01"],
                 ["session", "add", "D01", "1"]):
        assert cli(*args).exit_code == 0
    for rater, text in (("R1", R1), ("R2", R2), ("R3", R3)):
        (tmp_path / f"{rater}.csv").write_text(text)
        result = cli("events", "import", "D01", "1", f"{rater}.csv", "--rater", rater,
                     "--labels", "MOI,MONI")
        assert result.exit_code == 0, result.output
        assert ("1 note(s) dropped" in result.output) == (rater == "R2")
    table = cli("events", "agreement", "D01", "1", "--no-store")
    assert table.exit_code == 0 and "Nothing stored" in table.output and "R1,R2,R3" in table.output
    data = json.loads(cli("events", "agreement", "D01", "1", "--json").output)
    assert data["outcome"] == "stored" and [m["onset_s"] for m in data["moments"]] == [110.0,
                                                                                     407.5]
    # no recording: the bins end at the last mark (1000 s): 34 bins of 30 s
    assert data["agreement"][0]["n_bins"] == 34 and data["config"]["duration_from"] == \
        "last mark"


BAD = [
    ("neg.csv", "onset,duration,label\n-5,0,MOI\n", [], "onset must be a number of seconds"),
    ("late.csv", "onset,duration,label\n5000,0,MOI\n", [], "after the end of the session"),
    ("free.csv", "onset,duration,label\n5,0,MOI\n9,0,laughter\n", ["--labels", "MOI,MONI"],
     "label 'laughter' is not one of MOI, MONI"),
]


@pytest.mark.parametrize(("name", "text", "extra", "message"), BAD,
                         ids=[b[0] for b in BAD])
def test_bad_rater_files_change_nothing(cli, tmp_path, monkeypatch, name, text, extra, message):
    """Negative or out-of-session onsets and labels outside --labels: exit 2, one line, the
    study folder unchanged."""
    monkeypatch.chdir(tmp_path)
    for args in (["init"], ["dyad", "add", "D01", "--therapist", "T01", "--patient", "P01"],
                 ["session", "add", "D01", "1"]):
        assert cli(*args).exit_code == 0
    src = write_snirf(tmp_path / "in" / "p.snirf", duration=600.0)
    assert cli("scans", "import", "D01", "1", "--role", "patient", str(src)).exit_code == 0
    (tmp_path / "in" / name).write_text(text)
    before = snapshot(tmp_path)
    result = cli("events", "import", "D01", "1", f"in/{name}", "--rater", "R1", *extra)
    assert result.exit_code == 2 and result.stdout == ""
    err = result.stderr.strip()
    assert "\n" not in err and err.startswith("Error: ") and message in err, err
    assert snapshot(tmp_path) == before


def test_cli_agreement_needs_two_raters(cli, tmp_path, monkeypatch):
    """One rater only: a clear error and nothing stored."""
    monkeypatch.chdir(tmp_path)
    for args in (["init"], ["dyad", "add", "D01", "--therapist", "T01", "--patient", "P01"],
                 ["session", "add", "D01", "1"]):
        assert cli(*args).exit_code == 0
    (tmp_path / "R1.csv").write_text(R1)
    assert cli("events", "import", "D01", "1", "R1.csv", "--rater", "R1").exit_code == 0
    before = snapshot(tmp_path)
    result = cli("events", "agreement", "D01", "1")
    assert result.exit_code == 2 and "at least 2 raters (only R1)" in result.stderr
    assert snapshot(tmp_path) == before
