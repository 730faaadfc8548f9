"""A montage that matches nothing must not wipe results (issue 16, item 2).

A montage naming none of a run's channels is refused before anything is stored (exit 2, the
database byte-for-byte unchanged); one naming none of a session's channels fails that session;
channels it leaves out of the ROI averages are named in a warning; and a session whose
computation yields no session-level value never replaces its stored results.
"""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from tests.conftest import Cli


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A computed study (3 dyads x 2 sessions), closed: tests work on copies of its folder."""
    import os

    os.environ.setdefault("STUDYMGR_USER", "tester")
    from tests.test_pipeline import build_study

    root = tmp_path_factory.mktemp("montage") / "study"
    root.mkdir()
    study, _sim = build_study(root)
    study.compute_synchrony()
    study.close()
    shutil.rmtree(root / "sim")
    return root


@pytest.fixture
def copy(built, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDYMGR_USER", "tester")
    target = tmp_path / "study"
    shutil.copytree(built, target)
    return target


def _rows(db) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT * FROM synchrony_results ORDER BY id").fetchall()


def test_montage_naming_no_channel_is_refused_and_changes_nothing(copy):
    db = copy / "study.db"
    montage = copy / "m.csv"
    montage.write_text("channel,roi\nS99_D99,A\n")
    before, rows = _sha(db), _rows(db)
    result = Cli(db)("synchrony", "compute", "--dyad", "D01", "--session", "1", "--force",
                     "--no-pseudo", "--montage", str(montage))
    assert result.exit_code == 2, result.output
    assert "montage" in result.output and "S99_D99" in result.output
    assert "names none" in result.output
    assert _sha(db) == before and _rows(db) == rows
    listed = Cli(db)("synchrony", "list", "--level", "session", "--pair", "true",
                     "--csv")
    assert listed.exit_code == 0, listed.output
    assert "D01,1," in listed.output


def test_montage_leaving_channels_out_warns_and_names_them(copy):
    db = copy / "study.db"
    montage = copy / "m.csv"
    montage.write_text("channel,roi\nS1_D1,A\nS2_D2,A\n")  # the recordings also have S2_D1
    result = Cli(db)("synchrony", "compute", "--dyad", "D01", "--session", "1", "--force",
                     "--no-pseudo", "--montage", str(montage))
    assert result.exit_code == 0, result.output
    assert "1 channel(s) the montage does not name are left out" in result.output
    assert "S2_D1" in result.output
    assert "computed" in result.output


def test_session_whose_recordings_the_montage_misses_fails_alone(copy, monkeypatch):
    """One session's recordings have other channels: that session fails, the others compute."""
    import studymgr
    from studymgr.compute.synchrony.config import SynchronyConfig
    from studymgr.runs import synchrony as runs_synchrony

    db = copy / "study.db"
    real = runs_synchrony._scan_channels

    def renamed(study, row, role, *rest):  # D02's recordings name their channels S7_D7, S8_D8, ...
        names = real(study, row, role, *rest)
        if row["dyad"] == "D02":
            return {n.replace("S", "S7").replace("_D", "_D7") for n in names}
        return names

    monkeypatch.setattr(runs_synchrony, "_scan_channels", renamed)
    with studymgr.open_study(db) as study:
        d02 = study.synchrony(dyad="D02")
        config = SynchronyConfig(pseudo=False, montage=(("S1_D1", "A"), ("S2_D2", "A"),
                                                        ("S3_D3", "B")))
        summary = study.compute_synchrony(config, session=1, force=True)  # S2_D1 left out
        status = dict(zip(summary["dyad"], summary["status"], strict=True))
        assert status == {"D01": "computed", "D02": "failed", "D03": "computed"}
        message = summary.set_index("dyad").loc["D02", "message"]
        assert "montage" in message and "names none" in message
        assert study.synchrony(dyad="D02").equals(d02)  # D02's stored results are untouched


def test_no_session_level_result_never_replaces_stored_results(copy, monkeypatch):
    """The safety net: a computation without a session-level value is a failure."""
    import studymgr
    from studymgr.runs import synchrony as runs_synchrony

    db = copy / "study.db"
    real = runs_synchrony.pair_synchrony

    def without_session(*args, **kwargs):
        frame, notes = real(*args, **kwargs)
        return frame[frame["level"] != "session"], notes

    monkeypatch.setattr(runs_synchrony, "pair_synchrony", without_session)
    rows = _rows(db)
    with studymgr.open_study(db) as study:
        summary = study.compute_synchrony(dyad="D01", session=1, force=True)
    assert list(summary["status"]) == ["failed"]
    assert "session-level" in summary["message"].iloc[0]
    assert _rows(db) == rows


def test_compute_session_without_a_mapped_usable_channel_is_an_error():
    """The mapped channel is bad in the therapist's recording: no ROI, no session value."""
    from studymgr.compute.synchrony.config import SynchronyConfig
    from studymgr.runs.synchrony import SessionJob, compute_session
    from tests.test_pipeline import _coupled, prepared

    xs, ys = zip(*(_coupled(3000, 0.9, seed=i) for i in range(3)), strict=True)
    t = prepared(1, np.array(xs), bads={"S3_D3 hbo", "S3_D3 hbr"})
    p = prepared(2, np.array(ys))
    job = SessionJob(session_id=1, label="D01/1", therapist=1, patient=2, pseudo=[],
                     input_hashes={})
    config = SynchronyConfig(pseudo=False, montage=(("S3_D3", "A"),))
    result = compute_session(job, {1: t, 2: p}, config)
    assert result.error is not None and "session-level" in result.error
    assert result.results is None


def test_summary_of_a_session_without_recordings_reads_well(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDYMGR_USER", "tester")
    import studymgr

    with studymgr.create_study(tmp_path / "s.db", user="tester") as study:
        study.add_dyad("D01", therapist="T01", patient="P01")
        study.add_session("D01", 1, scanned=True)
        summary = study.compute_synchrony()
    message = summary["message"].iloc[0]
    assert "recording recording" not in message
    assert message.startswith("no recording: import the therapist and patient")


def test_eventlocked_refuses_a_montage_naming_no_channel(copy):
    db = copy / "study.db"
    montage = copy / "m.csv"
    montage.write_text("channel,roi\nS99_D99,A\n")
    before = _sha(db)
    result = Cli(db)("eventlocked", "compute", "--force", "--montage", str(montage))
    assert result.exit_code == 2, result.output
    assert "names none" in result.output
    assert _sha(db) == before


def test_eventlocked_without_a_session_level_result_is_a_failure(monkeypatch):
    from types import SimpleNamespace

    import pandas as pd

    from studymgr.compute.events.eventlocked import EventLockedResult
    from studymgr.runs import eventlocked as runs_eventlocked
    from studymgr.runs.jobs import SessionFailure

    frame = pd.DataFrame({"level": ["channel"], "value": [0.5]})
    result = EventLockedResult(results=frame, tests=frame, timecourses=None, warnings=[])
    monkeypatch.setattr(runs_eventlocked, "eventlocked_session", lambda *args: result)
    task = SimpleNamespace(therapist=SimpleNamespace(scan_id=1),
                           patient=SimpleNamespace(scan_id=2), events=None)
    out = runs_eventlocked._compute_session((task, None), {1: object(), 2: object()})
    assert isinstance(out, SessionFailure) and "session-level" in out.message
