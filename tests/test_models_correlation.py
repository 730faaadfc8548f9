"""Repeated-measures correlation and Benjamini-Hochberg FDR.

Compared with: statsmodels' ``multipletests(method="fdr_bh")``; the Bland & Altman (1995)
pH / PaCO2 example as analysed by the rmcorr R package (Bakdash & Marusich 2017: r_rm = -0.507,
df = 38, p = 0.0008), shipped with pingouin; and the hand definition of r_rm as the correlation
of dyad-mean-centred x and y.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from studymgr.compute.models import fdr, rm_correlations
from studymgr.errors import InputError


def test_fdr_matches_statsmodels():
    """Random p-values with ties and exact zeros/ones: same adjusted values as statsmodels."""
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(0, 0.1, 30), rng.uniform(0, 1, 30), [0.0, 1.0, 0.02, 0.02]])
    expected = multipletests(p, method="fdr_bh")[1]
    np.testing.assert_allclose(fdr(p), expected, rtol=1e-12)


def test_fdr_keeps_shape_index_and_missing_values():
    p = pd.Series([0.01, np.nan, 0.04, 0.03], index=["roi1", "roi2", "roi3", "roi4"])
    out = fdr(p)
    assert list(out.index) == list(p.index) and np.isnan(out["roi2"])
    expected = multipletests([0.01, 0.04, 0.03], method="fdr_bh")[1]
    np.testing.assert_allclose(out.dropna().to_numpy(), expected)
    grid = np.array([[0.01, 0.2], [0.03, 0.5]])
    np.testing.assert_allclose(fdr(grid).ravel(), multipletests(grid.ravel(), method="fdr_bh")[1])
    assert fdr([]).size == 0
    with pytest.raises(InputError, match="between 0 and 1"):
        fdr([0.5, 1.2])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=40))
def test_fdr_properties(pvalues):
    """Adjusted p-values are >= the raw ones, <= 1, order-preserving, and equal statsmodels'."""
    p = np.array(pvalues)
    adj = fdr(p)
    assert np.all(adj >= p - 1e-15) and np.all(adj <= 1.0)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(adj[order]) >= -1e-15)
    np.testing.assert_allclose(adj, multipletests(p, method="fdr_bh")[1], rtol=1e-12, atol=0)


def test_rm_corr_bland_altman_reference():
    """pH vs PaCO2 in 8 subjects (47 rows): rmcorr's published r_rm = -0.507, df 38."""
    import pingouin as pg

    data = pg.read_dataset("rm_corr")
    res = rm_correlations(data, "pH", "PacO2", "Subject")
    row = res.iloc[0]
    assert row.r == pytest.approx(-0.50677, abs=1e-5)
    assert row.dof == 38 and row.n_obs == 47 and row.n_groups == 8
    assert row.p == pytest.approx(0.000847, abs=1e-6)
    assert row.ci_low < row.r < row.ci_high
    assert row.p_fdr == pytest.approx(row.p)


def test_rm_corr_equals_correlation_of_centred_values():
    """r_rm is the Pearson correlation of subject-mean-centred x and y (dof = N - S - 1)."""
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(6), 5)
    x = rng.normal(0, 1, 30) + rng.normal(0, 3, 6)[g]
    y = 0.5 * x + rng.normal(0, 1, 30) + rng.normal(0, 3, 6)[g]
    z = rng.normal(0, 1, 30)
    df = pd.DataFrame({"dyad": g, "x": x, "y": y, "z": z})
    res = rm_correlations(df, "x", ["y", "z"], "dyad")
    centred = df[["x", "y", "z"]] - df.groupby("dyad")[["x", "y", "z"]].transform("mean")
    for _, row in res.iterrows():
        r = np.corrcoef(centred["x"], centred[row.y])[0, 1]
        assert row.r == pytest.approx(r, rel=1e-10)
        assert row.dof == 30 - 6 - 1
    np.testing.assert_allclose(res.p_fdr, multipletests(res.p, method="fdr_bh")[1])


def test_rm_corr_degenerate_input():
    df = pd.DataFrame({"dyad": [1, 1, 2, 2], "x": [1.0, 2, 3, 4], "y": [2.0, 1, 4, 3]})
    with pytest.raises(InputError, match="at least 3 dyads"):
        rm_correlations(df, "x", "y", "dyad")
    df = pd.DataFrame({"dyad": np.repeat([1, 2, 3], 3), "x": np.repeat([1.0, 2, 3], 3),
                       "y": np.arange(9.0)})
    with pytest.raises(InputError, match="does not vary within any dyad"):
        rm_correlations(df, "x", "y", "dyad")
    with pytest.raises(InputError, match="not found"):
        rm_correlations(df, "x", "nope", "dyad")
    with pytest.raises(InputError, match="no pair"):
        rm_correlations(df, "x", "x", "dyad")
