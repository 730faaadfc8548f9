"""``studymgr eeg ...``: EEG coupling and frontal alpha asymmetry of EEG sessions."""

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
from studymgr.errors import InputError


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
@opt.dyad
@opt.session
@opt.pairs
@click.option("--epoch", "epoch_s", type=float, default=2.0, show_default=True,
              metavar="SECONDS", help="Epoch length of PLV and AEC.")
@click.option("--asymmetry", multiple=True, default=("F3:F4",), show_default=True,
              metavar="LEFT:RIGHT", help="Frontal alpha asymmetry pair (repeatable).")
@click.option("--reference", type=click.Choice(["as-recorded", "average"]),
              default="as-recorded", show_default=True, help="EEG reference.")
@opt.event_windows
@click.option("--align", "alignment", type=click.Choice(["meas_date", "start"]),
              default="meas_date", show_default=True,
              help="Align the two recordings on their start times, or assume they started "
                   "together.")
@opt.force
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
                       reference=reference, labels=opt.split_labels(labels), source=source,
                       window=tuple(window), alignment=alignment)
    with ProgressBars("EEG sessions") as bar:
        summary = obj.study().compute_eeg(config, dyad=dyad, session=session, force=force,
                                          progress=bar)
    emit_summary(summary, fmt)


@eeg.command("list")
@opt.dyad
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
@opt.dyad
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


COMMANDS = [eeg]
