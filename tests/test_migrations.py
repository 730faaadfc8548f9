"""Schema versions: opening an older study upgrades it; a newer one is refused; failures are atomic.

The migration runner is exercised on a made-up version 2 (a copy of the shipped schema plus one
column) so that the path is tested before the first real migration ships; the shipped chain is
checked against frozen databases of every older version in tests/data/.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import studymgr
from studymgr import StudyError
from studymgr.resources import schemas_dir
from studymgr.store import database

DATA = Path(__file__).parent / "data"


def make_schema_dir(root: Path, version: int, extra_sql: str = "",
                    migration: str | None = None) -> Path:
    """A schemas folder holding the shipped study.sql at ``version`` (+ extra SQL)."""
    folder = root / f"schemas_v{version}"
    (folder / "migrations").mkdir(parents=True)
    sql = (schemas_dir() / "study.sql").read_text()
    current = database.schema_version()
    sql = sql.replace(f"PRAGMA user_version = {current};", f"PRAGMA user_version = {version};")
    (folder / "study.sql").write_text(sql + "\n" + extra_sql)
    if migration is not None:
        (folder / "migrations" / f"v{version}.sql").write_text(migration)
    return folder


@pytest.fixture
def v1_study(tmp_path, monkeypatch):
    v1 = make_schema_dir(tmp_path, 1)
    monkeypatch.setattr(database, "schemas_dir", lambda: v1)
    study = studymgr.create_study(tmp_path / "study.db", user="tester")
    study.add_dyad("D01", therapist="T01", patient="P01")
    study.add_session("D01", 1, date="2025-01-02")
    study.close()
    return study.path


EXTRA = ("CREATE TABLE notes_v2 (id INTEGER PRIMARY KEY, "
         "session_id INTEGER REFERENCES sessions(id));")
ALTER = "ALTER TABLE sessions ADD COLUMN room TEXT CHECK (room IS NULL OR length(room) <= 8);"


def test_older_study_is_upgraded_in_place(tmp_path, v1_study, monkeypatch):
    v2 = make_schema_dir(tmp_path, 2, extra_sql=EXTRA + "\n" + ALTER, migration=EXTRA + ALTER)
    monkeypatch.setattr(database, "schemas_dir", lambda: v2)
    with studymgr.open_study(v1_study) as study:
        assert study.schema_version == 2
        assert list(study.sessions()["date"]) == ["2025-01-02"]  # data kept
        log = study.audit(limit=1)
        assert log["action"][0] == "upgrade" and '"schema_version":1' in log["old"][0]
        assert study.verify_audit() == []
        upgraded = database.schema_fingerprint(study.db.conn)
    fresh = studymgr.create_study(tmp_path / "fresh.db")
    assert database.schema_fingerprint(fresh.db.conn) == upgraded
    fresh.close()


@pytest.mark.parametrize("bad", [
    EXTRA + "\nALTER TABLE no_such_table ADD COLUMN x;",           # fails half-way
    "INSERT INTO sessions (dyad_id, number, created_at) VALUES (99, 5, 'x');",  # breaks an FK
])
def test_failed_upgrade_changes_nothing(tmp_path, v1_study, monkeypatch, bad):
    before = v1_study.read_bytes()
    v2 = make_schema_dir(tmp_path, 2, extra_sql=EXTRA, migration=bad)
    monkeypatch.setattr(database, "schemas_dir", lambda: v2)
    with pytest.raises(StudyError, match="left unchanged"):
        studymgr.open_study(v1_study)
    assert v1_study.read_bytes() == before
    conn = sqlite3.connect(v1_study)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()


def test_refuses_to_open_older_study_without_upgrade(tmp_path, v1_study, monkeypatch):
    v2 = make_schema_dir(tmp_path, 2, extra_sql=EXTRA, migration=EXTRA)
    monkeypatch.setattr(database, "schemas_dir", lambda: v2)
    with pytest.raises(StudyError, match="schema version 1"):
        studymgr.open_study(v1_study, upgrade=False)


def test_every_shipped_version_has_a_migration_and_a_frozen_fixture(tmp_path):
    """Each older schema version N has migrations/vN+1.sql and a frozen tests/data/study_vN.sql;
    upgrading that frozen database gives exactly the schema of a fresh study."""
    current = database.schema_version()
    steps = database.migrations()
    assert sorted(steps) == list(range(2, current + 1))
    fresh = studymgr.create_study(tmp_path / "fresh.db")
    expected = database.schema_fingerprint(fresh.db.conn)
    fresh.close()
    for version in range(1, current):
        dump = DATA / f"study_v{version}.sql"
        assert dump.is_file(), f"freeze a v{version} database as {dump} before changing schema"
        path = tmp_path / f"old_v{version}.db"
        conn = sqlite3.connect(path)
        conn.executescript(dump.read_text())
        conn.close()
        with studymgr.open_study(path) as study:
            assert database.schema_fingerprint(study.db.conn) == expected
            assert study.verify_audit() == []


def test_shipped_schema_creates_cleanly(study):
    names = {r[0] for r in study.db.conn.execute("SELECT name FROM sqlite_master")}
    for table in ("study", "people", "dyads", "sessions", "instruments", "responses",
                  "response_items", "scores", "scans", "scan_pairs", "events", "analysis_runs",
                  "synchrony_results", "synchrony_tests", "model_fits", "model_terms", "audit_log"):
        assert table in names
