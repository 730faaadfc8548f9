"""Mixed-effects models and model-free checks (pure: DataFrame in, tidy result out).

- :func:`growth_model`, :func:`outcome_model`, :func:`compare_predictors`: statsmodels MixedLM
  (REML) with Satterthwaite t-tests, returning a :class:`ModelResult`;
- :func:`rm_correlations`: repeated-measures correlation (pingouin);
- :func:`fdr`: Benjamini-Hochberg adjusted p-values.
"""

from studymgr.compute.models.correlation import fdr, rm_correlations
from studymgr.compute.models.mixed import (
    FitInfo,
    ModelResult,
    compare_predictors,
    growth_model,
    outcome_model,
)

__all__ = [
    "FitInfo",
    "ModelResult",
    "compare_predictors",
    "fdr",
    "growth_model",
    "outcome_model",
    "rm_correlations",
]
