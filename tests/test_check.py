"""``studymgr check``: a clean study passes every check; each kind of damage, planted by hand
(raw SQL with the protecting triggers dropped, files edited on disk), is found and named with
the command that fixes it.

The reference for each test is the planted defect itself: which row or file was changed, and
what the correct value is (a GAD-7 total is the plain sum of its seven items, computed here).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time

import pandas as pd
import pytest

from studymgr import open_study
from studymgr.io.recordings import partial_path
from studymgr.runs import entry
from studymgr.runs.check import CHECKS, check_study, n_problems, open_for_check
from studymgr.store import database
from tests.conftest import snapshot
from tests.test_scans import write_snirf

GAD7 = [3, 2, 1, 0, 3, 2, 1]  # total 12 ("moderate")


@pytest.fixture
def full(small_study, tmp_path):
    """small_study plus questionnaires, both recordings of D01/2 and a synchrony run computed
    from them (planted with the store's own writer; its input hashes are the recordings')."""
    s = small_study
    entry.enter_response(s, "D01", 2, "gad7", role="patient", timing="pre", items=GAD7)
    entry.enter_response(s, "D01", 2, "who5", role="patient", timing="pre",
                         items=[1, 2, 3, 4, 5])
    entry.enter_response(s, "D01", 3, "gad7", role="patient", timing="pre",
                         items=[0, 0, 1, 1, 2, 2, "NA"])
    t = s.import_scan("D01", 2, "therapist", write_snirf(tmp_path / "in" / "t.snirf", seed=1,
                                                         n_pairs=2, duration=30.0))
    p = s.import_scan("D01", 2, "patient", write_snirf(tmp_path / "in" / "p.snirf", seed=2,
                                                       n_pairs=2, duration=30.0))
    sid = s.session_id("D01", 2)
    ids = dict(s.db.conn.execute("SELECT role, id FROM scans WHERE session_id = ?", (sid,)))
    results = pd.DataFrame([("true", ids["therapist"], ids["patient"], "hbo", "session", "all",
                             "all", 0.4)],
                           columns=["pair", "therapist_scan", "patient_scan", "chromophore",
                                    "level", "therapist_unit", "patient_unit", "value"])
    s.save_synchrony(session_id=sid, label="D01/2", config={"band": [0.05, 0.1]},
                     config_hash="a" * 64,
                     input_hashes={"therapist": t["sha256"], "patient": p["sha256"],
                                   "pseudo": []},
                     versions={"studymgr": "test"}, results=results, tests=None, warnings=[])
    return s


def problems(frame: pd.DataFrame, check: str | None = None) -> pd.DataFrame:
    out = frame[frame["status"] == "problem"]
    return out if check is None else out[out["check"] == check]


def private_dirs(folder, root) -> None:
    """Create ``folder`` below ``root`` the way the store does (owner-only at every level)."""
    for part in reversed([folder, *folder.parents]):
        if part.is_relative_to(root) and not part.exists():
            part.mkdir(mode=0o700)


def raw_sql(study, *statements: str) -> None:
    """Change the database behind studymgr's back (what a tamperer with sqlite3 would do)."""
    conn = sqlite3.connect(study.path)
    conn.execute("PRAGMA foreign_keys = OFF")
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()


def test_a_clean_study_passes_every_check(full):
    report = check_study(full)
    assert n_problems(report) == 0, report.to_string()
    assert list(report["check"]) == list(CHECKS) and set(report["status"]) == {"ok"}
    detail = dict(zip(report["check"], report["detail"], strict=True))
    assert detail["scores"].startswith("3 responses")
    assert detail["scans"].startswith("2 recordings hashed")
    assert detail["synchrony"].startswith("session runs (1 synchrony)")


def test_cli_check_passes_and_lists_every_check(full, cli):
    full.close()
    out = cli("check")
    assert out.exit_code == 0, out.output
    assert "All 9 checks passed" in out.output
    rows = json.loads(cli("check", "--json").output)
    assert [r["check"] for r in rows] == list(CHECKS)


def test_edited_and_deleted_audit_rows_are_found(full, cli):
    """The append-only triggers are dropped with raw SQL and one row edited, another deleted:
    the hash chain names both, and the schema check names the missing triggers."""
    raw_sql(full, "DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete",
            "UPDATE audit_log SET user = 'mallory' WHERE id = 3",
            "DELETE FROM audit_log WHERE id = 6")
    report = check_study(full)
    audit = problems(report, "audit")
    assert any(r.startswith("audit row 3") and "edited" in r for r in audit["detail"])
    assert any("4" in r and "removed" in r or "missing" in r for r in audit["detail"])
    schema = problems(report, "schema")
    assert set(schema["where"]) == {"trigger audit_log_no_update", "trigger audit_log_no_delete"}
    assert all("restore" in f for f in audit["fix"])
    full.close()
    out = cli("check", "--json")
    assert out.exit_code == 2
    assert "problem(s) found" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    rows = json.loads(out.stdout)
    assert sum(r["status"] == "problem" for r in rows) == n_problems(report)


def test_a_score_that_does_not_match_its_items_is_found(full):
    """A GAD-7 total edited in the scores table, then an item value edited: the check recomputes
    the total from the items (12 = 3+2+1+0+3+2+1) and names the response."""
    sid = full.session_id("D01", 2)
    rid = full.db.conn.execute(
        "SELECT r.id FROM responses r JOIN instruments i ON i.id = r.instrument_id "
        "WHERE r.session_id = ? AND i.name = 'gad7'", (sid,)).fetchone()[0]
    raw_sql(full, f"UPDATE scores SET value = 9 WHERE response_id = {rid} AND scale = 'total'")
    found = problems(check_study(full), "scores")
    assert list(found["where"]) == ["D01/2 gad7@2006 patient pre"]
    assert "stored total = 9.0" in found["detail"].iloc[0] and "give 12" in found["detail"].iloc[0]
    raw_sql(full, f"UPDATE scores SET value = 12 WHERE response_id = {rid} AND scale = 'total'",
            f"UPDATE response_items SET value = 3 WHERE response_id = {rid} AND item = '4'")
    found = problems(check_study(full), "scores")
    assert "stored total = 12.0" in found["detail"].iloc[0] and "give 15" in found["detail"].iloc[0]
    raw_sql(full, f"UPDATE response_items SET value = 7 WHERE response_id = {rid} AND item = '4'")
    found = problems(check_study(full), "scores")
    assert "not allowed" in found["detail"].iloc[0]


def test_an_edited_instrument_definition_is_found(full):
    raw_sql(full, "DROP TRIGGER instruments_immutable",
            "UPDATE instruments SET definition = json_set(definition, '$.scales[0].min_items', 1)"
            " WHERE name = 'gad7'")
    found = problems(check_study(full), "scores")
    assert list(found["where"]) == ["gad7@2006"]
    assert "content hash" in found["detail"].iloc[0]


def test_changed_missing_orphan_and_partial_files_and_fix(full, tmp_path):
    """A stored recording edited on disk and one removed are problems to restore; an orphan and
    a dead process's partial copy are leftovers that --fix removes (and only them)."""
    scans = full.scans().set_index("role")
    therapist = full.data_dir / scans.loc["therapist", "path"]
    patient = full.data_dir / scans.loc["patient", "path"]
    orphan = full.data_dir / "sub-P01/ses-3/nirs/sub-P01_ses-3_task-therapy_nirs.snirf"
    private_dirs(orphan.parent, full.data_dir)
    orphan.write_bytes(b"left by a killed import")
    os.chmod(orphan, 0o600)
    partial = partial_path(orphan.with_name("x_nirs.snirf"), pid=2**22 + 7)  # never alive
    partial.write_bytes(b"half a copy")
    os.chmod(partial, 0o600)
    report = check_study(full)
    scan_problems = problems(report, "scans")
    assert set(scan_problems["where"]) == {orphan.relative_to(full.data_dir).as_posix(),
                                           partial.relative_to(full.data_dir).as_posix()}
    assert n_problems(report) == 2 and set(scan_problems["fix"]) == {"studymgr check --fix"}

    therapist.write_bytes(therapist.read_bytes()[:-4] + b"XXXX")
    patient.unlink()
    report = check_study(full, fix=True)
    scan_problems = problems(report, "scans")
    assert len(scan_problems) == 2
    assert any("is missing" in d for d in scan_problems["detail"])
    assert any("changed since import" in d for d in scan_problems["detail"])
    assert all("--replace" in f for f in scan_problems["fix"])
    fixed = report[report["status"] == "fixed"]
    assert len(fixed) == 2 and not orphan.exists() and not partial.exists()
    # moved into a dated quarantine folder, never deleted, and the report says where
    kept = sorted(p for p in (full.data_dir / ".quarantine").rglob("*") if p.is_file())
    assert [p.read_bytes() for p in kept] == [b"half a copy", b"left by a killed import"]
    assert all(": moved to .quarantine/" in d for d in fixed["detail"])
    assert therapist.exists()  # a damaged recording is never removed
    # the synchrony run was computed from the original files: now out of date
    sync = problems(report, "synchrony")
    assert list(sync["where"]) == []  # files changed on disk, not re-imported: hashes unchanged


def test_synchrony_computed_from_replaced_recordings_is_found(full, tmp_path):
    """Replacing the therapist's recording (an audited re-import) makes the stored synchrony
    stale: the check names the session and the command that recomputes it."""
    full.import_scan("D01", 2, "therapist", write_snirf(tmp_path / "t2.snirf", seed=9,
                                                        n_pairs=2, duration=30.0),
                     replace=True, reason="re-export")
    found = problems(check_study(full), "synchrony")
    assert list(found["where"]) == ["D01/2"]
    assert "the therapist's recording" in found["detail"].iloc[0]
    assert list(found["fix"]) == ["studymgr synchrony compute --dyad D01 --session 2"]


def test_foreign_keys_integrity_and_unfinished_runs(full):
    """A response pointing at a missing session, an index whose definition no longer matches
    its content (SQLite's integrity_check notices), and a run left 'running'."""
    raw_sql(full,
            "INSERT INTO responses (session_id, instrument_id, role, timing, entered_by, "
            "entered_at) VALUES (999, 1, 'patient', 'post', 'x', 'x')",
            "INSERT INTO analysis_runs (kind, config, config_hash, versions, status, started_by,"
            " started_at) VALUES ('synchrony', '{}', '" + "b" * 64 + "', '{}', 'running', 'x',"
            " '2025-01-01T00:00:00Z')")
    conn = sqlite3.connect(full.path)
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX responses_session ON responses "
                 "(timing)' WHERE name = 'responses_session'")
    conn.commit()
    conn.close()
    full.close()
    with open_for_check(full.path) as study:
        report = check_study(study)
    fk = problems(report, "foreign_keys")
    assert list(fk["detail"]) == ["1 row(s) of responses refer to missing sessions rows"]
    assert len(problems(report, "integrity")) >= 1
    assert "index responses_session" in set(problems(report, "schema")["where"])
    runs = problems(report, "runs")
    assert len(runs) == 1 and "never finished" in runs["detail"].iloc[0]


def test_older_schema_is_reported_not_upgraded(full):
    full.close()
    raw_sql(full, "PRAGMA user_version = 1")
    with open_for_check(full.path) as study:
        found = problems(check_study(study), "schema")
    current = database.schema_version()
    assert f"older than this studymgr's ({current})" in found["detail"].iloc[0]
    conn = sqlite3.connect(full.path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1  # checking changed nothing
    conn.close()


def test_files_readable_by_others_are_found_and_fixed(full):
    path = full.data_dir / full.scans()["path"].iloc[0]
    os.chmod(path, 0o644)
    os.chmod(full.data_dir, 0o755)
    found = problems(check_study(full), "permissions")
    assert set(found["where"]) == {path.relative_to(full.data_dir).as_posix(), "."}
    check_study(full, fix=True)
    assert path.stat().st_mode & 0o777 == 0o600
    assert full.data_dir.stat().st_mode & 0o777 == 0o700
    assert n_problems(check_study(full)) == 0


def test_check_changes_nothing_without_fix(full, tmp_path):
    """Checking a damaged study (bad score, orphan file) leaves the folder byte for byte."""
    raw_sql(full, "UPDATE scores SET value = 1 WHERE scale = 'total'")
    orphan = full.data_dir / "sub-P01/ses-3/nirs/orphan_nirs.snirf"
    private_dirs(orphan.parent, full.data_dir)
    orphan.write_bytes(b"x")
    os.chmod(orphan, 0o600)
    full.close()
    before = snapshot(tmp_path)
    with open_for_check(full.path) as study:
        assert n_problems(check_study(study)) > 0
    assert snapshot(tmp_path) == before


def test_cli_check_fix_removes_leftovers(full, cli):
    orphan = full.data_dir / "sub-P01/ses-3/nirs/sub-P01_ses-3_task-therapy_nirs.snirf"
    private_dirs(orphan.parent, full.data_dir)
    orphan.write_bytes(b"left by a killed import")
    os.chmod(orphan, 0o600)
    full.close()
    out = cli("check")
    assert out.exit_code == 2 and "studymgr check --fix" in out.stdout
    assert out.stderr == "Error: 1 problem(s) found in study.db: each row says how to fix it\n"
    out = cli("check", "--fix")
    assert out.exit_code == 0 and "All 9 checks passed (1 leftover(s) fixed)" in out.stdout
    assert not orphan.exists()
    assert cli("check").exit_code == 0


def test_cli_check_bad_input_is_one_line(tmp_path, cli):
    out = cli("check")
    assert out.exit_code == 2 and out.stdout == ""
    assert out.stderr.startswith("Error: no study database") and out.stderr.count("\n") == 1
    (tmp_path / "not.db").write_text("hello")
    out = cli("--db", str(tmp_path / "not.db"), "check")
    assert out.exit_code == 2 and "not a SQLite database" in out.stderr


def test_fix_never_removes_the_file_of_an_import_in_progress(full, tmp_path, monkeypatch):
    """An import has moved its file into place but not committed yet (it is paused there) when
    ``check --fix`` runs in another connection: --fix waits for the write lock instead of taking
    the file for a leftover, and the import then commits a recording whose file exists."""
    from studymgr.io import recordings as scans

    src = write_snirf(tmp_path / "p3.snirf", seed=5, n_pairs=2, duration=30.0)
    placed, go_on = threading.Event(), threading.Event()
    original = scans.place

    def slow_place(tmp, final):
        original(tmp, final)
        placed.set()
        go_on.wait(20)

    monkeypatch.setattr(scans, "place", slow_place)
    errors = []

    def importer():
        try:
            full.import_scan("D01", 3, "patient", src)
        except Exception as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=importer)
    thread.start()
    assert placed.wait(30)
    checker = open_study(full.path, user="tester")
    locking = []
    original_transaction = checker.transaction

    def transaction():
        # --fix is about to take the write lock: let the paused import go on 0.3 s later
        locking.append(time.monotonic())
        threading.Timer(0.3, go_on.set).start()
        return original_transaction()

    checker.transaction = transaction
    report = check_study(checker, fix=True)
    locked = time.monotonic()
    thread.join()
    assert errors == []
    assert len(locking) == 1 and locked - locking[0] >= 0.25  # it queued behind the import
    assert (report["status"] == "fixed").sum() == 0
    stored = full.data_dir / full.scans().set_index(["session", "role"]).loc[(3, "patient"),
                                                                              "path"]
    assert stored.exists()
    assert n_problems(check_study(checker)) == 0
    checker.close()
