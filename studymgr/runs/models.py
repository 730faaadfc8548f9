"""Study-level model runs: study → analysis table → every model the data allow → store.

Orchestration only. The table is built by :mod:`studymgr.compute.models.table` (pure), the
models are fitted by :mod:`studymgr.compute.models` (pure) and the results are written by
:class:`studymgr.store.modelruns.ModelRunsMixin`.

Models fitted (each one only when its data exist; ``k`` is the configured lag, default 1):

======================================  =====================================================
name                                    model
======================================  =====================================================
``growth``                              ``synchrony ~ session + (1 + session | dyad)``
                                        (random intercept only when that fit is singular)
``growth_true_vs_pseudo``               ``synchrony ~ session * pair + (1 | dyad)`` on stacked
                                        true (``pair = 1``) and pseudo (``pair = 0``) rows:
                                        growth specific to real dyads is ``session:pair``
``outcome:<o>``                         ``o ~ session + synchrony_within + synchrony_between
                                        + (1 | dyad)`` for o in symptoms, wellbeing,
                                        session_quality
``outcome:<o>:lag<k>``                  synchrony at session t predicting o at t + k,
                                        controlling o at t
``alliance:<o>``                        the same with alliance in place of synchrony
``compare:<o>``                         both, standardised, with the tested contrast
                                        ``synchrony_within_z - alliance_within_z``
``rm_corr``                             repeated-measures correlation of synchrony with each
                                        construct (terms ``synchrony~<construct>``; r, df, p,
                                        CI; BH-adjusted p in ``p_fdr``)
``growth_roi:<roi_t>-<roi_p>``          the growth model per ROI pair; Benjamini-Hochberg over
                                        the ROI pairs' session slopes (``p_fdr``)
======================================  =====================================================

A model whose data are degenerate (the model layer raises :class:`InputError`, e.g. a constant
outcome or fewer than 3 dyads) is stored as failed with its message; the others go on. When
nothing at all can be fitted, :func:`fit_models` raises :class:`InputError` and the store is left
as it was (the previous run is kept).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from studymgr._docs import fill_doc
from studymgr.compute.models import (
    ModelResult,
    compare_predictors,
    fdr,
    growth_model,
    outcome_model,
    rm_correlations,
)
from studymgr.compute.models.table import (
    AnalysisTable,
    ModelConfig,
    build_analysis_table,
)
from studymgr.errors import InputError, NotFoundError
from studymgr.ids import CONSTRUCTS, OUTCOMES, utcnow
from studymgr.provenance import config_hash, versions

if TYPE_CHECKING:
    from studymgr.runs.study import Study

logger = logging.getLogger(__name__)

TIME = "session"
GROUP = "dyad"
SYNC = "synchrony"
MAX_NAME = 64  # model_fits.name
SUMMARY_COLUMNS = ["model", "status", "n_obs", "n_groups", "term", "estimate", "p", "message"]
TERM_KEYS = ["term", "estimate", "se", "df", "t", "p", "ci_low", "ci_high"]
GROWTH_TRUE_VS_PSEUDO_FORMULA = "synchrony ~ session * pair + (1 | dyad)"


@dataclass
class FitRecord:
    """One model of a run, fitted or failed, in the form it is stored.

    Attributes
    ----------
    name : str
        E.g. ``growth``, ``outcome:symptoms:lag1``.
    formula : str
        lme4-style formula (of the model actually fitted; the intended one when it failed).
    status : str
        ``ok`` or ``failed``.
    message : str or None
        Why it failed.
    result : ModelResult or None
        The fitted model (None for failed fits and for ``rm_corr``).
    fit : dict
        JSON-able fit information as stored in ``model_fits.fit``.
    random : list of dict
        Random-effects rows as stored in ``model_fits.random``.
    terms : list of dict
        Rows of ``model_terms`` (fixed effects, then contrasts).
    key_term : str or None
        The term the summary shows (e.g. ``session`` for growth).
    """

    name: str
    formula: str
    status: str
    message: str | None = None
    result: ModelResult | None = None
    fit: dict[str, Any] = field(default_factory=dict)
    random: list[dict[str, Any]] = field(default_factory=list)
    terms: list[dict[str, Any]] = field(default_factory=list)
    key_term: str | None = None

    def as_stored(self) -> dict[str, Any]:
        """The dict :meth:`ModelRunsMixin._save_model_run` takes."""
        return {"name": self.name, "formula": self.formula, "fit": self.fit,
                "random": self.random, "terms": self.terms}


@dataclass
class ModelRun:
    """A models run: the table, the fits and what was skipped.

    Attributes
    ----------
    run_id : int or None
        Id of the stored run (None when not stored).
    table : AnalysisTable
        The analysis table the models were fitted on.
    config : dict
        The stored configuration (the settings plus the construct sources found).
    fits : list of FitRecord
        Every model attempted, in fitting order.
    notes : list of str
        Plain-language notes: choices made, models skipped and why, models that failed.
    """

    run_id: int | None
    table: AnalysisTable
    config: dict[str, Any]
    fits: list[FitRecord]
    notes: list[str]

    @property
    def results(self) -> dict[str, ModelResult]:
        """Fitted mixed models by name."""
        return {f.name: f.result for f in self.fits if f.result is not None}

    @property
    def failed(self) -> dict[str, str]:
        """Failed models by name, with their messages."""
        return {f.name: f.message or "" for f in self.fits if f.status != "ok"}

    def fit(self, name: str) -> FitRecord:
        """The record of one model (``KeyError`` listing the names when unknown)."""
        for f in self.fits:
            if f.name == name:
                return f
        raise KeyError(f"no model {name!r} in this run; models: "
                       f"{', '.join(f.name for f in self.fits)}")

    def summary(self) -> pd.DataFrame:
        """One row per model: ``model, status, n_obs, n_groups``, the key ``term`` with its
        ``estimate`` and ``p``, and the failure ``message``."""
        rows = []
        for f in self.fits:
            key = next((t for t in f.terms if t["term"] == f.key_term), None)
            rows.append({"model": f.name, "status": f.status, "n_obs": f.fit.get("n_obs"),
                         "n_groups": f.fit.get("n_groups"), "term": f.key_term if key else None,
                         "estimate": None if key is None else key["estimate"],
                         "p": None if key is None else key["p"], "message": f.message})
        frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
        for col in ("estimate", "p"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
        for col in ("n_obs", "n_groups"):
            frame[col] = frame[col].astype("Int64")
        return frame


# --------------------------------------------------------------------------------------------
# From the study
# --------------------------------------------------------------------------------------------


def resolve_config(config: ModelConfig | Mapping[str, Any] | None) -> ModelConfig:
    """A validated :class:`ModelConfig` from a config object, a (JSON) mapping or None."""
    return ModelConfig.from_dict(config)


def load_config(path: str | os.PathLike[str] | None = None, *, chromophore: str | None = None,
                instruments: Mapping[str, str] | None = None,
                **settings: Any) -> ModelConfig:
    """A configuration from a JSON file (optional) with some settings overridden.

    Parameters
    ----------
    path : path-like or None
        JSON object as taken by :meth:`ModelConfig.from_dict`.
    chromophore : str or None
        ``hbo``, ``hbr`` or ``eeg``, replacing the file's.
    instruments : mapping or None
        ``{construct: "name" or "name@version"}``, replacing the file's choices.
    **settings
        Other settings of :class:`ModelConfig` replacing the file's (``measure``, ``person``,
        ``unit``, ...); None values are ignored.

    Returns
    -------
    ModelConfig
    """
    data: Any = None
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise NotFoundError(f"model configuration file {file} not found")
        try:
            data = json.loads(file.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {file.name}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{file.name} is not valid JSON (line {exc.lineno}: {exc.msg})"
                             ) from None
    cfg = ModelConfig.from_dict(data)
    given = {k: v for k, v in {"chromophore": chromophore, **settings}.items() if v is not None}
    if given:
        base = cfg.to_dict()
        if "measure" in given and "chromophore" not in given and cfg.chromophore != "eeg":
            base.pop("chromophore")  # an EEG measure brings its chromophore
        cfg = ModelConfig.from_dict({**base, **given})
    if instruments:
        cfg = cfg.with_instruments(instruments)
    return cfg


def parse_choices(pairs: Iterable[str]) -> dict[str, str]:
    """``["symptoms=gad7", ...]`` -> ``{"symptoms": "gad7", ...}`` (for ``--instrument``)."""
    out: dict[str, str] = {}
    for text in pairs:
        construct, sep, spec = str(text).partition("=")
        if not sep or not construct.strip() or not spec.strip():
            raise InputError(f"expected CONSTRUCT=INSTRUMENT (e.g. symptoms=gad7), got {text!r}")
        out[construct.strip()] = spec.strip()
    return out


def write_table(table: AnalysisTable, path: str | os.PathLike[str]) -> Path:
    """Write the analysis table's canonical CSV to ``path`` (atomically: all or nothing).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    out = Path(path)
    if out.is_dir():
        raise InputError(f"{out} is a folder: give a file name such as {out / 'analysis.csv'}")
    if not out.parent.is_dir():
        raise InputError(f"cannot write {out}: folder {out.parent} does not exist")
    tmp = None
    try:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", dir=out.parent,
                                         prefix=f".{out.name}.", suffix=".tmp",
                                         delete=False) as fh:
            tmp = Path(fh.name)
            fh.write(table.to_csv())
        os.replace(tmp, out)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {out}: {exc.strerror or exc}; choose a writable "
                         "location") from None
    logger.info("wrote the analysis table (%d rows) to %s", len(table.frame), out)
    return out


def select_models(results: Mapping[str, pd.DataFrame], names: Iterable[str]
                  ) -> dict[str, pd.DataFrame]:
    """Narrow the stored models run to some models (``models show --model``).

    Parameters
    ----------
    results : mapping of str to DataFrame
        :meth:`Study.model_results`.
    names : iterable of str
        Model names, e.g. ``growth``, ``outcome:symptoms``; none keeps every model.

    Returns
    -------
    dict of str to DataFrame
        The same tables, with the ``fits``, ``terms``, ``random`` and ``roi`` rows of these
        models only.

    Raises
    ------
    NotFoundError
        When a name is not a model of the stored run (the message lists the models).
    """
    out = dict(results)
    names = list(names)
    if not names or out["run"].empty:
        return out
    known = list(out["fits"]["model"])
    unknown = [n for n in names if n not in known]
    if unknown:
        raise NotFoundError(f"no model {', '.join(map(repr, unknown))} in the stored run; "
                            f"models: {', '.join(known)}")
    for key in ("fits", "terms", "random", "roi"):
        out[key] = out[key].loc[out[key]["model"].isin(set(names))].reset_index(drop=True)
    return out


def table_matches_run(study: Study, table: AnalysisTable) -> bool | None:
    """Whether ``table`` is the analysis table the stored models run was fitted on.

    Returns
    -------
    bool or None
        None when no models run is stored; False when data or settings changed since.
    """
    run = study.model_run()
    if run is None:
        return None
    return run["input_hashes"].get("analysis_table") == table.sha256


@fill_doc
def analysis_table(study: Study, config: ModelConfig | Mapping[str, Any] | None = None
                   ) -> AnalysisTable:
    """Build the analysis table from what the study stores now.

    Parameters
    ----------
    %(study)s
    %(model_config)s

    Returns
    -------
    AnalysisTable
    """
    cfg = resolve_config(config)
    if cfg.person_measure:
        synchrony, cfg = _person_measure_rows(study, cfg)
    else:
        measure = cfg.synchrony_measure
        synchrony = pd.concat([study.synchrony(level="session", measure=measure),
                               study.synchrony(level="roi", measure=measure)],
                              ignore_index=True)
    return build_analysis_table(study.sessions(), synchrony, study.scores(), cfg)


def _person_measure_rows(study: Study, cfg: ModelConfig) -> tuple[pd.DataFrame, ModelConfig]:
    """One person's session-level frontal alpha asymmetry shaped like the synchrony frame the
    analysis table reads (one ``true`` row per session), and the config with its electrode
    pair resolved."""
    asym = study.eeg_asymmetry()
    asym = asym.loc[(asym["role"] == cfg.person) & (asym["condition"] == "session")]
    pair = asym["left"] + ":" + asym["right"]
    units = list(dict.fromkeys(pair))
    unit = cfg.unit
    if unit is None and units:
        unit = units[0]
        if len(units) > 1:
            logger.info("models: frontal alpha asymmetry of %s (stored pairs: %s; choose one "
                        "with unit LEFT:RIGHT)", unit, ", ".join(units))
    elif unit is not None and units and unit not in units:
        raise InputError(f"no frontal alpha asymmetry {unit} is stored: stored pairs are "
                         f"{', '.join(units)}")
    rows = asym.loc[pair == unit] if unit else asym.iloc[:0]
    frame = pd.DataFrame({
        "dyad": rows["dyad"], "session": rows["session"], "pair": "true",
        "chromophore": "eeg", "level": "session", "therapist_unit": unit or "",
        "patient_unit": unit or "", "value": rows["value"],
        "config_hash": rows["config_hash"]}).reset_index(drop=True)
    return frame, replace(cfg, unit=unit)


@fill_doc
def fit_models(study: Study, config: ModelConfig | Mapping[str, Any] | None = None) -> ModelRun:
    """Build the analysis table, fit every model the data allow, store the run.

    The new run replaces the previous models run (audited).

    Parameters
    ----------
    %(study)s
    %(model_config)s

    Returns
    -------
    ModelRun

    Raises
    ------
    InputError
        A bad configuration, or nothing at all could be fitted (the message says why for each
        model); nothing is stored then.
    """
    started = utcnow()
    cfg = resolve_config(config)
    table = analysis_table(study, cfg)
    fits, notes = fit_all(table)
    if not any(f.status == "ok" for f in fits):
        reasons = notes or ["the study has no data to model"]
        raise InputError("no model could be fitted: " + "; ".join(reasons))
    stored_config = run_config(table)
    input_hashes = {"analysis_table": table.sha256,
                    "synchrony_runs": table.synchrony_config_hashes}
    run_id = study._save_model_run(
        config=stored_config, config_hash=config_hash(stored_config),
        input_hashes=input_hashes, versions=versions(), notes=notes,
        fits=[f.as_stored() for f in fits], started_at=started)
    return ModelRun(run_id=run_id, table=table, config=stored_config, fits=fits, notes=notes)


def run_config(table: AnalysisTable) -> dict[str, Any]:
    """The configuration stored with a run: the settings, the construct sources found and the
    fixed choices of the model layer (so that the run can be reproduced in R)."""
    return {
        **table.config.to_dict(),
        "sources": table.sources,
        "time": TIME,
        "group": GROUP,
        "estimation": "REML; t-tests on Satterthwaite df (lmerTest); 95% CI",
        "centering": "within-dyad (person-mean) and between-dyad (grand-mean-centred dyad "
                     "mean) over the analysed rows",
        "pair_coding": "true = 1, pseudo = 0",
        "fdr": "Benjamini-Hochberg over the ROI pairs' session slopes; over the constructs "
               "for rm_corr",
    }


# --------------------------------------------------------------------------------------------
# Fitting (pure: analysis table in, records out)
# --------------------------------------------------------------------------------------------


def fit_all(table: AnalysisTable) -> tuple[list[FitRecord], list[str]]:
    """Fit every model the table allows.

    Parameters
    ----------
    table : AnalysisTable

    Returns
    -------
    fits : list of FitRecord
        Fitted and failed models.
    notes : list of str
        The table's notes, then what was skipped and why, then what failed (one note per
        distinct message, naming the models).
    """
    frame = table.frame
    lag = table.config.lag
    chroma = table.config.chromophore
    var = table.config.variable
    have = table.available
    notes = list(table.notes)
    skipped: list[str] = []
    fits: list[FitRecord] = []
    if frame.empty:
        no_sync = "the study has no sessions"
    elif table.config.person_measure:
        no_sync = (f"no frontal alpha asymmetry of the {table.config.person} stored (run "
                   "'studymgr eeg compute' first)")
    else:
        no_sync = (f"no {chroma} synchrony stored (run 'studymgr "
                   f"{'eeg' if chroma == 'eeg' else 'synchrony'} compute' first)")

    # -- growth --------------------------------------------------------------------------------
    if have[var]:
        fits.append(_mixed("growth", "growth", f"{var} ~ {TIME} + (1 + {TIME} | {GROUP})",
                           TIME, lambda: growth_model(frame, var, TIME, GROUP)))
        if have[f"{var}_pseudo"]:
            fits.append(_mixed("growth_true_vs_pseudo", "growth_true_vs_pseudo",
                               GROWTH_TRUE_VS_PSEUDO_FORMULA, f"{TIME}:pair",
                               lambda: _true_vs_pseudo(frame),
                               formula=GROWTH_TRUE_VS_PSEUDO_FORMULA))
        elif not table.config.person_measure:
            skipped.append("growth_true_vs_pseudo skipped: no pseudo-dyad synchrony stored "
                           "(compute synchrony with the pseudo-dyad baseline)")
    else:
        skipped.append(f"growth models skipped: {no_sync}")

    # -- outcomes, alliance, comparison ------------------------------------------------------------
    for o in OUTCOMES:
        label = o.replace("_", " ")
        if not have[o]:
            skipped.append(f"outcome models of {label} skipped: no {label} measure entered")
            continue
        if have[var]:
            fits.append(_mixed(f"outcome:{o}", "outcome", _outcome_formula(o, var),
                               f"{var}_within",
                               lambda o=o: outcome_model(frame, o, var, TIME, GROUP)))
            fits.append(_mixed(f"outcome:{o}:lag{lag}", "outcome_lag",
                               _outcome_formula(o, var, lag), f"{var}_lag{lag}_within",
                               lambda o=o: outcome_model(frame, o, var, TIME, GROUP, lag=lag)))
        else:
            skipped.append(f"outcome:{o} skipped: {no_sync}")
        if have["alliance"]:
            fits.append(_mixed(f"alliance:{o}", "alliance", _outcome_formula(o, "alliance"),
                               "alliance_within",
                               lambda o=o: outcome_model(frame, o, "alliance", TIME, GROUP)))
            if have[var]:
                contrast = f"{var}_within_z - alliance_within_z"
                fits.append(_mixed(
                    f"compare:{o}", "compare",
                    f"{o} ~ {TIME} + {var}_within_z + {var}_between_z + alliance_within_z + "
                    f"alliance_between_z + (1 | {GROUP})", contrast,
                    lambda o=o: compare_predictors(frame, o, var, "alliance", TIME, GROUP)))
        else:
            skipped.append(f"alliance:{o} and compare:{o} skipped: no alliance measure entered")

    # -- repeated-measures correlations ----------------------------------------------------------
    others = [c for c in CONSTRUCTS if have[c]]
    if have[var] and others:
        fits.append(_rm_corr(frame, others, var))
    elif have[var]:
        skipped.append("rm_corr skipped: no construct measure entered")
    else:
        skipped.append(f"rm_corr skipped: {no_sync}")

    # -- per ROI pair ------------------------------------------------------------------------------
    fits += _roi_growth(frame, table.roi_pairs)

    notes += skipped
    # one note per distinct failure message, naming every model that failed with it
    failures: dict[str, list[str]] = {}
    for f in fits:
        if f.status != "ok":
            failures.setdefault(f.message or "", []).append(f.name)
    notes += [f"{', '.join(names)} failed: {message}" for message, names in failures.items()]
    notes += [f"rm_corr: {f.message}" for f in fits if f.status == "ok" and f.message]
    for note in notes:
        logger.info("models: %s", note)
    return fits, notes


def _outcome_formula(o: str, x: str, lag: int = 0) -> str:
    if lag:
        return (f"{o} ~ {TIME} + {o}_lag{lag} + {x}_lag{lag}_within + {x}_lag{lag}_between + "
                f"(1 | {GROUP})")
    return f"{o} ~ {TIME} + {x}_within + {x}_between + (1 | {GROUP})"


def _true_vs_pseudo(frame: pd.DataFrame) -> ModelResult:
    """``synchrony ~ session * pair + (1 | dyad)`` on stacked true (1) and pseudo (0) rows."""
    true = frame[[GROUP, TIME, SYNC]].assign(pair=1.0)
    pseudo = (frame[[GROUP, TIME, "synchrony_pseudo"]]
              .rename(columns={"synchrony_pseudo": SYNC}).assign(pair=0.0))
    stacked = pd.concat([true, pseudo], ignore_index=True)
    stacked[f"{TIME}:pair"] = stacked[TIME] * stacked["pair"]
    # centring "none" enters pair and session:pair as they are: the interaction model
    return outcome_model(stacked, SYNC, ["pair", f"{TIME}:pair"], TIME, GROUP, center="none")


def _mixed(name: str, kind: str, intended: str, key_term: str,
           func: Callable[[], ModelResult], formula: str | None = None,
           extra: dict[str, Any] | None = None) -> FitRecord:
    """Fit one mixed model; an InputError from the model layer becomes a failed record."""
    try:
        result = func()
    except (InputError, np.linalg.LinAlgError, FloatingPointError) as exc:
        # degenerate data: recorded as failed, the other models go on
        message = str(exc) if isinstance(exc, InputError) else (
            f"numerical failure ({type(exc).__name__}: {exc}); check for (nearly) collinear "
            "or constant columns")
        logger.info("model %s failed: %s", name, message)
        return FitRecord(name=name, formula=intended, status="failed", message=message,
                         fit={"status": "failed", "kind": kind, "message": message,
                              **(extra or {})}, key_term=key_term)
    data = result.to_dict()
    fit = {"status": "ok", "kind": kind, "model_kind": data["kind"], **data["fit"],
           "r2": data["r2"], "icc": data["icc"], "config": data["config"],
           "formula_fitted": data["formula"], "time": TIME, **(extra or {})}
    terms = [{k: row[k] for k in TERM_KEYS} for row in data["fixed"]]
    terms += [{"term": row["contrast"], **{k: row[k] for k in TERM_KEYS[1:]}}
              for row in data["contrasts"]]
    return FitRecord(name=name, formula=formula or result.formula, status="ok", result=result,
                     fit=fit, random=data["random"], terms=terms, key_term=key_term)


def _rm_corr(frame: pd.DataFrame, constructs: list[str], var: str = SYNC) -> FitRecord:
    """Repeated-measures correlations of the brain variable (synchrony by default) with each
    construct (BH across them)."""
    rows, failed = [], {}
    for c in constructs:
        try:
            rows.append(rm_correlations(frame, var, c, GROUP).iloc[0])
        except InputError as exc:
            failed[f"{var}~{c}"] = str(exc)
    formula = f"{var} ~ <construct> within {GROUP} (repeated-measures correlation)"
    base = {"kind": "rm_corr", "method": "pingouin.rm_corr (Bakdash & Marusich 2017)",
            "failed": failed}
    grouped: dict[str, list[str]] = {}
    for term, text in failed.items():
        grouped.setdefault(text, []).append(term)
    if not rows:
        message = "; ".join(f"{', '.join(terms)}: {text}" for text, terms in grouped.items())
        return FitRecord(name="rm_corr", formula=formula, status="failed", message=message,
                         fit={"status": "failed", "message": message, **base})
    res = pd.DataFrame(rows).reset_index(drop=True)
    p_adj = fdr(res["p"].to_numpy(dtype=float))
    terms, p_fdr, extra = [], {}, {}
    for i, r in res.iterrows():
        term = f"{var}~{r['y']}"
        terms.append({"term": term, "estimate": float(r["r"]), "se": None,
                      "df": float(r["dof"]), "t": None, "p": float(r["p"]),
                      "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"])})
        p_fdr[term] = float(p_adj[i])
        extra[term] = {"power": float(r["power"]), "n_obs": int(r["n_obs"]),
                       "n_groups": int(r["n_groups"])}
    message = "; ".join(f"{', '.join(terms)} failed: {text}"
                        for text, terms in grouped.items()) or None
    fit = {"status": "ok", **base, "p_fdr": p_fdr, "extra": extra, "message": message,
           "n_obs": int(res["n_obs"].max()), "n_groups": int(res["n_groups"].max())}
    return FitRecord(name="rm_corr", formula=formula, status="ok", message=message, fit=fit,
                     terms=terms, key_term=None)


def roi_model_name(roi_t: str, roi_p: str) -> str:
    """``growth_roi:<roi_t>-<roi_p>``, shortened with a hash when longer than 64 characters."""
    name = f"growth_roi:{roi_t}-{roi_p}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(f"{roi_t}\n{roi_p}".encode()).hexdigest()[:10]
    return f"{name[:MAX_NAME - 12]}~{digest}"


def _roi_growth(frame: pd.DataFrame, roi_pairs: dict[str, tuple[str, str]]
                ) -> list[FitRecord]:
    """The growth model per ROI pair, with BH-adjusted p-values of the session slopes."""
    records = []
    for column, (rt, rp) in roi_pairs.items():
        data = frame[[GROUP, TIME, column]].rename(columns={column: SYNC})
        records.append(_mixed(roi_model_name(rt, rp), "growth_roi",
                              f"{SYNC} ~ {TIME} + (1 + {TIME} | {GROUP})", TIME,
                              lambda data=data: growth_model(data, SYNC, TIME, GROUP),
                              extra={"roi_pair": [rt, rp], "column": column}))
    ok = [r for r in records if r.status == "ok"]
    if ok:
        p = np.array([next(t["p"] for t in r.terms if t["term"] == TIME) for r in ok],
                     dtype=float)
        for r, adj in zip(ok, fdr(p), strict=True):
            r.fit["p_fdr"] = {TIME: None if np.isnan(adj) else float(adj)}
            r.fit["fdr_family"] = f"session slopes of the {len(ok)} ROI-pair growth models fitted"
    return records
