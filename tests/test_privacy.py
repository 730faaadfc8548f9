"""No identifiers: the schema has no place for them, identifying metadata inside imported files is
reported (never copied into the database), exports can strip it, and files are owner-only.

References: the schema's own column list and CHECK constraints (read from SQLite, not from our
code), SNIRF files written here with known names and birth dates (the values must appear in the
file and nowhere in the database), and the file modes reported by the operating system.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3

import h5py
import numpy as np
import pytest

from studymgr.io.privacy import identifying_metadata, looks_like_code, strip_identifiers
from studymgr.store import database
from tests.test_scans import make_raw, write_nirx, write_snirf

# Every column of the schema by kind. A new column must be added here, which makes its author
# decide whether it could hold an identifier.
CODE = "validated code (CHECK ... NOT GLOB)"
CHOICE = "one of a fixed list (CHECK ... IN)"
TIME = "date or UTC timestamp"
HASH = "SHA-256 hex digest"
JSON = "JSON written by studymgr"
STAFF = "user name of the staff member who made the change (not a participant)"
GENERATED = "written by studymgr from codes, definitions or recordings"
NUMBER = "number or id"
FREE = "free text"
COLUMNS = {
    "study": {"id": NUMBER, "name": CODE, "data_dir": GENERATED, "created_at": TIME,
              "created_by": STAFF, "created_with": GENERATED, "uid": GENERATED},
    "people": {"id": NUMBER, "code": CODE, "role": CHOICE, "created_at": TIME},
    "dyads": {"id": NUMBER, "code": CODE, "therapist_id": NUMBER, "patient_id": NUMBER,
              "created_at": TIME},
    "sessions": {"id": NUMBER, "dyad_id": NUMBER, "number": NUMBER, "date": TIME,
                 "kind": CHOICE, "scanned": NUMBER, "attended": NUMBER, "locked": NUMBER,
                 "created_at": TIME},
    "instruments": {"id": NUMBER, "name": CODE, "version": CODE, "construct": CHOICE,
                    "definition": JSON, "content_hash": HASH, "source": CHOICE,
                    "added_at": TIME},
    "responses": {"id": NUMBER, "session_id": NUMBER, "instrument_id": NUMBER,
                  "role": CHOICE, "timing": CHOICE, "status": CHOICE, "source": CHOICE,
                  "source_hash": HASH, "entered_by": STAFF, "entered_at": TIME},
    "response_items": {"response_id": NUMBER, "item": GENERATED, "position": NUMBER,
                       "value": NUMBER, "missing": CHOICE},
    "scores": {"response_id": NUMBER, "scale": GENERATED, "value": NUMBER, "n_answered": NUMBER,
               "n_items": NUMBER, "prorated": NUMBER, "band": GENERATED},
    "scans": {"id": NUMBER, "session_id": NUMBER, "person_id": NUMBER, "role": CHOICE,
              "modality": CHOICE, "format": GENERATED, "path": GENERATED, "sha256": HASH,
              "size_bytes": NUMBER, "sfreq": NUMBER, "n_channels": NUMBER, "channels": JSON,
              "duration_s": NUMBER, "meas_date": TIME, "quality": JSON, "usable_share": NUMBER,
              "imported_by": STAFF, "imported_at": TIME},
    "scan_pairs": {"session_id": NUMBER, "modality": CHOICE, "therapist_scan": NUMBER,
                   "patient_scan": NUMBER, "start_offset_s": NUMBER, "overlap_s": NUMBER,
                   "status": CHOICE, "messages": JSON, "checked_at": TIME},
    "events": {"id": NUMBER, "session_id": NUMBER, "scan_id": NUMBER, "onset_s": NUMBER,
               "duration_s": NUMBER, "label": FREE, "rater": CODE, "source": CHOICE,
               "created_at": TIME},
    "analysis_runs": {"id": NUMBER, "kind": CODE, "session_id": NUMBER, "config": JSON,
                      "config_hash": HASH, "input_hashes": JSON, "versions": JSON,
                      "status": CHOICE, "message": FREE, "started_by": STAFF,
                      "started_at": TIME, "finished_at": TIME},
    "synchrony_results": {"id": NUMBER, "run_id": NUMBER, "session_id": NUMBER, "pair": CHOICE,
                          "therapist_scan": NUMBER, "patient_scan": NUMBER,
                          "measure": GENERATED, "chromophore": CHOICE, "level": CHOICE,
                          "therapist_unit": GENERATED, "patient_unit": GENERATED,
                          "value": NUMBER, "n_cells": NUMBER},
    "synchrony_tests": {"run_id": NUMBER, "session_id": NUMBER, "measure": GENERATED,
                        "chromophore": CHOICE, "level": CHOICE, "therapist_unit": GENERATED,
                        "patient_unit": GENERATED, "true_value": NUMBER, "pseudo_mean": NUMBER,
                        "pseudo_sd": NUMBER, "n_pseudo": NUMBER, "p_value": NUMBER,
                        "seed": NUMBER},
    "person_measures": {"run_id": NUMBER, "session_id": NUMBER, "scan_id": NUMBER,
                        "role": CHOICE, "measure": GENERATED, "unit": GENERATED,
                        "condition": GENERATED, "value": NUMBER, "sd": NUMBER,
                        "n_windows": NUMBER},
    "model_fits": {"id": NUMBER, "run_id": NUMBER, "name": GENERATED, "formula": GENERATED,
                   "fit": JSON, "random": JSON},
    "model_terms": {"fit_id": NUMBER, "term": GENERATED, "estimate": NUMBER, "se": NUMBER,
                    "df": NUMBER, "t": NUMBER, "p": NUMBER, "ci_low": NUMBER,
                    "ci_high": NUMBER},
    "audit_log": {"id": NUMBER, "at": TIME, "user": STAFF, "action": GENERATED,
                  "entity": GENERATED, "entity_key": GENERATED, "old": JSON, "new": JSON,
                  "reason": FREE, "prev_hash": HASH, "hash": HASH},
}
#: The only columns a person types free text into, and why each is allowed.
ALLOWED_FREE_TEXT = {
    "audit_log.reason": "why a change was made (staff), e.g. 'typo on the paper form'",
    "analysis_runs.message": "notes of a computation (written by studymgr)",
    "events.label": "a rater's or device's short label of a moment (1-64 characters)",
}
IDENTIFIER_NAME = re.compile(
    r"(first|last|given|family|middle|full|sur|nick|maiden)_?name|birth|dob|address|street|city|"
    r"zip|postcode|phone|mobile|e?mail|ssn|social|insurance|passport|initials|gender|sex|^age$|"
    r"ethnic|religion|diagnosis|mrn|patient_name", re.IGNORECASE)


@pytest.fixture(scope="module")
def schema() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.executescript(database.schema_sql())
    yield conn
    conn.close()


def test_every_column_is_classified_and_none_can_hold_an_identifier(schema):
    """Read every table and column from SQLite: each must be in the table above, none may be
    named like personal data, every code column must be restricted to codes by a CHECK (so no
    name with a space, quote or path fits), and every choice column to its list."""
    tables = [r[0] for r in schema.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    assert sorted(tables) == sorted(COLUMNS)
    free = set()
    for table in tables:
        sql = " ".join(schema.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                                      (table,)).fetchone()[0].split())
        columns = [r[1] for r in schema.execute(f"PRAGMA table_xinfo('{table}')")]
        assert sorted(columns) == sorted(COLUMNS[table]), table
        for col in columns:
            kind = COLUMNS[table][col]
            assert not IDENTIFIER_NAME.search(col), f"{table}.{col}"
            if kind == CODE:
                assert re.search(rf"\b{col}\b NOT GLOB '\*\[\^[A-Za-z0-9_.-]+\]\*'", sql), \
                    f"{table}.{col} is not restricted to codes"
            elif kind == CHOICE:
                assert re.search(rf"\b{col}\b IN \(", sql), f"{table}.{col} has no fixed list"
            elif kind == HASH:
                assert re.search(rf"length\({col}\) = 64", sql), f"{table}.{col}"
            elif kind == JSON:
                assert re.search(rf"json_valid\({col}\)", sql), f"{table}.{col}"
            elif kind == FREE:
                free.add(f"{table}.{col}")
    assert free == set(ALLOWED_FREE_TEXT)


@pytest.mark.parametrize("value", ["Jane Doe", "O'Brien", "../../etc/passwd", "'; DROP TABLE x;--",
                                   "jane@example.org", "J. Doe"])
def test_code_columns_refuse_names_quotes_and_paths(schema, value):
    """The database itself (not only studymgr's checks) refuses a name or path as a code."""
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        schema.execute("INSERT INTO people (code, role, created_at) VALUES (?, 'patient', 'x')",
                       (value,))


def test_looks_like_code_by_hand():
    for code in ("P01", "T01", "sub-07", "Subject12", "pilot_3", "X", "", "unknown", "D01-b"):
        assert looks_like_code(code), code
    for name in ("JaneDoe", "Smith_1984", "Maria", "jane.doe"):
        assert not looks_like_code(name), name


def write_identified(path, *, his_id="JaneDoe"):
    """A SNIRF file carrying a name, a birth date and the sex (as acquisition software writes
    them), via MNE and mne_nirs."""
    from mne_nirs.io import write_raw_snirf

    raw = make_raw(n_pairs=2, duration=30.0)
    raw.info["subject_info"] = {"his_id": his_id, "first_name": "Jane", "last_name": "Doe",
                                "birthday": dt.date(1984, 5, 6), "sex": 2}
    raw.info["experimenter"] = "Dr Smith"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_raw_snirf(raw, str(path))
    return path


def test_identifying_snirf_metadata_is_named_without_its_values(tmp_path):
    import mne

    path = write_identified(tmp_path / "a.snirf")
    with h5py.File(path) as h5:  # the file really holds the values
        tags = {k: h5["nirs/metaDataTags"][k][()] for k in h5["nirs/metaDataTags"]}
    assert b"Doe" in np.asarray(tags["lastName"]).ravel()[0]
    raw = mne.io.read_raw_snirf(path, verbose="error")
    found = identifying_metadata(raw, path)
    named = " ".join(found)
    for tag in ("SubjectID", "firstName", "lastName", "DateOfBirth", "sex"):
        assert f"metaDataTags/{tag}" in named
    for value in ("Jane", "Doe", "1984", "Smith"):
        assert value not in named
    plain = write_snirf(tmp_path / "b.snirf")  # his_id 'X', nothing else
    assert identifying_metadata(mne.io.read_raw_snirf(plain, verbose="error"), plain) == []
    coded = write_identified(tmp_path / "c.snirf", his_id="P01")
    assert not any("SubjectID" in f for f in identifying_metadata(
        mne.io.read_raw_snirf(coded, verbose="error"), coded))


def test_subject_info_of_other_formats(tmp_path):
    raw = make_raw(n_pairs=1, duration=10.0)
    assert identifying_metadata(raw) == []  # his_id 'X'
    raw.info["subject_info"] = {"his_id": "P01", "last_name": "Doe",
                                "birthday": dt.date(1984, 5, 6), "hand": 1}
    raw.info["experimenter"] = "Dr Smith"
    found = identifying_metadata(raw)
    assert [f.split(" (")[0] for f in found] == [
        "subject_info holds a last name", "subject_info holds a birth date",
        "subject_info holds the handedness", "the experimenter's name is recorded"]
    folder = write_nirx(tmp_path / "nirx")  # Name="X" in the .inf file: a placeholder
    from studymgr.io.recordings import read_recording

    assert identifying_metadata(read_recording(folder)[0], folder) == []


def test_import_reports_identifying_metadata_and_stores_none_of_it(small_study, tmp_path,
                                                                     caplog):
    """The import result and the audit trail name the fields; the warning is logged; no value
    (name, birth date) reaches the database."""
    path = write_identified(tmp_path / "in" / "a.snirf")
    with caplog.at_level("WARNING", logger="studymgr.io.privacy"):
        result = small_study.import_scan("D01", 2, "patient", path)
    assert any("lastName" in f for f in result["identifying_metadata"])
    assert "carries identifying metadata" in caplog.text and "a.snirf" in caplog.text
    new = small_study.audit(limit=5)
    row = new[(new["action"] == "import") & (new["entity"] == "scan")].iloc[0]
    assert "identifying_metadata" in row["new"] and "DateOfBirth" in row["new"]
    dump = "\n".join(small_study.db.conn.iterdump())
    for value in ("Jane", "Doe", "1984-05-06", "Smith"):
        assert value not in dump
    plain = small_study.import_scan("D01", 2, "therapist", write_snirf(tmp_path / "t.snirf"))
    assert plain["identifying_metadata"] == []


def test_strip_identifiers_for_export(tmp_path):
    """The stripped copy has no name, birth date, sex or experimenter, keeps the data and the
    measurement date (needed to align the pair), and written as SNIRF carries none of them; the
    original is untouched."""
    import mne
    from mne_nirs.io import write_raw_snirf

    raw = mne.io.read_raw_snirf(write_identified(tmp_path / "a.snirf"), preload=True,
                                verbose="error")
    clean = strip_identifiers(raw, subject="P01")
    assert dict(clean.info["subject_info"]) == {"his_id": "P01"}
    assert clean.info["experimenter"] is None
    assert clean.info["meas_date"] == raw.info["meas_date"]
    np.testing.assert_array_equal(clean.get_data(), raw.get_data())
    assert raw.info["subject_info"]["last_name"] == "Doe"  # the original is unchanged
    assert identifying_metadata(clean) == []
    out = tmp_path / "export.snirf"
    write_raw_snirf(clean, str(out))
    with h5py.File(out) as h5:
        tags = set(h5["nirs/metaDataTags"])
    assert not tags & {"firstName", "lastName", "middleName", "DateOfBirth", "sex"}
    assert identifying_metadata(mne.io.read_raw_snirf(out, verbose="error"), out) == []
    anonymous = strip_identifiers(raw)
    assert dict(anonymous.info["subject_info"]) == {}


def test_database_wal_and_data_files_are_owner_only(small_study, tmp_path):
    """After entries and imports (a SNIRF file and a NIRx folder), the database, its -wal and
    -shm files, the data folder and everything in it are readable by their owner only."""
    from studymgr.runs import entry

    entry.enter_response(small_study, "D01", 2, "gad7", role="patient", timing="pre",
                         items=[1] * 7)
    small_study.import_scan("D01", 2, "patient", write_snirf(tmp_path / "in" / "p.snirf"))
    small_study.import_scan("D01", 2, "therapist", write_nirx(tmp_path / "in" / "nirx"))
    files = [small_study.path, *small_study.path.parent.glob("study.db-*"),
             small_study.data_dir, *small_study.data_dir.rglob("*")]
    assert {p.name.split(".db-")[-1] for p in files if "db-" in p.name} == {"wal", "shm"}
    loose = {str(p): oct(p.stat().st_mode & 0o777) for p in files
             if p.stat().st_mode & 0o077}
    assert loose == {}
