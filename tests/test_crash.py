"""Crash consistency: a command killed (SIGKILL) at a random moment leaves a consistent study, and
simply running it again gives exactly the state of a run that was never interrupted.

Three commands are killed, each at least ``KILLS`` times after seeded random delays drawn over
the length of an uninterrupted run: a batch score import (``scores import``), a batch scan import
(``scans import-dir``) and a synchrony run (``synchrony compute``). Each run is a real process
executing the command line (forked from a server that has already imported studymgr, MNE and
friends, so that a run starts in milliseconds rather than seconds), started on a fresh copy of
the same study. After each kill:

- SQLite's ``integrity_check`` and ``foreign_key_check`` are clean;
- ``studymgr check`` reports nothing, or only leftovers of the interrupted import (orphan files,
  partial copies) that the next run or ``check --fix`` removes;
- running the command again succeeds, after which ``studymgr check`` is clean and the study
  (every row except timestamps and hashes of timestamps, every file in the data folder by its
  SHA-256) equals the state after an uninterrupted run: the reference.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import Cli

KILLS = 20
SEED = 20250314
WARM = "STUDYMGR_TEST_FORKSERVER_WARM"

if os.environ.get(WARM):  # imported in the fork server: do once what every run would repeat
    from studymgr.runs.questionnaires import _builtins

    _builtins()


# -- running the command line in a forked process ----------------------------------------------
def _run_cli(argv: list[str]) -> None:
    """Body of a forked run: the command line in-process, exit status as the process's."""
    os.environ["STUDYMGR_USER"] = "tester"
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the command's report is not needed; its errors stay on stderr
    from studymgr.cli import cli

    cli.main(args=argv, prog_name="studymgr")


@pytest.fixture(scope="module")
def forker():
    os.environ[WARM] = "1"  # read by this module when the fork server imports it
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([
        "studymgr.cli", "studymgr.runs.entry", "studymgr.io.recordings", "studymgr.compute.quality",
        "studymgr.runs.synchrony", "studymgr.compute.preprocess",
        "studymgr.compute.synchrony.coherence", "studymgr.runs.check", "mne", "mne_nirs",
        "tests.test_crash"])
    try:
        run(ctx, ["--version"])  # start the server (and its imports) before anything is timed
    finally:
        del os.environ[WARM]
    return ctx


def start(ctx, argv: list[str]):
    proc = ctx.Process(target=_run_cli, args=(argv,))
    proc.start()
    return proc


def run(ctx, argv: list[str]) -> float:
    """Run to completion; return the wall time (s)."""
    t0 = time.perf_counter()
    proc = start(ctx, argv)
    proc.join(300)
    assert proc.exitcode == 0, f"{argv} exited with {proc.exitcode}"
    return time.perf_counter() - t0


# -- state -------------------------------------------------------------------------------------
def state(db: Path, data: Path) -> dict[str, object]:
    """Everything stored, without what differs between two identical runs (ids of rows that
    only refer to other rows, times, and the audit hashes computed over the times)."""
    conn = sqlite3.connect(db)
    q = lambda sql: sorted(map(tuple, conn.execute(sql).fetchall()), key=repr)  # noqa: E731
    session = "(SELECT d.code || '/' || s.number FROM sessions s JOIN dyads d ON d.id = " \
              "s.dyad_id WHERE s.id = {})"
    out = {
        "responses": q("SELECT " + session.format("r.session_id") + ", i.name, i.version, "
                       "r.role, r.timing, r.status, r.source, r.source_hash, r.entered_by,"
                       " (SELECT group_concat(item || '=' || coalesce(value, missing), ',') FROM "
                       "response_items WHERE response_id = r.id), (SELECT group_concat(scale || "
                       "'=' || coalesce(value, '') || '/' || n_answered || '/' || prorated || '/' "
                       "|| coalesce(band, ''), ',') FROM scores WHERE response_id = r.id) "
                       "FROM responses r JOIN instruments i ON i.id = r.instrument_id"),
        "instruments": q("SELECT name, version, content_hash, source FROM instruments"),
        "scans": q("SELECT " + session.format("session_id") + ", role, format, path, sha256, "
                   "size_bytes, sfreq, n_channels, channels, duration_s, meas_date, quality, "
                   "usable_share, imported_by FROM scans"),
        "pairs": q("SELECT " + session.format("session_id") + ", status, start_offset_s, "
                   "overlap_s, messages FROM scan_pairs"),
        "events": q("SELECT " + session.format("session_id") + ", onset_s, duration_s, label, "
                    "rater, source FROM events"),
        "runs": q("SELECT kind, " + session.format("session_id") + ", config_hash, "
                  "input_hashes, versions, status, message FROM analysis_runs"),
        "synchrony": q("SELECT " + session.format("r.session_id") + ", pair, t.path, p.path, "
                       "chromophore, level, therapist_unit, patient_unit, value FROM "
                       "synchrony_results r JOIN scans t ON t.id = r.therapist_scan "
                       "JOIN scans p ON p.id = r.patient_scan"),
        "tests": q("SELECT " + session.format("session_id") + ", chromophore, level, "
                   "therapist_unit, patient_unit, true_value, pseudo_mean, pseudo_sd, n_pseudo,"
                   " p_value, seed FROM synchrony_tests"),
        "audit": [tuple(r) for r in conn.execute(
            "SELECT user, action, entity, entity_key, old, new, reason FROM audit_log "
            "ORDER BY id")],
    }
    conn.close()
    files = {p.relative_to(data).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(data.rglob("*")) if p.is_file()}
    # a killed import's own copy, found by the next import at its target with no row, is moved
    # to quarantine (never overwritten): it must be a copy of a recording stored now
    kept = {k: v for k, v in files.items() if k.startswith(".quarantine/")}
    out["files"] = {k: v for k, v in files.items() if k not in kept}
    assert set(kept.values()) <= set(out["files"].values()), kept
    return out


def sqlite_checks(db: Path) -> None:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


def studymgr_check(db: Path, *, leftovers_allowed: bool) -> list[dict]:
    """``studymgr check --json``: the problems found (only fixable leftovers are allowed)."""
    out = Cli(db)("check", "--json")
    rows = json.loads(out.stdout)
    found = [r for r in rows if r["status"] == "problem"]
    allowed = [r for r in found if r["check"] == "scans" and r["fix"] == "studymgr check --fix"]
    assert found == (allowed if leftovers_allowed else []), found
    assert out.exit_code == (2 if found else 0)
    return found


def kill_series(ctx, pristine: Path, work: Path, argv: list[str], rng: np.random.Generator
                ) -> dict[str, object]:
    """Kill ``argv`` at random moments on fresh copies of ``pristine`` until KILLS kills landed
    while it ran; after each, check, run again and compare with an uninterrupted run.

    The delays are uniform over 85 % of the shortest of two uninterrupted runs; a run that
    ends before its kill (timing noise) still goes through every check but is not counted.
    """
    db, data = work / "study.db", work / "study_data"

    def fresh() -> None:
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(pristine, work)

    durations = []
    for _ in range(2):
        fresh()
        durations.append(run(ctx, ["--db", str(db), *argv]))
    duration = min(durations)
    reference = state(db, data)
    studymgr_check(db, leftovers_allowed=False)
    kills = attempts = leftovers = 0
    delays, reruns = [], []
    while kills < KILLS:
        attempts += 1
        assert attempts <= 3 * KILLS, f"only {kills} of {attempts} kills landed during a run"
        fresh()
        delay = float(rng.uniform(0.0, 0.85 * duration))
        proc = start(ctx, ["--db", str(db), *argv])
        time.sleep(delay)
        proc.kill()  # SIGKILL; a no-op when the run has already ended
        proc.join(60)
        if proc.exitcode == -signal.SIGKILL:
            kills += 1
        else:
            assert proc.exitcode == 0
        sqlite_checks(db)
        leftovers += len(studymgr_check(db, leftovers_allowed=True))
        reruns.append(round(run(ctx, ["--db", str(db), *argv]), 2))  # simply run it again
        delays.append(round(delay, 2))
        sqlite_checks(db)
        studymgr_check(db, leftovers_allowed=False)
        assert state(db, data) == reference
    return {"kills": kills, "attempts": attempts, "leftovers": leftovers,
            "run_s": round(duration, 2), "delays_s": delays, "reruns_s": reruns}


# -- the three commands --------------------------------------------------------------------------
BATTERY = [("gad7", "patient", "pre", 7, 0, 3), ("who5", "patient", "pre", 5, 0, 5),
           ("who5", "therapist", "pre", 5, 0, 5), ("state-test-anxiety", "patient", "post", 6,
                                                    0, 6),
           ("srs", "patient", "post", 4, 0, 10), ("wai-sr", "patient", "post", 12, 1, 5)]


def make_pristine(root: Path, n_dyads: int, n_sessions: int):
    from studymgr import create_study

    root.mkdir(parents=True)
    study = create_study(root / "study.db", user="tester")
    for d in range(1, n_dyads + 1):
        study.add_dyad(f"D{d:02d}", therapist="T01", patient=f"P{d:02d}")
        for n in range(1, n_sessions + 1):
            study.add_session(f"D{d:02d}", n, date=f"2025-01-{n:02d}")
    return study


@pytest.mark.slow
def test_killed_score_import_leaves_a_consistent_study(forker, tmp_path):
    """``scores import`` of 450 responses (one all-or-nothing transaction after the parsing)."""
    pristine = tmp_path / "pristine"
    make_pristine(pristine, n_dyads=15, n_sessions=5).close()
    rng = np.random.default_rng(SEED)
    lines = ["dyad,session,role,timing,instrument," + ",".join(
        f"i{j}" for j in range(1, 13))]
    for d in range(1, 16):
        for n in range(1, 6):
            for name, resp, timing, k, lo, hi in BATTERY:
                values = [str(v) for v in rng.integers(lo, hi + 1, size=k)] + [""] * (12 - k)
                lines.append(f"D{d:02d},{n},{resp},{timing},{name}," + ",".join(values))
    csv = tmp_path / "responses.csv"
    csv.write_text("\n".join(lines) + "\n")
    result = kill_series(forker, pristine, tmp_path / "work", ["scores", "import", str(csv)],
                         rng)
    assert result["kills"] == KILLS, result


@pytest.mark.slow
def test_killed_scan_import_leaves_a_consistent_study(forker, tmp_path):
    """``scans import-dir`` of 4 SNIRF files (each copied, fsynced, verified, then committed):
    a kill during a copy leaves a partial copy, one between the move into place and the commit
    an orphan file; the next run removes both."""
    from tests.test_scans import write_snirf

    pristine = tmp_path / "pristine"
    make_pristine(pristine, n_dyads=2, n_sessions=1).close()
    bids = tmp_path / "bids"
    for d in (1, 2):
        for n in (1,):
            for role, person in (("therapist", "T01"), ("patient", f"P0{d}")):
                acq = f"_acq-D0{d}" if role == "therapist" else ""
                write_snirf(bids / f"sub-{person}/ses-{n}/nirs/sub-{person}_ses-{n}_task-therapy"
                            f"{acq}_nirs.snirf", n_pairs=4, duration=60.0, seed=d * 10 + n,
                            annotations=[(5.0, 1.0, "start")])
    result = kill_series(forker, pristine, tmp_path / "work", ["scans", "import-dir", str(bids)],
                         np.random.default_rng(SEED + 1))
    assert result["kills"] == KILLS, result


@pytest.mark.slow
def test_killed_synchrony_run_leaves_a_consistent_study(forker, tmp_path):
    """``synchrony compute`` of 2 sessions with pseudo-dyads (each session's results stored in
    one transaction): a kill leaves whole sessions or nothing, and the next run computes the
    rest, giving the same numbers."""
    from studymgr.compute.simulate.study import simulate_recording_pair
    from tests.test_scans import MEAS_DATE

    pristine = tmp_path / "pristine"
    study = make_pristine(pristine, n_dyads=2, n_sessions=1)
    from mne_nirs.io import write_raw_snirf

    for d in (1, 2):
        for n in (1,):
            raw_t, raw_p = simulate_recording_pair(0.5, duration_s=360.0, sfreq=4.0,
                                                   n_channels=1, motion_spikes=0,
                                                   seed=d * 10 + n, meas_date=MEAS_DATE)
            for role, raw in (("therapist", raw_t), ("patient", raw_p)):
                path = tmp_path / "in" / f"D0{d}_{n}_{role}.snirf"
                path.parent.mkdir(exist_ok=True)
                write_raw_snirf(raw, str(path))
                study.import_scan(f"D0{d}", n, role, path)
    study.close()
    result = kill_series(forker, pristine, tmp_path / "work", ["synchrony", "compute"],
                         np.random.default_rng(SEED + 2))
    assert result["kills"] == KILLS, result
