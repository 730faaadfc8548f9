"""What the report and the exports both read from a study's stored results.

The bottom of the present layer, with :mod:`~studymgr.present.tables` and
:mod:`~studymgr.present.figures`: :mod:`studymgr.present.report` and
:mod:`studymgr.present.export` import it and never each other.

- :func:`stored_model_config`: the settings of the stored models run, so that the report and
  the exports rebuild the very analysis table the models were fitted on;
- :func:`analysis_runs`: the stored per-session runs of one kind with their configurations;
- :func:`run_configs`: the distinct configurations of those runs, most used first (what the
  methods text and the table notes describe).
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from studymgr.compute.models.table import ModelConfig
    from studymgr.runs.study import Study

__all__ = ["RUN_COLUMNS", "analysis_runs", "run_configs", "stored_model_config"]

#: Columns of :func:`analysis_runs`.
RUN_COLUMNS = ["dyad", "session", "config_hash", "config", "versions", "finished_at", "message"]


def stored_model_config(study: Study) -> ModelConfig | None:
    """The :class:`~studymgr.compute.models.table.ModelConfig` of the stored models run (None
    when no run is stored).

    Keys the stored configuration holds beyond the current ``ModelConfig`` fields (written by
    another version) are left out.
    """
    from studymgr.compute.models.table import ModelConfig

    run = study.model_run()
    if run is None:
        return None
    allowed = {f.name for f in fields(ModelConfig)}
    return ModelConfig.from_dict({k: v for k, v in run["config"].items() if k in allowed})


def analysis_runs(study: Study, kind: str) -> pd.DataFrame:
    """Stored runs of one kind (``synchrony``, ``eventlocked``, ``eeg``), one per session:
    ``dyad, session, config_hash, config`` (dict), ``versions`` (dict), ``finished_at``,
    ``message``; ordered by dyad and session."""
    return study.session_runs(kind, status="done")[RUN_COLUMNS].reset_index(drop=True)


def run_configs(runs: pd.DataFrame) -> list[tuple[dict[str, Any], int]]:
    """Each distinct configuration of some runs and how many sessions used it, most used first
    (ties in the order the runs come).

    Parameters
    ----------
    runs : DataFrame
        As :func:`analysis_runs` returns it (``config_hash`` and ``config`` are used).
    """
    if runs.empty:
        return []
    counts = runs.groupby("config_hash").size().sort_values(ascending=False, kind="stable")
    first = runs.drop_duplicates("config_hash").set_index("config_hash")["config"]
    return [(first[h], int(n)) for h, n in counts.items()]
