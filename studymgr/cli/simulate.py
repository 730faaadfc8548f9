"""``studymgr simulate ...``: synthetic studies with planted effects, and power by simulation."""

from __future__ import annotations

import json
from pathlib import Path

import click

from studymgr.cli import _options as opt
from studymgr.cli._common import ProgressBars, emit, output_options


@click.group()
def simulate() -> None:
    """Simulate studies with planted effects, and the power of the study's tests."""


@simulate.command("study")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@opt.dyads
@opt.sessions
@opt.scanned_sessions
@opt.growth(0.08)
@click.option("--baseline", type=float, default=0.2, show_default=True,
              help="Planted coupling at session 1 (0-1).")
@click.option("--symptom-slope", type=float, default=-2.0, show_default=True,
              help="Change of symptoms (z) per unit of coupling.")
@opt.channels
@opt.duration
@click.option("--sfreq", type=float, default=10.0, show_default=True,
              help="Sampling rate (Hz).")
@click.option("--short-channels", is_flag=True, help="Add 8 mm short-separation channels.")
@click.option("--separate-therapists", is_flag=True,
              help="One therapist per dyad [default: one therapist in every dyad].")
@opt.seed("the simulation")
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
                         scanned=scanned, growth=growth,
                         baseline_coupling=baseline, symptom_slope=symptom_slope,
                         n_channels=channels, duration_s=duration, sfreq=sfreq,
                         short_channels=short_channels,
                         shared_therapist=not separate_therapists, seed=seed,
                         overwrite=overwrite)
    click.echo(f"Wrote {len(sim.recordings)} recordings under {sim.out_dir / 'recordings'}, "
               f"{len(sim.questionnaires)} questionnaire responses in {sim.questionnaires_path} "
               f"and the planted values in {sim.truth_path}.")


@simulate.command("power")
@opt.dyads
@opt.sessions
@opt.scanned_sessions
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
@opt.seed("the simulation")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a figure of the rates (PNG).")
@opt.executor
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
    from studymgr.compute.simulate.power import PowerDesign, simulate_power
    from studymgr.present.figures import plot_power
    from studymgr.present.text import records
    from studymgr.runs.executors import get_executor

    design = PowerDesign(n_dyads=dyads, n_sessions=sessions, scanned=scanned, outcome=outcome,
                         slope=slope, synchrony_noise_sd=noise)
    effects = list(opt.parse_numbers(growth, "--growth", float))
    if plot is not None and not plot.parent.is_dir():
        raise click.BadParameter(f"folder {plot.parent} does not exist", param_hint="--plot")
    # the bar is drawn from the first report, after the inputs' checks
    with (ProgressBars("Simulating") as bar,
          get_executor(executor, jobs=jobs, scheduler=scheduler) as runner):
        result = simulate_power(design, growth=effects, reps=reps, seed=seed, alpha=alpha,
                                jobs=jobs, executor=runner, progress=bar.single)
    if plot is not None:
        plot_power(result, plot)
    if fmt == "json":
        payload = result.to_dict()
        payload["summary"] = records(result.summary)
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
