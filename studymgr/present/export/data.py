"""Tidy long tables of a study, a data dictionary, and de-identification for sharing.

:func:`collect_tables` reads the study through its public methods; :func:`deidentify` and
:func:`data_dictionary` are pure (frames in, frames out); :func:`write_tables` writes one CSV per
table (UTF-8, header line, ``\\n`` line ends, missing values empty).

De-identification (:func:`deidentify`):

- dyad, therapist, patient and rater codes are replaced by ``dyad-1``, ``therapist-1``,
  ``patient-1``, ``rater-1`` ... in an order drawn at random from the seed (so the new numbers
  do not reveal the old order); the mapping is never written;
- every date and timestamp of a dyad is shifted by the same whole number of days, drawn per
  dyad from the seed (1-365 days, either direction): intervals within a dyad are kept;
- columns that could link back to the original data are dropped: file hashes and paths, who
  imported or entered what and when, free-text messages and notes (they may name dyads).

The seed decides the shifts. Keep it secret (like a key): anyone with the seed and the
de-identified data can undo the date shifts. With ``seed=None`` a fresh random seed is used and
never stored.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from studymgr.runs.study import Study

logger = logging.getLogger(__name__)

# Columns holding identifiers, by kind of code.
ID_COLUMNS = {
    "dyad": "dyad",
    "therapist": "therapist",
    "patient": "patient",
    "rater": "rater",
}
DATE_COLUMNS = ("date", "meas_date")
DROP_WHEN_DEIDENTIFIED = ("sha256", "path", "imported_by", "imported_at", "entered_by",
                          "entered_at", "message", "notes", "started_by", "started_at",
                          "finished_at", "person")
MAX_SHIFT_DAYS = 365

# What each column means: table-specific descriptions first, then general ones.
_DESCRIPTIONS: dict[tuple[str | None, str], tuple[str, str]] = {
    (None, "dyad"): ("", "Dyad code (a therapist and a patient)"),
    (None, "session"): ("", "Session number within the dyad (1, 2, ...)"),
    (None, "therapist"): ("", "Therapist code"),
    (None, "patient"): ("", "Patient code"),
    (None, "date"): ("YYYY-MM-DD", "Date of the session"),
    (None, "kind"): ("", "Kind of session: therapy or interview"),
    (None, "scanned"): ("", "fNIRS recordings planned for the session (true/false)"),
    (None, "attended"): ("", "The session took place (true/false)"),
    (None, "locked"): ("", "The session's data are locked read-only (true/false)"),
    ("scores", "role"): ("", "Who answered: therapist or patient"),
    ("items", "role"): ("", "Who answered: therapist or patient"),
    (None, "timing"): ("", "When relative to the session: pre or post"),
    (None, "instrument"): ("", "Questionnaire (instrument) name"),
    (None, "version"): ("", "Instrument version"),
    (None, "construct"): ("", "What the instrument measures: symptoms, wellbeing, alliance, "
                              "session_quality or other"),
    (None, "role"): ("", "Whose recording: therapist or patient"),
    ("sessions", "sessions"): ("count", "Number of sessions of the dyad"),
    ("dyads", "sessions"): ("count", "Number of sessions of the dyad"),
    ("scores", "scale"): ("", "Scale (sub-score) of the instrument"),
    ("scores", "value"): ("scale units", "Scale score (missing when too few items answered)"),
    ("scores", "n_answered"): ("count", "Items answered"),
    ("scores", "n_items"): ("count", "Items in the scale"),
    ("scores", "prorated"): ("", "Score prorated from the answered items (true/false)"),
    ("scores", "band"): ("", "Severity band of the score, where the instrument defines one"),
    ("scores", "primary"): ("", "The instrument's primary scale (the one the models use)"),
    ("scores", "status"): ("", "entered, or amended (changed after entry, with a reason in the "
                               "audit trail)"),
    ("scores", "source"): ("", "How the response was stored: entry, import or amend"),
    ("items", "item"): ("", "Item identifier within the instrument"),
    ("items", "position"): ("", "Item position (1-based, definition order)"),
    ("items", "value"): ("item units", "Raw item value (not reverse-keyed); missing when not "
                                       "answered"),
    ("items", "missing"): ("", "Missing code: NA (not administered), REF (refused), NR (no "
                               "response); empty when answered"),
    ("scans", "person"): ("", "Code of the person recorded"),
    ("scans", "path"): ("", "Path of the recording in the study's data folder"),
    ("scans", "modality"): ("", "Recording modality (nirs)"),
    ("scans", "format"): ("", "File format of the recording as imported"),
    ("scans", "sha256"): ("hex", "SHA-256 of the stored recording file"),
    ("scans", "size_bytes"): ("bytes", "Size of the stored recording file"),
    ("scans", "sfreq"): ("Hz", "Sampling rate"),
    ("scans", "n_channels"): ("count", "Channels in the recording"),
    ("scans", "duration_s"): ("s", "Duration of the recording"),
    ("scans", "meas_date"): ("ISO 8601 UTC", "Start of the recording"),
    ("scans", "usable_share"): ("proportion", "Share of fNIRS channels usable at import (scalp "
                                              "coupling index >= threshold, not flat, not "
                                              "saturated)"),
    ("scans", "n_usable"): ("count", "Usable fNIRS channels"),
    ("scans", "n_fnirs"): ("count", "fNIRS channels"),
    ("scans", "cardiac"): ("", "Cardiac peak in the spectrum: present or absent (a sign of "
                               "good optode contact)"),
    ("scans", "cardiac_hz"): ("Hz", "Frequency of the cardiac peak"),
    ("scans", "n_events"): ("count", "Events read from the recording file"),
    ("synchrony", "pair"): ("", "true (the dyad's own therapist and patient) or pseudo (recordings "
                                "of different dyads at the same session number)"),
    ("synchrony", "therapist"): ("", "Dyad/session whose therapist recording was paired"),
    ("synchrony", "patient"): ("", "Dyad/session whose patient recording was paired"),
    ("synchrony", "chromophore"): ("", "hbo (oxygenated) or hbr (deoxygenated haemoglobin)"),
    ("synchrony", "level"): ("", "channel pair, roi pair, or session (mean over homologous ROI "
                                 "pairs)"),
    ("synchrony", "therapist_unit"): ("", "Therapist's channel or ROI (all for session level)"),
    ("synchrony", "patient_unit"): ("", "Patient's channel or ROI (all for session level)"),
    ("synchrony", "value"): ("coherence (0-1)", "Wavelet transform coherence averaged over the "
                                                "frequency band and time"),
    ("synchrony", "config_hash"): ("hex", "SHA-256 of the synchrony configuration"),
    ("synchrony_tests", "chromophore"): ("", "hbo or hbr"),
    ("synchrony_tests", "level"): ("", "channel, roi or session"),
    ("synchrony_tests", "therapist_unit"): ("", "Therapist's channel or ROI"),
    ("synchrony_tests", "patient_unit"): ("", "Patient's channel or ROI"),
    ("synchrony_tests", "true_value"): ("coherence (0-1)", "Synchrony of the true pair"),
    ("synchrony_tests", "pseudo_mean"): ("coherence (0-1)", "Mean over the pseudo pairs"),
    ("synchrony_tests", "pseudo_sd"): ("coherence (0-1)", "SD over the pseudo pairs"),
    ("synchrony_tests", "n_pseudo"): ("count", "Pseudo pairs"),
    ("synchrony_tests", "p_value"): ("probability", "Permutation p: (1 + #pseudo >= true) / "
                                                    "(1 + n_pseudo)"),
    ("synchrony_tests", "seed"): ("", "Seed of the pseudo-pair subset"),
    ("events", "onset_s"): ("s", "Onset from the start of the session's recording"),
    ("events", "duration_s"): ("s", "Duration"),
    ("events", "label"): ("", "Event label"),
    ("events", "rater"): ("", "Rater code (empty for events from the recording or a CSV)"),
    ("events", "source"): ("", "recording, csv, rater or consensus"),
    ("events", "recording"): ("", "Role whose recording the event came from (source "
                                  "recording)"),
    ("eventlocked", "measure"): ("", "wtc: band-averaged wavelet transform coherence over time"),
    ("eventlocked", "chromophore"): ("", "hbo (oxygenated) or hbr (deoxygenated haemoglobin)"),
    ("eventlocked", "level"): ("", "channel pair, roi pair, or session (mean over homologous "
                                   "ROI pairs)"),
    ("eventlocked", "therapist_unit"): ("", "Therapist's channel or ROI (all for session level)"),
    ("eventlocked", "patient_unit"): ("", "Patient's channel or ROI (all for session level)"),
    ("eventlocked", "condition"): ("", "Event label whose moments' windows were averaged (e.g. "
                                       "MOI, MONI), or rest (every sample outside all windows)"),
    ("eventlocked", "value"): ("coherence (0-1)", "Mean coherence in the label's windows (mean "
                                                  "of the moments' window means) or in the rest"),
    ("eventlocked", "n_windows"): ("count", "Moments whose window had defined coherence (0 for "
                                            "rest)"),
    ("eventlocked", "null_mean"): ("coherence (0-1)", "Mean of the statistic over randomly "
                                                      "placed sets of windows (empty for rest)"),
    ("eventlocked", "null_sd"): ("coherence (0-1)", "SD of that null distribution"),
    ("eventlocked", "n_permutations"): ("count", "Random placements of the permutation test"),
    ("eventlocked", "p_value"): ("probability", "One-sided permutation p: (1 + #random >= "
                                                "observed) / (1 + n_permutations)"),
    ("eventlocked", "seed"): ("", "Seed of the random placements"),
    ("eventlocked", "config_hash"): ("hex", "SHA-256 of the event-locked configuration used"),
    ("eeg_coupling", "measure"): ("", "<measure>_<band>: plv (phase-locking value) or aec "
                                      "(amplitude envelope correlation) in a frequency band"),
    ("eeg_coupling", "level"): ("", "channel (electrode pair) or session (mean over homologous "
                                    "electrode pairs)"),
    ("eeg_coupling", "therapist_unit"): ("", "Therapist's electrode (all for session level)"),
    ("eeg_coupling", "patient_unit"): ("", "Patient's electrode (all for session level)"),
    ("eeg_coupling", "condition"): ("", "session (whole recording), an event label (its "
                                        "moments' windows) or rest"),
    ("eeg_coupling", "value"): ("PLV 0-1, AEC -1 to 1", "Mean coupling over the epochs (session, "
                                                        "rest) or the moments (a label)"),
    ("eeg_coupling", "n"): ("count", "Epochs (session, rest) or moments (a label) averaged"),
    ("eeg_coupling", "config_hash"): ("hex", "SHA-256 of the EEG configuration used"),
    ("eeg_asymmetry", "role"): ("", "Whose EEG: therapist or patient"),
    ("eeg_asymmetry", "left"): ("", "Left electrode of the pair (e.g. F3)"),
    ("eeg_asymmetry", "right"): ("", "Right electrode of the pair (e.g. F4)"),
    ("eeg_asymmetry", "condition"): ("", "session (whole recording), an event label (its "
                                         "moments' windows) or rest"),
    ("eeg_asymmetry", "value"): ("ln ratio", "Frontal alpha asymmetry: ln(right alpha power) - "
                                             "ln(left alpha power), mean over windows"),
    ("eeg_asymmetry", "sd"): ("ln ratio", "SD over the windows of the session (session only)"),
    ("eeg_asymmetry", "n_windows"): ("count", "Windows (session, rest) or moments (a label) "
                                              "averaged"),
    ("eeg_asymmetry", "config_hash"): ("hex", "SHA-256 of the EEG configuration used"),
    ("analysis_table", "synchrony"): ("coherence (0-1)", "Session synchrony index of the true "
                                                         "pair (mean over homologous ROI pairs)"),
    ("analysis_table", "synchrony_pseudo"): ("coherence (0-1)", "Mean of the same index over the "
                                                                "session's pseudo pairs"),
    ("analysis_table", "n_pseudo"): ("count", "Pseudo pairs in that mean"),
    ("analysis_table", "symptoms"): ("scale units", "Symptom score used by the models"),
    ("analysis_table", "wellbeing"): ("scale units", "Wellbeing score used by the models"),
    ("analysis_table", "alliance"): ("scale units", "Alliance score used by the models"),
    ("analysis_table", "session_quality"): ("scale units", "Session-quality score used by the "
                                                           "models"),
    ("model_terms", "model"): ("", "Model name (see model_fits)"),
    ("model_terms", "term"): ("", "Fixed effect, contrast, or for rm_corr the correlated pair"),
    ("model_terms", "estimate"): ("outcome units per predictor unit", "Estimate (r for rm_corr)"),
    ("model_terms", "se"): ("as estimate", "Standard error"),
    ("model_terms", "df"): ("", "Degrees of freedom (Satterthwaite for mixed models)"),
    ("model_terms", "t"): ("", "t statistic"),
    ("model_terms", "p"): ("probability", "Two-sided p-value"),
    ("model_terms", "ci_low"): ("as estimate", "Lower end of the 95% confidence interval"),
    ("model_terms", "ci_high"): ("as estimate", "Upper end of the 95% confidence interval"),
    ("model_terms", "p_fdr"): ("probability", "Benjamini-Hochberg adjusted p (where computed)"),
    ("model_fits", "model"): ("", "Model name"),
    ("model_fits", "status"): ("", "ok or failed"),
    ("model_fits", "formula"): ("", "Model formula (lme4 notation)"),
    ("model_fits", "n_obs"): ("count", "Observations analysed"),
    ("model_fits", "n_groups"): ("count", "Dyads analysed"),
    ("model_fits", "converged"): ("", "The fit converged (true/false)"),
    ("model_fits", "singular"): ("", "The fit is singular (a variance ~0 or correlation ~1)"),
    ("model_fits", "fallback"): ("", "What was simplified and why"),
    ("model_fits", "r2_marginal"): ("proportion", "Marginal R2 (Nakagawa & Schielzeth 2013)"),
    ("model_fits", "r2_conditional"): ("proportion", "Conditional R2"),
    ("model_fits", "icc"): ("proportion", "ICC of the outcome (intercept-only model)"),
    ("model_fits", "aic"): ("", "AIC of the ML fit"),
    ("model_fits", "message"): ("", "Why the model failed"),
    ("model_fits", "notes"): ("", "Fit notes"),
}
_TABLE_DESCRIPTIONS = {
    "dyads": "One row per dyad: its therapist and patient",
    "sessions": "One row per session",
    "scores": "Questionnaire scale scores, one row per response and scale",
    "items": "Questionnaire item values, one row per response and item",
    "scans": "Recordings, one row each (metadata and quality at import)",
    "synchrony": "Inter-brain synchrony, one row per session x pair x chromophore x unit pair",
    "synchrony_tests": "True synchrony against its pseudo-dyad baseline",
    "events": "Time-stamped events of sessions",
    "analysis_table": "The table the models are fitted on: one row per dyad x session",
    "model_terms": "Fixed effects and tests of the stored models run",
    "model_fits": "One row per model of the stored models run",
    "eventlocked": "Event-locked fNIRS synchrony around moments of interest: one row per "
                   "session x chromophore x unit pair x condition",
    "eeg_coupling": "EEG inter-brain coupling (PLV, AEC per band): one row per session x "
                    "measure x electrode pair x condition",
    "eeg_asymmetry": "Frontal alpha asymmetry: one row per session x person x electrode pair x "
                     "condition",
}
_ROI_COLUMN = re.compile(r"synchrony(_pseudo)?\.([^.]+)\.([^.]+)")


def collect_tables(study: Study) -> dict[str, pd.DataFrame]:
    """The study's tidy long tables, read through its public methods.

    Returns
    -------
    dict of str to DataFrame
        ``dyads, sessions, scores, items, scans, synchrony, synchrony_tests, events,
        analysis_table, model_terms, model_fits, eventlocked, eeg_coupling, eeg_asymmetry``
        (empty frames, with their columns, where nothing is stored).
    """
    from studymgr.present.results import stored_model_config
    from studymgr.runs.models import analysis_table

    scans = study.scans()
    scans = scans.drop(columns=[c for c in ("imported_by", "imported_at") if c in scans])
    synchrony = pd.concat([study.synchrony(level=lv) for lv in ("session", "roi", "channel")],
                          ignore_index=True).drop(columns="run_id")
    tests = pd.concat([study.synchrony_tests(level=lv) for lv in ("session", "roi", "channel")],
                      ignore_index=True)
    results = study.model_results()
    table = analysis_table(study, stored_model_config(study)).frame
    responses = study.responses()
    scores = study.scores()
    if len(responses):
        scores = scores.merge(responses[["dyad", "session", "role", "timing",
                                         "instrument", "version", "status", "source"]],
                              on=["dyad", "session", "role", "timing", "instrument",
                                  "version"], how="left")
    return {
        "dyads": study.dyads(),
        "sessions": study.sessions(),
        "scores": scores,
        "items": study.items(),
        "scans": scans,
        "synchrony": synchrony,
        "synchrony_tests": tests,
        "events": study.events(),
        "analysis_table": table,
        "model_terms": results["terms"],
        "model_fits": results["fits"],
        "eventlocked": _levels(lambda lv: study.eventlocked_results(level=lv)),
        "eeg_coupling": _levels(lambda lv: study.eeg_results(level=lv)),
        "eeg_asymmetry": study.eeg_asymmetry().drop(columns="run_id"),
    }


def _levels(read: Any) -> pd.DataFrame:
    """Session, ROI and channel rows of a reader stacked (the run's row id dropped: it means
    nothing outside the database)."""
    frames = [read(lv) for lv in ("session", "roi", "channel")]
    kept = [f for f in frames if len(f)] or frames[:1]
    return pd.concat(kept, ignore_index=True).drop(columns="run_id")


def _codes(tables: Mapping[str, pd.DataFrame], column: str) -> list[str]:
    found: set[str] = set()
    for frame in tables.values():
        if column in frame.columns:
            found |= {str(v) for v in frame[column].dropna().unique()}
    return sorted(found)


def deidentify(tables: Mapping[str, pd.DataFrame], seed: int | None = None
               ) -> dict[str, pd.DataFrame]:
    """Re-code identifiers, shift dates per dyad and drop linking columns (see module docs).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        As from :func:`collect_tables` (any subset; every frame with a ``dyad`` column gets
        that dyad's date shift).
    seed : int or None
        Seed of the new numbering and the date shifts; None draws a fresh secret seed.

    Returns
    -------
    dict of str to DataFrame
        New frames; the input is not modified. The mapping is not returned.
    """
    if seed is None:
        seed = secrets.randbits(64)
    rng = np.random.default_rng(seed)
    maps: dict[str, dict[str, str]] = {}
    for kind in ("dyad", "therapist", "patient", "rater"):
        codes = _codes(tables, kind)
        order = rng.permutation(len(codes))
        maps[kind] = {codes[i]: f"{kind}-{k + 1}" for k, i in enumerate(order)}
    dyads = sorted(maps["dyad"])
    magnitude = rng.integers(1, MAX_SHIFT_DAYS + 1, size=len(dyads))
    sign = rng.choice(np.array([-1, 1]), size=len(dyads))
    shift = {d: pd.Timedelta(days=int(m * s)) for d, m, s in zip(dyads, magnitude, sign,
                                                                  strict=True)}
    out: dict[str, pd.DataFrame] = {}
    for name, frame in tables.items():
        f = frame.copy()
        if "dyad" in f.columns:
            for col in DATE_COLUMNS:
                if col in f.columns:
                    f[col] = [_shift(v, shift.get(str(d))) for v, d in zip(f[col], f["dyad"],
                                                                          strict=True)]
        for col in ("therapist", "patient") if name == "synchrony" else ():
            # "D01/2": the dyad and session whose recording was paired
            f[col] = [None if pd.isna(v) else _recode_pair(str(v), maps["dyad"])
                      for v in f[col]]
        for col, kind in ID_COLUMNS.items():
            if col in f.columns and not (name == "synchrony" and col in ("therapist",
                                                                          "patient")):
                f[col] = [None if pd.isna(v) else maps[kind].get(str(v), str(v)) for v in f[col]]
        f = f.drop(columns=[c for c in DROP_WHEN_DEIDENTIFIED if c in f.columns])
        out[name] = f
    logger.info("de-identified %d tables: %d dyads re-coded, dates shifted per dyad",
                len(out), len(dyads))
    return out


def _recode_pair(text: str, dyads: Mapping[str, str]) -> str:
    dyad, sep, rest = text.partition("/")
    return dyads.get(dyad, dyad) + sep + rest


def _shift(value: Any, delta: pd.Timedelta | None) -> Any:
    if value is None or delta is None or (not isinstance(value, str) and pd.isna(value)):
        return value
    text = str(value)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return (pd.Timestamp(text) + delta).strftime("%Y-%m-%d")
    stamp = pd.Timestamp(text.replace("Z", "+00:00")) + delta
    out = stamp.isoformat()
    return out.replace("+00:00", "Z") if text.endswith("Z") else out


def describe_column(table: str, column: str) -> tuple[str, str]:
    """``(unit, description)`` of a column of an exported table (``("", "")`` if unknown)."""
    if (table, column) in _DESCRIPTIONS:
        return _DESCRIPTIONS[(table, column)]
    m = _ROI_COLUMN.fullmatch(column)
    if m and table == "analysis_table":
        which = "mean over pseudo pairs" if m.group(1) else "true pair"
        return ("coherence (0-1)", f"Synchrony of therapist ROI {m.group(2)} with patient ROI "
                                   f"{m.group(3)} ({which})")
    if (None, column) in _DESCRIPTIONS:
        return _DESCRIPTIONS[(None, column)]
    return ("", "")


def _kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_numeric_dtype(series):
        return "number"
    return "text"


def data_dictionary(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per exported column: ``file, column, type, unit, description, n_missing``
    (plus one row per file with ``column`` empty describing the file)."""
    rows = []
    for name, frame in tables.items():
        rows.append({"file": f"{name}.csv", "column": "", "type": "", "unit": "",
                     "description": _TABLE_DESCRIPTIONS.get(name, ""),
                     "n_missing": None, "n_rows": len(frame)})
        for col in frame.columns:
            unit, text = describe_column(name, str(col))
            rows.append({"file": f"{name}.csv", "column": str(col), "type": _kind(frame[col]),
                         "unit": unit, "description": text,
                         "n_missing": int(frame[col].isna().sum()), "n_rows": len(frame)})
    frame = pd.DataFrame(rows, columns=["file", "column", "type", "unit", "description",
                                        "n_missing", "n_rows"])
    frame["n_missing"] = frame["n_missing"].astype("Int64")
    return frame


def write_tables(tables: Mapping[str, pd.DataFrame], folder: Path) -> list[Path]:
    """One CSV per table plus ``data_dictionary.csv`` into an existing folder."""
    written = []
    for name, frame in tables.items():
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False, lineterminator="\n")
        written.append(path)
    path = folder / "data_dictionary.csv"
    data_dictionary(tables).to_csv(path, index=False, lineterminator="\n")
    written.append(path)
    return written
