"""``studymgr models ...``: mixed-effects models of synchrony growth and of outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import click

from studymgr.cli._common import Context, emit, output_options, pass_ctx

CONFIG_HELP = ("JSON file with model settings: chromophore, measure, person, unit, constructs "
               "(per construct: instrument, scale, role, timing), kinds, lag, roi_pairs.")


def _config_options(func):
    func = click.option("--instrument", "instruments", multiple=True,
                        metavar="CONSTRUCT=NAME[@VERSION]",
                        help="Use this instrument for a construct (repeatable), e.g. "
                             "symptoms=gad7.")(func)
    func = click.option("--config", "config_path", type=click.Path(dir_okay=False),
                        default=None, help=CONFIG_HELP)(func)
    func = click.option("--unit", default=None, metavar="LEFT:RIGHT",
                        help="With --measure faa: the electrode pair [default: the first "
                             "computed].")(func)
    func = click.option("--person", type=click.Choice(["patient", "therapist"]), default=None,
                        help="With --measure faa: whose asymmetry [default: patient].")(func)
    func = click.option("--measure", default=None, metavar="NAME",
                        help="The brain variable: wtc (fNIRS coherence), plv_alpha, plv_theta, "
                             "aec_alpha, aec_theta (EEG coupling) or faa (one person's frontal "
                             "alpha asymmetry) [default: wtc, plv_alpha with --chromophore "
                             "eeg].")(func)
    func = click.option("--chromophore", type=click.Choice(["hbo", "hbr", "eeg"]), default=None,
                        help="Synchrony of this chromophore, eeg for EEG sessions [default: "
                             "hbo, or the config's].")(func)
    return func


def _config(config_path, chromophore, instruments, measure=None, person=None, unit=None):
    from studymgr.runs.models import load_config, parse_choices

    return load_config(config_path, chromophore=chromophore,
                       instruments=parse_choices(instruments), measure=measure, person=person,
                       unit=unit)


@click.group()
def models() -> None:
    """Fit, show and export the study's mixed-effects models."""


@models.command("fit")
@_config_options
@output_options
@pass_ctx
def models_fit(obj: Context, chromophore, measure, person, unit, config_path, instruments,
               fmt) -> None:
    """Fit every model the stored data allow and store them (replacing the previous run).

    Builds the analysis table (one row per dyad x session: synchrony, true and pseudo, per ROI
    pair and overall, beside symptoms, wellbeing, alliance and session quality) and fits: the
    growth of synchrony over sessions; true vs pseudo-dyad growth (session:pair); each outcome
    on synchrony (same session and lagged); the same with alliance, and synchrony vs alliance
    as a tested contrast; repeated-measures correlations; growth per ROI pair with
    Benjamini-Hochberg correction. Models whose data are missing are skipped and models whose
    data are degenerate are stored as failed, each with a note saying why.

    EEG sessions: --chromophore eeg models EEG coupling (alpha-band PLV by default, another
    with --measure); --measure faa models one person's frontal alpha asymmetry instead of
    synchrony (the models then name it "asymmetry"; there is no pseudo-dyad model).

    Defaults: HbO; every construct patient-rated; symptoms and wellbeing before the session,
    alliance and session quality after it; the instrument's primary scale; with several
    instruments for a construct, the one with most responses (the notes say so).

    Exit status 0 when at least one model was fitted (notes list what was skipped or failed);
    2 when nothing at all could be fitted (nothing is stored then).

    A --config file is a JSON object, e.g. {"lag": 1, "constructs": {"symptoms":
    {"instrument": "state-test-anxiety", "timing": "post"}}}.

    \b
    Examples:
        studymgr models fit
        studymgr models fit --chromophore hbr --instrument symptoms=gad7@2006
        studymgr models fit --config models.json --json
        studymgr models fit --chromophore eeg --measure aec_theta
        studymgr models fit --measure faa --person patient --unit F3:F4
    """
    cfg = _config(config_path, chromophore, instruments, measure, person, unit)
    run = obj.study().fit_models(cfg)
    emit(run.summary(), fmt)
    if fmt == "table":
        n_ok = sum(f.status == "ok" for f in run.fits)
        click.echo(f"\nStored models run {run.run_id}: {n_ok} fitted, "
                   f"{len(run.fits) - n_ok} failed (see 'studymgr models show').")
        if run.notes:
            click.echo("Notes:")
            for note in run.notes:
                click.echo(f"  - {note}")


@models.command("show")
@click.option("--model", "names", multiple=True, metavar="NAME",
              help="Only this model (repeatable), e.g. growth or outcome:symptoms.")
@output_options
@pass_ctx
def models_show(obj: Context, names, fmt) -> None:
    """Show the stored models: formula, fixed effects (with Satterthwaite df and p), random
    effects and fit notes (fallbacks, singular fits) per model.

    --csv prints the tidy fixed-effects table of all models (model, term, estimate, se, df, t,
    p, ci_low, ci_high, p_fdr); --json prints the whole run.

    \b
    Examples:
        studymgr models show
        studymgr models show --model growth --model outcome:symptoms
        studymgr models show --csv > model_terms.csv
    """
    from studymgr.present.text import models_json, models_text
    from studymgr.runs.models import select_models

    res = select_models(obj.study().model_results(), names)
    if fmt == "csv":
        emit(res["terms"], fmt)
    elif fmt == "json":
        click.echo(json.dumps(models_json(res), indent=2, default=str))
    elif res["run"].empty:
        click.echo("No models fitted yet: run 'studymgr models fit'.")
    else:
        click.echo(models_text(res, selected=bool(names)))


@models.command("data")
@click.option("--out", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              show_default=True, help="CSV file to write ('-': standard output).")
@_config_options
@pass_ctx
def models_data(obj: Context, out, chromophore, measure, person, unit, config_path,
                instruments) -> None:
    """Write the analysis table as CSV, to refit the same models elsewhere (e.g. in R).

    One header line (no comments), one row per dyad x session, missing values empty, numbers in
    full precision (shortest form that reads back exactly). Columns:

    \b
      dyad, session, kind     the session (number within the dyad; therapy or interview)
      synchrony               true-pair synchrony index: wavelet coherence (0-1) averaged
                              over homologous ROI pairs, of the chosen chromophore
      synchrony_pseudo        the same, averaged over the session's pseudo-dyad pairs
      n_pseudo                number of pseudo pairs in that average
      symptoms, wellbeing,    score of the instrument and scale used for each construct
      alliance,               (see 'studymgr models show'), in the scale's units
      session_quality
      synchrony.T.P,          synchrony of therapist ROI T with patient ROI P, true pair and
      synchrony_pseudo.T.P    pseudo-pair mean (one pair of columns per ROI pair)

    The models of 'studymgr models fit', in lme4 syntax (person-mean centring: x_within = x -
    dyad mean, x_between = dyad mean - grand mean):
    synchrony ~ session + (1 + session | dyad);
    outcome ~ session + synchrony_within + synchrony_between + (1 | dyad).
    The table's sha256 is printed to stderr and compared with the stored models run.

    \b
    Examples:
        studymgr models data --out analysis.csv
        studymgr models data --chromophore hbr --out analysis_hbr.csv
        studymgr models data > analysis.csv
    """
    from studymgr.runs.models import analysis_table, table_matches_run, write_table

    study = obj.study()
    table = analysis_table(study, _config(config_path, chromophore, instruments, measure, person,
                                          unit))
    same = {None: "no models run is stored",
            True: "the same table as the stored models run",
            False: "differs from the stored models run's table (data or settings changed since)",
            }[table_matches_run(study, table)]
    if out == "-":
        click.echo(table.to_csv(), nl=False)
        click.echo(f"sha256 {table.sha256}: {same}", err=True)
        return
    path = write_table(table, Path(out))
    rows, cols = table.frame.shape
    click.echo(f"Wrote {rows} rows x {cols} columns to {path} (sha256 {table.sha256}: {same})")


COMMANDS = [models]
