"""The store's study-wide reads for check, backup and report (studymgr/store/maintenance.py,
studymgr/store/opening.py), and where the backup functions live."""

from __future__ import annotations

import importlib
import sqlite3
import warnings

import pandas as pd
import pytest

from studymgr import InputError, open_study
from studymgr.runs import entry
from studymgr.runs.study import Study
from studymgr.store import (
    DatabaseError,
    Store,
    open_store_as_is,
    shipped_schema_fingerprint,
    shipped_schema_version,
)
from studymgr.store.maintenance import SESSION_RUN_COLUMNS, SNAPSHOT_COUNTS


@pytest.fixture
def answered(small_study):
    entry.enter_response(small_study, "D01", 2, "gad7", role="patient", timing="pre",
                         items=[3, 2, 1, 0, 3, 2, "NA"])
    return small_study


def plant_run(study, *, kind="synchrony", session=2, status="done"):
    """An analysis run row as the writers leave it (the store's own synchrony writer for a
    finished synchrony run; a raw row for other states)."""
    sid = study.session_id("D01", session)
    if kind == "synchrony" and status == "done":
        return study.save_synchrony(
            session_id=sid, label=f"D01/{session}", config={"band": [0.05, 0.1]},
            config_hash="a" * 64, input_hashes={"therapist": "t", "patient": "p", "pseudo": []},
            versions={"studymgr": "test"}, results=pd.DataFrame(
                columns=["pair", "therapist_scan", "patient_scan", "chromophore", "level",
                         "therapist_unit", "patient_unit", "value"]),
            tests=None, warnings=[])
    conn = sqlite3.connect(study.path)
    cur = conn.execute(
        "INSERT INTO analysis_runs (kind, session_id, config, config_hash, versions, status, "
        "started_by, started_at) VALUES (?, ?, '{}', ?, '{}', ?, 'x', '2025-01-01T00:00:00Z')",
        (kind, sid, "b" * 64, status))
    conn.commit()
    conn.close()
    return cur.lastrowid


def test_a_fresh_study_is_intact_and_has_the_shipped_schema(study):
    assert study.integrity_check() == ["ok"]
    assert study.foreign_key_problems() == []
    assert study.schema_version == shipped_schema_version()
    assert study.schema_fingerprint() == shipped_schema_fingerprint()


def test_foreign_key_problems_name_table_row_and_parent(small_study):
    conn = sqlite3.connect(small_study.path)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("UPDATE sessions SET dyad_id = 999 WHERE number = 3")
    conn.commit()
    conn.close()
    rowid = small_study.session_id("D01", 2) + 1  # session 3 of D01, before the dyad vanished
    assert small_study.foreign_key_problems() == [("sessions", rowid, "dyads")]


def test_row_counts_and_unknown_tables(answered):
    counts = answered.row_counts()
    assert list(counts) == list(SNAPSHOT_COUNTS)
    assert counts["dyads"] == 2 and counts["sessions"] == 4 and counts["responses"] == 1
    assert answered.row_counts(["scores"]) == {"scores": 1}
    for bad in ("nope", 'scans"; DROP TABLE scans; --'):
        with pytest.raises(InputError, match="has no table"):
            answered.row_counts([bad])
    assert answered.row_counts(["scans"]) == {"scans": 0}


def test_write_snapshot_copies_one_consistent_database(answered, tmp_path):
    info = answered.write_snapshot(tmp_path / "copy.db")
    assert info["study"] == answered.name and info["schema_version"] == shipped_schema_version()
    assert info["counts"] == answered.row_counts() and info["scans"] == []
    conn = sqlite3.connect(answered.path)
    newest = conn.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    conn.close()
    assert tuple(info["audit_head"]) == newest
    with open_study(tmp_path / "copy.db", data_dir=tmp_path / "copy_data") as copy:
        assert copy.row_counts() == info["counts"]
        assert copy.verify_audit() == []


def test_instrument_definitions_and_response_records_are_as_stored(answered):
    (gad7,) = answered.instrument_definitions()
    assert (gad7["name"], len(gad7["content_hash"])) == ("gad7", 64)
    assert answered.instrument(f"gad7@{gad7['version']}").content_hash == gad7["content_hash"]
    assert isinstance(gad7["definition"], str)  # the JSON text, not validated here
    (record,) = answered.response_records()
    assert {k: record[k] for k in ("dyad", "session", "instrument", "role", "timing")} == {
        "dyad": "D01", "session": 2, "instrument": "gad7", "role": "patient", "timing": "pre"}
    assert list(record["items"].values()) == [3, 2, 1, 0, 3, 2, "NA"]
    total = record["scores"]["total"]
    assert total[1:4] == (6, 7, True)  # n_answered, n_items, prorated
    stored = answered.scores(instrument="gad7")
    assert total[0] == pytest.approx(stored.loc[stored["scale"] == "total", "value"].iloc[0])


def test_session_runs_and_unfinished_runs(small_study):
    done = plant_run(small_study)
    eeg = plant_run(small_study, kind="eeg", session=3)
    running = plant_run(small_study, kind="eventlocked", status="running")
    runs = small_study.session_runs("synchrony")
    assert list(runs.columns) == SESSION_RUN_COLUMNS
    assert runs[["run", "dyad", "session"]].values.tolist() == [[done, "D01", 2]]
    assert runs["config"].iloc[0] == {"band": [0.05, 0.1]}
    assert runs["input_hashes"].iloc[0]["pseudo"] == []
    both = small_study.session_runs(["eeg", "synchrony", "eventlocked"])
    assert list(both["run"]) == [done, eeg]  # by dyad, session; the running one left out
    assert list(small_study.session_runs("eventlocked", status="running")["run"]) == [running]
    assert small_study.session_runs("nothing").empty
    unfinished = small_study.unfinished_runs()
    assert unfinished.values.tolist() == [[running, "eventlocked", "2025-01-01T00:00:00Z"]]


def test_open_store_as_is_changes_nothing(small_study):
    small_study.close()
    conn = sqlite3.connect(small_study.path)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with open_store_as_is(small_study.path, factory=Study) as study:
        assert isinstance(study, Study) and study.schema_version == 1
        assert study.data_dir == small_study.data_dir
    with open_store_as_is(small_study.path, data_dir="elsewhere") as store:
        assert type(store) is Store and str(store.data_dir) == "elsewhere"
    conn = sqlite3.connect(small_study.path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1  # not upgraded
    conn.execute("DELETE FROM study")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match="no study row: it is damaged; restore it"):
        open_store_as_is(small_study.path, damaged_hint="restore it")


def test_database_error_is_the_drivers():
    assert DatabaseError is sqlite3.DatabaseError


def test_backup_functions_live_in_runs_and_keep_their_old_paths():
    from studymgr.io import backup as files
    from studymgr.runs import backup

    for name in ("read_manifest", "verify_backup", "MANIFEST", "FORMAT"):
        assert getattr(backup, name) is getattr(files, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = importlib.import_module("studymgr.backup")
    assert old.backup_study is backup.backup_study and old.restore_study is backup.restore_study
    assert old.read_manifest is files.read_manifest
