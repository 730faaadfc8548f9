"""``studymgr eventlocked ...``: fNIRS synchrony around events (the raters' moments).

The events themselves (rater marks, consensus moments) are ``studymgr events``; EEG coupling
around them is ``studymgr eeg``. ``studymgr moments`` is the old name of this group (a hidden
alias until 0.3).
"""

from __future__ import annotations

import click

from studymgr._aliases import REMOVED_IN
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
def eventlocked() -> None:
    """Event-locked synchrony around the raters' moments of interest (fNIRS)."""


@eventlocked.command("compute")
@opt.dyad
@opt.session
@opt.event_windows
@click.option("--permutations", type=int, default=1000, show_default=True,
              help="Randomly placed windows of the permutation test.")
@opt.seed("the window placements")
@opt.coherence_settings
@opt.force
@output_options
@pass_ctx
def eventlocked_compute(obj: Context, dyad, session, labels, source, window, permutations, seed,
                        band, pairs, convention, montage, force, fmt) -> None:
    """Coherence around moments of interest vs no interest vs the rest of each session.

    The band-averaged wavelet coherence is computed at every sample (inside the cone of
    influence), averaged in a window around each consensus moment (by default) and compared
    with randomly placed windows (seeded permutation test), per channel pair, ROI pair and
    session. Onsets count from the start of the therapist's recording. Exit status 2 if any
    session failed.

    \b
    Examples:
        studymgr eventlocked compute
        studymgr eventlocked compute --dyad D01 --session 3 --window -10 20 --permutations 5000
        studymgr eventlocked compute --source rater --labels MOI --montage rois.csv
    """
    from studymgr.runs.eventlocked import EventLockedConfig

    synchrony = opt.synchrony_config(band, pairs, convention, montage, pseudo=False)
    config = EventLockedConfig(labels=opt.split_labels(labels), source=source,
                               window=tuple(window), n_permutations=permutations, seed=seed,
                               synchrony=synchrony)
    with ProgressBars("Event-locked sessions") as bar:
        summary = obj.study().compute_eventlocked(config, dyad=dyad, session=session,
                                                  force=force, progress=bar)
    emit_summary(summary, fmt)


@eventlocked.command("list")
@opt.dyad
@opt.level
@click.option("--wide", is_flag=True, help="One row per session and unit pair (conditions as "
                                           "columns).")
@output_options
@pass_ctx
def eventlocked_list(obj: Context, dyad, level, wide, fmt) -> None:
    """List stored event-locked synchrony (tidy: one row per session, unit pair, condition).

    \b
    Examples:
        studymgr eventlocked list
        studymgr eventlocked list --level roi --csv > eventlocked.csv
        studymgr eventlocked list --wide
    """
    from studymgr.present.tables import eventlocked_table

    frame = obj.study().eventlocked_results(dyad=dyad, level=level)
    if wide:
        frame = eventlocked_table(frame, chromophore=None)
    elif fmt == "table":
        frame = frame.drop(columns=["run_id", "config_hash", "seed"])
    emit(frame, fmt, empty="No event-locked results yet: run 'studymgr eventlocked compute'.")


COMMANDS = [eventlocked]
#: Old command names that still work for one release: old -> (new, last release with it).
ALIASES = {"moments": ("eventlocked", REMOVED_IN)}
