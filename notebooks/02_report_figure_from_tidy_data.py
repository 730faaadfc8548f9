# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The report's main figure and table, from the exported tidy data
#
# The report's central result is *synchrony over sessions*: each dyad's session synchrony
# index, the growth model's mean trajectory with its 95 % confidence band, and the pseudo-dyad
# baseline beside it (report Figure "Synchrony over sessions"), with the growth model's table.
# Here both are rebuilt from the tidy CSV files that `studymgr export data` (and
# `studymgr demo`) write, with nothing but pandas, matplotlib and `studymgr.compute.models` — the route
# a co-author or reviewer without the study database would take.
#
# ```sh
# studymgr demo        # once: ./demo-study with data/ (tidy CSV) and tables/
# python notebooks/02_report_figure_from_tidy_data.py
# ```
#
# Set `STUDYMGR_DEMO_DIR` to use another demo folder; without one, a small demo is made.

# %%

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from studymgr.runs.demo import ensure_demo
from studymgr.compute.models import growth_model

demo = ensure_demo()  # $STUDYMGR_DEMO_DIR, ./demo-study, or a new small demo
data = demo / "data"
sorted(p.name for p in data.glob("*.csv"))

# %% [markdown]
# ## The tidy data
#
# `analysis_table.csv` has one row per dyad × session: the session synchrony index of the true
# pair (`synchrony`), the mean over its pseudo pairs (`synchrony_pseudo`) and the questionnaire
# constructs. `model_terms.csv` has one row per model term of the stored models run;
# `data_dictionary.csv` says what every column means.

# %%
table = pd.read_csv(data / "analysis_table.csv")
terms = pd.read_csv(data / "model_terms.csv")
dictionary = pd.read_csv(data / "data_dictionary.csv")
dictionary[dictionary["file"] == "analysis_table.csv"][["column", "unit", "description"]].head(8)

# %% [markdown]
# ## Refit the growth model and check it against the stored numbers
#
# `synchrony ~ session + (1 + session | dyad)`, REML, Satterthwaite t-tests; when the random
# slope is singular the model falls back to a random intercept (and says so), as the stored
# run did.

# %%
rows = table.dropna(subset=["synchrony"])
growth = growth_model(rows, "synchrony", "session", "dyad")
stored = terms[terms["model"] == "growth"].set_index("term")
refit = growth.fixed.set_index("term")
for column in ("estimate", "se", "df", "p", "ci_low", "ci_high"):
    np.testing.assert_allclose(refit[column], stored.loc[refit.index, column], rtol=1e-6,
                               atol=1e-12)
print(growth.formula, "|", growth.fit.fallback or "random slope kept")

# %% [markdown]
# ## The figure
#
# The mean trajectory at session *t* is the contrast `(Intercept) + t · session`, tested with
# its own Satterthwaite degrees of freedom; its 95 % interval gives the band.

# %%
grid = np.linspace(rows["session"].min(), rows["session"].max(), 30)
band = pd.concat([growth.contrast({"(Intercept)": 1.0, "session": float(t)}) for t in grid],
                 ignore_index=True)

fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.9), sharey=True)
for dyad, part in rows.sort_values("session").groupby("dyad"):
    left.plot(part["session"], part["synchrony"], marker="o", markersize=3.5, linewidth=1.2,
              alpha=0.85, label=dyad)
left.fill_between(grid, band["ci_low"], band["ci_high"], color="#333333", alpha=0.18,
                  linewidth=0)
left.plot(grid, band["estimate"], color="black", linewidth=2.4, label="model mean (95% CI)")
left.set_title("True dyads")
left.set_xlabel("Session")
left.set_ylabel("Synchrony (wavelet coherence, HbO)")
left.legend(fontsize=7, ncol=2, frameon=False)
pseudo = table.dropna(subset=["synchrony_pseudo"])
for _dyad, part in pseudo.sort_values("session").groupby("dyad"):
    right.plot(part["session"], part["synchrony_pseudo"], marker="o", markersize=3,
               linewidth=1, color="#888888", alpha=0.7)
mean = pseudo.groupby("session")["synchrony_pseudo"].mean()
right.plot(mean.index, mean.to_numpy(), color="black", linewidth=2, linestyle="--")
right.set_title("Pseudo-dyads")
right.set_xlabel("Session")
fig.tight_layout()

# %% [markdown]
# ## The table
#
# The fixed effects as the report prints them (APA style: estimates and CI to two significant
# digits of the SE, Satterthwaite df to one decimal, p without a leading zero), next to the
# exported publication table `tables/table*_growth.csv` when it is there.

# %%
def decimals(se: float) -> int:
    return int(min(6, max(2, 1 - np.floor(np.log10(abs(se))))))


def p_text(p: float) -> str:
    return "< .001" if p < 0.001 else f"{p:.3f}".lstrip("0")


apa = pd.DataFrame({
    "Term": ["Intercept" if t == "(Intercept)" else t.capitalize() for t in refit.index],
    "b": [f"{r.estimate:.{decimals(r.se)}f}" for r in refit.itertuples()],
    "SE": [f"{r.se:.{decimals(r.se)}f}" for r in refit.itertuples()],
    "95% CI": [f"[{r.ci_low:.{decimals(r.se)}f}, {r.ci_high:.{decimals(r.se)}f}]"
               for r in refit.itertuples()],
    "df": [f"{r.df:.1f}" for r in refit.itertuples()],
    "t": [f"{r.t:.2f}" for r in refit.itertuples()],
    "p": [p_text(r.p) for r in refit.itertuples()],
})
apa

# %%
published = sorted((demo / "tables").glob("table*_growth.csv"))
if published:
    exported = pd.read_csv(published[0], dtype=str, keep_default_na=False)
    fixed = exported[exported["Section"] == "Fixed effects"].drop(columns="Section")
    pd.testing.assert_frame_equal(fixed.reset_index(drop=True), apa, check_dtype=False)
    print(f"identical to {published[0].name}")
