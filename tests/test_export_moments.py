"""Exports of the moments-of-interest results: the event-locked and EEG publication tables in
every format, and the tidy ``eventlocked.csv``, ``eeg_coupling.csv`` and ``eeg_asymmetry.csv``.

Independent references:

- the stored results read back through the study's readers (``eventlocked_results``,
  ``eeg_results``, ``eeg_asymmetry``), compared with the CSV files read back by pandas and
  with the formatted table cells (formatted with the APA formatters, checked by hand in
  ``tests/test_export.py``);
- python-docx reading the Word file back; ``hashlib`` for the manifest.

The studies are built by :mod:`tests.test_report_moments` (the fNIRS one once per test run).
"""

from __future__ import annotations

import hashlib
import json
import re

import pandas as pd
import pytest

from studymgr import open_study
from studymgr.errors import ConflictError
from tests.conftest import Cli, snapshot
from tests.test_report import copy_study
from tests.test_report_moments import eeg_moments_study, moments_study

TITLE = "Event-Locked Synchrony Around Moments of Interest"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return moments_study(tmp_path_factory)


@pytest.fixture(scope="module")
def tables_dir(built, tmp_path_factory):
    from studymgr.present.export import export_tables

    out = tmp_path_factory.mktemp("moment_tables") / "tables"
    with open_study(built / "study.db") as study:
        written = export_tables(study, out)
        stored = study.eventlocked_results(level="session")
    return out, written, stored


def _stored_by_key(stored: pd.DataFrame) -> pd.DataFrame:
    return stored.set_index(["chromophore", "dyad", "session", "condition"])


def test_eventlocked_table_in_every_format(tables_dir):
    """One table file per format; the CSV holds every stored HbO and HbR session value,
    formatted; the HTML carries the full-precision values; Word opens with python-docx; the
    notes say why the EEG tables are absent."""
    import docx

    from studymgr.present.tables import fmt_p, fmt_unit

    out, written, stored = tables_dir
    names = {p.name for p in out.iterdir()}
    csv = [n for n in names if n.endswith("_eventlocked.csv")]
    assert len(csv) == 1 and {"tables.md", "tables.tex", "tables.docx", "tables.html"} <= names
    assert set(written["format"]) == {"csv", "md", "tex", "docx", "html"}
    table = pd.read_csv(out / csv[0], dtype=str, keep_default_na=False)
    assert list(table.columns) == ["Chromophore", "Dyad", "Session", "MOI M", "MOI n", "MOI p",
                                   "MONI M", "MONI n", "MONI p", "Rest M"]
    by_key = _stored_by_key(stored)
    assert len(table) == len(stored[stored["condition"] == "rest"]) == 4  # 2 sessions x 2
    for r in table.itertuples(index=False):
        key = ({"HbO": "hbo", "HbR": "hbr"}[r.Chromophore], r.Dyad, int(r.Session))
        for label, (m, n, p) in (("MOI", r[3:6]), ("MONI", r[6:9])):
            s = by_key.loc[(*key, label)]
            assert (m, n, p) == (fmt_unit(s["value"], 3), str(s["n_windows"]),
                                 fmt_p(s["p_value"]))
        assert r[9] == fmt_unit(by_key.loc[(*key, "rest"), "value"], 3)
    html = (out / "tables.html").read_text(encoding="utf-8")
    part = re.search(r'data-table="eventlocked">(.*?)</figure>', html, re.S).group(1)
    values = {float(v) for v in re.findall(r'data-value="([^"]+)"', part)}
    assert set(stored.loc[stored["condition"] != "rest", "p_value"]) <= values
    assert set(stored["value"]) <= values
    for name in ("tables.md", "tables.tex"):
        assert TITLE in (out / name).read_text(encoding="utf-8")
    document = docx.Document(str(out / "tables.docx"))
    assert len(document.tables) == written.loc[written["format"] == "docx", "tables"].iloc[0]
    assert any(p.text == TITLE for p in document.paragraphs)
    notes = " ".join(written.attrs["notes"])
    assert "EEG coupling around moments: no EEG results stored" in notes
    assert "frontal alpha asymmetry around moments: none stored" in notes


def test_eeg_tables_hold_the_stored_values(tmp_path):
    """EEG coupling and asymmetry tables (CSV) hold the stored values of every measure, role
    and condition, formatted; no event-locked table, and the notes say why."""
    from studymgr.present.export import export_tables
    from studymgr.present.tables import fmt_num, fmt_unit

    db = eeg_moments_study(tmp_path)
    with open_study(db) as study:
        written = export_tables(study, tmp_path / "t", "csv")
        coupling = study.eeg_results(level="session").set_index(["measure", "condition"])
        asym = study.eeg_asymmetry().set_index(["role", "condition"])
    files = sorted(p.name for p in (tmp_path / "t").iterdir())
    assert [f.split("_", 1)[1] for f in files] == ["eeg_coupling.csv", "eeg_asymmetry.csv"]
    assert any(n.startswith("event-locked synchrony: none stored")
               for n in written.attrs["notes"])
    conditions = ["session", "MOI", "MONI", "rest"]
    table = pd.read_csv(tmp_path / "t" / files[0], dtype=str, keep_default_na=False)
    assert list(table.columns) == ["Measure", "Dyad", "Session", "Whole session", "MOI", "MONI",
                                   "Rest"]
    for r in table.itertuples(index=False):
        measure = {"PLV": "plv", "AEC": "aec"}[r.Measure.split(",")[0]] + "_" + \
            r.Measure.split(", ")[1].split(" ")[0]
        assert list(r[3:]) == [fmt_unit(coupling.loc[(measure, c), "value"], 3)
                               for c in conditions]
    assert len(table) == 4
    table = pd.read_csv(tmp_path / "t" / files[1], dtype=str, keep_default_na=False)
    assert list(table["Person"]) == ["Therapist (F4 vs. F3)", "Patient (F4 vs. F3)"]
    for r in table.itertuples(index=False):
        role = r.Person.split(" ")[0].lower()
        assert list(r[3:]) == [fmt_num(asym.loc[(role, c), "value"], 2) for c in conditions]


def test_data_export_writes_the_moments_csvs(built, tmp_path):
    """eventlocked.csv read back equals the reader's rows of every level (run_id dropped);
    the EEG files are written with their headers (no EEG here); the dictionary describes
    every column; the manifest covers them; de-identified: dyads re-coded, values kept."""
    from studymgr.present.export import export_data

    with open_study(built / "study.db") as study:
        written = export_data(study, tmp_path / "plain")
        export_data(study, tmp_path / "deid", deidentify=True, seed=3)
        expected = pd.concat([study.eventlocked_results(level=lv)
                              for lv in ("session", "roi", "channel")], ignore_index=True)
        eeg_columns = list(study.eeg_results().columns)
        asym_columns = list(study.eeg_asymmetry().columns)
    plain = tmp_path / "plain"
    got = pd.read_csv(plain / "eventlocked.csv")
    expected = expected.drop(columns="run_id")
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected) and set(got["level"]) == {"session", "roi", "channel"}
    for col in ("value", "null_mean", "null_sd", "p_value"):
        pd.testing.assert_series_equal(got[col], expected[col].astype(float), check_names=False,
                                       rtol=0, atol=0)
    for col in ("dyad", "session", "condition", "therapist_unit", "chromophore"):
        assert got[col].tolist() == expected[col].tolist()
    assert got["n_windows"].tolist() == expected["n_windows"].astype(int).tolist()
    for name, columns in (("eeg_coupling", eeg_columns), ("eeg_asymmetry", asym_columns)):
        frame = pd.read_csv(plain / f"{name}.csv")
        assert frame.empty and list(frame.columns) == [c for c in columns if c != "run_id"]
    rows = written.set_index("file")["rows"]
    assert rows["eventlocked.csv"] == len(expected) and rows["eeg_coupling.csv"] == 0
    dictionary = pd.read_csv(plain / "data_dictionary.csv", keep_default_na=False)
    for name in ("eventlocked", "eeg_coupling", "eeg_asymmetry"):
        described = dictionary.loc[dictionary["file"] == f"{name}.csv"]
        columns = pd.read_csv(plain / f"{name}.csv", nrows=0).columns
        assert set(described["column"]) - {""} == set(columns)
        assert (described["description"] != "").all(), name
    manifest = dict(reversed(line.split("  ", 1))
                    for line in (plain / "MANIFEST.sha256").read_text().splitlines())
    for name in ("eventlocked.csv", "eeg_coupling.csv", "eeg_asymmetry.csv"):
        assert manifest[name] == hashlib.sha256((plain / name).read_bytes()).hexdigest()
    deid = pd.read_csv(tmp_path / "deid" / "eventlocked.csv")
    assert not deid["dyad"].isin(["D01", "D02"]).any()
    assert set(deid["dyad"]) <= {"dyad-1", "dyad-2"}
    pd.testing.assert_series_equal(deid["value"], got["value"])
    # each original dyad maps to one new code
    assert got.groupby("dyad").size().sort_values().tolist() == \
        deid.groupby("dyad").size().sort_values().tolist()


def test_data_export_of_eeg_results(tmp_path):
    """eeg_coupling.csv and eeg_asymmetry.csv equal the readers' frames (all levels)."""
    from studymgr.present.export import export_data

    db = eeg_moments_study(tmp_path)
    with open_study(db) as study:
        export_data(study, tmp_path / "d")
        coupling = pd.concat([study.eeg_results(level=lv) for lv in ("session", "channel")],
                             ignore_index=True).drop(columns="run_id")
        asym = study.eeg_asymmetry().drop(columns="run_id")
    got = pd.read_csv(tmp_path / "d" / "eeg_coupling.csv")
    assert list(got.columns) == list(coupling.columns) and len(got) == len(coupling)
    pd.testing.assert_series_equal(got["value"], coupling["value"], check_names=False)
    assert got["n"].tolist() == coupling["n"].astype(int).tolist()
    assert got["measure"].tolist() == coupling["measure"].tolist()
    got = pd.read_csv(tmp_path / "d" / "eeg_asymmetry.csv")
    assert list(got.columns) == list(asym.columns)
    pd.testing.assert_series_equal(got["value"], asym["value"], check_names=False)
    assert got["condition"].tolist() == asym["condition"].tolist()


def test_cli_exports_and_bad_input(built, tmp_path):
    """The CLI lists the new files; an existing folder without --overwrite is one line on
    stderr, exit 2, nothing changed; the help texts name the new tables and files."""
    db = copy_study(built, tmp_path / "s")
    cli = Cli(db)
    result = cli("export", "data", "--out", str(tmp_path / "d"), "--json")
    assert result.exit_code == 0, result.output
    files = {r["file"] for r in json.loads(result.stdout)}
    assert {"eventlocked.csv", "eeg_coupling.csv", "eeg_asymmetry.csv"} <= files
    result = cli("export", "tables", "--out", str(tmp_path / "t"), "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "eventlocked.csv" in result.output and "no EEG results stored" in result.output
    before = snapshot(tmp_path)
    for args in (["export", "tables", "--out", str(tmp_path / "t")],
                 ["export", "data", "--out", str(tmp_path / "d")]):
        bad = cli(*args)
        assert bad.exit_code == 2, bad.output
        assert bad.stdout == "" and bad.stderr.startswith("Error: ")
        assert "\n" not in bad.stderr.strip() and "not empty" in bad.stderr
    assert snapshot(tmp_path) == before
    assert "event-locked synchrony" in cli("export", "tables", "--help").output
    assert "eeg_asymmetry" in cli("export", "data", "--help").output
    from studymgr.present.export import export_tables

    with open_study(db) as study, pytest.raises(ConflictError, match="not empty"):
        export_tables(study, tmp_path / "t")


def test_eventlocked_latex_compiles_where_tex_is_installed(tables_dir, tmp_path):
    import shutil
    import subprocess

    out, _, _ = tables_dir
    tex = (out / "tables.tex").read_text(encoding="utf-8")
    assert TITLE in tex and not re.search(r"[^\x00-\x7f]", tex), "non-ASCII left in LaTeX"
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed: the LaTeX was checked for escaping only")
    shutil.copy(out / "tables.tex", tmp_path / "t.tex")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
