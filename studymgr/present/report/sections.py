"""The report's content: one function per section, from :class:`ReportData` to blocks.

Each section says plainly what is missing when its data are not there yet (no scans, no
synchrony, no models, a failed model) instead of failing; an unexpected error inside one section
is shown in that section and the rest of the report is still written.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from studymgr.compute.events.agreement import DEFAULT_TOLERANCE_S
from studymgr.ids import OUTCOMES
from studymgr.present import figures as figs
from studymgr.present import tables as tab
from studymgr.present.report.collect import MomentsData, ReportData
from studymgr.present.report.diagnostics import (
    conditional_effects,
    covariance_from_random,
    mean_trajectory,
    model_data,
    normal_quantiles,
)
from studymgr.present.report.document import (
    ApaTable,
    Bullets,
    Code,
    DataTable,
    Fig,
    Para,
    Section,
)
from studymgr.present.results import run_configs

logger = logging.getLogger(__name__)

SECTIONS = [("glance", "The study at a glance"), ("quality", "Data quality"),
            ("synchrony", "Synchrony over sessions"), ("roi", "Synchrony per ROI pair"),
            ("outcomes", "Outcomes and alliance"), ("moments", "Moments of interest"),
            ("diagnostics", "Model diagnostics"), ("methods", "Methods"),
            ("provenance", "Provenance")]
CONSTRUCTS = ("symptoms", "wellbeing", "session_quality", "alliance")


def _has_moments(data: ReportData) -> bool:
    return data.moments is not None


# Sections drawn only when their subject exists in the study (left out of the report and its
# table of contents otherwise); every other section is always drawn.
OPTIONAL_SECTIONS: dict[str, Callable[[ReportData], bool]] = {"moments": _has_moments}


def build_sections(data: ReportData) -> list[Section]:
    """Every section of the report, in reading order (optional sections only when their
    subject exists, see :data:`OPTIONAL_SECTIONS`)."""
    builders: dict[str, Callable[[ReportData, Section], None]] = {
        "glance": glance, "quality": quality, "synchrony": synchrony, "roi": roi,
        "outcomes": outcomes, "moments": moments, "diagnostics": diagnostics,
        "methods": methods, "provenance": provenance}
    out = []
    for ident, title in SECTIONS:
        if ident in OPTIONAL_SECTIONS and not OPTIONAL_SECTIONS[ident](data):
            continue
        section = Section(ident, title)
        try:
            builders[ident](data, section)
        except Exception as exc:  # one broken section must not take the report down
            logger.exception("report section %s failed", ident)
            section.blocks = [Para(f"This section could not be drawn ({type(exc).__name__}: "
                                   f"{exc}). The rest of the report is unaffected; please "
                                   "report this as a bug in studymgr.", "warning")]
        out.append(section)
    return out


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _chroma(data: ReportData) -> str:
    return data.table.config.chromophore


def _chroma_label(data: ReportData) -> str:
    return {"hbo": "HbO", "hbr": "HbR", "eeg": "EEG"}.get(_chroma(data), _chroma(data))


def _var(data: ReportData) -> str:
    """The brain variable of the analysis table: ``synchrony`` or ``asymmetry``."""
    return data.table.config.variable


def _what(data: ReportData) -> str:
    """What the brain variable measures, for captions and sentences."""
    cfg = data.table.config
    if cfg.person_measure:
        return f"the {cfg.person}'s frontal alpha asymmetry ({cfg.unit or 'no electrode pair'})"
    if cfg.chromophore == "eeg":
        measure, _, band = cfg.synchrony_measure.partition("_")
        name = {"plv": "phase-locking value", "aec": "amplitude envelope correlation"}.get(
            measure, measure)
        return f"session synchrony index (EEG {name}, {band} band, homologous electrodes)"
    return (f"session synchrony index ({_chroma_label(data)}, wavelet coherence averaged over "
            "the band, time and homologous ROI pairs)")


def _compute_command(data: ReportData) -> str:
    return ("studymgr eeg compute" if data.table.config.chromophore == "eeg"
            else "studymgr synchrony compute")


def _fits(data: ReportData) -> pd.DataFrame:
    return data.results["fits"]


def _fit(data: ReportData, name: str) -> dict[str, Any] | None:
    fits = _fits(data)
    row = fits.loc[fits["model"] == name]
    return None if row.empty else row.iloc[0].to_dict()


def _terms(data: ReportData, name: str) -> pd.DataFrame:
    terms = data.results["terms"]
    return terms.loc[terms["model"] == name]


def _term(data: ReportData, name: str, term: str) -> dict[str, Any] | None:
    t = _terms(data, name)
    row = t.loc[t["term"] == term]
    return None if row.empty else row.iloc[0].to_dict()


def _model_table(data: ReportData, name: str) -> ApaTable | Para | None:
    fit = _fit(data, name)
    if fit is None:
        return None
    if fit["status"] != "ok":
        return Para(f"Model {name} could not be fitted: {fit.get('message')}", "warning")
    random = data.results["random"]
    return ApaTable(tab.model_table(fit, _terms(data, name), random.loc[random["model"] == name]))


def effect_sentence(term: dict[str, Any], what: str, unit: str = "") -> str:
    """``what`` b = 0.054 per session (95% CI [...]), *t*(7.0) = 3.98, *p* = .005."""
    d = tab.decimals_for(term["se"])
    p = tab.fmt_p(term["p"])
    p_text = f"*p* {p}" if p.startswith(("<", ">")) else f"*p* = {p}"
    return (f"{what} *b* = {tab.fmt_num(term['estimate'], d)}{unit} (95% CI "
            f"{tab.fmt_ci(term['ci_low'], term['ci_high'], d)}), *t*({tab.fmt_df(term['df'])}) "
            f"= {tab.fmt_num(term['t'], 2)}, {p_text}")


def number_tables(sections: list[Section]) -> None:
    """Number the APA tables of the report in reading order (Table 1, 2, ...)."""
    n = 0
    for s in sections:
        for b in s.blocks:
            if isinstance(b, ApaTable):
                n += 1
                b.table.number = n


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 session``, ``2 sessions`` (``many`` for irregular plurals)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _yes(value: Any) -> bool:
    return bool(value) if not pd.isna(value) else False


# --------------------------------------------------------------------------------------------
# 1. the study at a glance
# --------------------------------------------------------------------------------------------


def session_flow(data: ReportData) -> tuple[list[tuple[str, int]], list[tuple[str, int] | None],
                                            pd.DataFrame]:
    """Counts of the CONSORT-style session flow and, per session, why it left the flow.

    Returns
    -------
    steps, exclusions
        For :func:`studymgr.present.figures.flow_diagram`.
    reasons : DataFrame
        ``dyad, session, reason`` for every session that does not reach the growth model.
    """
    status = data.status.dropna(subset=["session"])
    table = data.table.frame
    in_model = {(r.dyad, int(r.session)) for r in
                table.dropna(subset=[_var(data)]).itertuples(index=False)}
    kinds = set(data.table.config.kinds)
    # the flow follows the recordings the models use: EEG for an EEG models run
    modality = "eeg" if data.table.config.chromophore == "eeg" else "nirs"
    pair_msgs = {(p.dyad, int(p.session)): (p.status, p.messages)
                 for p in data.pairs.itertuples(index=False) if p.modality == modality}
    steps_sets: list[set] = [set() for _ in range(7)]
    reasons = []
    for r in status.itertuples(index=False):
        key = (r.dyad, int(r.session))
        steps_sets[0].add(key)
        if modality == "eeg":
            t, p = _yes(r.eeg_therapist), _yes(r.eeg_patient)
        else:
            t, p = _yes(r.scans_therapist), _yes(r.scans_patient)
        if not _yes(r.attended):
            reasons.append((*key, "did not take place"))
            continue
        steps_sets[1].add(key)
        if not (_yes(r.scanned) or t or p):
            reasons.append((*key, "no recording planned"))
            continue
        steps_sets[2].add(key)
        if not (t and p):
            missing = [role for role, has in (("therapist", t), ("patient", p)) if not has]
            reasons.append((*key, "both recordings are missing" if len(missing) == 2 else
                            f"the {missing[0]}'s recording is missing"))
            continue
        steps_sets[3].add(key)
        pstatus, msgs = pair_msgs.get(key, ("ok", ""))
        if pstatus == "error":
            reasons.append((*key, f"the recordings cannot be paired: {msgs}"))
            continue
        steps_sets[4].add(key)
        if (modality == "eeg" or pd.isna(r.synchrony)) and key not in in_model:
            reasons.append((*key, f"synchrony not computed (run '{_compute_command(data)}'; "
                                  "a failed computation says why)"))
            continue
        steps_sets[5].add(key)
        if key not in in_model:
            why = (f"session kind {r.kind!r} is not among the models' kinds"
                   if r.kind not in kinds else
                   f"no {_chroma_label(data)} synchrony stored for it")
            reasons.append((*key, why))
            continue
        steps_sets[6].add(key)
    labels = ["Sessions in the study", "Sessions held", "Recordings planned",
              "Both recordings imported", "Recording pair usable", "Synchrony computed",
              "In the synchrony models"]
    exits = ["did not take place", "no recording planned", "a recording missing",
             "pair check failed", "synchrony not computed", "session kind not modelled"]
    counts = [len(s) for s in steps_sets]
    steps = list(zip(labels, counts, strict=True))
    exclusions = [(exits[i], counts[i] - counts[i + 1]) for i in range(len(exits))]
    return steps, exclusions, pd.DataFrame(reasons, columns=["dyad", "session", "reason"])


def glance(data: ReportData, section: Section) -> None:
    s = data.summary
    status = data.status.dropna(subset=["session"])
    if s["dyads"] == 0:
        section.add(Para("The study has no dyads yet: add them with 'studymgr dyad add DYAD "
                         "--therapist T --patient P', then their sessions.", "missing"))
        return
    held = int(status["attended"].fillna(False).astype(bool).sum())
    interviews = int((status["kind"] == "interview").sum())
    both = int((status["scans_therapist"].fillna(False).astype(bool)
                & status["scans_patient"].fillna(False).astype(bool)).sum())
    n_resp = len(data.responses)
    text = (f"{plural(s['dyads'], 'dyad')} ({plural(s['therapists'], 'therapist')}, "
            f"{plural(s['patients'], 'patient')}) with {plural(s['sessions'], 'session')} "
            f"({held} held, {s['sessions'] - held} missed; {plural(interviews, 'interview')}); "
            f"{plural(both, 'session')} with both recordings; "
            f"{plural(n_resp, 'questionnaire')} entered; {s['locked']} locked.")
    if data.run is not None:
        text += (f" Models last fitted {data.run['finished_at'][:16].replace('T', ' ')} UTC "
                 f"by {data.run['started_by']}.")
    else:
        text += " No models fitted yet."
    section.add(Para(text))
    no_sessions = sorted(data.status.loc[data.status["session"].isna(), "dyad"])
    if no_sessions:
        section.add(Para(f"Dyads without sessions: {', '.join(no_sessions)} (add them with "
                         "'studymgr session add').", "missing"))
    if status.empty:
        section.add(Para("No sessions yet: add them with 'studymgr session add DYAD N'.",
                         "missing"))
        return
    steps, exclusions, _ = session_flow(data)
    section.add(Fig(figs.flow_diagram(steps, exclusions),
                    "Flow of sessions from the study plan to the synchrony models (in the "
                    "spirit of a CONSORT diagram). Side boxes: sessions leaving the flow at "
                    "that step; the reasons per session are listed under Data quality.",
                    "flow"))
    section.add(Fig(figs.completeness_grid(data.status),
                    "Completeness per dyad and session. scans: T = therapist's, P = patient's "
                    "recording imported (- = missing); q: questionnaires entered / expected "
                    "(the battery seen in held sessions of the same kind); sync: session "
                    f"synchrony index ({_chroma_label(data)}, true pair).", "completeness"))
    if n_resp:
        r = data.responses
        held_by_kind = status.loc[status["attended"].fillna(False).astype(bool)]
        n_held = len(held_by_kind)
        cover = (r.groupby(["instrument", "version", "role", "timing"]).size()
                 .rename("responses").reset_index())
        cover["sessions held"] = n_held
        cover["coverage"] = [f"{100 * n / n_held:.0f}%" if n_held else "" for n in
                             cover["responses"]]
        section.add(DataTable(cover, "Questionnaires entered per instrument, role and "
                                     "timing, against the sessions held."))
        missing = status.loc[status["questionnaires_missing"].astype(str) != "",
                             ["dyad", "session", "questionnaires_missing"]]
        if len(missing):
            section.add(DataTable(missing.rename(columns={
                "questionnaires_missing": "missing (instrument/role/timing)"}),
                "Held sessions with questionnaires missing."))
    else:
        section.add(Para("No questionnaires entered yet ('studymgr scores enter' or "
                         "'studymgr scores import').", "missing"))


# --------------------------------------------------------------------------------------------
# 2. data quality
# --------------------------------------------------------------------------------------------


def quality(data: ReportData, section: Section) -> None:
    from studymgr.compute.quality import QualityConfig

    scans = data.scans.loc[data.scans["modality"] == "nirs"].reset_index(drop=True)
    n_eeg = len(data.scans) - len(scans)
    if n_eeg:
        section.add(Para(f"{n_eeg} EEG recording(s) are stored; the quality measures below are "
                         "those of the fNIRS recordings."))
    if scans.empty:
        section.add(Para("No fNIRS recordings imported yet, so there is nothing to assess: import "
                         "them with 'studymgr scans import DYAD N --role ROLE FILE' (or "
                         "'studymgr scans import-dir').", "missing"))
    else:
        threshold = QualityConfig().sci_threshold
        share = scans["usable_share"].astype(float)
        low = scans.loc[share < 0.5]
        absent = scans.loc[scans["cardiac"] == "absent"]
        if share.notna().any():
            text = (f"{len(scans)} recordings; usable channels (scalp coupling index ≥ "
                    f"{threshold:g}, not flat, not saturated): median "
                    f"{100 * np.nanmedian(share):.0f}% per recording, {len(low)} recording"
                    f"{'s' if len(low) != 1 else ''} with fewer than half usable. A cardiac "
                    f"peak (sign of good optode contact) is absent in {len(absent)}.")
        else:
            text = (f"{len(scans)} recordings, none with stored quality measures (scalp "
                    "coupling index, cardiac peak): they are assessed at import.")
        section.add(Para(text))
        section.add(Fig(figs.quality_figure(scans, data.channels, threshold),
                        "Left: share of usable fNIRS channels per recording by session "
                        "(triangles therapists, circles patients; dashed line 50%). Right: "
                        "scalp coupling index of every channel of every recording, with the "
                        "threshold below which a channel is excluded.", "quality"))
        flagged = scans.loc[(share < 0.5) | (scans["cardiac"] == "absent"),
                            ["dyad", "session", "role", "usable_share", "n_usable", "n_fnirs",
                             "cardiac"]]
        if len(flagged):
            section.add(DataTable(flagged.assign(usable_share=(100 * flagged["usable_share"]
                                                               .astype(float)).round(0)),
                                  "Recordings to check (fewer than half usable channels or "
                                  "no cardiac peak); usable_share in %."))
        pairs = data.pairs.loc[data.pairs["status"] != "ok"]
        if len(pairs):
            section.add(DataTable(pairs[["dyad", "session", "status", "messages"]],
                                  "Recording pairs with warnings or errors."))
    if data.status.dropna(subset=["session"]).empty:
        return
    _, _, reasons = session_flow(data)
    if len(reasons):
        section.add(DataTable(reasons, "Sessions without synchrony in the models, and why."))
    else:
        section.add(Para("Every session reaches the synchrony models.", "ok"))


# --------------------------------------------------------------------------------------------
# 3. synchrony over sessions
# --------------------------------------------------------------------------------------------


def synchrony(data: ReportData, section: Section) -> None:
    table = data.table.frame
    var = _var(data)
    true = table[["dyad", "session", var]].dropna().rename(columns={var: "synchrony"})
    if true.empty:
        what = (f"{_chroma_label(data)} synchrony" if var == "synchrony" else _what(data))
        section.add(Para(f"No {what} stored yet: compute it with "
                         f"'{_compute_command(data)}' once both recordings of a session are "
                         "imported.", "missing"))
        return
    if var != "synchrony":
        section.add(Para(f"The stored models run models {_what(data)} in place of "
                         "synchrony: this section and the outcome models are about it."))
    pseudo = (table[["dyad", "session", f"{var}_pseudo"]].dropna()
              .rename(columns={f"{var}_pseudo": "synchrony_pseudo"}))
    growth = data.refit.results.get("growth")
    band = None
    caption = f"Left: {_what(data)} of each dyad. "
    if growth is not None:
        grid = np.linspace(true["session"].min(), true["session"].max(), 30)
        band = mean_trajectory(growth, grid)
        caption += ("Black line and grey band: the mean trajectory implied by the growth model "
                    f"({growth.formula}) with its pointwise 95% confidence band (Satterthwaite "
                    "t), from the model refitted on the analysis table with "
                    "studymgr.compute.models (the fixed effects and their covariance are not "
                    "stored; the refit's numbers are checked against the stored ones under Model "
                    "diagnostics). ")
    elif "growth" in data.refit.failed:
        section.add(Para(f"The growth model could not be fitted: "
                         f"{data.refit.failed['growth']}", "warning"))
    caption += ("Right: the same index for pseudo-dyads (each therapist with other dyads' "
                "patients at the same session number and vice versa), averaged per session "
                "of each dyad; dashed: their mean.")
    if pseudo.empty:
        caption += (" (A measure of one person has no pseudo-dyad baseline.)"
                    if var != "synchrony" else
                    " (No pseudo-dyad synchrony stored: with one dyad there are no pseudo "
                    "pairs.)")
    ylabel = None
    if var != "synchrony" or _chroma(data) == "eeg":
        ylabel = (f"Frontal alpha asymmetry ({data.table.config.person})" if var != "synchrony"
                  else f"Synchrony (EEG {data.table.config.synchrony_measure})")
    section.add(Fig(figs.synchrony_figure(true, pseudo, band, _chroma(data), ylabel), caption,
                    "synchrony"))
    sentences = []
    slope = _term(data, "growth", "session")
    fit = _fit(data, "growth")
    if slope is not None:
        what = "Synchrony" if var == "synchrony" else "Frontal alpha asymmetry"
        sentences.append(effect_sentence(slope, f"{what} changed over sessions:",
                                         " per session")
                         + f" ({int(fit['n_groups'])} dyads, {int(fit['n_obs'])} sessions).")
        if fit.get("fallback"):
            sentences.append(f"Model note: {fit['fallback']}.")
    elif fit is not None and fit["status"] != "ok":
        sentences.append(f"The stored growth model failed: {fit.get('message')}.")
    elif data.run is None:
        sentences.append("No models fitted yet: run 'studymgr models fit' for the growth "
                         "model.")
    inter = _term(data, "growth_true_vs_pseudo", "session:pair")
    if inter is not None:
        sentences.append(effect_sentence(
            inter, "Growth specific to true dyads (session × pair, true vs pseudo):",
            " per session") + ".")
    tests = data.tests.loc[(data.tests["level"] == "session")
                           & (data.tests["chromophore"] == _chroma(data))]
    if len(tests):
        ok = tests["p_value"].notna()
        sig = int((tests.loc[ok, "p_value"] < 0.05).sum())
        text = (f"In {sig} of {int(ok.sum())} sessions the true pair was more synchronous than "
                "its pseudo-dyads at permutation *p* < .05")
        n_pseudo = int(tests.loc[ok, "n_pseudo"].max()) if ok.any() else 0
        if n_pseudo and 1 / (1 + n_pseudo) > 0.05:
            text += (f" (with at most {n_pseudo} pseudo pairs per session the smallest "
                     f"attainable *p* is 1/{n_pseudo + 1} = {tab.fmt_p(1 / (n_pseudo + 1))}: "
                     "more dyads are needed for this test to reach .05)")
        sentences.append(text + ".")
    if sentences:
        section.add(Para(" ".join(sentences)))
    for name in ("growth", "growth_true_vs_pseudo"):
        block = _model_table(data, name)
        if block is not None:
            section.add(block)


# --------------------------------------------------------------------------------------------
# 4. per ROI pair
# --------------------------------------------------------------------------------------------


def roi(data: ReportData, section: Section) -> None:
    rows = data.roi.loc[(data.roi["pair"] == "true")
                        & (data.roi["chromophore"] == _chroma(data))]
    if rows.empty:
        section.add(Para(f"No ROI-level {_chroma_label(data)} synchrony stored yet (it is "
                         "computed with the session synchrony).", "missing"))
        return
    rows = rows.assign(value=pd.to_numeric(rows["value"], errors="coerce"))
    mean = rows.pivot_table(index="therapist_unit", columns="patient_unit", values="value",
                            aggfunc="mean")
    mean.index.name, mean.columns.name = "therapist_roi", "patient_roi"
    res = data.results["roi"]
    ok = res.loc[res["status"] == "ok"] if len(res) else res
    slope = p_fdr = None
    if len(ok):
        slope = ok.pivot_table(index="therapist_roi", columns="patient_roi", values="slope")
        p_fdr = ok.pivot_table(index="therapist_roi", columns="patient_roi", values="p_fdr")
    caption = ("Left: mean true-pair synchrony per ROI pair (therapist ROI in rows, patient ROI "
               "in columns) over all dyads and sessions. ")
    if slope is not None:
        caption += tab.literal("Right: session slope of the growth model fitted per ROI pair; "
                               "marks give Benjamini-Hochberg adjusted p over the ROI pairs "
                               "(* < .05, ** < .01, *** < .001); n/a: not fitted.")
    section.add(Fig(figs.roi_heatmaps(mean, slope, p_fdr), caption, "roi"))
    if slope is None:
        section.add(Para("No per-ROI growth models stored: run 'studymgr models fit'.",
                         "missing"))
    else:
        section.add(ApaTable(tab.roi_table(res)))
        failed = res.loc[res["status"] != "ok"]
        if len(failed):
            section.add(Para(f"{len(failed)} ROI pair model(s) failed, e.g. "
                             f"{failed.iloc[0]['model']}: {failed.iloc[0]['message']}",
                             "warning"))


# --------------------------------------------------------------------------------------------
# 5. outcomes
# --------------------------------------------------------------------------------------------


def forest_rows(data: ReportData) -> pd.DataFrame:
    """Coefficients of the outcome, alliance and joint models per within-dyad SD."""
    table = data.table.frame
    lag = data.table.config.lag

    def sd_within(col: str) -> float:
        part = table[["dyad", col]].dropna()
        if part.empty:
            return float("nan")
        within = part[col] - part.groupby("dyad")[col].transform("mean")
        return float(within.std(ddof=1))

    var = _var(data)
    name = var.capitalize()
    sd = {c: sd_within(c) for c in (var, "alliance")}
    specs = [("outcome:{o}", f"{var}_within", var, f"{name} (same session)"),
             ("outcome:{o}:lag" + str(lag), f"{var}_lag{lag}_within", var,
              f"{name} (previous session)" if lag == 1 else f"{name} ({lag} sessions "
                                                            "earlier)"),
             ("alliance:{o}", "alliance_within", "alliance", "Alliance (same session)"),
             ("compare:{o}", f"{var}_within_z", None, f"Joint model: {var}"),
             ("compare:{o}", "alliance_within_z", None, "Joint model: alliance")]
    rows = []
    for o in OUTCOMES:
        for model, term, scale_by, label in specs:
            t = _term(data, model.format(o=o), term)
            if t is None:
                continue
            k = sd[scale_by] if scale_by else 1.0
            rows.append({"panel": tab.construct_label(o).capitalize(), "label": label,
                         "estimate": t["estimate"] * k, "ci_low": t["ci_low"] * k,
                         "ci_high": t["ci_high"] * k, "p": t["p"]})
    return pd.DataFrame(rows, columns=["panel", "label", "estimate", "ci_low", "ci_high", "p"])


def outcomes(data: ReportData, section: Section) -> None:
    table = data.table.frame
    sources = data.table.sources
    measures = [(c, tab.measure_label(c, sources, _chroma(data))) for c in CONSTRUCTS
                if c in table and table[c].notna().any()]
    if not measures:
        section.add(Para("No symptom, wellbeing, session-quality or alliance scores entered "
                         "yet: enter or import questionnaires ('studymgr scores import').",
                         "missing"))
    else:
        section.add(Fig(figs.outcome_trajectories(table, measures),
                        "Questionnaire scores over sessions: thin lines, one per dyad; black: "
                        "mean over dyads ± 1 standard error. Scores in each scale's units.",
                        "outcomes"))
        absent = [tab.construct_label(c) for c in CONSTRUCTS
                  if not (c in table and table[c].notna().any())]
        if absent:
            section.add(Para(f"Not entered: {', '.join(absent)}.", "missing"))
    desc = tab.descriptives_table(table, sources, _chroma(data))
    if desc.rows:
        section.add(ApaTable(desc))
    if data.run is None:
        section.add(Para("No models fitted yet: run 'studymgr models fit' to relate outcomes "
                         "to synchrony and alliance.", "missing"))
        return
    forest = forest_rows(data)
    if len(forest):
        section.add(Fig(figs.forest_plot(forest),
                        "Coefficients with 95% confidence intervals, per within-dyad SD of the "
                        "predictor: the stored same-session, lagged and alliance models' "
                        "within-dyad slopes multiplied by the predictor's within-dyad SD over "
                        "all sessions where it was measured; the joint model's predictors are "
                        "standardised by the model itself. Blue: p < .05. Between-dyad effects "
                        "are in the tables.", "forest"))
    names = tab.model_order([n for n in _fits(data)["model"]
                             if n.split(":")[0] in ("outcome", "alliance", "compare")])
    for name in names:
        block = _model_table(data, name)
        if block is not None:
            section.add(block)
    rm = _fit(data, "rm_corr")
    if rm is not None and rm["status"] == "ok":
        section.add(ApaTable(tab.rm_corr_table(_terms(data, "rm_corr"), rm)))
    skipped = [n for n in data.run["notes"] if "skipped" in n or "failed" in n]
    if skipped:
        section.add(Para("What the models run could not do:", "warning"), Bullets(skipped))


# --------------------------------------------------------------------------------------------
# 6. moments of interest
# --------------------------------------------------------------------------------------------


_CHROMA = {"hbo": "HbO", "hbr": "HbR"}


def _sessions_text(keys: Any) -> str:
    return ", ".join(f"{d}/{int(n)}" for d, n in sorted(keys))


def _label_order(labels: list[str], m: MomentsData) -> list[str]:
    """MOI and MONI first (the reference design), then the others as configured or sorted."""
    configured = [lab for cfg, _ in run_configs(m.runs) for lab in cfg.get("labels", [])]
    found = list(dict.fromkeys(str(lab) for lab in labels))
    first = [lab for lab in dict.fromkeys(["MOI", "MONI", *configured]) if lab in found]
    return first + sorted(lab for lab in found if lab not in first)


def eventlocked_summary(results: pd.DataFrame, chromophore: str,
                        labels: list[str]) -> pd.DataFrame:
    """Across sessions, per label: the session-level mean in the label's windows minus the
    rest of the session, and how many sessions had a permutation p below .05 (descriptive).

    Parameters
    ----------
    results : DataFrame
        ``Study.eventlocked_results(level="session")``.
    chromophore : str
        Which chromophore to summarise.
    labels : list of str
        The labels, in the order wanted.

    Returns
    -------
    DataFrame
        ``label, n_sessions, mean_diff, sd_diff, min_diff, max_diff, n_tested, n_below_05,
        n_permutations`` (the smallest number of permutations used).
    """
    sel = results.loc[(results["level"] == "session") & (results["chromophore"] == chromophore)]
    rest = sel.loc[sel["condition"] == "rest"].set_index(["dyad", "session"])["value"]
    rows = []
    for label in labels:
        part = sel.loc[sel["condition"] == label].set_index(["dyad", "session"])
        if part.empty:
            continue
        diff = (pd.to_numeric(part["value"], errors="coerce")
                - pd.to_numeric(rest.reindex(part.index), errors="coerce")).dropna()
        p = pd.to_numeric(part["p_value"], errors="coerce").dropna()
        perms = pd.to_numeric(part["n_permutations"], errors="coerce").dropna()
        rows.append({"label": label, "n_sessions": int(diff.size),
                     "mean_diff": float(diff.mean()) if diff.size else np.nan,
                     "sd_diff": float(diff.std(ddof=1)) if diff.size > 1 else np.nan,
                     "min_diff": float(diff.min()) if diff.size else np.nan,
                     "max_diff": float(diff.max()) if diff.size else np.nan,
                     "n_tested": int(p.size), "n_below_05": int((p < 0.05).sum()),
                     "n_permutations": int(perms.min()) if perms.size else None})
    return pd.DataFrame(rows, columns=["label", "n_sessions", "mean_diff", "sd_diff",
                                       "min_diff", "max_diff", "n_tested", "n_below_05",
                                       "n_permutations"])


def _summary_sentences(summary: pd.DataFrame, chroma: str) -> str:
    parts = []
    for r in summary.itertuples(index=False):
        if r.n_sessions == 0:
            continue
        spread = (f"SD {tab.fmt_num(r.sd_diff, 3)}, range {tab.fmt_num(r.min_diff, 3)} to "
                  f"{tab.fmt_num(r.max_diff, 3)}; " if r.n_sessions > 1 else "")
        text = (f"{tab.literal(r.label)} windows: mean coherence minus the rest of the session "
                f"{tab.fmt_num(r.mean_diff, 3)} ({spread}{plural(r.n_sessions, 'session')})")
        if r.n_tested:
            text += (f"; random-window *p* < .05 in {r.n_below_05} of "
                     f"{plural(r.n_tested, 'session')}")
            if r.n_permutations and 1 / (1 + r.n_permutations) > 0.05:
                text += (f" (with {r.n_permutations} permutations the smallest attainable *p* "
                         f"is {tab.fmt_p(1 / (1 + r.n_permutations))})")
        parts.append(text)
    if not parts:
        return ""
    return (f"Across sessions ({_CHROMA.get(chroma, chroma)}, session level; descriptive only, "
            "no test across sessions or dyads): " + "; ".join(parts) + ".")


def _agreement_part(m: MomentsData, section: Section) -> set[tuple[str, int]]:
    """Rater agreement; returns the sessions with stored consensus moments."""
    agree = m.agreement
    ev = m.events
    marks = ev.loc[ev["source"] == "rater"]
    marked = set(zip(marks["dyad"], marks["session"].astype(int), strict=True))
    with_consensus = set(zip(agree.loc[agree["consensus"] > 0, "dyad"],
                             agree.loc[agree["consensus"] > 0, "session"].astype(int),
                             strict=True))
    if not marked:
        section.add(Para("*Rater agreement.* The consensus moments were imported without the "
                         "raters' marks, so there is no agreement to compute (import each "
                         "rater's file with 'studymgr events import DYAD N FILE --rater CODE')."
                         , "missing"))
        return with_consensus
    shown = agree.loc[agree["marks"] > 0, ["dyad", "session", "label", "raters", "marks",
                                           "consensus", "kappa", "observed_agreement",
                                           "tolerance_s", "bin_s", "settings"]]
    section.add(Para("*Rater agreement.* Per session and label: raters who used the label, "
                     "their marks, the consensus moments stored, and Fleiss' kappa over time "
                     "bins (each rater marks a bin or not; 1 = perfect agreement, 0 = chance), "
                     "recomputed from the marks as 'studymgr events agreement DYAD N "
                     "--no-store' does (nothing in the study is changed)."))
    shown = shown.assign(kappa=shown["kappa"].round(3),
                         observed_agreement=shown["observed_agreement"].round(3))
    section.add(DataTable(shown.rename(columns={
        "consensus": "consensus moments", "observed_agreement": "observed agreement",
        "tolerance_s": "tolerance (s)", "bin_s": "bin (s)"}),
        "Rater agreement per session and label."))
    stored = agree.loc[agree["settings"] == "stored"]
    default = agree.loc[agree["settings"] == "default"]
    said = []
    if len(stored):
        said.append("with the tolerance, minimum number of raters and bin width stored with the "
                    "session's consensus (audit trail of 'events agreement') for "
                    + _sessions_text(set(zip(stored["dyad"], stored["session"], strict=True))))
    if len(default):
        tol = default["tolerance_s"].dropna()
        value = f"{tol.iloc[0] if len(tol) else DEFAULT_TOLERANCE_S:g} s"
        said.append(f"with the default tolerance of {value} (bins of the same width) for "
                    + _sessions_text(set(zip(default["dyad"], default["session"], strict=True)))
                    + ", whose consensus is not stored")
    if said:
        section.add(Para("Kappa was recomputed " + "; ".join(said) + "."))
    changed = stored.loc[stored["recomputed"].notna()
                         & (stored["recomputed"] != stored["consensus"])]
    if len(changed):
        section.add(Para("The marks now give a different number of consensus moments than "
                         "stored for " + _sessions_text(set(zip(changed["dyad"],
                                                                changed["session"],
                                                                strict=True)))
                         + ": the marks changed since the consensus was stored; run 'studymgr "
                         "events agreement DYAD N --replace --reason \"...\"' to update it.",
                         "warning"))
    for item in m.agreement_failed:
        section.add(Para(f"Agreement could not be computed for {item}", "warning"))
    waiting = sorted(marked - with_consensus)
    if waiting:
        d, n = waiting[0]
        section.add(Para(f"Marks but no consensus moments yet in {_sessions_text(waiting)}: "
                         f"run 'studymgr events agreement {d} {n}' (per session) to find and "
                         "store them.", "missing"))
    return with_consensus


def _timelines_part(m: MomentsData, section: Section) -> None:
    if m.max_timelines == 0:
        section.add(Para(f"Timelines are not drawn (the report was written with --timelines 0); "
                         f"{plural(len(m.candidates), 'session')} could show one: write the "
                         "report with 'studymgr report --timelines N' or '--timelines all'.",
                         "missing"))
        return
    shown = [(t.dyad, t.session) for t in m.timelines]
    others = [(d, n) for d, n, _ in m.candidates if (d, n) not in set(shown)]
    counts = {(d, n): k for d, n, k in m.candidates}
    text = (f"Timelines of {len(shown)} of {plural(len(m.candidates), 'session')} with "
            "event-locked results, those with most consensus moments: "
            + ", ".join(f"{d}/{n} ({plural(counts[(d, n)], 'moment')})" for d, n in shown)
            + ".")
    if others:
        text += (f" Not shown: {_sessions_text(others)}; write the report with 'studymgr "
                 "report --timelines all' (or --timelines N) to draw them (each timeline "
                 "reloads and preprocesses the session's recordings, seconds per session).")
    section.add(Para(text))
    chroma = _CHROMA.get(m.chromophore, m.chromophore)
    from studymgr.present.figures import moments_figure

    for t in m.timelines:
        w0, w1 = t.window
        caption = (f"{t.dyad}, session {t.session}. Below: each rater's marks (ticks; bars for "
                   "marks with a duration) and the consensus moments (diamonds), coloured by "
                   "label. ")
        if t.timecourse is not None:
            caption += (f"Above: band-averaged wavelet coherence ({chroma}, mean over the "
                        "homologous ROI pairs) at every sample, recomputed from the recordings "
                        "with the stored event-locked settings (undefined near the ends, outside "
                        f"the cone of influence); shaded: the analysis window ({w0:g} to "
                        f"{w1:g} s) around each consensus moment.")
        else:
            section.add(Para(f"{t.dyad}/{t.session}: the coherence time course could not be "
                             f"recomputed ({t.note}); only the marks are shown.", "warning"))
        section.add(Fig(moments_figure(t.events, t.timecourse, window=t.window,
                                       title=f"{t.dyad}, session {t.session}"),
                        caption, f"timeline-{t.dyad}-{t.session}"))


def _eventlocked_part(data: ReportData, m: MomentsData, section: Section,
                      with_consensus: set[tuple[str, int]]) -> None:
    results = m.eventlocked
    computed = set(zip(results["dyad"], results["session"].astype(int), strict=True))
    if not computed:
        has_nirs = bool(len(data.scans)) and (data.scans["modality"] == "nirs").any()
        if with_consensus and not has_nirs:
            section.add(Para("*Event-locked synchrony.* Event-locked fNIRS synchrony needs both "
                             "people's fNIRS recordings of a session; none are imported.",
                             "missing"))
        elif with_consensus:
            section.add(Para("*Event-locked synchrony.* Consensus moments are stored but no "
                             "event-locked synchrony yet: run 'studymgr eventlocked compute' "
                             "(it needs both fNIRS recordings of a session).", "missing"))
        else:
            section.add(Para("*Event-locked synchrony.* It needs consensus moments first (see "
                             "above), then 'studymgr eventlocked compute'.", "missing"))
        return
    section.add(Para("*Event-locked synchrony.* Coherence around each consensus moment against "
                     "the rest of the session and against randomly placed windows (seeded "
                     "permutation test), per session."))
    missing = sorted(with_consensus - computed)
    if missing:
        section.add(Para(f"Consensus moments without event-locked results: "
                         f"{_sessions_text(missing)}: run 'studymgr eventlocked compute' (it "
                         "needs both fNIRS recordings of a session).", "missing"))
    _timelines_part(m, section)
    labels = _label_order([c for c in results["condition"] if c != "rest"], m)
    configs = [cfg for cfg, _ in run_configs(m.runs)]
    section.add(ApaTable(tab.eventlocked_apa_table(results, labels=labels,
                                                   chromophores=[m.chromophore],
                                                   configs=configs)))
    sentence = _summary_sentences(eventlocked_summary(results, m.chromophore, labels),
                                  m.chromophore)
    if sentence:
        section.add(Para(sentence))


def _eeg_part(data: ReportData, m: MomentsData, section: Section) -> None:
    eeg = m.eeg.loc[m.eeg["level"] == "session"] if len(m.eeg) else m.eeg
    asym = m.asymmetry
    if eeg.empty and asym.empty:
        if len(data.scans) and (data.scans["modality"] == "eeg").any():
            section.add(Para("*EEG.* EEG recordings are imported but no EEG results are "
                             "stored: run 'studymgr eeg compute'.", "missing"))
        return
    configs = [cfg for cfg, _ in run_configs(m.eeg_runs)]
    conditions = set(eeg["condition"]) | set(asym["condition"])
    labels = _label_order([c for c in conditions if c not in ("session", "rest")], m)
    section.add(Para("*EEG.* Inter-brain coupling (phase-locking value and amplitude envelope "
                     "correlation per band) and each person's frontal alpha asymmetry, over "
                     "the whole session, around the moments of each label and in the rest of "
                     "the session."))
    if conditions <= {"session"}:
        section.add(Para("The stored EEG results hold the whole sessions only: they were "
                         "computed before consensus moments were stored. Run 'studymgr eeg "
                         "compute' again for the conditions around the moments.", "missing"))
    if len(eeg):
        section.add(ApaTable(tab.eeg_coupling_table(eeg, labels=labels, configs=configs)))
    if len(asym):
        section.add(ApaTable(tab.eeg_asymmetry_table(asym, labels=labels, configs=configs)))
        order = tab.condition_order(asym["condition"], labels)
        headers = [{"session": "Whole session", "rest": "Rest"}.get(c, c) for c in order]
        section.add(Fig(figs.faa_figure(asym, order, headers),
                        "Frontal alpha asymmetry (ln right − ln left alpha power) per condition: "
                        "one point per session (and electrode pair), triangles therapists, "
                        "circles patients; short lines: their means. Positive: relatively more "
                        "right alpha power, i.e. relatively more left-frontal activity.", "faa"))


def moments(data: ReportData, section: Section) -> None:
    """Marks and agreement, timelines and event-locked synchrony, EEG (each when stored)."""
    m = data.moments
    if m is None:  # pragma: no cover - build_sections leaves the section out
        return
    ev = m.events
    marks = ev.loc[ev["source"] == "rater"]
    consensus = ev.loc[ev["source"] == "consensus"]
    raters = sorted(marks["rater"].dropna().unique())
    section.intro = ("Moments marked by raters in the sessions (in the design of Fachner, "
                     "Maidhof et al. (2019), moments of interest, MOI, and of no interest, "
                     "MONI): the raters' agreement, their consensus moments, and synchrony "
                     "around them.")
    n_sessions = len(set(zip(ev["dyad"], ev["session"], strict=True)))
    text = f"{plural(n_sessions, 'session')} with moments: "
    if len(marks):
        text += (f"{plural(len(marks), 'mark')} by {plural(len(raters), 'rater')} "
                 f"({', '.join(raters)}), ")
    text += plural(len(consensus), "consensus moment")
    by_label = consensus.groupby("label").size()
    if len(by_label):
        text += " (" + ", ".join(f"{n} {lab}" for lab, n in by_label.items()) + ")"
    if marks.empty:
        text += ", imported without the raters' marks"
    section.add(Para(text + "."))
    with_consensus = _agreement_part(m, section)
    _eventlocked_part(data, m, section, with_consensus)
    _eeg_part(data, m, section)


# --------------------------------------------------------------------------------------------
# 7. diagnostics
# --------------------------------------------------------------------------------------------


SINGULAR_TEXT = ("A singular fit means that a variance between dyads was estimated as zero (or "
                 "a correlation as ±1): the dyads do not differ in that respect beyond the "
                 "residual noise, and that part of the model reduces to ordinary regression. "
                 "With few dyads this is common and not an error; the fixed effects and their "
                 "tests remain valid.")


def fit_notes(fits: pd.DataFrame) -> list[str]:
    """Convergence, singularity, fallbacks and warnings of the stored models, in plain words
    (one line per model that has something to say)."""
    out = []
    for f in fits.itertuples(index=False):
        if f.status != "ok":
            out.append(f"{f.model}: could not be fitted — {f.message}")
            continue
        if f.model == "rm_corr":
            continue
        said = []
        if f.converged is False:
            said.append("did not converge: the estimates are not at a clean optimum of the "
                        "likelihood; treat them with caution")
        fallback = f.fallback if isinstance(f.fallback, str) and f.fallback else None
        if fallback:
            said.append(fallback)
        elif f.singular is True:
            said.append("singular fit")
        said += [n for n in dict.fromkeys(str(f.notes or "").splitlines())
                 if n and n != fallback and not n.startswith("singular fit")
                 and "variance is ~0" not in n]
        if said:
            out.append(f"{f.model}: " + "; ".join(said))
    return out


def diagnostics(data: ReportData, section: Section) -> None:
    refit = data.refit
    if not refit.results and data.run is None:
        section.add(Para("No models to diagnose yet: compute synchrony and run 'studymgr "
                         "models fit'.", "missing"))
        return
    table = data.table.frame
    panels = []
    for name, res in refit.results.items():
        frame, y = model_data(table, name, _var(data))
        if len(frame) != res.fit.n_obs:
            section.add(Para(f"{name}: the rows rebuilt for diagnostics ({len(frame)}) differ "
                             f"from the model's ({res.fit.n_obs}); diagnostics skipped.",
                             "warning"))
            continue
        z_terms = [str(r.var1) for r in res.random.itertuples(index=False)
                   if r.group != "Residual" and pd.isna(r.var2)]
        G, s2 = covariance_from_random(res.random, z_terms)
        cond = conditional_effects(frame, y, list(res.fixed["term"]), z_terms, "dyad",
                                   res.fixed.set_index("term")["estimate"], G, s2)
        qq = normal_quantiles(cond.rows["std_residual"].to_numpy())
        panels.append((name, cond.rows, qq, cond.effects))
    if panels:
        section.add(Fig(figs.diagnostics_figure(panels),
                        "Diagnostics of the growth model and the same-session outcome and "
                        "alliance models, refitted from the analysis table (one row each): "
                        "conditional residuals against fitted values (should scatter evenly "
                        "around 0), normal QQ plot of the standardised residuals (points near "
                        "the line: residuals close to normal), and each dyad's random effect "
                        "(BLUP) with its 95% conditional interval. Formulas: "
                        + "; ".join(f"{n}: {refit.results[n].formula}" for n, *_ in panels)
                        + ".", "diagnostics"))
    for name, message in refit.failed.items():
        section.add(Para(f"{name} could not be refitted: {message}", "warning"))
    notes = fit_notes(_fits(data)) if data.run is not None else []
    if notes:
        section.add(Para("Fit notes of the stored models:"), Bullets(notes))
        if any("singular fit" in n for n in notes):
            section.add(Para(SINGULAR_TEXT))
    elif data.run is not None:
        section.add(Para("Every stored model converged without singular fits or warnings.",
                         "ok"))
    if data.run is None:
        section.add(Para("No models run is stored, so the refit cannot be compared with "
                         "stored numbers.", "missing"))
    elif refit.compared:
        same = ("the same analysis table as the stored run (same SHA-256)" if refit.same_table
                else "an analysis table that differs from the stored run's (the data changed "
                     "since 'models fit')")
        if refit.mismatches:
            section.add(Para(f"The refit ({same}) differs from the stored results in "
                             f"{len(refit.mismatches)} of {refit.compared} numbers; run "
                             "'studymgr models fit' again to bring them in line.", "warning"),
                        Bullets(refit.mismatches[:20]))
        else:
            section.add(Para(f"Check: the refit from {same} reproduces the stored estimates, "
                             f"standard errors, df and p-values ({refit.compared} numbers; "
                             f"largest relative difference {refit.max_rel_diff:.1e}).", "ok"))
    if data.table_note:
        section.add(Para(data.table_note, "warning"))


# --------------------------------------------------------------------------------------------
# 8. methods, 9. provenance
# --------------------------------------------------------------------------------------------


def _sync_configs(data: ReportData) -> list[tuple[dict[str, Any], int]]:
    return run_configs(data.sync_runs)


def _moments_methods(data: ReportData) -> str | None:
    from studymgr.present.report.methods import moments_text

    m = data.moments
    if m is None:
        return None
    marked = bool((m.events["source"] == "rater").any())
    return moments_text(m.agreement_configs, run_configs(m.runs), run_configs(m.eeg_runs),
                        _label_order(list(m.events["label"]), m), marked=marked)


def _versions(data: ReportData) -> dict[str, str]:
    if data.run is not None and data.run.get("versions"):
        return dict(data.run["versions"])
    if len(data.sync_runs):
        return dict(data.sync_runs.iloc[-1]["versions"])
    from studymgr.provenance import versions

    return versions()


def _recordings_digest(data: ReportData) -> tuple[int, str] | None:
    if data.scans.empty:
        return None
    joined = "\n".join(sorted(data.scans["sha256"].astype(str)))
    return len(data.scans), hashlib.sha256(joined.encode()).hexdigest()


def methods(data: ReportData, section: Section) -> None:
    from studymgr.present.report.methods import methods_sections, references

    configs = _sync_configs(data)
    sfreq = None
    if configs:
        cfg = configs[0][0]
        sfreq = cfg.get("resample_sfreq") or (float(data.scans["sfreq"].min())
                                              if len(data.scans) else None)
    hashes = {"analysis_table": (data.run or {}).get("input_hashes", {}).get("analysis_table"),
              "synchrony_configs": [h for h in data.sync_runs["config_hash"].unique()],
              "recordings": _recordings_digest(data)}
    parts = methods_sections(configs, data.run, _fits(data), _versions(data), sfreq, hashes,
                             moments=_moments_methods(data))
    section.intro = ("Generated from the configurations stored with the results; it can be "
                     "pasted into a paper's methods section (check the instrument names and "
                     "add the acquisition details, which the study does not record).")
    text = []
    for heading, paragraph in parts:
        section.add(Para(f"*{heading}.* {paragraph}"))
        text.append(paragraph)
    refs = references(" ".join(text))
    if refs:
        section.add(Para("References"), Bullets(refs))


def provenance(data: ReportData, section: Section) -> None:
    from studymgr._version import __version__

    vers = _versions(data)
    section.add(DataTable(pd.DataFrame(sorted(vers.items()), columns=["package", "version"]),
                          "Package versions recorded with the results (the models run, else "
                          f"the latest synchrony run); this report: studymgr {__version__}."))
    if data.run is not None:
        run = data.run
        section.add(Para(f"Models run {run['run_id']}: configuration SHA-256 "
                         f"{run['config_hash']}; analysis table SHA-256 "
                         f"{run['input_hashes'].get('analysis_table')}; synchrony "
                         "configurations: "
                         f"{', '.join(run['input_hashes'].get('synchrony_runs') or []) or 'none'}."
                         ))
        section.add(Code(json.dumps(run["config"], indent=2, sort_keys=True),
                         "Models run configuration"))
    for cfg, n in _sync_configs(data):
        section.add(Code(json.dumps(cfg, indent=2, sort_keys=True),
                         f"Synchrony configuration used for {n} session(s)"))
    if data.moments is not None:
        for what, runs in (("Event-locked", data.moments.runs), ("EEG", data.moments.eeg_runs)):
            for cfg, n in run_configs(runs):
                section.add(Code(json.dumps(cfg, indent=2, sort_keys=True),
                                 f"{what} configuration used for {n} session(s)"))
    if len(data.scans):
        section.add(DataTable(data.scans[["dyad", "session", "role", "format", "sfreq",
                                          "duration_s", "sha256"]],
                              "Recordings and their SHA-256 (verified on every read)."))
    audit = "intact" if not data.audit_problems else "BROKEN: " + "; ".join(data.audit_problems)
    section.add(Para(f"Audit trail: {audit}.", "ok" if not data.audit_problems else "warning"))
