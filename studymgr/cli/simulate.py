"""``studymgr simulate ...``: synthetic studies with planted effects, and power by simulation."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from studymgr.cli._common import _records, emit, output_options


def _numbers(text: str | None, option: str, kind: type = int) -> list | None:
    if text is None:
        return None
    try:
        return [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        example = "1,3,5" if kind is int else "0.01,0.02,0.04"
        raise click.BadParameter(f"expected a comma-separated list like {example}, got "
                                 f"{text!r}", param_hint=option) from None


@click.group()
def simulate() -> None:
    """Simulate studies with planted effects, and the power of the study's tests."""


@simulate.command("study")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dyads", type=int, default=8, show_default=True, help="Number of dyads.")
@click.option("--sessions", type=int, default=6, show_default=True, help="Sessions per dyad.")
@click.option("--scanned", default=None, metavar="1,3,5",
              help="Sessions recorded with fNIRS [default: every session].")
@click.option("--growth", type=float, default=0.08, show_default=True,
              help="Planted growth of coupling per session (0-1 scale).")
@click.option("--baseline", type=float, default=0.2, show_default=True,
              help="Planted coupling at session 1 (0-1).")
@click.option("--symptom-slope", type=float, default=-2.0, show_default=True,
              help="Change of symptoms (z) per unit of coupling.")
@click.option("--channels", type=int, default=8, show_default=True,
              help="Source-detector pairs per person.")
@click.option("--duration", type=float, default=360.0, show_default=True,
              help="Length of each recording (s).")
@click.option("--sfreq", type=float, default=10.0, show_default=True,
              help="Sampling rate (Hz).")
@click.option("--short-channels", is_flag=True, help="Add 8 mm short-separation channels.")
@click.option("--separate-therapists", is_flag=True,
              help="One therapist per dyad [default: one therapist in every dyad].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed.")
@click.option("--overwrite", is_flag=True, help="Write into a non-empty folder.")
def simulate_study_cmd(out: Path, dyads, sessions, scanned, growth, baseline, symptom_slope,
                       channels, duration, sfreq, short_channels, separate_therapists, seed,
                       overwrite) -> None:
    """Write a synthetic study to OUT: SNIRF recordings, questionnaires.csv, truth.json.

    The recordings are raw-intensity fNIRS of therapist and patient with inter-brain coupling
    planted in the 0.05-0.10 Hz band; questionnaires follow the planted outcomes; truth.json
    holds every planted value. Nothing is added to a study: import the files yourself, or let
    'studymgr demo' do everything.

    \b
    Examples:
        studymgr simulate study sim/
        studymgr simulate study sim/ --dyads 4 --sessions 3 --scanned 1,3 --seed 2
        studymgr simulate study sim/ --separate-therapists --short-channels
    """
    from studymgr.compute.simulate.study import simulate_study

    sim = simulate_study(out, n_dyads=dyads, n_sessions=sessions,
                         scanned=_numbers(scanned, "--scanned"), growth=growth,
                         baseline_coupling=baseline, symptom_slope=symptom_slope,
                         n_channels=channels, duration_s=duration, sfreq=sfreq,
                         short_channels=short_channels,
                         shared_therapist=not separate_therapists, seed=seed,
                         overwrite=overwrite)
    click.echo(f"Wrote {len(sim.recordings)} recordings under {sim.out_dir / 'recordings'}, "
               f"{len(sim.questionnaires)} questionnaire responses in {sim.questionnaires_path} "
               f"and the planted values in {sim.truth_path}.")


@simulate.command("power")
@click.option("--dyads", type=int, default=8, show_default=True, help="Number of dyads.")
@click.option("--sessions", type=int, default=6, show_default=True, help="Sessions per dyad.")
@click.option("--scanned", default=None, metavar="1,3,5",
              help="Sessions with synchrony [default: every session].")
@click.option("--growth", default="0.02", show_default=True, metavar="G[,G...]",
              help="Planted growth of coupling per session; several values give a power "
                   "curve.")
@click.option("--outcome", type=click.Choice(["symptoms", "wellbeing", "session_quality"]),
              default="symptoms", show_default=True, help="Outcome of the outcome test.")
@click.option("--slope", type=float, default=-2.0, show_default=True,
              help="Planted change of the outcome (z) per unit of coupling.")
@click.option("--noise", type=float, default=0.05, show_default=True,
              help="Measurement error SD of synchrony (coupling units).")
@click.option("--reps", type=int, default=200, show_default=True,
              help="Repetitions per condition.")
@click.option("--alpha", type=float, default=0.05, show_default=True,
              help="Two-sided significance level.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a figure of the rates (PNG).")
@click.option("--jobs", type=int, default=1, show_default=True,
              help="Worker processes (local), or workers of a local Dask cluster.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local",
              show_default=True,
              help="Run on this machine's processes, or on a Dask cluster (studymgr[dask]).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler address, e.g. tcp://host:8786.")
@output_options
def simulate_power_cmd(dyads, sessions, scanned, growth, outcome, slope, noise, reps, alpha,
                       seed, plot, jobs, executor, scheduler, fmt) -> None:
    """Power and false-positive rate of the growth and outcome tests, by simulation.

    Each repetition simulates dyad x session synchrony and outcomes from the planted model
    (no recordings) and fits the study's models with Satterthwaite t-tests: growth
    (synchrony ~ session + (1 + session | dyad)) and outcome (outcome ~ session +
    synchrony_within + synchrony_between + (1 | dyad)). Power is the share of repetitions with
    p < alpha; the false-positive rate is the same with the effect set to 0 (growth 0, slope
    0), on the same seeds. Rates come with exact 95% intervals.

    \b
    Examples:
        studymgr simulate power --dyads 8 --sessions 6 --scanned 1,3,5 --growth 0.02 --reps 200
        studymgr simulate power --growth 0.01,0.02,0.04 --plot power.png --jobs 2
        studymgr simulate power --dyads 20 --reps 500 --seed 3 --json
    """
    from studymgr.compute.simulate.power import PowerDesign, plot_power, simulate_power
    from studymgr.runs.executors import get_executor

    scanned_list = _numbers(scanned, "--scanned")
    design = PowerDesign(n_dyads=dyads, n_sessions=sessions,
                         scanned=None if scanned_list is None else tuple(scanned_list),
                         outcome=outcome, slope=slope, synchrony_noise_sd=noise)
    effects = _numbers(growth, "--growth", float)
    if plot is not None and not plot.parent.is_dir():
        raise click.BadParameter(f"folder {plot.parent} does not exist", param_hint="--plot")
    bars: list = []

    def progress(done: int, total: int) -> None:
        # created on the first report, i.e. after the inputs were checked
        if not bars:
            bars.append(click.progressbar(length=total, label="Simulating", file=sys.stderr,
                                          show_pos=True))
            bars[0].__enter__()
        bars[0].update(max(0, done - bars[0].pos))

    try:
        with get_executor(executor, jobs=jobs, scheduler=scheduler) as runner:
            result = simulate_power(design, growth=effects, reps=reps, seed=seed, alpha=alpha,
                                    jobs=jobs, executor=runner, progress=progress)
    finally:
        if bars:
            bars[0].__exit__(None, None, None)
    if plot is not None:
        plot_power(result, plot)
    if fmt == "json":
        payload = result.to_dict()
        payload["summary"] = _records(result.summary)
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    emit(result.summary, fmt)
    if fmt == "table":
        failed = int(result.summary["failed"].sum())
        click.echo(f"\n{reps} repetitions per condition, seed {seed}, alpha {alpha:g}; "
                   "rate = rejected / fitted, exact 95% interval"
                   + (f"; {failed} fits failed (left out)" if failed else "") + ".")
        if plot is not None:
            click.echo(f"Figure: {plot}")


COMMANDS = [simulate]
