"""Study-level model runs end to end: a simulated study with planted effects -> ``models fit``
-> stored fits, checked against the planted truth and against an independent refit.

Independent references:

- the planted effects of :func:`studymgr.compute.simulate.study.simulate_study` (truth.json):
  synchrony grows
  over sessions in real dyads only (pseudo pairs are flat noise), symptoms fall as synchrony rises,
  ROI pair ``A-A`` carries the growth and ``B-B`` does not;
- the exported analysis table (``models data``) refitted by direct calls of the pure model
  functions, and the true-vs-pseudo interaction by statsmodels' own MixedLM formula interface;
- hand-made small studies for the degenerate cases (no synchrony, one dyad, constant outcome).

Synchrony rows are planted through ``study.save_synchrony`` (no wavelet pipeline); the scans they
reference are inserted with raw SQL, which only this test helper does.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studymgr import create_study, open_study
from studymgr.compute.models import (
    compare_predictors,
    fdr,
    growth_model,
    outcome_model,
    rm_correlations,
)
from studymgr.errors import InputError
from tests.conftest import Cli, snapshot

N_DYADS, N_SESSIONS, SEED = 8, 6, 11


# --------------------------------------------------------------------------------------------
# helpers: a study with planted synchrony
# --------------------------------------------------------------------------------------------


def _add_scan(study, dyad: str, number: int, role: str) -> int:
    """A minimal scans row (test helper only: the rows exist for the synchrony foreign keys)."""
    sid = study.session_id(dyad, number)
    code = study.dyad_members(dyad)[role]
    pid = study.db.conn.execute("SELECT id FROM people WHERE code = ?", (code,)).fetchone()[0]
    with study.transaction():
        cur = study.db.conn.execute(
            "INSERT INTO scans (session_id, person_id, role, format, path, sha256, size_bytes, "
            "sfreq, n_channels, channels, duration_s, imported_by, imported_at) "
            "VALUES (?, ?, ?, 'snirf', ?, ?, 1, 10.0, 2, '[]', 300.0, 'tester', "
            "'2025-01-01T00:00:00Z')",
            (sid, pid, role, f"planted/{dyad}_{number}_{role}.snirf", "0" * 64))
    return int(cur.lastrowid)


def plant_synchrony(study, true_values: dict[tuple[str, int], float], seed: int = 0,
                    pseudo: bool = True, roi: bool = True) -> None:
    """Session-level true synchrony as given; pseudo pairs (this therapist with every other
    dyad's patient of the same session) are flat noise around 0.2; ROI ``A-A`` = the true value
    plus small noise, ROI ``B-B`` = flat noise around 0.3 (no growth)."""
    rng = np.random.default_rng(seed)
    scans = {(d, n, r): _add_scan(study, d, n, r) for d, n in true_values
             for r in ("therapist", "patient")}
    for (d, n), value in true_values.items():
        t, p = scans[(d, n, "therapist")], scans[(d, n, "patient")]
        rows = [("true", t, p, "session", "all", "all", value)]
        if roi:
            rows += [("true", t, p, "roi", "A", "A", float(np.clip(value + rng.normal(0, .02),
                                                                   0, 1))),
                     ("true", t, p, "roi", "B", "B", float(np.clip(0.3 + rng.normal(0, .03),
                                                                   0, 1)))]
        if pseudo:
            for (o, m) in true_values:
                if m != n or o == d:
                    continue
                q = scans[(o, m, "patient")]
                rows.append(("pseudo", t, q, "session", "all", "all",
                             float(np.clip(0.2 + rng.normal(0, .03), 0, 1))))
                if roi:
                    rows += [("pseudo", t, q, "roi", u, u,
                              float(np.clip(0.2 + rng.normal(0, .03), 0, 1))) for u in "AB"]
        frame = pd.DataFrame(rows, columns=["pair", "therapist_scan", "patient_scan", "level",
                                            "therapist_unit", "patient_unit", "value"])
        frame.insert(3, "chromophore", "hbo")
        study.save_synchrony(session_id=study.session_id(d, n), label=f"{d}/{n}",
                             config={"planted": True}, config_hash="c" * 64, input_hashes={},
                             versions={}, results=frame, tests=None, warnings=[])


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> dict[str, Path]:
    """A simulated study (8 dyads x 6 sessions, questionnaires imported) saved three times:
    without synchrony, with synchrony planted from truth.json's coupling, and with its models
    fitted. Tests copy the files."""
    from studymgr.compute.simulate.study import simulate_study
    from studymgr.runs.entry import import_responses

    root = tmp_path_factory.mktemp("simulated")
    sim = simulate_study(root / "sim", n_dyads=N_DYADS, n_sessions=N_SESSIONS, scanned=[],
                         symptom_slope=-4.0, outcome_sd_session=0.3, seed=SEED)
    base = root / "questionnaires_only.db"
    with create_study(base, user="tester") as study:
        for d in sim.truth["dyads"]:
            study.add_dyad(d["dyad"], therapist=d["therapist"], patient=d["patient"])
        for s in sim.truth["sessions"]:
            study.add_session(s["dyad"], s["session"], date=s["date"])
        import_responses(study, sim.questionnaires_path)
    full = root / "with_synchrony.db"
    shutil.copy(base, full)
    with open_study(full, user="tester") as study:
        plant_synchrony(study, {(s["dyad"], s["session"]): s["coupling"]
                                for s in sim.truth["sessions"]}, seed=SEED)
    fitted = root / "fitted.db"
    shutil.copy(full, fitted)
    with open_study(fitted, user="tester") as study:
        study.fit_models()
    return {"base": base, "full": full, "fitted": fitted, "truth": sim.truth_path}


def _copy(src: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    folder.mkdir()
    dst = folder / "study.db"
    shutil.copy(src, dst)
    return dst


def _terms(results: dict[str, pd.DataFrame], model: str) -> pd.DataFrame:
    terms = results["terms"]
    return terms.loc[terms["model"] == model].set_index("term")


# --------------------------------------------------------------------------------------------
# end to end
# --------------------------------------------------------------------------------------------


def test_end_to_end_planted_effects(simulated, tmp_path):
    """The stored fits recover the planted effects (signs and clear significance)."""
    truth = json.loads(simulated["truth"].read_text())
    assert truth["parameters"]["growth"] > 0 and truth["parameters"]["symptom_slope"] < 0
    cli = Cli(_copy(simulated["full"], tmp_path))
    result = cli("models", "fit", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert {r["model"] for r in summary} >= {
        "growth", "growth_true_vs_pseudo", "outcome:symptoms", "outcome:symptoms:lag1",
        "alliance:symptoms", "compare:symptoms", "rm_corr", "growth_roi:A-A", "growth_roi:B-B",
        "outcome:wellbeing", "outcome:session_quality:lag1"}
    assert all(r["status"] == "ok" for r in summary), summary
    with open_study(cli.db) as study:
        res = study.model_results()
    growth = _terms(res, "growth").loc["session"]
    assert growth["estimate"] > 0 and growth["p"] < 0.01
    assert growth["estimate"] == pytest.approx(truth["parameters"]["growth"], abs=0.03)
    interaction = _terms(res, "growth_true_vs_pseudo")
    assert interaction.loc["session:pair", "estimate"] > 0
    assert interaction.loc["session:pair", "p"] < 0.01
    assert abs(interaction.loc["session", "estimate"]) < 0.02  # pseudo pairs do not grow
    symptoms = _terms(res, "outcome:symptoms").loc["synchrony_within"]
    assert symptoms["estimate"] < 0 and symptoms["p"] < 0.05
    rm = _terms(res, "rm_corr")
    assert rm.loc["synchrony~symptoms", "estimate"] < 0
    assert set(rm.index) == {"synchrony~symptoms", "synchrony~wellbeing", "synchrony~alliance",
                             "synchrony~session_quality"}
    roi = res["roi"].set_index("therapist_roi")
    assert roi.loc["A", "slope"] > 0 and roi.loc["A", "p_fdr"] < 0.01
    assert roi.loc["B", "p_fdr"] > 0.05
    assert (roi["p_fdr"] >= roi["p"] - 1e-15).all()
    constructs = res["constructs"].set_index("construct")
    assert constructs.loc["symptoms", "instrument"] == "gad7"
    assert constructs.loc["alliance", ["role", "timing"]].tolist() == ["patient", "post"]


def test_stored_numbers_equal_an_independent_refit(simulated, tmp_path):
    """``models data`` CSV -> direct calls of the pure model functions give the stored numbers;
    the true-vs-pseudo interaction agrees with statsmodels' formula MixedLM."""
    cli = Cli(_copy(simulated["full"], tmp_path))
    assert cli("models", "fit").exit_code == 0
    out = tmp_path / "analysis.csv"
    result = cli("models", "data", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "the same table as the stored models run" in result.output
    with open_study(cli.db) as study:
        res = study.model_results()
        run = study.model_run()
    assert hashlib.sha256(out.read_bytes()).hexdigest() == run["input_hashes"][
        "analysis_table"]
    data = pd.read_csv(out)
    assert len(data) == N_DYADS * N_SESSIONS

    def check(model: str, fixed: pd.DataFrame) -> None:
        stored = _terms(res, model)
        for row in fixed.itertuples(index=False):
            got = stored.loc[row[0]]
            np.testing.assert_allclose(
                got[["estimate", "se", "df", "t", "p", "ci_low", "ci_high"]].to_numpy(float),
                np.array(row[1:8], dtype=float), rtol=1e-9, atol=1e-12, err_msg=model)

    check("growth", growth_model(data, "synchrony", "session", "dyad").fixed)
    check("outcome:symptoms", outcome_model(data, "symptoms", "synchrony", "session",
                                            "dyad").fixed)
    check("outcome:wellbeing:lag1", outcome_model(data, "wellbeing", "synchrony", "session",
                                                  "dyad", lag=1).fixed)
    check("alliance:session_quality", outcome_model(data, "session_quality", "alliance",
                                                    "session", "dyad").fixed)
    comp = compare_predictors(data, "symptoms", "synchrony", "alliance", "session", "dyad")
    check("compare:symptoms", comp.fixed)
    check("compare:symptoms", comp.contrasts)
    roi = data[["dyad", "session", "synchrony.A.A"]].rename(columns={"synchrony.A.A": "y"})
    check("growth_roi:A-A", growth_model(roi, "y", "session", "dyad").fixed)
    rm = rm_correlations(data, "synchrony", ["symptoms", "wellbeing", "alliance",
                                             "session_quality"], "dyad")
    stored_rm = _terms(res, "rm_corr")
    for row in rm.itertuples(index=False):
        got = stored_rm.loc[f"synchrony~{row.y}"]
        assert got["estimate"] == pytest.approx(row.r, rel=1e-12)
        assert got["p"] == pytest.approx(row.p, rel=1e-9)
        assert got["p_fdr"] == pytest.approx(row.p_fdr, rel=1e-9)
        assert got["df"] == row.dof
    # ROI p_fdr: Benjamini-Hochberg of the two stored session-slope p-values
    roi_p = res["roi"].set_index("therapist_roi")
    np.testing.assert_allclose(roi_p["p_fdr"], fdr(roi_p["p"].to_numpy()), rtol=1e-12)

    # true vs pseudo: stacked by hand and fitted by statsmodels' formula interface (REML)
    import statsmodels.formula.api as smf

    true = data[["dyad", "session", "synchrony"]].assign(pair=1)
    pseudo = data[["dyad", "session", "synchrony_pseudo"]].rename(
        columns={"synchrony_pseudo": "synchrony"}).assign(pair=0)
    stacked = pd.concat([true, pseudo], ignore_index=True)
    with warnings.catch_warnings():
        # the dyad variance is near 0 here; statsmodels says so, its estimates still stand
        warnings.simplefilter("ignore")
        peer = smf.mixedlm("synchrony ~ session * pair", stacked, groups="dyad").fit(reml=True)
    stored = _terms(res, "growth_true_vs_pseudo")
    for ours, theirs in (("(Intercept)", "Intercept"), ("session", "session"),
                         ("pair", "pair"), ("session:pair", "session:pair")):
        assert stored.loc[ours, "estimate"] == pytest.approx(peer.fe_params[theirs], rel=1e-4,
                                                             abs=1e-6)
        assert stored.loc[ours, "se"] == pytest.approx(peer.bse[theirs], rel=1e-3)


def test_new_fit_replaces_previous_run_and_is_audited(simulated, tmp_path):
    """Only the latest models run is kept; each fit is one audit row; the chain stays intact."""
    db = _copy(simulated["full"], tmp_path)
    with open_study(db, user="tester") as study:
        first = study.fit_models()
        second = study.fit_models({"lag": 2})
        runs = study.db.conn.execute(
            "SELECT id FROM analysis_runs WHERE kind = 'models'").fetchall()
        assert runs == [(second.run_id,)]
        n_fits = study.db.conn.execute("SELECT count(*) FROM model_fits").fetchone()[0]
        assert n_fits == len(second.fits)
        names = set(study.model_results()["fits"]["model"])
        assert "outcome:symptoms:lag2" in names and "outcome:symptoms:lag1" not in names
        audit = study.audit(limit=None)
        fits = audit.loc[(audit["action"] == "fit") & (audit["entity"] == "models")]
        assert len(fits) == 2
        latest = json.loads(fits.iloc[0]["new"])
        assert json.loads(fits.iloc[0]["old"]) == {"runs": [first.run_id]}
        assert latest["run"] == second.run_id and latest["fits"] == len(second.fits)
        assert study.verify_audit() == []
        # Python API mirrors: the table the run used is the table built now
        pd.testing.assert_frame_equal(study.analysis_table({"lag": 2}), second.table.frame)
        stored = study.model_run()
        assert stored["config"]["lag"] == 2
        assert stored["input_hashes"]["synchrony_runs"] == ["c" * 64]
        assert stored["versions"]["statsmodels"]


# --------------------------------------------------------------------------------------------
# degenerate cases
# --------------------------------------------------------------------------------------------


def test_no_synchrony_fits_what_is_possible(simulated, tmp_path):
    """Without synchrony: the alliance models are fitted, the rest is skipped with plain notes."""
    cli = Cli(_copy(simulated["base"], tmp_path))
    result = cli("models", "fit")
    assert result.exit_code == 0, result.output
    assert "growth models skipped: no hbo synchrony stored" in result.output
    assert "outcome:symptoms skipped: no hbo synchrony stored" in result.output
    assert "rm_corr skipped" in result.output
    with open_study(cli.db) as study:
        res = study.model_results()
    assert set(res["fits"]["model"]) == {"alliance:symptoms", "alliance:wellbeing",
                                         "alliance:session_quality"}
    assert (res["fits"]["status"] == "ok").all()
    assert "growth models skipped" in res["run"].loc[0, "notes"]


def _small_study(db: Path, n_dyads: int, constant_srs: bool = False) -> None:
    """``n_dyads`` dyads x 4 sessions, GAD-7 varying and SRS constant if asked, synchrony."""
    from studymgr.runs.entry import import_responses

    rng = np.random.default_rng(5)
    rows, true_values = [], {}
    with create_study(db, user="tester") as study:
        for i in range(n_dyads):
            d = f"D{i + 1:02d}"
            study.add_dyad(d, therapist="T01", patient=f"P{i + 1:02d}")
            for n in range(1, 5):
                study.add_session(d, n)
                true_values[(d, n)] = float(np.clip(0.2 + 0.05 * n + rng.normal(0, .03), 0, 1))
                gad = rng.integers(0, 4, 7)
                rows.append({"dyad": d, "session": n, "role": "patient", "timing": "pre",
                             "instrument": "gad7", **{f"i{k + 1}": v for k, v in enumerate(gad)}})
                srs = [7, 7, 7, 7] if constant_srs else rng.integers(3, 10, 4)
                rows.append({"dyad": d, "session": n, "role": "patient",
                             "timing": "post", "instrument": "srs",
                             **{f"i{k + 1}": v for k, v in enumerate(srs)}})
        path = db.parent / "q.csv"
        pd.DataFrame(rows).astype({f"i{k}": "Int64" for k in range(1, 8)}).to_csv(path,
                                                                                  index=False)
        import_responses(study, path)
        path.unlink()
        plant_synchrony(study, true_values, pseudo=False, roi=False)


def test_constant_outcome_is_recorded_as_failed(tmp_path):
    """A constant outcome fails its models with the model layer's message; the rest is stored
    and the command exits 0."""
    folder = tmp_path / "study"
    folder.mkdir()
    _small_study(folder / "study.db", n_dyads=4, constant_srs=True)
    cli = Cli(folder / "study.db")
    result = cli("models", "fit")
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert re.search(r"outcome:session_quality(, [a-z_:]+)* failed: outcome 'session_quality' "
                     r"is constant", flat), flat
    assert "growth_true_vs_pseudo skipped: no pseudo-dyad synchrony stored" in result.output
    with open_study(cli.db) as study:
        res = study.model_results()
    fits = res["fits"].set_index("model")
    assert fits.loc["outcome:session_quality", "status"] == "failed"
    assert "constant" in fits.loc["outcome:session_quality", "message"]
    assert fits.loc["outcome:session_quality", "formula"] == (
        "session_quality ~ session + synchrony_within + synchrony_between + (1 | dyad)")
    assert fits.loc["growth", "status"] == "ok" and fits.loc["outcome:symptoms", "status"] == "ok"
    assert _terms(res, "outcome:session_quality").empty
    rm = _terms(res, "rm_corr")
    assert list(rm.index) == ["synchrony~symptoms"]  # the constant one failed, noted
    assert "synchrony~session_quality failed" in fits.loc["rm_corr", "message"]
    show = cli("models", "show", "--model", "outcome:session_quality")
    assert "== outcome:session_quality (failed) ==" in show.output
    assert "Failed: outcome 'session_quality' is constant" in show.output


def test_run_stored_before_v4_reads_respondent_as_role(study):
    """A models run stored before schema v4 names the role of a construct's source
    ``respondent``; it is read back as ``role`` (the stored JSON is left as it was)."""
    old_source = {"instrument": "gad7", "version": "2006", "scale": "total",
                  "respondent": "patient", "timing": "pre", "n_responses": 4, "n_in_table": 4,
                  "chosen": "default"}
    config = {"constructs": {"symptoms": {"instrument": None, "scale": None,
                                          "respondent": "patient", "timing": "pre"}},
              "sources": {"symptoms": old_source}}
    study._save_model_run(config=config, config_hash="0" * 64, input_hashes={}, versions={},
                          notes=[], fits=[], started_at="2025-01-01T00:00:00Z")
    run = study.model_run()
    assert run["config"]["sources"]["symptoms"]["role"] == "patient"
    assert run["config"]["constructs"]["symptoms"]["role"] == "patient"
    assert "respondent" not in run["config"]["sources"]["symptoms"]
    constructs = study.model_results()["constructs"].set_index("construct")
    assert constructs.loc["symptoms", ["role", "timing"]].tolist() == ["patient", "pre"]
    stored = study.db.conn.execute("SELECT config FROM analysis_runs").fetchone()[0]
    assert json.loads(stored) == config


def test_one_dyad_nothing_fitted_exit_2_store_unchanged(tmp_path):
    """With one dyad no mixed model or rm_corr is possible: exit 2, one line, nothing stored."""
    folder = tmp_path / "study"
    folder.mkdir()
    _small_study(folder / "study.db", n_dyads=1)
    cli = Cli(folder / "study.db")
    before = snapshot(folder)
    result = cli("models", "fit")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("Error: no model could be fitted: ")
    assert "need at least 3 dyads" in result.stderr and len(result.stderr.splitlines()) == 1
    # identical failures are reported once, naming the models (mixed models, rm_corr)
    assert result.stderr.count("need at least 3 dyads with complete data for a mixed") == 2
    assert "growth, outcome:symptoms, outcome:symptoms:lag1" in result.stderr
    assert snapshot(folder) == before
    with open_study(cli.db) as study, pytest.raises(InputError, match="no model could be"):
        study.fit_models()


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def test_cli_show_and_data(simulated, tmp_path):
    cli = Cli(_copy(simulated["full"], tmp_path))
    empty = cli("models", "show")
    assert empty.exit_code == 0 and "No models fitted yet" in empty.output
    assert json.loads(cli("models", "show", "--json").output)["run"] is None
    assert cli("models", "fit", "--instrument", "symptoms=gad7").exit_code == 0
    text = cli("models", "show").output
    assert "== growth (ok) ==" in text
    # with this seed the random-slope fit is singular: the fallback is shown in plain words
    growth_block = text.split("== growth (ok) ==")[1].split("==")[0]
    assert growth_block.splitlines()[1] == "synchrony ~ session + (1 | dyad)"
    assert "Fit notes:\n  - random slope for 'session' dropped: the (1 + session | dyad) fit " \
           "was singular" in growth_block
    assert "Fixed effects (t-tests on Satterthwaite df, 95% CI):" in text
    assert "symptoms: gad7@2006 scale total (patient-rated, pre-session" in text
    assert "== growth per ROI pair (Benjamini-Hochberg across ROI pairs) ==" in text
    doc = json.loads(cli("models", "show", "--json").output)
    assert doc["run"]["config"]["constructs"]["symptoms"]["instrument"] == "gad7"
    growth = next(m for m in doc["models"] if m["model"] == "growth")
    assert [t["term"] for t in growth["fixed"]] == ["(Intercept)", "session"]
    assert growth["random"][-1]["group"] == "Residual"
    compare = next(m for m in doc["models"] if m["model"] == "compare:symptoms")
    assert compare["fixed"][-1]["term"] == "synchrony_within_z - alliance_within_z"
    csv = cli("models", "show", "--csv", "--model", "growth").output.splitlines()
    assert csv[0] == "model,term,estimate,se,df,t,p,ci_low,ci_high,p_fdr"
    assert len(csv) == 3 and csv[2].startswith("growth,session,")
    stdout = cli("models", "data")  # to standard output, the hash on stderr
    assert stdout.stdout.startswith("dyad,session,kind,synchrony,synchrony_pseudo,n_pseudo,")
    assert "the same table as the stored models run" in stdout.stderr
    hbr = cli("models", "data", "--chromophore", "hbr", "--out", str(tmp_path / "hbr.csv"))
    assert "differs from the stored models run's table" in hbr.output
    assert pd.read_csv(tmp_path / "hbr.csv")["synchrony"].isna().all()


@pytest.mark.parametrize("args, message", [
    (["models", "fit", "--config", "{cfg}"], "unknown construct 'mood'"),
    (["models", "fit", "--instrument", "mood=gad7"], "unknown construct 'mood'"),
    (["models", "fit", "--instrument", "symptoms"], "expected CONSTRUCT=INSTRUMENT"),
    (["models", "fit", "--instrument", "symptoms=nope"], "instrument 'nope' has no scores"),
    (["models", "fit", "--config", "{bad_json}"], "is not valid JSON"),
    (["models", "fit", "--config", "{missing}"], "not found"),
    (["models", "data", "--out", "{no_folder}"], "does not exist"),
    (["models", "data", "--out", "{a_folder}"], "is a directory"),
    (["models", "show", "--model", "nope"], "no model 'nope' in the stored run"),
])
def test_cli_bad_input_one_line_exit_2_unchanged(simulated, tmp_path, args, message):
    """Bad input: one line on stderr, exit 2, nothing on stdout, the study folder unchanged."""
    db = _copy(simulated["fitted"], tmp_path)
    cli = Cli(db)
    files = {"cfg": tmp_path / "cfg.json", "bad_json": tmp_path / "bad.json",
             "missing": tmp_path / "missing.json", "no_folder": tmp_path / "nope" / "a.csv",
             "a_folder": tmp_path}
    files["cfg"].write_text(json.dumps({"constructs": {"mood": {"instrument": "gad7"}}}))
    files["bad_json"].write_text("{constructs: ")
    args = [a.format(**{k: str(v) for k, v in files.items()}) for a in args]
    before = snapshot(db.parent)
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1
    assert message in result.stderr
    assert snapshot(db.parent) == before
    assert not (tmp_path / "nope").exists()
