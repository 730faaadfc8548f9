"""Speed of the model layer, measured (not asserted). Run by hand:

    PYTHONPATH=. python benchmarks/bench_models.py

Reports the median wall time of
- a bare statsmodels MixedLM REML fit (default optimiser list, default start values),
- the full ``growth_model`` / ``outcome_model`` / ``compare_predictors`` (statsmodels fit with
  moment start values + Newton refinement + Satterthwaite + ML refit + null-model ICC + R^2),
- the Satterthwaite ingredients in closed form vs by central finite differences in
  (theta, sigma) (lmerTest's numerical route: Hessian + Jacobian of Var(beta)),
on an 8-dyad x 6-session study and on a 100-dyad x 20-session study.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd


def _study(m: int, n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(m), n)
    t = np.tile(np.arange(1, n + 1), m).astype(float)
    sync = (0.3 + rng.normal(0, 0.05, m)[g] + (0.02 + rng.normal(0, 0.01, m)[g]) * t
            + rng.normal(0, 0.04, m * n))
    alliance = 4 + rng.normal(0, 0.5, m)[g] + 0.1 * t + rng.normal(0, 0.3, m * n)
    symptoms = 20 + rng.normal(0, 2, m)[g] - 0.5 * t - 20 * sync + rng.normal(0, 1, m * n)
    return pd.DataFrame({"dyad": g, "session": t, "synchrony": sync, "alliance": alliance,
                         "symptoms": symptoms})


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _finite_difference_satterthwaite(design, psi, h=1e-4):
    from studymgr.compute.models import satterthwaite as sw

    k = len(psi)
    steps = h * np.maximum(1.0, np.abs(psi))
    hess = np.zeros((k, k))
    jac = np.zeros((k, design.p, design.p))

    def dev(p):
        return sw.evaluate(design, p, derivatives=False).deviance

    for a in range(k):
        ea = np.zeros(k)
        ea[a] = steps[a]
        jac[a] = (sw.evaluate(design, psi + ea, derivatives=False).cov_beta
                  - sw.evaluate(design, psi - ea, derivatives=False).cov_beta) / (2 * steps[a])
        for b in range(a, k):
            eb = np.zeros(k)
            eb[b] = steps[b]
            hess[a, b] = hess[b, a] = (dev(psi + ea + eb) - dev(psi + ea - eb)
                                       - dev(psi - ea + eb) + dev(psi - ea - eb)) / (
                4 * steps[a] * steps[b])
    return hess, jac


def main() -> None:
    from statsmodels.regression.mixed_linear_model import MixedLM

    from studymgr.compute.models import compare_predictors, growth_model, outcome_model
    from studymgr.compute.models import satterthwaite as sw

    warnings.simplefilter("ignore")
    print(f"{'case':<52}{'8x6':>12}{'100x20':>12}")
    rows: dict[str, list[float]] = {}
    for m, n, repeat in ((8, 6, 20), (100, 20, 3)):
        df = _study(m, n)
        y = df.synchrony.to_numpy()
        X = np.column_stack([np.ones(len(df)), df.session])
        codes = df.dyad.to_numpy()
        cases = {
            "statsmodels MixedLM fit, (1 + session | dyad)":
                lambda y=y, X=X, codes=codes: MixedLM(y, X, groups=codes, exog_re=X).fit(),
            "growth_model (complete result)":
                lambda df=df: growth_model(df, "synchrony", "session", "dyad"),
            "outcome_model, 1 predictor (complete result)":
                lambda df=df: outcome_model(df, "symptoms", "synchrony", "session", "dyad"),
            "compare_predictors (complete result)":
                lambda df=df: compare_predictors(df, "symptoms", "synchrony", "alliance",
                                                 "session", "dyad"),
        }
        design = sw.GroupedDesign(y, X, X, pd.factorize(codes)[0])
        ev, _ = sw.refine(design, np.array([1.0, 0.1, 0.2, 0.05]))
        cases["Satterthwaite inputs, closed form (1 evaluation)"] = (
            lambda design=design, ev=ev: sw.evaluate(design, ev.psi))
        cases["Satterthwaite inputs, finite differences"] = (
            lambda design=design, ev=ev: _finite_difference_satterthwaite(design, ev.psi))
        for name, fn in cases.items():
            rows.setdefault(name, []).append(_median_time(fn, repeat))
    for name, values in rows.items():
        print(f"{name:<52}" + "".join(f"{v * 1e3:>10.1f}ms" for v in values))


if __name__ == "__main__":
    main()
