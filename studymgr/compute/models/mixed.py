"""Linear mixed-effects models of growth and of outcomes, with Satterthwaite t-tests.

Fitting uses statsmodels :class:`~statsmodels.regression.mixed_linear_model.MixedLM` (REML by
default). Its answer is then polished by a few Newton steps on the exact REML criterion
(:mod:`studymgr.compute.models.satterthwaite`) so that the reported estimates sit at the
stationary point (statsmodels stops at a gradient tolerance; a boundary optimum needs the exact
point for the singularity check). Fixed effects are tested with t-tests on Satterthwaite degrees
of freedom computed as lmerTest does (Kuznetsova et al. 2017), which reproduce lmerTest on
``sleepstudy``.

Three entry points, each returning a :class:`ModelResult`:

- :func:`growth_model`: ``y ~ time + (1 + time | group)``, falling back to ``(1 | group)`` when the
  random-slope fit is singular, and saying so;
- :func:`outcome_model`: ``outcome ~ time + x_within + x_between + (1 | group)`` with person-mean
  centring and an optional lag;
- :func:`compare_predictors`: the joint model with two standardised predictors and the
  Satterthwaite t-test of the difference of their within-group coefficients.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from studymgr.compute.models import satterthwaite as sw
from studymgr.compute.models.centering import (
    as_list,
    check_groups,
    check_varies,
    drop_missing,
    lag_pairs,
    numeric_frame,
    require_columns,
    require_distinct,
    within_between,
)
from studymgr.errors import InputError

logger = logging.getLogger(__name__)

INTERCEPT = "(Intercept)"
CI_LEVEL = 0.95
CENTER_OPTIONS = ("within-between", "grand", "none")


# --------------------------------------------------------------------------------------------
# Result objects
# --------------------------------------------------------------------------------------------


@dataclass
class FitInfo:
    """How the model was fitted and how well that went.

    Attributes
    ----------
    n_obs : int
        Rows analysed (pairs of sessions for lagged models).
    n_groups : int
        Groups (dyads) with at least one analysed row.
    n_rows_input : int
        Rows in the data passed in.
    n_dropped_missing : int
        Input rows dropped because a needed column was missing.
    n_unpaired : int
        Lagged models only: complete rows at session ``t`` with no observed outcome at
        ``t + lag`` (always including each dyad's last session); 0 otherwise.
    method : str
        ``"REML"`` or ``"ML"``.
    optimizer : str
        What produced the estimates.
    converged : bool
        The criterion's gradient is ~0 at the reported estimates (Newton decrement < 1e-6).
    singular : bool
        lme4's ``isSingular``: a diagonal element of the relative Cholesky factor of the
        random-effects covariance is < 1e-4 (a variance ~0 or a correlation ~+-1).
    fallback : str or None
        What was simplified and why (e.g. a singular random slope dropped).
    loglik : float
        Log-likelihood of the reported fit (REML log-likelihood for REML fits).
    deviance : float
        ``-2 * loglik`` (lme4's "REML criterion at convergence" for REML fits).
    loglik_ml, aic, bic : float
        From the ML fit of the same model (REML likelihoods are not comparable across fixed
        effects, so information criteria always use ML); see ``ic_method``.
    ic_method : str
        How ``loglik_ml``, ``aic`` and ``bic`` were obtained.
    n_params : int
        Parameters counted by AIC/BIC: fixed effects + random-effect (co)variances + residual.
    warnings : list of str
        Plain-language warnings (statsmodels ``ConvergenceWarning`` messages included).
    """

    n_obs: int
    n_groups: int
    n_rows_input: int
    n_dropped_missing: int
    n_unpaired: int
    method: str
    optimizer: str
    converged: bool
    singular: bool
    fallback: str | None
    loglik: float
    deviance: float
    loglik_ml: float
    aic: float
    bic: float
    ic_method: str
    n_params: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Engine:
    """Everything needed to test further contrasts after the fit."""

    terms: list[str]
    beta: np.ndarray
    cov_beta: np.ndarray
    dcov_beta: np.ndarray
    vcov_varpar: np.ndarray


@dataclass
class ModelResult:
    """A fitted mixed model as tidy tables.

    Attributes
    ----------
    kind : str
        ``"growth"``, ``"outcome"`` or ``"compare"``.
    formula : str
        lme4-style formula of the model actually fitted (after any fallback).
    fixed : DataFrame
        One row per fixed effect: ``term, estimate, se, df, t, p, ci_low, ci_high``; ``df`` are
        Satterthwaite degrees of freedom, ``p`` two-sided, the CI at 95 %.
    random : DataFrame
        Random-effect variances, SDs and correlations on the data's scale, laid out like lme4's
        ``as.data.frame(VarCorr(fit))``: ``group, var1, var2, vcov, sdcor``. A row with
        ``var2`` missing is a variance (``vcov``) and its SD (``sdcor``); with ``var2`` set, a
        covariance and its correlation; ``group == "Residual"`` is the residual.
    fit : FitInfo
        Sample sizes, convergence, singularity, fallback, likelihoods, warnings.
    r2 : dict
        ``{"marginal": ..., "conditional": ...}``: Nakagawa & Schielzeth (2013) R^2, with
        Johnson's (2014) extension for random slopes (mean of ``z' G z`` over rows).
    icc : float
        Intraclass correlation of the outcome from the null model ``y ~ 1 + (1 | group)``
        (REML) on the same rows: ``tau^2 / (tau^2 + sigma^2)``.
    contrasts : DataFrame
        Linear contrasts tested (``contrast, estimate, se, df, t, p, ci_low, ci_high``); empty
        unless the model function adds one (see :func:`compare_predictors`).
    config : dict
        Every option that shaped the result.
    """

    kind: str
    formula: str
    fixed: pd.DataFrame
    random: pd.DataFrame
    fit: FitInfo
    r2: dict[str, float]
    icc: float
    contrasts: pd.DataFrame
    config: dict[str, Any]
    _engine: _Engine = field(repr=False, compare=False)

    def contrast(self, weights: dict[str, float] | np.ndarray, name: str | None = None
                 ) -> pd.DataFrame:
        """Satterthwaite t-test of a linear combination ``L beta`` of the fixed effects.

        Parameters
        ----------
        weights : dict or array_like
            ``{term: weight}`` (terms as in ``fixed.term``; others get 0) or a vector with one
            weight per fixed effect, in the order of ``fixed``.
        name : str, optional
            Label of the contrast; by default built from the weights.

        Returns
        -------
        DataFrame
            One row: ``contrast, estimate, se, df, t, p, ci_low, ci_high``.
        """
        eng = self._engine
        if isinstance(weights, dict):
            unknown = [t for t in weights if t not in eng.terms]
            if unknown:
                raise InputError(f"unknown term(s) {', '.join(map(repr, unknown))} in the "
                                 f"contrast; the model's terms are {', '.join(eng.terms)}")
            L = np.array([float(weights.get(t, 0.0)) for t in eng.terms])
            label = name or " ".join(f"{w:+g}*{t}" for t, w in weights.items() if w != 0)
        else:
            L = np.asarray(weights, dtype=float).ravel()
            if L.size != len(eng.terms):
                raise InputError(f"the contrast needs {len(eng.terms)} weights (one per term: "
                                 f"{', '.join(eng.terms)}), got {L.size}")
            label = name or " ".join(f"{w:+g}*{t}" for t, w in zip(eng.terms, L, strict=True)
                                     if w != 0)
        if not np.any(L):
            raise InputError("a contrast needs at least one non-zero weight")
        return _t_table(L[None, :], [label], eng, key="contrast")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the whole result (NaN and inf become None)."""
        return _jsonable({
            "kind": self.kind,
            "formula": self.formula,
            "fixed": self.fixed.to_dict(orient="records"),
            "random": self.random.to_dict(orient="records"),
            "contrasts": self.contrasts.to_dict(orient="records"),
            "fit": asdict(self.fit),
            "r2": dict(self.r2),
            "icc": self.icc,
            "config": self.config,
        })


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        value = float(obj)
        return value if math.isfinite(value) else None
    if obj is None or isinstance(obj, str | int):
        return obj
    if pd.isna(obj):
        return None
    return str(obj)


def _t_table(L: np.ndarray, labels: list[str], eng: _Engine, key: str) -> pd.DataFrame:
    est = L @ eng.beta
    se = np.sqrt(np.einsum("rp,pq,rq->r", L, eng.cov_beta, L))
    df = sw.satterthwaite_df(L, eng.cov_beta, eng.dcov_beta, eng.vcov_varpar)
    t = est / se
    p = 2.0 * stats.t.sf(np.abs(t), df)
    half = stats.t.ppf(0.5 + CI_LEVEL / 2.0, df) * se
    return pd.DataFrame({key: labels, "estimate": est, "se": se, "df": df, "t": t, "p": p,
                         "ci_low": est - half, "ci_high": est + half})


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------


@dataclass
class _Fitted:
    design: sw.GroupedDesign  # outcome divided by y_scale
    ev_scaled: sw.RemlEval  # at the optimum, in the units of design
    ev: sw.RemlEval  # the same on the data's scale (no gradient/Hessian)
    y_scale: float
    A: np.ndarray  # covariance of the scaled (theta, sigma); pairs with ev.dcov_beta
    singular: bool
    converged: bool
    optimizer: str
    warnings: list[str]
    x_names: list[str]
    z_names: list[str]


def _to_data_scale(ev: sw.RemlEval, s: float, n: int, p: int) -> sw.RemlEval:
    """Undo the division of the outcome by ``s``.

    Estimates scale with ``s`` and variances with ``s^2``; the deviance gains
    ``(N - p) log s^2`` (REML) or ``N log s^2`` (ML). ``dcov_beta`` stays a derivative with
    respect to the *scaled* ``(theta, sigma)``, matching ``_Fitted.A``; the Satterthwaite df are
    unchanged by the rescaling.
    """
    psi = ev.psi.copy()
    psi[-1] *= s
    adj = (n - p if ev.reml else n) * 2.0 * math.log(s)
    return sw.RemlEval(psi, ev.reml, ev.deviance + adj, ev.beta * s, ev.cov_beta * s**2,
                       ev.G * s**2, ev.sigma2 * s**2, None, None,
                       None if ev.dcov_beta is None else ev.dcov_beta * s**2)


def _plain_warning(message: str) -> str | None:
    """Translate a statsmodels warning into plain language (None: superseded by our checks)."""
    low = message.lower()
    if "boundary" in low or "covariance matrix is singular" in low:
        # statsmodels tests data-scale variances against an absolute 0.01; the model layer
        # reports singularity with lme4's scale-free criterion instead (FitInfo.singular).
        return None
    if "hessian matrix at the estimated parameter values is not positive definite" in low:
        return None  # re-checked on the exact criterion below
    if "retrying mixedlm optimization" in low:
        return ("statsmodels: the first optimiser (BFGS) did not converge and another was "
                "tried")
    if "optimization failed" in low or "gradient optimization failed" in low:
        return ("statsmodels: the optimiser stopped before converging; the estimates were "
                "completed by Newton steps on the exact likelihood criterion")
    return f"statsmodels: {message}"


def _moment_start(y: np.ndarray, X: np.ndarray, Z: np.ndarray, codes: np.ndarray
                  ) -> tuple[np.ndarray, float]:
    """Method-of-moments start values ``(G / sigma^2, sigma^2)`` for the optimiser.

    Per-group least-squares fits of the OLS residuals on ``Z`` give an empirical covariance of
    group effects, from which the average sampling covariance is subtracted; the result is
    projected to a positive-definite matrix. Good starts make statsmodels ~5x faster here.
    """
    q = Z.shape[1]
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    r = y - X @ beta
    coefs, unscaled = [], []
    sse, dfr = 0.0, 0
    for g in range(codes.max() + 1):
        rows = codes == g
        zg = Z[rows]
        if rows.sum() <= q or np.linalg.matrix_rank(zg) < q:
            continue
        c = np.linalg.lstsq(zg, r[rows], rcond=None)[0]
        e = r[rows] - zg @ c
        sse += float(e @ e)
        dfr += int(rows.sum()) - q
        coefs.append(c)
        unscaled.append(np.linalg.inv(zg.T @ zg))
    s2 = sse / dfr if dfr > 0 else float(np.var(r)) or 1.0
    if len(coefs) >= 2:
        G = np.atleast_2d(np.cov(np.array(coefs).T, ddof=1)) - s2 * np.mean(unscaled, axis=0)
    else:
        G = np.eye(q) * s2
    evals, evecs = np.linalg.eigh(0.5 * (G + G.T))
    floor = 0.01 * s2 * np.ones(q) if not np.any(evals > 0) else 1e-2 * evals.max() * np.ones(q)
    G = (evecs * np.maximum(evals, floor)) @ evecs.T
    return G / s2, s2


def _fit_lmm(y: np.ndarray, X: np.ndarray, Z: np.ndarray, codes: np.ndarray,
             x_names: list[str], z_names: list[str], reml: bool = True) -> _Fitted:
    """Fit one model with statsmodels, polish by Newton steps, and prepare Satterthwaite."""
    from statsmodels.regression.mixed_linear_model import MixedLM, MixedLMParams

    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise InputError("the fixed effects are collinear (" + ", ".join(x_names) + "); "
                         "drop a redundant predictor or check that each one varies")
    # Work with the outcome in units of its SD: the (theta, sigma) Hessian mixes O(1) and
    # O(1/sigma^2) entries, so on a raw scale of 1e-6 its inverse would lose all precision.
    y_scale = float(np.std(y)) or 1.0
    y = y / y_scale
    design = sw.GroupedDesign(y, X, Z, codes)
    notes: list[str] = []
    g_rel0, s2_0 = _moment_start(y, X, Z, codes)
    if not s2_0 > 1e-12:
        raise InputError("the outcome is reproduced exactly by the fixed effects and a "
                         "separate line per group (no residual variation); check for a "
                         "derived or duplicated outcome column")
    optimizer = "statsmodels MixedLM (bfgs) + Newton refinement"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = MixedLM(y, X, groups=codes, exog_re=Z)
            start = MixedLMParams.from_components(np.zeros(X.shape[1]), cov_re=g_rel0)
            # One optimiser, no retries: the Newton refinement below completes any fit BFGS
            # leaves unfinished (trying lbfgs and cg first costs ~3x the time for nothing).
            res = model.fit(reml=reml, start_params=start, method="bfgs")
        for w in caught:
            text = _plain_warning(str(w.message))
            if text and text not in notes:
                notes.append(text)
        cov_re = np.atleast_2d(np.asarray(res.cov_re, dtype=float))
        scale = float(res.scale)
        if not (np.isfinite(scale) and scale > 0 and np.all(np.isfinite(cov_re))):
            raise FloatingPointError("non-finite variance estimates")
        psi0 = np.r_[sw.theta_from_cov(cov_re / scale), math.sqrt(scale)]
    except (np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
        logger.debug("statsmodels MixedLM failed: %s", exc)
        notes.append(f"statsmodels MixedLM failed ({exc}); the estimates come from Newton "
                     "steps on the exact likelihood criterion from moment start values")
        optimizer = "Newton iterations on the exact criterion (statsmodels failed)"
        psi0 = np.r_[sw.theta_from_cov(g_rel0), math.sqrt(s2_0)]
    try:
        ev, info = sw.refine(design, psi0, reml=reml)
    except np.linalg.LinAlgError as exc:
        raise InputError(f"the mixed model could not be fitted ({exc}); check for predictors "
                         "that are (nearly) collinear or a group variable with too few "
                         "observations") from exc
    logger.debug("Newton refinement: %s", info)
    if not info.converged:
        notes.append("the model did not converge: the likelihood gradient is not ~0 at the "
                     "reported estimates; treat them with caution")
    A, n_neg, n_zero = sw.vcov_varpar(ev.hess)
    if n_neg:
        notes.append(f"the likelihood has {n_neg} direction(s) of negative curvature at the "
                     "estimates (not a clean optimum); treat the estimates with caution")
    lam = sw.lambda_from_theta(ev.psi[:-1], design.q)
    singular = bool(np.any(np.abs(np.diag(lam)) < sw.SINGULAR_TOL))
    return _Fitted(design, ev, _to_data_scale(ev, y_scale, design.N, design.p), y_scale, A,
                   singular, bool(info.converged), optimizer, notes, x_names, z_names)


def _ml_refit(fitted: _Fitted) -> tuple[float, float, float, int, str]:
    """ML log-likelihood, AIC, BIC and parameter count of the same model."""
    d = fitted.design
    n_par = d.p + d.n_theta + 1
    if not fitted.ev.reml:
        dev = fitted.ev.deviance
        how = "ML fit"
    else:
        ev_ml, info = sw.refine(d, fitted.ev_scaled.psi, reml=False)
        dev = _to_data_scale(ev_ml, fitted.y_scale, d.N, d.p).deviance
        how = "ML refit: Newton iterations on the ML criterion from the REML estimates"
        if not info.converged:
            fitted.warnings.append("the ML refit for AIC/BIC did not converge; AIC/BIC may be "
                                   "inaccurate")
    return -dev / 2.0, dev + 2.0 * n_par, dev + math.log(d.N) * n_par, n_par, how


def _null_icc(y: np.ndarray, codes: np.ndarray) -> float:
    """ICC of the intercept-only random-intercept model ``y ~ 1 + (1 | group)`` (REML).

    A one-parameter problem: Newton iterations on the exact REML criterion from moment start
    values converge in a few steps (statsmodels is used only if they do not).
    """
    ones = np.ones((y.size, 1))
    y = y / (float(np.std(y)) or 1.0)  # the ICC is scale-free; unit SD keeps Newton well scaled
    g_rel0, s2_0 = _moment_start(y, ones, ones, codes)
    design = sw.GroupedDesign(y, ones, ones, codes)
    ev, info = sw.refine(design, np.r_[sw.theta_from_cov(g_rel0), math.sqrt(s2_0)])
    if not info.converged:
        ev = _fit_lmm(y, ones, ones, codes, [INTERCEPT], [INTERCEPT]).ev
    tau2 = float(ev.G[0, 0])
    return tau2 / (tau2 + ev.sigma2)


def _r2(fitted: _Fitted) -> dict[str, float]:
    """Nakagawa & Schielzeth (2013) R^2 with Johnson's (2014) random-slope extension."""
    d, ev = fitted.design, fitted.ev
    real = d.mask.astype(bool)
    fixed_pred = (d.X @ ev.beta)[real]
    var_f = float(np.var(fixed_pred, ddof=1))  # as MuMIn / performance (R's var)
    zr = d.Z[real]
    var_l = float(np.mean(np.einsum("ia,ab,ib->i", zr, ev.G, zr)))
    total = var_f + var_l + ev.sigma2
    return {"marginal": var_f / total, "conditional": (var_f + var_l) / total}


def _random_table(fitted: _Fitted, group: str) -> pd.DataFrame:
    G, names = fitted.ev.G, fitted.z_names
    rows = []
    for i, name in enumerate(names):
        rows.append({"group": group, "var1": name, "var2": None, "vcov": G[i, i],
                     "sdcor": math.sqrt(max(G[i, i], 0.0))})
    for j in range(len(names)):
        for i in range(j + 1, len(names)):
            denom = math.sqrt(max(G[i, i] * G[j, j], 0.0))
            rows.append({"group": group, "var1": names[j], "var2": names[i], "vcov": G[i, j],
                         "sdcor": G[i, j] / denom if denom > 0 else float("nan")})
    rows.append({"group": "Residual", "var1": None, "var2": None, "vcov": fitted.ev.sigma2,
                 "sdcor": math.sqrt(fitted.ev.sigma2)})
    return pd.DataFrame(rows, columns=["group", "var1", "var2", "vcov", "sdcor"])


def _q(name: str) -> str:
    """A column name as it must appear in a formula (backticks when not an identifier)."""
    return name if name.isidentifier() else f"`{name}`"


def _formula(y: str, x_names: list[str], z_names: list[str], group: str) -> str:
    rhs = " + ".join(_q(x) for x in x_names if x != INTERCEPT) or "1"
    re = " + ".join("1" if z == INTERCEPT else _q(z) for z in z_names)
    return f"{_q(y)} ~ {rhs} + ({re} | {_q(group)})"


@dataclass
class _Prepared:
    frame: pd.DataFrame
    n_rows_input: int
    n_dropped_missing: int
    n_unpaired: int
    notes: list[str]


def _assemble(kind: str, prepared: _Prepared, y: str, group: str, fitted: _Fitted,
              fallback: str | None, config: dict[str, Any]) -> ModelResult:
    frame = prepared.frame
    codes = pd.factorize(frame[group], sort=True)[0]
    x_names = fitted.x_names
    eng = _Engine(x_names, fitted.ev.beta, fitted.ev.cov_beta, fitted.ev.dcov_beta, fitted.A)
    fixed = _t_table(np.eye(len(x_names)), x_names, eng, key="term")
    loglik_ml, aic, bic, n_par, ic_method = _ml_refit(fitted)  # may add a warning
    notes = prepared.notes + ([fallback] if fallback else []) + fitted.warnings
    if fitted.singular:
        notes.append(f"singular fit: a random-effect variance is ~0 or a correlation is ~+-1 in "
                     f"{_formula(y, x_names, fitted.z_names, group)}")
    fit = FitInfo(
        n_obs=fitted.design.N,
        n_groups=fitted.design.m,
        n_rows_input=prepared.n_rows_input,
        n_dropped_missing=prepared.n_dropped_missing,
        n_unpaired=prepared.n_unpaired,
        method="REML" if fitted.ev.reml else "ML",
        optimizer=fitted.optimizer,
        converged=fitted.converged,
        singular=fitted.singular,
        fallback=fallback,
        loglik=-fitted.ev.deviance / 2.0,
        deviance=fitted.ev.deviance,
        loglik_ml=loglik_ml,
        aic=aic,
        bic=bic,
        ic_method=ic_method,
        n_params=n_par,
        warnings=notes,
    )
    for note in notes:
        logger.info("%s model: %s", kind, note)
    y_values = frame[y].to_numpy(dtype=float)
    return ModelResult(
        kind=kind,
        formula=_formula(y, x_names, fitted.z_names, group),
        fixed=fixed,
        random=_random_table(fitted, group),
        fit=fit,
        r2=_r2(fitted),
        icc=_null_icc(y_values, codes),
        contrasts=pd.DataFrame(columns=["contrast", "estimate", "se", "df", "t", "p", "ci_low",
                                        "ci_high"]),
        config=config,
        _engine=eng,
    )


def _design(frame: pd.DataFrame, y: str, x_cols: list[str], z_cols: list[str], group: str):
    codes = pd.factorize(frame[group], sort=True)[0]
    n = len(frame)
    X = np.column_stack([np.ones(n)] + [frame[c].to_numpy(dtype=float) for c in x_cols])
    Z = np.column_stack([np.ones(n)] + [frame[c].to_numpy(dtype=float) for c in z_cols])
    return frame[y].to_numpy(dtype=float), X, Z, codes


# --------------------------------------------------------------------------------------------
# Public models
# --------------------------------------------------------------------------------------------


def growth_model(data: pd.DataFrame, y: str, time: str, group: str, random_slope: bool = True,
                 reml: bool = True) -> ModelResult:
    """Linear growth over time: ``y ~ time + (1 + time | group)``.

    Parameters
    ----------
    data : DataFrame
        Long format, one row per observation (e.g. dyad x session).
    y : str
        Outcome column (e.g. synchrony, in its own units).
    time : str
        Numeric time column (e.g. session number); the slope is per unit of ``time``.
    group : str
        Grouping column (e.g. dyad).
    random_slope : bool
        Let the slope vary by group. When that fit is singular (slope variance ~0 or
        intercept-slope correlation ~+-1), the model is refitted with a random intercept only
        and ``fit.fallback`` says so.
    reml : bool
        REML (default) or ML estimation.

    Returns
    -------
    ModelResult
        ``fixed`` has rows ``(Intercept)`` and ``time``.

    Raises
    ------
    InputError
        Missing or non-numeric columns, fewer than 3 groups with data, a constant outcome or
        time, every group with a single observation.
    """
    require_columns(data, [y, time, group])
    require_distinct({"outcome": y, "time": time, "group": group})
    frame = numeric_frame(data, [y, time], group)
    n_input = len(frame)
    frame, n_missing = drop_missing(frame, [group, y, time])
    notes = check_groups(frame, group)
    check_varies(frame, y, "outcome")
    check_varies(frame, time, "time")
    prepared = _Prepared(frame, n_input, n_missing, 0, notes)
    yv, X, Z, codes = _design(frame, y, [time], [time] if random_slope else [], group)
    x_names = [INTERCEPT, time]
    fallback = None
    fitted = None
    if random_slope:
        if len(yv) <= Z.shape[1] * (codes.max() + 1):
            fallback = (f"random slope for {time!r} dropped: with {len(yv)} observations in "
                        f"{codes.max() + 1} {group}s there are too few observations per {group} "
                        f"to estimate it; refitted with (1 | {group})")
        else:
            fitted = _fit_lmm(yv, X, Z, codes, x_names, [INTERCEPT, time], reml=reml)
            if fitted.singular:
                G = fitted.ev.G
                sd = np.sqrt(np.maximum(np.diag(G), 0.0))
                corr = G[0, 1] / (sd[0] * sd[1]) if sd[0] * sd[1] > 0 else float("nan")
                fallback = (f"random slope for {time!r} dropped: the (1 + {time} | {group}) fit "
                            f"was singular (intercept SD {sd[0]:.3g}, slope SD {sd[1]:.3g}, "
                            f"correlation {corr:.3g}); refitted with (1 | {group})")
        if fallback:
            fitted = None
    if fitted is None:
        fitted = _fit_lmm(yv, X, Z[:, :1], codes, x_names, [INTERCEPT], reml=reml)
    config = {"model": "growth", "y": y, "time": time, "group": group,
              "random_slope": random_slope, "reml": reml, "ci_level": CI_LEVEL,
              "df_method": "Satterthwaite (lmerTest)", "singular_tol": sw.SINGULAR_TOL}
    return _assemble("growth", prepared, y, group, fitted, fallback, config)


def _prepare_predictors(data, outcome, predictors, time, group, lag):
    """Shared input handling of outcome and compare models: checks, missing rows, lag."""
    require_columns(data, [outcome, *predictors, time, group])
    require_distinct({"outcome": outcome, "predictor": predictors, "time": time, "group": group})
    if not isinstance(lag, int | np.integer) or isinstance(lag, bool) or lag < 0:
        raise InputError(f"lag must be a whole number >= 0 (0: same session, 1: next session), "
                         f"got {lag!r}")
    frame = numeric_frame(data, [outcome, *predictors, time], group)
    n_input = len(frame)
    needed = [group, time, outcome, *predictors]
    for col in needed:
        if frame[col].isna().all():
            raise InputError(f"column {col!r} has no non-missing values; nothing to model")
    n_missing = int(frame[needed].isna().any(axis=1).sum())
    n_unpaired = 0
    names = {c: c for c in predictors}
    control = None
    if lag == 0:
        frame, _ = drop_missing(frame, needed)
    else:
        pairs, lagged, n_unpaired = lag_pairs(frame.dropna(subset=[group]), outcome, predictors,
                                              time, group, lag)
        if pairs.empty:
            raise InputError(f"no {group} has {outcome!r} observed at two sessions {lag} apart "
                             f"with {', '.join(map(repr, predictors))} at the first; a lagged "
                             "model has nothing to fit")
        frame = pairs
        names = {c: lagged[c] for c in predictors}
        control = lagged[outcome]
    notes = check_groups(frame, group)
    check_varies(frame, outcome, "outcome")
    check_varies(frame, time, "time")
    for c in predictors:
        check_varies(frame, names[c], "predictor")
    return _Prepared(frame, n_input, n_missing, n_unpaired, notes), names, control


def _decompose(frame: pd.DataFrame, col: str, group: str, center: str, standardize: bool,
               scales: dict[str, float]) -> list[str]:
    """Add the centred versions of ``col`` to ``frame``; return the new column names."""
    if center == "within-between":
        within, between = within_between(frame, col, group)
        if np.allclose(within.to_numpy(), 0.0):
            raise InputError(f"predictor {col!r} does not vary within any {group}; its "
                             f"within-{group} effect cannot be estimated (use center='grand')")
        parts = {f"{col}_within": within, f"{col}_between": between}
        if standardize:
            group_means = between.groupby(frame[group]).first()
            sd_w = float(within.std(ddof=1))
            sd_b = float(group_means.std(ddof=1)) if len(group_means) > 1 else float("nan")
            if not sd_b > 0:
                raise InputError(f"predictor {col!r} has the same mean in every "
                                 f"{group}; its between-{group} part cannot be standardised")
            parts = {f"{col}_within_z": within / sd_w, f"{col}_between_z": between / sd_b}
            scales[f"{col}_within_z"] = sd_w
            scales[f"{col}_between_z"] = sd_b
    elif center == "grand":
        x = frame[col]
        if standardize:
            sd = float(x.std(ddof=1))
            parts = {f"{col}_z": (x - x.mean()) / sd}
            scales[f"{col}_z"] = sd
        else:
            parts = {f"{col}_c": x - x.mean()}
    else:
        if standardize:
            sd = float(frame[col].std(ddof=1))
            parts = {f"{col}_z": (frame[col] - frame[col].mean()) / sd}
            scales[f"{col}_z"] = sd
        else:
            parts = {col: frame[col]}
    for name, values in parts.items():
        if name != col and name in frame.columns:
            raise InputError(f"column name {name!r} is reserved for a derived predictor; "
                             "rename that column")
        frame[name] = values.to_numpy(dtype=float)
    return list(parts)


def _fit_outcome(kind, data, outcome, predictors, time, group, center, lag, standardize, reml,
                 extra_config):
    if center not in CENTER_OPTIONS:
        raise InputError(f"center must be one of {', '.join(CENTER_OPTIONS)}, got {center!r}")
    prepared, names, control = _prepare_predictors(data, outcome, predictors, time, group, lag)
    frame = prepared.frame
    scales: dict[str, float] = {}
    x_cols = [time] + ([control] if control else [])
    for c in predictors:
        x_cols += _decompose(frame, names[c], group, center, standardize, scales)
    prepared.frame = frame
    yv, X, Z, codes = _design(frame, outcome, x_cols, [], group)
    fitted = _fit_lmm(yv, X, Z, codes, [INTERCEPT, *x_cols], [INTERCEPT], reml=reml)
    config = {"model": kind, "outcome": outcome, "predictors": list(predictors), "time": time,
              "group": group, "center": center, "lag": lag, "standardize": standardize,
              "reml": reml, "random": f"(1 | {group})", "ci_level": CI_LEVEL,
              "df_method": "Satterthwaite (lmerTest)", "singular_tol": sw.SINGULAR_TOL,
              "centering_means": "over analysed rows", **extra_config}
    if lag:
        config["lag_pairing"] = (f"strict: predictors and {outcome} at {time} t, outcome at "
                                 f"t + {lag} (that {time} must exist); {time} in the model is "
                                 f"the outcome's {time}")
    if scales:
        config["scales"] = scales
    result = _assemble(kind, prepared, outcome, group, fitted, None, config)
    if fitted.singular:
        result.fit.warnings.append(f"the {group} intercept variance is ~0: the model reduces to "
                                   "ordinary regression and the Satterthwaite df to residual df")
    return result


def outcome_model(data: pd.DataFrame, outcome: str, predictors: str | list[str], time: str,
                  group: str, center: str = "within-between", lag: int = 0,
                  reml: bool = True) -> ModelResult:
    """Outcome on time-varying predictors: ``outcome ~ time + x_within + x_between + (1 | group)``.

    Parameters
    ----------
    data : DataFrame
        Long format, one row per group and time.
    outcome : str
        Outcome column (e.g. symptoms, wellbeing, session quality).
    predictors : str or list of str
        Predictor column(s) (e.g. synchrony, alliance), in their own units.
    time : str
        Numeric time column (e.g. session number), entered as a linear covariate.
    group : str
        Grouping column (e.g. dyad).
    center : {"within-between", "grand", "none"}
        ``"within-between"`` (default) splits each predictor into ``<x>_within = x - dyad mean``
        and ``<x>_between = dyad mean - grand mean`` (means over analysed rows);
        ``"grand"`` enters ``<x>_c = x - grand mean``; ``"none"`` enters ``x`` unchanged.
    lag : int
        0: same session. ``k >= 1``: predictors at session ``t`` predict the outcome at
        ``t + k``, controlling the outcome at ``t`` (column ``<outcome>_lag<k>``); the
        predictors are named ``<x>_lag<k>`` before centring. Pairing is strictly by time
        index: ``t + k`` must exist (whole-number times; one row per group and time).
    reml : bool
        REML (default) or ML.

    Returns
    -------
    ModelResult
        Rows are dropped when a needed value is missing (counted in ``fit``).
    """
    predictors = as_list(predictors)
    return _fit_outcome("outcome", data, outcome, predictors, time, group, center, lag, False,
                        reml, {})


def compare_predictors(data: pd.DataFrame, outcome: str, a: str, b: str, time: str, group: str,
                       lag: int = 0, reml: bool = True) -> ModelResult:
    """Joint model of two predictors and the test of their within-group difference.

    Both predictors are split into within- and between-group parts (as in
    :func:`outcome_model`) and **standardised**: each within part is divided by its SD over the
    analysed rows, each between part by the SD of the group means, so coefficients are changes
    in the outcome per SD of within-dyad (or between-dyad) variation, comparable across
    predictors measured in different units. The model is

        ``outcome ~ time + a_within_z + a_between_z + b_within_z + b_between_z + (1 | group)``

    and ``contrasts`` holds the Satterthwaite t-test of ``a_within_z - b_within_z`` (e.g.
    "synchrony, not alliance" as a tested comparison). The SDs used are in ``config["scales"]``.

    Parameters
    ----------
    data : DataFrame
    outcome, a, b, time, group : str
        Column names; ``a`` and ``b`` are the two predictors (e.g. synchrony, alliance).
    lag : int
        As in :func:`outcome_model`.
    reml : bool
        REML (default) or ML.

    Returns
    -------
    ModelResult
    """
    if a == b:
        raise InputError(f"compare_predictors needs two different predictors, got {a!r} twice")
    extra = {"a": a, "b": b,
             "standardization": "within parts / SD of within parts over analysed rows; between "
                                "parts / SD of group means (ddof=1)"}
    result = _fit_outcome("compare", data, outcome, [a, b], time, group, "within-between", lag,
                          True, reml, extra)
    suffix = f"_lag{lag}" if lag else ""
    ta, tb = f"{a}{suffix}_within_z", f"{b}{suffix}_within_z"
    result.contrasts = result.contrast({ta: 1.0, tb: -1.0}, name=f"{ta} - {tb}")
    return result
