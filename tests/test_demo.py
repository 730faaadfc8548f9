"""The demo end to end (``studymgr demo``, studymgr.runs.demo) and ``studymgr simulate study``.

A reduced demo (5 dyads x 4 sessions, 4 channels, 2 pseudo pairs per session) runs once through
the command line. Independent references:

- the planted truth (``simulated/truth.json``): growth of coupling over sessions and a negative
  coupling -> symptoms slope must come back with the right sign, and alliance, planted as
  unrelated, must not be significant; the measured synchrony must track the planted coupling
  (Spearman correlation over sessions). With this design and the planted values each of these
  holds in about 95 % of seeds (alliance by construction: alpha = .05); the seed is fixed;
- the exported tidy data, compared with what the study returns through its own methods;
- hand-made term tables for the planted-vs-recovered verdicts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.stats import spearmanr

from studymgr.errors import ConflictError, InputError
from studymgr.runs.demo import MARKER, STEPS, DemoConfig, _prepare_folder, planted_vs_recovered
from tests.conftest import snapshot

REDUCED = ["--dyads", "5", "--sessions", "4", "--channels", "4", "--growth", "0.15",
           "--max-pseudo", "2", "--seed", "7", "--jobs", "2"]
_BUILT: dict[str, tuple[Path, object]] = {}


def reduced_demo(tmp_path_factory) -> tuple[Path, object]:
    """Run the reduced demo once per test session (shared with other test modules)."""
    if "demo" not in _BUILT:
        from studymgr.cli import cli

        out = tmp_path_factory.mktemp("demo") / "demo"
        result = CliRunner().invoke(cli, ["demo", "--out", str(out), *REDUCED],
                                    catch_exceptions=False)
        _BUILT["demo"] = (out, result)
    return _BUILT["demo"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return reduced_demo(tmp_path_factory)


@pytest.fixture(scope="module")
def opened(demo):
    from studymgr import open_study

    out, _ = demo
    with open_study(out / "study.db") as study:
        yield study


@pytest.mark.slow
def test_cli_demo_writes_everything_and_says_where(demo):
    out, result = demo
    assert result.exit_code == 0, result.output
    for step in STEPS:
        assert step in result.stderr, step
    assert f"Report:  {out / 'report.html'}" in result.stdout
    assert "Planted effects and what the models recovered" in result.stdout
    for rel in (MARKER, "study.db", "report.html", "planted_vs_recovered.csv",
                "simulated/truth.json", "simulated/questionnaires.csv",
                "data/analysis_table.csv", "data/data_dictionary.csv"):
        assert (out / rel).is_file(), rel
    assert list((out / "tables").glob("table*_growth.csv"))
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Synchrony over sessions" in html and "<img" in html


@pytest.mark.slow
def test_study_holds_the_simulated_design(demo, opened):
    out, _ = demo
    truth = json.loads((out / "simulated" / "truth.json").read_text())
    dyads = opened.dyads()
    assert len(dyads) == 5 and set(dyads["therapist"]) == {"T01"}
    assert len(opened.sessions()) == 20 and opened.sessions()["scanned"].all()
    assert len(opened.scans()) == 40
    assert len(opened.responses()) == 20 * len(truth["responses"])
    true = opened.synchrony(pair="true", chromophore="hbo")
    assert len(true) == 20 and true["value"].between(0, 1).all()
    pseudo = opened.synchrony(pair="pseudo", chromophore="hbo")
    assert len(pseudo) == 20 * 2
    assert truth["parameters"]["growth"] == 0.15 and truth["seed"] == 7


def test_demo_rates_moments_in_two_sessions(demo, opened):
    """Three simulated raters mark two sessions (the last session of D01 and D02): the stored
    consensus equals the pure agreement of the stored marks and holds every true moment (4 MOI,
    3 MONI, from the simulator's truth with the demo's seeds, within the 6-s jitter), event-locked
    synchrony is computed there, and the report has the moments section with its timelines."""
    from studymgr.compute.events.agreement import rater_agreement
    from studymgr.compute.simulate.study import simulate_rater_marks

    out, _ = demo
    events = opened.events()
    raters = events[events["source"] == "rater"]
    assert set(raters["rater"]) == {"R1", "R2", "R3"}
    assert set(zip(raters["dyad"], raters["session"], strict=True)) == {("D01", 4), ("D02", 4)}
    for i, dyad in enumerate(("D01", "D02"), start=1):
        consensus = events[(events["source"] == "consensus") & (events["dyad"] == dyad)]
        marks = raters[raters["dyad"] == dyad]
        pure = rater_agreement(marks, duration_s=360.0, tolerance_s=30.0).moments
        assert sorted(zip(consensus["onset_s"], consensus["label"], strict=True)) == \
            sorted(zip(pure["onset_s"], pure["label"], strict=True))
        truth = simulate_rater_marks(360.0, seed=7 + i).attrs["truth"]
        for onset, label in zip(truth["onset"], truth["label"], strict=True):
            near = consensus[(consensus["label"] == label)
                             & ((consensus["onset_s"] - onset).abs() <= 6.0)]
            assert len(near) == 1, (dyad, onset, label)
    results = opened.eventlocked_results()
    assert set(results["dyad"]) == {"D01", "D02"}
    assert results["p_value"].dropna().between(0, 1).all()
    html = (out / "report.html").read_text()
    start = html.index('id="moments"')
    assert html[start:].count('<img src="data:image/png;base64') >= 2


@pytest.mark.slow
def test_planted_effects_are_recovered(demo, opened):
    """Growth (and its true-dyad specificity) and synchrony -> symptoms with the planted signs;
    alliance (planted unrelated) not significant."""
    out, _ = demo
    terms = opened.model_results()["terms"].set_index(["model", "term"])
    growth = terms.loc[("growth", "session")]
    assert growth["estimate"] > 0 and growth["p"] < 0.05
    inter = terms.loc[("growth_true_vs_pseudo", "session:pair")]
    assert inter["estimate"] > 0 and inter["p"] < 0.05
    assert terms.loc[("outcome:symptoms", "synchrony_within"), "estimate"] < 0
    assert terms.loc[("alliance:symptoms", "alliance_within"), "p"] >= 0.05
    table = pd.read_csv(out / "planted_vs_recovered.csv").set_index("model")
    assert bool(table.loc["growth", "recovered"]) and bool(table.loc["alliance:symptoms",
                                                                      "recovered"])
    assert table.loc["outcome:symptoms", "expected"] == "negative"
    assert table.loc["growth", "estimate"] == pytest.approx(growth["estimate"])


@pytest.mark.slow
def test_measured_synchrony_tracks_planted_coupling(demo, opened):
    out, _ = demo
    truth = pd.DataFrame(json.loads((out / "simulated" / "truth.json").read_text())["sessions"])
    true = opened.synchrony(pair="true", chromophore="hbo")[["dyad", "session", "value"]]
    merged = true.merge(truth[["dyad", "session", "coupling"]], on=["dyad", "session"])
    assert len(merged) == 20
    assert spearmanr(merged["coupling"], merged["value"]).statistic > 0.5
    pseudo = opened.synchrony(pair="pseudo", chromophore="hbo")
    last = true[true["session"] == 4]["value"].mean()
    assert last > pseudo[pseudo["session"] == 4]["value"].mean() + 0.03


@pytest.mark.slow
def test_exported_data_match_the_study(demo, opened):
    out, _ = demo
    exported = pd.read_csv(out / "data" / "analysis_table.csv")
    direct = opened.analysis_table()
    assert len(exported) == len(direct) == 20
    for column in ("synchrony", "synchrony_pseudo", "symptoms", "alliance"):
        np.testing.assert_allclose(exported[column], direct[column].astype(float))


def test_planted_vs_recovered_by_hand():
    """Verdicts on a hand-made terms table: right sign and p < .05 for planted effects,
    p >= .05 for the planted zero, nothing for a missing model."""
    params = {"growth": 0.1, "symptom_slope": -3.0, "wellbeing_slope": 3.0,
              "session_quality_slope": 3.0, "alliance_effect": 0.0}
    terms = pd.DataFrame([
        ("growth", "session", 0.02, 0.01, 0.03, 0.001),
        ("growth_true_vs_pseudo", "session:pair", -0.01, -0.02, 0.0, 0.01),  # wrong sign
        ("outcome:symptoms", "synchrony_within", -10.0, -20.0, -1.0, 0.03),
        ("outcome:wellbeing", "synchrony_within", 5.0, -1.0, 11.0, 0.2),     # not significant
        ("alliance:symptoms", "alliance_within", 0.5, -0.1, 1.1, 0.04),      # false positive
        ("compare:symptoms", "synchrony_within_z - alliance_within_z", -1.0, -2.0, 0.0, 0.04),
    ], columns=["model", "term", "estimate", "ci_low", "ci_high", "p"])
    out = planted_vs_recovered(terms, params).set_index("model")
    assert out["recovered"].where(out["recovered"].notna(), None).to_dict() == {
        "growth": True, "growth_true_vs_pseudo": False, "outcome:symptoms": True,
        "outcome:wellbeing": False, "outcome:session_quality": None,
        "alliance:symptoms": False, "compare:symptoms": True}
    assert out.loc["alliance:symptoms", "expected"] == "none"
    assert pd.isna(out.loc["outcome:session_quality", "estimate"])
    assert out.loc["outcome:symptoms", "planted"] == -3.0
    # with alliance planted as related, neither verdict on alliance is defined
    related = planted_vs_recovered(terms, {**params, "alliance_effect": 1.0}).set_index("model")
    assert pd.isna(related.loc["alliance:symptoms", "recovered"])
    assert pd.isna(related.loc["compare:symptoms", "expected"])
    empty = planted_vs_recovered(terms.iloc[:0], params)
    assert empty["recovered"].isna().all() and len(empty) == 7


def test_overwrite_replaces_only_a_demo_folder(tmp_path):
    made = tmp_path / "made"
    made.mkdir()
    (made / MARKER).write_text("x")
    (made / "old.txt").write_text("old")
    with pytest.raises(ConflictError, match="not empty"):
        _prepare_folder(made, overwrite=False)
    _prepare_folder(made, overwrite=True)
    assert sorted(p.name for p in made.iterdir()) == [MARKER]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(ConflictError, match="refusing to delete"):
        _prepare_folder(mine, overwrite=True)
    assert (mine / "thesis.tex").read_text() == "precious"
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        _prepare_folder(afile, overwrite=True)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_dyads": 2}, "at least 3 dyads"),
    ({"scanned": ()}, "needs scanned sessions"),
    ({"max_pseudo": 0}, "max_pseudo"),
])
def test_bad_config(kwargs, message):
    with pytest.raises(InputError, match=message):
        DemoConfig(**kwargs)


def test_config_groups_and_keywords():
    """A DemoConfig holds a Design, Effects and Recording (the demo's own defaults); flat
    keywords replace their fields; every value is checked when the config is made."""
    from dataclasses import replace

    from studymgr.compute.simulate.model import Design
    from studymgr.runs.demo import DEMO_EFFECTS, DEMO_RECORDING, QUICK

    config = DemoConfig(n_dyads=5, growth=0.15, n_channels=4, max_pseudo=2)
    assert config.design == Design(n_dyads=5)
    assert config.effects == replace(DEMO_EFFECTS, growth=0.15)
    assert config.recording == replace(DEMO_RECORDING, n_channels=4)
    assert config == DemoConfig(Design(n_dyads=5), replace(DEMO_EFFECTS, growth=0.15),
                                replace(DEMO_RECORDING, n_channels=4), max_pseudo=2)
    assert (QUICK.design.n_dyads, QUICK.design.n_sessions, QUICK.recording.n_channels,
            QUICK.recording.bad_channels, QUICK.effects.growth) == (4, 3, 3, 0, 0.15)
    kwargs = config.simulation_kwargs()
    assert kwargs["n_dyads"] == 5 and kwargs["growth"] == 0.15 and kwargs["seed"] == 7
    assert kwargs["scanned"] is None and kwargs["band"] == [0.05, 0.1]
    for bad, message in (({"seed": -1}, "seed"), ({"growth": 2}, "growth must be <= 1"),
                         ({"sfreq": 1.0}, "sfreq")):
        with pytest.raises(InputError, match=message):
            DemoConfig(**bad)
    with pytest.raises(TypeError, match="n_dyad"):
        DemoConfig(n_dyad=4)


@pytest.mark.parametrize(("args", "message"), [
    (["--dyads", "2"], "at least 3 dyads"),
    (["--scanned", "1,x"], "session numbers like 1,3,5"),
    (["--scanned", "1,9"], "do not exist"),
    (["--growth", "2"], "growth must be <= 1"),
    (["--jobs", "0"], "jobs"),
    (["--channels", "0"], "n_channels"),
])
def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
    from studymgr.cli import cli

    before = snapshot(tmp_path)
    res = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "demo"), *args])
    assert res.exit_code == 2, res.output
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], lines
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("overwrite", [False, True])
def test_cli_refuses_a_folder_it_did_not_make(tmp_path, overwrite):
    from studymgr.cli import cli

    target = tmp_path / "notes"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    before = snapshot(tmp_path)
    res = CliRunner().invoke(cli, ["demo", "--out", str(target)]
                             + (["--overwrite"] if overwrite else []))
    assert res.exit_code == 2 and res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1
    assert ("refusing to delete" if overwrite else "not empty") in res.stderr
    assert snapshot(tmp_path) == before


# -- studymgr simulate study ----------------------------------------------------------------------
def test_cli_simulate_study(cli, tmp_path):
    out = tmp_path / "sim"
    res = cli("simulate", "study", str(out), "--dyads", "3", "--sessions", "2", "--scanned", "2",
              "--channels", "2", "--duration", "60", "--seed", "4")
    assert res.exit_code == 0, res.output
    assert "Wrote 6 recordings" in res.stdout
    truth = json.loads((out / "truth.json").read_text())
    assert truth["seed"] == 4 and truth["parameters"]["scanned"] == [2]
    assert len(list(out.rglob("*.snirf"))) == 6
    questionnaires = pd.read_csv(out / "questionnaires.csv")
    assert len(questionnaires) == 3 * 2 * len(truth["responses"])
    before = snapshot(tmp_path)
    again = cli("simulate", "study", str(out), "--dyads", "3")
    assert again.exit_code == 2 and "not empty" in again.stderr and again.stdout == ""
    assert snapshot(tmp_path) == before
    bad = cli("simulate", "study", str(tmp_path / "x"), "--scanned", "a")
    assert bad.exit_code == 2 and "comma-separated list" in bad.stderr
