"""Session events: CSV import (all or nothing), rater attribution, listing, and the recording's own
annotations. Expected values are the rows written into each CSV here; bad input leaves the
study folder byte for byte unchanged."""

from __future__ import annotations

import json

import pytest

from studymgr import ConflictError, InputError, NotFoundError
from studymgr.io.recordings import read_events_csv
from tests.conftest import snapshot
from tests.test_scans import write_snirf


def _csv(path, text):
    path.write_text(text)
    return path


def test_read_events_csv_parses_what_was_written(tmp_path):
    """Rows come back as written; an empty duration is 0; BOM and ';' separators are accepted;
    --rater fills empty rater cells."""
    f = _csv(tmp_path / "e.csv", "\ufeffOnset,Duration,Label,Rater\n"
                                 "12.5,3,moment of interest,R1\n0,,  start   ,\n")
    assert read_events_csv(f) == [
        {"onset_s": 12.5, "duration_s": 3.0, "label": "moment of interest", "rater": "R1"},
        {"onset_s": 0.0, "duration_s": 0.0, "label": "start", "rater": None}]
    assert read_events_csv(f, rater="R1")[1]["rater"] == "R1"
    g = _csv(tmp_path / "g.csv", "onset;duration;label\n1.5;0;a\n")
    assert read_events_csv(g) == [{"onset_s": 1.5, "duration_s": 0.0, "label": "a",
                                   "rater": None}]


@pytest.mark.parametrize(("text", "message"), [
    ("", "is empty"),
    ("onset,duration,label\n", "no events"),
    ("onset,label\n1,x\n", "columns must be onset,duration,label"),
    ("onset,duration,label,comment\n1,0,x,y\n", "columns must be"),
    ("onset,duration,label\n-1,0,x\n", "line 2: onset must be a number of seconds >= 0"),
    ("onset,duration,label\n1,0,x\nabc,0,y\n", "line 3: onset 'abc' is not a number"),
    ("onset,duration,label\n1,-2,x\n", "duration must be"),
    ("onset,duration,label\n1,nan,x\n", "duration must be"),
    ("onset,duration,label\n1,0,\n", "label must have 1-64 characters"),
    ("onset,duration,label\n1,0," + "x" * 65 + "\n", "label must have 1-64 characters"),
    ("onset,duration,label,rater\n1,0,x,R 2\n", "invalid rater (line 2) code"),
    ("onset,duration,label,rater\n1,0,x,R2\n", "rater R2 differs from --rater R1"),
    ("onset,duration,label\n1,0\n", "2 values for 3 columns"),
])
def test_read_events_csv_refuses_bad_rows(tmp_path, text, message):
    """Each malformed file is refused with the line and the reason."""
    f = _csv(tmp_path / "e.csv", text)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_events_csv(f, rater="R1" if "differs" in message else None)


def test_import_events_sources_listing_and_audit(small_study, tmp_path):
    """Rater rows are source 'rater', rater-less rows 'csv', --consensus 'consensus'; listing
    filters by dyad and session; one audit row per import."""
    f = _csv(tmp_path / "r1.csv", "onset,duration,label\n10,5,interest\n40,5,no interest\n")
    assert small_study.import_events("D01", 2, f, rater="R1") == {"n_events": 2, "n_removed": 0}
    g = _csv(tmp_path / "plain.csv", "onset,duration,label\n5,0,bell\n")
    small_study.import_events("D01", 2, g)
    c = _csv(tmp_path / "cons.csv", "onset,duration,label,rater\n10,5,interest,panel\n")
    small_study.import_events("D01", 3, c, consensus=True)
    events = small_study.events("D01", 2)
    assert list(events["onset_s"]) == [5.0, 10.0, 40.0]
    assert list(events["source"]) == ["csv", "rater", "rater"]
    assert list(events["rater"].fillna("-")) == ["-", "R1", "R1"]
    assert list(small_study.events("D01", 3)["source"]) == ["consensus"]
    assert len(small_study.events()) == 4 and small_study.events("D02").empty
    log = small_study.audit(limit=1)
    assert log["entity"][0] == "events" and json.loads(log["new"][0])["n_events"] == 1
    with pytest.raises(InputError, match="give the dyad"):
        small_study.events(None, 2)


def test_duplicates_refused_and_replace_is_per_rater(small_study, tmp_path):
    """The same rows again are refused; --replace needs a reason and removes only
    that rater's rows (hand-listed result)."""
    f = _csv(tmp_path / "r1.csv", "onset,duration,label\n10,5,interest\n")
    small_study.import_events("D01", 2, f, rater="R1")
    small_study.import_events("D01", 2, f, rater="R2")  # another rater: not a duplicate
    with pytest.raises(ConflictError, match="already stored.*--replace"):
        small_study.import_events("D01", 2, f, rater="R1")
    with pytest.raises(InputError, match="--reason"):
        small_study.import_events("D01", 2, f, rater="R1", replace=True)
    g = _csv(tmp_path / "r1b.csv", "onset,duration,label\n11,5,interest\n12,1,other\n")
    out = small_study.import_events("D01", 2, g, rater="R1", replace=True, reason="corrected")
    assert out == {"n_events": 2, "n_removed": 1}
    events = small_study.events("D01", 2)
    assert sorted(zip(events["rater"], events["onset_s"], strict=True)) == [
        ("R1", 11.0), ("R1", 12.0), ("R2", 10.0)]
    assert small_study.audit(limit=1)["reason"][0] == "corrected"


def test_onsets_beyond_the_recordings_look_like_milliseconds(small_study, tmp_path):
    """With a 60 s recording stored, an onset of 12000 is refused (a unit error)."""
    small_study.import_scan("D01", 2, "patient", write_snirf(tmp_path / "p.snirf"))
    f = _csv(tmp_path / "ms.csv", "onset,duration,label\n12000,500,x\n")
    with pytest.raises(InputError, match=r"after the end of the session's recordings \(60.0 s\)"):
        small_study.import_events("D01", 2, f)
    ok = _csv(tmp_path / "s.csv", "onset,duration,label\n12,0.5,x\n")
    small_study.import_events("D01", 2, ok)
    assert list(small_study.events("D01", 2)["source"]) == ["csv"]


def test_events_of_locked_or_unknown_sessions_are_refused(small_study, tmp_path):
    """Locked or unknown sessions and a missing file store nothing."""
    f = _csv(tmp_path / "e.csv", "onset,duration,label\n1,0,x\n")
    with pytest.raises(ConflictError, match="is locked"):
        small_study.import_events("D01", 1, f)
    with pytest.raises(NotFoundError, match="no session 9"):
        small_study.import_events("D01", 9, f)
    with pytest.raises(NotFoundError, match="does not exist"):
        small_study.import_events("D01", 2, tmp_path / "nope.csv")
    assert small_study.events().empty


def test_recording_annotations_become_events_with_their_recording(small_study, tmp_path):
    """Annotations written into the SNIRF come back as events of source 'recording' linked to
    the role's recording (onsets, durations and labels as written)."""
    src = write_snirf(tmp_path / "t.snirf", annotations=[(2.0, 1.5, "baseline"),
                                                         (20.0, 0.0, "talk")])
    small_study.import_scan("D01", 2, "therapist", src)
    events = small_study.events("D01", 2)
    assert list(events["label"]) == ["baseline", "talk"]
    assert list(events["onset_s"]) == pytest.approx([2.0, 20.0], abs=0.05)
    assert list(events["duration_s"]) == [1.5, 0.0]
    assert set(events["recording"]) == {"therapist"} and set(events["source"]) == {"recording"}


# -- command line ----------------------------------------------------------------------------
@pytest.fixture
def project(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the CSV files below are named relative to the study folder
    for args in (["init"], ["dyad", "add", "D01", "--therapist", "T01", "--patient", "P01"],
                 ["session", "add", "D01", "1"], ["session", "add", "D01", "2"],
                 ["session", "lock", "D01", "1"]):
        assert cli(*args).exit_code == 0
    _csv(tmp_path / "good.csv", "onset,duration,label,rater\n1,2,interest,R1\n5,1,other,R1\n")
    _csv(tmp_path / "half_bad.csv", "onset,duration,label\n1,2,ok\n-3,1,bad\n")
    _csv(tmp_path / "wrong.csv", "time,label\n1,x\n")
    return cli


def test_cli_import_and_list(project):
    """Command-line import and listing return the rows of good.csv as written."""
    result = project("events", "import", "D01", "2", "good.csv")
    assert result.exit_code == 0 and "Imported 2 events into D01/2" in result.output
    rows = json.loads(project("events", "list", "D01", "2", "--json").output)
    assert [(r["onset_s"], r["label"], r["rater"], r["source"]) for r in rows] == [
        (1.0, "interest", "R1", "rater"), (5.0, "other", "R1", "rater")]
    csv = project("events", "list", "--csv").output.splitlines()
    assert csv[0] == "dyad,session,onset_s,duration_s,label,rater,source,recording"
    replaced = project("events", "import", "D01", "2", "good.csv", "--replace", "--reason", "x")
    assert replaced.exit_code == 0 and "(replacing 2)" in replaced.output
    assert "No events." in project("events", "list", "D01", "1").output


BAD = [
    (["events", "import", "D01", "2", "half_bad.csv"], "line 3: onset must be"),
    (["events", "import", "D01", "2", "wrong.csv"], "columns must be"),
    (["events", "import", "D01", "2", "missing.csv"], "does not exist"),
    (["events", "import", "D01", "1", "good.csv"], "is locked"),
    (["events", "import", "D09", "1", "good.csv"], "unknown dyad D09"),
    (["events", "import", "D01", "2", "good.csv", "--rater", "R2"], "differs from --rater R2"),
    (["events", "import", "D01", "2", "good.csv", "--rater", "a b"], "invalid rater"),
    (["events", "import", "D01", "2", "good.csv", "--replace"], "needs --reason"),
    (["events", "list", "D01", "7"], "has no session 7"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_cli_bad_events_change_nothing(project, tmp_path, args, message):
    """All or nothing: a file with one bad row stores none; one line on stderr; exit 2."""
    before = snapshot(tmp_path)
    result = project(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    err = result.stderr.strip()
    assert "\n" not in err and err.startswith("Error: ") and message in err, err
    assert snapshot(tmp_path) == before


def test_cli_duplicate_import_is_refused(project, tmp_path):
    """A second import of the same file is refused and changes nothing on disk."""
    assert project("events", "import", "D01", "2", "good.csv").exit_code == 0
    before = snapshot(tmp_path)
    result = project("events", "import", "D01", "2", "good.csv")
    assert result.exit_code == 2 and "already stored" in result.stderr
    assert snapshot(tmp_path) == before
