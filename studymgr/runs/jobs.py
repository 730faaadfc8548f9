"""The session-job runner: plan sessions -> skip the up-to-date -> compute on an executor ->
store -> report progress.

Synchrony (:mod:`studymgr.runs.synchrony`), event-locked synchrony
(:mod:`studymgr.runs.eventlocked`) and EEG coupling (:mod:`studymgr.runs.eeg`) each describe
their work as a :class:`SessionAnalysis`; :func:`run_sessions` runs any of them the same way:

1. *plan*: the analysis lists the sessions it can compute (its tasks) and the summary rows of
   those it cannot (a recording missing, no events);
2. *skip*: a task whose latest stored run of the analysis' kind has the same configuration hash
   and input hashes is reported ``up to date`` (unless ``force``);
3. *compute*: on an executor (:mod:`studymgr.runs.executors`: this process, a local process pool
   or a Dask cluster). Workers never open the database: a task carries file paths and hashes,
   and the analysis' ``prepare`` (read and preprocess one recording) and ``compute`` (one
   session on its prepared recordings) are module-level functions that return results.
   Recordings shared between sessions (synchrony's pseudo-dyads) are prepared once, in a first
   wave (:meth:`~studymgr.runs.executors.Executor.map_staged`); a session's own recordings are
   prepared inside its task, so that a local run holds the recordings of the sessions in flight
   only (EEG recordings are large);
4. *store*: each result is stored by the calling process, one transaction per session, as it
   arrives, so an interrupted run leaves whole sessions or nothing. A session that fails (its
   preparation or computation raised a :class:`~studymgr.errors.StudyError`, or the cluster gave
   up on its task) is reported ``failed`` with the reason, and the others go on;
5. *progress*: ``progress(phase, done, total)`` with phase ``"prepare"`` (recordings of the
   first wave) and ``"compute"`` (sessions, counted once stored).
"""

from __future__ import annotations

import abc
import json
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pandas as pd

from studymgr.errors import StudyError
from studymgr.provenance import versions
from studymgr.runs.executors import Executor, LocalExecutor, ProgressFn, TaskFailure

if TYPE_CHECKING:
    from collections.abc import Iterator

    from studymgr.store.study import Store

logger = logging.getLogger(__name__)

__all__ = ["SessionAnalysis", "SessionFailure", "SessionPlan", "SessionTask", "compute_pair",
           "is_up_to_date", "json_roundtrip", "run_sessions"]


class SessionTask(Protocol):
    """One session to compute, as the runner sees it (each analysis adds what it needs).

    It travels to the workers, so it must be picklable and hold no database handle.
    """

    #: The session's id in the study.
    session_id: int
    #: ``DYAD/N``: names the session in messages and in the audit trail.
    label: str
    #: What the results are computed from (recording hashes, events hash, ...), stored with them.
    input_hashes: dict[str, Any]


@dataclass(frozen=True)
class SessionFailure:
    """A session that could not be computed (returned by a ``compute`` function instead of a
    result): why, in one line the user can act on."""

    message: str


@dataclass
class SessionPlan:
    """What an analysis found to do.

    Attributes
    ----------
    tasks : list of SessionTask
        Sessions that can be computed, in session order.
    settled : list of dict
        Summary rows of the selected sessions that cannot be computed (status ``incomplete``,
        ``no events``, ...).
    """

    tasks: list[Any] = field(default_factory=list)
    settled: list[dict[str, Any]] = field(default_factory=list)


class SessionAnalysis(abc.ABC):
    """One kind of per-session analysis, as :func:`run_sessions` runs it.

    Subclasses set the class attributes and implement the hooks. ``prepare`` and ``compute``
    run in worker processes (or on a Dask cluster): set them to module-level functions with
    ``staticmethod(...)`` so they pickle, and let them return failures rather than raise
    (``prepare``: the error message as a ``str``; ``compute``: a :class:`SessionFailure`).

    Parameters
    ----------
    config
        The analysis settings: an object with ``to_dict()`` and ``config_hash()`` (e.g.
        :class:`~studymgr.compute.synchrony.config.SynchronyConfig`); handed to ``compute``.
    dyad, session : str, int | None
        The selection :meth:`plan` reads: one dyad and/or session number (None: all).
    """

    #: ``analysis_runs.kind`` of the stored runs (what "up to date" is checked against).
    kind: ClassVar[str]
    #: Columns of the summary table, starting with ``dyad, session, status``.
    summary_columns: ClassVar[list[str]]
    #: Recordings are shared between sessions: prepare each once in a first wave.
    shares_recordings: ClassVar[bool] = False

    def __init__(self, config: Any, *, dyad: str | None = None,
                 session: int | None = None) -> None:
        self.config = config
        self.config_hash: str = config.config_hash()
        self.dyad, self.session = dyad, session

    @staticmethod
    @abc.abstractmethod
    def prepare(recording: Any) -> Any:
        """Read and preprocess one recording (in a worker).

        Parameters
        ----------
        recording
            A value of :meth:`recordings`.

        Returns
        -------
        object
            The prepared recording, or the message (``str``) of why it could not be prepared.
        """

    @staticmethod
    @abc.abstractmethod
    def compute(payload: tuple[Any, Any], prepared: dict[Hashable, Any]) -> Any:
        """Compute one session (in a worker).

        Parameters
        ----------
        payload : (task, config)
            The task and the analysis settings.
        prepared : dict
            ``{key: prepared recording or its failure message}`` for the keys of
            :meth:`recordings`.

        Returns
        -------
        object
            The session's result (handed to :meth:`store`) or a :class:`SessionFailure`.
        """

    @abc.abstractmethod
    def plan(self, study: Store) -> SessionPlan:
        """The selected sessions: tasks to compute and rows of those that cannot be.

        Raises
        ------
        InputError
            Nothing to compute at all, or an input that stops the whole run.
        """

    @abc.abstractmethod
    def recordings(self, task: Any) -> dict[Hashable, Any]:
        """``{key: argument of prepare}`` for the recordings a task needs (keys are scan ids,
        shared between tasks when recordings are)."""

    @abc.abstractmethod
    def up_to_date_row(self, study: Store, task: Any) -> dict[str, Any]:
        """Summary row of a task whose stored results are current (values read back)."""

    @abc.abstractmethod
    def store(self, study: Store, task: Any, result: Any,
              versions: dict[str, str]) -> dict[str, Any]:
        """Store one session's result (one transaction) and return its summary row."""

    @abc.abstractmethod
    def failed_row(self, task: Any, message: str) -> dict[str, Any]:
        """Summary row of a task that failed (nothing stored)."""


def compute_pair(compute: Callable[..., Any], therapist: Any, patient: Any,
                 *args: Any) -> Any:
    """``compute(therapist, patient, *args)`` on a session's two prepared recordings, for a
    ``compute`` hook: a failed preparation (its message, a ``str``) or a
    :class:`~studymgr.errors.StudyError` becomes a :class:`SessionFailure`."""
    for recording in (therapist, patient):
        if isinstance(recording, str):  # its preparation failed: the message
            return SessionFailure(recording)
    try:
        return compute(therapist, patient, *args)
    except StudyError as exc:
        return SessionFailure(str(exc))


def json_roundtrip(value: Any) -> Any:
    """What a value looks like after being stored as JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


def is_up_to_date(run: dict[str, Any] | None, config_hash: str,
                  input_hashes: dict[str, Any]) -> bool:
    """Whether a stored run (as :meth:`Store.current_run` returns it) was made with this
    configuration from these inputs."""
    return (run is not None and run["config_hash"] == config_hash
            and run["input_hashes"] == json_roundtrip(input_hashes))


def run_sessions(study: Store, analysis: SessionAnalysis, *, force: bool = False,
                 executor: Executor | None = None,
                 progress: ProgressFn | None = None) -> pd.DataFrame:
    """Run a session analysis over a study: compute and store what is not up to date.

    Parameters
    ----------
    study : Store
        The open study (results are written by this process only).
    analysis : SessionAnalysis
        What to compute, with its settings and selection.
    force : bool
        Recompute sessions whose stored results are up to date.
    executor : Executor | None
        Where recordings are prepared and sessions computed (default: this process).
    progress : callable | None
        Called as ``progress(phase, done, total)``, phase ``"prepare"`` or ``"compute"``.

    Returns
    -------
    DataFrame
        One row per selected session, columns ``analysis.summary_columns``, sorted by dyad and
        session.
    """
    plan = analysis.plan(study)
    rows = list(plan.settled)
    todo = []
    for task in plan.tasks:
        run = study.current_run(analysis.kind, task.session_id)
        if not force and is_up_to_date(run, analysis.config_hash, task.input_hashes):
            rows.append(analysis.up_to_date_row(study, task))
        else:
            todo.append(task)
    if todo:
        vers = versions()
        for index, result in _computed(analysis, todo, executor or LocalExecutor(), progress):
            task = todo[index]
            if isinstance(result, TaskFailure | SessionFailure):
                logger.warning("%s of %s failed: %s", analysis.kind, task.label, result.message)
                rows.append(analysis.failed_row(task, result.message))
            else:
                rows.append(analysis.store(study, task, result, vers))
    frame = pd.DataFrame(rows, columns=analysis.summary_columns)
    frame["session"] = frame["session"].astype(int)
    return frame.sort_values(["dyad", "session"], ignore_index=True)


def _computed(analysis: SessionAnalysis, todo: list[Any], executor: Executor,
              progress: ProgressFn | None) -> Iterator[tuple[int, Any]]:
    """``(index in todo, result)`` as the executor hands them back."""
    if analysis.shares_recordings:
        needs = [analysis.recordings(task) for task in todo]
        inputs = {key: arg for recordings in needs for key, arg in recordings.items()}
        tasks = [((task, analysis.config), sorted(recordings))
                 for task, recordings in zip(todo, needs, strict=True)]
        return executor.map_staged(analysis.prepare, {k: inputs[k] for k in sorted(inputs)},
                                   analysis.compute, tasks, progress=progress)
    own = [((task, analysis.config, analysis.recordings(task)), []) for task in todo]
    return executor.map_staged(analysis.prepare, {},
                               PrepareInTask(analysis.prepare, analysis.compute), own,
                               progress=progress)


@dataclass(frozen=True)
class PrepareInTask:
    """A session task that prepares its own recordings, then computes (picklable).

    Called as ``f((task, config, {key: recording}), {})`` by
    :meth:`~studymgr.runs.executors.Executor.map_staged`.
    """

    prepare: Callable[[Any], Any]
    compute: Callable[[tuple[Any, Any], dict[Hashable, Any]], Any]

    def __call__(self, payload: tuple[Any, Any, dict[Hashable, Any]],
                 prepared: dict[Hashable, Any]) -> Any:
        task, config, recordings = payload
        own = {key: self.prepare(arg) for key, arg in recordings.items()}
        return self.compute((task, config), {**prepared, **own})
