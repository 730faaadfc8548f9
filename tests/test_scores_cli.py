"""``studymgr scores ...`` and ``studymgr instrument ...`` end to end through the CLI.

What the tests compare with: scores shown and stored are compared with ``Instrument.score`` of
the pure module (itself checked against hand-computed examples) and with the hand-computed GAD-7
example (3,2,1,0,3,2,1 -> 12, moderate); bad input is checked as in tests/test_cli.py: exit
status 2, nothing on stdout, a clear error on stderr, and the study folder unchanged byte for
byte.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from tests.conftest import snapshot
from tests.test_entry import BUILTIN, add_sessions, make_rows, random_values, write_csv

GAD = ["--role", "patient", "--timing", "pre"]


@pytest.fixture
def entered(small_study, cli, tmp_path):
    """small_study (D01 sessions 1-3, 1 locked; D02 session 1) with gad7 entered for D01/2,
    and a set of malformed input files in tmp_path/in."""
    from studymgr.runs import entry

    entry.enter_response(small_study, "D01", 2, "gad7", role="patient", timing="pre",
                         items="3,2,1,0,3,2,1")
    small_study.close()  # an open connection keeps -wal/-shm files: close before snapshots
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "empty.csv").write_bytes(b"")
    (folder / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00")
    (folder / "nocols.csv").write_text("name,score\nD01,3\n")
    (folder / "header.csv").write_text("dyad,session,role,timing,instrument,1\n")
    (folder / "book.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (folder / "changed.json").write_text(json.dumps(
        {**BUILTIN["gad7"].definition, "title": "GAD-7, my copy"}))
    (folder / "changed_srs.json").write_text(json.dumps(
        {**BUILTIN["srs"].definition, "timings": ["pre", "post"]}))
    (folder / "broken.json").write_text('{"name": "x", ')
    return cli


BAD_INPUTS = [
    (["scores", "enter", "D01", "3", "gad7", *GAD, "--items", "3,2,9,0,3,2,1"],
     "gad7: item '3' = 9 is out of range; allowed 0-3"),
    (["scores", "enter", "D01", "3", "gad7", *GAD, "--items", "3,2,1"],
     "expected 7 item values"),
    (["scores", "enter", "D01", "3", "phq9", *GAD, "--items", "3,2,1"],
     "unknown instrument 'phq9'"),
    (["scores", "enter", "D01", "3", "gad7", *GAD, "--items", "1=3,2=2,3=1,4=0,5=3,6=2,8=1"],
     "unknown item '8'"),
    (["scores", "enter", "D01", "3", "srs", "--role", "therapist", "--items", "1,2,3,4"],
     "srs is filled in by the patient only, not by the therapist"),
    (["scores", "enter", "D01", "3", "srs", "--role", "patient", "--timing", "pre",
      "--items", "1,2,3,4"], "srs is given post a session only, not pre"),
    (["scores", "enter", "D01", "3", "gad7", "--role", "patient", "--items", "0"],
     "gad7 is given pre or post a session"),
    (["scores", "enter", "D09", "1", "gad7", *GAD, "--items", "3,2,1,0,3,2,1"],
     "unknown dyad D09"),
    (["scores", "enter", "D01", "7", "gad7", *GAD, "--items", "3,2,1,0,3,2,1"],
     "dyad D01 has no session 7"),
    (["scores", "enter", "D01", "2", "gad7", *GAD, "--items", "3,2,1,0,3,2,1"],
     "already entered"),
    (["scores", "enter", "D01", "1", "gad7", *GAD, "--items", "3,2,1,0,3,2,1"],
     "session D01/1 is locked: unlock it first ('studymgr session unlock D01 1"),
    (["scores", "enter", "D01", "1", "gad7", *GAD], "studymgr session unlock D01 1"),
    (["scores", "enter", "D01", "3", "gad7", "--role", "rater", "--items", "0"],
     "Invalid value for '--role'"),
    (["scores", "enter", "D01", "3", "gad7", "--timing", "pre", "--items", "0,0,0,0,0,0,0"],
     "Missing option '--role'"),
    (["scores", "enter", "D01", "3", "gad7", *GAD, "--respondent", "therapist", "--items",
      "0,0,0,0,0,0,0"], "--role and --respondent (its old name) disagree"),
    (["scores", "amend", "D01", "1", "gad7", *GAD, "--items", "0,0,0,0,0,0,0", "--reason", "x"],
     "studymgr session unlock D01 1"),
    (["scores", "amend", "D01", "3", "gad7", *GAD, "--items", "0,0,0,0,0,0,0", "--reason", "x"],
     "nothing to amend"),
    (["scores", "amend", "D01", "2", "gad7", *GAD, "--items", "3,2,1,0,3,2,1", "--reason", "x"],
     "already has these values: nothing to amend"),
    (["scores", "amend", "D01", "2", "gad7", *GAD, "--items", "0,0,0,0,0,0,0", "--reason", " "],
     "needs a reason"),
    (["scores", "amend", "D01", "2", "gad7", *GAD, "--items", "0,0,0,0,0,0,0"],
     "Missing option '--reason'"),
    (["scores", "import", "in/missing.csv"], "no such file"),
    (["scores", "import", "in/empty.csv"], "empty.csv is empty: nothing imported"),
    (["scores", "import", "in/binary.csv"], "binary.csv is not a text file"),
    (["scores", "import", "in/nocols.csv"],
     "nocols.csv lacks the column(s) dyad, session, role, instrument"),
    (["scores", "import", "in/header.csv"], "has a header but no rows"),
    (["scores", "import", "in/book.xlsx"], "save the sheet as 'CSV UTF-8'"),
    (["instrument", "add", "in/changed.json"], 'already stored with a different definition'),
    (["instrument", "add", "in/changed_srs.json"], "srs@2003 is a built-in instrument with a "
     "different definition: give yours a new \"version\""),
    (["instrument", "add", "in/broken.json"], "broken.json: not valid JSON"),
    (["instrument", "show", "phq9"], "unknown instrument 'phq9'"),
    (["scores", "list", "--instrument", "phq9"], "unknown instrument 'phq9'"),
    (["scores", "list", "--dyad", "D09"], "unknown dyad D09"),
    (["scores", "reliability", "srs"], "no srs@2003 responses are stored yet"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_and_changes_nothing(entered, tmp_path, monkeypatch, args,
                                                   message):
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    result = entered(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    err = result.stderr.strip()
    assert "\n" not in err and err.startswith("Error: ") and message in err, err
    assert "Traceback" not in result.output
    assert snapshot(tmp_path) == before


def test_respondent_is_a_hidden_alias_of_role(small_study, cli):
    """``--respondent`` (the option's name before schema v4) still enters, with a warning on
    stderr, and is left out of the help."""
    small_study.close()
    result = cli("scores", "enter", "D01", "3", "gad7", "--respondent", "therapist", "--timing",
                 "pre", "--items", "3,2,1,0,3,2,1")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Entered gad7@2006 for D01/3 (therapist, pre):")
    assert "--respondent is now --role" in result.stderr
    stored = json.loads(cli("scores", "list", "--instrument", "gad7", "--json").stdout)
    assert [(r["role"], r["value"]) for r in stored] == [("therapist", 12.0)]
    for command in ("enter", "amend"):
        helptext = cli("scores", command, "--help").stdout
        assert "--role" in helptext and "--respondent" not in helptext


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_enter_every_builtin_through_the_cli(small_study, cli, name):
    """The scores printed and stored equal Instrument.score of the values typed."""
    small_study.close()
    inst = BUILTIN[name]
    values = random_values(inst, np.random.default_rng(3), p_missing=0.0)
    values[-1] = "NA"
    result = cli("scores", "enter", "D01", "3", name, "--role", inst.roles[0],
                 "--timing", inst.timings[0], "--items", ",".join(values))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Entered {name}@{inst.version} for D01/3 "
                                    f"({inst.roles[0]}, {inst.timings[0]}):")
    expected = inst.score(values)
    stored = json.loads(cli("scores", "list", "--instrument", name, "--json").stdout)
    assert [r["scale"] for r in stored] == [s.scale for s in expected]
    for row, want in zip(stored, expected, strict=True):
        assert row["value"] == (None if want.value is None else pytest.approx(want.value))
        assert (row["n_answered"], row["n_items"], row["prorated"], row["band"]) == (
            want.n_answered, want.n_items, want.prorated, want.band)
    as_json = json.loads(cli("scores", "items", "--instrument", name, "--json").stdout)
    assert [r["missing"] for r in as_json][-1] == "NA"


def test_gad7_hand_example_table(small_study, cli):
    """GAD-7 items 3,2,1,0,3,2,1: total 3+2+1+0+3+2+1 = 12, band moderate (10-14)."""
    small_study.close()
    result = cli("scores", "enter", "D01", "2", "gad7", *GAD, "--items", "3,2,1,0,3,2,1")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["scale", "value", "n_answered", "n_items", "prorated", "band"]
    assert lines[3].split() == ["total", "12", "7", "7", "no", "moderate"]
    rows = json.loads(cli("scores", "list", "--json").stdout)
    assert [(r["value"], r["band"], r["primary"]) for r in rows] == [(12.0, "moderate", True)]


def test_interactive_entry_reasks_after_an_invalid_value(small_study, cli):
    """Item by item: 9 (out of range), 'x' (not a number) and an empty line are re-asked."""
    small_study.close()
    typed = "3\n9\n2\nx\n\n1\n0\nREF\n2\n1\n"
    result = cli("scores", "enter", "D01", "2", "gad7", *GAD, input=typed)
    assert result.exit_code == 0, result.output
    assert "Error: gad7: item '2' = 9 is out of range" in result.stderr
    assert "Error: gad7: item '3' = 'x' is neither a number nor a missing code" in result.stderr
    assert result.stderr.count("item 3 (0-3 in steps of 1)") == 3  # x, empty line, then 1
    # 3+2+1+0+2+1 = 9 over 6 answered items, prorated: 9 * 7/6 = 10.5 -> moderate
    rows = json.loads(cli("scores", "list", "--json").stdout)
    assert [(r["value"], r["prorated"], r["band"]) for r in rows] == [(10.5, True, "moderate")]
    items = json.loads(cli("scores", "items", "--json").stdout)
    assert [i["missing"] for i in items] == [None] * 4 + ["REF"] + [None] * 2
    # amending interactively too
    result = cli("scores", "amend", "D01", "2", "gad7", *GAD, "--reason", "paper form",
                 input="0\n0\n0\n0\n0\n0\n0\n")
    assert result.exit_code == 0 and result.stdout.startswith("Amended gad7@2006")


def test_amend_through_the_cli_keeps_old_values_in_the_audit(entered):
    result = entered("scores", "amend", "D01", "2", "gad7", *GAD, "--items",
                     "3,2,2,0,3,2,1", "--reason", "item 3 misread")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[3].split() == ["total", "13", "7", "7", "no", "moderate"]
    audit = json.loads(entered("audit", "--limit", "1", "--json").stdout)[0]
    assert audit["action"] == "amend" and audit["reason"] == "item 3 misread"
    assert audit["old"]["items"]["3"] == 1.0 and audit["old"]["scores"] == {"total": 12.0}
    assert audit["new"]["items"]["3"] == 2.0
    rows = json.loads(entered("scores", "responses", "--json").stdout)
    assert [(r["status"], r["source"]) for r in rows] == [("amended", "amend")]


@pytest.fixture
def battery(study, cli):
    add_sessions(study, 10, 10)
    study.close()
    return cli


def test_import_with_one_bad_row_among_500(battery, tmp_path):
    """All or nothing: the error's first line summarises, the next names line, column, value
    and reason; after the fix the file imports, and importing it again changes nothing."""
    rows = make_rows(10, 10, seed=4)
    bad = next(i for i, r in enumerate(rows) if r["instrument"] == "ors" and i > 250)
    good_value = rows[bad]["i2"]
    rows[bad]["i2"] = "10.05"
    path = write_csv(tmp_path / "batch.csv", rows)
    before = snapshot(tmp_path)
    result = battery("scores", "import", str(path))
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: 1 bad row in batch.csv: nothing imported"
    assert lines[1].startswith(f"  line {bad + 2}, column 'i2', value '10.05': ors: item '2'")
    assert len(lines) == 2 and "Traceback" not in result.output
    assert snapshot(tmp_path) == before

    rows[bad]["i2"] = good_value
    write_csv(path, rows)
    result = battery("scores", "import", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == "Imported 500 responses from batch.csv\n"
    before = snapshot(tmp_path)
    again = battery("scores", "import", str(path))
    assert again.exit_code == 0 and "batch.csv was already imported (500 responses" in \
        again.stdout and "nothing to do" in again.stdout
    assert snapshot(tmp_path) == before
    status = battery("status")
    assert "T* q5" in status.stdout and "qN:" in status.stdout
    rel = battery("scores", "reliability", "wai-sr", "--by-session")
    assert rel.exit_code == 0 and rel.stdout.splitlines()[2].split()[4] == "all"
    assert len(rel.stdout.splitlines()) == 2 + 4 * 11


def test_progress_bar_on_a_terminal(monkeypatch):
    """Large files on a terminal get a progress bar on stderr; the rows pass through."""
    from studymgr.cli import scores as scores_cli

    class Tty(io.StringIO):
        def isatty(self):
            return True

    err = Tty()
    monkeypatch.setattr("sys.stderr", err)
    assert list(scores_cli._progress(iter(range(600)), 600)) == list(range(600))
    assert "Checking rows" in err.getvalue()
    assert list(scores_cli._progress(iter(range(3)), 3)) == [0, 1, 2]


def test_instrument_commands(entered, tmp_path):
    listed = json.loads(entered("instrument", "list", "--json").stdout)
    by_name = {r["name"]: r for r in listed}
    assert set(by_name) == set(BUILTIN)
    assert by_name["gad7"]["stored"] and by_name["gad7"]["responses"] == 1
    assert not by_name["srs"]["stored"] and by_name["wai-sr"]["items"] == 12
    assert by_name["who5"]["scales"] == "raw, percentage"
    shown = json.loads(entered("instrument", "show", "gad7@2006").stdout)
    assert shown == BUILTIN["gad7"].definition
    mine = tmp_path / "in" / "mine.json"
    mine.write_text(json.dumps({**BUILTIN["gad7"].definition, "name": "gad7-local"}))
    added = entered("instrument", "add", str(mine))
    assert added.exit_code == 0 and added.stdout.startswith("Added instrument gad7-local@2006")
    before = snapshot(tmp_path)
    again = entered("instrument", "add", str(mine))
    assert again.exit_code == 0 and "already stored with this definition" in again.stdout
    assert snapshot(tmp_path) == before
    table = entered("instrument", "list").stdout
    assert "gad7-local" in table and "user" in table
