"""``studymgr synchrony ...``: inter-brain synchrony of scanned sessions."""

from __future__ import annotations

import click

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
@click.option("--dyad", default=None, help="Only this dyad.")
@click.option("--session", type=int, default=None, help="Only this session number.")
@click.option("--band", nargs=2, type=float, default=(0.05, 0.10), show_default=True,
              metavar="FMIN FMAX", help="Frequency band in Hz.")
@click.option("--pairs", type=click.Choice(["homologous", "all"]), default="homologous",
              show_default=True, help="Channel pairs: the same channel in both, or all pairs.")
@click.option("--convention", type=click.Choice(["grinsted", "pycwt"]), default="grinsted",
              show_default=True, help="Wavelet-coherence convention.")
@click.option("--montage", type=click.Path(dir_okay=False), default=None,
              help="CSV with columns channel,roi (default: each channel its own ROI).")
@click.option("--no-pseudo", is_flag=True, help="Skip the pseudo-dyad baseline.")
@click.option("--max-pseudo", type=int, default=50, show_default=True,
              help="At most this many pseudo pairs per session (seeded subset).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of that subset.")
@click.option("--jobs", type=int, default=1, show_default=True,
              help="Worker processes (local), or workers of a local Dask cluster.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local",
              show_default=True,
              help="Run on this machine's processes, or on a Dask cluster (studymgr[dask]).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler address, e.g. tcp://host:8786 (default: start a local "
                   "cluster of --jobs workers).")
@click.option("--force", is_flag=True, help="Recompute sessions that are up to date.")
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
    from studymgr.compute.synchrony.montage import load_montage
    from studymgr.runs.executors import get_executor
    from studymgr.runs.synchrony import SynchronyConfig, compute_synchrony

    mapping = tuple(load_montage(montage).items()) if montage else None
    config = SynchronyConfig(band=tuple(band), pairs=pairs, convention=convention,
                             pseudo=not no_pseudo, max_pseudo=max_pseudo, seed=seed,
                             montage=mapping)
    bars = ProgressBars({"prepare": "Preprocessing recordings",
                         "compute": "Computing sessions"})
    try:
        with get_executor(executor, jobs=jobs, scheduler=scheduler) as runner:
            summary = compute_synchrony(obj.study(), config, dyad=dyad, session=session,
                                        jobs=jobs, force=force, progress=bars,
                                        executor=runner)
    finally:
        bars.close()
    emit_summary(summary, fmt)


@synchrony.command("list")
@click.option("--dyad", default=None, help="Only this dyad.")
@click.option("--level", type=click.Choice(["session", "roi", "channel"]), default="session",
              show_default=True, help="Session index, ROI pairs or channel pairs.")
@click.option("--pair", type=click.Choice(["true", "pseudo"]), default=None,
              help="Only true or only pseudo pairs.")
@click.option("--chromophore", type=click.Choice(["hbo", "hbr"]), default=None)
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
