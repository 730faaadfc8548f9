"""Plain-text views of a study and its stored results, as the command line prints them.

Pure: tidy frames and result dicts from the API in; text, display frames or JSON-ready
objects out. No click and no study, so a notebook can print the same views:

- :func:`render_table`, :func:`records`: any frame as an aligned table or as JSON rows;
- :func:`status_grid`, :func:`status_text`: the dyad x session completeness grid;
- :func:`audit_changes`, :func:`audit_decoded`: the audit trail for people and for programs;
- :func:`shown_checks`: the result of ``check`` with long lists of one problem cut short;
- :func:`describe_recording`: one line about an imported recording;
- :func:`agreement_json`, :func:`agreement_outcome`: rater agreement and what was stored;
- :func:`models_text`, :func:`models_json`: the stored models run (``models show``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

__all__ = ["MAX_SHOWN", "agreement_json", "agreement_outcome", "audit_changes", "audit_decoded",
           "describe_recording", "models_json", "models_text", "records", "render_table",
           "shown_checks", "status_grid", "status_text"]

#: In :func:`shown_checks`, at most this many problems of one check are listed.
MAX_SHOWN = 20


# -- any frame ---------------------------------------------------------------------------------
def render_table(frame: pd.DataFrame) -> str:
    """An aligned plain-text table: numbers right-aligned, text left-aligned."""
    columns = [str(c) for c in frame.columns]
    cells = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [frame[c].dtype.kind in "iuf" for c in frame.columns]

    def fmt_row(values: list[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w)
                 for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    lines = [fmt_row(columns), "  ".join("-" * w for w in widths)]
    lines += [fmt_row(r) for r in cells]
    return "\n".join(lines)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts of plain Python values (missing values as None)."""
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    # pd.isna raises on odd objects (e.g. arrays of unknown shape): those are not missing.
    with contextlib.suppress(TypeError, ValueError):
        if value is None or (not isinstance(value, (list, dict, str)) and pd.isna(value)):
            return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# -- status ------------------------------------------------------------------------------------
def status_grid(frame: pd.DataFrame) -> pd.DataFrame:
    """Pivot the tidy status rows into one row per dyad and one column per session number.

    Parameters
    ----------
    frame : DataFrame
        :meth:`Study.status` rows (one per dyad x session).

    Returns
    -------
    DataFrame
        ``dyad, therapist, patient`` and one column per session number; each cell is T
        (therapy) or I (interview), ``*`` scans planned, ``x`` not attended, ``L`` locked,
        then the ``mark_*`` values.
    """
    numbers = sorted(int(n) for n in frame["session"].dropna().unique())
    rows = []
    for (dyad, therapist, patient), group in frame.groupby(
        ["dyad", "therapist", "patient"], sort=True
    ):
        row = {"dyad": dyad, "therapist": therapist, "patient": patient}
        by_number = {int(r.session): r for r in group.itertuples() if not pd.isna(r.session)}
        for n in numbers:
            r = by_number.get(n)
            row[str(n)] = "" if r is None else _status_cell(r)
        rows.append(row)
    return pd.DataFrame(rows, columns=["dyad", "therapist", "patient", *map(str, numbers)])


def _status_cell(r: Any) -> str:
    text = "T" if r.kind == "therapy" else "I"
    if r.scanned:
        text += "*"
    if not r.attended:
        text += "x"
    if r.locked:
        text += "L"
    marks = [str(v) for k, v in r._asdict().items()
             if k.startswith("mark_") and isinstance(v, str) and v]
    return " ".join([text, *marks])


def status_text(summary: Mapping[str, Any], frame: pd.DataFrame,
                legends: Iterable[str] = ()) -> str:
    """The study at a glance: a count line, the completeness grid and its legend.

    Parameters
    ----------
    summary : mapping
        :meth:`Study.summary` (study name, schema version, counts).
    frame : DataFrame
        :meth:`Study.status` rows.
    legends : iterable of str
        Explanations of the ``mark_*`` columns (:meth:`Study.status_legends`).
    """
    lines = [f"Study {summary['study']!r} (schema v{summary['schema_version']}): "
             f"{summary['dyads']} dyads, {summary['therapists']} therapists, "
             f"{summary['patients']} patients, {summary['sessions']} sessions "
             f"({summary['locked']} locked)"]
    if frame.empty:
        lines.append("No dyads yet: add one with 'studymgr dyad add D01 --therapist T01 "
                     "--patient P01'.")
        return "\n".join(lines)
    lines += [render_table(status_grid(frame)),
              "Cells: T therapy, I interview, * scans planned, x not attended, L locked.",
              *legends]
    return "\n".join(lines)


# -- audit trail -------------------------------------------------------------------------------
def audit_changes(frame: pd.DataFrame) -> pd.DataFrame:
    """The audit rows for reading: ``old``/``new`` JSON folded into one ``change`` column."""
    frame = frame.assign(
        change=[_change(o, n) for o, n in zip(frame["old"], frame["new"], strict=True)])
    return frame[["id", "at", "user", "action", "entity", "entity_key", "change", "reason"]]


def audit_decoded(frame: pd.DataFrame) -> pd.DataFrame:
    """The audit rows with ``old``/``new`` as objects (not JSON inside JSON strings)."""
    frame = frame.copy()
    for col in ("old", "new"):
        frame[col] = [json.loads(v) if isinstance(v, str) else None for v in frame[col]]
    return frame


def _change(old: object, new: object) -> str:
    # Missing JSON comes back from pandas as None or NaN.
    o = json.loads(old) if isinstance(old, str) and old else None
    n = json.loads(new) if isinstance(new, str) and new else None
    if o is None:
        return _short(n)
    return f"{_short(o)} -> {_short(n)}"


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)


# -- check -------------------------------------------------------------------------------------
def shown_checks(frame: pd.DataFrame, max_shown: int = MAX_SHOWN) -> pd.DataFrame:
    """The check rows with at most ``max_shown`` problems per check and a '... and N more' row."""
    parts = []
    for _, group in frame.groupby("check", sort=False):
        problems = group[group["status"] == "problem"]
        if len(problems) > max_shown:
            more = pd.DataFrame([{**problems.iloc[-1].to_dict(), "where": "",
                                  "detail": f"... and {len(problems) - max_shown} more "
                                            "(--json lists all)"}])
            group = pd.concat([group[group["status"] != "problem"], problems.iloc[:max_shown],
                               more])
        parts.append(group)
    return pd.concat(parts, ignore_index=True) if parts else frame


# -- recordings --------------------------------------------------------------------------------
def describe_recording(result: Mapping[str, Any]) -> str:
    """One line about a stored recording: size, quality, events.

    Parameters
    ----------
    result : mapping
        What :meth:`Study.import_scan` returns.
    """
    size = (f"{result['format']}, {result['n_channels']} channels at {result['sfreq']:.4g} Hz, "
            f"{result['duration_s']:.1f} s")
    if result.get("modality") == "eeg":
        line = ("line noise n/a" if result.get("line_noise_hz") is None else
                f"line noise {result['line_noise_hz']:g} Hz {result['line_noise_db']:+.1f} dB")
        alpha = ("alpha peak n/a" if result.get("alpha_hz") is None else
                 f"alpha peak {result['alpha_hz']:.1f} Hz")
        return (f"{size}; usable {100 * (result['usable_share'] or 0):.0f}% (not flat or "
                f"saturated); {line}; {alpha}; {result['n_events']} events")
    usable = ("usable n/a" if result["usable_share"] is None else
              f"usable {100 * result['usable_share']:.0f}% (SCI >= {result['sci_threshold']:g})")
    if result["cardiac"] == "n/a":
        cardiac = "cardiac peak n/a"
    else:
        cardiac = (f"cardiac peak {result['cardiac_hz']:.2f} Hz ({result['cardiac_db']:+.1f} dB"
                   f"{'' if result['cardiac'] == 'present' else ', too weak'})")
    return f"{size}; {usable}; {cardiac}; {result['n_events']} events"


# -- rater agreement ---------------------------------------------------------------------------
def agreement_json(result: Mapping[str, Any]) -> dict[str, Any]:
    """:meth:`Study.rater_agreement`'s result as one JSON-ready object."""
    return {"moments": records(result["moments"]), "agreement": records(result["summary"]),
            "config": result["config"], "outcome": result["outcome"],
            "n_stored": result["n_stored"], "n_removed": result["n_removed"]}


def agreement_outcome(result: Mapping[str, Any]) -> str:
    """One line: what was stored, and what kappa means."""
    outcome = {"stored": f"Stored {result['n_stored']} consensus moment(s)"
                         + (f" (replacing {result['n_removed']})" if result["n_removed"]
                            else ""),
               "unchanged": "The stored consensus moments are up to date",
               "not stored": "Nothing stored (--no-store)"}[result["outcome"]]
    return f"{outcome}; kappa: Fleiss' kappa over {result['config']['bin_s']:g}-s bins"


# -- models ------------------------------------------------------------------------------------
def models_json(results: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """The stored models run as one JSON-ready object: run, constructs, models (each with its
    fixed and random effects) and the growth per ROI pair.

    Parameters
    ----------
    results : mapping of str to DataFrame
        :meth:`Study.model_results` (possibly narrowed by
        :func:`studymgr.runs.models.select_models`).
    """
    if results["run"].empty:
        return {"run": None, "constructs": [], "models": [], "roi": []}
    run = records(results["run"])[0]
    run["config"] = json.loads(run["config"])
    run["notes"] = run["notes"].splitlines() if run["notes"] else []
    models = []
    for fit in records(results["fits"]):
        name = fit["model"]
        terms = results["terms"].loc[results["terms"]["model"] == name].drop(columns="model")
        random = results["random"].loc[results["random"]["model"] == name].drop(columns="model")
        models.append({**fit, "fixed": records(terms), "random": records(random)})
    return {"run": run, "constructs": records(results["constructs"]), "models": models,
            "roi": records(results["roi"])}


def models_text(results: Mapping[str, pd.DataFrame], *, selected: bool = False) -> str:
    """The stored models run as text: per model its formula, fixed effects (Satterthwaite df,
    p), random effects and fit notes.

    Parameters
    ----------
    results : mapping of str to DataFrame
        :meth:`Study.model_results`, with a run.
    selected : bool
        Only some models were selected: leave out the constructs and the run's notes.
    """
    run = results["run"].iloc[0]
    lines = [f"Models run {run['run_id']} by {run['started_by']} at {run['started_at']}: "
             f"{run['n_fits']} fitted, {run['n_failed']} failed",
             f"Analysis table sha256 {run['analysis_table']}"]
    if not selected:
        lines.append("Constructs:")
        for c in results["constructs"].itertuples(index=False):
            if pd.isna(c.instrument):
                lines.append(f"  {c.construct}: none entered")
            else:
                lines.append(f"  {c.construct}: {c.instrument}@{c.version} scale {c.scale} "
                             f"({c.role}-rated, {c.timing}-session; {c.n_responses} "
                             f"responses; {c.chosen})")
        if run["notes"]:
            lines.append("Notes:")
            lines += [f"  - {n}" for n in run["notes"].splitlines()]
    for fit in results["fits"].itertuples(index=False):
        lines += ["", f"== {fit.model} ({fit.status}) ==", fit.formula]
        if fit.status != "ok":
            lines.append(f"Failed: {fit.message}")
            continue
        terms = results["terms"].loc[results["terms"]["model"] == fit.model].drop(columns="model")
        if fit.model == "rm_corr":
            terms = terms.rename(columns={"estimate": "r"}).drop(columns=["se", "t"])
            lines += [f"{int(fit.n_obs)} observations in {int(fit.n_groups)} dyads",
                      render_table(terms)]
            if fit.message:
                lines.append(f"Notes: {fit.message}")
            continue
        if terms["p_fdr"].isna().all():
            terms = terms.drop(columns="p_fdr")
        lines.append(f"{int(fit.n_obs)} observations in {int(fit.n_groups)} dyads; R2 marginal "
                     f"{_f(fit.r2_marginal)}, conditional {_f(fit.r2_conditional)}; ICC "
                     f"{_f(fit.icc)}; {'converged' if fit.converged else 'NOT converged'}")
        lines += ["Fixed effects (t-tests on Satterthwaite df, 95% CI):", render_table(terms)]
        random = results["random"].loc[results["random"]["model"] == fit.model].drop(
            columns="model")
        lines += ["Random effects (variances, SDs; covariances, correlations):",
                  render_table(random)]
        if fit.notes:
            lines.append("Fit notes:")
            lines += [f"  - {n}" for n in str(fit.notes).splitlines() if n]
    if not results["roi"].empty:
        lines += ["", "== growth per ROI pair (Benjamini-Hochberg across ROI pairs) ==",
                  render_table(results["roi"].drop(columns=["model"]))]
    return "\n".join(lines)


def _f(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.3f}"
