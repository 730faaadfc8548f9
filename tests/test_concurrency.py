"""Several processes writing to one study at once lose nothing and fail nothing.

Each worker is a separate Python process using the public API over one connection (as a user's
script or a second terminal would); all start together (a start file they wait for). What is
compared with is independent of the code under test: the exact number of rows each worker was
told to write, the item values it was given (scores are the items' plain sums, computed here),
the SHA-256 of the source files (hashlib), and SQLite's own ``integrity_check`` and
``foreign_key_check``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from studymgr import create_study, open_study
from studymgr.runs.check import check_study, n_problems
from studymgr.store.datafolder import MARKER
from tests.conftest import REPO

N_WORKERS = 4
N_DYADS, N_SESSIONS = 25, 5
SLOTS = [(inst, resp, timing) for inst in ("gad7", "who5") for resp in ("patient", "therapist")
         for timing in ("pre", "post")]  # 8 responses per session: 25 x 5 x 8 = 1,000 entries
N_ITEMS = {"gad7": 7, "who5": 5}
MAX_VALUE = {"gad7": 3, "who5": 5}


def plan() -> list[tuple[str, int, str, str, str]]:
    """Every entry: (dyad, session, instrument, role, timing), session by session."""
    return [(f"D{d:02d}", n, *slot) for d in range(1, N_DYADS + 1)
            for n in range(1, N_SESSIONS + 1) for slot in SLOTS]


def values(index: int, instrument: str) -> list[int]:
    """The item values of entry ``index`` (allowed values, different for neighbouring entries)."""
    top = MAX_VALUE[instrument] + 1
    return [(index * 7 + j * (index % 5 + 1)) % top for j in range(N_ITEMS[instrument])]


ENTRY_WORKER = """
import json, sys, time
from pathlib import Path
import studymgr
from studymgr.runs import entry
from tests.test_concurrency import plan, values
db, k, n_workers, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
(start.parent / f"ready-{k}").touch()
while not start.exists():
    time.sleep(0.002)
study = studymgr.open_study(db, user=f"worker{k}")  # one connection for all its entries
t0 = time.perf_counter()
done = 0
for i, (dyad, n, inst, resp, timing) in enumerate(plan()):
    if i % n_workers == k:
        entry.enter_response(study, dyad, n, inst, role=resp, timing=timing,
                             items=values(i, inst))
        done += 1
study.close()
print(json.dumps({"worker": k, "entries": done, "seconds": time.perf_counter() - t0}))
"""

IMPORT_WORKER = """
import json, sys, time
from pathlib import Path
import studymgr
from studymgr import StudyError
db, start, jobs = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
k = jobs["worker"]
(start.parent / f"ready-{k}").touch()
while not start.exists():
    time.sleep(0.002)
study = studymgr.open_study(db, user=f"worker{k}")
out = []
for dyad, n, role, path in jobs["files"]:
    try:
        out.append(study.import_scan(dyad, n, role, path)["outcome"])
    except StudyError as exc:
        out.append("error: " + str(exc))
study.close()
print(json.dumps(out))
"""


def run_together(scripts: list[list[str]], folder: Path, timeout: float = 240) -> list[str]:
    """Start one process per argument list, release them at once, return their stdout."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "STUDYMGR_USER": "tester"}
    start = folder / "start"
    procs = [subprocess.Popen([sys.executable, "-c", *args], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args in scripts]
    deadline = time.monotonic() + timeout
    while len(list(folder.glob("ready-*"))) < len(procs):
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.01)
    start.touch()
    outputs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert p.returncode == 0, stderr
        outputs.append(stdout)
    return outputs


def sqlite_health(study) -> None:
    conn = study.db.conn
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert study.verify_audit() == []


def test_four_processes_enter_1000_scores_and_nothing_is_lost(tmp_path):
    """4 processes x 250 entries into the same 125 sessions (neighbouring entries of a session go
    to different processes): exactly 1,000 responses with the values each process was given,
    exactly one audit row per entry plus the setup rows, every built-in instrument stored once
    although several processes used it first at the same moment, and a database SQLite finds
    intact."""
    study = create_study(tmp_path / "study.db", user="tester")
    for d in range(1, N_DYADS + 1):
        study.add_dyad(f"D{d:02d}", therapist="T01", patient=f"P{d:02d}")
        for n in range(1, N_SESSIONS + 1):
            study.add_session(f"D{d:02d}", n)
    setup_rows = study.db.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    # create + (T01, P01, D01) + 24 x (patient, dyad) + 125 sessions
    assert setup_rows == 1 + 3 + 2 * (N_DYADS - 1) + N_DYADS * N_SESSIONS == 177
    study.close()

    script = textwrap.dedent(ENTRY_WORKER)
    outputs = run_together([[script, str(study.path), str(k), str(N_WORKERS),
                             str(tmp_path / "start")] for k in range(N_WORKERS)], tmp_path)
    reports = [json.loads(o) for o in outputs]
    assert [r["entries"] for r in reports] == [250] * N_WORKERS

    with open_study(study.path, user="tester") as study:
        sqlite_health(study)
        conn = study.db.conn
        assert conn.execute("SELECT count(*) FROM responses").fetchone()[0] == 1000
        actions = dict(conn.execute("SELECT action || ' ' || entity, count(*) FROM audit_log "
                                    "GROUP BY 1").fetchall())
        assert actions == {"create study": 1, "add person": N_DYADS + 1, "add dyad": N_DYADS,
                           "add session": N_DYADS * N_SESSIONS, "add instrument": 2,
                           "enter response": 1000}
        assert sum(actions.values()) == setup_rows + 2 + 1000
        per_user = dict(conn.execute("SELECT entered_by, count(*) FROM responses "
                                     "GROUP BY 1").fetchall())
        assert per_user == {f"worker{k}": 250 for k in range(N_WORKERS)}
        items = study.items()
        stored = {(r.dyad, r.session, r.instrument, r.role, r.timing): []
                  for r in items.itertuples()}
        for r in items.itertuples():  # rows come in item order
            stored[(r.dyad, r.session, r.instrument, r.role, r.timing)].append(r.value)
        expected = {key: values(i, key[2]) for i, key in enumerate(plan())}
        assert stored == expected
        totals = study.scores(instrument="gad7")
        totals = totals[totals["scale"] == "total"]
        assert len(totals) == 500
        for r in totals.itertuples():
            assert r.value == sum(expected[(r.dyad, r.session, "gad7", r.role, r.timing)])
        assert n_problems(check_study(study)) == 0


def test_concurrent_scan_imports_into_the_same_sessions(tmp_path):
    """3 processes import 8 small SNIRF files at once, the therapist's and the patient's
    recording of a session from different processes (so the pair check runs when the second
    one commits), and two processes import the same file for the same slot: every recording is
    stored once with the source's SHA-256, every session gets its pair, the duplicate is either
    skipped or refused with a clear conflict, and no file is left over."""
    from tests.test_scans import write_snirf

    study = create_study(tmp_path / "study.db", user="tester")
    files = []
    for d in (1, 2):
        study.add_dyad(f"D0{d}", therapist="T01", patient=f"P0{d}")
        for n in (1, 2):
            study.add_session(f"D0{d}", n)
            for r, role in enumerate(("therapist", "patient")):
                src = write_snirf(tmp_path / "in" / f"D0{d}_{n}_{role}.snirf", n_pairs=2,
                                  duration=30.0, seed=10 * d + 2 * n + r)
                files.append((f"D0{d}", n, role, str(src)))
    study.close()
    jobs = [{"worker": k, "files": files[k::3]} for k in range(3)]
    jobs[2]["files"].append(files[0])  # the same file for the same slot as worker 0's first
    script = textwrap.dedent(IMPORT_WORKER)
    outputs = run_together([[script, str(study.path), str(tmp_path / "start"), json.dumps(job)]
                            for job in jobs], tmp_path)
    outcomes = [json.loads(o) for o in outputs]
    flat = [o for out in outcomes for o in out]
    assert flat.count("imported") == 8
    duplicate = outcomes[2][-1]
    assert duplicate in ("imported", "skipped") or (
        duplicate.startswith("error: ") and "meanwhile: run the command again" in duplicate)
    assert sum(o.startswith("error") for o in flat) <= 1

    with open_study(study.path, user="tester") as study:
        sqlite_health(study)
        scans = study.scans()
        assert len(scans) == 8
        by_slot = {(r.dyad, int(r.session), r.role): r.sha256 for r in scans.itertuples()}
        for dyad, n, role, src in files:
            assert by_slot[(dyad, n, role)] == hashlib.sha256(Path(src).read_bytes()).hexdigest()
        pairs = study.scan_pairs()
        assert len(pairs) == 4 and set(pairs["status"]) == {"ok"}
        assert study.db.conn.execute("SELECT count(*) FROM audit_log WHERE action = 'import' "
                                     "AND entity = 'scan'").fetchone()[0] == 8
        report = check_study(study)
        assert n_problems(report) == 0, report[report["status"] != "ok"].to_string()
        leftovers = [p for p in study.data_dir.rglob("*") if p.name.startswith(".")
                     and p.name != MARKER]  # the marker naming the study is expected
        assert leftovers == []


def test_a_second_writer_queues_behind_the_first(study):
    """The settings that make concurrent writers queue instead of failing: WAL journal, a long
    busy timeout, and BEGIN IMMEDIATE (a second writer waits for the first, then succeeds)."""
    import threading

    from studymgr.store import database

    conn = study.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == database.BUSY_TIMEOUT_MS
    other = open_study(study.path, user="tester")
    held = threading.Event()
    release = threading.Event()

    def first_writer():
        with study.transaction():
            study.add_dyad("D01", therapist="T01", patient="P01")
            held.set()
            release.wait(10)

    thread = threading.Thread(target=first_writer)
    thread.start()
    held.wait(10)
    t0 = time.monotonic()
    timer = threading.Timer(0.3, release.set)
    timer.start()
    other.add_dyad("D02", therapist="T01", patient="P02")  # waits for the first writer
    waited = time.monotonic() - t0
    thread.join()
    other.close()
    assert waited >= 0.25  # it queued behind the first writer instead of failing
    assert list(study.dyads()["dyad"]) == ["D01", "D02"]
