"""Schema versions: opening an older study upgrades it; a newer one is refused; failures are atomic.

The migration runner is exercised on a made-up next version (a copy of the shipped schema plus
one table and one column, upgrading a study at the shipped version), so that its failure paths are
tested independently of the real migrations; the shipped chain is checked against frozen
databases of every older version in tests/data/.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import studymgr
from studymgr import ConflictError, StudyError
from studymgr.resources import schemas_dir
from studymgr.runs import entry
from studymgr.store import database

DATA = Path(__file__).parent / "data"
OLD = database.schema_version()  # the shipped version plays the older one
NEW = OLD + 1                    # a made-up next version


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
def old_study(tmp_path):
    study = studymgr.create_study(tmp_path / "study.db", user="tester")
    study.add_dyad("D01", therapist="T01", patient="P01")
    study.add_session("D01", 1, date="2025-01-02")
    study.close()
    return study.path


EXTRA = ("CREATE TABLE notes_next (id INTEGER PRIMARY KEY, "
         "session_id INTEGER REFERENCES sessions(id));")
ALTER = "ALTER TABLE sessions ADD COLUMN room TEXT CHECK (room IS NULL OR length(room) <= 8);"


def test_older_study_is_upgraded_in_place(tmp_path, old_study, monkeypatch):
    nxt = make_schema_dir(tmp_path, NEW, extra_sql=EXTRA + "\n" + ALTER, migration=EXTRA + ALTER)
    monkeypatch.setattr(database, "schemas_dir", lambda: nxt)
    with studymgr.open_study(old_study) as study:
        assert study.schema_version == NEW
        assert list(study.sessions()["date"]) == ["2025-01-02"]  # data kept
        log = study.audit(limit=1)
        assert log["action"][0] == "upgrade"
        assert f'"schema_version":{OLD}' in log["old"][0]
        assert study.verify_audit() == []
        upgraded = database.schema_fingerprint(study.db.conn)
    fresh = studymgr.create_study(tmp_path / "fresh.db")
    assert database.schema_fingerprint(fresh.db.conn) == upgraded
    fresh.close()


@pytest.mark.parametrize("bad", [
    EXTRA + "\nALTER TABLE no_such_table ADD COLUMN x;",           # fails half-way
    "INSERT INTO sessions (dyad_id, number, created_at) VALUES (99, 5, 'x');",  # breaks an FK
])
def test_failed_upgrade_changes_nothing(tmp_path, old_study, monkeypatch, bad):
    before = old_study.read_bytes()
    nxt = make_schema_dir(tmp_path, NEW, extra_sql=EXTRA, migration=bad)
    monkeypatch.setattr(database, "schemas_dir", lambda: nxt)
    with pytest.raises(StudyError, match="left unchanged"):
        studymgr.open_study(old_study)
    assert old_study.read_bytes() == before
    conn = sqlite3.connect(old_study)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == OLD
    conn.close()


def test_refuses_to_open_older_study_without_upgrade(tmp_path, old_study, monkeypatch):
    nxt = make_schema_dir(tmp_path, NEW, extra_sql=EXTRA, migration=EXTRA)
    monkeypatch.setattr(database, "schemas_dir", lambda: nxt)
    with pytest.raises(StudyError, match=f"schema version {OLD}"):
        studymgr.open_study(old_study, upgrade=False)


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
                  "synchrony_results", "synchrony_tests", "person_measures", "model_fits",
                  "model_terms", "audit_log"):
        assert table in names


def test_v2_asymmetry_moves_from_the_run_message_to_person_measures(tmp_path):
    """The frozen v2 study holds one EEG run whose frontal alpha asymmetry v2 kept as JSON in
    the run's message (8 rows: 2 people x session/MOI/MONI/rest). After the upgrade the same
    numbers come back from person_measures, compared with the JSON read from the dump itself,
    and the message keeps only the warnings."""
    import json

    dump = (DATA / "study_v2.sql").read_text()
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path)
    conn.executescript(dump)
    message = conn.execute("SELECT message FROM analysis_runs WHERE kind = 'eeg'").fetchone()[0]
    conn.close()
    before = json.loads(message)
    assert len(before["asymmetry"]) == 8
    with studymgr.open_study(path) as study:
        asym = study.eeg_asymmetry()
        run_message = study.db.conn.execute(
            "SELECT message FROM analysis_runs WHERE kind = 'eeg'").fetchone()[0]
    assert len(asym) == 8
    for old, new in zip(before["asymmetry"], asym.to_dict(orient="records"), strict=True):
        for key in ("role", "left", "right", "condition", "n_windows"):
            assert new[key] == old[key]
        assert new["value"] == old["value"]  # the same float, moved not recomputed
        assert (old["sd"] is None and new["sd"] != new["sd"]) or new["sd"] == old["sd"]
    assert run_message == ("; ".join(before["warnings"]) or None)


def test_v3_respondent_becomes_role(tmp_path):
    """The frozen v3 study (two dyads; gad7 and who5 answered by both roles, wai-sr by the
    patient; entered, amended and imported; session D01/1 locked) keeps every response, item
    value and score row through the v4 upgrade; only the column ``responses.respondent`` is now
    called ``role``, and its CHECK and UNIQUE constraints follow it."""
    path = tmp_path / "v3.db"
    conn = sqlite3.connect(path)
    conn.executescript((DATA / "study_v3.sql").read_text())
    tables = ("responses", "response_items", "scores")
    before = {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}
    columns = [r[1] for r in conn.execute("PRAGMA table_info(responses)")]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    conn.close()
    assert "respondent" in columns and "role" not in columns
    assert {r[columns.index("respondent")] for r in before["responses"]} == {"therapist",
                                                                             "patient"}
    assert {r[columns.index("status")] for r in before["responses"]} == {"entered", "amended"}
    with studymgr.open_study(path) as study:
        assert study.schema_version == database.schema_version() >= 4
        conn = study.db.conn
        assert {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
                for t in tables} == before
        assert [r[1] for r in conn.execute("PRAGMA table_info(responses)")] == [
            "role" if c == "respondent" else c for c in columns]
        unique = [i[1] for i in conn.execute("PRAGMA index_list(responses)") if i[2]]
        assert [[c[2] for c in conn.execute(f"PRAGMA index_info('{name}')")]
                for name in unique] == [["session_id", "instrument_id", "role", "timing"]]
        scores = study.scores()
        assert set(zip(scores["dyad"], scores["session"], scores["role"], scores["instrument"],
                       strict=True)) == {
            ("D01", 1, "patient", "gad7"), ("D01", 1, "therapist", "gad7"),
            ("D01", 1, "therapist", "who5"), ("D01", 1, "patient", "wai-sr"),
            ("D01", 2, "patient", "gad7"), ("D02", 1, "patient", "gad7"),
            ("D02", 1, "therapist", "who5")}
        assert study.session("D01", 1)["locked"]
        assert study.verify_audit() == []
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed: role"):
            conn.execute("INSERT INTO responses (session_id, instrument_id, role, timing, "
                         "entered_by, entered_at) VALUES (3, 1, 'rater', 'pre', 't', 'x')")
        with pytest.raises(ConflictError, match="already entered"):  # UNIQUE on role kept
            entry.enter_response(study, "D02", 1, "gad7", role="patient", timing="pre",
                                 items="0,0,0,0,0,0,0")
        entry.enter_response(study, "D02", 1, "gad7", role="therapist", timing="pre",
                             items="0,0,0,0,0,0,0")
        assert len(study.responses()) == len(before["responses"]) + 1
