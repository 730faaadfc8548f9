"""The REML engine behind the Satterthwaite df: exact derivatives checked against numerics.

lmerTest differentiates the deviance and Var(beta_hat) numerically in (theta, sigma); the engine
does it in closed form. These tests compare the closed forms with central finite differences of
the engine's own deviance and Var(beta_hat) (lmerTest's route), compare the deviance with
statsmodels' log-likelihood (an independent implementation), and check the hand-derivable OLS
limit of the df.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.regression.mixed_linear_model import MixedLM

from studymgr.compute.models import satterthwaite as sw


def _unbalanced(seed: int = 3, m: int = 9):
    """Unbalanced random-slope data: group sizes 3..8, time not equally spaced."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(m):
        n = 3 + g % 6
        t = np.sort(rng.uniform(0, 6, n))
        b0, b1 = rng.normal(0, 2.0), rng.normal(0, 0.5)
        y = 1.0 + b0 + (0.4 + b1) * t + rng.normal(0, 1.0, n)
        rows += [(g, ti, yi) for ti, yi in zip(t, y, strict=True)]
    codes, t, y = (np.array(c) for c in zip(*rows, strict=True))
    X = np.column_stack([np.ones(len(y)), t])
    return y, X, codes.astype(int)


def _numeric_derivatives(design, psi, reml, h=1e-4):
    k = len(psi)

    def dev(p):
        return sw.evaluate(design, p, reml=reml, derivatives=False).deviance

    def cov(p):
        return sw.evaluate(design, p, reml=reml, derivatives=False).cov_beta

    steps = h * np.maximum(1.0, np.abs(psi))
    grad = np.zeros(k)
    hess = np.zeros((k, k))
    jac = np.zeros((k, design.p, design.p))
    for a in range(k):
        ea = np.zeros(k)
        ea[a] = steps[a]
        grad[a] = (dev(psi + ea) - dev(psi - ea)) / (2 * steps[a])
        jac[a] = (cov(psi + ea) - cov(psi - ea)) / (2 * steps[a])
        for b in range(k):
            eb = np.zeros(k)
            eb[b] = steps[b]
            hess[a, b] = (dev(psi + ea + eb) - dev(psi + ea - eb) - dev(psi - ea + eb)
                          + dev(psi - ea - eb)) / (4 * steps[a] * steps[b])
    return grad, hess, jac


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("q", [1, 2])
def test_exact_derivatives_match_finite_differences(reml, q):
    """Closed-form gradient, Hessian and dC/dpsi equal central differences (lmerTest's route),
    at a point away from the optimum (so the gradient term of the Hessian matters)."""
    y, X, codes = _unbalanced()
    design = sw.GroupedDesign(y, X, X[:, :q], codes)
    psi = np.r_[[1.3, 0.2, 0.4][: design.n_theta], 1.1]
    ev = sw.evaluate(design, psi, reml=reml)
    grad, hess, jac = _numeric_derivatives(design, psi, reml)
    np.testing.assert_allclose(ev.grad, grad, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ev.hess, hess, rtol=1e-5, atol=1e-4 * np.abs(hess).max())
    np.testing.assert_allclose(ev.dcov_beta, jac, rtol=1e-6, atol=1e-9 * np.abs(jac).max())


def test_deviance_matches_statsmodels_at_the_optimum():
    """-2 x statsmodels' REML and ML log-likelihoods equal the engine's refined deviance."""
    y, X, codes = _unbalanced()
    design = sw.GroupedDesign(y, X, X, codes)
    for reml in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = MixedLM(y, X, groups=codes, exog_re=X).fit(reml=reml)
        psi = np.r_[sw.theta_from_cov(res.cov_re / res.scale), np.sqrt(res.scale)]
        at_sm = sw.evaluate(design, psi, reml=reml, derivatives=False)
        assert at_sm.deviance == pytest.approx(-2 * res.llf, abs=1e-6)
        np.testing.assert_allclose(at_sm.beta, res.fe_params, rtol=1e-8)
        # (statsmodels' bse_fe are not compared: they come from the inverse of its full
        # Hessian including beta-variance cross terms, which differ from lme4's
        # (X' V^-1 X)^-1 on unbalanced data; the sleepstudy test checks SEs against lme4.)
        refined, info = sw.refine(design, psi, reml=reml)
        assert info.converged
        # Refinement can only improve on statsmodels, and only by optimiser tolerance here.
        assert refined.deviance <= at_sm.deviance + 1e-9
        assert refined.deviance == pytest.approx(at_sm.deviance, abs=1e-4)
        assert np.max(np.abs(refined.grad)) < 1e-4


def test_refine_finds_the_same_optimum_from_a_poor_start():
    """Damped Newton from a far start reaches statsmodels' optimum (same deviance)."""
    y, X, codes = _unbalanced(seed=11)
    design = sw.GroupedDesign(y, X, X, codes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = MixedLM(y, X, groups=codes, exog_re=X).fit(reml=True)
    refined, info = sw.refine(design, np.array([5.0, -2.0, 3.0, 10.0]))
    assert info.converged
    assert refined.deviance == pytest.approx(-2 * res.llf, abs=1e-5)
    np.testing.assert_allclose(refined.G, res.cov_re, rtol=1e-3, atol=1e-3)


def test_theta_roundtrip_and_singular_covariance():
    """theta -> G -> theta is the identity; a rank-1 G gives a zero diagonal (lme4 isSingular)."""
    theta = np.array([1.5, -0.4, 0.7])
    lam = sw.lambda_from_theta(theta, 2)
    np.testing.assert_allclose(sw.theta_from_cov(lam @ lam.T), theta, atol=1e-12)
    rank1 = np.outer([1.0, 2.0], [1.0, 2.0])  # correlation exactly +1
    th = sw.theta_from_cov(rank1)
    np.testing.assert_allclose(th, [1.0, 2.0, 0.0], atol=1e-12)
    assert sw.theta_positions(3) == [(0, 0), (1, 0), (2, 0), (1, 1), (2, 1), (2, 2)]


def test_ols_limit_gives_residual_df():
    """With theta = 0 the model is OLS; at the REML optimum of sigma the Satterthwaite df of
    every coefficient is N - p exactly (derivable by hand: C = sigma^2 (X'X)^-1)."""
    y, X, codes = _unbalanced()
    design = sw.GroupedDesign(y, X, X[:, :1], codes)
    ols = sm.OLS(y, X).fit()
    psi = np.array([0.0, np.sqrt(ols.scale)])
    ev = sw.evaluate(design, psi)
    A, _, _ = sw.vcov_varpar(ev.hess)
    df = sw.satterthwaite_df(np.eye(2), ev.cov_beta, ev.dcov_beta, A)
    np.testing.assert_allclose(df, ols.df_resid, rtol=1e-9)
    np.testing.assert_allclose(np.sqrt(np.diag(ev.cov_beta)), ols.bse, rtol=1e-9)


def test_padding_is_invisible():
    """Groups of unequal size are padded internally; the deviance equals a dense computation
    with the full N x N covariance matrix."""
    y, X, codes = _unbalanced()
    design = sw.GroupedDesign(y, X, X, codes)
    psi = np.array([1.2, 0.3, 0.5, 0.9])
    ev = sw.evaluate(design, psi, derivatives=False)
    lam = sw.lambda_from_theta(psi[:-1], 2)
    G = psi[-1] ** 2 * lam @ lam.T
    same = codes[:, None] == codes[None, :]
    V = np.where(same, X @ G @ X.T, 0.0) + psi[-1] ** 2 * np.eye(len(y))
    Vi = np.linalg.inv(V)
    A = X.T @ Vi @ X
    beta = np.linalg.solve(A, X.T @ Vi @ y)
    r = y - X @ beta
    dense = (np.linalg.slogdet(V)[1] + np.linalg.slogdet(A)[1] + r @ Vi @ r
             + (len(y) - 2) * np.log(2 * np.pi))
    assert ev.deviance == pytest.approx(dense, rel=1e-12)
    np.testing.assert_allclose(ev.beta, beta, rtol=1e-10)


def test_group_codes_need_not_be_sorted():
    """Row order does not change the fit (rows are regrouped internally)."""
    y, X, codes = _unbalanced()
    perm = np.random.default_rng(0).permutation(len(y))
    a = sw.evaluate(sw.GroupedDesign(y, X, X, codes), np.array([1.0, 0.1, 0.3, 1.0]))
    b = sw.evaluate(sw.GroupedDesign(y[perm], X[perm], X[perm], codes[perm]),
                    np.array([1.0, 0.1, 0.3, 1.0]))
    assert a.deviance == pytest.approx(b.deviance, rel=1e-12)
    np.testing.assert_allclose(a.hess, b.hess, rtol=1e-9)
    assert a.beta == pytest.approx(b.beta, rel=1e-10)
