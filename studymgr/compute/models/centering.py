"""Input checks, person-mean centring and lagged pairing for the model layer (pure pandas).

Definitions (group = dyad):

- ``x_within  = x - mean_group(x)`` (person-mean centring: the dyad's deviation from its own mean),
- ``x_between = mean_group(x) - grand_mean(x)`` (the dyad mean, grand-mean centred; the grand mean
  is the mean over analysed rows, so ``x_within + x_between = x - grand_mean``).

Means are taken over the rows that enter the model (after rows with missing values are dropped),
so each dyad's within part sums to zero in the analysed data.

Lagged pairing (``lag = k >= 1``) is strictly by time index: the predictor and the outcome at
session ``t`` are paired with the outcome at session ``t + k`` of the same dyad, and the pair exists
only when a row with time exactly ``t + k`` exists (a missing session is not bridged by the next
available one). Times must therefore be whole numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd

from studymgr.errors import InputError

logger = logging.getLogger(__name__)


def as_list(names: str | Iterable[str]) -> list[str]:
    """A column name or an iterable of names as a list."""
    if isinstance(names, str):
        return [names]
    out = list(names)
    if not out:
        raise InputError("no predictor given: pass a column name or a list of column names")
    return out


def require_columns(data: pd.DataFrame, columns: Iterable[str]) -> None:
    """Raise :class:`InputError` when ``data`` is not a DataFrame or lacks a column."""
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        available = ", ".join(map(str, data.columns))
        raise InputError(f"column(s) {', '.join(map(repr, missing))} not found in data; "
                         f"available columns: {available}")


def require_distinct(roles: dict[str, str | list[str]]) -> None:
    """Raise when the same column is used in two roles (e.g. as outcome and as predictor)."""
    seen: dict[str, str] = {}
    for role, names in roles.items():
        for name in as_list(names):
            if name in seen:
                raise InputError(f"column {name!r} is used both as {seen[name]} and as {role}; "
                                 "each role needs its own column")
            seen[name] = role


def numeric_frame(data: pd.DataFrame, numeric: list[str], group: str) -> pd.DataFrame:
    """Copy the needed columns, converting ``numeric`` ones to float and checking them.

    Non-numeric values raise :class:`InputError`; infinite values are refused; missing values
    (NaN/None) are kept for the caller to drop and count.
    """
    out = pd.DataFrame(index=data.index)
    out[group] = data[group]
    for col in numeric:
        series = data[col]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
            converted = pd.to_numeric(series, errors="coerce")
            bad = converted.isna() & series.notna()
            if bad.any():
                example = series[bad].iloc[0]
                raise InputError(f"column {col!r} must be numeric; found {example!r}; recode it "
                                 "as numbers (e.g. 0/1 for a two-level factor)")
            series = converted
        values = series.astype(float)
        if np.isinf(values.to_numpy()).any():
            raise InputError(f"column {col!r} contains infinite values; replace them by missing "
                             "values (NaN) or fix the data")
        out[col] = values
    return out


def drop_missing(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, int]:
    """Drop rows with a missing value in ``columns``; return the rest and the number dropped."""
    for col in columns:
        if frame[col].isna().all():
            raise InputError(f"column {col!r} has no non-missing values; nothing to model")
    keep = frame[columns].notna().all(axis=1)
    return frame.loc[keep].copy(), int((~keep).sum())


def check_groups(frame: pd.DataFrame, group: str, min_groups: int = 3) -> list[str]:
    """Check the grouping of the analysed rows; return plain-language warnings.

    Raises when fewer than ``min_groups`` groups have data or every group has a single row
    (no within-group information). A few single-row groups are allowed (as in lme4) and only
    reported.
    """
    counts = frame[group].value_counts()
    if len(counts) < min_groups:
        raise InputError(f"need at least {min_groups} {group}s with complete data for a mixed "
                         f"model, got {len(counts)}; add data or use a simpler analysis")
    if (counts == 1).all():
        raise InputError(f"every {group} has a single complete observation; a mixed model needs "
                         f"repeated observations within {group}s")
    warnings = []
    singles = counts.index[counts == 1]
    if len(singles):
        warnings.append(f"{len(singles)} {group}(s) have a single observation ("
                        f"{', '.join(map(str, singles[:5]))}{', ...' if len(singles) > 5 else ''})"
                        f"; they inform the {group} intercept variance but not the "
                        f"within-{group} effects")
    return warnings


def check_varies(frame: pd.DataFrame, column: str, what: str) -> None:
    """Raise when ``column`` is constant in the analysed rows."""
    values = frame[column].to_numpy()
    if values.size and np.ptp(values) == 0:
        raise InputError(f"{what} {column!r} is constant (all values = {values[0]:g}) in the "
                         f"{len(values)} analysed rows; a model needs variation in it")


def within_between(frame: pd.DataFrame, column: str, group: str) -> tuple[pd.Series, pd.Series]:
    """Person-mean centring of ``column`` by ``group``.

    Parameters
    ----------
    frame : DataFrame
        Analysed rows (no missing values in ``column``).
    column, group : str
        Predictor and grouping column.

    Returns
    -------
    within, between : Series
        ``x - mean_group(x)`` and ``mean_group(x) - mean(x)``, in the units of ``x``.
    """
    x = frame[column].astype(float)
    group_mean = x.groupby(frame[group], sort=False).transform("mean")
    return x - group_mean, group_mean - x.mean()


def lag_pairs(frame: pd.DataFrame, outcome: str, predictors: list[str], time: str, group: str,
              lag: int) -> tuple[pd.DataFrame, dict[str, str], int]:
    """Pair predictors (and the outcome) at time ``t`` with the outcome at ``t + lag``.

    Parameters
    ----------
    frame : DataFrame
        Rows with ``group``, ``time`` (whole numbers), ``outcome`` and ``predictors``; missing
        values allowed (a pair needs the outcome at both times and the predictors at ``t``).
    outcome, predictors, time, group : str
        Column names.
    lag : int
        Number of time steps (>= 1).

    Returns
    -------
    pairs : DataFrame
        One row per pair with columns ``group``, ``time`` (the outcome's time, ``t + lag``),
        ``outcome`` (at ``t + lag``) and the renamed lagged columns.
    names : dict
        Maps each lagged column (``outcome`` and every predictor) to its new name
        ``<name>_lag<k>``.
    n_unpaired : int
        Complete rows at ``t`` without an observed outcome at ``t + lag``.
    """
    times = frame[time].to_numpy(dtype=float)
    finite = times[~np.isnan(times)]
    if not np.allclose(finite, np.round(finite)):
        raise InputError(f"lagged models pair sessions by time index, so {time!r} must hold "
                         "whole numbers (e.g. session numbers)")
    dup = frame.dropna(subset=[time]).duplicated(subset=[group, time])
    if dup.any():
        first = frame.dropna(subset=[time]).loc[dup].iloc[0]
        raise InputError(f"more than one row for {group} {first[group]!r} at {time} "
                         f"{first[time]:g}; a lagged model needs one row per {group} and {time} "
                         "(average repeated rows first)")
    names = {c: f"{c}_lag{lag}" for c in [outcome, *predictors]}
    for new in names.values():
        if new in frame.columns:
            raise InputError(f"column name {new!r} is reserved for the lagged variable; rename "
                             "that column")
    base = frame.dropna(subset=[time, outcome, *predictors])
    early = base[[group, time, outcome, *predictors]].rename(columns=names)
    early = early.assign(**{time: early[time] + lag})
    late = frame.dropna(subset=[time, outcome])[[group, time, outcome]]
    pairs = early.merge(late, on=[group, time], how="inner", validate="one_to_one")
    n_unpaired = len(early) - len(pairs)
    return pairs, names, n_unpaired
