"""The session-job runner on a toy analysis: planning, skipping, computing on an executor,
storing, progress and failures (the three real analyses run on it in test_pipeline.py,
test_eventlocked.py, test_eeg.py and test_executors.py).

The toy "recordings" are numbers; preparing one multiplies it by 10 and a session's result is
the sum of its prepared recordings, so every expected value is computed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from studymgr.errors import InputError
from studymgr.runs.executors import LocalExecutor, TaskFailure
from studymgr.runs.jobs import (
    SessionAnalysis,
    SessionFailure,
    SessionPlan,
    compute_pair,
    is_up_to_date,
    run_sessions,
)

RECORDINGS = {1: 1, 2: 2, 3: 3, 4: -1}  # scan id -> value; a negative one cannot be prepared


@dataclass
class Task:
    session_id: int
    label: str
    input_hashes: dict
    scans: tuple[int, ...]


@dataclass(frozen=True)
class Config:
    offset: int = 0

    def to_dict(self) -> dict:
        return {"offset": self.offset}

    def config_hash(self) -> str:
        return f"h{self.offset}"


def _prepare(value: int) -> int | str:
    return value * 10 if value >= 0 else f"recording {value} is unreadable"


def _compute(payload: tuple[Task, Config], prepared: dict) -> int | SessionFailure:
    task, config = payload
    failed = [p for k, p in prepared.items() if k in task.scans and isinstance(p, str)]
    if failed:
        return SessionFailure(failed[0])
    if task.label == "D03/1":
        return SessionFailure("no usable channel")
    return sum(prepared[k] for k in task.scans) + config.offset


class FakeStudy:
    """The two store methods the runner itself uses, plus a record of what was stored."""

    def __init__(self, runs: dict | None = None) -> None:
        self.runs = runs or {}
        self.stored: list[tuple[str, int]] = []

    def current_run(self, kind: str, session_id: int) -> dict | None:
        return self.runs.get((kind, session_id))


class Toy(SessionAnalysis):
    kind = "toy"
    summary_columns = ["dyad", "session", "status", "value", "message"]
    prepare = staticmethod(_prepare)
    compute = staticmethod(_compute)

    def __init__(self, config: Config, tasks: list[Task], *, shared: bool = False) -> None:
        super().__init__(config)
        self.tasks = tasks
        self.shares_recordings = shared

    def plan(self, study: FakeStudy) -> SessionPlan:
        return SessionPlan(tasks=list(self.tasks),
                           settled=[self._row("D00/1", "incomplete", message="no recording")])

    def recordings(self, task: Task) -> dict[int, int]:
        return {k: RECORDINGS[k] for k in task.scans}

    def up_to_date_row(self, study: FakeStudy, task: Task) -> dict:
        return self._row(task.label, "up to date", value=-1)

    def store(self, study: FakeStudy, task: Task, result: int, versions: dict) -> dict:
        assert "studymgr" in versions
        study.stored.append((task.label, result))
        return self._row(task.label, "computed", value=result)

    def failed_row(self, task: Task, message: str) -> dict:
        return self._row(task.label, "failed", message=message)

    @staticmethod
    def _row(label: str, status: str, *, value: int | None = None, message: str = "") -> dict:
        dyad, number = label.split("/")
        return {"dyad": dyad, "session": int(number), "status": status, "value": value,
                "message": message}


def _tasks() -> list[Task]:
    # D02/1 and D01/1 share recording 2 (as synchrony's pseudo pairs do); listed out of order
    return [Task(2, "D02/1", {"a": "x"}, (2, 3)), Task(1, "D01/1", {"a": "y"}, (1, 2)),
            Task(3, "D03/1", {"a": "z"}, (1,)), Task(4, "D04/1", {"a": "w"}, (4, 1))]


@pytest.mark.parametrize("shared", [False, True])
def test_computes_stores_and_reports_each_session(shared):
    """Hand-computed sums; failures (a compute failure, an unreadable recording) are reported
    with their message and not stored, the others are; settled rows come through; sorted."""
    study = FakeStudy()
    calls = []
    out = run_sessions(study, Toy(Config(), _tasks(), shared=shared),
                       progress=lambda *a: calls.append(a))
    assert list(out.columns) == Toy.summary_columns
    assert out[["dyad", "status"]].values.tolist() == [
        ["D00", "incomplete"], ["D01", "computed"], ["D02", "computed"], ["D03", "failed"],
        ["D04", "failed"]]
    assert out.loc[1, "value"] == 10 + 20 and out.loc[2, "value"] == 20 + 30
    assert out.loc[3, "message"] == "no usable channel"
    assert out.loc[4, "message"] == "recording -1 is unreadable"
    assert sorted(study.stored) == [("D01/1", 30), ("D02/1", 50)]
    assert out["session"].dtype == int
    if shared:  # each recording prepared once, then each session
        assert calls == [("prepare", i, 4) for i in range(1, 5)] + \
            [("compute", i, 4) for i in range(1, 5)]
    else:  # a session prepares its own recordings inside its task
        assert calls == [("compute", i, 4) for i in range(1, 5)]


def test_up_to_date_sessions_are_skipped_unless_forced():
    """Same config hash and input hashes (compared as stored JSON): skipped; another config
    hash or other inputs: computed; force: all computed."""
    runs = {("toy", 1): {"config_hash": "h0", "input_hashes": {"a": "y"}},
            ("toy", 2): {"config_hash": "h0", "input_hashes": {"a": "changed"}},
            ("other", 3): {"config_hash": "h0", "input_hashes": {"a": "z"}}}
    tasks = _tasks()[:2]
    out = run_sessions(FakeStudy(runs), Toy(Config(), tasks)).set_index("dyad")
    assert out.loc["D01", "status"] == "up to date" and out.loc["D02", "status"] == "computed"
    out = run_sessions(FakeStudy(runs), Toy(Config(offset=1), tasks)).set_index("dyad")
    assert out.loc["D01", "status"] == "computed" and out.loc["D01", "value"] == 31
    forced = run_sessions(FakeStudy(runs), Toy(Config(), tasks), force=True)
    assert set(forced["status"]) == {"computed", "incomplete"}
    assert is_up_to_date({"config_hash": "h", "input_hashes": {"p": [[1, 2]]}}, "h",
                         {"p": [(1, 2)]})
    assert not is_up_to_date(None, "h", {})


@pytest.mark.parametrize("shared", [False, True])
def test_worker_processes_give_the_same_summary(shared):
    """In a pool of two processes (the tasks and functions pickle) the summary is the one of
    the calling process."""
    here = run_sessions(FakeStudy(), Toy(Config(), _tasks(), shared=shared))
    pool = run_sessions(FakeStudy(), Toy(Config(), _tasks(), shared=shared),
                        executor=LocalExecutor(2))
    pd.testing.assert_frame_equal(pool, here)


class _GivesUpOnD02(LocalExecutor):
    """A local executor that reports D02's task as given up by a cluster (TaskFailure)."""

    def map_staged(self, prepare, inputs, compute, tasks, *, progress=None):
        for index, result in super().map_staged(prepare, inputs, compute, tasks,
                                                progress=progress):
            if tasks[index][0][0].label == "D02/1":
                result = TaskFailure("KilledWorker")
            yield index, result


def test_a_task_the_cluster_gave_up_fails_its_session_only():
    """The failure's message is the row's; the other sessions are stored."""
    study = FakeStudy()
    out = run_sessions(study, Toy(Config(), _tasks()[:2]),
                       executor=_GivesUpOnD02()).set_index("dyad")
    assert out.loc["D02", "status"] == "failed" and out.loc["D02", "message"] == "KilledWorker"
    assert study.stored == [("D01/1", 30)]


def test_compute_pair_turns_failed_preparations_and_study_errors_into_session_failures():
    def pair(therapist, patient, offset):
        if therapist < 0:
            raise InputError("the recordings do not overlap")
        return therapist + patient + offset

    assert compute_pair(pair, 10, 20, 1) == 31
    assert compute_pair(pair, "therapist unreadable", 20, 1) == \
        SessionFailure("therapist unreadable")
    assert compute_pair(pair, 10, "patient unreadable", 1) == SessionFailure("patient unreadable")
    assert compute_pair(pair, -10, 20, 1) == SessionFailure("the recordings do not overlap")
    with pytest.raises(ZeroDivisionError):  # a bug is not a failed session
        compute_pair(lambda t, p: t / p, 1, 0)


def test_an_analysis_keeps_its_selection_for_plan():
    from studymgr.compute.eeg import EEGConfig
    from studymgr.runs.eeg import EEGAnalysis

    assert (Toy(Config(), []).dyad, Toy(Config(), []).session) == (None, None)
    eeg = EEGAnalysis(EEGConfig(), dyad="D01", session=2)
    assert (eeg.dyad, eeg.session, eeg.measure) == ("D01", 2, "plv_alpha")
