"""Mixed models: reference values (lme4/lmerTest), classical-ANOVA identities, planted effects.

Each test names what it compares with: published lme4/lmerTest output on ``sleepstudy``,
closed-form ANOVA results for balanced designs, ordinary least squares, statsmodels' ML fit,
hand-computed tables, or effects planted in simulated studies.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from studymgr.compute.models import (
    ModelResult,
    compare_predictors,
    growth_model,
    outcome_model,
)
from studymgr.compute.models.centering import lag_pairs, within_between
from studymgr.compute.models.mixed import _plain_warning
from studymgr.errors import InputError

# --------------------------------------------------------------------------------------------
# Synthetic studies with planted effects
# --------------------------------------------------------------------------------------------

GROWTH = 0.02  # synchrony units per session
B_SYNC = -20.0  # symptom points per unit of within-dyad synchrony


def simulate_study(rng: np.random.Generator, m: int = 8, n: int = 6) -> pd.DataFrame:
    """A Sened-et-al.-sized study: synchrony grows by GROWTH per session (random intercepts and
    slopes), symptoms fall with time and with within-dyad synchrony (B_SYNC), alliance grows
    with time but has NO effect on symptoms."""
    g = np.repeat(np.arange(m), n)
    t = np.tile(np.arange(1, n + 1), m).astype(float)
    u0, u1 = rng.normal(0, 0.05, m), rng.normal(0, 0.01, m)
    sync = 0.3 + u0[g] + (GROWTH + u1[g]) * t + rng.normal(0, 0.04, m * n)
    alliance = 4 + rng.normal(0, 0.5, m)[g] + 0.1 * t + rng.normal(0, 0.3, m * n)
    dyad_mean = pd.Series(sync).groupby(g).transform("mean").to_numpy()
    symptoms = (20 + rng.normal(0, 2, m)[g] - 0.5 * t + B_SYNC * (sync - dyad_mean)
                + rng.normal(0, 1.0, m * n))
    return pd.DataFrame({"dyad": [f"D{k:02d}" for k in g], "session": t.astype(int),
                         "synchrony": sync, "alliance": alliance, "symptoms": symptoms})


def simulate_null_growth(rng: np.random.Generator, m: int = 8, n: int = 6) -> pd.DataFrame:
    """No average growth: random intercepts (SD 1) and random slopes (SD 0.3), residual SD 1."""
    g = np.repeat(np.arange(m), n)
    t = np.tile(np.arange(1, n + 1), m).astype(float)
    y = 0.5 + rng.normal(0, 1, m)[g] + rng.normal(0, 0.3, m)[g] * t + rng.normal(0, 1, m * n)
    return pd.DataFrame({"dyad": [f"D{k}" for k in g], "session": t, "synchrony": y})


# --------------------------------------------------------------------------------------------
# Reference: lme4 / lmerTest on sleepstudy
# --------------------------------------------------------------------------------------------


def test_sleepstudy_matches_lme4_and_lmertest(shared_data):
    """lme4 REML fit of Reaction ~ Days + (Days | Subject) and lmerTest's Satterthwaite tests
    (values from shared/data/README.md); R^2 from easystats/performance's README
    (r2(model): conditional 0.799, marginal 0.279); ML AIC/BIC from statsmodels' ML fit."""
    path = shared_data / "reference" / "sleepstudy.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    df = pd.read_csv(path)
    res = growth_model(df, y="Reaction", time="Days", group="Subject")
    assert res.formula == "Reaction ~ Days + (1 + Days | Subject)"
    assert res.fit.fallback is None and not res.fit.singular and res.fit.converged
    fx = res.fixed.set_index("term")
    days, icpt = fx.loc["Days"], fx.loc["(Intercept)"]
    assert days.estimate == pytest.approx(10.467, abs=5e-4)
    assert days.se == pytest.approx(1.546, abs=5e-4)
    assert days.df == pytest.approx(17.0, abs=5e-3)
    assert days.t == pytest.approx(6.771, abs=5e-4)
    assert days.p == pytest.approx(3.26e-06, abs=5e-9)
    assert icpt.estimate == pytest.approx(251.405, abs=5e-4)
    assert icpt.se == pytest.approx(6.825, abs=5e-4)
    assert icpt.df == pytest.approx(17.0, abs=5e-3)
    rnd = res.random
    sd = rnd[rnd.var2.isna()].set_index(rnd[rnd.var2.isna()].group + ":"
                                        + rnd[rnd.var2.isna()].var1.fillna(""))["sdcor"]
    # Variance parameters: the reference is rounded to 3 decimals (+-5e-4) and the REML
    # surface is flat here (a 1e-3 change in an SD moves the criterion by ~1e-8), so optimisers
    # (lme4's bobyqa included) agree to ~1e-3; we sit at the exact stationary point.
    assert sd["Subject:(Intercept)"] == pytest.approx(24.741, abs=1e-3)
    assert sd["Subject:Days"] == pytest.approx(5.922, abs=1e-3)
    assert sd["Residual:"] == pytest.approx(25.592, abs=1e-3)
    corr = rnd[rnd.var2.notna()].sdcor.iloc[0]
    assert corr == pytest.approx(0.066, abs=1e-3)
    assert res.fit.deviance == pytest.approx(1743.6, abs=0.05)
    assert res.fit.deviance == pytest.approx(-2 * res.fit.loglik)
    assert res.r2["marginal"] == pytest.approx(0.279, abs=5e-4)
    assert res.r2["conditional"] == pytest.approx(0.799, abs=5e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = sm.MixedLM.from_formula("Reaction ~ Days", df, groups="Subject",
                                     re_formula="~Days").fit(reml=False)
    assert res.fit.loglik_ml == pytest.approx(ml.llf, abs=1e-4)
    assert res.fit.aic == pytest.approx(ml.aic, abs=1e-3)  # lme4: 1763.9
    assert res.fit.bic == pytest.approx(ml.bic, abs=1e-3)  # lme4: 1783.1
    assert res.fit.n_params == 6


def test_sleepstudy_null_icc_equals_anova_estimator(shared_data):
    """For balanced data the REML random-intercept estimates are the ANOVA estimators
    sigma^2 = MSW, tau^2 = (MSB - MSW) / n; the ICC must equal tau^2 / (tau^2 + sigma^2)."""
    path = shared_data / "reference" / "sleepstudy.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    df = pd.read_csv(path)
    res = growth_model(df, y="Reaction", time="Days", group="Subject")
    assert res.icc == pytest.approx(_anova_icc(df, "Reaction", "Subject"), rel=1e-6)


def _anova_icc(df: pd.DataFrame, y: str, group: str) -> float:
    groups = df.groupby(group)[y]
    m, n = groups.ngroups, int(groups.size().iloc[0])
    msw = float(((df[y] - groups.transform("mean")) ** 2).sum()) / (m * (n - 1))
    msb = n * float(((groups.mean() - df[y].mean()) ** 2).sum()) / (m - 1)
    tau2 = (msb - msw) / n
    return tau2 / (tau2 + msw)


# --------------------------------------------------------------------------------------------
# Hand-checkable identities
# --------------------------------------------------------------------------------------------


def _balanced_ri(seed: int = 7, m: int = 10, n: int = 5) -> pd.DataFrame:
    """Balanced random-intercept data with a dyad-level predictor and a within predictor."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(m), n)
    xb = rng.normal(0, 1, m)
    xw = rng.normal(0, 1, m * n)
    xw = xw - pd.Series(xw).groupby(g).transform("mean").to_numpy()  # exactly within-centred
    y = 1 + 0.8 * xb[g] + 0.5 * xw + rng.normal(0, 2.0, m)[g] + rng.normal(0, 1, m * n)
    return pd.DataFrame({"dyad": g, "time": np.tile(np.arange(n), m), "xb": xb[g], "xw": xw,
                         "y": y})


def test_balanced_design_df_equal_classical_anova_df():
    """Balanced random-intercept design: the Satterthwaite df are the classical ANOVA df
    (between-dyad predictor m - 2; within-dyad predictor N - m - 2, as the session covariate
    takes one within-dyad df), and the t statistics equal OLS on dyad means (between) and the
    within-dyad regression on dyad-centred data (within)."""
    df = _balanced_ri()
    m, n_obs = df.dyad.nunique(), len(df)
    res = outcome_model(df, "y", ["xb", "xw"], time="time", group="dyad", center="none")
    fx = res.fixed.set_index("term")
    assert res.fit.n_obs == n_obs and not res.fit.singular
    means = df.groupby("dyad")[["y", "xb"]].mean()
    between = sm.OLS(means.y, sm.add_constant(means.xb)).fit()
    centred = df[["y", "time", "xw"]] - df.groupby("dyad")[["y", "time", "xw"]].transform("mean")
    within = sm.OLS(centred.y, centred[["time", "xw"]]).fit()
    se_within = within.bse["xw"] * np.sqrt(within.df_resid / (n_obs - m - 2))
    assert fx.loc["xb", "df"] == pytest.approx(m - 2, abs=1e-4)
    assert fx.loc["xw", "df"] == pytest.approx(n_obs - m - 2, abs=1e-4)
    assert fx.loc["xb", "estimate"] == pytest.approx(between.params["xb"], rel=1e-8)
    assert fx.loc["xb", "t"] == pytest.approx(between.tvalues["xb"], rel=1e-6)
    assert fx.loc["xw", "estimate"] == pytest.approx(within.params["xw"], rel=1e-8)
    assert fx.loc["xw", "t"] == pytest.approx(within.params["xw"] / se_within, rel=1e-6)


def test_within_contrast_df_is_within_residual_df():
    """Two within-dyad predictors in a balanced design: Var of any contrast of them depends on
    sigma^2 alone, whose REML estimate is the within-dyad mean square, so the Satterthwaite df
    of their difference is N - m - 3 (within-dyad residual df after session and the two
    predictors) and the t equals the within-dyad regression's. (With unequal group sizes the
    between-dyad stratum also informs sigma^2 and the df are only close to N - m - 3.)"""
    rng = np.random.default_rng(5)
    sizes = [6] * 8
    g = np.repeat(np.arange(len(sizes)), sizes)
    n_obs, m = len(g), len(sizes)
    t = np.concatenate([np.arange(s) for s in sizes]).astype(float)
    t_w = t - pd.Series(t).groupby(g).transform("mean").to_numpy()
    a = rng.normal(0, 1, n_obs) + 0.3 * t
    b = rng.normal(0, 1, n_obs)
    y = (2 + 0.4 * a - 0.2 * b + 0.1 * t + rng.normal(0, 3, len(sizes))[g]
         + rng.normal(0, 1, n_obs))
    df = pd.DataFrame({"dyad": g, "session": t_w, "a": a, "b": b, "y": y})
    # Make 'a' and 'b' purely within-dyad so their centred versions equal themselves.
    for col in ("a", "b"):
        df[col] = df[col] - df.groupby("dyad")[col].transform("mean")
    res = outcome_model(df, "y", ["a", "b"], "session", "dyad", center="none")
    row = res.contrast({"a": 1.0, "b": -1.0}).iloc[0]
    assert row.df == pytest.approx(n_obs - m - 3, abs=1e-4)
    yc = df.y - df.groupby("dyad").y.transform("mean")
    within = sm.OLS(yc, df[["session", "a", "b"]]).fit()
    diff = within.params["a"] - within.params["b"]
    cov = within.cov_params() * within.df_resid / (n_obs - m - 3)
    se = np.sqrt(cov.loc["a", "a"] + cov.loc["b", "b"] - 2 * cov.loc["a", "b"])
    assert row.estimate == pytest.approx(diff, rel=1e-7)
    assert row.t == pytest.approx(diff / se, rel=1e-5)
    # The contrast of a single term reproduces the fixed-effects row.
    single = res.contrast({"a": 1.0}).iloc[0]
    fixed_a = res.fixed.set_index("term").loc["a"]
    for col in ("estimate", "se", "df", "t", "p", "ci_low", "ci_high"):
        assert single[col] == pytest.approx(fixed_a[col], rel=1e-12)


def test_zero_intercept_variance_reduces_to_ols():
    """Identical dyad means (tau^2 estimate exactly 0): the fit is singular, says so, and the
    estimates, SEs and df equal ordinary least squares (df = N - p)."""
    rng = np.random.default_rng(2)
    m, n = 6, 5
    g = np.repeat(np.arange(m), n)
    x = rng.normal(0, 1, m * n)
    y = rng.normal(0, 1, m * n)
    y = y - pd.Series(y).groupby(g).transform("mean").to_numpy()  # equal dyad means
    df = pd.DataFrame({"dyad": g, "session": np.tile(np.arange(n), m), "x": x, "y": y})
    res = outcome_model(df, "y", "x", "session", "dyad", center="none")
    assert res.fit.singular
    assert any("~0" in w for w in res.fit.warnings)
    ols = sm.OLS(df.y, sm.add_constant(df[["session", "x"]])).fit()
    fx = res.fixed.set_index("term")
    np.testing.assert_allclose(fx.estimate.to_numpy(), ols.params.to_numpy(), atol=1e-9)
    np.testing.assert_allclose(fx.se.to_numpy(), ols.bse.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(fx.df.to_numpy(), ols.df_resid, rtol=1e-6)


def test_singular_random_slope_falls_back_and_says_so():
    """Every dyad's own least-squares slope is identical, so the REML slope variance is 0:
    the random-slope fit is singular, the model falls back to (1 | dyad) and says so."""
    rng = np.random.default_rng(4)
    m, n = 8, 6
    g = np.repeat(np.arange(m), n)
    t = np.tile(np.arange(1.0, n + 1), m)
    e = rng.normal(0, 1, m * n)
    for k in range(m):  # remove each dyad's own intercept/slope from the noise
        rows = g == k
        Z = np.column_stack([np.ones(n), t[rows]])
        e[rows] -= Z @ np.linalg.lstsq(Z, e[rows], rcond=None)[0]
    y = rng.normal(0, 1, m)[g] + 0.5 * t + e
    df = pd.DataFrame({"dyad": [f"D{k}" for k in g], "session": t, "synchrony": y})
    res = growth_model(df, "synchrony", "session", "dyad")
    assert res.fit.fallback is not None and "singular" in res.fit.fallback
    assert res.formula == "synchrony ~ session + (1 | dyad)"
    assert list(res.random.var1.dropna()) == ["(Intercept)"]
    assert res.config["random_slope"] is True
    # Without the fallback request the random-intercept model is fitted directly.
    direct = growth_model(df, "synchrony", "session", "dyad", random_slope=False)
    assert direct.fit.fallback is None
    pd.testing.assert_frame_equal(direct.fixed, res.fixed)


# --------------------------------------------------------------------------------------------
# Planted effects
# --------------------------------------------------------------------------------------------


def test_planted_effects_are_recovered():
    """Over 40 simulated 8-dyad studies: growth and the synchrony -> symptoms slope are found
    with the right sign, their 95 % CIs cover the planted values, and the absent alliance effect
    is covered by its CI (compare_predictors' contrast covers the planted difference)."""
    n_sim = 40
    cover = {"growth": 0, "sync": 0, "alliance": 0, "contrast": 0}
    found = {"growth": 0, "sync": 0}
    raw_sync = []
    for seed in range(n_sim):
        df = simulate_study(np.random.default_rng(1000 + seed))
        g = growth_model(df, "synchrony", "session", "dyad").fixed.set_index("term")
        row = g.loc["session"]
        cover["growth"] += row.ci_low <= GROWTH <= row.ci_high
        found["growth"] += row.estimate > 0 and row.p < 0.05
        res = compare_predictors(df, "symptoms", "synchrony", "alliance", "session", "dyad")
        fx = res.fixed.set_index("term")
        sd_w = res.config["scales"]["synchrony_within_z"]
        truth = B_SYNC * sd_w  # planted effect per within-dyad SD
        row = fx.loc["synchrony_within_z"]
        cover["sync"] += row.ci_low <= truth <= row.ci_high
        found["sync"] += row.estimate < 0 and row.p < 0.05
        raw_sync.append(row.estimate / sd_w)
        row = fx.loc["alliance_within_z"]
        cover["alliance"] += row.ci_low <= 0.0 <= row.ci_high
        row = res.contrasts.iloc[0]
        cover["contrast"] += row.ci_low <= truth <= row.ci_high
    rates = {k: v / n_sim for k, v in cover.items()}
    assert all(r >= 0.85 for r in rates.values()), rates
    assert found["sync"] / n_sim >= 0.9 and found["growth"] / n_sim >= 0.7, found
    assert np.mean(raw_sync) == pytest.approx(B_SYNC, abs=2.5)


def test_growth_false_positive_rate_under_the_null(record_property):
    """200 simulated 8-dyad x 6-session studies with no average growth (but real random
    slopes): the Satterthwaite t-test of growth, with the singular-fit fallback, rejects at
    alpha = .05 in 2-8 % of studies (nominal 5 %). The z-test's rate (what statsmodels alone
    reports) and the rates with and without fallback are recorded beside it. ~10 s."""
    n_sim = 200
    rng = np.random.default_rng(20250101)
    p_t, p_z, fell_back = [], [], []
    for _ in range(n_sim):
        res = growth_model(simulate_null_growth(rng), "synchrony", "session", "dyad")
        row = res.fixed.set_index("term").loc["session"]
        p_t.append(row.p)
        p_z.append(2 * stats.norm.sf(abs(row.t)))
        fell_back.append(res.fit.fallback is not None)
    rej_t, rej_z = np.array(p_t) < 0.05, np.array(p_z) < 0.05
    fb = np.array(fell_back)
    rate_t, rate_z = float(rej_t.mean()), float(rej_z.mean())
    rate_fb, rate_slope = float(rej_t[fb].mean()), float(rej_t[~fb].mean())
    record_property("false_positive_rate_satterthwaite", rate_t)
    record_property("false_positive_rate_z", rate_z)
    record_property("false_positive_rate_after_fallback", rate_fb)
    record_property("false_positive_rate_random_slope_kept", rate_slope)
    record_property("random_slope_fallbacks", int(fb.sum()))
    message = (f"false-positive rate: Satterthwaite t {rate_t:.3f}, z-test {rate_z:.3f}; "
               f"{int(fb.sum())}/{n_sim} fits fell back to (1 | dyad) (t rate {rate_fb:.3f} "
               f"there, {rate_slope:.3f} where the random slope was kept)")
    print(message)
    assert 0.02 <= rate_t <= 0.08, message
    assert rate_z >= rate_t, message  # p_z <= p_t always: the t tails are heavier


# --------------------------------------------------------------------------------------------
# Centring and lagging
# --------------------------------------------------------------------------------------------


def test_within_between_by_hand():
    """x = [1, 3 | 4, 8, 6]: dyad means 2 and 6, grand mean 4.4."""
    df = pd.DataFrame({"dyad": ["a", "a", "b", "b", "b"], "x": [1.0, 3.0, 4.0, 8.0, 6.0]})
    within, between = within_between(df, "x", "dyad")
    np.testing.assert_allclose(within, [-1, 1, -2, 2, 0])
    np.testing.assert_allclose(between, [-2.4, -2.4, 1.6, 1.6, 1.6])


def test_lag_pairs_strictly_by_time_index():
    """Dyad a has sessions 1, 2, 4 (3 missing): only 1->2 pairs; 2->3 and 4->5 do not exist
    and 2 is NOT paired with 4. Dyad b has 1, 2, 3 with the outcome missing at 3."""
    df = pd.DataFrame({
        "dyad": ["a", "a", "a", "b", "b", "b"],
        "session": [1, 2, 4, 1, 2, 3],
        "y": [10.0, 11.0, 13.0, 20.0, 21.0, np.nan],
        "x": [0.1, 0.2, 0.4, 0.5, 0.6, 0.7],
    })
    pairs, names, unpaired = lag_pairs(df, "y", ["x"], "session", "dyad", 1)
    assert names == {"y": "y_lag1", "x": "x_lag1"}
    got = pairs.sort_values(["dyad", "session"]).reset_index(drop=True)
    expected = pd.DataFrame({"dyad": ["a", "b"], "session": [2.0, 2.0], "y_lag1": [10.0, 20.0],
                             "x_lag1": [0.1, 0.5], "y": [11.0, 21.0]})
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_dtype=False)
    assert unpaired == 3  # a2 (no a3), a4 (no a5), b2 (outcome missing at b3)


def test_lagged_model_recovers_planted_prospective_effect():
    """outcome(t+1) = 0.6 outcome(t) + 3 x(t) + noise: the lag-1 model recovers both (CI) and
    reports the pairing it used."""
    rng = np.random.default_rng(8)
    rows = []
    for d in range(12):
        y_prev, mu = rng.normal(10, 1), rng.normal(0, 0.5)
        for s in range(1, 9):
            x = rng.normal(0, 1)
            rows.append((d, s, y_prev, x))
            y_prev = 4 + mu + 0.6 * y_prev + 3.0 * x + rng.normal(0, 0.5)
    df = pd.DataFrame(rows, columns=["dyad", "session", "y", "x"])
    res = outcome_model(df, "y", "x", "session", "dyad", lag=1)
    fx = res.fixed.set_index("term")
    assert res.formula == ("y ~ session + y_lag1 + x_lag1_within + x_lag1_between "
                           "+ (1 | dyad)")
    assert fx.loc["x_lag1_within", "ci_low"] <= 3.0 <= fx.loc["x_lag1_within", "ci_high"]
    assert fx.loc["y_lag1", "ci_low"] <= 0.6 <= fx.loc["y_lag1", "ci_high"]
    assert res.fit.n_obs == 12 * 7 and res.fit.n_unpaired == 12
    assert "strict" in res.config["lag_pairing"]


# --------------------------------------------------------------------------------------------
# Degenerate input: clear InputError messages
# --------------------------------------------------------------------------------------------


@pytest.fixture
def study_df() -> pd.DataFrame:
    return simulate_study(np.random.default_rng(0))


def test_fewer_than_three_groups(study_df):
    two = study_df[study_df.dyad.isin(["D00", "D01"])]
    with pytest.raises(InputError, match="at least 3 dyads"):
        growth_model(two, "synchrony", "session", "dyad")


def test_constant_outcome(study_df):
    with pytest.raises(InputError, match="constant"):
        growth_model(study_df.assign(synchrony=0.5), "synchrony", "session", "dyad")


def test_every_group_single_observation(study_df):
    first = study_df.groupby("dyad").head(1)
    with pytest.raises(InputError, match="single complete observation"):
        growth_model(first, "synchrony", "session", "dyad")


def test_some_single_observation_groups_only_warn(study_df):
    """lme4 allows groups with one row; the result says how many there are."""
    df = pd.concat([study_df, pd.DataFrame({"dyad": ["S1"], "session": [1], "synchrony": [0.3],
                                            "alliance": [4.0], "symptoms": [20.0]})])
    res = growth_model(df, "synchrony", "session", "dyad", random_slope=False)
    assert res.fit.n_groups == 9
    assert any("single observation" in w and "S1" in w for w in res.fit.warnings)


def test_all_missing_predictor(study_df):
    with pytest.raises(InputError, match="'alliance' has no non-missing values"):
        outcome_model(study_df.assign(alliance=np.nan), "symptoms", "alliance", "session",
                      "dyad")


def test_missing_column_lists_available(study_df):
    with pytest.raises(InputError, match="'wellbeing'.*not found.*available columns"):
        outcome_model(study_df, "wellbeing", "synchrony", "session", "dyad")


def test_non_numeric_and_reused_columns(study_df):
    with pytest.raises(InputError, match="must be numeric"):
        growth_model(study_df.assign(synchrony="high"), "synchrony", "session", "dyad")
    with pytest.raises(InputError, match="both as outcome and as predictor"):
        outcome_model(study_df, "symptoms", "symptoms", "session", "dyad")
    with pytest.raises(InputError, match="center must be one of"):
        outcome_model(study_df, "symptoms", "synchrony", "session", "dyad", center="group")
    with pytest.raises(InputError, match="lag must be"):
        outcome_model(study_df, "symptoms", "synchrony", "session", "dyad", lag=-1)
    with pytest.raises(InputError, match="two different predictors"):
        compare_predictors(study_df, "symptoms", "synchrony", "synchrony", "session", "dyad")


def test_predictor_without_within_variation(study_df):
    df = study_df.assign(trait=study_df.groupby("dyad").alliance.transform("mean"))
    with pytest.raises(InputError, match="does not vary within any dyad"):
        outcome_model(df, "symptoms", "trait", "session", "dyad")


def test_lag_needs_whole_numbers_and_unique_sessions(study_df):
    with pytest.raises(InputError, match="whole numbers"):
        outcome_model(study_df.assign(session=study_df.session + 0.5), "symptoms", "synchrony",
                      "session", "dyad", lag=1)
    with pytest.raises(InputError, match="more than one row"):
        outcome_model(pd.concat([study_df, study_df.head(1)]), "symptoms", "synchrony",
                      "session", "dyad", lag=1)


def test_missing_rows_dropped_and_counted(study_df):
    df = study_df.copy()
    df.loc[[0, 5, 9], "synchrony"] = np.nan
    df.loc[[9, 12], "symptoms"] = np.nan
    res = outcome_model(df, "symptoms", "synchrony", "session", "dyad")
    assert res.fit.n_rows_input == len(df)
    assert res.fit.n_dropped_missing == 4
    assert res.fit.n_obs == len(df) - 4
    growth = growth_model(df, "synchrony", "session", "dyad")
    assert growth.fit.n_dropped_missing == 3


def test_statsmodels_warnings_become_plain_language():
    """statsmodels' ConvergenceWarnings are captured and reworded; its scale-dependent
    boundary heuristic is replaced by the scale-free singularity check."""
    assert "did not converge" in _plain_warning("Retrying MixedLM optimization with lbfgs")
    assert "Newton" in _plain_warning("Gradient optimization failed, |grad| = 0.5")
    assert _plain_warning("The MLE may be on the boundary of the parameter space.") is None
    assert _plain_warning("something new").startswith("statsmodels: ")


# --------------------------------------------------------------------------------------------
# Result object
# --------------------------------------------------------------------------------------------


def test_result_is_tidy_and_json_serialisable(study_df):
    res = compare_predictors(study_df, "symptoms", "synchrony", "alliance", "session", "dyad")
    assert isinstance(res, ModelResult)
    assert list(res.fixed.columns) == ["term", "estimate", "se", "df", "t", "p", "ci_low",
                                       "ci_high"]
    assert list(res.random.columns) == ["group", "var1", "var2", "vcov", "sdcor"]
    assert res.formula == ("symptoms ~ session + synchrony_within_z + synchrony_between_z + "
                           "alliance_within_z + alliance_between_z + (1 | dyad)")
    assert res.contrasts.contrast.iloc[0] == "synchrony_within_z - alliance_within_z"
    assert res.config["standardize"] is True and "scales" in res.config
    payload = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert payload["fit"]["method"] == "REML"
    assert payload["fit"]["ic_method"].startswith("ML refit")
    assert len(payload["fixed"]) == 6 and len(payload["contrasts"]) == 1
    assert 0 <= payload["r2"]["marginal"] <= payload["r2"]["conditional"] <= 1
    with pytest.raises(InputError, match="unknown term"):
        res.contrast({"nope": 1.0})
    with pytest.raises(InputError, match="needs 6 weights"):
        res.contrast(np.ones(3))


def test_ml_option_matches_statsmodels_ml(study_df):
    """reml=False fits by ML: log-likelihood and estimates equal statsmodels' ML fit."""
    res = outcome_model(study_df, "symptoms", "synchrony", "session", "dyad", center="none",
                        reml=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = sm.MixedLM.from_formula("symptoms ~ session + synchrony", study_df,
                                     groups="dyad").fit(reml=False)
    assert res.fit.method == "ML"
    assert res.fit.loglik == pytest.approx(ml.llf, abs=1e-5)
    assert res.fit.aic == pytest.approx(ml.aic, abs=1e-4)
    np.testing.assert_allclose(res.fixed.estimate.to_numpy(), ml.fe_params.to_numpy(),
                               rtol=1e-5)


def test_too_few_observations_for_a_random_slope():
    """Two sessions per dyad: N = 2 m = number of random effects, which lme4 refuses; the
    model falls back to a random intercept and says why."""
    df = simulate_study(np.random.default_rng(6), m=6, n=2)
    res = growth_model(df, "synchrony", "session", "dyad")
    assert "too few observations" in res.fit.fallback
    assert res.formula == "synchrony ~ session + (1 | dyad)"


def test_centring_options_change_intercepts_not_slopes(study_df):
    """Grand-mean centring shifts a predictor by a constant: same slope, SE and df as the raw
    predictor (center='none'); the names say which version entered."""
    raw = outcome_model(study_df, "symptoms", "alliance", "session", "dyad", center="none")
    grand = outcome_model(study_df, "symptoms", "alliance", "session", "dyad", center="grand")
    assert "alliance_c" in grand.formula and grand.config["center"] == "grand"
    a, b = raw.fixed.set_index("term").loc["alliance"], grand.fixed.set_index("term").loc[
        "alliance_c"]
    for col in ("estimate", "se", "df", "t"):
        assert a[col] == pytest.approx(b[col], rel=1e-6)


def test_compare_with_lag_names_the_lagged_terms(study_df):
    res = compare_predictors(study_df, "symptoms", "synchrony", "alliance", "session", "dyad",
                             lag=1)
    assert res.contrasts.contrast.iloc[0] == ("synchrony_lag1_within_z - "
                                              "alliance_lag1_within_z")
    assert "symptoms_lag1" in res.fixed.term.values
    assert res.fit.n_obs == 8 * 5 and res.fit.n_unpaired == 8


def test_numeric_strings_missing_groups_and_infinities(study_df):
    """Numbers stored as text are converted; rows without a dyad are dropped and counted;
    infinite values are refused."""
    df = study_df.astype({"session": str}).astype({"session": object})
    df.loc[0, "dyad"] = None
    res = growth_model(df, "synchrony", "session", "dyad", random_slope=False)
    assert res.fit.n_dropped_missing == 1 and res.fit.n_obs == len(df) - 1
    with pytest.raises(InputError, match="infinite"):
        growth_model(study_df.assign(synchrony=np.inf), "synchrony", "session", "dyad")


def test_statsmodels_failure_is_completed_by_newton(study_df, monkeypatch):
    """If statsmodels raises, the fit is done by Newton iterations on the exact REML criterion
    from moment start values, says so, and gives the same answer as the normal route."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    normal = outcome_model(study_df, "symptoms", "synchrony", "session", "dyad")

    def broken(self, *args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(MixedLM, "fit", broken)
    res = outcome_model(study_df, "symptoms", "synchrony", "session", "dyad")
    assert "statsmodels failed" in res.fit.optimizer
    assert any("statsmodels MixedLM failed" in w for w in res.fit.warnings)
    pd.testing.assert_frame_equal(res.fixed, normal.fixed, rtol=1e-6)


@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_results_do_not_depend_on_units(study_df, scale):
    """Rescaling the outcome (or a predictor) rescales estimates and leaves t, df, p, R^2 and
    the ICC unchanged (coherence values are small: a scale-dependent tolerance would bite)."""
    base = growth_model(study_df, "synchrony", "session", "dyad")
    scaled = growth_model(study_df.assign(synchrony=study_df.synchrony * scale), "synchrony",
                          "session", "dyad")
    np.testing.assert_allclose(scaled.fixed.estimate, base.fixed.estimate * scale, rtol=1e-6)
    for col in ("t", "df", "p"):
        np.testing.assert_allclose(scaled.fixed[col], base.fixed[col], rtol=1e-6)
    assert scaled.r2["marginal"] == pytest.approx(base.r2["marginal"], rel=1e-6)
    assert scaled.icc == pytest.approx(base.icc, rel=1e-6)
    assert scaled.fit.deviance == pytest.approx(
        base.fit.deviance + (len(study_df) - 2) * 2 * np.log(scale), rel=1e-9)
    pred = outcome_model(study_df, "symptoms", "synchrony", "session", "dyad")
    pred_scaled = outcome_model(study_df.assign(synchrony=study_df.synchrony * scale),
                                "symptoms", "synchrony", "session", "dyad")
    for col in ("t", "df", "p"):
        np.testing.assert_allclose(pred_scaled.fixed[col], pred.fixed[col], rtol=1e-6)


def test_outcome_without_residual_variation(study_df):
    exact = study_df.assign(synchrony=0.1 * study_df.session
                            + 0.01 * study_df.dyad.str[1:].astype(int))
    with pytest.raises(InputError, match="no residual variation"):
        growth_model(exact, "synchrony", "session", "dyad")
