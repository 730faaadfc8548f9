"""The Python API's front door: a :class:`Study` is the store plus the analyses that run on it.

:class:`Study` adds to :class:`studymgr.store.Store` (data in, data out) the operations that read
the store, compute and write results back. Each method here is the one door to its operation: the
CLI command calls the same function (``studymgr synchrony compute`` and
``study.compute_synchrony(...)`` both run :func:`studymgr.runs.synchrony.compute_synchrony`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from studymgr._docs import fill_doc
from studymgr.runs.events import EventsMixin
from studymgr.runs.questionnaires import QuestionnairesMixin
from studymgr.runs.recordings import RecordingFilesMixin
from studymgr.store.study import Store, create_store, open_store

if TYPE_CHECKING:
    from studymgr.compute.eeg import EEGConfig
    from studymgr.compute.models.table import ModelConfig
    from studymgr.compute.synchrony.config import SynchronyConfig
    from studymgr.runs.eventlocked import EventLockedConfig
    from studymgr.runs.executors import Executor
    from studymgr.runs.models import ModelRun

__all__ = ["Study", "create_study", "open_study"]

#: ``progress(phase, done, total)``: called as sessions (or files) finish; the CLI draws a bar.
Progress = Callable[[str, int, int], None]


class Study(QuestionnairesMixin, RecordingFilesMixin, EventsMixin, Store):
    """An open study: its data (see :class:`~studymgr.store.Store`) and its analyses.

    Use :func:`create_study` or :func:`open_study` rather than the constructor. A study is a
    context manager; close it (or leave the ``with`` block) to release the file.
    """

    def __enter__(self) -> Study:
        return self

    # -- synchrony -----------------------------------------------------------------------------
    def compute_synchrony(self, config: SynchronyConfig | None = None, *,
                          dyad: str | None = None, session: int | None = None, jobs: int = 1,
                          force: bool = False, progress: Progress | None = None,
                          executor: Executor | None = None) -> pd.DataFrame:
        """Compute and store synchrony of scanned sessions.

        See :func:`studymgr.runs.synchrony.compute_synchrony` (the CLI's
        ``studymgr synchrony compute`` calls the same function).
        """
        from studymgr.runs.synchrony import compute_synchrony

        return compute_synchrony(self, config, dyad=dyad, session=session, jobs=jobs,
                                 force=force, progress=progress, executor=executor)

    # -- moments and EEG -----------------------------------------------------------------------
    def compute_eventlocked(self, config: EventLockedConfig | None = None, *,
                            dyad: str | None = None, session: int | None = None,
                            force: bool = False,
                            progress: Progress | None = None) -> pd.DataFrame:
        """Compute and store event-locked synchrony.

        See :func:`studymgr.runs.eventlocked.compute_eventlocked`.
        """
        from studymgr.runs.eventlocked import compute_eventlocked

        return compute_eventlocked(self, config, dyad=dyad, session=session, force=force,
                                   progress=progress)

    def compute_eeg(self, config: EEGConfig | None = None, *, dyad: str | None = None,
                    session: int | None = None, force: bool = False,
                    progress: Progress | None = None) -> pd.DataFrame:
        """Compute and store EEG coupling and asymmetry.

        See :func:`studymgr.runs.eeg.compute_eeg`.
        """
        from studymgr.runs.eeg import compute_eeg

        return compute_eeg(self, config, dyad=dyad, session=session, force=force,
                           progress=progress)

    # -- models --------------------------------------------------------------------------------
    def fit_models(self, config: ModelConfig | dict[str, Any] | None = None) -> ModelRun:
        """Build the analysis table, fit every model the data allow and store the run.

        See :func:`studymgr.runs.models.fit_models`.
        """
        from studymgr.runs.models import fit_models

        return fit_models(self, config)

    def analysis_table(self, config: ModelConfig | dict[str, Any] | None = None
                       ) -> pd.DataFrame:
        """The analysis table (one row per dyad × session) as the models would see it now.

        See :func:`studymgr.runs.models.analysis_table` and :mod:`studymgr.compute.models.table`.
        """
        from studymgr.runs.models import analysis_table

        return analysis_table(self, config).frame


@fill_doc
def create_study(path: str | os.PathLike[str], *, name: str | None = None,
                 data_dir: str | os.PathLike[str] | None = None,
                 user: str | None = None) -> Study:
    """Create a new, empty study database and its data folder.

    Parameters
    ----------
    %(new_study_path)s
    %(new_study_name)s
    %(new_study_data_dir)s
    %(study_user)s

    Returns
    -------
    Study
        The open study. Nothing is left behind if creation fails.
    """
    return create_store(path, name=name, data_dir=data_dir, user=user, factory=Study)


@fill_doc
def open_study(path: str | os.PathLike[str], *, user: str | None = None,
               data_dir: str | os.PathLike[str] | None = None, upgrade: bool = True) -> Study:
    """Open an existing study, upgrading an older schema in place.

    Parameters
    ----------
    %(study_path)s
    %(study_user)s
    %(study_data_dir)s
    %(study_upgrade)s

    Raises
    ------
    NotFoundError, InputError, SchemaVersionError
        Missing file, not a SQLite file / not a study / corrupt, or a newer schema.
    """
    return open_store(path, user=user, data_dir=data_dir, upgrade=upgrade, factory=Study)
