"""The schema refuses what must never be stored — by the database itself, not only by Python.

Each test writes raw SQL straight into a real study database (no studymgr code in between) and
expects SQLite to refuse it.
"""

from __future__ import annotations

import sqlite3

import pytest

from studymgr.store import database


@pytest.fixture
def conn(small_study):
    """A plain sqlite3 connection (foreign keys on, as every studymgr connection) to the study."""
    small_study.close()
    c = sqlite3.connect(small_study.path, isolation_level=None)
    c.execute("PRAGMA foreign_keys = ON")
    yield c
    c.close()


def ids(conn, dyad="D01"):
    d = conn.execute("SELECT id, therapist_id, patient_id FROM dyads WHERE code = ?",
                     (dyad,)).fetchone()
    return {"dyad": d[0], "therapist": d[1], "patient": d[2]}


def refused(conn, sql, params=(), match=None):
    with pytest.raises(sqlite3.IntegrityError, match=match):
        conn.execute(sql, params)


NOW = "2025-01-01T00:00:00.000000Z"


def test_wal_journal_and_foreign_keys(study):
    assert study.db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert study.db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert study.schema_version == database.schema_version() >= 1


@pytest.mark.parametrize("number", [0, -1, 1.5, "x", None])
def test_session_number_must_be_integer_from_one(conn, number):
    refused(conn, "INSERT INTO sessions (dyad_id, number, created_at) VALUES (?, ?, ?)",
            (ids(conn)["dyad"], number, NOW), match="constraint")


def test_same_session_number_twice_in_a_dyad(conn):
    refused(conn, "INSERT INTO sessions (dyad_id, number, created_at) VALUES (?, 2, ?)",
            (ids(conn)["dyad"], NOW), match="UNIQUE")


def test_same_session_number_in_two_dyads_is_fine(conn):
    conn.execute("INSERT INTO sessions (dyad_id, number, created_at) VALUES (?, 2, ?)",
                 (ids(conn, "D02")["dyad"], NOW))


def test_unknown_role(conn):
    refused(conn, "INSERT INTO people (code, role, created_at) VALUES ('X1', 'doctor', ?)",
            (NOW,), match="CHECK")


@pytest.mark.parametrize("code", ["../x", "a'b", "x" * 33, "", "D 01", "Dö1", "a;b", "a/b"])
def test_identifiers_are_codes(conn, code):
    refused(conn, "INSERT INTO people (code, role, created_at) VALUES (?, 'patient', ?)",
            (code, NOW), match="CHECK")
    refused(conn, "INSERT INTO dyads (code, therapist_id, patient_id, created_at) "
            "VALUES (?, ?, ?, ?)", (code, ids(conn)["therapist"], ids(conn)["patient"], NOW),
            match="CHECK")


@pytest.mark.parametrize("date", ["2025-02-30", "2025/01/01", "25-01-01", "2025-1-1", "today"])
def test_bad_dates(conn, date):
    refused(conn, "INSERT INTO sessions (dyad_id, number, date, created_at) VALUES (?, 9, ?, ?)",
            (ids(conn)["dyad"], date, NOW), match="CHECK")


def test_unknown_session_kind(conn):
    refused(conn, "INSERT INTO sessions (dyad_id, number, kind, created_at) "
            "VALUES (?, 9, 'group', ?)", (ids(conn)["dyad"], NOW), match="CHECK")


def test_dyad_roles_enforced_by_trigger(conn):
    i = ids(conn)
    # patient in the therapist slot and vice versa
    refused(conn, "INSERT INTO dyads (code, therapist_id, patient_id, created_at) "
            "VALUES ('D09', ?, ?, ?)", (i["patient"], i["therapist"], NOW), match="dyad roles")


def test_foreign_keys_enforced(conn):
    refused(conn, "INSERT INTO sessions (dyad_id, number, created_at) VALUES (999, 1, ?)",
            (NOW,), match="FOREIGN KEY")
    refused(conn, "DELETE FROM dyads WHERE code = 'D01'", match="FOREIGN KEY")


def test_locked_session_is_read_only(conn):
    sid = conn.execute("SELECT s.id FROM sessions s JOIN dyads d ON d.id = s.dyad_id "
                       "WHERE d.code = 'D01' AND s.number = 1").fetchone()[0]
    refused(conn, "UPDATE sessions SET date = '2025-04-01' WHERE id = ?", (sid,), match="locked")
    refused(conn, "DELETE FROM sessions WHERE id = ?", (sid,), match="locked")
    refused(conn, "INSERT INTO events (session_id, onset_s, label, source, created_at) "
            "VALUES (?, 1.0, 'MOI', 'csv', ?)", (sid, NOW), match="locked")
    conn.execute("INSERT INTO instruments (name, version, construct, definition, content_hash, "
                 "source, added_at) VALUES ('x', '1', 'other', '{}', ?, 'user', ?)",
                 ("0" * 64, NOW))
    refused(conn, "INSERT INTO responses (session_id, instrument_id, role, timing, "
            "entered_by, entered_at) VALUES (?, 1, 'patient', 'pre', 'u', ?)", (sid, NOW),
            match="locked")
    # item values and scores of a response follow its session's lock
    conn.execute("UPDATE sessions SET locked = 0 WHERE id = ?", (sid,))
    rid = conn.execute("INSERT INTO responses (session_id, instrument_id, role, timing, "
                       "entered_by, entered_at) VALUES (?, 1, 'patient', 'pre', 'u', ?)",
                       (sid, NOW)).lastrowid
    conn.execute("INSERT INTO response_items (response_id, item, position, value) "
                 "VALUES (?, '1', 1, 2.0)", (rid,))
    conn.execute("INSERT INTO scores (response_id, scale, value, n_answered, n_items) "
                 "VALUES (?, 'total', 2.0, 1, 1)", (rid,))
    conn.execute("UPDATE sessions SET locked = 1 WHERE id = ?", (sid,))
    for sql in ("UPDATE response_items SET value = 3.0", "DELETE FROM response_items",
                "INSERT INTO response_items (response_id, item, position, value) "
                f"VALUES ({rid}, '2', 2, 1.0)",
                "UPDATE scores SET value = 9.0", "DELETE FROM scores",
                "INSERT INTO scores (response_id, scale, value, n_answered, n_items) "
                f"VALUES ({rid}, 'sub', 1.0, 1, 1)",
                "DELETE FROM responses"):
        refused(conn, sql, match="locked")
    # unlocking is the one change allowed
    conn.execute("UPDATE sessions SET locked = 0 WHERE id = ?", (sid,))


def test_audit_log_is_append_only(conn):
    assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] > 0
    refused(conn, "UPDATE audit_log SET user = 'mallory'", match="append-only")
    refused(conn, "DELETE FROM audit_log", match="append-only")


def test_response_items_keep_missing_codes_apart_from_values(conn):
    sid = conn.execute("SELECT id FROM sessions WHERE locked = 0 LIMIT 1").fetchone()[0]
    conn.execute("INSERT INTO instruments (name, version, construct, definition, content_hash, "
                 "source, added_at) VALUES ('x', '1', 'other', '{}', ?, 'user', ?)",
                 ("0" * 64, NOW))
    rid = conn.execute("INSERT INTO responses (session_id, instrument_id, role, timing, "
                       "entered_by, entered_at) VALUES (?, 1, 'patient', 'pre', 'u', ?)",
                       (sid, NOW)).lastrowid
    sql = ("INSERT INTO response_items (response_id, item, position, value, missing) "
           "VALUES (?, ?, ?, ?, ?)")
    conn.execute(sql, (rid, "1", 1, 3.0, None))
    conn.execute(sql, (rid, "2", 2, None, "NA"))
    refused(conn, sql, (rid, "3", 3, 2.0, "NA"), match="CHECK")
    refused(conn, sql, (rid, "4", 4, None, None), match="CHECK")
    refused(conn, sql, (rid, "5", 5, None, "maybe"), match="CHECK")
    # a second entry for the same session, instrument, role and timing
    refused(conn, "INSERT INTO responses (session_id, instrument_id, role, timing, "
            "entered_by, entered_at) VALUES (?, 1, 'patient', 'pre', 'u', ?)", (sid, NOW),
            match="UNIQUE")
    refused(conn, "UPDATE instruments SET definition = '{\"a\": 1}'", match="immutable")


def test_scan_person_must_be_the_dyad_member_in_that_role(conn):
    sid = conn.execute("SELECT id FROM sessions WHERE locked = 0 LIMIT 1").fetchone()[0]
    i = ids(conn)
    sql = ("INSERT INTO scans (session_id, person_id, role, format, path, sha256, size_bytes, "
           "sfreq, n_channels, channels, duration_s, imported_by, imported_at) "
           "VALUES (?, ?, ?, 'snirf', ?, ?, 10, 10.0, 2, '[]', 60.0, 'u', ?)")
    refused(conn, sql, (sid, i["patient"], "therapist", "a.snirf", "0" * 64, NOW),
            match="dyad member")
    refused(conn, sql, (sid, i["therapist"], "therapist", "../a.snirf", "0" * 64, NOW),
            match="CHECK")
    conn.execute(sql, (sid, i["therapist"], "therapist", "a.snirf", "0" * 64, NOW))
