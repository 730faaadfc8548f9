"""Power and false-positive rate of the study's main tests, by simulation.

Each repetition draws a dyad × session table from the planted model of
:func:`studymgr.compute.simulate.study.simulate_synchrony_table` (synchrony values, no recordings) and fits the
models the study would fit, with Satterthwaite t-tests:

- **growth**: :func:`studymgr.compute.models.growth_model`, ``synchrony ~ session + (1 + session | dyad)``
  on the scanned sessions; the test is the ``session`` slope;
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

Repetitions are distributed in chunks on an executor (:mod:`studymgr.runs.executors`): this process,
a local process pool of ``jobs`` workers, or a Dask cluster — anything with an ordered
``map(func, items)``.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studymgr.errors import InputError

logger = logging.getLogger(__name__)

__all__ = [
    "PowerDesign",
    "PowerResult",
    "plot_power",
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


@dataclass(frozen=True)
class PowerDesign:
    """The simulated study design and planted model (units as in
    :func:`studymgr.compute.simulate.study.simulate_synchrony_table`).

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
    baseline_coupling, coupling_sd_dyad, coupling_sd_growth, coupling_sd_session : float
        Coupling at session 1 and the SDs of the dyad intercepts, dyad slopes and session
        residuals of coupling.
    outcome_sd_dyad, outcome_sd_session : float
        SDs of the outcome's dyad intercepts and session residuals (z units).
    synchrony_noise_sd : float
        Measurement error of synchrony (coupling units).
    """

    n_dyads: int = 8
    n_sessions: int = 6
    scanned: tuple[int, ...] | None = None
    growth: float = 0.02
    outcome: str = "symptoms"
    slope: float = -2.0
    baseline_coupling: float = 0.2
    coupling_sd_dyad: float = 0.05
    coupling_sd_growth: float = 0.02
    coupling_sd_session: float = 0.08
    outcome_sd_dyad: float = 0.7
    outcome_sd_session: float = 0.4
    synchrony_noise_sd: float = 0.05

    def __post_init__(self) -> None:
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

    def simulation_kwargs(self, *, growth: float, slope: float) -> dict[str, Any]:
        """Keyword arguments of ``simulate_synchrony_table`` for one condition."""
        slopes = {f"{o}_slope" if o != "symptoms" else "symptom_slope": 0.0 for o in OUTCOMES}
        key = "symptom_slope" if self.outcome == "symptoms" else f"{self.outcome}_slope"
        slopes[key] = float(slope)
        return {
            "n_dyads": self.n_dyads, "n_sessions": self.n_sessions,
            "scanned": None if self.scanned is None else list(self.scanned),
            "baseline_coupling": self.baseline_coupling, "growth": float(growth),
            "coupling_sd_dyad": self.coupling_sd_dyad,
            "coupling_sd_growth": self.coupling_sd_growth,
            "coupling_sd_session": self.coupling_sd_session,
            "outcome_sd_dyad": self.outcome_sd_dyad,
            "outcome_sd_session": self.outcome_sd_session,
            "synchrony_noise_sd": self.synchrony_noise_sd, **slopes,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        out = asdict(self)
        out["scanned"] = None if self.scanned is None else list(self.scanned)
        return out


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
    from studymgr.compute.simulate.study import simulate_synchrony_table

    kwargs = task.design.simulation_kwargs(growth=task.growth, slope=task.slope)
    rows = []
    for rep, seed in zip(task.reps, task.seeds, strict=True):
        table = simulate_synchrony_table(**kwargs, seed=seed)
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
    jobs : int
        Worker processes when no ``executor`` is given (1: this process).
    executor : studymgr.runs.executors.Executor | None
        Where the repetitions run: any object whose ``map(func, items)`` yields results in the
        order of ``items`` (e.g. ``get_executor("dask", jobs=4)``); default
        ``LocalExecutor(jobs)``. It is not closed here.
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

    conditions = _conditions(effects, design.slope)
    # validate the design once, in this process, before any worker starts
    from studymgr.compute.simulate.study import simulate_synchrony_table

    for g, b, _ in conditions:
        simulate_synchrony_table(**design.simulation_kwargs(growth=g, slope=b), seed=0)

    seeds = [int(s) for s in np.random.SeedSequence(int(seed)).generate_state(reps)]
    if executor is None:
        from studymgr.runs.executors import LocalExecutor

        executor = LocalExecutor(jobs)
    if chunk_size is None:
        workers = max(1, int(getattr(executor, "workers", jobs)))
        chunk_size = max(1, min(50, math.ceil(reps * len(conditions) / (4 * workers))))
    tasks = [
        _Task(design=design, growth=g, slope=b, tests=tests,
              reps=tuple(range(start, min(start + chunk_size, reps))),
              seeds=tuple(seeds[start:start + chunk_size]))
        for g, b, tests in conditions for start in range(0, reps, chunk_size)
    ]
    total = reps * len(conditions)
    logger.info("power: %d conditions x %d repetitions in %d tasks", len(conditions), reps,
                len(tasks))
    rows: list[dict[str, Any]] = []
    done = 0
    for task, result in zip(tasks, executor.map(_run_task, tasks), strict=True):
        rows += result
        done += len(task.reps)
        if progress is not None:
            progress(done, total)
    frame = pd.DataFrame(rows, columns=REP_COLUMNS).sort_values(
        ["test", "growth", "slope", "rep"], ignore_index=True)
    summary = pd.DataFrame(
        [_rate_row(test, g, b, part, alpha)
         for (test, g, b), part in frame.groupby(["test", "growth", "slope"], sort=True)],
        columns=SUMMARY_COLUMNS)
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
    return PowerResult(summary=summary, reps=frame, config=config)


def plot_power(result: PowerResult, path: str | Path | None = None) -> Any:
    """Rejection rate against planted growth, one panel per test (matplotlib, Agg).

    Power curves with their 95 % intervals, the false-positive rate at zero effect, and
    reference lines at ``alpha`` and 0.8.

    Parameters
    ----------
    result : PowerResult
    path : str | pathlib.Path | None
        Write the figure there (PNG, or any format matplotlib infers from the suffix).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    summary = result.summary
    alpha = result.config.get("alpha", 0.05)
    outcome = result.config.get("design", {}).get("outcome", "symptoms").replace("_", " ")
    fig = Figure(figsize=(9, 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    slope = result.config.get("design", {}).get("slope")
    panels = [("growth", "Growth: synchrony ~ session"),
              ("outcome", f"Outcome: {outcome} ~ synchrony within dyad (slope {slope:g})")]
    values = sorted(set(summary["growth"].astype(float)))
    span = (values[-1] - values[0]) or max(abs(values[0]), 0.01)
    for ax, (test, title) in zip(axes, panels, strict=True):
        part = summary[summary["test"] == test]
        for shift, (kind, label, marker) in zip(
                (-0.015, 0.015), (("power", "power", "o"),
                                  ("false_positive_rate", "false-positive rate", "s")),
                strict=True):
            rows = part[part["kind"] == kind].sort_values("growth")
            if rows.empty:
                continue
            # a small sideways shift keeps power and false-positive rate at one growth apart
            x = rows["growth"].to_numpy(dtype=float) + shift * span
            err = np.vstack([rows["rate"] - rows["ci_low"], rows["ci_high"] - rows["rate"]])
            ax.errorbar(x, rows["rate"], yerr=err, marker=marker, capsize=3, label=label,
                        linestyle="-" if len(rows) > 1 else "none")
        ax.axhline(alpha, color="grey", linestyle=":", linewidth=1)
        ax.axhline(0.8, color="grey", linestyle="--", linewidth=1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("planted growth (coupling per session)")
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.set_xlim(values[0] - 0.15 * span, values[-1] + 0.15 * span)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8, loc="best")
    axes[0].set_ylabel(f"rejection rate (p < {alpha:g})")
    design = result.config.get("design", {})
    scanned = design.get("scanned")
    fig.suptitle(f"{design.get('n_dyads')} dyads x {design.get('n_sessions')} sessions"
                 f"{'' if scanned is None else ' (scanned ' + ','.join(map(str, scanned)) + ')'}"
                 f", {result.config.get('reps')} repetitions", fontsize=10)
    if path is not None:
        out = Path(path)
        if not out.parent.is_dir():
            raise InputError(f"cannot write {out}: folder {out.parent} does not exist")
        try:
            fig.savefig(out, dpi=120)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot write the plot to {out}: {exc}") from None
        logger.info("wrote %s", out)
    return fig

