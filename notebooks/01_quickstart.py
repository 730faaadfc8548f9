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
# # Quick start: the demo study from Python
#
# This notebook opens the demo study made by `studymgr demo`, looks at what it holds, plots
# therapist–patient synchrony over sessions and fits the growth and outcome models with the
# Python API. It is a [jupytext](https://jupytext.readthedocs.io) "percent" notebook: open it
# in Jupyter (with jupytext installed), VS Code or Spyder, or run it as a script:
#
# ```sh
# studymgr demo                      # once: makes ./demo-study (about two minutes)
# python notebooks/01_quickstart.py
# ```
#
# Set `STUDYMGR_DEMO_DIR` to use another demo folder. Without a demo, a small one
# (4 dyads × 3 sessions, about half a minute) is made in that folder or a temporary one.

# %%
import json

import matplotlib.pyplot as plt

import studymgr
from studymgr.runs.demo import ensure_demo
from studymgr.compute.models import growth_model, outcome_model

demo = ensure_demo()  # $STUDYMGR_DEMO_DIR, ./demo-study, or a new small demo
study = studymgr.open_study(demo / "study.db")
study

# %% [markdown]
# ## What the study holds
#
# `summary()` counts; `status()` has one row per dyad × session (a tidy DataFrame; the CLI's
# `studymgr status` draws it as a grid).

# %%
print(study.summary())
status = study.status()
status[["dyad", "session", "date", "scanned", "synchrony"]].head(8)

# %%
study.scans()[["dyad", "session", "role", "sfreq", "n_channels", "usable_share"]].head()

# %% [markdown]
# ## Synchrony over sessions
#
# `study.synchrony()` is tidy: one row per session, pair (`true` = the dyad's therapist and
# patient; `pseudo` = the therapist with another dyad's patient of the same session number, or
# the reverse), chromophore and unit pair. The session index is wavelet coherence in
# 0.05–0.10 Hz averaged over time and homologous channels.

# %%
sync = study.synchrony(level="session", chromophore="hbo")
true = sync[sync["pair"] == "true"]
pseudo = sync[sync["pair"] == "pseudo"].groupby(["dyad", "session"], as_index=False)["value"].mean()

fig, ax = plt.subplots(figsize=(6, 4))
for dyad, part in true.groupby("dyad"):
    ax.plot(part["session"], part["value"], marker="o", label=dyad)
mean_pseudo = pseudo.groupby("session")["value"].mean()
ax.plot(mean_pseudo.index, mean_pseudo.to_numpy(), color="black", linestyle="--",
        label="pseudo-dyads (mean)")
ax.set_xlabel("session")
ax.set_ylabel("synchrony (HbO wavelet coherence)")
ax.legend(fontsize=8, ncol=2)
fig.tight_layout()

# %% [markdown]
# ## Fit a model with the Python API
#
# `study.analysis_table()` is the table the stored models were fitted on: one row per
# dyad × session with synchrony (true and pseudo) beside the questionnaire constructs. The model
# functions in `studymgr.compute.models` are pure: a DataFrame in, a tidy result out (REML,
# Satterthwaite t-tests, as lme4 + lmerTest).

# %%
table = study.analysis_table()
growth = growth_model(table.dropna(subset=["synchrony"]), "synchrony", "session", "dyad")
print(growth.formula)
print(growth.fit.fallback or "random slope kept")
growth.fixed

# %%
symptoms = outcome_model(table, "symptoms", "synchrony", "session", "dyad")
symptoms.fixed

# %% [markdown]
# The same models are stored by `study.fit_models()` (or `studymgr models fit`) and shown by
# `studymgr models show`; the refit here gives the stored numbers. The simulation planted a
# positive growth and a negative synchrony → symptoms link (in `simulated/truth.json`):

# %%
truth = json.loads((demo / "simulated" / "truth.json").read_text())
planted = {k: truth["parameters"][k] for k in ("growth", "symptom_slope", "alliance_effect")}
stored = study.model_results()["terms"].set_index(["model", "term"])["estimate"]
slope = growth.fixed.set_index("term").loc["session", "estimate"]
assert abs(slope - stored[("growth", "session")]) < 1e-8
print("planted:", planted)
print(f"recovered growth: {slope:.4f} coherence per session")
print("recovered synchrony -> symptoms:",
      round(float(symptoms.fixed.set_index("term").loc["synchrony_within", "estimate"]), 2))

# %%
study.close()
