"""The demo: a simulated study with planted effects, run through the real pipeline.

:func:`run_demo` simulates a design like Sened et al. (2025) — 8 dyads, 6 sessions, one therapist
in every dyad, fNIRS in every session (by default), questionnaires before and after each session
— and then does what a research team would do, through the public API only:

1. simulate the lab's raw material (:func:`studymgr.compute.simulate.study.simulate_study`):
   SNIRF recordings in a BIDS-like tree, a questionnaire CSV and ``truth.json`` with every
   planted value;
2. create the study, its dyads and sessions;
3. import the questionnaires (:func:`studymgr.runs.entry.import_responses`);
4. import the recordings (:meth:`Study.import_scans_dir`: read, checked, hashed, copied);
5. compute synchrony with pseudo-dyads (:meth:`Study.compute_synchrony`);
6. fit the models (:meth:`Study.fit_models`);
7. write the report (:func:`studymgr.present.report.write_report`), the publication tables and
   the tidy data (:func:`studymgr.present.export.export_tables`,
   :func:`studymgr.present.export.export_data`);
8. compare what the models found with what was planted (``planted_vs_recovered.csv``).

The planted model is the simulator's (see :mod:`studymgr.compute.simulate.model`). Its demo
values (:data:`DEMO_EFFECTS`) differ from the simulator's defaults on purpose: the wavelet
coherence of the simulated recordings is a compressed function of the planted coupling (about
0.35 at coupling 0 and 0.2 alike, rising steeply only above 0.4, because independent systemic
signals share the band), so the demo starts at coupling 0.3 and lets it grow by 0.1 per
session, with session-to-session variation large enough for the within-dyad
synchrony–outcome link to show with 8 dyads.

Output folder::

    simulated/           recordings/, questionnaires.csv, truth.json (the raw material)
    study.db, study_data/  the study
    report.html          the report
    tables/              publication tables
    data/                tidy data with a data dictionary
    planted_vs_recovered.csv
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from studymgr._docs import fill_doc
from studymgr.compute.simulate._params import seed_sequence, with_overrides
from studymgr.compute.simulate.model import Design, Effects, Recording
from studymgr.errors import ConflictError, InputError

if TYPE_CHECKING:
    from studymgr.compute.simulate.study import SimulatedStudy
    from studymgr.runs.study import Study

logger = logging.getLogger(__name__)

__all__ = ["QUICK", "DemoConfig", "DemoResult", "ensure_demo", "planted_vs_recovered",
           "run_demo"]

MARKER = ".studymgr-demo"
ALPHA = 0.05
#: ``progress(step, done, total)``: ``step`` is a short label of what is running now.
Progress = Callable[[str, int, int], None]

#: Sessions whose moments three simulated raters mark (the last scanned session of the first
#: dyads): enough to show the moments analysis, few enough to keep the demo quick.
MOMENT_SESSIONS = 2

STEPS = (
    "Simulating recordings and questionnaires",
    "Creating the study",
    "Importing questionnaires",
    "Importing recordings",
    "Preprocessing recordings",
    "Computing synchrony",
    "Fitting models",
    "Rating moments, event-locked synchrony",
    "Writing the report",
    "Exporting tables and data",
)


#: The demo's planted effects (see the module docstring for why they differ from the
#: simulator's defaults).
DEMO_EFFECTS = Effects(baseline_coupling=0.3, growth=0.1, coupling_sd_session=0.15,
                       symptom_slope=-3.0, wellbeing_slope=3.0, session_quality_slope=3.0,
                       outcome_sd_session=0.3)
#: The demo's recordings: 6 minutes at 5 Hz, 8 channel pairs, one bad pair per person.
DEMO_RECORDING = Recording(duration_s=360.0, sfreq=5.0, n_channels=8, bad_channels=1)


@fill_doc
@dataclass(frozen=True, init=False)
class DemoConfig:
    """Design, planted effects, recordings and analysis settings of the demo.

    Parameters
    ----------
    %(sim_design)s
        One shared therapist ``T01``; patients ``P01``...; at least 3 dyads.
    effects : Effects | None
        The planted model (default :data:`DEMO_EFFECTS`).
    recording : Recording | None
        Each recording's settings (default :data:`DEMO_RECORDING`).
    max_pseudo : int
        Pseudo-dyad pairs per session (a seeded subset of the 2 × (dyads - 1) available).
    seed : int
        Seed of the simulation and of the pseudo-pair subsets.
    %(sim_overrides)s
    """

    design: Design
    effects: Effects
    recording: Recording
    max_pseudo: int
    seed: int

    def __init__(self, design: Design | None = None, effects: Effects | None = None,
                 recording: Recording | None = None, *, max_pseudo: int = 6, seed: int = 7,
                 **overrides: Any) -> None:
        groups = with_overrides("DemoConfig", {
            "design": (Design, design),
            "effects": (Effects, DEMO_EFFECTS if effects is None else effects),
            "recording": (Recording, DEMO_RECORDING if recording is None else recording)},
            overrides)
        for name, value in (*groups.items(), ("max_pseudo", max_pseudo), ("seed", seed)):
            object.__setattr__(self, name, value)
        if self.design.scanned == ():
            raise InputError("the demo needs scanned sessions: leave --scanned out (every "
                             "session) or name at least two, e.g. 1,3,5")
        if self.design.n_dyads < 3:
            raise InputError(f"the demo needs at least 3 dyads (the mixed models need 3), got "
                             f"{self.design.n_dyads}")
        if isinstance(max_pseudo, bool) or not isinstance(max_pseudo, int) or max_pseudo < 1:
            raise InputError(f"max_pseudo must be a whole number >= 1, got {max_pseudo!r}")
        seed_sequence(seed)  # a bad seed is refused here, before any folder is touched

    def simulation_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`studymgr.compute.simulate.study.simulate_study`, flat
        (``n_dyads=..., growth=..., duration_s=..., seed=...``)."""
        return {**self.design.as_dict(), "scanned": None if self.design.scanned is None
                else list(self.design.scanned), **self.effects.as_dict(),
                **self.recording.as_dict(), "seed": self.seed}


#: A small, fast demo (4 dyads x 3 sessions, 3 channels; about half a minute): for notebooks and
#: trying things out. Its growth is planted steeper so that 3 sessions show it.
QUICK = DemoConfig(Design(n_dyads=4, n_sessions=3), replace(DEMO_EFFECTS, growth=0.15),
                   replace(DEMO_RECORDING, n_channels=3, bad_channels=0), max_pseudo=2)


@dataclass
class DemoResult:
    """What :func:`run_demo` made.

    Attributes
    ----------
    out_dir : pathlib.Path
        The demo folder.
    db_path : pathlib.Path
        The study database (open it with :func:`studymgr.open_study`).
    report_path : pathlib.Path | None
        The HTML report (None when the report module is not installed).
    tables_dir, data_dir : pathlib.Path | None
        Publication tables and tidy data (None when the export module is not installed).
    truth : dict
        Everything planted (``simulated/truth.json``).
    recovered : pandas.DataFrame
        :func:`planted_vs_recovered` of the fitted models.
    synchrony : pandas.DataFrame
        Per-session status of the synchrony computation.
    timings : dict
        Seconds per step.
    notes : list of str
        Steps left out and why.
    """

    out_dir: Path
    db_path: Path
    report_path: Path | None
    tables_dir: Path | None
    data_dir: Path | None
    truth: dict[str, Any] = field(repr=False)
    recovered: pd.DataFrame = field(repr=False)
    synchrony: pd.DataFrame = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        """Wall time of all steps (s)."""
        return float(sum(self.timings.values()))


# --------------------------------------------------------------------------------------------
# planted vs recovered
# --------------------------------------------------------------------------------------------

# effect, model, term tested, the planted parameter whose sign the estimate should have
_EFFECTS = (
    ("synchrony grows over sessions", "growth", "session", "growth"),
    ("growth specific to true dyads (vs pseudo-dyads)", "growth_true_vs_pseudo",
     "session:pair", "growth"),
    ("synchrony -> symptoms (within dyad)", "outcome:symptoms", "synchrony_within",
     "symptom_slope"),
    ("synchrony -> wellbeing (within dyad)", "outcome:wellbeing", "synchrony_within",
     "wellbeing_slope"),
    ("synchrony -> session quality (within dyad)", "outcome:session_quality",
     "synchrony_within", "session_quality_slope"),
    ("alliance -> symptoms (within dyad)", "alliance:symptoms", "alliance_within",
     "alliance_effect"),
    ("synchrony vs alliance for symptoms (difference of standardised within effects)",
     "compare:symptoms", "synchrony_within_z - alliance_within_z", "symptom_slope"),
)
RECOVERED_COLUMNS = ["effect", "model", "term", "planted_parameter", "planted", "expected",
                     "estimate", "ci_low", "ci_high", "p", "recovered"]
_SIGN_NAMES = {1: "positive", -1: "negative", 0: "none"}


def _sign(value: float) -> int:
    return int(value > 0) - int(value < 0)


def _expected(model: str, parameters: dict[str, Any]) -> int | None:
    """Expected sign of a tested term under the planted model (None: no clear expectation)."""
    alliance = float(parameters.get("alliance_effect", 0.0))
    if model.startswith("growth"):
        return _sign(float(parameters["growth"]))
    if model == "alliance:symptoms":
        # alliance is tied to symptoms only through coupling; with alliance_effect = 0 not at all
        return 0 if alliance == 0 else None
    slope = float(parameters["symptom_slope"])
    if model == "compare:symptoms":
        return _sign(slope) if alliance == 0 else None
    key = {"outcome:symptoms": "symptom_slope", "outcome:wellbeing": "wellbeing_slope",
           "outcome:session_quality": "session_quality_slope"}[model]
    return _sign(float(parameters[key]))


def planted_vs_recovered(terms: pd.DataFrame, parameters: dict[str, Any],
                         alpha: float = ALPHA) -> pd.DataFrame:
    """Compare fitted terms with the planted effects.

    Parameters
    ----------
    terms : pandas.DataFrame
        ``model_results()["terms"]``: ``model, term, estimate, ci_low, ci_high, p``.
    parameters : dict
        ``truth["parameters"]`` of the simulation.
    alpha : float
        Significance level.

    Returns
    -------
    pandas.DataFrame
        One row per planted effect: ``effect, model, term, planted_parameter, planted``
        (simulator units: coupling per session, z per unit coupling), ``expected`` sign
        (positive | negative | none), the estimate in measured units (coherence per session,
        score points per unit coherence) with its 95 % CI and p, and ``recovered``: the sign is
        right and p < alpha for a planted effect, p >= alpha for a planted zero (missing when
        the model is missing or nothing clear is expected).
    """
    index = terms.set_index(["model", "term"]).sort_index() if len(terms) else None
    rows = []
    for effect, model, term, param in _EFFECTS:
        expected = _expected(model, parameters)
        row: dict[str, Any] = {
            "effect": effect, "model": model, "term": term, "planted_parameter": param,
            "planted": float(parameters.get(param, 0.0)),
            "expected": None if expected is None else _SIGN_NAMES[expected],
            "estimate": None, "ci_low": None, "ci_high": None, "p": None, "recovered": None}
        if index is not None and (model, term) in index.index:
            hit = index.loc[(model, term)]
            hit = hit.iloc[0] if isinstance(hit, pd.DataFrame) else hit
            est, p = float(hit["estimate"]), float(hit["p"])
            row.update(estimate=est, ci_low=float(hit["ci_low"]),
                       ci_high=float(hit["ci_high"]), p=p)
            if expected == 0:
                row["recovered"] = bool(p >= alpha)
            elif expected is not None:
                row["recovered"] = bool(_sign(est) == expected and p < alpha)
        rows.append(row)
    return pd.DataFrame(rows, columns=RECOVERED_COLUMNS)


# --------------------------------------------------------------------------------------------
# the demo
# --------------------------------------------------------------------------------------------


def _available(module: str) -> bool:
    """Whether an optional part of studymgr is installed (another module may still be missing
    while the package is developed; the demo then leaves that step out and says so)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _prepare_folder(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder: choose another --out")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ConflictError(f"{out} is not empty: choose a new --out folder, or pass "
                                "--overwrite to replace an earlier demo there")
        if not (out / MARKER).is_file():
            raise ConflictError(f"{out} was not made by 'studymgr demo' (no {MARKER} file): "
                                "refusing to delete it; choose another --out folder")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by 'studymgr demo'; safe to delete\n", encoding="utf-8")


def _default_jobs() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def _rate_moments(study: Study, folder: Path, config: DemoConfig, truth: dict[str, Any],
                  timer: _Timer) -> list[str]:
    """Simulated raters mark moments of interest in a few sessions; their consensus is stored
    and event-locked synchrony computed there. No coupling is planted around the moments, so
    the event-locked tests are a check of the null (p-values spread over 0-1)."""
    from studymgr.compute.simulate.study import simulate_rater_marks
    from studymgr.runs.eventlocked import EventLockedConfig

    scanned = [s for s in truth["sessions"] if s["scanned"]]
    last = max(int(s["session"]) for s in scanned)
    chosen = [s["dyad"] for s in scanned if int(s["session"]) == last][:MOMENT_SESSIONS]
    notes = []
    for i, dyad in enumerate(chosen, start=1):
        marks = simulate_rater_marks(config.recording.duration_s, seed=config.seed + i)
        path = folder / f"raters_{dyad}_session{last}.csv"
        marks.to_csv(path, index=False)
        study.import_events(dyad, last, path)
        study.rater_agreement(dyad, last)
        summary = study.compute_eventlocked(EventLockedConfig(seed=config.seed), dyad=dyad,
                                            session=last)
        failed = summary[summary["status"] == "failed"]
        if len(failed):
            notes.append(f"event-locked synchrony failed for {dyad}/{last}: "
                         f"{failed['message'].iloc[0]}")
        timer.tick(i, len(chosen))
    return notes


class _Steps:
    """The demo's steps so far: seconds per step, notes, and the progress callback."""

    def __init__(self, progress: Progress | None) -> None:
        self.timings: dict[str, float] = {}
        self.notes: list[str] = []
        self.progress = progress

    def tick(self, step: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(step, done, total)

    def timed(self, step: str, total: int = 1) -> _Timer:
        return _Timer(step, self.timings, self.tick, total)


def _create_study(db_path: Path, truth: dict[str, Any], user: str | None) -> Study:
    """The study with the simulated dyads and sessions."""
    from studymgr.runs.study import create_study

    study = create_study(db_path, name="demo", user=user)
    for d in truth["dyads"]:
        study.add_dyad(d["dyad"], therapist=d["therapist"], patient=d["patient"])
    for s in truth["sessions"]:
        study.add_session(s["dyad"], int(s["session"]), date=s["date"],
                          scanned=bool(s["scanned"]))
    return study


def _import_recordings(study: Study, sim: SimulatedStudy, timer: _Timer) -> None:
    scans = study.import_scans_dir(sim.out_dir / "recordings",
                                   progress=lambda i, n, _path: timer.tick(i, n))
    refused = scans[scans["outcome"] == "refused"]
    if len(refused):
        raise InputError(f"{len(refused)} simulated recordings were refused at import: "
                         f"{refused['detail'].iloc[0]}")


def _compute_synchrony(study: Study, config: DemoConfig, jobs: int, steps: _Steps
                       ) -> pd.DataFrame:
    """Synchrony with pseudo-dyads; its two phases (preparing recordings, computing) are timed
    as two steps, split when the last recording was prepared."""
    from studymgr.compute.synchrony.config import SynchronyConfig

    phase_step = {"prepare": STEPS[4], "compute": STEPS[5]}
    started = time.perf_counter()
    last_tick: dict[str, float] = {}

    def sync_progress(phase: str, done: int, total: int) -> None:
        step = phase_step.get(phase, phase)
        last_tick[step] = time.perf_counter()
        steps.tick(step, done, total)

    summary = study.compute_synchrony(SynchronyConfig(max_pseudo=config.max_pseudo,
                                                      seed=config.seed),
                                      jobs=jobs, progress=sync_progress)
    end = time.perf_counter()
    split = last_tick.get(STEPS[4], started)
    steps.timings[STEPS[4]], steps.timings[STEPS[5]] = split - started, end - split
    failed = summary[summary["status"] == "failed"]
    if len(failed):
        steps.notes.append(f"synchrony failed in {len(failed)} session(s): "
                           f"{failed['message'].iloc[0]}")
    return summary


def _write_report(study: Study, out: Path, steps: _Steps) -> Path | None:
    if not _available("studymgr.present.report"):
        steps.notes.append("report left out: studymgr.present.report is not installed")
        return None
    with steps.timed(STEPS[8]):
        write_report = importlib.import_module("studymgr.present.report").write_report
        return Path(write_report(study, out / "report.html"))


def _export(study: Study, out: Path, steps: _Steps) -> tuple[Path | None, Path | None]:
    """Publication tables and tidy data: their folders (None when not installed)."""
    if not _available("studymgr.present.export"):
        steps.notes.append("tables and tidy data left out: studymgr.present.export is not "
                           "installed")
        return None, None
    with steps.timed(STEPS[9]):
        exporter = importlib.import_module("studymgr.present.export")
        formats = ["csv", "md", "html"] + (["docx"] if _available("docx") else [])
        exporter.export_tables(study, out / "tables", formats)
        exporter.export_data(study, out / "data")
    return out / "tables", out / "data"


def run_demo(out_dir: str | os.PathLike[str] = "demo-study", config: DemoConfig | None = None,
             *, jobs: int | None = None, overwrite: bool = False, report: bool = True,
             export: bool = True, user: str | None = None,
             progress: Progress | None = None) -> DemoResult:
    """Simulate a study with planted effects and run the whole pipeline on it.

    Parameters
    ----------
    out_dir : path-like
        Folder to create (must be empty or absent; see ``overwrite``).
    config : DemoConfig | None
        Design and planted effects (default :class:`DemoConfig`).
    jobs : int | None
        Worker processes for synchrony (default: the available cores, at most 8).
    overwrite : bool
        Replace a folder made by an earlier demo (recognised by its marker file); any other
        non-empty folder is refused.
    report, export : bool
        Write the report / the tables and tidy data (when those modules are installed).
    user : str | None
        Recorded in the audit trail (default ``$STUDYMGR_USER`` or the OS login).
    progress : callable | None
        ``progress(step, done, total)`` as work advances (``step`` from :data:`STEPS`).

    Returns
    -------
    DemoResult

    Raises
    ------
    InputError, ConflictError
        A bad configuration or output folder (checked before anything is written; a
        :class:`DemoConfig` checks its values when it is made).
    """
    from studymgr.compute.simulate.study import simulate_study
    from studymgr.runs.entry import import_responses

    config = config or DemoConfig()
    jobs = _default_jobs() if jobs is None else jobs
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"jobs must be a whole number >= 1, got {jobs!r}")
    out = Path(out_dir)
    _prepare_folder(out, overwrite)
    steps = _Steps(progress)

    with steps.timed(STEPS[0]):
        sim = simulate_study(out / "simulated", design=config.design, effects=config.effects,
                             recording=config.recording, seed=config.seed, overwrite=True)
    truth = sim.truth
    db_path = out / "study.db"
    report_path = tables_dir = data_dir = None
    study = None
    try:
        with steps.timed(STEPS[1]):
            study = _create_study(db_path, truth, user)
        with steps.timed(STEPS[2]):
            logger.info("demo: imported %s", import_responses(study, sim.questionnaires_path))
        with steps.timed(STEPS[3], total=len(sim.recordings)) as timer:
            _import_recordings(study, sim, timer)
        summary = _compute_synchrony(study, config, jobs, steps)
        with steps.timed(STEPS[6]):
            study.fit_models()
            terms = study.model_results()["terms"]
        recovered = planted_vs_recovered(terms, truth["parameters"])
        recovered.to_csv(out / "planted_vs_recovered.csv", index=False)
        with steps.timed(STEPS[7], total=MOMENT_SESSIONS) as timer:
            steps.notes += _rate_moments(study, sim.out_dir, config, truth, timer)
        if report:
            report_path = _write_report(study, out, steps)
        if export:
            tables_dir, data_dir = _export(study, out, steps)
    finally:
        if study is not None:
            study.close()
    for note in steps.notes:
        logger.warning("demo: %s", note)
    logger.info("demo finished in %.1f s", sum(steps.timings.values()))
    return DemoResult(out_dir=out, db_path=db_path, report_path=report_path,
                      tables_dir=tables_dir, data_dir=data_dir, truth=truth,
                      recovered=recovered, synchrony=summary, timings=steps.timings,
                      notes=steps.notes)


class _Timer:
    """Times one step and reports its start (0 of ``total``) and end to the progress callback."""

    def __init__(self, step: str, timings: dict[str, float],
                 tick: Callable[[str, int, int], None], total: int = 1) -> None:
        self.step, self.timings, self._tick, self.total = step, timings, tick, max(1, total)

    def tick(self, done: int, total: int) -> None:
        self._tick(self.step, done, total)

    def __enter__(self) -> _Timer:
        logger.info("demo: %s", self.step.lower())
        self.start = time.perf_counter()
        self._tick(self.step, 0, self.total)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.timings[self.step] = time.perf_counter() - self.start
        if exc_type is None:
            self._tick(self.step, self.total, self.total)


def ensure_demo(folder: str | os.PathLike[str] | None = None, config: DemoConfig | None = None,
                **kwargs: Any) -> Path:
    """A demo folder to work with (for notebooks): an existing demo, or a new small one.

    Parameters
    ----------
    folder : path-like | None
        The demo folder. Default: ``$STUDYMGR_DEMO_DIR`` if set, else ``./demo-study`` or
        ``../demo-study`` (where ``studymgr demo`` puts it), whichever holds a demo.
    config : DemoConfig | None
        Settings of a demo made here (default :data:`QUICK`: small and fast).
    **kwargs
        Passed to :func:`run_demo` when a demo is made (default without the report).

    Returns
    -------
    pathlib.Path
        A folder holding ``study.db`` and the exported tidy data (``data/``). When the chosen
        folder has none, a demo is made there (replacing an earlier, incomplete demo); without
        a chosen folder and no demo found, in a new temporary folder.
    """
    import tempfile

    chosen = folder if folder is not None else os.environ.get("STUDYMGR_DEMO_DIR")
    candidates = [Path(chosen)] if chosen else [Path("demo-study"), Path("..") / "demo-study"]
    for candidate in candidates:
        if (candidate / "study.db").is_file() and \
                (candidate / "data" / "analysis_table.csv").is_file():
            return candidate
    target = candidates[0] if chosen else Path(tempfile.mkdtemp(prefix="studymgr-")) / "demo"
    logger.warning("no demo study in %s: making a small one (about half a minute)", target)
    kwargs.setdefault("report", False)
    kwargs.setdefault("overwrite", True)
    run_demo(target, config or QUICK, **kwargs)
    return target
