"""The longitudinal report: content, numbers, figures, missing pieces, PDF and the CLI.

Independent references:

- the stored model results (``Study.model_results()``), compared with the numbers the report
  prints (every numeric cell of an APA table carries its full-precision value in ``data-value``);
- the analysis table summarised with plain pandas (descriptives);
- statsmodels' own ``MixedLM`` (formula interface): its BLUPs for given parameters, and the
  standard error of the model-implied mean at each session from its fixed-effects covariance;
- hand-made study states for the session flow and the completeness grid.

The study is simulated (SNIRF files written by
:func:`studymgr.compute.simulate.study.simulate_study`,
imported through the scans API); its synchrony is planted through ``Study.save_synchrony``
(the wavelet pipeline is tested elsewhere and too slow here), from the simulation's true
coupling with a real :class:`SynchronyConfig` stored beside it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from studymgr import create_study, open_study
from tests.conftest import Cli, snapshot

N_DYADS, N_SESSIONS, SEED = 4, 4, 21
ROIS = (("S1_D1", "left"), ("S2_D1", "left"), ("S2_D2", "right"))
IDENTIFYING = {"firstName": b"Alice", "lastName": b"Example", "DateOfBirth": b"1980-02-03",
               "SubjectAge": 44}
_BUILT: dict[str, Path] = {}


# --------------------------------------------------------------------------------------------
# the shared simulated study (built once per test run, used by test_report and test_export)
# --------------------------------------------------------------------------------------------


def add_identifying_tags(path: Path) -> None:
    """Give a SNIRF file the header fields a real device writes about a person."""
    with h5py.File(path, "a") as f:
        tags = f["nirs/metaDataTags"]
        for key, value in IDENTIFYING.items():
            if isinstance(value, bytes):  # as real devices write them: one-element arrays
                tags.create_dataset(key, data=np.array([value], dtype=h5py.string_dtype()))
            else:
                tags.create_dataset(key, data=value)


def plant_synchrony(study, values: dict[tuple[str, int], float], seed: int = 0) -> None:
    """Store session, ROI and pseudo-pair synchrony for sessions with both recordings.

    True session value as given; ROI pairs left-left = the true value + noise (grows like it),
    every other ROI pair and every pseudo pair flat noise; permutation tests from the pipeline's
    own :func:`permutation_tests`. The stored configuration is a real SynchronyConfig.
    """
    from studymgr.runs.synchrony import SynchronyConfig, permutation_tests

    config = SynchronyConfig(montage=ROIS, seed=seed)
    rng = np.random.default_rng(seed)
    scans = study.scans()
    ids = {}
    for r in scans.itertuples(index=False):
        sid = study.session_id(r.dyad, int(r.session))
        ids[(r.dyad, int(r.session), r.role)] = study.db.conn.execute(
            "SELECT id FROM scans WHERE session_id = ? AND role = ?", (sid, r.role)).fetchone()[0]
    for (d, n), value in values.items():
        if (d, n, "therapist") not in ids or (d, n, "patient") not in ids:
            continue
        t, p = ids[(d, n, "therapist")], ids[(d, n, "patient")]
        rows = [("true", t, p, "session", "all", "all", value)]
        for rt in ("left", "right"):
            for rp in ("left", "right"):
                v = value + rng.normal(0, .02) if rt == rp == "left" else 0.3 + rng.normal(0, .03)
                rows.append(("true", t, p, "roi", rt, rp, float(np.clip(v, 0, 1))))
        for (o, m), _ in values.items():
            if m != n or o == d or (o, m, "patient") not in ids:
                continue
            q = ids[(o, m, "patient")]
            rows.append(("pseudo", t, q, "session", "all", "all",
                         float(np.clip(0.25 + rng.normal(0, .03), 0, 1))))
            rows += [("pseudo", t, q, "roi", rt, rp, float(np.clip(0.25 + rng.normal(0, .03),
                                                                   0, 1)))
                     for rt in ("left", "right") for rp in ("left", "right")]
        frame = pd.DataFrame(rows, columns=["pair", "therapist_scan", "patient_scan", "level",
                                            "therapist_unit", "patient_unit", "value"])
        frame.insert(3, "chromophore", "hbo")
        study.save_synchrony(session_id=study.session_id(d, n), label=f"{d}/{n}",
                             config=config.to_dict(), config_hash=config.config_hash(),
                             input_hashes={}, versions={"mne": "1.0-test"}, results=frame,
                             tests=permutation_tests(frame), warnings=[])


def built_study(tmp_path_factory) -> Path:
    """A simulated study (4 dyads x 4 sessions, one therapist) with every piece a report shows:
    questionnaires, 31 recordings (D04's session-4 patient recording is never imported), a
    fifth D01 session that did not take place, rater events, planted synchrony (true, pseudo,
    ROI) and fitted models. One recording carries identifying SNIRF header fields.

    Built once; returns the folder holding ``study.db`` and ``sim/`` (treat as read-only:
    copy it with :func:`copy_study` before changing anything)."""
    if "study" in _BUILT:
        return _BUILT["study"]
    from studymgr.compute.simulate.study import simulate_study
    from studymgr.runs.entry import import_responses

    root = tmp_path_factory.mktemp("report_study")
    sim = simulate_study(root / "sim", n_dyads=N_DYADS, n_sessions=N_SESSIONS,
                         baseline_coupling=0.3, growth=0.06, symptom_slope=-4.0,
                         outcome_sd_session=0.3, duration_s=360, sfreq=5.0, n_channels=3,
                         motion_spikes=0, seed=SEED)
    with create_study(root / "study.db", name="haifa", user="tester") as study:
        for d in sim.truth["dyads"]:
            study.add_dyad(d["dyad"], therapist=d["therapist"], patient=d["patient"])
        for s in sim.truth["sessions"]:
            study.add_session(s["dyad"], s["session"], date=s["date"])
        study.add_session("D01", 5, date="2025-02-24", attended=False)
        import_responses(study, sim.questionnaires_path)
        for row in sim.recordings.itertuples():
            if (row.dyad, row.session, row.role) == ("D04", 4, "patient"):
                continue
            path = sim.out_dir / row.path
            if (row.dyad, row.session, row.role) == ("D01", 1, "patient"):
                add_identifying_tags(path)
            study.import_scan(row.dyad, int(row.session), row.role, path)
        events = root / "events.csv"
        events.write_text("onset,duration,label,rater\n12.5,0,moment_of_interest,R1\n"
                          "40,5,no_interest,R2\n100.2,0,moment_of_interest,R2\n")
        study.import_events("D01", 1, events)
        plant_synchrony(study, {(s["dyad"], s["session"]): s["coupling"]
                                for s in sim.truth["sessions"]}, seed=SEED)
        study.fit_models()
    _BUILT["study"] = root
    return root


def copy_study(src: Path, dst: Path) -> Path:
    """Copy the database and its data folder; returns the new database path."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "study.db", dst / "study.db")
    shutil.copytree(src / "study_data", dst / "study_data")
    return dst / "study.db"


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    return built_study(tmp_path_factory)


@pytest.fixture(scope="module")
def document(full):
    """The report's content for the shared study, built once (rendered by the tests)."""
    import matplotlib

    from studymgr.present.figures import rc
    from studymgr.present.report import build_document

    with open_study(full / "study.db") as study, matplotlib.rc_context(rc()):
        doc = build_document(study)
        res = study.model_results()
    yield doc, res
    doc.close()


@pytest.fixture(scope="module")
def html_report(document) -> tuple[str, dict]:
    import matplotlib

    from studymgr.present.figures import rc
    from studymgr.present.report.html import render_html

    doc, res = document
    with matplotlib.rc_context(rc()):
        return render_html(doc), res


def table_rows(html: str, key: str, value: str) -> list[tuple[str, dict[int, str]]]:
    """Rows of the APA table whose figure has ``data-<key>="<value>"``: ``(first cell text,
    {column index: data-value})``."""
    m = re.search(rf'<figure class="apa-table"[^>]*data-{key}="{re.escape(value)}">(.*?)'
                  r"</figure>", html, re.S)
    assert m, f"no table with data-{key}={value}"
    out = []
    for row in re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S):
        cells = re.findall(r'<td[^>]*?(?: data-value="([^"]*)")?>(.*?)</td>', row, re.S)
        if not cells:  # the header row
            continue
        label = re.sub("<[^>]+>", "", cells[0][1])
        out.append((label, {j: v for j, (v, _) in enumerate(cells) if v}))
    return out


def data_values(html: str, model: str) -> dict[str, dict[int, str]]:
    """``{row label: {column index: data-value}}`` of the APA table of ``model``."""
    return dict(table_rows(html, "model", model))


# --------------------------------------------------------------------------------------------
# the full report
# --------------------------------------------------------------------------------------------


def test_every_section_and_figure_is_there_and_self_contained(html_report):
    html, _ = html_report
    from studymgr.present.report.sections import SECTIONS

    for ident, title in SECTIONS:
        assert f'<section id="{ident}"><h2>{title}</h2>' in html
    n_img = html.count('<img src="data:image/png;base64')
    # flow, grid, quality, synchrony, ROI, outcomes, forest, diagnostics
    assert n_img == 8, n_img
    assert "could not be drawn" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html) and "<script" not in html
    assert "<link" not in html
    # what a reader needs to see, in words
    assert "4 dyads (1 therapist, 4 patients) with 17 sessions (16 held, 1 missed" in html
    assert "the patient's recording is missing" in html  # D04/4
    assert "did not take place" in html
    assert "Check: the refit from the same analysis table" in html


def test_model_tables_show_the_stored_numbers(html_report):
    """Every numeric cell of each model's table holds exactly the stored value."""
    from studymgr.present.tables import term_label

    html, res = html_report
    fits = res["fits"].set_index("model")
    models = [m for m in fits.index if fits.loc[m, "status"] == "ok"
              and not m.startswith("growth_roi") and m != "rm_corr"]
    assert {"growth", "growth_true_vs_pseudo", "outcome:symptoms", "compare:wellbeing"} <= \
        set(models)
    for model in models:
        values = data_values(html, model)
        terms = res["terms"].loc[res["terms"]["model"] == model]
        for t in terms.itertuples(index=False):
            got = values[term_label(t.term)]
            assert float(got[1]) == t.estimate and float(got[2]) == t.se
            assert [float(x) for x in got[3].split(",")] == [t.ci_low, t.ci_high]
            assert float(got[4]) == t.df and float(got[5]) == t.t and float(got[6]) == t.p
        fit = fits.loc[model]
        assert int(float(values["N dyads"][1])) == fit["n_groups"]
        assert int(float(values["Observations"][1])) == fit["n_obs"]
        assert float(values["ICC (null model)"][1]) == fit["icc"]
        assert float(values["R2 marginal"][1]) == fit["r2_marginal"]
    # the growth sentence quotes the stored slope, formatted as the table formats it
    from studymgr.present.tables import decimals_for, fmt_num

    slope = res["terms"].set_index(["model", "term"]).loc[("growth", "session")]
    assert (f"<i>b</i> = {fmt_num(slope['estimate'], decimals_for(slope['se']))} per session"
            in html)


def test_roi_and_descriptive_tables_match_independent_summaries(html_report, full):
    html, res = html_report
    roi = table_rows(html, "model", "roi")
    stored = res["roi"]
    assert len(roi) == len(stored) == 4  # left/right x left/right
    assert sorted(float(v[2]) for _, v in roi) == sorted(stored["slope"].tolist())
    assert sorted(float(v[6]) for _, v in roi) == sorted(stored["p_fdr"].tolist())
    left = stored.set_index(["therapist_roi", "patient_roi"]).loc[("left", "left")]
    assert left["slope"] > 0 and left["p_fdr"] >= left["p"]
    # descriptives: mean per session recomputed with pandas from the analysis table
    with open_study(full / "study.db") as study:
        table = study.analysis_table()
    m = re.search(r'data-table="descriptives">(.*?)</figure>', html, re.S)
    cells = re.findall(r'data-value="([^"]*)"', m.group(1))
    expected = []
    for col in ("synchrony", "synchrony_pseudo", "symptoms", "wellbeing", "alliance",
                "session_quality"):
        for _, v in [*table.groupby("session")[col], ("All", table[col])]:
            v = v.dropna()
            if len(v):
                expected += [len(v), v.mean(), v.std(ddof=1)]
    assert np.allclose([float(c) for c in cells], expected, rtol=1e-12)


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.ConvergenceWarning")
def test_mean_band_and_blups_by_independent_computations(full):
    """The model-implied mean equals b0 + b1 * session of the stored terms, and its SE equals
    the textbook GLS one, sqrt(L (X' V^-1 X)^-1 L'), with V built from the fitted variance
    components; the BLUPs of :func:`conditional_effects` equal statsmodels' MixedLM's for the
    same parameters."""
    import statsmodels.formula.api as smf
    from scipy.linalg import block_diag

    from studymgr.compute.models import growth_model
    from studymgr.present.report.diagnostics import (
        conditional_effects,
        covariance_from_random,
        mean_trajectory,
    )

    with open_study(full / "study.db") as study:
        table = study.analysis_table()
        terms = study.model_results()["terms"].set_index(["model", "term"])
    data = table[["dyad", "session", "synchrony"]].dropna().sort_values(["dyad", "session"])
    ours = growth_model(data, "synchrony", "session", "dyad")
    sessions = np.arange(1, 5)
    band = mean_trajectory(ours, sessions)
    b0 = terms.loc[("growth", "(Intercept)"), "estimate"]
    b1 = terms.loc[("growth", "session"), "estimate"]
    assert np.allclose(band["estimate"], b0 + b1 * sessions, rtol=1e-10)
    assert (band["ci_low"] < band["estimate"]).all() and (band["estimate"] < band["ci_high"]).all()
    z = [v for v in ours.random["var1"].dropna().unique()]
    G, s2 = covariance_from_random(ours.random, z)
    blocks = []
    for _, part in data.groupby("dyad", sort=True):
        Z = np.column_stack([np.ones(len(part))] + [part["session"].to_numpy(float)] *
                            (len(z) - 1))
        blocks.append(Z @ G @ Z.T + s2 * np.eye(len(part)))
    V = block_diag(*blocks)
    X = np.column_stack([np.ones(len(data)), data["session"].to_numpy(float)])
    cov = np.linalg.inv(X.T @ np.linalg.solve(V, X))
    L = np.column_stack([np.ones(4), sessions])
    assert np.allclose(band["se"], np.sqrt(np.einsum("ij,jk,ik->i", L, cov, L)), rtol=1e-6)
    # BLUPs for statsmodels' own parameters (whatever they are)
    sm = smf.mixedlm("synchrony ~ session", data, groups=data["dyad"],
                     re_formula="~session").fit(reml=True, method="lbfgs")
    beta = pd.Series(sm.fe_params.to_numpy(), index=["(Intercept)", "session"])
    cond = conditional_effects(data, "synchrony", ["(Intercept)", "session"],
                               ["(Intercept)", "session"], "dyad", beta,
                               np.asarray(sm.cov_re), sm.scale)
    for dyad, effects in sm.random_effects.items():
        mine = cond.effects.loc[cond.effects["group"] == dyad, "estimate"].to_numpy()
        assert np.allclose(mine, effects.to_numpy(), rtol=1e-6, atol=1e-12)
    fitted = cond.rows["fitted"].to_numpy()
    assert np.allclose(fitted, sm.fittedvalues.to_numpy(), rtol=1e-8)


def test_methods_come_from_the_stored_configurations(html_report):
    import mne

    html, res = html_report
    m = re.search(r'<section id="methods">(.*?)</section>', html, re.S)
    text = re.sub("<[^>]+>", "", m.group(1))
    for fragment in ("scalp coupling index", "fell below 0.5", "TDDR",
                     "partial pathlength factor 6", "between 0.01 Hz and 0.5 Hz",
                     "0.05-0.1 Hz (periods 10-20 s)", "ω0 = 6", "12 scales per octave",
                     "2 regions of interest", "seed 21", "Satterthwaite", "gad7 (version 2006",
                     "synchrony ~ session", "Kuznetsova", f"MNE-Python {mne.__version__}",
                     "Benjamini"):
        assert fragment in text, fragment
    run_hash = res["run"].iloc[0]["analysis_table"]
    assert run_hash in text


def test_pdf_report_has_every_page(document, tmp_path):
    import matplotlib

    from studymgr.present.figures import rc
    from studymgr.present.report.pdf import render_pdf

    doc, _ = document
    out = tmp_path / "report.pdf"
    with matplotlib.rc_context(rc()):
        render_pdf(doc, out)
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    # a page per figure (8), plus the text pages
    assert len(re.findall(rb"/Type /Page\b", data)) >= 16


# --------------------------------------------------------------------------------------------
# missing pieces
# --------------------------------------------------------------------------------------------


def _report(study, tmp_path) -> str:
    from studymgr.present.report import write_report

    out = tmp_path / "r.html"
    write_report(study, out)
    html = out.read_text(encoding="utf-8")
    assert "could not be drawn" not in html
    for ident in ("glance", "quality", "synchrony", "roi", "outcomes", "diagnostics",
                  "methods", "provenance"):
        assert f'<section id="{ident}">' in html
    return html


def test_empty_study_says_what_to_do(study, tmp_path):
    html = _report(study, tmp_path)
    assert "The study has no dyads yet" in html
    assert "No fNIRS recordings imported yet" in html
    assert "No models fitted yet" in html
    assert html.count("<img") == 0


def test_one_dyad_without_scans_or_models(study, tmp_path):
    from studymgr.runs.entry import enter_response

    study.add_dyad("D01", therapist="T01", patient="P01")
    for n in (1, 2, 3):
        study.add_session("D01", n, date=f"2025-03-0{n}")
        enter_response(study, "D01", n, "gad7", role="patient", timing="pre",
                       items=[n % 4, 1, 2, 0, 1, 2, 3])
    html = _report(study, tmp_path)
    assert "No fNIRS recordings imported yet" in html
    assert "No HbO synchrony stored yet" in html
    assert "No models fitted yet" in html
    assert "Not entered: wellbeing, session quality, alliance." in html
    assert html.count('<img src="data:image/png;base64') == 3  # flow, grid, questionnaires


def test_failed_model_and_unscored_recordings_are_reported(tmp_path):
    """Three dyads whose session quality is constant: its models fail and the report says
    why; the other models are shown. The scans rows have no quality (planted, no files)."""
    from studymgr.runs.entry import import_responses

    rng = np.random.default_rng(3)
    rows, values = [], {}
    with create_study(tmp_path / "s.db", user="tester") as study:
        for i in range(3):
            d = f"D{i + 1}"
            study.add_dyad(d, therapist="T1", patient=f"P{i + 1}")
            for n in range(1, 5):
                study.add_session(d, n)
                values[(d, n)] = 0.3 + 0.04 * n + rng.normal(0, .02)
                rows.append({"dyad": d, "session": n, "role": "patient", "timing": "pre",
                             "instrument": "gad7",
                             **{f"i{k + 1}": int(v) for k, v in enumerate(rng.integers(0, 4, 7))}})
                rows.append({"dyad": d, "session": n, "role": "patient", "timing": "post",
                             "instrument": "srs", **{f"i{k + 1}": 7 for k in range(4)}})
        q = tmp_path / "q.csv"
        pd.DataFrame(rows).astype({f"i{k}": "Int64" for k in range(1, 8)}).to_csv(q, index=False)
        import_responses(study, q)
        _planted_scans(study, values)
        study.fit_models()
        html = _report(study, tmp_path)
    assert "Model outcome:session_quality could not be fitted: outcome 'session_quality' is " \
           "constant" in html
    assert 'data-model="growth"' in html and 'data-model="outcome:symptoms"' in html
    assert "outcome:session_quality: could not be fitted" in html  # plain-word fit notes


def _planted_scans(study, values):
    """Scans rows without files (test helper only) and session synchrony for them."""
    for (d, n), v in values.items():
        sid = study.session_id(d, n)
        ids = []
        for role in ("therapist", "patient"):
            code = study.dyad_members(d)[role]
            pid = study.db.conn.execute("SELECT id FROM people WHERE code = ?",
                                        (code,)).fetchone()[0]
            with study.transaction():
                ids.append(study.db.conn.execute(
                    "INSERT INTO scans (session_id, person_id, role, format, path, sha256, "
                    "size_bytes, sfreq, n_channels, channels, duration_s, imported_by, "
                    "imported_at) VALUES (?, ?, ?, 'snirf', ?, ?, 1, 10.0, 2, '[]', 300.0, "
                    "'tester', '2025-01-01T00:00:00Z')",
                    (sid, pid, role, f"planted/{d}_{n}_{role}.snirf", "0" * 64)).lastrowid)
        frame = pd.DataFrame([("true", ids[0], ids[1], "hbo", "session", "all", "all", v)],
                             columns=["pair", "therapist_scan", "patient_scan", "chromophore",
                                      "level", "therapist_unit", "patient_unit", "value"])
        study.save_synchrony(session_id=sid, label=f"{d}/{n}", config={"band": [0.05, 0.1]},
                             config_hash="c" * 64, input_hashes={}, versions={}, results=frame,
                             tests=None, warnings=[])


# --------------------------------------------------------------------------------------------
# pieces by hand
# --------------------------------------------------------------------------------------------


def test_session_flow_counts_by_hand(full):
    """The flow of the simulated study, counted from how it was built."""
    from studymgr.present.report.collect import gather
    from studymgr.present.report.sections import session_flow

    with open_study(full / "study.db") as study:
        data = gather(study)
    steps, exclusions, reasons = session_flow(data)
    assert [n for _, n in steps] == [17, 16, 16, 15, 15, 15, 15]
    assert [n for _, n in exclusions] == [1, 0, 1, 0, 0, 0]
    assert set(map(tuple, reasons[["dyad", "session"]].to_numpy())) == {("D01", 5), ("D04", 4)}


def test_grid_cell_categories_by_hand():
    from types import SimpleNamespace as Row

    from studymgr.present.figures import _cell

    base = {"attended": True, "scanned": True, "scans_therapist": True, "scans_patient": True,
            "questionnaires": 6, "questionnaires_expected": 6, "synchrony": 0.41}
    assert _cell(Row(**base)) == ("complete", "scans TP\nq 6/6\nsync 0.41")
    assert _cell(Row(**{**base, "scans_patient": False, "synchrony": np.nan}))[0] == "partial"
    assert _cell(Row(**{**base, "questionnaires": 4}))[1].split("\n")[1] == "q 4/6"
    assert _cell(Row(**{**base, "attended": False})) == ("missed", "missed")
    assert _cell(Row(**{**base, "locked": np.bool_(True)}))[1].endswith("\nlocked")
    empty = {**base, "scans_therapist": False, "scans_patient": False, "questionnaires": 0,
             "synchrony": np.nan}
    assert _cell(Row(**empty))[0] == "empty"
    assert _cell(Row(**{**empty, "scanned": False, "questionnaires_expected": 0})) == (
        "empty", "no scans planned\nq none")


def test_fdr_marks_and_qq_positions():
    from scipy import stats

    from studymgr.present.figures import stars
    from studymgr.present.report.diagnostics import normal_quantiles

    assert [stars(p) for p in (0.0009, 0.004, 0.04, 0.06, float("nan"))] == [
        "***", "**", "*", "", ""]
    # R's ppoints: (i - 3/8) / (n + 1/4) for n <= 10, (i - 1/2) / n beyond
    theo, ordered = normal_quantiles(np.array([3.0, 1.0, 2.0]))
    assert np.allclose(theo, stats.norm.ppf((np.arange(1, 4) - 0.375) / 3.25))
    assert list(ordered) == [1.0, 2.0, 3.0]
    theo, _ = normal_quantiles(np.arange(20.0))
    assert np.allclose(theo, stats.norm.ppf((np.arange(1, 21) - 0.5) / 20))


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def test_cli_report_html_pdf_and_bad_input(small_study, tmp_path):
    """``studymgr report`` writes the file (format from the suffix or --format); bad input is
    one line on stderr, exit 2, and nothing in the folder changes."""
    small_study.close()
    cli = Cli(small_study.path)
    for args, name in ((["--out", str(tmp_path / "r.html")], "r.html"),
                       (["--format", "pdf", "--out", str(tmp_path / "r.pdf")], "r.pdf")):
        result = cli("report", *args)
        assert result.exit_code == 0, result.output
        assert f"Wrote {tmp_path / name}" in result.output
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    assert "D01" in (tmp_path / "r.html").read_text(encoding="utf-8")
    (tmp_path / "r.html").unlink()
    (tmp_path / "r.pdf").unlink()
    before = snapshot(tmp_path)
    for args, message in ((["--out", str(tmp_path / "nowhere" / "r.html")], "does not exist"),
                          (["--out", str(tmp_path)], "is a directory"),
                          (["--format", "docx"], "Invalid value for '--format'")):
        bad = cli("report", *args)
        assert bad.exit_code == 2, bad.output
        assert bad.stdout == "" and bad.stderr.startswith("Error: ")
        assert "\n" not in bad.stderr.strip() and message in bad.stderr
    assert snapshot(tmp_path) == before
