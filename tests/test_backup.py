"""``studymgr backup`` / ``restore``: a verified, consistent copy of a live study, and a restore
that checks before it writes and never overwrites.

References: the live study's own rows (the restored database must hold the same rows, plus one
audit row for the restore), hashlib over the live files, a writer process whose every response
has its audit row in the same transaction (a consistent snapshot has as many of one as of the
other), and hand-damaged backups.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from studymgr import ConflictError, InputError, NotFoundError, create_study, open_study
from studymgr.runs import backup as bk
from studymgr.runs import entry
from studymgr.runs.check import check_study, n_problems
from tests.conftest import REPO, snapshot
from tests.test_scans import write_nirx, write_snirf

TABLES = ["study", "people", "dyads", "sessions", "instruments", "responses", "response_items",
          "scores", "scans", "scan_pairs", "events", "analysis_runs", "synchrony_results",
          "synchrony_tests", "person_measures", "model_fits", "model_terms", "audit_log"]


@pytest.fixture
def live(small_study, tmp_path):
    s = small_study
    entry.enter_response(s, "D01", 2, "gad7", role="patient", timing="pre",
                         items=[3, 2, 1, 0, 3, 2, 1])
    entry.enter_response(s, "D01", 3, "who5", role="therapist", timing="post",
                         items=[1, 2, 3, 4, 5])
    for role, seed in (("therapist", 1), ("patient", 2)):
        s.import_scan("D01", 2, role, write_snirf(tmp_path / "in" / f"{role}.snirf", seed=seed,
                                                  n_pairs=2, duration=30.0,
                                                  annotations=[(2.0, 1.0, "start")]))
    s.import_scan("D01", 3, "patient", write_nirx(tmp_path / "in" / "nirx"))  # a folder
    return s


def rows(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db)
    out = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}
    out["audit_log"] = conn.execute("SELECT * FROM audit_log ORDER BY id").fetchall()
    conn.close()
    return out


def modes(folder: Path) -> set[int]:
    return {p.stat().st_mode & 0o777 for p in [folder, *folder.rglob("*")]}


def test_backup_and_restore_round_trip(live, tmp_path):
    """The restored study holds exactly the live study's rows (plus one 'restore' audit row and
    its new data folder), its recordings are byte-identical, the manifest's hashes are hashlib's,
    every file is owner-only, and the restored study passes every check."""
    dest = tmp_path / "backups" / "b1"
    dest.parent.mkdir()
    result = bk.backup_study(live, dest)
    assert result["n_recordings"] == 3 and result["attempts"] == 1 and result["skipped"] == []
    manifest = bk.read_manifest(dest)
    for f in manifest["files"]:
        live_file = live.data_dir / f["path"]
        if live_file.is_file():
            assert f["sha256"] == hashlib.sha256(live_file.read_bytes()).hexdigest()
        else:  # a NIRx folder: its files as in the live data folder
            assert sorted(p.name for p in (dest / "study_data" / f["path"]).iterdir()) == \
                sorted(p.name for p in live_file.iterdir() if not p.name.startswith("."))
    assert manifest["database_sha256"] == hashlib.sha256(
        (dest / "study.db").read_bytes()).hexdigest()
    assert bk.verify_backup(dest) == []
    assert modes(dest) == {0o600, 0o700}
    paths = list(live.scans()["path"])
    live.close()
    before = rows(live.path)

    restored = bk.restore_study(dest, tmp_path / "new.db")
    assert restored["data_dir"] == str(tmp_path / "new_data") and restored["warnings"] == []
    after = rows(tmp_path / "new.db")
    for table in TABLES:
        if table == "study":
            assert [r[2] for r in after[table]] == ["new_data"]  # data_dir now points at it
            assert [r[:2] + r[3:] for r in after[table]] == [r[:2] + r[3:] for r in
                                                            before[table]]
        elif table == "audit_log":
            assert after[table][:-1] == before[table]
            assert after[table][-1][3:6] == ("restore", "study", "study")
        else:
            assert after[table] == before[table], table
    for path in paths:
        restored_path, live_path = tmp_path / "new_data" / path, live.data_dir / path
        for a, b in ([(restored_path, live_path)] if live_path.is_file() else
                     [(restored_path / p.name, p) for p in live_path.iterdir()]):
            assert a.read_bytes() == b.read_bytes()
    assert modes(tmp_path / "new_data") == {0o600, 0o700}
    assert (tmp_path / "new.db").stat().st_mode & 0o777 == 0o600
    with open_study(tmp_path / "new.db") as study:
        assert n_problems(check_study(study)) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backups", "in", "new.db",
                                                          "new_data", "study.db", "study_data"]


def test_restore_never_overwrites(live, tmp_path):
    dest = tmp_path / "b"
    bk.backup_study(live, dest)
    live.close()
    (tmp_path / "taken_data").mkdir()
    (tmp_path / "taken_data" / "x").write_text("someone's file")
    before = snapshot(tmp_path)
    with pytest.raises(ConflictError, match="refuses to overwrite a study"):
        bk.restore_study(dest, live.path)
    with pytest.raises(ConflictError, match="refuses to overwrite it"):
        bk.restore_study(dest, tmp_path / "taken.db")
    with pytest.raises(NotFoundError, match="does not exist"):
        bk.restore_study(dest, tmp_path / "nowhere" / "x.db")
    assert snapshot(tmp_path) == before


def test_a_damaged_backup_is_refused_and_nothing_is_written(live, tmp_path):
    """Three damaged backups: a recording changed, a manifest naming a file outside the backup,
    and a database whose audit row was edited (with the manifest's hash forged to match): each
    restore is refused with the reason and leaves no file behind."""
    dest = tmp_path / "b"
    bk.backup_study(live, dest)
    live.close()
    manifest = json.loads((dest / bk.MANIFEST).read_text())

    recording = dest / "study_data" / manifest["files"][0]["path"]
    good = recording.read_bytes()
    recording.write_bytes(good[:-1] + b"!")
    before = snapshot(tmp_path)
    with pytest.raises(InputError, match="is damaged .* differs from the manifest"):
        bk.restore_study(dest, tmp_path / "r.db")
    assert snapshot(tmp_path) == before
    recording.write_bytes(good)

    evil = dict(manifest, files=[dict(manifest["files"][0], path="../../etc/passwd")])
    (dest / bk.MANIFEST).write_text(json.dumps(evil))
    with pytest.raises(InputError, match="outside the backup"):
        bk.restore_study(dest, tmp_path / "r.db")

    conn = sqlite3.connect(dest / "study.db")
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET user = 'mallory' WHERE id = 2")
    conn.commit()
    conn.close()
    forged = dict(manifest, database_sha256=hashlib.sha256(
        (dest / "study.db").read_bytes()).hexdigest())
    (dest / bk.MANIFEST).write_text(json.dumps(forged))
    before = snapshot(tmp_path)
    with pytest.raises(InputError, match="fails .* check"):
        bk.restore_study(dest, tmp_path / "r.db")
    assert snapshot(tmp_path) == before


def test_backup_refuses_a_used_folder_and_a_damaged_live_recording(live, tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    with pytest.raises(ConflictError, match="not empty"):
        bk.backup_study(live, tmp_path / "used")
    path = live.data_dir / live.scans()["path"].iloc[0]
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(InputError, match="changed since import"):
        bk.backup_study(live, tmp_path / "b")
    assert not (tmp_path / "b").exists()
    assert [p for p in tmp_path.iterdir() if ".partial-" in p.name] == []


def test_a_recording_replaced_during_the_backup_starts_it_again(live, tmp_path, monkeypatch):
    """Right after the first snapshot another connection replaces a recording (its old file is
    removed after the commit): the copy no longer matches the snapshot, so the backup takes a
    new snapshot, which holds the new recording."""
    other = open_study(live.path, user="tester")
    new_src = write_snirf(tmp_path / "new.snirf", seed=42, n_pairs=2, duration=30.0)
    original = bk._snapshot
    calls = []

    def snapshot_then_replace(study, target):
        info = original(study, target)
        if not calls:
            other.import_scan("D01", 2, "patient", new_src, replace=True, reason="re-export")
        calls.append(target)
        return info

    monkeypatch.setattr(bk, "_snapshot", snapshot_then_replace)
    result = bk.backup_study(live, tmp_path / "b")
    other.close()
    assert result["attempts"] == 2
    shas = {f["sha256"] for f in bk.read_manifest(tmp_path / "b")["files"]}
    assert hashlib.sha256(new_src.read_bytes()).hexdigest() in shas
    assert bk.verify_backup(tmp_path / "b") == []


WRITER = """
import sys
import studymgr
from studymgr.runs import entry
study = studymgr.open_study(sys.argv[1], user="writer")
for d in range(1, 6):
    for n in range(1, 6):
        for inst, k in (("gad7", 7), ("who5", 5)):
            for resp in ("patient", "therapist"):
                for timing in ("pre", "post"):
                    entry.enter_response(study, f"D{d:02d}", n, inst, role=resp,
                                         timing=timing, items=[(d + n + j) % 4 for j in range(k)])
study.close()
"""


def test_backups_taken_while_another_process_writes_are_consistent(tmp_path):
    """A writer process enters 200 responses while backups are taken: every backup verifies,
    restores and passes every check, holds as many responses as 'enter' audit rows (each
    response and its audit row share a transaction, so a torn snapshot would differ), and
    holds only responses the live study ends up with; the writer loses nothing."""
    study = create_study(tmp_path / "live.db", user="tester")
    for d in range(1, 6):
        study.add_dyad(f"D{d:02d}", therapist="T01", patient=f"P{d:02d}")
        for n in range(1, 6):
            study.add_session(f"D{d:02d}", n)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), str(study.path)],
                              env=env, stderr=subprocess.PIPE, text=True)
    counts = []
    try:
        while writer.poll() is None and len(counts) < 6:
            n = study.db.conn.execute("SELECT count(*) FROM responses").fetchone()[0]
            if n > (counts[-1] if counts else 0) + 15 or (not counts and n):
                dest = tmp_path / f"b{len(counts)}"
                result = bk.backup_study(study, dest)
                counts.append(result["counts"]["responses"])
            time.sleep(0.01)
    finally:
        _, stderr = writer.communicate(timeout=120)
    assert writer.returncode == 0, stderr
    assert len(counts) >= 2 and any(0 < c < 200 for c in counts)
    final = {tuple(r) for r in study.db.conn.execute(
        "SELECT s.dyad_id, s.number, r.instrument_id, r.role, r.timing FROM responses r "
        "JOIN sessions s ON s.id = r.session_id")}
    assert len(final) == 200
    study.close()
    for i, expected in enumerate(counts):
        restored = bk.restore_study(tmp_path / f"b{i}", tmp_path / f"r{i}.db")
        assert restored["warnings"] == []
        with open_study(tmp_path / f"r{i}.db") as copy:
            conn = copy.db.conn
            n_resp = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
            n_audit = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'enter'"
                                   ).fetchone()[0]
            assert n_resp == n_audit == expected
            mine = {tuple(r) for r in conn.execute(
                "SELECT s.dyad_id, s.number, r.instrument_id, r.role, r.timing FROM "
                "responses r JOIN sessions s ON s.id = r.session_id")}
            assert mine <= final
            assert n_problems(check_study(copy)) == 0


def test_restore_upgrades_an_older_backup(tmp_path):
    """A backup of a schema v1 study (the frozen fixture) restores as a current study: upgraded,
    audited, and passing every check."""
    dest = tmp_path / "old"
    dest.mkdir()
    conn = sqlite3.connect(dest / "v1.db")
    conn.executescript((REPO / "tests" / "data" / "study_v1.sql").read_text())
    conn.close()
    (dest / "v1_data").mkdir()
    manifest = {"format": bk.FORMAT, "created_at": "2025-01-01T00:00:00Z", "study": "frozen",
                "schema_version": 1, "database": "v1.db", "data_dir": "v1_data",
                "database_sha256": hashlib.sha256((dest / "v1.db").read_bytes()).hexdigest(),
                "files": [], "skipped": [], "counts": {}, "audit_head": [5, None]}
    (dest / bk.MANIFEST).write_text(json.dumps(manifest))
    result = bk.restore_study(dest, tmp_path / "now.db")
    from studymgr.store import database

    assert result["schema_version"] == database.schema_version()
    with open_study(tmp_path / "now.db") as study:
        assert list(study.audit(limit=2)["action"]) == ["restore", "upgrade"]
        assert n_problems(check_study(study)) == 0


def test_cli_backup_and_restore(live, cli, tmp_path):
    live.close()
    out = cli("backup", str(tmp_path / "b"))
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("Backed up study 'study' to ") and "3 recordings" in out.stdout
    out = cli("restore", str(tmp_path / "b"), "--to", str(tmp_path / "again.db"))
    assert out.exit_code == 0, out.output
    assert "Restored study 'study'" in out.stdout and "9 checks passed" in out.stdout
    for args, message in (
        (["backup", str(tmp_path / "b")], "not empty"),
        (["restore", str(tmp_path / "b"), "--to", str(tmp_path / "again.db")],
         "refuses to overwrite"),
        (["restore", str(tmp_path / "in"), "--to", str(tmp_path / "x.db")],
         "not a studymgr backup"),
    ):
        before = snapshot(tmp_path)
        bad = cli(*args)
        assert bad.exit_code == 2 and bad.stdout == ""
        assert message in bad.stderr and bad.stderr.count("\n") == 1
        assert snapshot(tmp_path) == before
