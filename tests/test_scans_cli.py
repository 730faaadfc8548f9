"""``studymgr scans ...`` on the command line: happy paths, batch import, and bad input that is one
line on stderr, exit status 2 and changes nothing (the whole folder compared byte for byte)."""

from __future__ import annotations

import json

import h5py
import mne
import numpy as np
import pytest

from tests.conftest import snapshot
from tests.test_scans import write_nirx, write_snirf, write_two_person_snirf


@pytest.fixture
def project(cli, tmp_path):
    """A study D01 (T01, P01) sessions 1-2 (1 locked), D02 (T01, P02) session 1, plus input
    recordings under tmp_path/in."""
    for args in (
        ["init"],
        ["dyad", "add", "D01", "--therapist", "T01", "--patient", "P01"],
        ["dyad", "add", "D02", "--therapist", "T01", "--patient", "P02"],
        ["session", "add", "D01", "1"],
        ["session", "add", "D01", "2"],
        ["session", "add", "D02", "1"],
        ["session", "lock", "D01", "1"],
    ):
        assert cli(*args).exit_code == 0
    inputs = tmp_path / "in"
    write_snirf(inputs / "t.snirf", seed=1, annotations=[(3.0, 1.0, "start")])
    write_snirf(inputs / "p.snirf", seed=2)
    write_snirf(inputs / "p_other.snirf", seed=3)
    return cli


def _ok(result):
    assert result.exit_code == 0, result.output
    return result


def test_import_list_quality_pairs_status_check(project, tmp_path):
    """The whole round on the command line; expected values come from the synthetic
    files written by the fixture (8 channels, 10 Hz, 60 s, heartbeat 1.1 Hz, one annotation)."""
    inputs = tmp_path / "in"
    out = _ok(project("scans", "import", "D01", "2", "--role", "therapist",
                      str(inputs / "t.snirf"))).output
    assert out.startswith("Imported D01/2 therapist: sub-T01/ses-2/nirs/sub-T01_ses-2_task-"
                          "therapy_acq-D01_nirs.snirf")
    assert "8 channels at 10 Hz, 60.0 s; usable 100% (SCI >= 0.5); cardiac peak 1.10 Hz" in out
    out = _ok(project("scans", "import", "D01", "2", "--role", "patient",
                      str(inputs / "p.snirf"), "--sci-threshold", "0.9")).output
    assert "pair: ok" in out and "SCI >= 0.9" in out
    again = _ok(project("scans", "import", "D01", "2", "--role", "patient",
                        str(inputs / "p.snirf")))
    assert "nothing to do" in again.output
    rows = json.loads(_ok(project("scans", "list", "--json")).output)
    assert [(r["role"], r["person"], r["n_channels"], r["n_events"]) for r in rows] == [
        ("therapist", "T01", 8, 1), ("patient", "P01", 8, 0)]
    table = _ok(project("scans", "list", "D01")).output
    assert "usable_share" in table and "sha256" not in table
    quality = json.loads(_ok(project("scans", "quality", "D01", "2", "--role", "patient",
                                     "--json")).output)
    assert len(quality) == 8 and all(q["usable"] for q in quality)
    pairs = json.loads(_ok(project("scans", "pairs", "--json")).output)
    assert pairs[0]["status"] == "ok" and pairs[0]["overlap_s"] == 60.0
    status = _ok(project("status")).output
    d01 = next(line for line in status.splitlines() if line.startswith("D01"))
    assert d01.split()[-1] == "TP"
    assert "T = therapist's, P = patient's recording" in status
    rows = json.loads(_ok(project("status", "--json")).output)
    row = next(r for r in rows if r["dyad"] == "D01" and r["session"] == 2)
    assert row["scans_therapist"] and row["scans_patient"] and row["pair_status"] == "ok"
    assert "ok" in _ok(project("scans", "check")).output
    replaced = _ok(project("scans", "import", "D01", "2", "--role", "patient",
                           str(inputs / "p_other.snirf"), "--replace", "--reason", "re-export"))
    assert replaced.output.startswith("Replaced D01/2 patient")
    audit = json.loads(_ok(project("audit", "--json", "--limit", "3")).output)
    assert any(a["action"] == "replace" and a["reason"] == "re-export" for a in audit)


def test_split_a_two_person_snirf_then_import_both(project, tmp_path):
    """The refusal message points to 'scans split'; its parts are the original /nirs1 and /nirs2
    (compared with h5py) and import as one person each."""
    pair = write_two_person_snirf(tmp_path / "in" / "pair.snirf")
    refused = project("scans", "import", "D01", "2", "--role", "patient", str(pair))
    assert refused.exit_code == 2 and "studymgr scans split" in refused.stderr
    out_dir = tmp_path / "split"
    out_dir.mkdir()
    out = _ok(project("scans", "split", str(pair), str(out_dir))).output
    parts = sorted(out_dir.glob("*.snirf"))
    assert [p.name for p in parts] == ["pair_nirs1.snirf", "pair_nirs2.snirf"]
    assert out.count("Wrote") == 2
    with h5py.File(pair) as src:
        for part, group in zip(parts, ("nirs1", "nirs2"), strict=True):
            with h5py.File(part) as h5:
                assert sorted(h5.keys()) == ["formatVersion", "nirs"]
                np.testing.assert_array_equal(h5["nirs/data1/dataTimeSeries"][()],
                                              src[f"{group}/data1/dataTimeSeries"][()])
    again = project("scans", "split", str(pair), str(out_dir))
    assert again.exit_code == 2 and "already exist" in again.stderr
    _ok(project("scans", "import", "D01", "2", "--role", "therapist", str(parts[0])))
    _ok(project("scans", "import", "D01", "2", "--role", "patient", str(parts[1])))


def _bids(root, rel, **kwargs):
    return write_snirf(root / rel, **kwargs)


def test_import_dir_bids_layout_with_shared_therapist(project, tmp_path):
    """BIDS names map to dyads via the people/dyads tables; a shared therapist needs acq-<dyad>;
    sidecars are ignored; refused files are listed with reasons and exit status 2; a second run
    skips what is stored (exit 0)."""
    bids = tmp_path / "bids"
    _bids(bids, "sub-P01/ses-2/nirs/sub-P01_ses-2_task-therapy_nirs.snirf", seed=1)
    _bids(bids, "sub-T01/ses-2/nirs/sub-T01_ses-2_task-therapy_acq-D01_nirs.snirf", seed=2)
    _bids(bids, "sub-T01/ses-1/nirs/sub-T01_ses-1_task-therapy_acq-D02_nirs.snirf", seed=3)
    _bids(bids, "sub-P02/ses-1/nirs/sub-P02_ses-1_task-therapy_nirs.snirf", seed=4)
    _bids(bids, "sub-T01/ses-3/nirs/sub-T01_ses-3_task-therapy_nirs.snirf", seed=5)
    _bids(bids, "sub-P09/ses-1/nirs/sub-P09_ses-1_task-therapy_nirs.snirf", seed=6)
    (bids / "sub-P01/ses-2/nirs/sub-P01_ses-2_task-therapy_channels.tsv").write_text("x\n")
    write_nirx(bids / "sub-P01/ses-1/nirs/nirx_rec")  # a locked session: refused
    result = project("scans", "import-dir", str(bids), "--json")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("Error: 3 of 7 recording(s) refused")
    rows = {r["path"]: r for r in json.loads(result.stdout)}
    assert len(rows) == 7  # the .tsv sidecar is not a recording
    outcome = {p: (r["dyad"], r["session"], r["role"], r["outcome"]) for p, r in rows.items()}
    assert outcome["sub-P01/ses-2/nirs/sub-P01_ses-2_task-therapy_nirs.snirf"] == (
        "D01", 2, "patient", "imported")
    assert outcome["sub-T01/ses-2/nirs/sub-T01_ses-2_task-therapy_acq-D01_nirs.snirf"] == (
        "D01", 2, "therapist", "imported")
    assert outcome["sub-T01/ses-1/nirs/sub-T01_ses-1_task-therapy_acq-D02_nirs.snirf"][0] == "D02"
    assert outcome["sub-P02/ses-1/nirs/sub-P02_ses-1_task-therapy_nirs.snirf"][3] == "imported"
    assert "name the dyad in the file name" in rows[
        "sub-T01/ses-3/nirs/sub-T01_ses-3_task-therapy_nirs.snirf"]["detail"]
    assert "P09 is not in the study" in rows[
        "sub-P09/ses-1/nirs/sub-P09_ses-1_task-therapy_nirs.snirf"]["detail"]
    assert "is locked" in rows["sub-P01/ses-1/nirs/nirx_rec"]["detail"]
    listed = json.loads(_ok(project("scans", "list", "--json")).output)
    assert len(listed) == 4
    again = project("scans", "import-dir", str(bids))
    assert again.exit_code == 2 and "4 skipped, 3 refused" in again.stdout
    # only the good files: exit 0, all skipped
    good = tmp_path / "good"
    _bids(good, "sub-P01/ses-2/nirs/sub-P01_ses-2_task-therapy_nirs.snirf", seed=1)
    ok = _ok(project("scans", "import-dir", str(good)))
    assert "0 imported, 1 skipped, 0 refused" in ok.stdout
    assert "Importing" in ok.stderr  # the progress bar goes to stderr


def test_import_dir_with_a_mapping_file(project, tmp_path):
    """Mapped files import (a SNIRF pair and a NIRx folder); a missing file and a
    repeated path are refused in the summary; exit status 2."""
    folder = tmp_path / "exports"
    write_snirf(folder / "therapist_session2.snirf", seed=1)
    write_snirf(folder / "patient_session2.snirf", seed=2)
    write_nirx(folder / "p02_first")
    (folder / "map.csv").write_text(
        "path,dyad,session,role\n"
        "therapist_session2.snirf,D01,2,therapist\n"
        "patient_session2.snirf,D01,2,patient\n"
        "p02_first,D02,1,patient\n"
        "missing.snirf,D02,1,therapist\n"
        "patient_session2.snirf,D01,2,patient\n")
    result = project("scans", "import-dir", str(folder), "--mapping", str(folder / "map.csv"),
                     "--csv")
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines[0] == "path,dyad,session,role,outcome,detail"
    outcomes = [line.split(",")[4] for line in lines[1:]]
    assert outcomes == ["imported", "imported", "imported", "refused", "refused"]
    assert "does not exist" in lines[4] and "listed twice" in lines[5]
    scans = json.loads(_ok(project("scans", "list", "--json")).output)
    assert sorted((s["dyad"], s["role"], s["format"]) for s in scans) == [
        ("D01", "patient", "snirf"), ("D01", "therapist", "snirf"), ("D02", "patient", "nirx")]


def _bad_files(tmp_path):
    inputs = tmp_path / "in"
    (inputs / "empty.snirf").write_bytes(b"")
    (inputs / "notes.snirf").write_text("this is a text file\n")
    (inputs / "table.snirf").write_text("time,S1_D1 760\n0.0,1.0\n0.1,1.1\n")
    good = (inputs / "p.snirf").read_bytes()
    (inputs / "cut.snirf").write_bytes(good[: len(good) // 3])
    write_two_person_snirf(inputs / "pair.snirf")
    eeg = mne.io.RawArray(np.zeros((3, 200)), mne.create_info(["Fz", "Cz", "Pz"], 100.0, "eeg"),
                          verbose=False)
    eeg.save(inputs / "eeg_raw.fif", verbose=False)
    (inputs / "rec.edf").write_bytes(b"0" * 100)
    (inputs / "events.csv").write_text("onset,duration,label\n1,1,x\n")
    (inputs / "bad_map.csv").write_text("file,dyad\nx,D01\n")
    (tmp_path / "empty_dir").mkdir()


BAD = [
    (["D01", "2", "--role", "patient", "in/missing.snirf"], "does not exist"),
    (["D01", "2", "--role", "patient", "in/empty.snirf"], "is empty (0 bytes)"),
    (["D01", "2", "--role", "patient", "in/notes.snirf"], "not a SNIRF file: it holds text"),
    (["D01", "2", "--role", "patient", "in/table.snirf"], "(a CSV or text file named .snirf?)"),
    (["D01", "2", "--role", "patient", "in/cut.snirf"], "truncated or damaged"),
    (["D01", "2", "--role", "patient", "in/pair.snirf"], "holds 2 recordings (/nirs1, /nirs2)"),
    (["D01", "2", "--role", "patient", "in/eeg_raw.fif"], "has no fNIRS channels"),
    (["D01", "2", "--role", "patient", "in/rec.edf"], "unsupported file type '.edf'"),
    (["D01", "2", "--role", "patient", "empty_dir"], "is not a NIRx recording"),
    (["D01", "2", "--role", "therapist", "in/p_other.snirf"], "already has a therapist"),
    (["D01", "2", "--role", "therapist", "in/p_other.snirf", "--replace"], "needs --reason"),
    (["D09", "1", "--role", "patient", "in/p.snirf"], "unknown dyad D09"),
    (["D01", "5", "--role", "patient", "in/p.snirf"], "has no session 5"),
    (["D01", "1", "--role", "patient", "in/p.snirf"], "session D01/1 is locked"),
    (["D01", "2", "--role", "client", "in/p.snirf"], "Invalid value for '--role'"),
    (["D01", "2", "in/p.snirf"], "Missing option '--role'"),
    (["D01", "2", "--role", "patient", "in/p.snirf", "--sci-threshold", "2"],
     "Invalid value for '--sci-threshold'"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_scan_imports_change_nothing(project, tmp_path, monkeypatch, args, message):
    """Exit 2, nothing on stdout, one line on stderr naming the problem, folder unchanged."""
    monkeypatch.chdir(tmp_path)
    _ok(project("scans", "import", "D01", "2", "--role", "therapist", "in/t.snirf"))
    _bad_files(tmp_path)
    before = snapshot(tmp_path)
    result = project("scans", "import", *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    err = result.stderr.strip()
    assert "\n" not in err and err.startswith("Error: ") and message in err, err
    assert snapshot(tmp_path) == before


BAD_OTHER = [
    (["scans", "import-dir", "nowhere"], "does not exist"),
    (["scans", "import-dir", "in", "--mapping", "in/nomap.csv"], "does not exist"),
    (["scans", "import-dir", "in", "--mapping", "in/bad_map.csv"],
     "columns must be path,dyad,session,role"),
    (["scans", "quality", "D01", "2", "--role", "patient"], "has no patient recording"),
    (["scans", "list", "D09"], "unknown dyad D09"),
    (["scans", "pairs", "D09"], "unknown dyad D09"),
    (["scans", "split", "in/p.snirf", "."], "holds one recording: nothing to split"),
    (["scans", "split", "in/pair.snirf", "nowhere"], "does not exist"),
    (["scans", "split", "in/notes.snirf", "."], "not a SNIRF (HDF5) file"),
]


@pytest.mark.parametrize(("args", "message"), BAD_OTHER, ids=[" ".join(a) for a, _ in BAD_OTHER])
def test_bad_scan_commands_change_nothing(project, tmp_path, monkeypatch, args, message):
    """Exit 2, nothing on stdout, one line on stderr, folder unchanged byte for byte."""
    monkeypatch.chdir(tmp_path)
    _bad_files(tmp_path)
    before = snapshot(tmp_path)
    result = project(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    err = result.stderr.strip()
    assert "\n" not in err and err.startswith("Error: ") and message in err, err
    assert snapshot(tmp_path) == before


def test_scans_check_reports_and_cleans_leftovers(project, tmp_path):
    """A planted orphan file and a planted partial copy of an ended process are reported
    (exit 2) and moved into the data folder's quarantine with --clean (never deleted); the stored
    recording is untouched."""
    _ok(project("scans", "import", "D01", "2", "--role", "patient", str(tmp_path / "in/p.snirf")))
    nirs = tmp_path / "study_data" / "sub-P01" / "ses-2" / "nirs"
    (nirs / "sub-P01_ses-2_task-therapy_rep-2_nirs.snirf").write_bytes(b"orphan")
    (nirs / ".sub-P01_ses-2_task-therapy_rep-3_nirs.snirf.partial-4199999").write_bytes(b"x")
    result = project("scans", "check", "--json")
    assert result.exit_code == 2 and "2 problem(s)" in result.stderr
    assert sorted(r["status"] for r in json.loads(result.stdout)) == ["ok", "orphan", "partial"]
    cleaned = _ok(project("scans", "check", "--clean"))
    assert cleaned.output.count("moved to .quarantine/") == 2
    assert sorted(p.name for p in nirs.iterdir()) == ["sub-P01_ses-2_task-therapy_nirs.snirf"]
    kept = sorted(p.name for p in (tmp_path / "study_data" / ".quarantine").rglob("*")
                  if p.is_file())
    assert kept == [".sub-P01_ses-2_task-therapy_rep-3_nirs.snirf.partial-4199999",
                    "sub-P01_ses-2_task-therapy_rep-2_nirs.snirf"]
    _ok(project("scans", "check"))
