"""The store's Python API: creating and opening studies, dyads, sessions, locking, audit trail."""

from __future__ import annotations

import json
import os
import sqlite3
import stat

import pandas as pd
import pytest

import studymgr
from studymgr import ConflictError, InputError, NotFoundError, SchemaVersionError
from studymgr.store import database


def test_create_makes_database_and_private_data_folder(tmp_path):
    study = studymgr.create_study(tmp_path / "haifa.db", user="alice")
    assert study.name == "haifa"
    assert study.data_dir == (tmp_path / "haifa_data").resolve()
    assert study.data_dir.is_dir()
    assert stat.S_IMODE(os.stat(study.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(study.data_dir).st_mode) == 0o700
    log = study.audit()
    assert list(log["action"]) == ["create"] and log["user"][0] == "alice"
    study.close()
    # nothing but the database and its data folder is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["haifa.db", "haifa_data"]


def test_create_refuses_existing_file_and_leaves_it_alone(tmp_path):
    path = tmp_path / "study.db"
    path.write_bytes(b"precious")
    with pytest.raises(ConflictError, match="already exists"):
        studymgr.create_study(path)
    assert path.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]


def test_create_in_missing_folder_is_refused(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        studymgr.create_study(tmp_path / "nope" / "study.db")
    assert list(tmp_path.iterdir()) == []


def test_data_dir_is_stored_relative_and_can_be_overridden(tmp_path):
    (tmp_path / "a").mkdir()
    studymgr.create_study(tmp_path / "a" / "s.db").close()
    # move the study and its folder together: still found
    os.rename(tmp_path / "a", tmp_path / "b")
    with studymgr.open_study(tmp_path / "b" / "s.db") as study:
        assert study.data_dir == (tmp_path / "b" / "s_data").resolve()
    with studymgr.open_study(tmp_path / "b" / "s.db", data_dir=tmp_path / "elsewhere") as study:
        assert study.data_dir == tmp_path / "elsewhere"


def test_dyads_share_a_therapist(small_study):
    dyads = small_study.dyads()
    assert list(dyads["dyad"]) == ["D01", "D02"]
    assert list(dyads["therapist"]) == ["T01", "T01"]
    assert list(dyads["sessions"]) == [3, 1]
    people = small_study.people()
    assert set(people["code"]) == {"T01", "P01", "P02"}
    assert int(people.loc[people["code"] == "T01", "dyads"].iloc[0]) == 2


def test_a_person_keeps_one_role(small_study):
    with pytest.raises(ConflictError, match="is a patient"):
        small_study.add_dyad("D03", therapist="P01", patient="P09")
    with pytest.raises(ConflictError, match="already form dyad D01"):
        small_study.add_dyad("D03", therapist="T01", patient="P01")
    with pytest.raises(InputError, match="two different people"):
        small_study.add_dyad("D03", therapist="X1", patient="X1")
    assert list(small_study.dyads()["dyad"]) == ["D01", "D02"]


def test_sessions_listing_and_lookup(small_study):
    sessions = small_study.sessions("D01")
    assert list(sessions["session"]) == [1, 2, 3]
    assert list(sessions["locked"]) == [True, False, False]
    s = small_study.session("D02", 1)
    assert s["kind"] == "interview" and s["scanned"] is False or not s["scanned"]
    with pytest.raises(NotFoundError, match="no session 7"):
        small_study.session_id("D01", 7)
    with pytest.raises(NotFoundError, match="unknown dyad D09"):
        small_study.sessions("D09")


def test_lock_unlock_and_update_are_audited(small_study):
    with pytest.raises(ConflictError, match="locked"):
        small_study.update_session("D01", 1, date="2025-05-01")
    with pytest.raises(ConflictError, match="already locked"):
        small_study.lock_session("D01", 1)
    with pytest.raises(InputError, match="--reason"):
        small_study.unlock_session("D01", 1, reason=" ")
    small_study.unlock_session("D01", 1, reason="late questionnaire")
    small_study.update_session("D01", 1, date="2025-05-01", attended=False, reason="typo")
    log = small_study.audit(limit=2)
    assert list(log["action"]) == ["update", "unlock"]
    assert json.loads(log["old"][0]) == {"date": "2025-03-01", "attended": 1}
    assert json.loads(log["new"][0]) == {"date": "2025-05-01", "attended": 0}
    assert log["reason"][0] == "typo"
    assert small_study.session("D01", 1)["date"] == "2025-05-01"


def test_the_session_number_is_called_session_in_every_signature(small_study):
    """Every public Study method that takes a session number names it ``session`` (``number``
    was dropped without an alias: positional calls, as in the README, are unchanged)."""
    import inspect

    from studymgr.runs.study import Study

    assert [n for n, f in inspect.getmembers(Study, inspect.isfunction) if not n.startswith("_")
            and "number" in inspect.signature(f).parameters] == []
    small_study.add_session(dyad="D02", session=2)
    assert small_study.session(dyad="D02", session=2)["session"] == 2
    small_study.lock_session("D02", session=2, reason="done")
    with pytest.raises(ConflictError, match="session D02/2 is locked"):
        small_study.require_unlocked("D02", session=2)
    small_study.unlock_session("D02", session=2, reason="late questionnaire")
    small_study.update_session("D02", session=2, kind="interview", reason="was one")
    assert small_study.session("D02", 2)["kind"] == "interview"
    assert small_study.session_id("D02", session=2) == small_study.require_unlocked("D02", 2)
    with pytest.raises(TypeError, match="number"):
        small_study.session_id("D02", number=2)


def test_status_is_one_row_per_dyad_and_session(small_study):
    small_study.add_dyad("D03", therapist="T02", patient="P03")  # no sessions yet
    status = small_study.status()
    assert len(status) == 5
    d03 = status[status["dyad"] == "D03"]
    assert d03["session"].isna().all()
    assert list(status.columns[:4]) == ["dyad", "therapist", "patient", "session"]


@pytest.mark.parametrize("reader", ["synchrony_inputs", "synchrony", "synchrony_tests",
                                    "scans", "scan_pairs", "events", "eventlocked_results",
                                    "eeg_results", "eeg_asymmetry"])
def test_readers_filter_by_a_known_dyad_only(small_study, reader):
    read = getattr(small_study, reader)
    with pytest.raises(NotFoundError, match="unknown dyad D09"):
        read(dyad="D09")
    with pytest.raises(InputError, match="invalid dyad code"):
        read(dyad="Dyad one")
    frame = read(dyad="D02")
    assert set(frame["dyad"]) <= {"D02"}
    assert len(read()) >= len(frame)


def test_every_write_is_audited_and_the_chain_verifies(small_study):
    log = small_study.audit(limit=None)
    # create + 3 people + 2 dyads + 4 sessions + 1 lock
    assert len(log) == 11
    assert small_study.verify_audit() == []


def test_audit_chain_detects_tampering(small_study):
    small_study.close()
    conn = sqlite3.connect(small_study.path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("UPDATE audit_log SET user = 'mallory' WHERE id = 3")
    conn.execute("DELETE FROM audit_log WHERE id = 5")
    conn.close()
    with studymgr.open_study(small_study.path) as study:
        problems = study.verify_audit()
    assert any("row 3" in p and "edited" in p for p in problems)
    assert any("removed" in p for p in problems)


def test_failed_write_leaves_no_trace(small_study):
    before = small_study.audit(limit=None)
    with pytest.raises(ConflictError):
        with small_study.transaction():
            small_study.db.conn.execute(
                "INSERT INTO people (code, role, created_at) VALUES ('P77', 'patient', 'x')")
            small_study.log("add", "person", "P77")
            small_study.add_session("D01", 2)  # duplicate: the whole block rolls back
    assert "P77" not in set(small_study.people()["code"])
    pd.testing.assert_frame_equal(small_study.audit(limit=None), before)


def test_open_refuses_missing_non_sqlite_and_non_study_files(tmp_path):
    with pytest.raises(NotFoundError, match="studymgr init"):
        studymgr.open_study(tmp_path / "missing.db")
    text = tmp_path / "notes.db"
    text.write_text("hello")
    with pytest.raises(InputError, match="not a SQLite database"):
        studymgr.open_study(text)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE x (a)").connection.close()
    with pytest.raises(InputError, match="not a studymgr study"):
        studymgr.open_study(other)
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    with pytest.raises(InputError):
        studymgr.open_study(corrupt)
    assert not (tmp_path / "missing.db").exists()


def test_newer_schema_is_refused_unchanged(study):
    study.db.conn.execute(f"PRAGMA user_version = {database.schema_version() + 1}")
    study.close()
    before = study.path.read_bytes()
    with pytest.raises(SchemaVersionError, match="newer than this studymgr"):
        studymgr.open_study(study.path)
    assert study.path.read_bytes() == before


def test_user_names_are_validated(tmp_path):
    with pytest.raises(InputError, match="invalid user"):
        studymgr.create_study(tmp_path / "s.db", user="rm -rf /")
    assert list(tmp_path.iterdir()) == []
