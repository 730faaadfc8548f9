"""``studymgr moments ...`` (event-locked fNIRS synchrony) and ``studymgr eeg ...`` (EEG
coupling and frontal alpha asymmetry). Rater agreement is ``studymgr events agreement``."""

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
from studymgr.errors import InputError


def _labels(text: str) -> tuple[str, ...]:
    labels = tuple(t.strip() for t in text.split(",") if t.strip())
    if not labels:
        raise InputError("--labels needs at least one label, e.g. --labels MOI,MONI")
    return labels


# -- event-locked fNIRS synchrony --------------------------------------------------------------
@click.group()
def moments() -> None:
    """Event-locked synchrony around the raters' moments of interest (fNIRS)."""


@moments.command("compute")
@click.option("--dyad", default=None, help="Only this dyad.")
@click.option("--session", type=int, default=None, help="Only this session number.")
@click.option("--labels", default="MOI,MONI", show_default=True, metavar="L1,L2",
              help="Event labels analysed as conditions.")
@click.option("--source", type=click.Choice(["consensus", "rater", "any"]), default="consensus",
              show_default=True, help="Which events: consensus moments, all rater marks, any.")
@click.option("--window", nargs=2, type=float, default=(-15.0, 15.0), show_default=True,
              metavar="START END", help="Window around each onset (s).")
@click.option("--permutations", type=int, default=1000, show_default=True,
              help="Randomly placed windows of the permutation test.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the placements.")
@click.option("--band", nargs=2, type=float, default=(0.05, 0.10), show_default=True,
              metavar="FMIN FMAX", help="Coherence band (Hz).")
@click.option("--pairs", type=click.Choice(["homologous", "all"]), default="homologous",
              show_default=True, help="Channel pairs.")
@click.option("--convention", type=click.Choice(["grinsted", "pycwt"]), default="grinsted",
              show_default=True, help="Wavelet-coherence convention.")
@click.option("--montage", type=click.Path(dir_okay=False), default=None,
              help="CSV with columns channel,roi (default: each channel its own ROI).")
@click.option("--force", is_flag=True, help="Recompute sessions that are up to date.")
@output_options
@pass_ctx
def moments_compute(obj: Context, dyad, session, labels, source, window, permutations, seed,
                    band, pairs, convention, montage, force, fmt) -> None:
    """Coherence around moments of interest vs no interest vs the rest of each session.

    The band-averaged wavelet coherence is computed at every sample (inside the cone of
    influence), averaged in a window around each consensus moment (by default) and compared
    with randomly placed windows (seeded permutation test), per channel pair, ROI pair and
    session. Onsets count from the start of the therapist's recording. Exit status 2 if any
    session failed.

    \b
    Examples:
        studymgr moments compute
        studymgr moments compute --dyad D01 --session 3 --window -10 20 --permutations 5000
        studymgr moments compute --source rater --labels MOI --montage rois.csv
    """
    from studymgr.compute.synchrony.config import SynchronyConfig
    from studymgr.compute.synchrony.montage import load_montage
    from studymgr.runs.eventlocked import EventLockedConfig

    mapping = tuple(load_montage(montage).items()) if montage else None
    config = EventLockedConfig(
        labels=_labels(labels), source=source, window=tuple(window),
        n_permutations=permutations, seed=seed,
        synchrony=SynchronyConfig(band=tuple(band), pairs=pairs, convention=convention,
                                  pseudo=False, montage=mapping))
    bar = ProgressBars("Event-locked sessions")
    try:
        summary = obj.study().compute_eventlocked(config, dyad=dyad, session=session,
                                                  force=force, progress=bar)
    finally:
        bar.close()
    emit_summary(summary, fmt)


@moments.command("list")
@click.option("--dyad", default=None, help="Only this dyad.")
@click.option("--level", type=click.Choice(["session", "roi", "channel"]), default="session",
              show_default=True, help="Session, ROI pairs or channel pairs.")
@click.option("--wide", is_flag=True, help="One row per session and unit pair (conditions as "
                                           "columns).")
@output_options
@pass_ctx
def moments_list(obj: Context, dyad, level, wide, fmt) -> None:
    """List stored event-locked synchrony (tidy: one row per session, unit pair, condition).

    \b
    Examples:
        studymgr moments list
        studymgr moments list --level roi --csv > eventlocked.csv
        studymgr moments list --wide
    """
    from studymgr.runs.eventlocked import eventlocked_table

    frame = obj.study().eventlocked_results(dyad=dyad, level=level)
    if wide:
        frame = eventlocked_table(frame, chromophore=None)
    elif fmt == "table":
        frame = frame.drop(columns=["run_id", "config_hash", "seed"])
    emit(frame, fmt, empty="No event-locked results yet: run 'studymgr moments compute'.")


# -- EEG ---------------------------------------------------------------------------------------
@click.group()
def eeg() -> None:
    """EEG hyperscanning: phase locking, envelope correlation, frontal alpha asymmetry."""


def _asymmetry(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for text in values:
        left, sep, right = text.partition(":")
        if not sep or not left.strip() or not right.strip():
            raise InputError(f"--asymmetry expects LEFT:RIGHT channel names (e.g. F3:F4), got "
                             f"{text!r}")
        pairs.append((left.strip(), right.strip()))
    return tuple(pairs)


@eeg.command("compute")
@click.option("--dyad", default=None, help="Only this dyad.")
@click.option("--session", type=int, default=None, help="Only this session number.")
@click.option("--pairs", type=click.Choice(["homologous", "all"]), default="homologous",
              show_default=True, help="Electrode pairs.")
@click.option("--epoch", "epoch_s", type=float, default=2.0, show_default=True,
              metavar="SECONDS", help="Epoch length of PLV and AEC.")
@click.option("--asymmetry", multiple=True, default=("F3:F4",), show_default=True,
              metavar="LEFT:RIGHT", help="Frontal alpha asymmetry pair (repeatable).")
@click.option("--reference", type=click.Choice(["as-recorded", "average"]),
              default="as-recorded", show_default=True, help="EEG reference.")
@click.option("--labels", default="MOI,MONI", show_default=True, metavar="L1,L2",
              help="Event labels summarised as conditions.")
@click.option("--source", type=click.Choice(["consensus", "rater", "any"]), default="consensus",
              show_default=True, help="Which events.")
@click.option("--window", nargs=2, type=float, default=(-15.0, 15.0), show_default=True,
              metavar="START END", help="Window around each onset (s).")
@click.option("--align", "alignment", type=click.Choice(["meas_date", "start"]),
              default="meas_date", show_default=True,
              help="Align the two recordings on their start times, or assume they started "
                   "together.")
@click.option("--force", is_flag=True, help="Recompute sessions that are up to date.")
@output_options
@pass_ctx
def eeg_compute(obj: Context, dyad, session, pairs, epoch_s, asymmetry, reference, labels,
                source, window, alignment, force, fmt) -> None:
    """Compute and store EEG coupling and frontal alpha asymmetry of every EEG session.

    Phase-locking value and amplitude envelope correlation in the theta (4-8 Hz) and alpha
    (8-12 Hz) bands (HyPyP's definitions), per electrode pair and epoch, averaged over the
    session and around the moments (stored as synchrony with chromophore eeg, measures
    plv_theta, plv_alpha, aec_theta, aec_alpha); frontal alpha asymmetry ln(right) - ln(left)
    alpha power per person in 2-s windows. A recording without the asymmetry electrodes stops
    the command before anything is stored. Exit status 2 if any session failed.

    \b
    Examples:
        studymgr eeg compute
        studymgr eeg compute --dyad D01 --session 2 --asymmetry F3:F4 --asymmetry F7:F8
        studymgr eeg compute --pairs all --reference average --force
    """
    from studymgr.compute.eeg import EEGConfig

    config = EEGConfig(pairs=pairs, epoch_s=epoch_s, asymmetry=_asymmetry(asymmetry),
                       reference=reference, labels=_labels(labels), source=source,
                       window=tuple(window), alignment=alignment)
    bar = ProgressBars("EEG sessions")
    try:
        summary = obj.study().compute_eeg(config, dyad=dyad, session=session, force=force,
                                          progress=bar)
    finally:
        bar.close()
    emit_summary(summary, fmt)


@eeg.command("list")
@click.option("--dyad", default=None, help="Only this dyad.")
@click.option("--level", type=click.Choice(["session", "channel"]), default="session",
              show_default=True, help="Session (homologous pairs) or electrode pairs.")
@click.option("--measure", default=None, help="Only this measure, e.g. plv_alpha.")
@output_options
@pass_ctx
def eeg_list(obj: Context, dyad, level, measure, fmt) -> None:
    """List stored EEG coupling (tidy: one row per session, measure, pair and condition).

    \b
    Examples:
        studymgr eeg list
        studymgr eeg list --measure plv_alpha --csv > plv.csv
        studymgr eeg list --level channel --dyad D01
    """
    frame = obj.study().eeg_results(dyad=dyad, level=level, measure=measure)
    if fmt == "table":
        frame = frame.drop(columns=["run_id", "config_hash"])
    emit(frame, fmt, empty="No EEG results yet: run 'studymgr eeg compute'.")


@eeg.command("asymmetry")
@click.option("--dyad", default=None, help="Only this dyad.")
@output_options
@pass_ctx
def eeg_asymmetry(obj: Context, dyad, fmt) -> None:
    """List stored frontal alpha asymmetry (ln right - ln left alpha power) per person.

    \b
    Examples:
        studymgr eeg asymmetry
        studymgr eeg asymmetry --dyad D01 --json
    """
    frame = obj.study().eeg_asymmetry(dyad=dyad)
    if fmt == "table":
        frame = frame.drop(columns=["run_id"])
    emit(frame, fmt, empty="No EEG results yet: run 'studymgr eeg compute'.")


COMMANDS = [moments, eeg]
