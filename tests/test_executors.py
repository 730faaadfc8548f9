"""Executors: local serial, local process pool and Dask give the same results.

What each test compares with is said in its docstring: hand-computed expectations for the
generic executors; the local executor's stored synchrony (itself checked in test_pipeline.py)
for a study run on a Dask ``LocalCluster`` of 2 worker processes, including runs in which a
task kills its worker.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from studymgr.errors import InputError
from studymgr.runs.executors import (
    DaskExecutor,
    LocalExecutor,
    TaskFailure,
    get_executor,
    map_tasks,
)
from tests.conftest import REPO, snapshot

# -- module-level task functions (picklable by reference for process pools and Dask workers) ----


def _square(x: int) -> int:
    return x * x


def _tenfold(x: int) -> int:
    return 10 * x


def _sum_prepared(payload: int, prepared: dict) -> tuple[int, int, list]:
    return payload, payload + sum(prepared.values()), sorted(prepared)


def _counted(args: tuple[str, int]) -> int:
    """Appends one line per attempt to a file, then fails for item 3 (every attempt)."""
    folder, x = args
    with open(Path(folder) / f"attempts-{x}", "a") as fh:
        fh.write(f"{os.getpid()}\n")
    if x == 3:
        raise ValueError(f"item {x} is cursed")
    return x * x


def _fail_one(folder: str, payload: int, prepared: dict) -> tuple[int, int, list]:
    with open(Path(folder) / f"attempts-{payload}", "a") as fh:
        fh.write(f"{os.getpid()}\n")
    if payload == 2:
        raise RuntimeError("session 2 cannot be computed")
    return _sum_prepared(payload, prepared)


def _die_on_two(folder: str, payload: int, prepared: dict) -> tuple[int, int, list]:
    """Kills its worker process every time it runs payload 2 (counts attempts)."""
    if payload == 2:
        with open(Path(folder) / "attempts", "a") as fh:
            fh.write(f"{os.getpid()}\n")
        os._exit(1)
    return _sum_prepared(payload, prepared)


def _die_once(folder: str, victim: str, compute, payload, prepared):
    """Kills its worker process the first time it runs the victim session (marker file)."""
    job = payload[0]
    marker = Path(folder) / "died"
    if job.label == victim and not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)
    return compute(payload, prepared)


def _raise_always(folder: str, victim: str, compute, payload, prepared):
    """Raises every time it runs the victim session (counts attempts)."""
    job = payload[0]
    if job.label == victim:
        with open(Path(folder) / "attempts", "a") as fh:
            fh.write(f"{os.getpid()}\n")
        raise MemoryError(f"{victim} is too big")
    return compute(payload, prepared)


class _Sabotaged(DaskExecutor):
    """A Dask executor whose session tasks go through ``wrapper`` (to break them)."""

    def __init__(self, client, wrapper):
        super().__init__(client=client)
        self.wrapper = wrapper

    def map_staged(self, prepare, inputs, compute, tasks, *, progress=None):
        return super().map_staged(prepare, inputs, functools.partial(self.wrapper, compute),
                                  tasks, progress=progress)


# -- local executor and selection (no dask needed) ------------------------------------------------
@pytest.mark.parametrize("jobs", [1, 2])
def test_local_map_keeps_item_order(jobs):
    """Against a list comprehension: results in item order, in-process or in a pool."""
    items = list(range(9))
    assert list(LocalExecutor(jobs).map(_square, items)) == [x * x for x in items]
    assert map_tasks(_square, items, jobs=jobs) == [x * x for x in items]


@pytest.mark.parametrize("jobs", [1, 2])
def test_local_staged_prepares_each_input_once(jobs):
    """Against hand-computed sums: each task sees exactly the prepared inputs it names, and
    progress reports every input then every task."""
    inputs = {"a": 1, "b": 2, "c": 3}
    tasks = [(100, ["a", "b"]), (200, ["c"]), (300, ["a", "b", "c"])]
    calls = []
    out = list(LocalExecutor(jobs).map_staged(_tenfold, inputs, _sum_prepared, tasks,
                                              progress=lambda *a: calls.append(a)))
    assert out == [(0, (100, 130, ["a", "b"])), (1, (200, 230, ["c"])),
                   (2, (300, 360, ["a", "b", "c"]))]
    assert calls == [("prepare", 1, 3), ("prepare", 2, 3), ("prepare", 3, 3),
                     ("compute", 1, 3), ("compute", 2, 3), ("compute", 3, 3)]


def test_get_executor_refuses_bad_choices():
    """One-line InputErrors for an unknown executor, a scheduler without dask, no workers."""
    with pytest.raises(InputError, match="unknown executor"):
        get_executor("spark")
    with pytest.raises(InputError, match="only used with --executor dask"):
        get_executor("local", scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(InputError, match="at least 1"):
        get_executor("local", jobs=0)
    assert isinstance(get_executor("local", jobs=2), LocalExecutor)


def test_missing_dask_says_what_to_install(monkeypatch):
    """Without dask/distributed, choosing the dask executor names the extra to install."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    with pytest.raises(InputError, match=r"studymgr\[dask\]"):
        get_executor("dask")


def test_default_path_does_not_import_dask():
    """The local executor and the pipeline never import dask (it is an optional extra)."""
    code = ("import sys, studymgr.runs.executors, studymgr.runs.synchrony, studymgr.cli.synchrony; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert out.stdout.strip() == "[]"


# -- Dask ------------------------------------------------------------------------------------------
NEEDS_DASK = "the dask executor tests need dask and distributed (pip install studymgr[dask])"


@pytest.fixture(scope="module")
def dask_executor():
    """A LocalCluster of 2 single-threaded worker processes, started by DaskExecutor itself."""
    pytest.importorskip("distributed", reason=NEEDS_DASK)
    with DaskExecutor(n_workers=2) as executor:
        assert executor.workers == 2
        yield executor


def test_dask_map_matches_local_and_retries_failures(dask_executor, tmp_path):
    """Against the local executor; a task that always raises is tried twice (retries=1), then
    its exception is raised to the caller."""
    items = list(range(7))
    assert map_tasks(_square, items, executor=dask_executor) == map_tasks(_square, items)
    with pytest.raises(ValueError, match="cursed"):
        list(dask_executor.map(_counted, [(str(tmp_path), x) for x in (1, 3)]))
    assert len((tmp_path / "attempts-3").read_text().splitlines()) == 2


def test_dask_staged_matches_local_and_reports_failed_tasks(dask_executor, tmp_path):
    """Against the local executor's (hand-checked) results; a task failing on every attempt
    becomes a TaskFailure after exactly two attempts, and the others finish."""
    inputs = {"a": 1, "b": 2, "c": 3}
    tasks = [(100, ["a", "b"]), (200, ["c"]), (300, ["a", "b", "c"])]
    local = dict(LocalExecutor().map_staged(_tenfold, inputs, _sum_prepared, tasks))
    calls = []
    remote = dict(dask_executor.map_staged(_tenfold, inputs, _sum_prepared, tasks,
                                           progress=lambda *a: calls.append(a)))
    assert remote == local
    assert [c for c in calls if c[0] == "prepare"] == [("prepare", i, 3) for i in (1, 2, 3)]
    assert [c for c in calls if c[0] == "compute"] == [("compute", i, 3) for i in (1, 2, 3)]
    assert calls.index(("prepare", 3, 3)) < calls.index(("compute", 1, 3))

    failing = [(1, ["a"]), (2, ["b"]), (3, ["c"])]
    out = dict(dask_executor.map_staged(_tenfold, inputs,
                                        functools.partial(_fail_one, str(tmp_path)), failing))
    assert out[0] == (1, 11, ["a"]) and out[2] == (3, 33, ["c"])
    assert isinstance(out[1], TaskFailure) and "session 2 cannot be computed" in out[1].message
    assert len((tmp_path / "attempts-2").read_text().splitlines()) == 2


def test_dask_task_killing_its_worker_twice_is_given_up(dask_executor, tmp_path):
    """A task whose worker dies (os._exit) on both attempts becomes a TaskFailure saying so;
    the other tasks finish with the local executor's results."""
    inputs = {"a": 1, "b": 2, "c": 3}
    tasks = [(1, ["a"]), (2, ["b"]), (3, ["c"]), (4, ["a", "c"])]
    local = dict(LocalExecutor().map_staged(_tenfold, inputs, _sum_prepared, tasks))
    out = dict(dask_executor.map_staged(_tenfold, inputs,
                                        functools.partial(_die_on_two, str(tmp_path)), tasks))
    assert isinstance(out[1], TaskFailure) and "died" in out[1].message
    assert {i: v for i, v in out.items() if i != 1} == {i: v for i, v in local.items() if i != 1}
    assert len((tmp_path / "attempts").read_text().splitlines()) == 2


# -- a study through the cluster ----------------------------------------------------------------
def _build_study(folder: Path):
    """2 dyads x 2 sessions of simulated 3-channel recordings (360 s at 5 Hz), imported."""
    import studymgr
    from studymgr.compute.simulate.study import simulate_study

    sim = simulate_study(folder / "sim", n_dyads=2, n_sessions=2, baseline_coupling=0.6,
                         growth=0.3, coupling_sd_dyad=0.0, coupling_sd_growth=0.0,
                         coupling_sd_session=0.0, duration_s=360, sfreq=5.0, n_channels=3,
                         motion_spikes=0, seed=11)
    study = studymgr.create_study(folder / "study.db", user="tester")
    for dyad, members in sim.recordings.groupby("dyad"):
        roles = dict(zip(members["role"], members["person"], strict=False))
        study.add_dyad(dyad, therapist=roles["therapist"], patient=roles["patient"])
    for row in sim.sessions.itertuples():
        study.add_session(row.dyad, int(row.session), date=str(row.date)[:10])
    for row in sim.recordings.itertuples():
        study.import_scan(row.dyad, int(row.session), row.role, sim.out_dir / row.path)
    return study


def _stored(study) -> dict[str, pd.DataFrame]:
    """Everything a synchrony run stores, without run ids (which differ between runs)."""
    out = {level: study.synchrony(level=level).drop(columns=["run_id"])
           for level in ("channel", "roi", "session")}
    out["tests"] = study.synchrony_tests(level="channel")
    return out


def _runs_per_session(study) -> list[int]:
    return [r[0] for r in study.db.conn.execute(
        "SELECT count(*) FROM analysis_runs WHERE kind = 'synchrony' GROUP BY session_id")]


def _compute_audits(study) -> int:
    return study.db.conn.execute("SELECT count(*) FROM audit_log WHERE action = 'compute' AND "
                                 "entity = 'synchrony'").fetchone()[0]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """The study computed by the default local executor: the reference for every Dask run."""
    os.environ.setdefault("STUDYMGR_USER", "tester")
    study = _build_study(tmp_path_factory.mktemp("dask-study"))
    summary = study.compute_synchrony()
    assert list(summary["status"]) == ["computed"] * 4
    yield study, summary, _stored(study)
    study.close()


def _assert_same(study, reference):
    for name, frame in _stored(study).items():
        pd.testing.assert_frame_equal(frame, reference[name], check_exact=True, obj=name)


def test_dask_cluster_gives_identical_results(scanned, dask_executor):
    """Against the local executor: same rows and bit-identical values at every level, the
    same permutation tests and summary, and one run per session."""
    from studymgr.runs.synchrony import compute_synchrony

    study, summary, reference = scanned
    again = compute_synchrony(study, force=True, executor=dask_executor)
    pd.testing.assert_frame_equal(again, summary, check_exact=True)
    _assert_same(study, reference)
    assert _runs_per_session(study) == [1, 1, 1, 1]


def test_killed_worker_is_retried_and_every_session_stored_once(scanned, dask_executor,
                                                                tmp_path):
    """A session task kills its worker (os._exit) on its first attempt: Dask reruns it on a
    live worker and the run completes, each session stored exactly once, with the local
    executor's numbers."""
    from studymgr.runs.synchrony import compute_synchrony

    study, summary, reference = scanned
    audits = _compute_audits(study)
    flaky = _Sabotaged(dask_executor.client,
                       functools.partial(_die_once, str(tmp_path), "D01/1"))
    again = compute_synchrony(study, force=True, executor=flaky)
    assert (tmp_path / "died").exists()  # a worker really died
    assert list(again["status"]) == ["computed"] * 4
    _assert_same(study, reference)
    assert _runs_per_session(study) == [1, 1, 1, 1]
    assert _compute_audits(study) == audits + 4


def test_failing_session_is_reported_and_the_rest_finish(scanned, dask_executor, tmp_path):
    """A session whose task raises on both attempts is reported as failed (and keeps its
    previous results); the other sessions are computed with the local executor's numbers."""
    from studymgr.runs.synchrony import compute_synchrony

    study, summary, reference = scanned
    doomed = _Sabotaged(dask_executor.client,
                        functools.partial(_raise_always, str(tmp_path), "D02/1"))
    again = compute_synchrony(study, force=True, executor=doomed).set_index(["dyad", "session"])
    assert again.loc[("D02", 1), "status"] == "failed"
    assert again.loc[("D02", 1), "message"] == "MemoryError: D02/1 is too big"
    assert (again.drop(index=[("D02", 1)])["status"] == "computed").all()
    assert len((tmp_path / "attempts").read_text().splitlines()) == 2
    _assert_same(study, reference)
    assert _runs_per_session(study) == [1, 1, 1, 1]


def test_workers_verify_recordings_by_hash(scanned, dask_executor):
    """A recording changed after import is refused by the worker that reads it (sha256
    differs), and its session is reported as failed, as the local executor does."""
    from studymgr.runs.synchrony import compute_synchrony

    study, _, reference = scanned
    row = study.scans().set_index(["dyad", "session", "role"]).loc[("D02", 2, "patient")]
    victim = study.data_dir / row["path"]
    original = victim.read_bytes()
    try:
        victim.write_bytes(original[:-10] + b"0123456789")
        out = compute_synchrony(study, dyad="D02", session=2, force=True,
                                executor=dask_executor)
    finally:
        victim.write_bytes(original)
    assert list(out["status"]) == ["failed"]
    assert "changed since import" in out["message"].iloc[0]
    _assert_same(study, reference)  # nothing stored for the failed session


# -- the CLI -------------------------------------------------------------------------------------
def _cli(db: Path, *args: str):
    from studymgr.cli import cli

    return CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)


def test_cli_runs_on_a_scheduler_address(scanned, dask_executor):
    """``--executor dask --scheduler ADDRESS`` against the running cluster: the session is
    recomputed with the local executor's numbers."""
    study, summary, reference = scanned
    address = dask_executor.client.scheduler.address
    result = _cli(study.path, "synchrony", "compute", "--executor", "dask", "--scheduler",
                  address, "--dyad", "D01", "--session", "1", "--force", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["dyad"], r["session"], r["status"]) for r in rows] == [("D01", 1, "computed")]
    assert rows[0]["synchrony_hbo"] == summary["synchrony_hbo"].iloc[0]
    _assert_same(study, reference)


@pytest.mark.parametrize(("args", "message"), [
    (["--scheduler", "tcp://127.0.0.1:8786"], "only used with --executor dask"),
    (["--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"], "cannot connect"),
    (["--executor", "spark"], "Invalid value for '--executor'"),
])
def test_cli_bad_executor_options(study, db_path, tmp_path, monkeypatch, args, message):
    """Bad executor options: exit 2, one line on stderr, nothing on stdout, study unchanged."""
    if "connect" in message:
        pytest.importorskip("distributed", reason=NEEDS_DASK)
    monkeypatch.setattr("studymgr.runs.executors.CONNECT_TIMEOUT", 1.0)
    study.close()
    before = snapshot(tmp_path)
    result = _cli(db_path, "synchrony", "compute", *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    err = result.stderr.strip()
    assert "\n" not in err and err.startswith("Error: ") and message in err
    assert snapshot(tmp_path) == before
