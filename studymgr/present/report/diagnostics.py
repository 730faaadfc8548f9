"""Model diagnostics and model-implied trajectories (pure: frames and fitted models in).

- :func:`conditional_effects`: the random effects of each group (BLUPs) with their conditional
  SDs, the conditional fitted values and residuals of a linear mixed model, from its fixed
  effects and variance components (as stored: lme4's ``VarCorr`` layout);
- :func:`mean_trajectory`: the model-implied mean ``b0 + b1 * time`` with pointwise confidence
  limits (Satterthwaite t, via :meth:`ModelResult.contrast`);
- :func:`model_data`: the rows and design columns a stored model of the analysis table was
  fitted on (growth and same-session outcome models), rebuilt as
  :mod:`studymgr.compute.models` builds them.

Formulas (Henderson; lme4's ``ranef(condVar = TRUE)``): for group ``i`` with design ``X_i``,
``Z_i``, ``V_i = Z_i G Z_i' + sigma^2 I``, the BLUP is ``b_i = G Z_i' V_i^-1 (y_i - X_i beta)``
and its conditional covariance ``G - G Z_i' V_i^-1 Z_i G`` (given the estimated parameters).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from studymgr.compute.models.centering import within_between
from studymgr.errors import InputError

logger = logging.getLogger(__name__)

INTERCEPT = "(Intercept)"


@dataclass
class Conditional:
    """Conditional (group-specific) quantities of a fitted mixed model.

    Attributes
    ----------
    rows : DataFrame
        One row per observation: ``group, y, fitted_marginal`` (``X beta``), ``fitted``
        (``X beta + Z b``), ``residual`` (``y - fitted``) and ``std_residual`` (residual /
        sigma).
    effects : DataFrame
        One row per group and random term: ``group, term, estimate`` (BLUP), ``sd`` (its
        conditional SD), ``ci_low, ci_high`` (estimate +- 1.96 sd).
    sigma : float
        Residual SD.
    """

    rows: pd.DataFrame
    effects: pd.DataFrame
    sigma: float


def covariance_from_random(random: pd.DataFrame, terms: list[str]) -> tuple[np.ndarray, float]:
    """``(G, sigma^2)`` from a random-effects table in lme4's ``VarCorr`` layout.

    Parameters
    ----------
    random : DataFrame
        ``group, var1, var2, vcov, sdcor``; the row with ``group == "Residual"`` holds sigma^2.
    terms : list of str
        Order of the random terms in ``G`` (e.g. ``["(Intercept)", "session"]``).
    """
    q = len(terms)
    G = np.zeros((q, q))
    sigma2 = float("nan")
    index = {t: i for i, t in enumerate(terms)}
    for r in random.itertuples(index=False):
        if r.group == "Residual":
            sigma2 = float(r.vcov)
            continue
        i = index.get(str(r.var1))
        if i is None:
            raise InputError(f"random term {r.var1!r} is not among {', '.join(terms)}")
        if pd.isna(r.var2):
            G[i, i] = float(r.vcov)
        else:
            j = index[str(r.var2)]
            G[i, j] = G[j, i] = float(r.vcov)
    if not np.isfinite(sigma2):
        raise InputError("the random-effects table has no residual variance")
    return G, sigma2


def conditional_effects(data: pd.DataFrame, y: str, x_terms: list[str], z_terms: list[str],
                        group: str, beta: pd.Series, G: np.ndarray, sigma2: float
                        ) -> Conditional:
    """BLUPs, conditional fitted values and residuals of a linear mixed model.

    Parameters
    ----------
    data : DataFrame
        The analysed rows, holding ``y``, ``group`` and every non-intercept term.
    y : str
        Outcome column.
    x_terms, z_terms : list of str
        Fixed and random terms (``"(Intercept)"`` for the intercept).
    group : str
        Grouping column.
    beta : Series
        Fixed effects indexed by term.
    G : ndarray, shape (q, q)
        Random-effects covariance (order of ``z_terms``), in the outcome's units.
    sigma2 : float
        Residual variance.

    Returns
    -------
    Conditional
    """
    def design(terms: list[str], frame: pd.DataFrame) -> np.ndarray:
        cols = [np.ones(len(frame)) if t == INTERCEPT else frame[t].to_numpy(dtype=float)
                for t in terms]
        return np.column_stack(cols) if cols else np.empty((len(frame), 0))

    missing = [t for t in x_terms if t not in beta.index]
    if missing:
        raise InputError(f"no estimate for term(s) {', '.join(missing)}")
    b = beta.loc[x_terms].to_numpy(dtype=float)
    rows, effects = [], []
    z95 = stats.norm.ppf(0.975)
    for g, part in data.groupby(group, sort=True):
        X, Z = design(x_terms, part), design(z_terms, part)
        yv = part[y].to_numpy(dtype=float)
        marginal = X @ b
        V = Z @ G @ Z.T + sigma2 * np.eye(len(part))
        GZt = G @ Z.T
        blup = GZt @ np.linalg.solve(V, yv - marginal)
        cond_cov = G - GZt @ np.linalg.solve(V, GZt.T)
        fitted = marginal + Z @ blup
        for k in range(len(part)):
            rows.append({"group": g, "y": yv[k], "fitted_marginal": marginal[k],
                         "fitted": fitted[k], "residual": yv[k] - fitted[k]})
        for j, term in enumerate(z_terms):
            sd = float(np.sqrt(max(cond_cov[j, j], 0.0)))
            effects.append({"group": g, "term": term, "estimate": float(blup[j]), "sd": sd,
                            "ci_low": float(blup[j] - z95 * sd),
                            "ci_high": float(blup[j] + z95 * sd)})
    sigma = float(np.sqrt(sigma2))
    frame = pd.DataFrame(rows, columns=["group", "y", "fitted_marginal", "fitted", "residual"])
    frame["std_residual"] = frame["residual"] / sigma if sigma > 0 else np.nan
    return Conditional(rows=frame, effects=pd.DataFrame(
        effects, columns=["group", "term", "estimate", "sd", "ci_low", "ci_high"]), sigma=sigma)


def normal_quantiles(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(theoretical, ordered)`` for a normal QQ plot (Blom's plotting positions, as R's
    ``qqnorm`` for n > 10)."""
    x = np.sort(np.asarray(values, dtype=float))
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return np.array([]), np.array([])
    a = 3.0 / 8.0 if n <= 10 else 0.5
    p = (np.arange(1, n + 1) - a) / (n + 1 - 2 * a)
    return stats.norm.ppf(p), x


def mean_trajectory(result: object, times: list[float] | np.ndarray, time: str = "session"
                    ) -> pd.DataFrame:
    """Model-implied mean ``(Intercept) + b_time * t`` with 95% Satterthwaite t limits.

    Parameters
    ----------
    result : ModelResult
        A fitted growth model (terms ``(Intercept)`` and ``time``).
    times : array_like
        Where to evaluate.

    Returns
    -------
    DataFrame
        ``time, estimate, se, df, ci_low, ci_high`` (the column is named after ``time``).
    """
    rows = []
    for t in times:
        c = result.contrast({INTERCEPT: 1.0, time: float(t)}, name=f"mean at {t:g}")
        r = c.iloc[0]
        rows.append({time: float(t), "estimate": float(r["estimate"]), "se": float(r["se"]),
                     "df": float(r["df"]), "ci_low": float(r["ci_low"]),
                     "ci_high": float(r["ci_high"])})
    return pd.DataFrame(rows, columns=[time, "estimate", "se", "df", "ci_low", "ci_high"])


def model_data(table: pd.DataFrame, model: str, variable: str = "synchrony"
               ) -> tuple[pd.DataFrame, str]:
    """The rows a stored model of the analysis table was fitted on, with its design columns.

    Supports ``growth`` and the same-session models ``outcome:<o>`` and ``alliance:<o>`` of the
    brain ``variable`` (``synchrony``, or ``asymmetry`` for a per-person measure), with the
    predictor split into ``<x>_within`` and ``<x>_between`` over the analysed rows, as
    :func:`studymgr.compute.models.outcome_model` does.

    Returns
    -------
    data : DataFrame
    y : str
        The outcome column.
    """
    parts = model.split(":")
    if model == "growth":
        return table[["dyad", "session", variable]].dropna().reset_index(drop=True), variable
    if len(parts) == 2 and parts[0] in ("outcome", "alliance"):
        outcome = parts[1]
        x = variable if parts[0] == "outcome" else "alliance"
        data = table[["dyad", "session", outcome, x]].dropna().reset_index(drop=True)
        within, between = within_between(data, x, "dyad")
        data[f"{x}_within"] = within.to_numpy(dtype=float)
        data[f"{x}_between"] = between.to_numpy(dtype=float)
        return data, outcome
    raise InputError(f"no diagnostics for model {model!r}: only growth, outcome:<o> and "
                     "alliance:<o>")
