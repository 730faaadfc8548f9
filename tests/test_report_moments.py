"""The report's "Moments of interest" section: when it appears, its timelines, its numbers, its
EEG part and the ``--timelines`` option.

Independent references:

- the section list the report had before the section existed (a study without rater or
  consensus events must keep exactly that list);
- the stored results read back through the study's readers (``eventlocked_results``,
  ``eeg_results``, ``eeg_asymmetry``), compared with the full-precision ``data-value`` of every
  numeric cell of the APA tables and with the printed text;
- Fleiss' kappa from :func:`studymgr.compute.events.agreement.rater_agreement` (the pure function)
  on the marks
  read with ``Study.events()``, with the tolerance given when the consensus was stored;
- the consensus moments counted from ``Study.events()`` for the choice of timelines.

The fNIRS study is simulated (``tests.test_pipeline.build_study``: two dyads, two sessions of
360 s at 5 Hz); the event-locked results are computed by the real pipeline with 99
permutations. The EEG study follows ``tests.test_eeg``'s fixture (60 s of synthetic EEG).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studymgr import create_study, open_study
from studymgr.errors import InputError
from tests.conftest import Cli, snapshot
from tests.test_report import copy_study

_BUILT: dict[str, Path] = {}
# the report's sections before the moments section existed, in reading order
SECTIONS_WITHOUT_MOMENTS = ["glance", "quality", "synchrony", "roi", "outcomes", "diagnostics",
                            "methods", "provenance"]
# two raters per session; D01/1 agrees on 3 moments within 20 s, D02/1 on 5 within 30 s,
# D01/2 has marks but no consensus stored
MARKS = {
    ("D01", 1, "R1"): "100,0,MOI\n200,0,MOI\n150,0,MONI\n",
    ("D01", 1, "R2"): "104,0,MOI\n195,2,MOI\n152,0,MONI\n300,0,MOI\n",
    ("D02", 1, "R1"): "60,0,MOI\n120,0,MOI\n180,0,MOI\n240,0,MOI\n90,0,MONI\n210,0,MONI\n",
    ("D02", 1, "R2"): "62,0,MOI\n118,0,MOI\n185,0,MOI\n243,0,MOI\n95,0,MONI\n300,0,MONI\n",
    ("D01", 2, "R1"): "100,0,MOI\n",
    ("D01", 2, "R2"): "110,0,MOI\n",
}
TOLERANCE = {("D01", 1): 20.0, ("D02", 1): 30.0}
WINDOW = (-10.0, 10.0)
N_PERMUTATIONS = 99


def moments_study(tmp_path_factory) -> Path:
    """The simulated study with rater marks, stored consensus (D01/1 with a 20-s tolerance,
    D02/1 with the default 30 s) and event-locked results (window -10 to 10 s, 99
    permutations). Built once per test run; returns its folder (``study.db``,
    ``study_data/``): copy it with :func:`tests.test_report.copy_study` before changing it."""
    if "fnirs" in _BUILT:
        return _BUILT["fnirs"]
    from studymgr.runs.eventlocked import EventLockedConfig
    from tests.test_pipeline import build_study

    root = tmp_path_factory.mktemp("moments_study")
    study, _ = build_study(root, n_dyads=2, n_sessions=2, coupling=0.6, growth=0.0)
    try:
        for (dyad, number, rater), rows in MARKS.items():
            path = root / f"{dyad}_{number}_{rater}.csv"
            path.write_text("onset,duration,label\n" + rows)
            study.import_events(dyad, number, path, rater=rater)
        for (dyad, number), tolerance in TOLERANCE.items():
            study.rater_agreement(dyad, number, tolerance_s=tolerance)
        study.compute_eventlocked(EventLockedConfig(n_permutations=N_PERMUTATIONS,
                                                    window=WINDOW))
    finally:
        study.close()
    _BUILT["fnirs"] = root
    return root


def eeg_moments_study(folder: Path) -> Path:
    """``tests.test_eeg``'s EEG study (one session, consensus MOI at 20 s and MONI at 40 s,
    the therapist's F4 alpha twice F3's) with its EEG results computed; returns the database."""
    from tests.test_eeg import fill_eeg_study

    db = folder / "eeg.db"
    with create_study(db, user="tester") as study:
        fill_eeg_study(study, folder)
        study.compute_eeg()
    return db


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return moments_study(tmp_path_factory)


@pytest.fixture(scope="module")
def report_html(built, tmp_path_factory) -> str:
    """The HTML report of the moments study with the default number of timelines."""
    from studymgr.present.report import write_report

    out = tmp_path_factory.mktemp("moments_report") / "report.html"
    with open_study(built / "study.db") as study:
        write_report(study, out)
    return out.read_text(encoding="utf-8")


def section_html(html: str, ident: str) -> str:
    m = re.search(rf'<section id="{ident}">(.*?)</section>', html, re.S)
    assert m, f"no section {ident}"
    return m.group(1)


def toc(html: str) -> list[str]:
    return re.findall(r'<li><a href="#([a-z]+)">', html)


def text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub("<[^>]+>", " ", fragment))


def apa_rows(html: str, name: str) -> list[tuple[list[str], list[str]]]:
    """``(cell texts, data-values)`` of every body row of the APA table ``data-table=name``."""
    m = re.search(rf'<figure class="apa-table"[^>]*data-table="{name}">(.*?)</figure>', html,
                  re.S)
    assert m, f"no table {name}"
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S):
        cells = re.findall(r'<td[^>]*?(?: data-value="([^"]*)")?>(.*?)</td>', row, re.S)
        if cells:
            rows.append(([re.sub("<[^>]+>", "", c) for _, c in cells], [v for v, _ in cells]))
    return rows


def pngs(fragment: str) -> list[bytes]:
    return [base64.b64decode(b) for b in
            re.findall(r'<img src="data:image/png;base64,([^"]+)"', fragment)]


# --------------------------------------------------------------------------------------------
# when the section appears
# --------------------------------------------------------------------------------------------


def test_section_appears_with_events_after_outcomes(report_html):
    """With rater and consensus events: the section, its table-of-contents entry, between
    outcomes and diagnostics; nothing failed."""
    from studymgr.present.report.sections import SECTIONS

    assert toc(report_html) == [i for i, _ in SECTIONS]
    assert toc(report_html) == SECTIONS_WITHOUT_MOMENTS[:5] + ["moments"] + \
        SECTIONS_WITHOUT_MOMENTS[5:]
    assert '<section id="moments"><h2>Moments of interest</h2>' in report_html
    assert "could not be drawn" not in report_html


def test_section_is_left_out_without_rater_or_consensus_events(small_study, tmp_path):
    """No events, then only events read from a CSV without raters (source csv): the section
    list is the one before the section existed, with no empty heading left behind."""
    from studymgr.present.report import build_document, write_report

    out = tmp_path / "r.html"
    write_report(small_study, out)
    html = out.read_text(encoding="utf-8")
    assert toc(html) == SECTIONS_WITHOUT_MOMENTS
    assert 'id="moments"' not in html and "Moments of interest" not in html
    events = tmp_path / "ev.csv"
    events.write_text("onset,duration,label\n12,0,stimulus\n")
    small_study.import_events("D01", 2, events)
    assert set(small_study.events()["source"]) == {"csv"}
    doc = build_document(small_study)
    assert [s.id for s in doc.sections] == SECTIONS_WITHOUT_MOMENTS
    doc.close()


# --------------------------------------------------------------------------------------------
# content of the section
# --------------------------------------------------------------------------------------------


def test_timelines_are_embedded_most_moments_first(built, report_html, tmp_path):
    """Default (4): both sessions with results get a PNG timeline; with max_timelines=1 only
    D02/1 (5 consensus moments, counted from Study.events) and the text names D01/1 and the
    option to draw it; with 0 no image and a note."""
    from studymgr.present.report import write_report

    moments = section_html(report_html, "moments")
    images = pngs(moments)
    assert len(images) == 2 and all(i.startswith(b"\x89PNG\r\n\x1a\n") for i in images)
    assert "D01, session 1." in moments and "D02, session 1." in moments
    assert "the analysis window (-10 to 10 s)" in moments  # the stored window, not the default
    with open_study(built / "study.db") as study:
        consensus = study.events().query("source == 'consensus'").groupby(
            ["dyad", "session"]).size()
        assert consensus.to_dict() == {("D01", 1): 3, ("D02", 1): 5}
        write_report(study, tmp_path / "one.html", max_timelines=1)
        write_report(study, tmp_path / "none.html", max_timelines=0)
    one = section_html((tmp_path / "one.html").read_text(encoding="utf-8"), "moments")
    assert len(pngs(one)) == 1 and "D02, session 1." in one and "D01, session 1." not in one
    assert "Timelines of 1 of 2 sessions" in text_of(one)
    assert "Not shown: D01/1" in one and "--timelines all" in one
    none = section_html((tmp_path / "none.html").read_text(encoding="utf-8"), "moments")
    assert pngs(none) == [] and "--timelines 0" in none


def test_eventlocked_table_holds_the_stored_results(built, report_html):
    """Every numeric cell of the event-locked table is the stored HbO session-level value
    (full precision in data-value) and is printed as the APA formatters print it."""
    from studymgr.present.tables import fmt_p, fmt_unit

    with open_study(built / "study.db") as study:
        stored = study.eventlocked_results(level="session")
    stored = stored[stored["chromophore"] == "hbo"].set_index(["dyad", "session", "condition"])
    rows = apa_rows(section_html(report_html, "moments"), "eventlocked")
    assert [(c[0], c[1]) for c, _ in rows] == [("D01", "1"), ("D02", "1")]
    for cells, values in rows:
        key = (cells[0], int(cells[1]))
        for j, label in ((2, "MOI"), (5, "MONI")):
            s = stored.loc[(*key, label)]
            assert float(values[j]) == s["value"] and cells[j] == fmt_unit(s["value"], 3)
            assert int(float(values[j + 1])) == s["n_windows"] and cells[j + 1] == \
                str(s["n_windows"])
            assert float(values[j + 2]) == s["p_value"] and cells[j + 2] == fmt_p(s["p_value"])
        rest = stored.loc[(*key, "rest"), "value"]
        assert float(values[8]) == rest and cells[8] == fmt_unit(rest, 3)
    # the descriptive summary across sessions: MOI minus rest, averaged over the two sessions
    diffs = [stored.loc[(d, 1, "MOI"), "value"] - stored.loc[(d, 1, "rest"), "value"]
             for d in ("D01", "D02")]
    moments = text_of(section_html(report_html, "moments"))
    assert "descriptive only" in moments
    assert f"MOI windows: mean coherence minus the rest of the session {np.mean(diffs):.3f}" \
        in moments


def test_agreement_uses_the_stored_tolerance(built, report_html):
    """Kappa per session and label equals the pure rater_agreement on the marks with the
    tolerance the consensus was stored with (20 s for D01/1), the default (30 s) for D01/2
    whose consensus is not stored; the section says which, and what to run for D01/2."""
    from studymgr.compute.events.agreement import rater_agreement

    with open_study(built / "study.db") as study:
        events = study.events()
        durations = study.scans().groupby(["dyad", "session"])["duration_s"].max()
    moments = section_html(report_html, "moments")
    listing = re.search(r"Rater agreement per session and label.</p>\s*(<table.*?</table>)",
                        moments, re.S).group(1)
    header = re.findall(r"<th>(.*?)</th>", listing)
    shown = pd.DataFrame([re.findall(r"<td[^>]*>(.*?)</td>", r)
                          for r in re.findall(r"<tr><td.*?</tr>", listing)], columns=header)
    shown = shown.set_index(["dyad", "session", "label"])
    for (dyad, number), tolerance in [(("D01", 1), 20.0), (("D02", 1), 30.0),
                                      (("D01", 2), 30.0)]:
        marks = events[(events["dyad"] == dyad) & (events["session"] == number)
                       & (events["source"] == "rater")]
        expected = rater_agreement(marks, duration_s=durations[(dyad, number)],
                                   tolerance_s=tolerance).summary.set_index("label")
        for label, r in expected.iterrows():
            row = shown.loc[(dyad, str(number), label)]
            assert float(row["kappa"]) == pytest.approx(round(r["kappa"], 3), abs=1e-12)
            assert float(row["tolerance (s)"]) == tolerance
            assert row["settings"] == ("default" if (dyad, number) == ("D01", 2) else "stored")
    text = text_of(moments)
    assert "stored with the session's consensus (audit trail of 'events agreement') for " \
           "D01/1, D02/1" in text
    assert "default tolerance of 30 s" in text
    assert "run 'studymgr events agreement D01 2'" in text


def test_methods_describe_the_stored_moments_settings(report_html):
    text = text_of(section_html(report_html, "methods"))
    for fragment in ("Moments of interest.", "Fachner, Maidhof et al. (2019)",
                     "at least 2 raters lying within 20 s", "Fleiss' kappa (Fleiss, 1971) over "
                     "bins of 20 s", "2 different agreement configurations",
                     "band 0.05-0.1 Hz", "from -10 to 10 s around each consensus moment",
                     f"against {N_PERMUTATIONS} sets", "seed 0", "Computed for 2 session(s)",
                     "Fleiss, J. L. (1971)", "Fachner, J. C., Maidhof, C."):
        assert fragment in text, fragment
    provenance = text_of(section_html(report_html, "provenance"))
    assert "Event-locked configuration used for 2 session(s)" in provenance


def test_moved_recording_shows_the_marks_without_the_time_course(built, tmp_path):
    """A recording moved away: the timeline is still drawn (marks only) and the section says
    why; the rest of the report is written."""
    from studymgr.present.report import write_report

    db = copy_study(built, tmp_path / "s")
    with open_study(db) as study:
        path = study.scans().set_index(["dyad", "session", "role"]).loc[
            ("D01", 1, "patient"), "path"]
        moved = Path(study.data_dir) / path
        moved.rename(moved.with_name("elsewhere"))
        write_report(study, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    moments = section_html(html, "moments")
    assert len(pngs(moments)) == 2
    assert "D01/1: the coherence time course could not be recomputed (the patient's recording " \
           "of D01/1 is not at" in text_of(moments)
    assert "could not be drawn" not in html


def test_pdf_report_renders_the_section(built, tmp_path):
    """The PDF holds the moments section's blocks: a page per figure (the timeline among
    them), then the text pages."""
    import matplotlib

    from studymgr.present.figures import rc
    from studymgr.present.report import build_document
    from studymgr.present.report.document import ApaTable, Fig
    from studymgr.present.report.pdf import render_pdf

    out = tmp_path / "r.pdf"
    with open_study(built / "study.db") as study, matplotlib.rc_context(rc()):
        doc = build_document(study, max_timelines=1)
        section = next(s for s in doc.sections if s.id == "moments")
        assert [type(b) for b in section.blocks if isinstance(b, Fig | ApaTable)] == [Fig,
                                                                                     ApaTable]
        render_pdf(doc, out)
        n_figures = len(doc.figures())
        doc.close()
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type /Page\b", data)) > n_figures


def test_eeg_parts_show_the_stored_eeg_results(tmp_path):
    """With EEG results: the coupling table and the asymmetry table hold the stored values of
    every condition; the FAA figure is embedded; consensus imported without marks and no fNIRS
    are said plainly; the methods describe the EEG settings."""
    from studymgr.present.report import write_report

    db = eeg_moments_study(tmp_path)
    with open_study(db) as study:
        write_report(study, tmp_path / "r.html")
        coupling = study.eeg_results(level="session").set_index(["measure", "condition"])
        asym = study.eeg_asymmetry().set_index(["role", "condition"])
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    moments = section_html(html, "moments")
    conditions = ["session", "MOI", "MONI", "rest"]
    rows = apa_rows(moments, "eeg_coupling")
    measures = list(dict.fromkeys(coupling.index.get_level_values("measure")))
    assert len(rows) == len(measures) == 4
    for measure, (_, values) in zip(measures, rows, strict=True):
        assert [float(v) for v in values[2:]] == [coupling.loc[(measure, c), "value"]
                                                  for c in conditions]
    rows = apa_rows(moments, "eeg_asymmetry")
    for role, (_, values) in zip(("therapist", "patient"), rows, strict=True):
        assert [float(v) for v in values[2:]] == [asym.loc[(role, c), "value"]
                                                  for c in conditions]
    assert asym.loc[("therapist", "MOI"), "value"] == pytest.approx(np.log(4), abs=0.15)
    assert len(pngs(moments)) == 1  # the asymmetry figure (no fNIRS: no timeline)
    text = text_of(moments)
    assert "imported without the raters' marks" in text
    assert "none are imported" in text
    methods = text_of(section_html(html, "methods"))
    assert "phase-locking value (PLV; Lachaux et al., 1999)" in methods
    assert "theta (4-8 Hz) and alpha (8-12 Hz) bands" in methods


# --------------------------------------------------------------------------------------------
# options and bad input
# --------------------------------------------------------------------------------------------


def test_cli_timelines_option_and_bad_input(built, tmp_path):
    """--timelines N|all works; a negative or non-numeric value, or a bad max_timelines in the
    API, is refused in one line with nothing written."""
    from studymgr.present.report import write_report

    db = copy_study(built, tmp_path / "s")
    cli = Cli(db)
    out = tmp_path / "out"
    out.mkdir()
    result = cli("report", "--out", str(out / "r.html"), "--timelines", "1")
    assert result.exit_code == 0, result.output
    assert len(pngs(section_html((out / "r.html").read_text(encoding="utf-8"), "moments"))) == 1
    (out / "r.html").unlink()
    before = snapshot(out)
    for value in ("-1", "two", "1.5"):
        bad = cli("report", "--out", str(out / "r.html"), "--timelines", value)
        assert bad.exit_code == 2, bad.output
        assert bad.stdout == "" and bad.stderr.startswith("Error: ")
        assert "\n" not in bad.stderr.strip() and "--timelines" in bad.stderr
    with open_study(db) as study:
        for value in (-1, 2.5, True):
            with pytest.raises(InputError, match="whole number >= 0"):
                write_report(study, out / "r.html", max_timelines=value)
    assert snapshot(out) == before
    assert "--timelines" in cli("report", "--help").output
