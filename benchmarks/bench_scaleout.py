"""Scale-out of session synchrony, measured (not asserted). Run by hand:

    PYTHONPATH=. python benchmarks/bench_scaleout.py            # 25 dyads x 4 sessions
    PYTHONPATH=. python benchmarks/bench_scaleout.py --max-pseudo 50 --workdir /tmp/scaleout

On one simulated study (default 25 dyads x 4 sessions = 100 sessions, 360 s recordings at 5 Hz,
4 channels; built once and kept in ``--workdir``) it runs ``compute_synchrony(force=True)``
with, in one run:

- ``local --jobs 1``: everything in one process;
- ``local --jobs 2``: a local process pool of 2;
- ``dask, 2 workers``: a ``LocalCluster`` of 2 single-threaded worker processes, two waves of
  tasks (each recording prepared once; each session a task depending on its recordings);
- ``dask folded``: the alternative design, one task per session that reads and preprocesses
  every recording it needs itself (its own two and its pseudo partners'), on a subset of
  sessions (``--folded-sessions``), computed but not stored.

Each mode runs in a fresh process, so that caches, imports and peak memory do not leak from one
mode into the next. Reported: wall time, sessions per minute, cluster start-up, peak resident
memory of the coordinating process and of the largest worker (Linux ``ru_maxrss``), and whether
the stored values are identical to the single-process run; CPU seconds per session (all
processes of the mode: the figure to size a cluster with, as it does not depend on how busy
the machine is) and the 1-minute load average (other work on the machine slows every mode).
Printed as a markdown table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODES = ("local1", "local2", "dask2", "folded2")
LABELS = {"local1": "local, 1 process", "local2": "local, --jobs 2",
          "dask2": "dask LocalCluster, 2 workers", "folded2": "dask, folded per-session tasks"}


def _peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # kB on Linux


def _cpu_s(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


# -- building the study (once) -------------------------------------------------------------------
def build(workdir: Path, args: argparse.Namespace) -> Path:
    import studymgr
    from studymgr.compute.simulate.study import simulate_study

    key = f"{args.dyads}x{args.sessions}-{args.channels}ch-{args.duration}s-{args.sfreq}Hz"
    folder = workdir / key
    db = folder / "study.db"
    if (folder / "ready").exists():
        return db
    t0 = time.perf_counter()
    sim = simulate_study(folder / "sim", n_dyads=args.dyads, n_sessions=args.sessions,
                         duration_s=args.duration, sfreq=args.sfreq, n_channels=args.channels,
                         motion_spikes=1, seed=1, overwrite=True)
    if db.exists():
        db.unlink()
    study = studymgr.create_study(db, user="bench")
    for dyad, members in sim.recordings.groupby("dyad"):
        roles = dict(zip(members["role"], members["person"], strict=False))
        study.add_dyad(dyad, therapist=roles["therapist"], patient=roles["patient"])
    for row in sim.sessions.itertuples():
        study.add_session(row.dyad, int(row.session), date=str(row.date)[:10])
    for row in sim.recordings.itertuples():
        study.import_scan(row.dyad, int(row.session), row.role, sim.out_dir / row.path)
    study.close()
    (folder / "ready").write_text("ok")
    print(f"built {args.dyads * args.sessions} sessions in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr)
    return db


# -- one mode, in a fresh process ----------------------------------------------------------------
def _digest(study) -> str:
    """sha256 of every stored synchrony value (run ids left out)."""
    frame = study.synchrony(level="channel").drop(columns=["run_id"])
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()[:16]


def _worker_peaks(client) -> list[float]:
    return sorted(client.run(_peak_rss_mb).values())


def _worker_cpu(client) -> float:
    return sum(client.run(_cpu_s).values())


def _folded_session(payload):
    """The folded design: one task reads and preprocesses every recording it needs."""
    from studymgr.runs.synchrony import _prepare_job, compute_session

    job, scans, config, sfreq = payload
    prepared = {i: _prepare_job((s, config, sfreq)) for i, s in scans.items()}
    prepared = {i: p for i, p in prepared.items() if not isinstance(p, str)}
    result = compute_session(job, prepared, config)
    value = result.results.query("pair == 'true' and level == 'session' and "
                                 "chromophore == 'hbo'")["value"].iloc[0]
    return job.label, float(value), len(scans)


def run_mode(mode: str, db: Path, max_pseudo: int, folded_sessions: int) -> dict:
    import studymgr
    from studymgr.runs.executors import DaskExecutor, LocalExecutor
    from studymgr.runs.synchrony import SynchronyConfig, compute_synchrony

    config = SynchronyConfig(max_pseudo=max_pseudo)
    study = studymgr.open_study(db, user="bench")
    out = {"mode": mode, "startup_s": 0.0, "worker_peak_mb": None,
           "load": os.getloadavg()[0]}
    if mode in ("local1", "local2"):
        jobs = 1 if mode == "local1" else 2
        cpu0 = _cpu_s()
        t0 = time.perf_counter()
        summary = compute_synchrony(study, config, force=True, executor=LocalExecutor(jobs))
        out["wall_s"] = time.perf_counter() - t0
        out["cpu_s"] = _cpu_s() - cpu0 + _cpu_s(resource.RUSAGE_CHILDREN)
        out["worker_peak_mb"] = (_peak_rss_mb() if jobs == 1
                                 else _peak_rss_mb(resource.RUSAGE_CHILDREN))
    else:
        t0 = time.perf_counter()
        executor = DaskExecutor(n_workers=2)
        client = executor.client  # starts the LocalCluster
        out["startup_s"] = time.perf_counter() - t0
        cpu0, worker_cpu0 = _cpu_s(), _worker_cpu(client)
        if mode == "dask2":
            t0 = time.perf_counter()
            summary = compute_synchrony(study, config, force=True, executor=executor)
            out["wall_s"] = time.perf_counter() - t0
        else:
            summary = _run_folded(study, config, executor, folded_sessions, out)
        out["cpu_s"] = _cpu_s() - cpu0 + _worker_cpu(client) - worker_cpu0
        out["worker_peak_mb"] = max(_worker_peaks(client))
        executor.close()
    out["sessions"] = int((summary["status"] == "computed").sum())
    out["failed"] = int((summary["status"] == "failed").sum())
    out["coordinator_peak_mb"] = _peak_rss_mb()
    out["load"] = max(out["load"], os.getloadavg()[0])
    if mode != "folded2":
        out["digest"] = _digest(study)
    study.close()
    return out


def _run_folded(study, config, executor, n_sessions: int, out: dict):
    import pandas as pd

    from studymgr.runs.synchrony import _scan_inputs, plan_jobs

    everything = study.synchrony_inputs()
    scans = _scan_inputs(study, everything)
    sfreq = config.resample_sfreq or min(s.sfreq for s in scans.values())
    jobs = plan_jobs(everything, config)[:n_sessions]
    items = [(job, {i: scans[i] for i in sorted({job.therapist, job.patient,
                                                   *sum(job.pseudo, ())})}, config, sfreq)
             for job in jobs]
    t0 = time.perf_counter()
    results = list(executor.map(_folded_session, items))
    out["wall_s"] = time.perf_counter() - t0
    out["prepares_per_session"] = sum(r[2] for r in results) / len(results)
    # the folded numbers must equal the stored (two-wave) ones
    stored = study.synchrony(level="session", pair="true", chromophore="hbo")
    stored = {f"{d}/{s}": v for d, s, v in zip(stored["dyad"], stored["session"],
                                                stored["value"], strict=True)}
    out["folded_matches"] = all(stored[label] == value for label, value, _ in results)
    return pd.DataFrame({"status": ["computed"] * len(results)})


def _unit_costs(db: Path, max_pseudo: int) -> dict:
    """Single-process cost of preparing one recording and of one pair (both chromophores)."""
    import studymgr
    from studymgr.runs.synchrony import SynchronyConfig, _scan_inputs, pair_synchrony, prepare_scan

    config = SynchronyConfig(max_pseudo=max_pseudo)
    study = studymgr.open_study(db, user="bench")
    scans = list(_scan_inputs(study, study.synchrony_inputs()).values())[:8]
    study.close()
    t0 = time.perf_counter()
    prepared = [prepare_scan(s, config, scans[0].sfreq) for s in scans]
    prep = (time.perf_counter() - t0) / len(scans)
    pair_synchrony(prepared[0], prepared[1], config, by_time=False)  # plan cache warm
    t0 = time.perf_counter()
    for a, b in zip(prepared[::2], prepared[1::2], strict=True):
        pair_synchrony(a, b, config, by_time=False)
    pair = (time.perf_counter() - t0) / (len(prepared) // 2)
    return {"prepare_s": prep, "pair_s": pair}


# -- driver --------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dyads", type=int, default=25)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--duration", type=float, default=360.0)
    parser.add_argument("--sfreq", type=float, default=5.0)
    parser.add_argument("--max-pseudo", type=int, default=10,
                        help="pseudo pairs per session (the CLI default is 50)")
    parser.add_argument("--folded-sessions", type=int, default=20)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir())
                        / "studymgr-bench-scaleout")
    parser.add_argument("--run", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--units", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("STUDYMGR_USER", "bench")
    if args.run or args.units:
        result = (_unit_costs(args.db, args.max_pseudo) if args.units
                  else run_mode(args.run, args.db, args.max_pseudo, args.folded_sessions))
        print(json.dumps(result))
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    db = build(args.workdir, args)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
        str(REPO), os.environ.get("PYTHONPATH")]))}

    def child(*extra: str) -> dict:
        cmd = [sys.executable, __file__, "--db", str(db), "--max-pseudo", str(args.max_pseudo),
               "--folded-sessions", str(args.folded_sessions), *extra]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(extra)} failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    rows = [child("--run", mode) for mode in args.modes.split(",")]
    units = child("--units")
    n = args.dyads * args.sessions
    reference = next((r.get("digest") for r in rows if r["mode"] == "local1"), None)
    print(f"\n{n} sessions ({args.dyads} dyads x {args.sessions}), {args.duration:g} s at "
          f"{args.sfreq:g} Hz, {args.channels} channels, up to {args.max_pseudo} pseudo pairs "
          f"per session; {os.cpu_count()} cores\n")
    print("| executor | sessions | wall (s) | sessions/min | CPU s/session | cluster start (s) | "
          "coordinator peak (MB) | worker peak (MB) | load avg | identical to 1 process |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        same = ("yes" if r.get("digest") == reference else "NO") if "digest" in r else (
            "yes (session index)" if r.get("folded_matches") else "NO")
        print(f"| {LABELS[r['mode']]} | {r['sessions']} | {r['wall_s']:.1f} | "
              f"{60 * r['sessions'] / r['wall_s']:.1f} | {r['cpu_s'] / r['sessions']:.2f} | "
              f"{r['startup_s']:.1f} | {r['coordinator_peak_mb']:.0f} | "
              f"{r['worker_peak_mb']:.0f} | {r['load']:.1f} | {same} |")
    folded = next((r for r in rows if r["mode"] == "folded2"), None)
    print(f"\nsingle process: {units['prepare_s']:.3f} s to prepare one recording, "
          f"{units['pair_s']:.3f} s per pair (HbO + HbR, all levels)")
    if folded:
        print(f"folded tasks preprocess {folded['prepares_per_session']:.1f} recordings per "
              f"session; two waves preprocess each of the {2 * n} recordings once")


if __name__ == "__main__":
    main()
