"""Power and false-positive rate of the study's main tests, by simulation.

Each repetition draws a dyad × session table from the planted model of
:func:`studymgr.compute.simulate.model.simulate_synchrony_table` (synchrony values, no
recordings) and fits the models the study would fit, with Satterthwaite t-tests:

- **growth**: :func:`studymgr.compute.models.growth_model`,
  ``synchrony ~ session + (1 + session | dyad)`` on the scanned sessions; the test is the
  ``session`` slope;
- **outcome**: :func:`studymgr.compute.models.outcome_model`,
  ``outcome ~ session + synchrony_within + synchrony_between + (1 | dyad)``; the test is
  ``synchrony_within`` (the within-dyad link of synchrony to the outcome).

A test *rejects* when its two-sided p < ``alpha``. Power is the rejection rate with the effect
planted; the false-positive rate is the rejection rate of the same design with that effect set to
zero (growth 0 for the growth test, outcome slope 0 for the outcome test). Rates come with exact
(Clopper–Pearson) 95 % intervals, i.e. the Monte Carlo uncertainty of ``reps`` repetitions.

Repetition ``r`` uses the same seed under every condition (common random numbers), so power and
false-positive rate differ by the planted effect, not by the draw, and any single repetition can
be regenerated with ``simulate_synchrony_table(seed=result.reps.seed[...])``. Results do not
depend on how the repetitions are split across workers.

Repetitions are distributed in chunks on an executor: this process, a local process pool of
``jobs`` workers, or any executor of :mod:`studymgr.runs.executors` (e.g. a Dask cluster) —
anything with an ordered ``map(func, items)``.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from studymgr._docs import fill_doc
from studymgr.compute.simulate.model import (
    OUTCOME_SLOPES,
    Design,
    Effects,
    simulate_synchrony_table,
)
from studymgr.errors import InputError

logger = logging.getLogger(__name__)

__all__ = [
    "PowerDesign",
    "PowerResult",
    "simulate_power",
]

TESTS = ("growth", "outcome")
OUTCOMES = ("symptoms", "wellbeing", "session_quality")
SUMMARY_COLUMNS = ["test", "kind", "growth", "slope", "term", "reps", "failed", "rejected",
                   "rate", "ci_low", "ci_high", "mean_estimate", "sd_estimate"]
REP_COLUMNS = ["test", "growth", "slope", "rep", "seed", "term", "estimate", "p", "status",
               "message"]
MAX_REPS = 100_000

Progress = Callable[[int, int], None]


@fill_doc
@dataclass(frozen=True, init=False)
class PowerDesign:
    """The simulated study design and planted model of a power analysis.

    Parameters
    ----------
    n_dyads, n_sessions : int
        Study size.
    scanned : tuple of int | None
        Session numbers with synchrony (default all).
    growth : float
        Planted mean change of coupling per session (coupling units, 0-1 scale).
    outcome : str
        Outcome of the outcome test: ``symptoms``, ``wellbeing`` or ``session_quality``.
    slope : float
        Planted change of that outcome (z units) per unit of coupling.
    effects : Effects | None
        The rest of the planted model: the baseline coupling and the SDs of coupling and of the
        outcomes (default :class:`~studymgr.compute.simulate.model.Effects`'s defaults). Its
        own growth and outcome slopes are not used: each condition plants ``growth``, and
        ``slope`` on ``outcome`` (the other outcomes and alliance unrelated to coupling).
    %(synchrony_noise_sd)s
    **effect_fields
        ``baseline_coupling``, ``coupling_sd_dyad``, ``coupling_sd_growth``,
        ``coupling_sd_session``, ``outcome_sd_dyad``, ``outcome_sd_session``: replace that field
        of ``effects`` (the keyword arguments of earlier versions).
    """

    n_dyads: int
    n_sessions: int
    scanned: tuple[int, ...] | None
    growth: float
    outcome: str
    slope: float
    effects: Effects
    synchrony_noise_sd: float

    def __init__(self, n_dyads: int = 8, n_sessions: int = 6,
                 scanned: Sequence[int] | None = None, growth: float = 0.02,
                 outcome: str = "symptoms", slope: float = -2.0, effects: Effects | None = None,
                 synchrony_noise_sd: float = 0.05, **effect_fields: float) -> None:
        # growth and the outcome slopes are planted per condition, not taken from effects
        background = set(Effects.__dataclass_fields__) - {"growth", *OUTCOME_SLOPES.values()}
        unknown = [k for k in effect_fields if k not in background]
        if unknown:
            raise TypeError(f"PowerDesign() got an unexpected keyword argument {unknown[0]!r}")
        effects = Effects() if effects is None else effects
        if not isinstance(effects, Effects):
            raise InputError(f"effects must be an Effects, got {effects!r}")
        if effect_fields:
            effects = replace(effects, **effect_fields)
        for name, value in (("n_dyads", n_dyads), ("n_sessions", n_sessions),
                            ("scanned", scanned), ("growth", growth), ("outcome", outcome),
                            ("slope", slope), ("effects", effects),
                            ("synchrony_noise_sd", synchrony_noise_sd)):
            object.__setattr__(self, name, value)
        self._check()

    def _check(self) -> None:
        if self.outcome not in OUTCOMES:
            raise InputError(f"unknown outcome {self.outcome!r}: choose one of "
                             f"{', '.join(OUTCOMES)}")
        if self.scanned is not None:
            try:
                scanned = tuple(sorted({int(s) for s in self.scanned}))
            except (TypeError, ValueError):
                raise InputError(f"scanned must be session numbers, got {self.scanned!r}"
                                 ) from None
            object.__setattr__(self, "scanned", scanned)
        n_scanned = len(self.scanned) if self.scanned is not None else self.n_sessions
        if isinstance(self.n_dyads, int) and self.n_dyads < 3:
            raise InputError(f"n_dyads must be at least 3 (the mixed models need 3 dyads), "
                             f"got {self.n_dyads}")
        if n_scanned < 2:
            raise InputError("at least 2 sessions must be scanned: a growth slope needs two "
                             "time points")

    @property
    def design(self) -> Design:
        """Dyads, sessions and scanned sessions as a :class:`Design` (checked here)."""
        return Design(n_dyads=self.n_dyads, n_sessions=self.n_sessions, scanned=self.scanned)

    def effects_for(self, *, growth: float, slope: float) -> Effects:
        """The planted effects of one condition: ``growth``, ``slope`` on the tested outcome,
        no link of coupling to the other outcomes or to alliance."""
        slopes = dict.fromkeys(OUTCOME_SLOPES.values(), 0.0)
        slopes[OUTCOME_SLOPES[self.outcome]] = float(slope)
        return replace(self.effects, growth=float(growth), **slopes)

    def simulate(self, *, growth: float, slope: float, seed: int) -> pd.DataFrame:
        """One repetition of one condition: :func:`simulate_synchrony_table`'s table."""
        return simulate_synchrony_table(
            design=self.design, effects=self.effects_for(growth=growth, slope=slope),
            synchrony_noise_sd=self.synchrony_noise_sd, seed=seed)

    def simulation_kwargs(self, *, growth: float, slope: float) -> dict[str, Any]:
        """Keyword arguments of ``simulate_synchrony_table`` for one condition (flat form)."""
        effects = self.effects_for(growth=growth, slope=slope).as_dict()
        return {
            "n_dyads": self.n_dyads, "n_sessions": self.n_sessions,
            "scanned": None if self.scanned is None else list(self.scanned),
            **effects, "synchrony_noise_sd": self.synchrony_noise_sd,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: the design fields and the effects' baseline coupling and SDs."""
        background = {k: v for k, v in self.effects.as_dict().items()
                      if k == "baseline_coupling" or "_sd_" in k}
        return {
            "n_dyads": self.n_dyads, "n_sessions": self.n_sessions,
            "scanned": None if self.scanned is None else list(self.scanned),
            "growth": self.growth, "outcome": self.outcome, "slope": self.slope,
            **background, "synchrony_noise_sd": self.synchrony_noise_sd,
        }


@dataclass
class PowerResult:
    """What :func:`simulate_power` found.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per test and condition: ``test`` (growth | outcome), ``kind`` (power |
        false_positive_rate), ``growth``, ``slope`` (the planted values), ``term`` tested,
        ``reps``, ``failed`` (fits that raised; left out of the rate), ``rejected`` (p < alpha),
        ``rate`` = rejected / (reps - failed), its exact 95 % interval ``ci_low, ci_high``,
        and the mean and SD of the estimate over repetitions.
    reps : pandas.DataFrame
        One row per repetition, test and condition: ``test, growth, slope, rep, seed, term,
        estimate, p, status, message``.
    config : dict
        The design, ``reps``, ``seed``, ``alpha``, the effects and the method.
    """

    summary: pd.DataFrame
    reps: pd.DataFrame
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary and configuration (not the per-repetition rows)."""
        rows = [{k: _plain(v) for k, v in r.items()}
                for r in self.summary.to_dict(orient="records")]
        return {"config": self.config, "summary": rows}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class _Task:
    """A chunk of repetitions of one condition (picklable for worker processes)."""

    design: PowerDesign
    growth: float
    slope: float
    tests: tuple[str, ...]
    reps: tuple[int, ...]
    seeds: tuple[int, ...]


def _fit_one(test: str, table: pd.DataFrame, outcome: str) -> tuple[str, float, float]:
    from studymgr.compute.models import growth_model, outcome_model

    if test == "growth":
        data = table.loc[table["scanned"]]
        result = growth_model(data, "synchrony", "session", "dyad")
        term = "session"
    else:
        result = outcome_model(table, outcome, "synchrony", "session", "dyad")
        term = "synchrony_within"
    row = result.fixed.set_index("term").loc[term]
    return term, float(row["estimate"]), float(row["p"])


def _run_task(task: _Task) -> list[dict[str, Any]]:
    """Simulate and fit every repetition of a task (runs in a worker)."""
    rows = []
    for rep, seed in zip(task.reps, task.seeds, strict=True):
        table = task.design.simulate(growth=task.growth, slope=task.slope, seed=seed)
        for test in task.tests:
            base = {"test": test, "growth": task.growth, "slope": task.slope, "rep": rep,
                    "seed": seed}
            try:
                with warnings.catch_warnings():
                    # statsmodels' convergence chatter; the model layer reports real problems
                    warnings.simplefilter("ignore")
                    term, estimate, p = _fit_one(test, table, task.design.outcome)
            except (InputError, np.linalg.LinAlgError, FloatingPointError) as exc:
                rows.append({**base, "term": None, "estimate": np.nan, "p": np.nan,
                             "status": "failed", "message": str(exc)})
                continue
            rows.append({**base, "term": term, "estimate": estimate, "p": p,
                         "status": "ok" if np.isfinite(p) else "failed",
                         "message": None if np.isfinite(p) else "p-value not finite"})
    return rows


def _conditions(effects: Sequence[float], slope: float) -> list[tuple[float, float, tuple]]:
    """(growth, slope, tests) to simulate: each planted growth with both tests, growth 0 for
    the growth test's false-positive rate, slope 0 for the outcome test's (merged when equal)."""
    wanted: dict[tuple[float, float], set[str]] = {}
    for g in effects:
        wanted.setdefault((g, slope), set()).update(TESTS)
        wanted.setdefault((0.0, slope), set()).add("growth")
        wanted.setdefault((g, 0.0), set()).add("outcome")
    return [(g, b, tuple(t for t in TESTS if t in tests))
            for (g, b), tests in sorted(wanted.items())]


def _rate_row(test: str, growth: float, slope: float, frame: pd.DataFrame, alpha: float
              ) -> dict[str, Any]:
    from scipy.stats import binomtest

    ok = frame[frame["status"] == "ok"]
    n, k = len(ok), int((ok["p"] < alpha).sum())
    lo, hi = (np.nan, np.nan)
    if n:
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
        lo, hi = float(ci.low), float(ci.high)
    effect = growth if test == "growth" else slope
    terms = ok["term"].dropna().unique()
    return {
        "test": test, "kind": "power" if effect != 0 else "false_positive_rate",
        "growth": growth, "slope": slope,
        "term": terms[0] if len(terms) else ("session" if test == "growth"
                                             else "synchrony_within"),
        "reps": int(len(frame)), "failed": int(len(frame) - n), "rejected": k,
        "rate": k / n if n else np.nan, "ci_low": lo, "ci_high": hi,
        "mean_estimate": float(ok["estimate"].mean()) if n else np.nan,
        "sd_estimate": float(ok["estimate"].std(ddof=1)) if n > 1 else np.nan,
    }


def _growth_values(design: PowerDesign, growth: float | Sequence[float] | None) -> list[float]:
    """The planted growths asked for, sorted and without repeats."""
    if growth is None:
        effects = [design.growth]
    elif isinstance(growth, int | float | np.integer | np.floating):
        effects = [float(growth)]
    else:
        effects = [float(g) for g in growth]
    if not effects:
        raise InputError("give at least one growth value")
    effects = sorted(set(effects))
    if any(not math.isfinite(g) or abs(g) > 1 for g in effects):
        raise InputError(f"growth values must be finite numbers in [-1, 1], got {effects}")
    return effects


def _check_run(reps: object, seed: object, alpha: object, jobs: object,
               chunk_size: object) -> None:
    for name, value, lo, hi in (("reps", reps, 1, MAX_REPS), ("jobs", jobs, 1, 1024)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or \
                not lo <= value <= hi:
            raise InputError(f"{name} must be a whole number between {lo} and {hi}, "
                             f"got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative whole number, got {seed!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, got {alpha!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise InputError(f"chunk_size must be a whole number >= 1, got {chunk_size!r}")


@contextmanager
def _ordered_map(executor: Any, jobs: int, n_tasks: int) -> Iterator[Callable]:
    """``executor.map``; without an executor this process (one job or task), else a pool of
    ``jobs`` processes (as ``LocalExecutor`` does: the compute layer does not import runs)."""
    if executor is not None:
        yield executor.map
    elif jobs <= 1 or n_tasks <= 1:
        yield map
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            yield pool.map


def _tasks(design: PowerDesign, conditions: list[tuple[float, float, tuple]], seeds: list[int],
           chunk_size: int) -> list[_Task]:
    reps = len(seeds)
    return [
        _Task(design=design, growth=g, slope=b, tests=tests,
              reps=tuple(range(start, min(start + chunk_size, reps))),
              seeds=tuple(seeds[start:start + chunk_size]))
        for g, b, tests in conditions for start in range(0, reps, chunk_size)
    ]


def _summary(frame: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """One row per test and condition: the rejection rate and its exact interval."""
    return pd.DataFrame(
        [_rate_row(test, g, b, part, alpha)
         for (test, g, b), part in frame.groupby(["test", "growth", "slope"], sort=True)],
        columns=SUMMARY_COLUMNS)


@fill_doc
def simulate_power(
    design: PowerDesign | None = None,
    *,
    growth: float | Sequence[float] | None = None,
    reps: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
    jobs: int = 1,
    executor: Any = None,
    chunk_size: int | None = None,
    progress: Progress | None = None,
) -> PowerResult:
    """Power and false-positive rate of the growth and outcome tests by simulation.

    Parameters
    ----------
    design : PowerDesign | None
        Design and planted model (default :class:`PowerDesign`'s defaults).
    growth : float | sequence of float | None
        Planted growth(s) in coupling per session; several values give power as a function of
        the effect. Default: ``design.growth``. Zero is the null (false-positive rate).
    reps : int
        Repetitions per condition.
    seed : int
        Seed of the repetitions' seeds (non-negative).
    alpha : float
        Two-sided significance level of each test.
    %(jobs)s
    %(executor_map)s
    chunk_size : int | None
        Repetitions per task (default: about four tasks per worker, at most 50 repetitions).
    progress : callable | None
        Called as ``progress(done, total)`` with repetitions × conditions done.

    Returns
    -------
    PowerResult

    Raises
    ------
    InputError
        A bad design, effect, ``reps``, ``seed``, ``alpha`` or ``jobs``.
    """
    design = design or PowerDesign()
    effects = _growth_values(design, growth)
    _check_run(reps, seed, alpha, jobs, chunk_size)
    conditions = _conditions(effects, design.slope)
    # validate the design once, in this process, before any worker starts
    for g, b, _ in conditions:
        design.simulate(growth=g, slope=b, seed=0)

    seeds = [int(s) for s in np.random.SeedSequence(int(seed)).generate_state(reps)]
    workers = max(1, int(getattr(executor, "workers", jobs)))
    if chunk_size is None:
        chunk_size = max(1, min(50, math.ceil(reps * len(conditions) / (4 * workers))))
    tasks = _tasks(design, conditions, seeds, chunk_size)
    total = reps * len(conditions)
    logger.info("power: %d conditions x %d repetitions in %d tasks", len(conditions), reps,
                len(tasks))
    rows: list[dict[str, Any]] = []
    done = 0
    with _ordered_map(executor, jobs, len(tasks)) as ordered_map:
        for task, result in zip(tasks, ordered_map(_run_task, tasks), strict=True):
            rows += result
            done += len(task.reps)
            if progress is not None:
                progress(done, total)
    frame = pd.DataFrame(rows, columns=REP_COLUMNS).sort_values(
        ["test", "growth", "slope", "rep"], ignore_index=True)
    failed = int((frame["status"] != "ok").sum())
    if failed:
        logger.warning("power: %d of %d fits failed and are left out of the rates", failed,
                       len(frame))
    config = {
        "design": design.to_dict(), "growth": effects, "reps": int(reps), "seed": int(seed),
        "alpha": float(alpha),
        "method": ("simulate_synchrony_table per repetition (common random numbers across "
                   "conditions); growth_model / outcome_model, REML, Satterthwaite t-tests, "
                   "two-sided; exact (Clopper-Pearson) 95% intervals of the rates"),
    }
    return PowerResult(summary=_summary(frame, alpha), reps=frame, config=config)
