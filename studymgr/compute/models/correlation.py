"""Model-free checks: repeated-measures correlation and Benjamini-Hochberg FDR adjustment."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

from studymgr.compute.models.centering import (
    as_list,
    check_groups,
    drop_missing,
    numeric_frame,
    require_columns,
)
from studymgr.errors import InputError

logger = logging.getLogger(__name__)

RM_CORR_COLUMNS = ["x", "y", "r", "dof", "p", "ci_low", "ci_high", "power", "n_obs", "n_groups",
                   "p_fdr"]


def fdr(pvalues: Iterable[float] | pd.Series | np.ndarray) -> np.ndarray | pd.Series:
    """Benjamini-Hochberg adjusted p-values (false discovery rate).

    ``p_adj(i) = min_{j >= i} min(1, m p(j) / j)`` over the ``m`` p-values sorted increasingly.
    Missing values are ignored (they stay missing and do not count in ``m``).

    Parameters
    ----------
    pvalues : array_like or Series
        p-values in [0, 1], any shape.

    Returns
    -------
    ndarray or Series
        Adjusted p-values, same shape (a Series keeps its index). Reject at level ``q`` where
        ``p_adj <= q``.
    """
    series_index = pvalues.index if isinstance(pvalues, pd.Series) else None
    p = np.asarray(pvalues, dtype=float)
    flat = p.ravel()
    ok = ~np.isnan(flat)
    if np.any((flat[ok] < 0) | (flat[ok] > 1)):
        raise InputError("p-values must lie between 0 and 1")
    out = np.full(flat.shape, np.nan)
    vals = flat[ok]
    m = vals.size
    if m:
        order = np.argsort(vals, kind="stable")
        ranked = vals[order] * m / np.arange(1, m + 1)
        adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
        res = np.empty(m)
        res[order] = np.minimum(adjusted, 1.0)
        out[ok] = res
    out = out.reshape(p.shape)
    if series_index is not None:
        return pd.Series(out, index=series_index, name="p_fdr")
    return out


def rm_correlations(data: pd.DataFrame, x: str | list[str], y: str | list[str], group: str
                    ) -> pd.DataFrame:
    """Repeated-measures correlations (Bakdash & Marusich 2017) via :func:`pingouin.rm_corr`.

    The common within-group association of ``x`` and ``y`` (parallel lines, one intercept per
    group; ANCOVA). Every pair of an ``x`` column and a ``y`` column is one row; rows with a
    missing value in the pair are dropped for that pair only.

    Parameters
    ----------
    data : DataFrame
        Long format.
    x, y : str or list of str
        Column(s); e.g. ``x = "synchrony"``, ``y = ["symptoms", "wellbeing"]``.
    group : str
        Grouping column (e.g. dyad); at least 3 groups with complete pairs are needed.

    Returns
    -------
    DataFrame
        ``x, y, r, dof, p, ci_low, ci_high, power, n_obs, n_groups, p_fdr``: ``dof`` =
        ``n_obs - n_groups - 1``, 95 % CI, and ``p_fdr`` the Benjamini-Hochberg adjustment
        across the rows returned.
    """
    import pingouin as pg

    xs, ys = as_list(x), as_list(y)
    require_columns(data, [*xs, *ys, group])
    rows = []
    for xc in xs:
        for yc in ys:
            if xc == yc:
                continue
            frame = numeric_frame(data, list(dict.fromkeys([xc, yc])), group)
            frame, _ = drop_missing(frame, [group, xc, yc])
            check_groups(frame, group)
            within_x = frame[xc] - frame.groupby(group)[xc].transform("mean")
            within_y = frame[yc] - frame.groupby(group)[yc].transform("mean")
            for col, w in ((xc, within_x), (yc, within_y)):
                if np.allclose(w.to_numpy(), 0.0):
                    raise InputError(f"{col!r} does not vary within any {group}; a "
                                     "repeated-measures correlation needs within-group change")
            with warnings.catch_warnings():
                # pingouin 0.5-0.7 calls DataFrame.rename(inplace=True), deprecated in pandas 3.
                warnings.filterwarnings("ignore", message=".*inplace keyword.*")
                res = pg.rm_corr(data=frame.reset_index(drop=True), x=xc, y=yc, subject=group)
            ci = np.asarray(res["CI95"].iloc[0], dtype=float)
            rows.append({"x": xc, "y": yc, "r": float(res["r"].iloc[0]),
                         "dof": int(res["dof"].iloc[0]), "p": float(res["pval"].iloc[0]),
                         "ci_low": ci[0], "ci_high": ci[1], "power": float(res["power"].iloc[0]),
                         "n_obs": len(frame), "n_groups": int(frame[group].nunique())})
    if not rows:
        raise InputError("no pair of distinct columns to correlate (x and y are the same)")
    out = pd.DataFrame(rows)
    out["p_fdr"] = fdr(out["p"].to_numpy())
    return out[RM_CORR_COLUMNS]
