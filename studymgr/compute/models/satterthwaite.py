"""REML/ML criterion of a linear mixed model, its exact derivatives, and Satterthwaite df.

The model is ``y = X beta + Z_g b_g + e`` with one grouping factor, ``b_g ~ N(0, G)`` (an
unstructured ``q x q`` covariance) and ``e ~ N(0, sigma^2 I)``. As in lme4 and lmerTest the
variance parameters are ``psi = (theta, sigma)``: ``theta`` holds the lower triangle (column by
column) of the *relative* Cholesky factor ``Lambda`` with ``G = sigma^2 Lambda Lambda'``, and
``sigma`` is the residual SD.

lmerTest (Kuznetsova, Brockhoff & Christensen 2017, J. Stat. Softw. 82(13), ``as_lmerModLmerTest``)
computes the Satterthwaite df of a contrast ``l`` as

    df = 2 (l' C l)^2 / (g' A g),   g_a = l' (dC / dpsi_a) l,   A = 2 H^+,

where ``C = Var(beta_hat)``, ``H`` is the Hessian of the REML deviance (-2 log-likelihood) with
respect to ``psi`` and ``H^+`` its pseudo-inverse over positive eigenvalues. lmerTest obtains ``H``
and ``dC/dpsi`` by numerical differentiation (numDeriv, Richardson extrapolation); here both are
computed in closed form, which is exact and needs a single evaluation:

    dD/dpsi_a          = tr(P V_a) - y'P V_a P y
    d2D/dpsi_a dpsi_b  = tr(P V_ab) - tr(P V_a P V_b) + 2 y'P V_a P V_b P y - y'P V_ab P y
    dC/dpsi_a          = C X'W V_a W X C

with ``W = V^-1``, ``P = W - W X C X' W``, ``V_a = dV/dpsi_a`` (for ML, ``P`` is replaced by
``W`` in the two trace terms). The ``(theta, sigma)`` parameterisation matters on the boundary: the
criterion is even in each diagonal element of ``Lambda``, so a zero variance is a stationary point
and contributes nothing to ``g`` (the df then come from the residual variance alone).

Everything is computed on padded per-group arrays (groups padded to the largest group size with
rows that do not depend on the parameters), so the cost is ``O(m n^2)`` for ``m`` groups of at
most ``n`` rows, never ``O(N^2)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

LOG_2PI = float(np.log(2.0 * np.pi))

#: lme4's default tolerance for ``isSingular``: a diagonal element of the relative Cholesky factor
#: below this means a variance of ~0 or a correlation of ~+-1.
SINGULAR_TOL = 1e-4

#: lmerTest's tolerance for zero eigenvalues of the deviance Hessian.
EIGEN_TOL = 1e-8


def theta_positions(q: int) -> list[tuple[int, int]]:
    """Positions ``(row, col)`` of ``theta`` in ``Lambda``, in lme4 order (column by column).

    Parameters
    ----------
    q : int
        Number of random effects per group.

    Returns
    -------
    list of tuple of int
        ``q (q + 1) / 2`` positions in the lower triangle.
    """
    return [(i, j) for j in range(q) for i in range(j, q)]


def lambda_from_theta(theta: np.ndarray, q: int) -> np.ndarray:
    """Build the lower-triangular relative Cholesky factor ``Lambda`` from ``theta``."""
    lam = np.zeros((q, q))
    for value, (i, j) in zip(theta, theta_positions(q), strict=True):
        lam[i, j] = value
    return lam


def theta_from_cov(g_rel: np.ndarray) -> np.ndarray:
    """``theta`` of a relative covariance ``G / sigma^2`` (positive semi-definite allowed).

    A plain Cholesky factorisation fails on a singular matrix; this one sets a column to zero when
    its pivot is not positive, which is what a variance of zero or a correlation of +-1 means.
    """
    g_rel = np.asarray(g_rel, dtype=float)
    q = g_rel.shape[0]
    lam = np.zeros((q, q))
    for j in range(q):
        pivot = g_rel[j, j] - lam[j, :j] @ lam[j, :j]
        scale = max(abs(g_rel[j, j]), 1e-300)
        if pivot <= 1e-14 * scale:
            continue
        lam[j, j] = np.sqrt(pivot)
        for i in range(j + 1, q):
            lam[i, j] = (g_rel[i, j] - lam[i, :j] @ lam[j, :j]) / lam[j, j]
    return np.array([lam[i, j] for i, j in theta_positions(q)])


class GroupedDesign:
    """Per-group padded arrays of a one-factor linear mixed model.

    Parameters
    ----------
    y : ndarray, shape (N,)
        Response.
    X : ndarray, shape (N, p)
        Fixed-effects design (full column rank).
    Z : ndarray, shape (N, q)
        Random-effects design of each row (e.g. ``[1, time]``).
    groups : ndarray, shape (N,)
        Integer group codes ``0 .. m-1``.
    """

    def __init__(self, y: np.ndarray, X: np.ndarray, Z: np.ndarray, groups: np.ndarray):
        y = np.asarray(y, dtype=float)
        X = np.asarray(X, dtype=float)
        Z = np.asarray(Z, dtype=float)
        codes = np.asarray(groups, dtype=np.intp)
        self.N, self.p = X.shape
        self.q = Z.shape[1]
        sizes = np.bincount(codes)
        self.m = int(sizes.size)
        self.sizes = sizes
        n = int(sizes.max())
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        pos = np.arange(self.N) - starts[sorted_codes]
        self.X = np.zeros((self.m, n, self.p))
        self.Z = np.zeros((self.m, n, self.q))
        self.y = np.zeros((self.m, n))
        self.mask = np.zeros((self.m, n))
        self.X[sorted_codes, pos] = X[order]
        self.Z[sorted_codes, pos] = Z[order]
        self.y[sorted_codes, pos] = y[order]
        self.mask[sorted_codes, pos] = 1.0
        self.n_theta = self.q * (self.q + 1) // 2
        # Rows of the original data in padded order, to map fitted values back if needed.
        self.row_index = (sorted_codes, pos, order)


@dataclass
class RemlEval:
    """The criterion and its derivatives at one value of ``psi = (theta, sigma)``."""

    psi: np.ndarray
    reml: bool
    deviance: float  # -2 log-likelihood (REML or ML), lme4 convention
    beta: np.ndarray  # GLS estimate of the fixed effects at psi
    cov_beta: np.ndarray  # C = (X' V^-1 X)^-1, data scale
    G: np.ndarray  # random-effects covariance, data scale
    sigma2: float
    grad: np.ndarray | None = None  # dD/dpsi
    hess: np.ndarray | None = None  # d2D/dpsi2
    dcov_beta: np.ndarray | None = None  # dC/dpsi_a, shape (k, p, p)


def _directions(theta: np.ndarray, sigma: float, q: int):
    """First and second derivatives of ``(G, sigma^2)`` with respect to ``psi``.

    Returns lists ``first[a] = (dG, ds)`` and ``second[a][b] = (d2G, d2s)``.
    """
    lam = lambda_from_theta(theta, q)
    g_rel = lam @ lam.T
    pos = theta_positions(q)
    units = []
    for i, j in pos:
        e = np.zeros((q, q))
        e[i, j] = 1.0
        units.append(e)
    t = len(pos)
    s2 = sigma * sigma
    first = [(s2 * (e @ lam.T + lam @ e.T), 0.0) for e in units]
    first.append((2.0 * sigma * g_rel, 2.0 * sigma))
    k = t + 1
    second: list[list[tuple[np.ndarray, float]]] = [[None] * k for _ in range(k)]  # type: ignore
    for a in range(t):
        for b in range(t):
            ea, eb = units[a], units[b]
            second[a][b] = (s2 * (ea @ eb.T + eb @ ea.T), 0.0)
        mixed = (2.0 * sigma * (units[a] @ lam.T + lam @ units[a].T), 0.0)
        second[a][t] = mixed
        second[t][a] = mixed
    second[t][t] = (2.0 * g_rel, 2.0)
    return first, second


def evaluate(design: GroupedDesign, psi: np.ndarray, reml: bool = True,
             derivatives: bool = True) -> RemlEval:
    """Evaluate the (RE)ML deviance, GLS estimates and, optionally, exact derivatives.

    Parameters
    ----------
    design : GroupedDesign
        The data.
    psi : ndarray, shape (q (q + 1) / 2 + 1,)
        ``(theta, sigma)``; ``sigma`` (residual SD, data units) must be positive.
    reml : bool
        REML (default) or ML criterion.
    derivatives : bool
        Also compute the gradient, Hessian and ``dC/dpsi``.

    Returns
    -------
    RemlEval
        ``deviance`` is ``inf`` when ``sigma <= 0``.
    """
    d = design
    psi = np.asarray(psi, dtype=float)
    theta, sigma = psi[:-1], float(psi[-1])
    q, p = d.q, d.p
    lam = lambda_from_theta(theta, q)
    g_rel = lam @ lam.T
    sigma2 = sigma * sigma
    G = sigma2 * g_rel
    if not sigma > 0:
        return RemlEval(psi, reml, np.inf, np.full(p, np.nan), np.full((p, p), np.nan), G, sigma2)
    mask = d.mask
    n = mask.shape[1]
    eye = np.eye(n)
    # Padded rows get variance 1 and no random effects: they decouple and cost nothing.
    V = np.einsum("gia,ab,gjb->gij", d.Z, G, d.Z) + (sigma2 * mask + (1.0 - mask))[:, :, None] * eye
    chol = np.linalg.cholesky(V)
    logdet_v = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum()
    W = np.linalg.inv(V)
    W = 0.5 * (W + np.swapaxes(W, 1, 2))
    WX = W @ d.X
    A = np.einsum("gip,giq->pq", d.X, WX)
    c_chol = np.linalg.cholesky(A)
    C = np.linalg.inv(A)
    C = 0.5 * (C + C.T)
    beta = C @ np.einsum("gip,gi->p", WX, d.y)
    r = d.y - d.X @ beta
    w = np.einsum("gij,gj->gi", W, r)  # P y, per group
    quad = float(np.sum(r * w))
    dev = logdet_v + quad + d.N * LOG_2PI
    if reml:
        dev += 2.0 * np.log(np.diagonal(c_chol)).sum() - p * LOG_2PI
    out = RemlEval(psi, reml, float(dev), beta, C, G, sigma2)
    if not derivatives:
        return out

    first, second = _directions(theta, sigma, q)
    k = len(first)
    # Linear functionals of a direction V* = Z dG Z' + ds I (real rows only):
    #   tr(P V*) = tr(S1 dG) + ds trP ;  y'P V* P y = tr(S3 dG) + ds w'w
    ZtWZ = np.einsum("gia,gij,gjb->ab", d.Z, W, d.Z)
    ZtWX = np.einsum("gia,gip->gap", d.Z, WX)
    tr_w = float(np.einsum("gii,gi->", W, mask))
    if reml:
        S1 = ZtWZ - np.einsum("gap,pr,gbr->ab", ZtWX, C, ZtWX)
        tr_p = tr_w - float(np.trace(C @ np.einsum("gip,giq->pq", WX, WX)))
    else:
        S1, tr_p = ZtWZ, tr_w
    zw = np.einsum("gia,gi->ga", d.Z, w)
    S3 = zw.T @ zw
    ww = float(np.sum(w * w))

    def tr_pv(dG, ds):
        return float(np.sum(S1 * dG) + ds * tr_p)

    def quad_pvp(dG, ds):
        return float(np.sum(S3 * dG) + ds * ww)

    dGs = np.stack([f[0] for f in first])
    dss = np.array([f[1] for f in first])
    Va = np.einsum("gia,kab,gjb->kgij", d.Z, dGs, d.Z) + dss[:, None, None, None] * (
        mask[None, :, :, None] * eye)
    Ma = np.einsum("gij,kgjl->kgil", W, Va)  # W V_a
    tr_wvwv = np.einsum("agij,bgji->ab", Ma, Ma)
    Ta = np.einsum("kgij,gjp->kgip", Va, WX)  # V_a W X
    Ua = np.einsum("gij,kgjp->kgip", W, Ta)  # W V_a W X
    Q = np.einsum("gip,kgiq->kpq", WX, Ta)  # X'W V_a W X
    R = np.einsum("agip,bgiq->abpq", Ta, Ua)  # X'W V_a W V_b W X
    CQ = np.einsum("pr,krs->kps", C, Q)
    u = np.einsum("kgij,gj->kgi", Va, w)  # V_a P y
    uWu = np.einsum("agi,gij,bgj->ab", u, W, u)
    s = np.einsum("gip,kgi->kp", WX, u)
    y_pvpvp_y = uWu - s @ C @ s.T
    if reml:
        tr_crab = np.einsum("pq,abqp->ab", C, R)
        tr_pvpv = tr_wvwv - tr_crab - tr_crab.T + np.einsum("aps,bsp->ab", CQ, CQ)
    else:
        tr_pvpv = tr_wvwv
    grad = np.array([tr_pv(*first[a]) - quad_pvp(*first[a]) for a in range(k)])
    hess = np.empty((k, k))
    for a in range(k):
        for b in range(a, k):
            dG2, ds2 = second[a][b]
            h = tr_pv(dG2, ds2) - tr_pvpv[a, b] + 2.0 * y_pvpvp_y[a, b] - quad_pvp(dG2, ds2)
            hess[a, b] = hess[b, a] = h
    out.grad = grad
    out.hess = hess
    out.dcov_beta = np.einsum("kps,sr->kpr", CQ, C)  # C Q_a C
    return out


def normalise_psi(psi: np.ndarray, q: int) -> np.ndarray:
    """Flip column signs of ``Lambda`` so its diagonal is non-negative (same model)."""
    psi = np.array(psi, dtype=float)
    lam = lambda_from_theta(psi[:-1], q)
    signs = np.where(np.diag(lam) < 0, -1.0, 1.0)
    lam = lam * signs[None, :]
    psi[:-1] = [lam[i, j] for i, j in theta_positions(q)]
    psi[-1] = abs(psi[-1])
    return psi


@dataclass
class RefineInfo:
    """Outcome of :func:`refine`."""

    iterations: int
    converged: bool
    decrement: float  # Newton decrement g' H^-1 g / 2 at the end (deviance units)
    improvement: float  # deviance at start minus deviance at end (>= 0)


def refine(design: GroupedDesign, psi0: np.ndarray, reml: bool = True, max_iter: int = 50,
           tol: float = 1e-12) -> tuple[RemlEval, RefineInfo]:
    """Minimise the deviance over ``psi`` by damped Newton steps from ``psi0``.

    Used to polish an optimiser's answer to the exact stationary point (so that derivatives,
    singularity checks and estimates agree with lme4's) and for the ML refit started at the REML
    estimates. The Hessian is made positive definite by taking absolute eigenvalues, and a
    backtracking line search guarantees the deviance never increases.

    Parameters
    ----------
    design : GroupedDesign
    psi0 : ndarray
        Start ``(theta, sigma)``.
    reml : bool
        Criterion to minimise.
    max_iter : int
        Maximum Newton iterations.
    tol : float
        Stop when the Newton decrement (expected decrease of the deviance) is below this.

    Returns
    -------
    RemlEval, RefineInfo
    """
    cur = evaluate(design, normalise_psi(psi0, design.q), reml=reml)
    start_dev = cur.deviance
    iterations = 0
    while True:
        step = _newton_step(cur)
        decrement = float(-(cur.grad @ step)) / 2.0  # expected decrease of the deviance
        if decrement < tol or iterations >= max_iter:
            break
        t, accepted = 1.0, None
        while t > 1e-8:
            trial_psi = cur.psi + t * step
            if trial_psi[-1] > 0:
                trial = evaluate(design, trial_psi, reml=reml)
                if trial.deviance <= cur.deviance + 1e-4 * t * float(cur.grad @ step):
                    accepted = trial
                    break
            t *= 0.5
        if accepted is None:
            break  # no descent along the Newton direction: at the optimum to rounding error
        cur = accepted
        iterations += 1
    final = evaluate(design, normalise_psi(cur.psi, design.q), reml=reml)
    converged = decrement < max(tol, 1e-6)
    return final, RefineInfo(iterations, converged, decrement, start_dev - final.deviance)


def _newton_step(ev: RemlEval) -> np.ndarray:
    """Newton direction with the Hessian made positive definite (absolute eigenvalues)."""
    evals, evecs = np.linalg.eigh(ev.hess)
    floor = 1e-10 * max(1.0, float(np.abs(evals).max()))
    return -evecs @ ((evecs.T @ ev.grad) / np.maximum(np.abs(evals), floor))


def vcov_varpar(hess: np.ndarray, tol: float = EIGEN_TOL) -> tuple[np.ndarray, int, int]:
    """Asymptotic covariance ``A = 2 H^+`` of ``psi`` (lmerTest: positive eigenvalues only).

    Returns
    -------
    A : ndarray
        Covariance matrix of ``(theta, sigma)``.
    n_negative, n_zero : int
        Counts of negative and ~zero eigenvalues of ``H`` (a sign of non-convergence or of
        parameters on the boundary).
    """
    evals, evecs = np.linalg.eigh(0.5 * (hess + hess.T))
    pos = evals > tol
    inv = (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    return 2.0 * inv, int(np.sum(evals < -tol)), int(np.sum(np.abs(evals) <= tol))


def satterthwaite_df(L: np.ndarray, cov_beta: np.ndarray, dcov_beta: np.ndarray,
                     A: np.ndarray) -> np.ndarray:
    """Satterthwaite degrees of freedom of each row of a contrast matrix.

    Parameters
    ----------
    L : ndarray, shape (r, p)
        One contrast per row.
    cov_beta : ndarray, shape (p, p)
        ``C = Var(beta_hat)``.
    dcov_beta : ndarray, shape (k, p, p)
        ``dC/dpsi_a``.
    A : ndarray, shape (k, k)
        Asymptotic covariance of ``psi``.

    Returns
    -------
    ndarray, shape (r,)
        ``2 (l' C l)^2 / (g' A g)``; ``inf`` when ``g' A g`` is zero (no variance-parameter
        uncertainty reaches the contrast).
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    var = np.einsum("rp,pq,rq->r", L, cov_beta, L)
    g = np.einsum("rp,kpq,rq->rk", L, dcov_beta, L)
    denom = np.einsum("rk,kl,rl->r", g, A, g)
    with np.errstate(divide="ignore"):
        return np.where(denom > 0, 2.0 * var**2 / denom, np.inf)
