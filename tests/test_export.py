"""Exports: APA tables in five formats, tidy data with a dictionary (and de-identified), BIDS.

Independent references:

- hand-worked examples of the number formats journals ask for (APA 7th ed.);
- the stored model results, compared with every number of the tables (CSV, Word, HTML);
- python-docx reading the Word file back, pdflatex compiling the LaTeX (when installed);
- the study's own listings, compared with the exported CSVs read back by pandas;
- ``sha256sum``'s format for the manifest (checked by recomputing with hashlib);
- MNE-BIDS reading the BIDS dataset back (``read_raw_bids``): same samples as the stored
  recordings, same events (onsets to one sample), and h5py showing the SNIRF headers without
  the identifying fields.

The shared simulated study is built by :mod:`tests.test_report` (once per test run).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studymgr import create_study, open_study
from studymgr.errors import ConflictError, InputError
from tests.conftest import Cli, snapshot
from tests.test_report import IDENTIFYING, built_study, copy_study


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    return built_study(tmp_path_factory)


# --------------------------------------------------------------------------------------------
# number formats, labels (by hand)
# --------------------------------------------------------------------------------------------


def test_number_formats_by_hand():
    from studymgr.present.tables import (
        decimals_for,
        fmt_ci,
        fmt_df,
        fmt_num,
        fmt_p,
        fmt_unit,
    )

    assert [fmt_p(p) for p in (0.00049, 0.001, 0.0234, 0.5, 0.99949, 0.9996, None)] == [
        "< .001", ".001", ".023", ".500", ".999", "> .999", ""]
    assert [fmt_unit(r) for r in (0.456, -0.123, 1.0, -1.0, 0.004)] == [
        ".46", "-.12", "1.00", "-1.00", ".00"]
    assert fmt_num(-0.0001) == "0.00" and fmt_num(2.345, 2) == "2.35" and fmt_num(12) == "12.00"
    assert [decimals_for(s) for s in (2.57, 0.5, 0.0135, 0.0099, 2.07e-4, 1e-9, 0, None)] == [
        2, 2, 3, 4, 5, 6, 2, 2]
    assert fmt_ci(-0.0123, 0.0456, 3) == "[-0.012, 0.046]"
    assert fmt_ci(-0.12, 0.67, 2, unit=True) == "[-.12, .67]"
    assert fmt_df(7.0000001) == "7.0" and fmt_df(17.456) == "17.5"


def test_term_labels_and_markup():
    from studymgr.present.tables import Row, Table, plain, term_label

    assert term_label("(Intercept)") == "Intercept"
    assert term_label("synchrony_within") == "Synchrony (within dyad)"
    assert term_label("session_quality_lag2") == "Session quality, 2 sessions earlier"
    assert term_label("alliance_between_z") == "Alliance (between dyads, per SD)"
    assert term_label("synchrony_within_z - alliance_within_z") == (
        "Synchrony − alliance (within dyad, per SD)")
    assert plain("*R*^{2} and τ_{00}") == "R² and τ00"
    t = Table("x", "A *t* Test", ["Term", "*p*"],
              [Row(["a & b_c", "-.12"], [None, -0.12], group="G%")], note="50% of *n*")
    tex = t.to_latex()
    assert r"a \& b\_c" in tex and "$-$.12" in tex and r"\textit{G\%}" in tex
    assert r"\textit{Note.} 50\% of \textit{n}" in tex
    html = t.to_html()
    assert "a &amp; b_c" in html and "\u2212.12" in html and 'data-value="-0.12"' in html
    assert t.to_csv().splitlines() == ["Section,Term,p", "G%,a & b_c,-.12"]
    md = t.to_markdown()
    assert "| *G%* |  |" in md and "| a & b_c | -.12 |" in md


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tables_dir(full, tmp_path_factory) -> tuple[Path, pd.DataFrame, dict]:
    from studymgr.present.export import export_tables

    out = tmp_path_factory.mktemp("tables") / "tables"
    with open_study(full / "study.db") as study:
        written = export_tables(study, out)
        res = study.model_results()
    return out, written, res


def test_tables_in_every_format(tables_dir):
    out, written, res = tables_dir
    names = sorted(p.name for p in out.iterdir())
    assert {"tables.md", "tables.tex", "tables.docx", "tables.html"} <= set(names)
    csvs = [n for n in names if n.endswith(".csv")]
    assert csvs[0] == "table01_descriptives.csv" and "table02_growth.csv" in csvs
    n_tables = written.loc[written["format"] == "md", "tables"].iloc[0]
    assert len(csvs) == n_tables
    # one table per stored model that is not an ROI model, + descriptives, + ROI table
    fits = res["fits"]
    models = fits.loc[(fits["status"] == "ok") & ~fits["model"].str.startswith("growth_roi")]
    assert n_tables == len(models) + 2
    md = (out / "tables.md").read_text(encoding="utf-8")
    assert md.count("**Table ") == n_tables and "*Note.*" in md


def test_csv_tables_hold_the_stored_numbers_formatted(tables_dir):
    from studymgr.present.tables import decimals_for, fmt_ci, fmt_df, fmt_num, fmt_p, term_label

    out, _, res = tables_dir
    table = pd.read_csv(out / "table02_growth.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == ["Section", "Term", "b", "SE", "95% CI", "df", "t", "p"]
    terms = res["terms"].loc[res["terms"]["model"] == "growth"]
    for t in terms.itertuples(index=False):
        row = table.loc[table["Term"] == term_label(t.term)].iloc[0]
        d = decimals_for(t.se)
        assert row["b"] == fmt_num(t.estimate, d) and row["SE"] == fmt_num(t.se, d)
        assert row["95% CI"] == fmt_ci(t.ci_low, t.ci_high, d)
        assert row["df"] == fmt_df(t.df) and row["t"] == fmt_num(t.t, 2)
        assert row["p"] == fmt_p(t.p)
    fit = res["fits"].set_index("model").loc["growth"]
    stats = table.set_index("Term")
    assert stats.loc["N dyads", "b"] == str(int(fit["n_groups"]))
    assert stats.loc["Observations", "b"] == str(int(fit["n_obs"]))
    assert stats.loc["R² marginal", "b"] == f"{fit['r2_marginal']:.2f}".lstrip("0")
    residual = res["random"].set_index(["model", "group"]).loc[("growth", "Residual"), "vcov"]
    assert stats.loc["σ² (residual variance)", "b"] == fmt_num(residual, decimals_for(residual))
    rm = pd.read_csv(next(out.glob("table*_rm_corr.csv")), dtype=str)
    stored = res["terms"].loc[res["terms"]["model"] == "rm_corr"].set_index("term")
    r = stored.loc["synchrony~symptoms"]
    row = rm.set_index("Measure").loc["Symptoms"]
    assert row["r"] == f"{r['estimate']:.2f}".replace("0.", ".", 1)
    assert row["p"] == fmt_p(r["p"]) and row["pFDR"] == fmt_p(r["p_fdr"])


def test_word_document_opens_with_python_docx(tables_dir):
    import docx

    out, written, res = tables_dir
    document = docx.Document(str(out / "tables.docx"))
    n_tables = written.loc[written["format"] == "docx", "tables"].iloc[0]
    assert len(document.tables) == n_tables
    growth = document.tables[1]  # table 2
    texts = [[c.text for c in row.cells] for row in growth.rows]
    assert texts[0] == ["Term", "b", "SE", "95% CI", "df", "t", "p"]
    slope = res["terms"].set_index(["model", "term"]).loc[("growth", "session")]
    session_row = next(r for r in texts if r[0] == "Session")
    from studymgr.present.tables import decimals_for, fmt_num

    assert session_row[1] == fmt_num(slope["estimate"], decimals_for(slope["se"])).replace(
        "-", "\u2212")
    paragraphs = [p.text for p in document.paragraphs]
    assert "Table 2" in paragraphs and any(p.startswith("Note. Linear mixed-effects")
                                           for p in paragraphs)


def test_latex_compiles_where_tex_is_installed(tables_dir, tmp_path):
    out, _, _ = tables_dir
    tex = (out / "tables.tex").read_text(encoding="utf-8")
    assert tex.startswith(r"\documentclass") and tex.count(r"\begin{table}") >= 10
    assert not re.search(r"[^\x00-\x7f]", tex.replace("ω", "")), "non-ASCII left in LaTeX"
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed: the LaTeX was checked for escaping only")
    kpse = shutil.which("kpsewhich")
    if kpse and not subprocess.run([kpse, "booktabs.sty"], capture_output=True,
                                   text=True).stdout.strip():
        pytest.skip("the TeX installation lacks booktabs.sty")
    shutil.copy(out / "tables.tex", tmp_path / "t.tex")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "t.pdf").stat().st_size > 1000


def test_html_tables_carry_full_precision(tables_dir):
    out, _, res = tables_dir
    html = (out / "tables.html").read_text(encoding="utf-8")
    values = [float(v) for v in re.findall(r'data-value="([^",]+)"', html)]
    for est in res["terms"].loc[res["terms"]["model"] == "outcome:symptoms", "estimate"]:
        assert est in values


def test_tables_of_a_study_without_models(small_study, tmp_path):
    from studymgr.present.export import export_tables

    with pytest.raises(InputError, match="nothing to tabulate"):
        export_tables(small_study, tmp_path / "t")
    assert not (tmp_path / "t").exists()
    with pytest.raises(InputError, match="unknown table format 'pdf'"):
        export_tables(small_study, tmp_path / "t", "csv,pdf")


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dirs(full, tmp_path_factory):
    from studymgr.present.export import export_data

    root = tmp_path_factory.mktemp("data")
    with open_study(full / "study.db") as study:
        plain = export_data(study, root / "plain")
        export_data(study, root / "deid", deidentify=True, seed=7)
        export_data(study, root / "deid_again", deidentify=True, seed=7)
        export_data(study, root / "deid_other", deidentify=True, seed=8)
        listings = {"scores": study.scores(), "sessions": study.sessions(),
                    "synchrony": study.synchrony(level="roi"), "events": study.events()}
    return root, plain, listings


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv")


def test_data_tables_read_back_equal_the_study(data_dirs):
    root, written, listings = data_dirs
    folder = root / "plain"
    assert {f for f in written["file"]} == {p.name for p in folder.iterdir()}
    scores = _read(folder, "scores")
    pd.testing.assert_series_equal(scores["value"], listings["scores"]["value"],
                                   check_names=False)
    assert set(scores["status"]) == {"entered"} and set(scores["source"]) == {"import"}
    sync = _read(folder, "synchrony")
    roi = sync.loc[sync["level"] == "roi"].reset_index(drop=True)
    assert np.array_equal(roi["value"].to_numpy(), listings["synchrony"]["value"].to_numpy())
    assert set(sync["level"]) == {"session", "roi"}
    table = _read(folder, "analysis_table")
    assert {"synchrony.left.left", "synchrony_pseudo.right.left"} <= set(table.columns)
    events = _read(folder, "events")
    assert list(events["rater"]) == ["R1", "R2", "R2"]


def test_data_dictionary_describes_every_column_and_manifest_checks(data_dirs):
    root, _, _ = data_dirs
    for name in ("plain", "deid"):
        folder = root / name
        dictionary = pd.read_csv(folder / "data_dictionary.csv", keep_default_na=False)
        for csv in folder.glob("*.csv"):
            if csv.name == "data_dictionary.csv":
                continue
            columns = pd.read_csv(csv, nrows=0).columns
            described = dictionary.loc[dictionary["file"] == csv.name]
            assert set(described["column"]) - {""} == set(columns), csv.name
            empty = described.loc[(described["column"] != "") & (described["description"] == "")]
            assert empty.empty, f"{csv.name}: undescribed {list(empty['column'])}"
        lines = (folder / "MANIFEST.sha256").read_text().splitlines()
        assert len(lines) == len(list(folder.iterdir())) - 1
        for line in lines:
            digest, rel = line.split("  ", 1)
            assert hashlib.sha256((folder / rel).read_bytes()).hexdigest() == digest


def test_deidentified_data(data_dirs):
    root, _, listings = data_dirs
    deid, again, other = root / "deid", root / "deid_again", root / "deid_other"
    text = "\n".join(p.read_text(encoding="utf-8") for p in deid.glob("*.csv")
                     if p.name != "data_dictionary.csv")  # its prose mentions R2 (R squared)
    for code in ("D01", "D04", "T01", "P01", "P04", "R1,", "R2"):
        assert code not in text, code
    assert "sha256" not in _read(deid, "scans").columns and "path" not in _read(deid, "scans")
    # the same shift for every date of a dyad: intervals kept, dates moved
    sessions = _read(deid, "sessions")
    original = listings["sessions"]
    assert sorted(sessions["dyad"].unique()) == ["dyad-1", "dyad-2", "dyad-3", "dyad-4"]
    moved = {}
    for dyad, part in sessions.groupby("dyad"):
        shifted = pd.to_datetime(part["date"]).sort_values().reset_index(drop=True)
        diffs = shifted.diff().dropna().dt.days.tolist()
        matches = [d for d, o in original.groupby("dyad")
                   if len(o) == len(part) and pd.to_datetime(o["date"]).sort_values()
                   .diff().dropna().dt.days.tolist() == diffs]
        assert matches, dyad
        first = pd.to_datetime(original.loc[original["dyad"] == matches[0], "date"]).min()
        moved[dyad] = (shifted.iloc[0] - first).days
    assert all(1 <= abs(v) <= 365 for v in moved.values())
    scans = _read(deid, "scans")
    sessions_by = sessions.set_index(["dyad", "session"])["date"]
    for r in scans.itertuples(index=False):  # recordings moved with their sessions
        assert r.meas_date.startswith(sessions_by.loc[(r.dyad, r.session)])
    # reproducible with the seed, different with another seed; the mapping is not written
    for csv in deid.glob("*.csv"):
        assert csv.read_bytes() == (again / csv.name).read_bytes()
    assert _read(other, "sessions")["date"].tolist() != sessions["date"].tolist()
    assert not any("D01" in p.read_text(encoding="utf-8") for p in deid.iterdir())


def test_deidentify_is_pure_and_validates_seed(full, tmp_path):
    from studymgr.present.export import export_data
    from studymgr.present.export.data import deidentify

    frame = pd.DataFrame({"dyad": ["A", "A", "B"], "date": ["2025-01-01", "2025-01-08", None],
                          "path": ["x", "y", "z"]})
    out = deidentify({"sessions": frame}, seed=1)["sessions"]
    assert list(frame["dyad"]) == ["A", "A", "B"]  # input untouched
    assert "path" not in out and pd.isna(out["date"].iloc[2])
    days = (pd.to_datetime(out["date"].iloc[1]) - pd.to_datetime(out["date"].iloc[0])).days
    assert days == 7
    with open_study(full / "study.db") as study:
        with pytest.raises(InputError, match="only applies with --deidentify"):
            export_data(study, tmp_path / "x", seed=3)
        with pytest.raises(InputError, match="whole number"):
            export_data(study, tmp_path / "x", deidentify=True, seed=-1)
        (tmp_path / "busy").mkdir()
        (tmp_path / "busy" / "keep.txt").write_text("mine")
        with pytest.raises(ConflictError, match="not empty"):
            export_data(study, tmp_path / "busy")
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["keep.txt"]
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------------------------
# BIDS
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bids(full, tmp_path_factory):
    from studymgr.present.export import export_bids

    out = tmp_path_factory.mktemp("bids") / "bids"
    with open_study(full / "study.db") as study:
        written = export_bids(study, out)
    return out, written


def test_bids_round_trip_with_mne_bids(bids, full):
    import mne_bids

    root, written = bids
    recs = written.loc[written["kind"] == "recording"]
    assert len(recs) == 31
    with open_study(full / "study.db") as study:
        events = study.events()
        # read back a few recordings: the shared therapist's (acq-<dyad>) and the patient
        # whose file had identifying header fields
        for dyad, session, role in (("D01", 1, "patient"), ("D02", 3, "therapist"),
                                    ("D04", 4, "therapist")):
            row = recs.loc[(recs["dyad"] == dyad) & (recs["session"] == session)
                           & (recs["role"] == role)].iloc[0]
            path = mne_bids.get_bids_path_from_fname(root / row["path"])
            raw = mne_bids.read_raw_bids(path, verbose="error")
            stored = study.load_scan(dyad, session, role)
            assert np.array_equal(raw.get_data(), stored.get_data())
            assert raw.ch_names == stored.ch_names
            mine = events.loc[(events["dyad"] == dyad) & (events["session"] == session)]
            assert list(raw.annotations.description) == list(mine["label"])
            assert np.allclose(raw.annotations.onset, mine["onset_s"],
                               atol=1 / stored.info["sfreq"])
            if len(mine):
                extras = raw.annotations.extras
                assert [e["rater"] for e in extras] == list(mine["rater"])
                assert {e["source"] for e in extras} == {"rater"}
    assert "acq-D02" in recs.loc[recs["role"] == "therapist", "path"].iloc[4]
    assert "acq" not in recs.loc[recs["role"] == "patient", "path"].iloc[0]


def test_bids_tables_and_phenotype(bids):
    root, written = bids
    participants = pd.read_csv(root / "participants.tsv", sep="\t")
    by = participants.set_index("participant_id")
    assert by.loc["sub-T01", "role"] == "therapist"
    assert by.loc["sub-T01", "dyad"] == "D01,D02,D03,D04"
    assert by.loc["sub-P03", "dyad"] == "D03" and by.loc["sub-P03", "role"] == "patient"
    side = json.loads((root / "participants.json").read_text())
    assert "role" in side and "dyad" in side
    sessions = pd.read_csv(root / "sub-P01" / "sub-P01_sessions.tsv", sep="\t")
    assert list(sessions["session_id"]) == ["ses-1", "ses-2", "ses-3", "ses-4"]
    assert sessions["acq_time"].iloc[0] == "2025-01-06T00:00:00"
    therapist = pd.read_csv(root / "sub-T01" / "sub-T01_sessions.tsv", sep="\t")
    assert therapist["dyad"].iloc[0] == "D01,D02,D03,D04"
    scans = pd.read_csv(root / "sub-T01" / "ses-1" / "sub-T01_ses-1_scans.tsv", sep="\t")
    assert sorted(scans["dyad"]) == ["D01", "D02", "D03", "D04"]
    assert (scans["role"] == "therapist").all() and scans["source_sha256"].str.len().eq(64).all()
    gad = pd.read_csv(root / "phenotype" / "gad7.tsv", sep="\t")
    assert len(gad) == 16 and gad["participant_id"].str.startswith("sub-P").all()
    assert {"item_1", "item_7", "score_total", "session_id", "timing"} <= set(gad.columns)
    who5 = pd.read_csv(root / "phenotype" / "who5.tsv", sep="\t")
    assert set(who5["role"]) == {"patient", "therapist"}
    assert set(who5.loc[who5["role"] == "therapist", "participant_id"]) == {"sub-T01"}
    assert (root / "dataset_description.json").exists()
    description = json.loads((root / "dataset_description.json").read_text())
    assert description["Name"] == "haifa"
    assert set(written["kind"]) == {"recording", "phenotype", "dataset"}


def test_bids_snirf_headers_are_stripped(bids):
    import h5py

    root, written = bids
    row = written.loc[(written["dyad"] == "D01") & (written["session"] == 1)
                      & (written["role"] == "patient")].iloc[0]
    assert "removed header tags DateOfBirth, SubjectAge, firstName, lastName" in row["detail"]
    data = (root / row["path"]).read_bytes()
    for value in IDENTIFYING.values():
        if isinstance(value, bytes):
            assert value not in data
    with h5py.File(root / row["path"], "r") as f:
        tags = set(f["nirs/metaDataTags"])
        assert tags.isdisjoint(IDENTIFYING)
        assert f["nirs/metaDataTags/SubjectID"][()] == b"P01"
        assert {"MeasurementDate", "LengthUnit", "TimeUnit"} <= tags


@pytest.mark.shared_data
def test_bids_strips_a_real_recording(shared_data, tmp_path):
    """A real SNIRF file whose header names its subject ('alice', firstName)."""
    from studymgr.present.export import export_bids

    source = shared_data / "fnirs" / "hypyp-samples" / "sample_1.snirf"
    assert b"alice" in source.read_bytes()
    with create_study(tmp_path / "s.db", user="tester") as study:
        study.add_dyad("D01", therapist="T01", patient="P01")
        study.add_session("D01", 1)
        study.import_scan("D01", 1, "patient", source)
        written = export_bids(study, tmp_path / "bids")
    path = tmp_path / "bids" / written.iloc[0]["path"]
    assert b"alice" not in path.read_bytes()
    assert "firstName" in written.iloc[0]["detail"]


def test_bids_converts_other_formats_to_snirf(full, tmp_path):
    """A recording imported as FIF is written as SNIRF (BIDS stores fNIRS as SNIRF) with the
    samples of the stored FIF file."""
    import mne
    import mne_bids

    from studymgr.present.export import export_bids

    source = next((full / "sim" / "recordings").rglob("sub-P02_ses-1_*.snirf"))
    raw = mne.io.read_raw_snirf(source, preload=True, verbose="error")
    fif = tmp_path / "rec_raw.fif"
    raw.save(fif, verbose="error")
    with create_study(tmp_path / "s.db", user="tester") as study:
        study.add_dyad("D01", therapist="T01", patient="P01")
        study.add_session("D01", 1, kind="interview")
        study.import_scan("D01", 1, "patient", fif)
        assert study.scans().iloc[0]["format"] == "fif"
        written = export_bids(study, tmp_path / "bids")
    path = tmp_path / "bids" / written.iloc[0]["path"]
    assert path.name == "sub-P01_ses-1_task-interview_nirs.snirf"
    back = mne_bids.read_raw_bids(mne_bids.get_bids_path_from_fname(path), verbose="error")
    stored = mne.io.read_raw_fif(fif, verbose="error").get_data()  # FIF keeps float32
    assert np.allclose(back.get_data(), stored, rtol=1e-12, atol=0)
    assert not list(tmp_path.glob(".*partial"))


def test_bids_refuses_a_changed_recording_and_leaves_nothing(full, tmp_path):
    from studymgr.present.export import export_bids

    db = copy_study(full, tmp_path / "s")
    with open_study(db) as study:
        victim = study.data_dir / study.scans().iloc[3]["path"]
        victim.write_bytes(victim.read_bytes()[:-8] + b"01234567")
        with pytest.raises(InputError, match="changed since import"):
            export_bids(study, tmp_path / "bids")
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


def test_bids_label_collisions_are_refused(tmp_path):
    from studymgr.present.export.bids import bids_label

    assert bids_label("P_01") == "P01"
    with create_study(tmp_path / "s.db", user="tester") as study:
        study.add_dyad("D1", therapist="T-1", patient="P1")
        study.add_dyad("D2", therapist="T_1", patient="P2")
        study.add_session("D1", 1)
        from studymgr.present.export import export_bids

        with pytest.raises(InputError, match="no recordings to export"):
            export_bids(study, tmp_path / "b")
        from studymgr.present.export.bids import _labels

        with pytest.raises(InputError, match="both become BIDS label 'T1'"):
            _labels(["T-1", "T_1"], "person")


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def test_cli_exports(full, tmp_path):
    db = copy_study(full, tmp_path / "s")
    cli = Cli(db)
    result = cli("export", "tables", "--out", str(tmp_path / "t"), "--format", "csv,md")
    assert result.exit_code == 0, result.output
    assert "tables.md" in result.output and (tmp_path / "t" / "tables.md").exists()
    result = cli("export", "data", "--out", str(tmp_path / "d"), "--deidentify", "--seed", "5",
                 "--json")
    assert result.exit_code == 0, result.output
    assert {r["file"] for r in json.loads(result.output)} >= {"sessions.csv",
                                                              "data_dictionary.csv"}
    before = snapshot(tmp_path)
    for args, message in (
            (["export", "tables", "--out", str(tmp_path / "x"), "--format", "pdf"],
             "unknown table format 'pdf'"),
            (["export", "tables", "--out", str(tmp_path / "t")], "not empty"),
            (["export", "data", "--out", str(tmp_path / "x"), "--seed", "3"],
             "only applies with --deidentify"),
            (["export", "data", "--out", str(tmp_path / "nowhere" / "x")], "does not exist"),
            (["export", "bids"], "Missing option '--out'"),
            (["export", "bids", "--out", str(tmp_path / "d")], "not empty")):
        bad = cli(*args)
        assert bad.exit_code == 2, (args, bad.output)
        assert bad.stdout == "" and bad.stderr.startswith("Error: ")
        assert "\n" not in bad.stderr.strip() and message in bad.stderr, bad.stderr
    assert snapshot(tmp_path) == before
    result = cli("export", "tables", "--out", str(tmp_path / "t"), "--format", "html",
                 "--overwrite")
    assert result.exit_code == 0 and [p.name for p in (tmp_path / "t").iterdir()] == [
        "tables.html"]
