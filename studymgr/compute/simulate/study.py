"""Synthetic hyperscanning studies with planted, known effects.

Three levels, all deterministic for a seed:

- :func:`~studymgr.compute.simulate.signals.simulate_recording_pair` — one therapist and one
  patient fNIRS recording with coupling planted in a frequency band
  (:mod:`studymgr.compute.simulate.signals`);
- :func:`simulate_study` — a whole longitudinal study on disk: SNIRF recordings per person and
  scanned session (BIDS-like paths), a questionnaire CSV (one row per response) and ``truth.json``
  with every planted value;
- :func:`~studymgr.compute.simulate.model.simulate_synchrony_table` — the same planted model
  without recordings (dyad × session synchrony and outcomes), fast enough for power analysis by
  repetition (:mod:`studymgr.compute.simulate.model`, which writes the model out).

A study is described by three groups of parameters: its :class:`Design` (dyads, sessions, which
are scanned), the planted :class:`Effects` and the :class:`Recording` settings. The keyword
arguments of earlier versions (``n_dyads=``, ``growth=``, ``duration_s=``, ...) still work: each
replaces that field of its group.

This module also exports the names of its two halves (``simulate_recording_pair``,
``simulate_synchrony_table``, ...), as it did before they moved.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studymgr._docs import fill_doc
from studymgr.compute.simulate._params import (
    check_int,
    check_real,
    rng_from,
    seed_sequence,
    with_overrides,
)
from studymgr.compute.simulate.model import (
    Design,
    Effects,
    Recording,
    latent_table,
    simulate_synchrony_table,
)
from studymgr.compute.simulate.signals import WAVELENGTHS_NM, simulate_recording_pair
from studymgr.errors import ConflictError, InputError

logger = logging.getLogger(__name__)

__all__ = [
    "INSTRUMENTS",
    "Design",
    "Effects",
    "Recording",
    "SimulatedStudy",
    "simulate_rater_marks",
    "simulate_recording_pair",
    "simulate_study",
    "simulate_synchrony_table",
]

# Questionnaire instruments used by the simulator: item count and allowed range, the construct,
# and the item mean and SD at latent z = 0 (patients with test anxiety). Names, item counts,
# ranges, roles and timings agree with the built-in definitions in schemas/instruments.
INSTRUMENTS: dict[str, dict[str, Any]] = {
    "gad7": {"n_items": 7, "min": 0, "max": 3, "construct": "symptoms", "mean": 1.6, "sd": 0.8},
    "who5": {"n_items": 5, "min": 0, "max": 5, "construct": "wellbeing", "mean": 2.3, "sd": 1.0},
    "state-test-anxiety": {"n_items": 6, "min": 0, "max": 6, "construct": "symptoms",
                           "mean": 3.2, "sd": 1.3},
    "srs": {"n_items": 4, "min": 0, "max": 10, "construct": "session_quality", "mean": 7.2,
            "sd": 1.5},
    "wai-sr": {"n_items": 12, "min": 1, "max": 5, "construct": "alliance", "mean": 3.8,
               "sd": 0.7},
}
# Who answers what, when, reflecting which latent score (and the item mean if not the default).
# The built-in WAI-SR is the client form, so only the patient rates alliance; the therapist rates
# their own wellbeing (WHO-5) before each session, unrelated to coupling.
_RESPONSES: tuple[tuple[str, str, str, str, float | None], ...] = (
    ("patient", "pre", "gad7", "symptoms", None),
    ("patient", "pre", "who5", "wellbeing", None),
    ("patient", "post", "state-test-anxiety", "symptoms", None),
    ("patient", "post", "srs", "session_quality", None),
    ("patient", "post", "wai-sr", "alliance", None),
    ("therapist", "pre", "who5", "wellbeing_therapist", 3.5),
)
_ITEM_LOADING = 0.8  # correlation of each item with the latent score before rounding
_MAX_ITEMS = max(spec["n_items"] for spec in INSTRUMENTS.values())


# --------------------------------------------------------------------------------------------
# questionnaires
# --------------------------------------------------------------------------------------------


def _questionnaire_rows(table: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per response, items generated from the latent scores with noise, then rounded."""
    records = []
    for rec in table.itertuples(index=False):
        for role, timing, instrument, latent, mean in _RESPONSES:
            spec = INSTRUMENTS[instrument]
            z = float(getattr(rec, latent))
            k = spec["n_items"]
            noise = rng.standard_normal(k)
            raw = (spec["mean"] if mean is None else mean) + spec["sd"] * (
                _ITEM_LOADING * z + np.sqrt(1 - _ITEM_LOADING**2) * noise
            )
            items = np.clip(np.rint(raw), spec["min"], spec["max"]).astype(int)
            row: dict[str, Any] = {"dyad": rec.dyad, "session": int(rec.session),
                                   "role": role, "timing": timing,
                                   "instrument": instrument}
            row.update({f"i{j + 1}": int(v) for j, v in enumerate(items)})
            records.append(row)
    frame = pd.DataFrame.from_records(records)
    for j in range(_MAX_ITEMS):
        col = f"i{j + 1}"
        if col not in frame:
            frame[col] = pd.NA
        frame[col] = frame[col].astype("Int64")
    return frame[["dyad", "session", "role", "timing", "instrument"]
                 + [f"i{j + 1}" for j in range(_MAX_ITEMS)]]


# --------------------------------------------------------------------------------------------
# a whole study on disk
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SimulatedStudy:
    """What :func:`simulate_study` wrote.

    Attributes
    ----------
    out_dir : pathlib.Path
        The study folder.
    sessions : pandas.DataFrame
        Dyad × session: ``dyad, session, date, scanned, coupling`` and latent outcomes.
    recordings : pandas.DataFrame
        One row per SNIRF file: ``dyad, session, role, person, path`` (path relative to
        ``out_dir``, POSIX separators), ``bad_channels`` (list of channel names).
    questionnaires : pandas.DataFrame
        The questionnaire CSV as written.
    truth : dict
        The content of ``truth.json``.
    """

    out_dir: Path
    sessions: pd.DataFrame
    recordings: pd.DataFrame
    questionnaires: pd.DataFrame
    truth: dict[str, Any] = field(repr=False)

    @property
    def questionnaires_path(self) -> Path:
        """Path of ``questionnaires.csv``."""
        return self.out_dir / "questionnaires.csv"

    @property
    def truth_path(self) -> Path:
        """Path of ``truth.json``."""
        return self.out_dir / "truth.json"


def _recording_path(person: str, session: int, dyad: str, shared: bool) -> str:
    # a shared therapist has several session-n recordings (one per dyad): the BIDS acq entity
    # keeps the file names unique; every other file follows sub-<person>_ses-<n>_task-therapy
    acq = f"_acq-{dyad}" if shared else ""
    return (f"recordings/sub-{person}/ses-{session}/nirs/"
            f"sub-{person}_ses-{session}_task-therapy{acq}_nirs.snirf")


def _check_calendar(start_date: str | dt.date, session_interval_days: int
                    ) -> tuple[dt.date, int]:
    interval = check_int(session_interval_days, "session_interval_days", lo=1)
    try:
        start = dt.date.fromisoformat(str(start_date))
    except ValueError:
        raise InputError(f"invalid start_date {start_date!r}: expected YYYY-MM-DD") from None
    return start, interval


def _check_out_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder: choose a folder for the study")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConflictError(f"{out} is not empty: choose a new folder or pass overwrite=True")


def _people(dyads: list[str], shared_therapist: bool) -> tuple[dict[str, str], dict[str, str]]:
    """Therapist and patient code of each dyad."""
    therapist = {d: ("T01" if shared_therapist else f"T{i + 1:02d}") for i, d in enumerate(dyads)}
    patient = {d: f"P{i + 1:02d}" for i, d in enumerate(dyads)}
    return therapist, patient


def _write_recordings(out: Path, table: pd.DataFrame, recording: Recording,
                      people: tuple[dict[str, str], dict[str, str]], shared_therapist: bool,
                      seeds: list[np.random.SeedSequence]) -> list[dict[str, Any]]:
    """Simulate and write the SNIRF pair of every scanned session; what each file holds."""
    from mne_nirs.io import write_raw_snirf  # slow import (~4 s): only when writing files

    therapist, patient = people
    recordings = []
    for idx, rec in enumerate(table.itertuples(index=False)):
        if not rec.scanned:
            continue
        date = dt.date.fromisoformat(rec.date)
        meas_date = dt.datetime(date.year, date.month, date.day, 10, 0, tzinfo=dt.UTC)
        codes = (therapist[rec.dyad], patient[rec.dyad])
        raw_t, raw_p, truth = simulate_recording_pair(
            float(rec.coupling), recording=recording, seed=np.random.default_rng(seeds[idx]),
            meas_date=meas_date, subjects=codes, return_truth=True,
        )
        for role, code, raw in (("therapist", codes[0], raw_t), ("patient", codes[1], raw_p)):
            rel = _recording_path(code, int(rec.session), rec.dyad,
                                  shared_therapist and role == "therapist")
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            write_raw_snirf(raw, str(path))
            person = truth["persons"][code]
            recordings.append({
                "dyad": rec.dyad, "session": int(rec.session), "role": role, "person": code,
                "path": rel, "bad_channels": person["bad_channels"],
                "motion_spikes_s": person["motion_spikes_s"],
                "mayer_hz": person["mayer_hz"], "cardiac_hz": person["cardiac_hz"],
            })
    logger.info("wrote %d recordings under %s", len(recordings), out / "recordings")
    return recordings


def _truth_document(seed: int, parameters: dict[str, Any],
                    people: tuple[dict[str, str], dict[str, str]], table: pd.DataFrame,
                    dyad_effects: pd.DataFrame, recordings: list[dict[str, Any]]
                    ) -> dict[str, Any]:
    """The content of ``truth.json``: everything planted, in plain JSON types."""
    therapist, patient = people
    dyads = list(patient)
    codes = sorted({(c, "therapist") for c in therapist.values()}) + [
        (patient[d], "patient") for d in dyads
    ]
    return _jsonable({
        "generator": "studymgr.compute.simulate.study.simulate_study",
        "seed": int(seed),
        "parameters": parameters,
        "people": [{"person": c, "role": r} for c, r in codes],
        "dyads": [{"dyad": d, "therapist": therapist[d], "patient": patient[d]} for d in dyads],
        "instruments": INSTRUMENTS,
        "responses": [{"role": r, "timing": t, "instrument": i, "latent": latent,
                       "item_mean": INSTRUMENTS[i]["mean"] if m is None else m}
                      for r, t, i, latent, m in _RESPONSES],
        "dyad_effects": dyad_effects.to_dict(orient="records"),
        "sessions": table.to_dict(orient="records"),
        "recordings": recordings,
    })


@fill_doc
def simulate_study(
    out_dir: str | Path,
    *,
    design: Design | None = None,
    effects: Effects | None = None,
    recording: Recording | None = None,
    shared_therapist: bool = True,
    start_date: str | dt.date = "2025-01-06",
    session_interval_days: int = 7,
    seed: int = 0,
    overwrite: bool = False,
    **overrides: Any,
) -> SimulatedStudy:
    """Write a synthetic longitudinal hyperscanning study with planted effects.

    Writes, under ``out_dir``:

    - ``recordings/sub-<person>/ses-<n>/nirs/sub-<person>_ses-<n>_task-therapy_nirs.snirf`` for
      each person and scanned session (raw intensity SNIRF; with a shared therapist the therapist's
      files carry ``_acq-<dyad>`` before ``_nirs`` because one therapist has a session *n* in every
      dyad);
    - ``questionnaires.csv``: one row per response with ``dyad, session, role, timing,
      instrument, i1..i12`` (patient before the session: gad7, who5; after:
      state-test-anxiety, srs, wai-sr; therapist before: who5);
    - ``truth.json``: seed, every parameter, per dyad × session coupling and latent outcomes,
      dyad random effects, and per recording its path, bad channels and motion times.

    Parameters
    ----------
    out_dir : str | pathlib.Path
        Folder to write into; must be empty or absent unless ``overwrite``.
    %(sim_design)s
    %(sim_effects)s
    %(sim_recording)s
        The defaults (360 s at 10 Hz, 8 channel pairs) keep the demo quick while leaving the
        recordings long enough for the default 0.01 Hz high-pass of
        :mod:`studymgr.compute.preprocess`.
    shared_therapist : bool
        One therapist (``T01``) in every dyad, as in Sened et al. (2025); else one per dyad.
    start_date : str | datetime.date
        Date of session 1 (``YYYY-MM-DD``); sessions follow every ``session_interval_days``.
    seed : int
        Seed; the same seed gives identical files (and the same table as
        :func:`simulate_synchrony_table`).
    overwrite : bool
        Allow writing into a non-empty folder.
    %(sim_overrides)s

    Returns
    -------
    SimulatedStudy

    Examples
    --------
    Grouped, or with the groups' fields as keyword arguments (the same study)::

        simulate_study("sim", design=Design(n_dyads=4, scanned=(1, 3, 5)),
                       effects=Effects(growth=0.1), recording=Recording(n_channels=4))
        simulate_study("sim", n_dyads=4, scanned=(1, 3, 5), growth=0.1, n_channels=4)
    """
    # check every parameter before anything is written
    groups = with_overrides("simulate_study", {"design": (Design, design),
                                               "effects": (Effects, effects),
                                               "recording": (Recording, recording)}, overrides)
    design, effects, recording = groups["design"], groups["effects"], groups["recording"]
    start, interval = _check_calendar(start_date, session_interval_days)
    ss_table, ss_rec, ss_quest, _ = seed_sequence(seed).spawn(4)
    out = Path(out_dir)
    _check_out_dir(out, overwrite)

    table, dyad_effects = latent_table(design, effects, np.random.default_rng(ss_table))
    table.insert(2, "date", [(start + dt.timedelta(days=interval * (s - 1))).isoformat()
                             for s in table["session"]])
    people = _people(design.dyads, shared_therapist)
    # one independent seed per dyad × session, fixed whatever the scanned set is
    rec_seeds = ss_rec.spawn(design.n_dyads * design.n_sessions)
    recordings = _write_recordings(out, table, recording, people, shared_therapist, rec_seeds)

    out.mkdir(parents=True, exist_ok=True)
    questionnaires = _questionnaire_rows(table, np.random.default_rng(ss_quest))
    questionnaires.to_csv(out / "questionnaires.csv", index=False)

    parameters = {
        **design.as_dict(), **effects.as_dict(), "shared_therapist": bool(shared_therapist),
        **recording.as_dict(), "start_date": start.isoformat(),
        "session_interval_days": interval, "ppf": 6.0, "wavelengths_nm": list(WAVELENGTHS_NM),
    }
    truth = _truth_document(seed, parameters, people, table, dyad_effects, recordings)
    with open(out / "truth.json", "w", encoding="utf-8") as fh:
        json.dump(truth, fh, indent=1, sort_keys=True)
    return SimulatedStudy(
        out_dir=out, sessions=table, recordings=pd.DataFrame.from_records(recordings),
        questionnaires=questionnaires, truth=truth,
    )


def _jsonable(obj: Any) -> Any:
    """Plain JSON types (numpy scalars → Python, tuples → lists)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def simulate_rater_marks(duration_s: float, *, moi: int = 4, moni: int = 3,
                         raters: Sequence[str] = ("R1", "R2", "R3"), jitter_s: float = 6.0,
                         margin_s: float = 40.0,
                         seed: int | np.random.Generator | None = 0) -> pd.DataFrame:
    """Marks of several raters of one session: moments of interest (MOI) and of no interest
    (MONI), as a CSV for ``studymgr events import`` holds them.

    The true moments alternate MOI and MONI at even spacing between ``margin_s`` and
    ``duration_s - margin_s``; each rater marks each moment with a uniform jitter of up to
    ``jitter_s`` seconds, misses one moment in ten and adds one stray mark of their own (so
    that agreement is high but not perfect, as with real raters).

    Parameters
    ----------
    duration_s : float
        Length of the session's recording (s).
    moi, moni : int
        Number of true moments of each label.
    raters : sequence of str
        Rater codes.
    jitter_s, margin_s : float
        Largest timing error of a mark; distance of the moments from the ends (s).
    seed : int | Generator | None

    Returns
    -------
    DataFrame
        ``onset, duration, label, rater`` (s), sorted by rater and onset; ``attrs["truth"]``
        holds the true moments (``onset, label``).
    """
    duration_s = check_real(duration_s, "duration_s", lo=0.0)
    moi = check_int(moi, "moi", lo=0)
    moni = check_int(moni, "moni", lo=0)
    jitter_s = check_real(jitter_s, "jitter_s", lo=0.0)
    margin_s = check_real(margin_s, "margin_s", lo=0.0)
    if moi + moni == 0 or not raters:
        raise InputError("simulated marks need at least one moment and one rater")
    if duration_s <= 2 * margin_s:
        raise InputError(f"a {duration_s:g}-s session leaves no room for moments "
                         f"{margin_s:g} s from its ends")
    rng = rng_from(seed)
    n = moi + moni
    onsets = np.linspace(margin_s, duration_s - margin_s, n)
    # alternate the labels while both are left, so that the two kinds are interleaved
    labels: list[str] = []
    left = {"MOI": moi, "MONI": moni}
    while len(labels) < n:
        label = "MOI" if left["MOI"] and (len(labels) % 2 == 0 or not left["MONI"]) else "MONI"
        labels.append(label)
        left[label] -= 1
    rows = []
    for rater in raters:
        for onset, label in zip(onsets, labels, strict=True):
            if rng.random() < 0.1:
                continue
            mark = float(np.clip(onset + rng.uniform(-jitter_s, jitter_s), 0.0, duration_s))
            rows.append((round(mark, 1), 0.0, label, str(rater)))
        stray = float(rng.uniform(margin_s, duration_s - margin_s))
        rows.append((round(stray, 1), 0.0, str(rng.choice(["MOI", "MONI"])), str(rater)))
    frame = pd.DataFrame(rows, columns=["onset", "duration", "label", "rater"])
    frame = frame.sort_values(["rater", "onset"], kind="stable").reset_index(drop=True)
    frame.attrs["truth"] = pd.DataFrame({"onset": onsets, "label": labels})
    return frame
