"""``studymgr synchrony ...``: inter-brain synchrony of scanned sessions."""

from __future__ import annotations

import click

from studymgr.cli import _options as opt
from studymgr.cli._common import (
    Context,
    ProgressBars,
    emit,
    emit_summary,
    output_options,
    pass_ctx,
)


@click.group()
def synchrony() -> None:
    """Compute and list therapist-patient synchrony (wavelet coherence)."""


@synchrony.command("compute")
@opt.dyad
@opt.session
@opt.coherence_settings
@click.option("--no-pseudo", is_flag=True, help="Skip the pseudo-dyad baseline.")
@opt.max_pseudo(50)
@opt.seed("the pseudo-pair subset")
@opt.executor
@opt.force
@output_options
@pass_ctx
def synchrony_compute(obj: Context, dyad, session, band, pairs, convention, montage, no_pseudo,
                      max_pseudo, seed, jobs, executor, scheduler, force, fmt) -> None:
    """Compute synchrony for every scanned session with both recordings.

    Each recording is verified against its hash, preprocessed (optical density, scalp coupling,
    TDDR, Beer-Lambert, short-channel regression, band-pass) and paired; sessions whose inputs
    and settings are unchanged are skipped. Exit status 2 if any session failed.

    With --executor dask each recording and each session is a task on a Dask cluster; workers
    read the recordings from the study's data folder (which must be mounted at the same path
    on every worker) and results are stored by this process only.

    \b
    Examples:
        studymgr synchrony compute
        studymgr synchrony compute --dyad D01 --session 3 --force
        studymgr synchrony compute --pairs all --montage rois.csv --jobs 2
        studymgr synchrony compute --executor dask --jobs 4
        studymgr synchrony compute --executor dask --scheduler tcp://10.0.0.5:8786
    """
    from studymgr.runs.executors import get_executor
    from studymgr.runs.synchrony import compute_synchrony

    config = opt.synchrony_config(band, pairs, convention, montage, pseudo=not no_pseudo,
                                  max_pseudo=max_pseudo, seed=seed)
    with (ProgressBars({"prepare": "Preprocessing recordings",
                        "compute": "Computing sessions"}) as bars,
          get_executor(executor, jobs=jobs, scheduler=scheduler) as runner):
        summary = compute_synchrony(obj.study(), config, dyad=dyad, session=session, jobs=jobs,
                                    force=force, progress=bars, executor=runner)
    emit_summary(summary, fmt)


@synchrony.command("list")
@opt.dyad
@opt.level
@click.option("--pair", type=click.Choice(["true", "pseudo"]), default=None,
              help="Only true or only pseudo pairs.")
@click.option("--chromophore", type=click.Choice(["hbo", "hbr"]), default=None,
              help="Only this chromophore.")
@click.option("--tests", is_flag=True, help="True vs pseudo-dyad baseline with p-values.")
@output_options
@pass_ctx
def synchrony_list(obj: Context, dyad, level, pair, chromophore, tests, fmt) -> None:
    """List stored synchrony values (tidy: one row per session, pair and unit pair).

    \b
    Examples:
        studymgr synchrony list
        studymgr synchrony list --pair true --chromophore hbo --csv > synchrony.csv
        studymgr synchrony list --tests --level roi
    """
    study = obj.study()
    if tests:
        frame = study.synchrony_tests(dyad=dyad, level=level)
    else:
        frame = study.synchrony(dyad=dyad, level=level, pair=pair, chromophore=chromophore)
        if fmt == "table":
            frame = frame.drop(columns=["run_id", "config_hash"])
    emit(frame, fmt, empty="No synchrony yet: run 'studymgr synchrony compute'.")


COMMANDS = [synchrony]
